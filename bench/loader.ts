/**
 * Data time versus step time for the 2-D loader.
 *
 * Loads ACDC volumes, preprocesses them to 128 × 128 slices, then measures
 *   1. the time to build one batch of 8 with the default augmentation on the main thread, and
 *   2. the consumer-visible wait per batch when the consumer spends a fixed simulated step time
 *      (a busy-wait, default 450 ms) between batches, with worker threads prefetching.
 * The target is a wait below 10% of the step.
 *
 * Run from a build (workers need compiled JavaScript):
 *   npx tsc -p tsconfig.build.json && node dist/bench/loader.js [--step-ms 450] [--cases 12] [--steps 12]
 * Data: $HMCSEG_DATA or ../shared/data relative to the working directory (the repo root).
 * Writes bench/results/loader.json.
 */
import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_AUGMENT } from '../src/data/augment.js';
import { loadCase, openDataset } from '../src/data/datasets.js';
import { createLoader, type Sample2D } from '../src/data/loader.js';
import { preprocessVolume } from '../src/data/preprocess.js';
import { writeFileAtomic } from '../src/util/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`bench/loader: --${name} must be a positive number`);
  return v;
}

const STEP_MS = arg('step-ms', 450);
const CASES = arg('cases', 12);
const STEPS = arg('steps', 12);
const BATCH = 8;
const SIZE = 128;

function stats(xs: number[]): { mean: number; median: number; p90: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, median: q(0.5), p90: q(0.9), max: s[s.length - 1] };
}

function busyWait(ms: number): void {
  const t0 = performance.now();
  while (performance.now() - t0 < ms);
}

const dataDir = resolve(process.env.HMCSEG_DATA ?? resolve(process.cwd(), '../shared/data'), 'acdc');
const ds = openDataset(dataDir, { requireLabels: true });
const samples: Sample2D[] = [];
const preprocessMs: number[] = [];
for (const ref of ds.cases.slice(0, CASES)) {
  const c = loadCase(ds, ref);
  const t0 = performance.now();
  const pre = preprocessVolume(c.image, { size: [SIZE, SIZE], source: ref.image }, c.labels?.data);
  preprocessMs.push(performance.now() - t0);
  const plane = SIZE * SIZE;
  for (let z = 0; z < pre.transform.nz; z++) {
    samples.push({
      image: pre.image.slice(z * plane, (z + 1) * plane),
      labels: (pre.labels as Uint8Array).slice(z * plane, (z + 1) * plane),
      labelled: c.labelled,
      id: `${ref.id} z=${z}`,
    });
  }
}

const base = { nx: SIZE, ny: SIZE, batchSize: BATCH, seed: 1, augment: DEFAULT_AUGMENT };

// 1. Batch production time, main thread.
const inline = createLoader(samples, { ...base, workers: 0 });
for (let i = 0; i < 3; i++) await inline.next();
const buildMs: number[] = [];
for (let i = 0; i < 30; i++) {
  const t0 = performance.now();
  await inline.next();
  buildMs.push(performance.now() - t0);
}
await inline.close();

// 2. Consumer-visible wait with a simulated training step.
interface WaitRow {
  workers: number;
  prefetch: number;
  firstBatchMs: number;
  wait: ReturnType<typeof stats>;
  waitFractionOfStep: number;
}
const waits: WaitRow[] = [];
for (const workers of [1, 2]) {
  const prefetch = 2;
  const t0 = performance.now();
  const loader = createLoader(samples, { ...base, workers, prefetch });
  await loader.next();
  const firstBatchMs = performance.now() - t0;
  const w: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    busyWait(STEP_MS);
    const t1 = performance.now();
    await loader.next();
    w.push(performance.now() - t1);
  }
  await loader.close();
  const s = stats(w);
  waits.push({ workers, prefetch, firstBatchMs, wait: s, waitFractionOfStep: s.mean / STEP_MS });
}

const build = stats(buildMs);
const fmt = (x: number): string => x.toFixed(2).padStart(8);
console.log(`loader bench: ${samples.length} slices from ${CASES} ACDC volumes, batch ${BATCH} × ${SIZE} × ${SIZE}, ` +
  `default augmentation, ${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(2)}`);
console.log(`preprocessVolume: mean ${stats(preprocessMs).mean.toFixed(1)} ms per volume`);
console.log('');
console.log('what                                   mean    median       p90       max   (ms)');
console.log(`build one batch, main thread      ${fmt(build.mean)}  ${fmt(build.median)}  ${fmt(build.p90)}  ${fmt(build.max)}`);
for (const r of waits) {
  console.log(
    `wait per batch, ${r.workers} worker(s), step ${STEP_MS} ${fmt(r.wait.mean)}  ${fmt(r.wait.median)}  ${fmt(r.wait.p90)}  ` +
      `${fmt(r.wait.max)}   = ${(100 * r.waitFractionOfStep).toFixed(2)}% of step (first batch ${r.firstBatchMs.toFixed(0)} ms)`,
  );
}

const result = {
  bench: 'loader',
  date: new Date().toISOString(),
  node: process.version,
  cpus: availableParallelism(),
  /** 1-minute load average at the end: other processes on a 2-core machine inflate the times. */
  loadAverage1m: loadavg()[0],
  data: { dir: dataDir, volumes: CASES, slices: samples.length },
  batch: { size: BATCH, nx: SIZE, ny: SIZE, augment: 'DEFAULT_AUGMENT' },
  preprocessVolumeMs: stats(preprocessMs),
  buildBatchMainThreadMs: build,
  stepMs: STEP_MS,
  steps: STEPS,
  consumerWait: waits,
  targetWaitFraction: 0.1,
  meetsTarget: waits.every((r) => r.waitFractionOfStep < 0.1),
};
writeFileAtomic(resolve(process.cwd(), 'bench/results/loader.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log('\nwrote bench/results/loader.json');
