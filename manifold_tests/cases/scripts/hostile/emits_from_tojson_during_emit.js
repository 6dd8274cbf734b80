// expect: called emit\(\) while an emit\(\) was reading its records.*Nothing was imported
emit([{ id: 1, toJSON() { emit([{ id: 2 }]); return { id: 1 }; } }]);
