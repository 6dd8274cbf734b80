// expect: both returned records and called emit.*Nothing was imported
setTimeout(() => emit([{ id: 3 }]), 10);
return [{ id: 2 }];
