// expect: row 0 serialises to undefined, not an object
return [{ toJSON() { return undefined; } }];
