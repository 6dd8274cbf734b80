// expect: timed out after 1 s
// config: {"timeoutSeconds": 1}
throw { toString() { for (;;) {} } };
