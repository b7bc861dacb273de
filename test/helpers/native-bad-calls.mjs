// Child process of test/native-bad-call.test.ts: calls every function of the native addon with
// wrong arity, wrong types, empty and disposed handles, and prints one JSON line per call (written
// synchronously, so a native abort leaves the last call that was attempted in the output). The
// parameter list of each function is read from the `Binding` interface in src/engine/binding.ts.
import { readFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const native = createRequire(import.meta.url)(join(root, 'build', 'Release', 'hmcseg_native.node'));

/** `name(a: T, b?: number): R;` entries of the Binding interface → {name, params: [{name, type, optional}]}. */
export function bindingSignatures(source) {
  const body = source.slice(source.indexOf('export interface Binding {'));
  const text = body.slice(0, body.indexOf('\n}\n')).replace(/\/\/.*$/gm, '');
  const out = [];
  for (const m of text.matchAll(/^\s*(\w+)\(([^)]*)\):/gm)) {
    const params = m[2]
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => {
        const [, name, q, type] = /^(\w+)(\??):\s*(.+)$/.exec(p);
        return { name, type: type.trim(), optional: q === '?' || type.startsWith('Opt<') };
      });
    out.push({ name: m[1], params });
  }
  return out;
}

/** A free loopback port (for the one-rank process group the dist* calls are given). */
const freePort = () =>
  new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });

/** A live process group of one (Gloo), so that the dist* calls get past their group id; -1 without Gloo. */
const group = native.distBackends().includes('gloo')
  ? native.distNewGroup('gloo', '127.0.0.1', await freePort(), 0, 1, 5000, 5000, '127.0.0.1', '')
  : -1;

const sigs = bindingSignatures(readFileSync(join(root, 'src', 'engine', 'binding.ts'), 'utf8'));

const tensor = () => native.zeros([1, 1, 4, 4]);
const empty = () => new native.NativeTensor();
const disposed = () => {
  const t = native.zeros([2]);
  t.dispose();
  return t;
};

/** A value of the declared type that the addon's argument reading accepts. */
function valid(op, p) {
  if (op === 'backward' && p.name === 't') {
    const leaf = native.zeros([1]);
    native.setRequiresGrad(leaf, true);
    return native.sum(leaf); // a scalar with a graph
  }
  if (p.type === 'T' || p.type === 'Opt<T>' || p.type === 'Operand') return tensor();
  if (p.type === 'T[]') return [tensor(), tensor()];
  if (p.type === 'number[]') return [1, 1]; // interpolate's size is [height, width]
  if (p.type === 'ArrayBufferView') return new Float32Array(1);
  if (p.type === 'boolean' || p.type === 'number | boolean') return false;
  if (p.type === 'string') {
    if (p.name === 'device') return 'cpu';
    return { pad: 'constant', interpolate: 'nearest', gelu: 'none', crossEntropy: 'mean' }[op] ?? 'cpu';
  }
  if (p.name === 'id' && op.startsWith('dist')) return group;
  if (p.name === 'root') return 0;
  if (p.name === 'gen' || p.name === 'id') return -1;
  if (p.name === 'dtype') return 0;
  return 1;
}

/** A value of the wrong type for the parameter. */
const wrong = (p) => (p.type === 'string' ? 42 : p.type === 'boolean' ? 'yes' : 'not-a-value');

function emit(record) {
  writeSync(1, JSON.stringify(record) + '\n');
}

function attempt(op, kind, arg, fn) {
  emit({ op, kind, arg, started: true });
  try {
    fn();
    emit({ op, kind, arg, outcome: 'returned' });
  } catch (err) {
    emit({ op, kind, arg, outcome: 'threw', name: err?.constructor?.name, message: String(err?.message) });
  }
}

emit({ exported: Object.keys(native).sort(), declared: sigs.map((s) => s.name).sort() });

for (const { name: op, params } of sigs) {
  const fn = native[op];
  const args = () => params.map((p) => valid(op, p));
  attempt(op, 'no-arguments', -1, () => fn());
  params.forEach((p, i) => {
    attempt(op, 'wrong-type', i, () => fn(...args().map((v, k) => (k === i ? wrong(p) : v))));
    if (p.type === 'number') {
      for (const x of [Number.NaN, Number.POSITIVE_INFINITY, 1e300]) {
        attempt(op, `number-${x}`, i, () => fn(...args().map((v, k) => (k === i ? x : v))));
      }
    }
    if (p.type === 'number[]') {
      attempt(op, 'wrong-element', i, () => fn(...args().map((v, k) => (k === i ? [1, 'x'] : v))));
    }
    if (['T', 'Opt<T>', 'Operand'].includes(p.type)) {
      attempt(op, 'empty-handle', i, () => fn(...args().map((v, k) => (k === i ? empty() : v))));
      attempt(op, 'disposed-handle', i, () => fn(...args().map((v, k) => (k === i ? disposed() : v))));
      attempt(op, 'plain-object', i, () => fn(...args().map((v, k) => (k === i ? { dispose() {} } : v))));
    }
    if (p.type === 'T[]') {
      attempt(op, 'empty-handle', i, () => fn(...args().map((v, k) => (k === i ? [tensor(), empty()] : v))));
      attempt(op, 'disposed-handle', i, () => fn(...args().map((v, k) => (k === i ? [disposed()] : v))));
    }
  });
  // Extra arguments are ignored, but the error path describes them: an empty or disposed handle
  // there must not make the error handler itself throw (that aborted the process).
  attempt(op, 'extra-empty-handle', params.length, () => fn(...args(), empty(), disposed(), [empty()]));
}

// The handle class itself.
attempt('NativeTensor', 'call-without-new', -1, () => native.NativeTensor());
attempt('NativeTensor', 'dispose-on-non-handle', -1, () => native.NativeTensor.prototype.dispose.call({}));
attempt('NativeTensor', 'isDisposed-on-number', -1, () => native.NativeTensor.prototype.isDisposed.call(5));
attempt('NativeTensor', 'dispose-twice', -1, () => {
  const t = native.zeros([1]);
  t.dispose();
  t.dispose();
});
emit({ done: true });
