// expect: row 1 is a number, not an object
return [{ id: 1 }, 2];
