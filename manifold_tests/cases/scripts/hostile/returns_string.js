// expect: expected an array of objects, got a string
return "not records";
