// expect: the array's length is Infinity, not a count of records
return new Proxy([{ id: 1 }], { get: (target, key) => (key === "length" ? Infinity : target[key]) });
