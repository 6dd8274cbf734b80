// expect: field .f. is a function, not data
return [{ id: 1, f: () => 1 }];
