// expect: expected an array of objects, got a object
return { id: 1 };
