// The classic example script: fetch an API (answered by a mock), shape each item, add a field.
async function fetchData() {
  const response = await fetch('https://api.example.com/data');
  const items = await response.json();
  return items.map(item => ({ ...item, label: `${item.name} (${item.id})` }));
}
return await fetchData();
