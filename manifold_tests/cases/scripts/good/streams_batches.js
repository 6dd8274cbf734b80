// Streams `total` records in batches of 10,000 through emit(); returns nothing.
for (let start = 0; start < total; start += 10000) {
  const batch = [];
  for (let i = start; i < Math.min(total, start + 10000); i++) {
    batch.push({ id: i, name: `record ${i}`, bucket: i % 7, even: i % 2 === 0 });
  }
  emit(batch);
}
