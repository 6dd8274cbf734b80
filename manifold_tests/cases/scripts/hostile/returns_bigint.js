// expect: field .n. is a BigInt
return [{ id: 1, n: 10n }];
