// The script context: exactly what DESIGN.md lists, built over four host functions that
// this closure captures and then removes from the global object.
"use strict";
globalThis.__manifold = (function () {
  const host = globalThis.call_python;
  // dukpy defines `call_python` and `dukpy` again before every evaluation: each entry point
  // below hides them before any script code runs.
  function hide() {
    delete globalThis.call_python;
    delete globalThis.dukpy;
  }
  hide();
  const MAX_DELAY_MS = 5000;
  const CHUNK = 2000;
  const MAX_CONSOLE_LINES = 1000;
  const box = { settled: false, value: undefined, error: undefined, emitted: 0 };
  const timers = [];
  let nextTimerId = 1;
  let consoleLines = 0;

  function describe(error) {
    try {
      if (error instanceof Error) {
        const name = error.name || "Error";
        return error.stack ? `${name}: ${error.message}\n${error.stack}` : `${name}: ${error.message}`;
      }
      return `thrown value: ${String(error)}`;
    } catch (inner) {
      return "a thrown value that cannot be described";
    }
  }

  function show(value) {
    if (typeof value === "string") return value;
    try {
      const text = JSON.stringify(value);
      return text === undefined ? String(value) : text;
    } catch (error) {
      return String(value);
    }
  }

  function log(level) {
    return function (...args) {
      consoleLines += 1;
      if (consoleLines > MAX_CONSOLE_LINES) {
        if (consoleLines === MAX_CONSOLE_LINES + 1) host("console", "warn", "(console output truncated)");
        return;
      }
      host("console", level, args.map(show).join(" "));
    };
  }

  function kindOf(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "an array";
    return `a ${typeof value}`;
  }

  function replacer(key, value) {
    const type = typeof value;
    const where = key === "" ? "the record" : `field '${key}'`;
    if (type === "number" && !Number.isFinite(value)) throw new TypeError(`${where} is ${value}, which JSON cannot hold`);
    if (type === "bigint") throw new TypeError(`${where} is a BigInt; convert it to a number or string`);
    if (type === "function" || type === "symbol") throw new TypeError(`${where} is a ${type}, not data`);
    if (value instanceof Map || value instanceof Set) throw new TypeError(`${where} is a ${value.constructor.name}; convert it to an object or array`);
    return value;
  }

  function send(records) {
    if (!Array.isArray(records)) {
      throw new TypeError(`expected an array of objects, got ${kindOf(records)}`);
    }
    for (let start = 0; start < records.length; start += CHUNK) {
      const parts = [];
      const end = Math.min(records.length, start + CHUNK);
      for (let i = start; i < end; i++) {
        const record = records[i];
        const row = box.emitted + i;
        if (record === null || typeof record !== "object" || Array.isArray(record)) {
          throw new TypeError(`row ${row} is ${kindOf(record)}, not an object`);
        }
        try {
          parts.push(JSON.stringify(record, replacer));
        } catch (error) {
          throw new TypeError(`row ${row}: ${error && error.message}`);
        }
      }
      host("emit", `[${parts.join(",")}]`);
    }
    box.emitted += records.length;
  }

  function response(reply, url) {
    const headers = {};
    for (const [name, value] of Object.entries(reply.headers || {})) headers[name.toLowerCase()] = value;
    const body = reply.body;
    return Object.freeze({
      ok: reply.status >= 200 && reply.status < 300,
      status: reply.status,
      url: url,
      headers: Object.freeze({ get: (name) => headers[String(name).toLowerCase()] ?? null, ...headers }),
      text: async () => body,
      json: async () => JSON.parse(body),
    });
  }

  const utils = Object.freeze({
    generateId() {
      const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");
      return `${hex(8)}-${hex(4)}-4${hex(3)}-${hex(4)}-${hex(12)}`;
    },
    formatDate(date) {
      const moment = date === undefined ? new Date() : new Date(date);
      return moment.toISOString();
    },
    parseJSON(text) {
      try {
        return JSON.parse(text);
      } catch (error) {
        return null;
      }
    },
    stringifyJSON(value) {
      return JSON.stringify(value);
    },
  });

  function installGlobals(variables, env, inputs) {
    for (const [name, value] of Object.entries(variables)) globalThis[name] = value;
    globalThis.console = Object.freeze({ log: log("info"), info: log("info"), warn: log("warn"), error: log("error") });
    globalThis.utils = utils;
    globalThis.env = Object.freeze({ ...env });
    globalThis.inputs = Object.freeze({ ...inputs });
    globalThis.emit = (records) => send(records);
    globalThis.fetch = (url, options) =>
      new Promise((resolve, reject) => {
        const target = String(url);
        const reply = host("fetch", target, options === undefined ? {} : JSON.parse(JSON.stringify(options)));
        if (reply.error) reject(new TypeError(reply.error));
        else resolve(response(reply, target));
      });
    globalThis.setTimeout = (callback, delay, ...args) => {
      const id = nextTimerId++;
      const wait = Math.min(Math.max(Number(delay) || 0, 0), MAX_DELAY_MS);
      timers.push({ id, due: Date.now() + wait, callback, args });
      return id;
    };
    globalThis.clearTimeout = (id) => {
      const index = timers.findIndex((timer) => timer.id === id);
      if (index >= 0) timers.splice(index, 1);
    };
  }

  return Object.freeze({
    start(script, variables, env, inputs) {
      hide();
      installGlobals(variables, env, inputs);
      // Compiled as the body of an async function: the source is data to the constructor,
      // so no text of the script can close a wrapper written around it.
      const AsyncFunction = (async function () {}).constructor;
      const body = new AsyncFunction(script);
      body().then(
        (value) => { box.settled = true; box.value = value; },
        (error) => { box.settled = true; box.error = describe(error); },
      );
    },
    nextTimerDelay() {
      if (timers.length === 0) return null;
      timers.sort((a, b) => a.due - b.due || a.id - b.id);
      return Math.max(0, timers[0].due - Date.now());
    },
    runNextTimer() {
      hide();
      const timer = timers.shift();
      timer.callback(...timer.args);
    },
    finish() {
      hide();
      if (!box.settled) {
        throw new Error("the script never finished: its promise did not settle (an await on something that never resolves?)");
      }
      if (box.error !== undefined) throw new Error(`the script threw ${box.error}`);
      if (box.value === undefined && box.emitted > 0) return;
      send(box.value);
    },
  });
})();
