// expect: stopped without an error value.*promise chain
const grow = () => Promise.resolve().then(grow);
grow();
return [];
