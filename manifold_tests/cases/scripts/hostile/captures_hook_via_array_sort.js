// expect: no host hook was reachable
// The host sorts its timers after the script has started: a sort of the script's own would
// see whatever the host evaluation left on the global object.
let hook = null;
const sort = Array.prototype.sort;
Array.prototype.sort = function (compare) {
  try { if (typeof globalThis.call_python === "function") hook = globalThis.call_python; } catch (e) {}
  return sort.call(this, compare);
};
setTimeout(() => {}, 5);
setTimeout(() => {
  if (typeof hook !== "function") throw new Error("no host hook was reachable");
  for (let i = 0; i < 5000; i++) hook("console", "info", `flood ${i}`);
  hook("emit", '[{"id": 666, "raw": true}]');
}, 10);
