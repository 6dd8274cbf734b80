"""Starting configs for `manifold source create --template`: common kinds of import, each a
working config to edit."""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, tuple[str, dict[str, Any]]] = {
    "rest-api": (
        "javascript",
        {
            "script": (
                "// Pages through a JSON API; replace the URL and the mock with your own.\n"
                "const rows = [];\n"
                "for (let page = 1; ; page++) {\n"
                "  const response = await fetch(`${baseUrl}/items?page=${page}`,\n"
                "    { headers: { Authorization: `Bearer ${env.API_TOKEN ?? ''}` } });\n"
                "  if (!response.ok) throw new Error(`HTTP ${response.status}`);\n"
                "  const body = await response.json();\n"
                "  rows.push(...body.items);\n"
                "  if (!body.next) break;\n"
                "}\n"
                "return rows;\n"
            ),
            "variables": {"baseUrl": "https://api.example.com"},
            "mockResponses": {
                "https://api.example.com/items?page=1": {
                    "body": {"items": [{"id": 1, "name": "first"}], "next": None}
                }
            },
            "diffKey": "id",
        },
    ),
    "csv": ("csv", {"path": "files/data.csv", "delimiter": ",", "diffKey": "id"}),
    "transform": (
        "javascript",
        {
            "script": (
                "// Reads the latest data of upstream sources (add them with\n"
                "// manifold source link) and returns a reshaped list.\n"
                "const rows = Object.values(inputs).flat();\n"
                "return rows.map(row => ({ ...row, importedAt: utils.formatDate() }));\n"
            ),
            "diffKey": "id",
            "diffIgnoreFields": ["importedAt"],
        },
    ),
}
