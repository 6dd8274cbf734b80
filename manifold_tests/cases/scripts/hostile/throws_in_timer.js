// expect: an error nobody handled .*throw in a setTimeout callback.*late failure
setTimeout(() => { throw new Error("late failure"); }, 10);
return [{ id: 1 }];
