// expect: both returned records and called emit.*Nothing was imported
return [{ id: 1, get x() { Promise.resolve().then(() => emit([{ id: 2 }])); return 1; } }];
