// expect: field .big. is Infinity
return [{ id: 1, big: 1 / 0 }];
