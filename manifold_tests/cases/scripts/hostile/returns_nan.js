// expect: row 0: field .score. is NaN, which JSON cannot hold
return [{ id: 1, score: 0 / 0 }];
