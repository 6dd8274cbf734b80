// expect: sent more than 16 MB \(maxOutputMb\) to the host
// config: {"maxOutputMb": 16, "timeoutSeconds": 20}
const s = "x".repeat(900000);
for (let i = 0; ; i += 8) {
  emit([0, 1, 2, 3, 4, 5, 6, 7].map((k) => ({ id: i + k, s })));
}
