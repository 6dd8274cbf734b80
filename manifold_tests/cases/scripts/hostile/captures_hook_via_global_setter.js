// expect: no host hook was reachable
// dukpy assigns call_python and dukpy on the global object before every evaluation: a setter
// planted there by the script would be handed the host function.
let hook = null;
for (const name of ["call_python", "dukpy"]) {
  try {
    Object.defineProperty(globalThis, name, {
      configurable: false,
      get() { return undefined; },
      set(value) { if (typeof value === "function") hook = value; },
    });
  } catch (e) {}
}
setTimeout(() => {
  if (typeof hook !== "function") throw new Error("no host hook was reachable");
  hook("emit", '[{"id": 666, "raw": true}]');
}, 10);
