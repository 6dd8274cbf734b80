// expect: the script threw Error: the real failure
// A forged __manifold whose finish() reports success would swallow the script's own error.
const forged = Object.freeze({
  start() {}, nextTimerDelay() { return null; }, runNextTimer() {}, finish() {},
});
try { globalThis.__manifold = forged; } catch (e) {}
try { Object.defineProperty(globalThis, "__manifold", { value: forged }); } catch (e) {}
try { delete globalThis.__manifold; } catch (e) {}
try { __manifold.finish = forged.finish; } catch (e) {}
try { Object.setPrototypeOf(__manifold, forged); } catch (e) {}
throw new Error("the real failure");
