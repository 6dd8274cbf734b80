// The script context (console, JSON, Date, Math, timers, utils, fetch, emit, deleteRecords,
// state, variables, env, inputs), built over nine host functions.
// Evaluated before any script exists, just after fetched.js. It keeps dukpy's host
// function in a closure, and it takes over the two globals that dukpy assigns before every
// evaluation, so no code of the script can reach the host function at any later moment.
"use strict";
(function (global) {
  const host = global.call_python;
  const token = global.dukpy.token;
  // Builtins the host's own code calls after the script has started, taken now: a script
  // that replaces Array.prototype.sort or Date.now changes its own code, never the host's.
  const apply = Reflect.apply;
  const defineProperty = Object.defineProperty;
  const create = Object.create;
  const freeze = Object.freeze;
  const keys = Object.keys;
  const getPrototypeOf = Object.getPrototypeOf;
  const setPrototypeOf = Object.setPrototypeOf;
  const hasOwn = Object.prototype.hasOwnProperty;
  const objectPrototype = Object.prototype;
  const arrayPrototype = Array.prototype;
  const isArray = Array.isArray;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const now = Date.now;
  const max = Math.max;
  const min = Math.min;
  const isFinite = Number.isFinite;
  const isSafeInteger = Number.isSafeInteger;
  const toText = String;
  const toNumber = Number;
  const NumberType = Number;
  const StringType = String;
  const BooleanType = Boolean;
  const MapType = Map;
  const SetType = Set;
  const then = Promise.prototype.then;
  const join = Array.prototype.join;
  const AsyncFunction = (async function () {}).constructor;

  const MAX_DELAY_MS = 5000;
  const CHUNK = 2000;
  const MAX_CONSOLE_LINES = 1000;
  const NOTHING = "Nothing was imported.";
  const BOTH = "the script both returned records and called emit()";
  const ONE_WAY = `Return an array of records, or emit them in batches and return nothing. ${NOTHING}`;
  // What each function that reads the script's values reads, for the refusal of a call made
  // from inside that reading (read by property: destructuring would call an iterator the
  // script may have replaced).
  const READERS = {
    emit: { call: "an emit()", items: "records", item: "a record" },
    deleteRecords: { call: "a deleteRecords()", items: "keys", item: "a key" },
  };
  const KEY_KINDS = "a key value (a string or number) or an object holding the key fields";
  // What each host call carries, for the refusal of a call a prototype override would rewrite.
  const CARRIES = {
    console: "console.log() cannot send its line to the host",
    fetch: "fetch() cannot send its request to the host",
    json: "r.json() cannot ask the host for the body's records",
    emit: "the script's records cannot be sent to the host",
    emitFetched: "the script's records cannot be sent to the host",
    delete: "deleteRecords() cannot send its keys to the host",
    state: "the script's state cannot be saved",
  };
  const box = { settled: false, value: undefined, error: undefined, emitted: 0, emitCalled: false };
  const timers = Object.create(null);
  let nextTimerId = 1;
  let consoleLines = 0;
  let started = false;
  let delivered = null;
  // While emit() or deleteRecords() reads its array, script code can run inside it (getters,
  // toJSON, Proxy traps): `reading` names which one. Once finish() has begun, an emit() mixes
  // emitted records into the returned ones, and a deleteRecords() comes after the state the
  // host already took as final.
  let reading = null;
  let finishing = false;
  // A refusal that could not reach the host (see refuse): every later host call, and the
  // host's next turn, throws it.
  let refused = null;

  // dukpy assigns `dukpy` (this evaluation's values) and `call_python` on the global object
  // before every evaluation. Accessors that nothing can redefine take both assignments: a
  // script never reads either, and cannot plant a setter of its own to catch them.
  delete global.call_python;
  delete global.dukpy;
  for (const name of ["call_python", "dukpy"]) {
    defineProperty(global, name, {
      configurable: false,
      enumerable: false,
      get() {
        throw new ReferenceError(`${name} is not defined`);
      },
      set(value) {
        if (name === "dukpy") delivered = value;
      },
    });
  }

  // The entry points below answer only the host: each first takes the values dukpy delivered
  // for this evaluation, and only a delivery carrying the run's token, which no script can
  // read, counts. A script calling an entry point (even from a job the host's evaluation
  // left queued) finds the delivery already taken.
  function fromHost() {
    const values = delivered;
    delivered = null;
    if (values === null || typeof values !== "object" || values.token !== token) {
      throw new Error("__manifold answers only the sandbox host");
    }
    return values;
  }

  // dukpy hands a host call its arguments as JSON: it puts them in an array of its own making
  // and serialises that with the engine's JSON.stringify (its own, not the global a script may
  // replace, yet one that honours the prototypes). A toJSON() that array inherits, or an
  // element 0 or 1 it meets on a prototype while it is filled, would run script code inside
  // the call and change what the host receives. What the script changed there, as a phrase;
  // null when a call's arguments reach the host as they are.
  function overrideOf() {
    // The usual answer costs one call and three `in` tests. `in` runs no script code on these
    // two ordinary objects (a getter is not called), once the chain between them is checked.
    if (getPrototypeOf(arrayPrototype) !== objectPrototype) return "Array.prototype's prototype is no longer Object.prototype";
    if ("toJSON" in arrayPrototype) {
      return apply(hasOwn, arrayPrototype, ["toJSON"]) ? "Array.prototype.toJSON is defined" : "Object.prototype.toJSON is defined";
    }
    for (let i = 0; i < 2; i++) {
      if (i in arrayPrototype) {
        return apply(hasOwn, arrayPrototype, [i]) ? `Array.prototype has an element ${i}` : `Object.prototype has a property '${i}'`;
      }
    }
    return null;
  }

  const callsAreExact = () => overrideOf() === null;

  // Throws, before anything is sent, when the host would not receive what `name` sends.
  function checkSendable(name) {
    throwIfRefused();
    const found = overrideOf();
    if (found !== null) {
      throw new TypeError(`${CARRIES[name]} while ${found}: every value the sandbox hands the host goes through JSON.stringify, which this would change. Remove it (a toJSON() method on the script's own objects is fine).`);
    }
  }

  // Every host call but a refusal goes through here. One or two arguments, passed as they
  // came: spreading them would call an iterator the script may have replaced.
  function call(name, first, second) {
    checkSendable(name);
    return second === undefined ? host(name, first) : host(name, first, second);
  }

  const fetched = global.__manifoldFetched(call, callsAreExact);
  delete global.__manifoldFetched;

  function describe(error) {
    try {
      if (error instanceof Error) {
        const name = error.name || "Error";
        return error.stack ? `${name}: ${error.message}\n${error.stack}` : `${name}: ${error.message}`;
      }
      return `thrown value: ${toText(error)}`;
    } catch (inner) {
      return "a thrown value that cannot be described";
    }
  }

  function show(value) {
    if (typeof value === "string") return value;
    try {
      const text = stringify(value);
      return text === undefined ? toText(value) : text;
    } catch (error) {
      return toText(value);
    }
  }

  function log(level) {
    return function (...args) {
      consoleLines += 1;
      if (consoleLines > MAX_CONSOLE_LINES) {
        if (consoleLines === MAX_CONSOLE_LINES + 1) call("console", "warn", "(console output truncated)");
        return;
      }
      let line = "";
      for (let i = 0; i < args.length; i++) line += (i === 0 ? "" : " ") + show(args[i]);
      call("console", level, line);
    };
  }

  function kindOf(value) {
    if (value === null || value === undefined) return toText(value);
    if (isArray(value)) return "an array";
    const type = typeof value;
    return type === "object" ? "an object" : `a ${type}`;
  }

  // What JSON would turn into null or drop without a word, as a sentence about `where` (null
  // when nothing is wrong); `strict` refuses undefined too (a record's undefined fields
  // vanish, as JSON.stringify drops them, but a state is saved exactly as the script holds it).
  function problemOf(where, value, strict) {
    const type = typeof value;
    if (type === "number" && !isFinite(value)) return `${where} is ${value}, which JSON cannot hold`;
    if (type === "bigint") return `${where} is a BigInt; convert it to a number or string`;
    if (type === "function" || type === "symbol") return `${where} is a ${type}, not data`;
    if (strict && type === "undefined") return `${where} is undefined, which JSON cannot hold`;
    if (value instanceof MapType || value instanceof SetType) return `${where} is a ${value.constructor.name}; convert it to an object or array`;
    return null;
  }

  // A JSON.stringify replacer refusing what problemOf finds; `whole` names the value itself.
  function replacerFor(whole, strict) {
    return function (key, value) {
      const problem = problemOf(key === "" ? whole : `field '${key}'`, value, strict);
      if (problem !== null) throw new TypeError(problem);
      return value;
    };
  }
  const recordReplacer = replacerFor("the record", false);
  const keyReplacer = replacerFor("the key", true);
  const stateReplacer = replacerFor("state", true);

  function serialise(record, row) {
    if (record === null || typeof record !== "object" || isArray(record)) {
      throw new TypeError(`row ${row} is ${kindOf(record)}, not an object`);
    }
    let text;
    try {
      text = stringify(record, recordReplacer);
    } catch (error) {
      throw new TypeError(`row ${row}: ${error && error.message}`);
    }
    // An object's toJSON() (a Date's, a Number object's, the script's own) can give anything.
    if (text === undefined || text[0] !== "{") throw new TypeError(notAnObject(row, text));
    return text;
  }

  function notAnObject(row, text) {
    const kind = kindOf(text === undefined ? undefined : parse(text));
    return `row ${row} serialises to ${kind}, not an object (made so by a toJSON() method, or a Date or Number object); return plain objects`;
  }

  // Records go to the host a chunk at a time, each chunk serialised by one JSON.stringify
  // call (one string, not one per record joined). The chunk is an array without a prototype:
  // filling it meets no setter a script put on Array.prototype, and serialising it finds no
  // toJSON. It holds each record as read, once, from the script's array. The replacer below
  // checks what serialise() checks, told rows from fields by its holder: the chunk itself.
  let chunk = null;
  let chunkFirst = 0;
  let row = 0;
  let refusal = null;

  function refuseRow(message) {
    refusal = new TypeError(message);
    throw refusal;
  }

  function chunkReplacer(key, value) {
    if (this === chunk) {
      // Rows come in order, one call each: the row number is counted, not parsed from `key`.
      const record = chunk[++row - chunkFirst];
      // The usual record: a plain object, with no toJSON() of its own.
      if (value === record && value !== null && typeof value === "object" && getPrototypeOf(value) === objectPrototype && !isArray(value)) return value;
      return checkedRecord(value, record);
    }
    switch (typeof value) {
      case "string":
      case "boolean":
      case "undefined":
        return value;
      case "number":
        if (isFinite(value)) return value;
        break;
      case "object":
        if (value === null || !(value instanceof MapType || value instanceof SetType)) return value;
        break;
    }
    return refuseRow(`row ${row}: ${problemOf(`field '${key}'`, value, false)}`);
  }

  // `value` is the record after its toJSON(), if it has one; `record` is as the chunk holds it.
  function checkedRecord(value, record) {
    if (record === null || typeof record !== "object" || isArray(record)) refuseRow(`row ${row} is ${kindOf(record)}, not an object`);
    const problem = problemOf("the record", value, false);
    if (problem !== null) refuseRow(`row ${row}: ${problem}`);
    const type = typeof value;
    if (type !== "object" || value === null || isArray(value) || value instanceof NumberType || value instanceof StringType || value instanceof BooleanType) {
      refuseRow(notAnObject(row, stringify(value)));
    }
    return value;
  }

  // An error the replacer did not throw came from script code the serialising ran (a getter,
  // a toJSON, a Proxy trap) or from the engine (a cycle, nesting too deep). It belongs to the
  // row last checked (or the first, if none was), or to the next one, whose own toJSON()
  // runs before it is checked: serialising those two again, alone, tells which, with
  // serialise()'s own message.
  function rowError(error, first, end) {
    const last = max(row, first);
    for (let i = last - first; i < min(end - first, last - first + 2); i++) serialise(chunk[i], first + i);
    return new TypeError(`row ${last}: ${error && error.message}`);
  }

  function isScalar(value) {
    const type = typeof value;
    return type === "string" || type === "boolean" || (type === "number" && isFinite(value));
  }

  // A key goes through JSON and is checked as the host will read it: what a getter or toJSON
  // gave is then plain data, read once.
  function serialiseKey(key, index) {
    let text;
    try {
      text = stringify(key, keyReplacer);
    } catch (error) {
      throw new TypeError(`deleteRecords(): keys[${index}]: ${error && error.message}. Give ${KEY_KINDS}`);
    }
    const value = text === undefined ? undefined : parse(text);
    // A key is a string or a number; true is no key (it is not the number 1).
    if (typeof value === "string" || (typeof value === "number" && isFinite(value))) return text;
    if (value === null || typeof value !== "object" || isArray(value)) {
      throw new TypeError(`deleteRecords(): keys[${index}] is ${kindOf(value)}. Give ${KEY_KINDS}`);
    }
    const names = keys(value);
    if (names.length === 0) throw new TypeError(`deleteRecords(): keys[${index}] is an object without fields. Give ${KEY_KINDS}`);
    for (let i = 0; i < names.length; i++) {
      if (!isScalar(value[names[i]])) {
        throw new TypeError(`deleteRecords(): keys[${index}] field '${names[i]}' is ${kindOf(value[names[i]])}; a key field holds a string, number or boolean`);
      }
    }
    return text;
  }

  // Encodes `items` in chunks of JSON array text, each item as `encode` gives it (with its
  // number: `first` for the first item), and hands each chunk to `take`. The length is read once: a Proxy's length trap could answer
  // differently at every read, or answer what no array's length can be. What the host code
  // collects goes into objects without a prototype: an index written to an array would meet
  // any setter a script put on Array.prototype, and a getter there could answer for it.
  function eachChunk(reader, items, first, encode, take) {
    reading = reader;
    try {
      const count = items.length;
      if (!isSafeInteger(count) || count < 0) {
        throw new TypeError(`the array's length is ${toText(count)}, not a count of ${READERS[reader].items}`);
      }
      for (let start = 0; start < count; start += CHUNK) {
        const parts = create(null);
        const end = min(count, start + CHUNK);
        for (let i = start; i < end; i++) parts[i - start] = encode(items[i], first + i);
        parts.length = end - start;
        take(`[${apply(join, parts, [","])}]`);
      }
      return count;
    } finally {
      reading = null;
    }
  }

  // Records stream: each chunk goes to the host as soon as it is serialised. The length is
  // read once (see eachChunk).
  function send(records) {
    if (!isArray(records)) {
      throw new TypeError(`expected an array of objects, got ${kindOf(records)}`);
    }
    // Before the records are read: an Object.prototype.toJSON would first be refused by row.
    checkSendable("emit");
    const untouched = fetched.sendUntouched(records);
    if (untouched >= 0) {
      box.emitted += untouched;
      return;
    }
    reading = "emit";
    try {
      const count = records.length;
      if (!isSafeInteger(count) || count < 0) {
        throw new TypeError(`the array's length is ${toText(count)}, not a count of records`);
      }
      for (let start = 0; start < count; start += CHUNK) {
        const end = min(count, start + CHUNK);
        const first = box.emitted;
        chunk = setPrototypeOf([], null);
        for (let i = start; i < end; i++) chunk[i - start] = records[i];
        chunkFirst = first;
        row = first - 1;
        refusal = null;
        let text;
        try {
          text = stringify(chunk, chunkReplacer);
        } catch (error) {
          throw error === refusal ? error : rowError(error, first, first + end - start);
        }
        call("emit", text);
        box.emitted = first + end - start;
      }
    } finally {
      reading = null;
      chunk = null;
    }
  }

  // Keys are all checked before any is sent, so a refused call deletes nothing, even when the
  // script catches the error and goes on.
  function sendDeletions(keyList) {
    if (!isArray(keyList)) {
      throw new TypeError(`deleteRecords() expects an array of keys, each ${KEY_KINDS}; got ${kindOf(keyList)}`);
    }
    const chunks = create(null);
    let count = 0;
    eachChunk("deleteRecords", keyList, 0, serialiseKey, (chunk) => {
      chunks[count++] = chunk;
    });
    for (let i = 0; i < count; i++) call("delete", chunks[i]);
  }

  // The state as JSON text, read once from the global the script may have changed or
  // replaced; the host checks its size and that it parses to an object.
  function stateText() {
    let state;
    try {
      state = global.state;
    } catch (error) {
      throw new Error(`reading the script's state threw ${describe(error)}. ${NOTHING}`);
    }
    if (state === null || typeof state !== "object" || isArray(state)) {
      throw new Error(`the script's state is ${kindOf(state)}, not an object. Change its fields or set it to an object (state = { cursor: ... }). ${NOTHING}`);
    }
    let text;
    try {
      text = stringify(state, stateReplacer);
    } catch (error) {
      throw new Error(`the script's state cannot be saved: ${error && error.message}. Keep state plain JSON (objects, arrays, strings, finite numbers, booleans, null). ${NOTHING}`);
    }
    // The strict replacer refused undefined, so `text` is JSON text; a toJSON() may still
    // have turned the object into something else.
    if (text[0] !== "{") {
      throw new Error(`the script's state serialises to ${kindOf(parse(text))}, not an object (made so by a toJSON() method, or a Date or Number object). ${NOTHING}`);
    }
    return text;
  }

  function calledWhileReading(name) {
    const reader = READERS[reading];
    return `the script called ${name}() while ${reader.call} was reading its ${reader.items} (from a getter, toJSON or Proxy trap of ${reader.item}). Call ${name}() from the script's own code only. ${NOTHING}`;
  }

  // Ends the run in the host at once: an error thrown back into the script's code (a getter,
  // a toJSON, a queued job) could be caught there and the run would go on. While a prototype
  // override would rewrite the call (and run script code inside it), the refusal is kept
  // instead, and ends the run at the next host call or the host's next turn.
  function refuse(message) {
    if (overrideOf() === null) host("refuse", message);
    refused = message;
    throw new Error(message);
  }

  function throwIfRefused() {
    if (refused !== null) throw new Error(refused);
  }

  // What a Request's init may hold, as the Fetch standard reads it: headers are an object
  // or a sequence of [name, value] pairs, and anything else a script passes is a TypeError.
  function requestOf(target, options) {
    if (options === undefined || options === null) return { method: "GET", headers: [], body: null };
    if (typeof options !== "object") {
      throw new TypeError(`fetch(${target}): options must be an object, got ${kindOf(options)}`);
    }
    const method = options.method === undefined || options.method === null ? "GET" : toText(options.method);
    const body = options.body === undefined || options.body === null ? null : toText(options.body);
    return { method, headers: headerPairs(target, options.headers), body };
  }

  function headerPairs(target, init) {
    const pairs = [];
    if (init === undefined || init === null) return pairs;
    if (typeof init !== "object") {
      throw new TypeError(`fetch(${target}): headers must be an object or [name, value] pairs, got ${kindOf(init)}`);
    }
    if (typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        const items = typeof pair === "object" && pair !== null && typeof pair[Symbol.iterator] === "function" ? [...pair] : null;
        if (items === null || items.length !== 2) {
          throw new TypeError(`fetch(${target}): header ${show(pair)} is not a [name, value] pair`);
        }
        pairs[pairs.length] = [toText(items[0]), toText(items[1])];
      }
      return pairs;
    }
    for (const name of keys(init)) pairs[pairs.length] = [name, toText(init[name])];
    return pairs;
  }

  function response(reply, url) {
    const headers = {};
    const names = keys(reply.headers);
    for (let i = 0; i < names.length; i++) headers[names[i].toLowerCase()] = reply.headers[names[i]];
    const body = reply.body;
    const fetchNumber = reply.fetch;
    return freeze({
      ok: reply.status >= 200 && reply.status < 300,
      status: reply.status,
      url: url,
      headers: freeze({ get: (name) => headers[String(name).toLowerCase()] ?? null, ...headers }),
      text: async () => body,
      json: async () => fetched.parseBody(fetchNumber, body),
    });
  }

  // As in browsers, every failing fetch rejects with a TypeError the script can catch.
  function fetch(url, options) {
    return new Promise((resolve, reject) => {
      const target = toText(url);
      let reply;
      try {
        reply = call("fetch", target, requestOf(target, options));
      } catch (error) {
        reject(error instanceof TypeError ? error : new TypeError(`fetch(${target}) failed: ${describe(error)}`));
        return;
      }
      if (reply.error) reject(new TypeError(reply.error));
      else resolve(response(reply, target));
    });
  }

  const utils = freeze({
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

  function installGlobals(variables, env, inputs, state) {
    for (const [name, value] of Object.entries(variables)) global[name] = value;
    global.console = freeze({ log: log("info"), info: log("info"), warn: log("warn"), error: log("error") });
    global.utils = utils;
    global.env = freeze({ ...env });
    global.inputs = freeze({ ...inputs });
    global.emit = (records) => {
      box.emitCalled = true;
      if (finishing) refuse(`${BOTH} from code the host ran while reading the returned records (a getter, toJSON or Proxy trap). ${ONE_WAY}`);
      if (reading !== null) refuse(calledWhileReading("emit"));
      send(records);
    };
    global.deleteRecords = (keyList) => {
      if (finishing) {
        refuse(`the script called deleteRecords() from code the host ran while reading its result (a getter, toJSON or Proxy trap of a returned record or of the state, or a job one queued). Call deleteRecords() before the script ends. ${NOTHING}`);
      }
      if (reading !== null) refuse(calledWhileReading("deleteRecords"));
      sendDeletions(keyList);
    };
    // Its own copy (the host's delivery, parsed afresh), which the script may change or replace.
    global.state = state;
    global.fetch = fetch;
    global.setTimeout = (callback, delay, ...args) => {
      const id = nextTimerId++;
      const wait = min(max(toNumber(delay) || 0, 0), MAX_DELAY_MS);
      timers[id] = { id, due: now() + wait, callback, args };
      return id;
    };
    global.clearTimeout = (id) => {
      delete timers[id];
    };
  }

  // Timers are kept by id in an object without a prototype and searched with a plain loop:
  // no method a script can replace takes part in choosing what runs next.
  function nextTimer() {
    let next = null;
    for (const id in timers) {
      const timer = timers[id];
      if (next === null || timer.due < next.due || (timer.due === next.due && timer.id < next.id)) next = timer;
    }
    return next;
  }

  defineProperty(global, "__manifold", {
    configurable: false,
    enumerable: false,
    writable: false,
    value: freeze({
      start() {
        const values = fromHost();
        if (started) throw new Error("__manifold.start runs once");
        started = true;
        installGlobals(values.variables, values.env, values.inputs, values.state);
        // Compiled as the body of an async function: the source is data to the constructor,
        // so no text of the script can close a wrapper written around it.
        const body = new AsyncFunction(values.script);
        apply(then, body(), [
          (value) => {
            box.settled = true;
            box.value = value;
          },
          (error) => {
            box.settled = true;
            box.error = describe(error);
          },
        ]);
      },
      nextTimerDelay() {
        fromHost();
        throwIfRefused();
        const timer = nextTimer();
        return timer === null ? null : max(0, timer.due - now());
      },
      runNextTimer() {
        fromHost();
        const timer = nextTimer();
        if (timer === null) return;
        delete timers[timer.id];
        apply(timer.callback, undefined, timer.args);
      },
      finish() {
        fromHost();
        throwIfRefused();
        finishing = true;
        if (!box.settled) {
          throw new Error("the script never finished: its promise did not settle (an await on something that never resolves?)");
        }
        if (box.error !== undefined) throw new Error(`the script threw ${box.error}`);
        if (!box.emitCalled) send(box.value);
        else if (box.value !== undefined) throw new Error(`${BOTH}. ${ONE_WAY}`);
        // Before the state is read: an Object.prototype.toJSON would first be refused as the
        // state's own shape.
        checkSendable("state");
        call("state", stateText());
      },
    }),
  });
})(globalThis);
