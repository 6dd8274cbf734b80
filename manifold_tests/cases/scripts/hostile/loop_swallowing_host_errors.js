// expect: timed out after 1 s
// config: {"timeoutSeconds": 1}
for (;;) { try { console.log("x"); } catch (e) {} }
