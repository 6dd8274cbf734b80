// expect: no host hook was reachable
// Every builtin the host's own code might call after the script has started is replaced by a
// trap that looks for the host function on the global object.
let hook = null;
const look = () => {
  try { if (typeof globalThis.call_python === "function") hook = globalThis.call_python; } catch (e) {}
};
const trap = (owner, name) => {
  const original = owner[name];
  owner[name] = function (...args) { look(); return original.apply(this, args); };
};
trap(Object, "entries"); trap(Object, "keys"); trap(Object, "freeze");
trap(JSON, "parse"); trap(JSON, "stringify"); trap(Math, "max"); trap(Math, "min");
trap(Array, "isArray");
for (const name of ["push", "splice", "shift", "findIndex", "join", "map", "sort"]) trap(Array.prototype, name);
trap(Promise.prototype, "then"); trap(Function.prototype, "apply"); trap(Function.prototype, "call");
trap(String.prototype, "toLowerCase");
Object.defineProperty(Array.prototype, "toJSON", { configurable: true, get() { look(); return undefined; } });
setTimeout(() => {}, 1);
setTimeout(() => {
  if (typeof hook !== "function") throw new Error("no host hook was reachable");
  hook("emit", '[{"id": 666, "raw": true}]');
}, 10);
