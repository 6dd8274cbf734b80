// expect: timed out after 1 s
// config: {"timeoutSeconds": 1}
return [{ id: 1, toJSON() { for (;;) {} } }];
