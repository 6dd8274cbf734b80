// expect: both returned records and called emit.*Nothing was imported
return [{ id: 1, get x() { try { emit([{ id: 2 }]); } catch (e) {} return 1; } }];
