// expect: require is not defined
const fs = require("fs");
return [];
