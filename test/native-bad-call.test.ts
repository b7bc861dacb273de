/**
 * BAD CALL tests (onnxruntime style) for every function of the native addon, in a child process:
 * an abort (std::terminate, a segfault) fails the test with the call that caused it instead of
 * killing the vitest worker. The functions and their parameters come from the `Binding` interface
 * (src/engine/binding.ts), and the test checks that it lists exactly what the addon exports.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Call {
  op: string;
  kind: string;
  arg: number;
  started?: boolean;
  outcome?: 'returned' | 'threw';
  name?: string;
  message?: string;
}

/** Runs the child script and returns its records; the exit status and the last call attempted. */
function runChild(script: string): { status: number | null; signal: string | null; lines: unknown[]; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'test', 'helpers', script)], { encoding: 'utf8', timeout: 120_000 });
  const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
  return { status: r.status, signal: r.signal, lines, stderr: r.stderr };
}

describe('BAD CALL - every native entry point, in a child process', () => {
  let run: ReturnType<typeof runChild>;
  let calls: Call[];
  beforeAll(() => {
    run = runChild('native-bad-calls.mjs');
    calls = (run.lines as Call[]).filter((c) => typeof c.op === 'string' && c.outcome !== undefined);
  });

  it('the child finishes: no abort, no signal', () => {
    const started = (run.lines as Call[]).filter((c) => c.started);
    const last = started[started.length - 1];
    expect(
      { status: run.status, signal: run.signal, done: (run.lines[run.lines.length - 1] as { done?: boolean }).done },
      `last call attempted: ${JSON.stringify(last)}; stderr: ${run.stderr.slice(-500)}`,
    ).toEqual({ status: 0, signal: null, done: true });
    expect(started.length).toBe(calls.length);
    expect(calls.length).toBeGreaterThan(1000);
  });

  it('the Binding interface lists exactly the functions the addon exports', () => {
    const { exported, declared } = run.lines[0] as { exported: string[]; declared: string[] };
    expect(exported.filter((n) => n !== 'NativeTensor')).toEqual(declared);
    expect(declared.length).toBeGreaterThan(100);
  });

  it('every failed call throws a JS Error (never a non-Error, never an empty message)', () => {
    const odd = calls.filter((c) => c.outcome === 'threw' && !['Error', 'TypeError', 'RangeError'].includes(c.name ?? ''));
    expect(odd).toEqual([]);
    expect(calls.filter((c) => c.outcome === 'threw' && !c.message)).toEqual([]);
  });

  it('no arguments: a TypeError naming a missing argument (functions with a required parameter)', () => {
    const noArgs = calls.filter((c) => c.kind === 'no-arguments');
    // Getters without parameters; generatorGetState() without an id reads the global generator.
    const nullary = ['isGradEnabled', 'liveTensors', 'getNumThreads', 'cudaDeviceCount', 'cudaBuilt', 'generatorGetState', 'distBackends'];
    expect(noArgs.filter((c) => c.outcome === 'returned').map((c) => c.op)).toEqual(nullary);
    // C++ reads a call's arguments in an unspecified order, so the one named need not be the first.
    const bad = noArgs.filter((c) => c.outcome === 'threw' && (c.name !== 'TypeError' || !new RegExp(`^${c.op}: argument \\d+ `).test(c.message ?? '')));
    expect(bad).toEqual([]);
  });

  const named = (kind: string, text: RegExp) => () => {
    const cases = calls.filter((c) => c.kind === kind);
    expect(cases.length).toBeGreaterThan(0);
    const bad = cases.filter(
      (c) => c.name !== 'TypeError' || !c.message?.startsWith(`${c.op}: argument ${c.arg} `) || !text.test(c.message),
    );
    expect(bad).toEqual([]);
  };

  it('a wrong type in any position: a TypeError naming that argument', named('wrong-type', /must be|is not/));
  it('an empty handle (new NativeTensor()): a TypeError naming the argument', named('empty-handle', /empty tensor handle/));
  it('a disposed handle: a TypeError naming the argument', named('disposed-handle', /disposed/));
  it('a plain object where a tensor goes: a TypeError naming the argument', named('plain-object', /must be a Tensor|must be a number/));
  it('a non-number element in an integer list: a TypeError naming the argument', named('wrong-element', /element 1 is not a number/));

  it('NaN, Infinity and 1e300 as numbers: a JS error or a result, never an abort', () => {
    const cases = calls.filter((c) => c.kind.startsWith('number-'));
    expect(cases.length).toBeGreaterThan(100);
    // Integer parameters reject all three by name.
    const ints = cases.filter((c) => c.outcome === 'threw' && /must be an integer/.test(c.message ?? ''));
    expect(ints.every((c) => c.name === 'TypeError' && c.message!.startsWith(`${c.op}: argument ${c.arg} `))).toBe(true);
    expect(ints.length).toBeGreaterThan(30);
  });

  it('extra empty and disposed handles in a failing call are described, not dereferenced', () => {
    const cases = calls.filter((c) => c.kind === 'extra-empty-handle');
    expect(cases.length).toBe((run.lines[0] as { declared: string[] }).declared.length);
    const described = cases.filter((c) => / failed for inputs .*<empty>, <disposed>, \(<empty>\)/.test(c.message ?? ''));
    expect(described.length, 'ops whose libtorch error lists the extra handles').toBeGreaterThan(5);
  });

  it('the handle class: no call without new; dispose and isDisposed on foreign objects are harmless', () => {
    const own = calls.filter((c) => c.op === 'NativeTensor');
    expect(own.map((c) => [c.kind, c.outcome, c.name])).toEqual([
      ['call-without-new', 'threw', 'TypeError'],
      ['dispose-on-non-handle', 'returned', undefined],
      ['isDisposed-on-number', 'returned', undefined],
      ['dispose-twice', 'returned', undefined],
    ]);
  });
});

describe('EXPECTED FAILURE - the error path with an empty handle (aborted the process before)', () => {
  it('matmul(a, b, new NativeTensor()) throws the libtorch error, naming the extra handle <empty>', () => {
    const script = `
      const native = require(${JSON.stringify(join(repoRoot, 'build', 'Release', 'hmcseg_native.node'))});
      try {
        native.matmul(native.zeros([2, 3]), native.zeros([2, 3]), new native.NativeTensor());
        console.log('returned');
      } catch (err) {
        console.log(err.constructor.name + ': ' + err.message);
      }`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.stdout.trim()).toMatch(
      /^Error: matmul failed for inputs \[2,3\] Float, \[2,3\] Float, <empty>: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)$/,
    );
  });

  it('an empty handle as an operand is a TypeError naming it', () => {
    const script = `
      const native = require(${JSON.stringify(join(repoRoot, 'build', 'Release', 'hmcseg_native.node'))});
      try { native.add(native.zeros([2]), new native.NativeTensor()); } catch (err) { console.log(err.constructor.name + ': ' + err.message); }`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('TypeError: add: argument 1 is an empty tensor handle (made by new NativeTensor(), not by an op)');
  });
});
