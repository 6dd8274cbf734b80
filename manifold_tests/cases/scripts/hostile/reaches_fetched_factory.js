// expect: no fetched-body factory was reachable
// The factory of fetched bodies' stand-ins (fetched.js) holds the host function once called:
// the prelude takes it off the global object before any script exists.
const found = [];
for (const name of Object.getOwnPropertyNames(globalThis)) {
  if (name.includes("Fetched") || name.includes("fetched")) found.push(name);
}
try { if (typeof __manifoldFetched !== "undefined") found.push("__manifoldFetched"); } catch (e) {}
if (found.length === 0) throw new Error("no fetched-body factory was reachable");
return [{ id: 1, found: found.join(",") }];
