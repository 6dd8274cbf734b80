// expect: called deleteRecords\(\) from code the host ran while reading its result.*Nothing was imported
// A deletion sent while the host reads the returned records would come after the state the
// host takes as final.
return [{ id: 2, get name() { deleteRecords([1]); return "b"; } }];
