// Reads a paged API on an allowed host; `base` is a variable.
const rows = [];
for (let page = 1; ; page++) {
  const response = await fetch(`${base}/items?page=${page}`, { headers: { Authorization: `Bearer ${env.API_TOKEN}` } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const body = await response.json();
  rows.push(...body.items);
  if (!body.next) break;
}
return rows;
