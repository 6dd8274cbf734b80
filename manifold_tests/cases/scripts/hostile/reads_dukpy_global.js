// expect: dukpy is not defined
return [{ id: 1, leak: JSON.stringify(dukpy) }];
