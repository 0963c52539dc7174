# A debugging aid, not part of the build or of CI: patches pkg/brook_core.js (the browser
# glue that scripts/build.sh writes) so that every call into wasm is recorded in a ring
# (globalThis.__brookTrace; "name@2" = a call made while another wasm call was on the stack).
# After each outermost call it checks every live WasmLog's Rc box in wasm memory (RefCell flag
# at the object pointer, strong count 8 bytes before): a borrow left behind is reported as
# BROOKFAULT, and a call refused with wasm-bindgen's "recursive use of an object" as
# BROOKREFUSED (with the ring and stack), on the tab's console and in localStorage, which
# outlives the tab. Usage: python3 scripts/debug/trace-wasm-borrows.py pkg/brook_core.js
# (scripts/build.sh undoes it). Written to chase the Firefox-only refusal in the three-tab
# test of tests/browser/indexeddb.test.mjs.
import sys
p=sys.argv[1]
s=open(p).read()

def patch(old, new):
    # The glue of another wasm-bindgen version may differ: fail rather than trace half.
    global s
    assert old in s, f'not in {p}: {old[:60]!r}'
    s = s.replace(old, new)

patch('wasm = instance.exports;', r'''wasm = (() => {
  const raw = instance.exports; const w = {};
  const T = globalThis.__brookTrace = { logs: new Set(), ring: [], fault: null, depth: 0 };
  const look = (name, threw, args) => {
    if (T.fault !== null) return;
    const i32 = new Int32Array(raw.memory.buffer);
    for (const ptr of T.logs) {
      const flag = i32[ptr >>> 2], strong = i32[(ptr - 8) >>> 2];
      if (flag !== 0 || strong !== 1) {
        T.fault = { name, threw, ptr, flag, strong, args: args.map(String).join(','), ring: T.ring.slice(-40), stack: new Error().stack };
        console.error('BROOKFAULT ' + JSON.stringify(T.fault)); try { localStorage.setItem('BROOKFAULT-' + Math.random(), JSON.stringify(T.fault)); } catch {}
      }
    }
  };
  for (const k of Object.keys(raw)) {
    const v = raw[k];
    if (typeof v !== 'function') { Object.defineProperty(w, k, { get: () => raw[k] }); continue; }
    w[k] = function (...args) {
      T.depth++;
      // A borrow found before an outermost call began was left by something outside the
      // calls (JS writing into wasm memory); found only after, by the call itself.
      if (T.depth === 1) look('before ' + k, false, args);
      T.ring.push(k + (T.depth > 1 ? '@' + T.depth : ''));
      if (T.ring.length > 600) T.ring.splice(0, 300);
      let threw = true;
      try { const r = v.apply(this, args); threw = false; return r; }
      catch (e) {
        T.ring.push('THREW ' + k + ' ' + String(e && e.message).slice(0, 80));
        if (String(e && e.message).startsWith('recursive use')) {
          const refusal = { name: k, depth: T.depth, args: args.map(String).join(','), ring: T.ring.slice(-150), stack: new Error().stack };
          console.error('BROOKREFUSED ' + JSON.stringify(refusal)); try { localStorage.setItem('BROOKREFUSED-' + Math.random(), JSON.stringify(refusal)); } catch {}
        }
        throw e;
      }
      finally {
        T.depth--;
        if (k === '__wbg_wasmlog_free') for (const a of args) T.logs.delete(a >>> 0);
        if (T.depth === 0) look(k, threw, args);
      }
    };
  }
  return w;
})();''')
patch('''        const obj = Object.create(WasmLog.prototype);
        obj.__wbg_ptr = ptr;''','''        const obj = Object.create(WasmLog.prototype);
        obj.__wbg_ptr = ptr;
        globalThis.__brookTrace?.logs.add(ptr >>> 0);''')
patch('''    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_wasmlog_free(ptr, 0);''','''    free() {
        const ptr = this.__destroy_into_raw();
        globalThis.__brookTrace?.logs.delete(ptr >>> 0);
        wasm.__wbg_wasmlog_free(ptr, 0);''')

# Imports called during a wasm call are recorded too ("imp:name"), to see which one a nested
# call (a microtask or event Firefox ran inside the call) came from.
patch('''        "./brook_core_bg.js": import0,''', '''        "./brook_core_bg.js": (() => {
            for (const k of Object.keys(import0)) {
                const f = import0[k];
                if (typeof f !== 'function') continue;
                import0[k] = function (...args) {
                    const T = globalThis.__brookTrace;
                    if (T && T.depth > 0) { T.ring.push('imp:' + k.replace(/^__wbg_/, '').replace(/_[0-9a-f]{16}$/, '') + '@' + T.depth); if (T.ring.length > 600) T.ring.splice(0, 300); }
                    return f.apply(this, args);
                };
            }
            return import0;
        })(),''')
open(p,'w').write(s)
