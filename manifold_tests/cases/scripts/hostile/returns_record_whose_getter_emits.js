// expect: both returned records and called emit.*Nothing was imported
return [{ id: 1, get x() { emit([{ id: 2 }]); return 1; } }];
