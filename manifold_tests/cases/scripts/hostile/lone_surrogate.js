// expect: (?i)surrogate
return [{ id: 1, text: "bad \ud800 text" }];
