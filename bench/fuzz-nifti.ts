/**
 * NIfTI fuzzing, the full run: `--files` seeded mutants of real ACDC and EMIDEC files (see
 * bench/nifti-fuzz.ts for the mutations, the oracle and "silently wrong"), each through the image
 * reader (`hmcseg predict`'s), the label reader (`hmcseg evaluate`'s) and the training data
 * loading (openDataset + loadCase), and a seeded `--cli` subset through `hmcseg predict` (images)
 * or `hmcseg evaluate` (labels) as processes. Prints a tally per path and every finding; exits 1
 * when there is one (wrong, unnamed, crash, hang).
 *
 *   node dist/bench/fuzz-nifti.js [--files 1000] [--seed 1] [--cli 40] [--timeout 60] [--data DIR]
 *
 * The in-process checks run in a worker process watched by this one: a file that makes the worker
 * die is a crash, one that stalls it past `--timeout` seconds a hang; the worker then restarts
 * after that file.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ACDC_LABELS, applyLabelMap, loadCase, openDataset, readNiftiImage, readNiftiLabels, writeNifti, type Volume } from '../src/data/index.js';
import {
  checkPrediction,
  judge,
  judgeCli,
  mappedLabels,
  mutate,
  oracleRead,
  outcomeOf,
  rng,
  runCli,
  seedFrom,
  tinyStore,
  type FuzzSeed,
  type Judgement,
  type Verdict,
} from './nifti-fuzz.js';

const here = fileURLToPath(import.meta.url);
const CLI = resolve(here, '../../src/cli/main.js');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const files = Number(arg('files', '1000'));
const base = Number(arg('seed', '1'));
const cliCount = Number(arg('cli', '40'));
const timeoutS = Number(arg('timeout', '60'));
const dataRoot = resolve(arg('data', process.env.HMCSEG_DATA ?? resolve(here, '../../../../shared/data')));

/** Real seed files: [data set, case folder, image, label]. */
const SEED_CASES: readonly [string, string, string, string][] = [
  ['acdc', 'patient001', 'patient001_frame01.nii.gz', 'patient001_frame01_gt.nii.gz'],
  ['acdc', 'patient033', 'patient033_frame01.nii.gz', 'patient033_frame01_gt.nii.gz'],
  ['acdc', 'patient064', 'patient064_frame01.nii.gz', 'patient064_frame01_gt.nii.gz'],
  ['emidec', 'Case_N012', 'Case_N012.nii.gz', 'Case_N012_gt.nii.gz'],
  ['emidec', 'Case_P001', 'Case_P001.nii.gz', 'Case_P001_gt.nii.gz'],
];

interface SeedFile {
  readonly seed: FuzzSeed;
  readonly set: 'acdc' | 'emidec';
  readonly image: string;
  readonly labels: string;
}

function seedFiles(): SeedFile[] {
  const out: SeedFile[] = [];
  for (const [set, dir, image, labels] of SEED_CASES) {
    const img = join(dataRoot, set, dir, image);
    const lab = join(dataRoot, set, dir, labels);
    if (!existsSync(img) || !existsSync(lab)) throw new Error(`fuzz-nifti: ${img} or ${lab} missing (pass --data DIR, the folder holding acdc/ and emidec/)`);
    const s = set as 'acdc' | 'emidec';
    out.push({ seed: seedFrom(`${set} ${image}`, readFileSync(img), false), set: s, image: img, labels: lab });
    out.push({ seed: seedFrom(`${set} ${labels}`, readFileSync(lab), true), set: s, image: img, labels: lab });
  }
  return out;
}

interface FileResult {
  readonly i: number;
  readonly description: string;
  readonly kind: string;
  readonly paths: Record<string, Judgement>;
}

// ---------------------------------------------------------------------------------------------
// Worker: files [from, to) in process, one JSON line each.

function worker(from: number, to: number, dir: string): void {
  const seeds = seedFiles();
  const ds = join(dir, `ds-${from}`);
  for (const set of ['acdc', 'emidec'] as const) mkdirSync(join(ds, set, 'case'), { recursive: true });
  for (let i = from; i < to; i++) {
    const s = seeds[i % seeds.length];
    const m = mutate(s.seed, base * 1_000_003 + i);
    const path = join(dir, `w-${i}.nii${m.gz ? '.gz' : ''}`);
    writeFileSync(path, m.bytes);
    const asLabels = oracleRead(m.bytes, true);
    const paths: Record<string, Judgement> = {
      image: judge(outcomeOf(() => readNiftiImage(path)), oracleRead(m.bytes), path),
      labels: judge(outcomeOf(() => readNiftiLabels(path)), asLabels, path),
    };
    rmSync(path);
    // Training: a one-case folder data set with this file as its image or its labels.
    const root = join(ds, s.set);
    const image = join(root, 'case/case.nii.gz');
    const gt = join(root, 'case/case_gt.nii.gz');
    copyFileSync(s.image, image);
    copyFileSync(s.labels, gt);
    const target = s.seed.labels ? gt : image;
    writeFileSync(target, m.bytes);
    let training: Judgement;
    try {
      const dataset = openDataset(root, { labels: s.set, requireLabels: true });
      const loaded = outcomeOf(() => {
        const c = loadCase(dataset, dataset.cases[0]);
        return s.seed.labels ? c.labels! : c.image;
      });
      training = judge(loaded, s.seed.labels ? mappedLabels(asLabels, dataset.labelMap) : oracleRead(m.bytes), target);
    } catch (err) {
      training = judge({ loaded: false, message: String((err as Error).message) }, oracleRead(m.bytes, s.seed.labels), target);
    }
    paths.training = training;
    const r: FileResult = { i, description: m.description, kind: m.kind, paths };
    process.stdout.write(JSON.stringify(r) + '\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Coordinator

/** Runs the worker over [from, files), restarting it after a file that kills or stalls it. */
async function inProcess(dir: string, results: FileResult[]): Promise<void> {
  let next = 0;
  while (next < files) {
    const from = next;
    const child = spawn(process.execPath, [here, '--worker', String(from), '--files', String(files), '--seed', String(base), '--data', dataRoot, '--dir', dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let timer: NodeJS.Timeout | undefined;
    let stalled = false;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => ((stalled = true), child.kill('SIGKILL')), timeoutS * 1000);
    };
    arm();
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const r = JSON.parse(line) as FileResult;
      results.push(r);
      next = r.i + 1;
      arm();
      if (results.length % 100 === 0) process.stderr.write(`fuzz-nifti: ${results.length}/${files} in process\n`);
    });
    const exit = await new Promise<{ code: number | null; signal: string | null }>((done) => child.on('close', (code, signal) => done({ code, signal })));
    clearTimeout(timer);
    if (exit.code === 0 && next >= files) break;
    // The file after the last reported one killed or stalled the worker.
    const verdict: Verdict = stalled ? 'hang' : 'crash';
    const j: Judgement = { verdict, detail: `worker ${stalled ? `stalled > ${timeoutS} s` : `exit ${exit.code}, signal ${exit.signal}`}` };
    results.push({ i: next, description: `file ${next}`, kind: '?', paths: { image: j, labels: j, training: j } });
    next += 1;
  }
}

function throughCli(dir: string, results: FileResult[]): void {
  if (cliCount <= 0) return;
  const seeds = seedFiles();
  const store = tinyStore(CLI, join(dir, 'tiny'));
  const pick = rng(base);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(cliCount, files)) chosen.add(pick.int(files));
  const truth = (s: SeedFile): Volume<Uint8Array> => {
    const v = readNiftiLabels(s.labels);
    return { ...v, data: applyLabelMap(v.data, s.set === 'acdc' ? ACDC_LABELS : openDataset(join(dataRoot, 'emidec'), { labels: 'emidec' }).labelMap, s.labels) };
  };
  let done = 0;
  for (const i of [...chosen].sort((a, b) => a - b)) {
    const s = seeds[i % seeds.length];
    const m = mutate(s.seed, base * 1_000_003 + i);
    const root = join(dir, `cli-${i}`);
    mkdirSync(root, { recursive: true });
    let j: Judgement;
    let path: string;
    if (!s.seed.labels) {
      const input = join(root, `in.nii${m.gz ? '.gz' : ''}`);
      writeFileSync(input, m.bytes);
      const oracle = oracleRead(m.bytes);
      const out = join(root, 'out');
      const run = runCli(CLI, ['predict', '--model', store, '--input', input, '--out', out], timeoutS * 1000);
      j = judgeCli(run, oracle, input, () => (oracle.ok ? checkPrediction(out, 'in', oracle.volume) : 'oracle rejects'));
      path = 'cli predict';
    } else {
      mkdirSync(join(root, 'gt/case'), { recursive: true });
      copyFileSync(s.image, join(root, 'gt/case/case.nii.gz'));
      const gt = join(root, 'gt/case/case_gt.nii.gz');
      writeFileSync(gt, m.bytes);
      writeNifti(join(root, 'pred/case_seg.nii.gz'), truth(s));
      const out = join(root, 'eval.json');
      const run = runCli(CLI, ['evaluate', '--pred', join(root, 'pred'), '--gt', join(root, 'gt'), '--labels', s.set, '--out', out], timeoutS * 1000);
      const map = s.set === 'acdc' ? ACDC_LABELS : openDataset(join(dataRoot, 'emidec'), { labels: 'emidec' }).labelMap;
      j = judgeCli(run, mappedLabels(oracleRead(m.bytes, true), map), gt, () => (/"dice"/.test(readFileSync(out, 'utf8')) ? null : 'eval.json without Dice'));
      path = 'cli evaluate';
    }
    rmSync(root, { recursive: true, force: true });
    const r = results.find((x) => x.i === i);
    if (r) r.paths[path] = j;
    done++;
    if (done % 10 === 0) process.stderr.write(`fuzz-nifti: ${done}/${chosen.size} through the CLI\n`);
  }
}

async function main(): Promise<void> {
  const w = process.argv.indexOf('--worker');
  if (w >= 0) {
    worker(Number(process.argv[w + 1]), files, arg('dir', tmpdir()));
    return;
  }
  seedFiles(); // fail early, naming what is missing
  const dir = mkdtempSync(join(tmpdir(), 'hmcseg-fuzz-nifti-'));
  const started = performance.now();
  const results: FileResult[] = [];
  try {
    await inProcess(dir, results);
    throughCli(dir, results);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const tally: Record<string, Record<string, number>> = {};
  const kinds: Record<string, number> = {};
  const findings: string[] = [];
  for (const r of results) {
    kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
    for (const [path, j] of Object.entries(r.paths)) {
      tally[path] ??= {};
      tally[path][j.verdict] = (tally[path][j.verdict] ?? 0) + 1;
      if (!['loaded', 'rejected', 'stricter'].includes(j.verdict)) findings.push(`${path}: ${r.description}: ${j.verdict}: ${j.detail ?? ''}`);
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`fuzz-nifti: ${results.length} files (seed ${base}), ${seconds} s; mutation kinds ${JSON.stringify(kinds)}`);
  for (const [path, t] of Object.entries(tally)) console.log(`  ${path.padEnd(13)} ${JSON.stringify(t)}`);
  console.log(`findings (wrong, unnamed, crash, hang): ${findings.length}`);
  for (const f of findings) console.log(`  ${f}`);
  if (findings.length > 0) process.exitCode = 1;
}

await main();
