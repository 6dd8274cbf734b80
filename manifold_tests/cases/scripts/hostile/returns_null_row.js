// expect: row 0 is null, not an object
return [null];
