// expect: process is not defined
return [{ id: 1, env: process.env }];
