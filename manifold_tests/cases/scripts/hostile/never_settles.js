// expect: never finished: its promise did not settle
await new Promise(() => {});
return [];
