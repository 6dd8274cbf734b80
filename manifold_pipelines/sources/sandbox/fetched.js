// Record lists of fetched bodies (see fetched.py): r.json() gives each list of records in
// the body as an array that stands for them until the script looks inside it, and emitting
// it untouched asks the host to take the records from the bytes it fetched.
// Evaluated before prelude.js, which takes this factory from the global object (and deletes
// it there) before any script exists; every builtin used later is taken here, now.
"use strict";
(function (global) {
  // `host` makes a host call; `callsAreExact()` tells whether a host call's arguments would
  // reach the host as they are (prelude.js, overrideOf): when not, the records take the
  // ordinary path, whose refusal names what the script changed.
  global.__manifoldFetched = function (host, callsAreExact) {
    const ProxyType = Proxy;
    // The operations a Proxy of an array can trap, as Reflect performs them.
    const TRAPS = ["defineProperty", "deleteProperty", "get", "getOwnPropertyDescriptor", "getPrototypeOf", "has", "isExtensible", "ownKeys", "preventExtensions", "set", "setPrototypeOf"];
    const reflect = Object.create(null);
    for (let i = 0; i < TRAPS.length; i++) reflect[TRAPS[i]] = Reflect[TRAPS[i]];
    const apply = Reflect.apply;
    const create = Object.create;
    const defineProperty = Object.defineProperty;
    const getPrototypeOf = Object.getPrototypeOf;
    const parse = JSON.parse;
    const toText = String;
    const toNumber = Number;
    const weakMapGet = WeakMap.prototype.get;
    const weakMapSet = WeakMap.prototype.set;
    const handlers = new WeakMap();

    // A descriptor without a prototype: one inheriting from Object.prototype would take any
    // `get` or `set` a script put there.
    function dataProperty(value) {
      const descriptor = create(null);
      descriptor.value = value;
      descriptor.writable = true;
      descriptor.enumerable = true;
      descriptor.configurable = true;
      return descriptor;
    }

    // An array index, as the engine reads a property key: what a record is read by.
    function isIndex(key) {
      return typeof key === "string" && toText(toNumber(key) >>> 0) === key && key !== "4294967295";
    }

    // The array standing for list `number` of `text` (its records at `path`): a Proxy of an
    // array that is empty until the script first does anything but read its length or a
    // property that is no index (a method). Then the records are parsed from the script's own
    // copy of the body, as JSON.parse would give them, the traps are removed (every operation
    // goes to the array itself from then on), and the array is no longer untouched.
    function standIn(number, path, count, text) {
      const target = [];
      const state = { number, count, untouched: true };
      const handler = create(null);
      function fill() {
        if (!state.untouched) return;
        let records = parse(text);
        for (let i = 0; i < path.length; i++) records = records[path[i]];
        state.untouched = false;
        for (let i = 0; i < TRAPS.length; i++) delete handler[TRAPS[i]];
        const element = dataProperty(undefined);
        for (let i = 0; i < count; i++) {
          element.value = records[i];
          defineProperty(target, i, element);
        }
      }
      for (let i = 0; i < TRAPS.length; i++) {
        const name = TRAPS[i];
        const forward = reflect[name];
        handler[name] = function (...args) {
          fill();
          return apply(forward, undefined, args);
        };
      }
      handler.get = function (target, key, receiver) {
        if (key === "length" && state.untouched) return count;
        if (isIndex(key)) fill();
        return reflect.get(target, key, receiver);
      };
      handler.getPrototypeOf = (target) => getPrototypeOf(target);
      const array = new ProxyType(target, handler);
      apply(weakMapSet, handlers, [array, state]);
      return array;
    }

    return Object.freeze({
      // What r.json() gives for a fetched body: the host's envelope with a stand-in for each
      // record list, or JSON.parse of the body when the body takes the ordinary path.
      parseBody(fetch, text) {
        const answer = fetch === undefined || !callsAreExact() ? undefined : host("json", fetch);
        if (answer === undefined || answer === null) return parse(text);
        let value = answer.value;
        const lists = answer.lists;
        for (let i = 0; i < lists.length; i++) {
          // Read by index: destructuring would call an iterator the script may have replaced.
          const path = lists[i][1];
          const array = standIn(lists[i][0], path, lists[i][2], text);
          if (path.length === 0) {
            value = array;
            continue;
          }
          let holder = value;
          for (let k = 0; k < path.length - 1; k++) holder = holder[path[k]];
          defineProperty(holder, path[path.length - 1], dataProperty(array));
        }
        return value;
      },

      // Records a stand-in holds, sent by the host when the script has not touched them: their
      // count, or -1 when the script's array is to be read as any other.
      sendUntouched(records) {
        const state = apply(weakMapGet, handlers, [records]);
        if (state === undefined || !state.untouched || !callsAreExact()) return -1;
        return host("emitFetched", state.number) ? state.count : -1;
      },
    });
  };
})(globalThis);
