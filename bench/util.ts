/** What the benchmarks share: timing, medians, the machine description, the repository root. */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from bench/ (tsx-free sources) or dist/bench/ (compiled). */
export const repoRoot = existsSync(join(here, '..', 'package.json')) ? resolve(here, '..') : resolve(here, '..', '..');

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Timing {
  medianMs: number;
  runsMs: number[];
}

/** Runs `fn` `warmup` times untimed, then `runs` times timed. */
export function timed(fn: () => void, warmup: number, runs: number): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    runsMs.push(performance.now() - t0);
  }
  return { medianMs: median(runsMs), runsMs };
}

export interface Machine {
  cpu: string;
  cores: number;
  /** The libtorch_cpu shared library this process loaded. */
  libtorch: string;
  libtorchVersion: string;
  node: string;
  openblasCoretype: string;
  loadAverage1m: number;
}

/** CPU model, cores, the libtorch actually loaded, Node version, load now. */
export function machine(): Machine {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const maps = existsSync('/proc/self/maps') ? readFileSync('/proc/self/maps', 'utf8') : '';
  const lib = /\s(\/\S*libtorch_cpu\.so\S*)$/m.exec(maps)?.[1];
  const libtorch = lib ? realpathSync(lib) : 'unknown';
  return {
    cpu,
    cores: availableParallelism(),
    libtorch,
    libtorchVersion: /\.so\.([\d.]+)$/.exec(libtorch)?.[1] ?? 'unknown',
    node: process.version,
    openblasCoretype: process.env.OPENBLAS_CORETYPE ?? '(unset)',
    loadAverage1m: loadavg()[0],
  };
}

/** `--name V` from the command line as an integer ≥ `min` (default 1), or `fallback` when absent. */
export function intArg(bench: string, name: string, fallback: number, min = 1): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min) throw new RangeError(`bench/${bench}: --${name} must be an integer ≥ ${min}`);
  return v;
}
