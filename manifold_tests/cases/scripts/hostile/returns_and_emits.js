// expect: both returned records and called emit.*Nothing was imported
emit([{ id: 1 }]);
return [{ id: 2 }];
