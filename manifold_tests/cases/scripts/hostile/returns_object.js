// expect: expected an array of objects, got an object
return { id: 1 };
