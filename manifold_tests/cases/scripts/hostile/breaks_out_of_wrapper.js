// expect: SyntaxError
}})(); globalThis.escaped = true; (function(){{
return [];
