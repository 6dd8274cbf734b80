// expect: (?i)reject|unhandled|nobody catches
Promise.reject(new Error("nobody catches this"));
return [{ id: 1 }];
