// expect: an error nobody handled \(an unhandled promise rejection.*nobody catches this
Promise.reject(new Error("nobody catches this"));
return [{ id: 1 }];
