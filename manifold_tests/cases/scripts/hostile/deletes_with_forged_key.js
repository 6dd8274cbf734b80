// expect: keys\[0\] field 'id' is an object; a key field holds a string, number or boolean
// A key field whose getter hands over a query object instead of a value is refused.
deleteRecords([{ get id() { return { $gt: 0 }; } }]);
return [];
