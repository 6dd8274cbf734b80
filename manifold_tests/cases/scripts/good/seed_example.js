// The seed's example, unchanged apart from the field it adds.
async function fetchData() {
  const response = await fetch('https://api.example.com/data');
  const items = await response.json();
  return items.map(item => ({ ...item, label: `${item.name} (${item.id})` }));
}
return await fetchData();
