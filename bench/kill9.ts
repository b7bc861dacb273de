/**
 * kill -9 at seeded points of real `hmcseg train` runs: every resume must end bit-identical to the
 * uninterrupted run (every sample file byte for byte) with each step once in `train.jsonl`, and the
 * store left by the kill must open with every listed sample's checksum good.
 *
 * Three runs, each the training defaults (deterministic on, one augmentation worker, checkpointEvery
 * 50, augmentation on, SGHMC defaults M = 1, β = 0.25, S = 3, T = 0.01, ...) except what
 * {@link KILL_SHRINK} lists (a tiny network and size, few steps, one thread so that two runs can
 * share a loaded machine):
 *   - `defaults`: method hmc;
 *   - `bnBatches`: hmc with `bnBatches: 2` (each sample's BatchNorm statistics recomputed);
 *   - `ensemble`: 2 members.
 *
 * A kill point is a seeded line count of `train.jsonl` plus a seeded sub-delay (0–15 ms). The line
 * counts are drawn so that a third land on a checkpoint step (the kill lands during or just after
 * its write), a third on the step before a sample step (during or just before the sample write)
 * and a third anywhere (mid-step). Whether a kill cut an atomic write short shows as a left-over
 * temporary file, counted in the tally.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/kill9.js [--count 20] [--seed 1] [--runs defaults,bnBatches,ensemble]
 *
 * Writes bench/results/kill9.json (the tally per run and every kill point).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSample, openSampleStore, type Method } from '../src/bayes/index.js';
import { makeSplits, openDataset, writePhantomDataset, writeSplits } from '../src/data/index.js';
import { methodFromConfig, parseTrainConfig, type TrainConfigInput } from '../src/train/index.js';
import { Rng, writeFileAtomic } from '../src/util/index.js';
import { intArg, machine, repoRoot } from './util.js';

/** The fields changed from the training defaults, in every run. */
export const KILL_SHRINK = {
  seed: 3,
  threads: 1,
  data: { size: 32, batchSize: 2 },
  model: { depth: 2, baseWidth: 4 },
  optim: { steps: 120 },
} as const satisfies TrainConfigInput;

export interface KillRun {
  readonly name: string;
  readonly method: Method;
  readonly config: TrainConfigInput;
}

export const KILL_RUNS: readonly KillRun[] = [
  { name: 'defaults', method: 'hmc', config: KILL_SHRINK },
  { name: 'bnBatches', method: 'hmc', config: { ...KILL_SHRINK, bnBatches: 2 } },
  { name: 'ensemble', method: 'ensemble', config: { ...KILL_SHRINK, ensemble: { members: 2 } } },
];

export interface KillPoint {
  /** Kill once `train.jsonl` has this many lines... */
  readonly lines: number;
  /** ...and this many milliseconds more. */
  readonly delayMs: number;
  /** Why this line count: a checkpoint step, the step before a sample step, or any. */
  readonly aim: 'checkpoint' | 'sample' | 'mid-step';
}

/** `count` seeded kill points of `run`, spread over checkpoint writes, sample writes and steps. */
export function killPoints(run: KillRun, count: number, seed: number): KillPoint[] {
  const config = parseTrainConfig(run.config);
  const method = methodFromConfig(run.method, config);
  const K = config.optim.steps;
  const total = K * method.members;
  const all = Array.from({ length: total }, (_, i) => i + 1);
  // Line n is step (n - 1) % K + 1 of its member; its checkpoint follows it, a sample precedes it.
  const stepOf = (n: number) => ((n - 1) % K) + 1;
  const ckpt = all.filter((n) => stepOf(n) % config.checkpointEvery === 0 && n < total);
  const sample = all.filter((n) => method.isSampleStep(stepOf(n)) && stepOf(n) < K);
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const aim = (['checkpoint', 'sample', 'mid-step'] as const)[i % 3];
    const pool = aim === 'checkpoint' ? ckpt : aim === 'sample' ? sample : all.slice(0, -1);
    return { lines: pool[rng.int(pool.length)], delayMs: rng.int(16), aim };
  });
}

/** A phantom data set, its splits, and one config file per run, under `root`. */
export function prepareKillData(root: string): { data: string; splits: string } {
  const data = join(root, 'phantom');
  writePhantomDataset({ out: data, cases: 4, contrast: 'ssfp', seed: 2, size: 32, slices: 3 });
  const splits = join(root, 'splits.json');
  writeSplits(splits, makeSplits(openDataset(data), { seed: 0, fractions: { train: 0.5, val: 0.25, test: 0.25 } }));
  return { data, splits };
}

const CLI = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function lineCount(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'utf8');
  let n = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Runs the CLI with `args`; with `kill`, sends SIGKILL at that point (polling the log every 2 ms). */
export function runCli(args: readonly string[], kill?: { log: string; point: KillPoint }): Promise<Exit> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.build.json)`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    let timer: NodeJS.Timeout | undefined;
    if (kill) {
      timer = setInterval(() => {
        if (lineCount(kill.log) < kill.point.lines) return;
        clearInterval(timer);
        setTimeout(() => child.kill('SIGKILL'), kill.point.delayMs);
      }, 2);
    }
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      done({ code, signal, stderr });
    });
  });
}

function trainArgs(run: KillRun, data: string, splits: string, out: string, configPath: string): string[] {
  return ['train', '--method', run.method, '--data', data, '--splits', splits, '--out', out, '--config', configPath];
}

/** The bytes of every sample file of the store in `dir`, in manifest order. */
export function sampleBytes(dir: string): Buffer[] {
  return openSampleStore(dir).manifest.samples.map((s) => readFileSync(join(dir, s.file)));
}

/** Opens the store in `dir` and loads every listed sample (checksums checked); returns how many. */
export function checkStore(dir: string): number {
  const store = openSampleStore(dir);
  for (let i = 0; i < store.manifest.samples.length; i++) {
    for (const t of Object.values(loadSample(store, i))) t.dispose();
  }
  return store.manifest.samples.length;
}

/** Whether the log in `out` holds steps 1..K of every member once, in order (events aside). */
export function logHoldsEachStepOnce(out: string, members: number, K: number): boolean {
  const lines = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const steps = lines.filter((l) => l.event === undefined).map((l) => `${l.member}:${l.step}`);
  const want = Array.from({ length: members * K }, (_, i) => `${Math.floor(i / K)}:${(i % K) + 1}`);
  return steps.length === want.length && steps.every((s, i) => s === want[i]);
}

/** Temporary files of atomic writes left under `dir` (a write cut short by the kill). */
function leftoverTemps(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name.endsWith('.tmp')) n++;
  return n;
}

export interface KillTrial {
  readonly point: KillPoint;
  /** Lines in the log when the process died. */
  readonly killedAtLines: number;
  /** The child died by SIGKILL (false: it finished first). */
  readonly killed: boolean;
  /** Samples listed, all with good checksums, right after the kill. */
  readonly samplesAfterKill: number;
  readonly tempFilesLeft: number;
  /** Temporary files still there after the resume (it removes those of dead processes). */
  readonly tempFilesAfterResume: number;
  readonly resumeExit: number | null;
  readonly identical: boolean;
  readonly logOnce: boolean;
  readonly error?: string;
}

/** The reference run of `run` (uninterrupted) into `dir`: the bytes of its samples. */
export async function referenceRun(run: KillRun, data: string, splits: string, dir: string): Promise<Buffer[]> {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, '..', `${run.name}.config.json`);
  writeFileSync(configPath, JSON.stringify(run.config));
  const out = join(dir, 'store');
  const r = await runCli(trainArgs(run, data, splits, out, configPath));
  if (r.code !== 0) throw new Error(`kill9 ${run.name}: the reference run exited ${r.code}: ${r.stderr}`);
  return sampleBytes(out);
}

/** One kill at `point` of a fresh run into `out`, then a resume, compared with `reference`. */
export async function killTrial(run: KillRun, data: string, splits: string, out: string, point: KillPoint, reference: Buffer[]): Promise<KillTrial> {
  const config = parseTrainConfig(run.config);
  const members = methodFromConfig(run.method, config).members;
  const configPath = join(out, '..', `${run.name}.config.json`);
  writeFileSync(configPath, JSON.stringify(run.config));
  const log = join(out, 'train.jsonl');
  const exit = await runCli(trainArgs(run, data, splits, out, configPath), { log, point });
  const base = { point, killedAtLines: lineCount(log), killed: exit.signal === 'SIGKILL' };
  let samplesAfterKill = -1;
  let tempFilesLeft = 0;
  try {
    if (!base.killed && exit.code !== 0) throw new Error(`train exited ${exit.code}: ${exit.stderr.trim()}`);
    samplesAfterKill = checkStore(out);
    tempFilesLeft = leftoverTemps(out);
    const r = await runCli(['train', '--resume', out]);
    if (r.code !== 0) throw new Error(`resume exited ${r.code}: ${r.stderr.trim()}`);
    const b = sampleBytes(out);
    const identical = b.length === reference.length && b.every((x, i) => x.equals(reference[i]));
    const logOnce = logHoldsEachStepOnce(out, members, config.optim.steps);
    return { ...base, samplesAfterKill, tempFilesLeft, tempFilesAfterResume: leftoverTemps(out), resumeExit: r.code, identical, logOnce };
  } catch (err) {
    return { ...base, samplesAfterKill, tempFilesLeft, tempFilesAfterResume: -1, resumeExit: null, identical: false, logOnce: false, error: (err as Error).message };
  }
}

async function main(): Promise<void> {
  const count = intArg('kill9', 'count', 20);
  const seed = intArg('kill9', 'seed', 1, 0);
  const r = process.argv.indexOf('--runs');
  const names = r < 0 ? KILL_RUNS.map((x) => x.name) : (process.argv[r + 1] ?? '').split(',');
  const runs = names.map((n) => {
    const r = KILL_RUNS.find((x) => x.name === n);
    if (!r) throw new RangeError(`bench/kill9: --runs: no run '${n}' (runs: ${KILL_RUNS.map((x) => x.name).join(', ')})`);
    return r;
  });
  const root = mkdtempSync(join(tmpdir(), 'hmcseg-kill9-'));
  const t0 = performance.now();
  try {
    const { data, splits } = prepareKillData(root);
    const results = [];
    for (const run of runs) {
      const dir = join(root, run.name);
      const reference = await referenceRun(run, data, splits, join(dir, 'reference'));
      const trials: KillTrial[] = [];
      for (const [i, point] of killPoints(run, count, seed).entries()) {
        const t = await killTrial(run, data, splits, join(dir, `kill-${i}`), point, reference);
        trials.push(t);
        rmSync(join(dir, `kill-${i}`), { recursive: true, force: true });
        process.stdout.write(
          `${run.name} #${i + 1}: ${point.aim} at line ${point.lines} +${point.delayMs} ms -> died at ${t.killedAtLines} lines` +
            `${t.killed ? '' : ' (finished first)'}, ${t.samplesAfterKill} samples ok, ${t.tempFilesLeft} tmp left, ` +
            `identical ${t.identical}, log once ${t.logOnce}, ${t.tempFilesAfterResume} tmp after resume${t.error ? `, ERROR ${t.error}` : ''}\n`,
        );
      }
      const ok = trials.filter((t) => t.identical && t.logOnce && t.tempFilesAfterResume === 0).length;
      results.push({
        run: run.name,
        method: run.method,
        config: run.config,
        referenceSamples: reference.length,
        kills: trials.filter((t) => t.killed).length,
        identicalLogOnceNoTemps: ok,
        of: trials.length,
        tempFilesLeftInKills: trials.filter((t) => t.tempFilesLeft > 0).length,
        trials,
      });
      process.stdout.write(`${run.name}: ${ok}/${trials.length} resumes bit-identical, each step logged once, no temporary file left\n`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const out = {
      date: new Date().toISOString(),
      command: `node dist/bench/kill9.js --count ${count} --seed ${seed} --runs ${names.join(',')}`,
      shrunkFromDefaults: KILL_SHRINK,
      seconds,
      machine: machine(),
      results,
    };
    const path = join(repoRoot, 'bench', 'results', 'kill9.json');
    writeFileAtomic(path, `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`tally: ${results.map((r) => `${r.run} ${r.identicalLogOnceNoTemps}/${r.of}`).join(', ')} (${seconds.toFixed(0)} s) -> ${path}\n`);
    if (results.some((r) => r.identicalLogOnceNoTemps < r.of)) process.exitCode = 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
