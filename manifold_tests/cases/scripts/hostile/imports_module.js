// expect: (?i)module|import
const m = await import("/etc/passwd");
return [];
