// Every part of the script context in one run.
console.log("starting", { region }, [1, 2]);
console.warn("careful");
console.error("oops, but not fatal");
const id = utils.generateId();
const parsed = utils.parseJSON('{"a": 1}');
const broken = utils.parseJSON('{nope');
const text = utils.stringifyJSON({ b: 2 });
const when = utils.formatDate(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
let fired = [];
await new Promise(resolve => setTimeout(() => { fired.push("late"); resolve(); }, 50));
setTimeout(() => fired.push("never"), 10);
const cancelled = setTimeout(() => fired.push("cancelled"), 5);
clearTimeout(cancelled);
await new Promise(resolve => setTimeout(resolve, 20));
return [{
  id: 1, region, limit, idLooksRight: /^[0-9a-f-]{36}$/.test(id), parsed, broken, text, when,
  fired, token: env.API_TOKEN, hasProcess: typeof process, mathOk: Math.max(1, 2) === 2,
  jsonOk: JSON.parse("[1]")[0] === 1,
}];
