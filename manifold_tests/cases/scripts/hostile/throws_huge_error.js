// expect: the script threw Error: x{100}.*\.\.\. \(39,983,\d{3} more characters cut\)$
throw new Error("x".repeat(40000000));
