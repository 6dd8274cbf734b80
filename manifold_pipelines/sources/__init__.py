"""Where records come from: a JavaScript sandbox, CSV and JSON files, HTTP."""
