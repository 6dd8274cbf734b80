// expect: called emit\(\) while an emit\(\) was reading its records.*Nothing was imported
try {
  emit([{ id: 1, get x() { try { emit([{ id: 2 }]); } catch (e) {} return 1; } }]);
} catch (e) {}
