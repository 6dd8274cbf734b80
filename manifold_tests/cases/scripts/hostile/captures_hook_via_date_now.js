// expect: no host hook was reachable
// The host asks when the next timer is due after the script has started.
let hook = null;
const now = Date.now;
Date.now = function () {
  try { if (typeof globalThis.call_python === "function") hook = globalThis.call_python; } catch (e) {}
  return now();
};
setTimeout(() => {
  if (typeof hook !== "function") throw new Error("no host hook was reachable");
  for (let i = 0; i < 5000; i++) hook("console", "info", `flood ${i}`);
  hook("emit", '[{"id": 666, "raw": true}]');
}, 10);
