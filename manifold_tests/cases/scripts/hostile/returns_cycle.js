// expect: row 0: .*circular
const a = { id: 1 };
a.self = a;
return [a];
