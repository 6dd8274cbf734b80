// expect: ran out of memory
const hoard = [];
for (;;) hoard.push("x".repeat(100000) + hoard.length);
