// expect: field .m. is a Map
return [{ id: 1, m: new Map([[1, 2]]) }];
