// expect: timed out after 1 s
// config: {"timeoutSeconds": 1}
const spin = () => queueMicrotask(spin);
spin();
return [];
