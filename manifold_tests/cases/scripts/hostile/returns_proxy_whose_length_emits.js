// expect: both returned records and called emit.*Nothing was imported
const rows = [{ id: 1 }];
return new Proxy(rows, {
  get(target, key) {
    if (key === "length") emit([{ id: 2 }]);
    return target[key];
  },
});
