// expect: no internal entry point answered
// The host's entry points are on the global object; called by the script they must refuse.
const answered = [];
for (const name of Object.keys(__manifold)) {
  try {
    __manifold[name]('emit([{ id: 666 }]); return undefined;', {}, {}, {});
    answered.push(name);
  } catch (e) {}
}
await null;
for (const name of Object.keys(__manifold)) {
  try { __manifold[name](); answered.push(`${name} later`); } catch (e) {}
}
if (answered.length === 0) throw new Error("no internal entry point answered");
return [{ id: 1, answered: answered.join(",") }];
