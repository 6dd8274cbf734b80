// Reads a change feed from where the last run left off: every order updated since the
// cursor, page by page, and the ids deleted since; the newest time seen becomes the cursor.
let newest = state.cursor || "";
for (let page = 1; page; ) {
  const since = encodeURIComponent(state.cursor || "");
  const response = await fetch(`${base}/changes?updated_since=${since}&page=${page}`);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const body = await response.json();
  emit(body.items);
  deleteRecords(body.deleted);
  for (const item of body.items) if (item.updated_at > newest) newest = item.updated_at;
  page = body.next;
}
state.cursor = newest;
