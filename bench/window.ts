/**
 * Cost of whole-image prediction: the same K = 3 weight samples predict ACDC-size volumes
 * (216 × 256 in-plane) from a store recorded with `window: 'centre'` (one 128 × 128 crop per slice,
 * as before) and one with `window: 'sliding'` (3 × 3 Gaussian-weighted windows of 128 at 50 %
 * overlap per slice). The two are timed in alternation, so machine load hits both alike; the load
 * average is recorded. Random weights: the cost does not depend on them.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/window.js [--threads 2] [--runs 3] [--slices 4]
 *
 * Writes bench/results/window.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setNumThreads } from '../src/engine/index.js';
import type { UNetConfig } from '../src/models/index.js';
import { Predictor } from '../src/predict/index.js';
import { Rng, writeFileAtomic } from '../src/util/index.js';
import { randomStore } from './random-store.js';
import { machine, median, repoRoot } from './util.js';

const { values } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, runs: { type: 'string', default: '3' }, slices: { type: 'string', default: '4' } },
});
const threads = Number(values.threads);
const runs = Number(values.runs);
const nz = Number(values.slices);
const K = 3;
const [nx, ny, size] = [216, 256, 128];
setNumThreads(threads);

const config: UNetConfig = { inChannels: 1, numClasses: 4, depth: 4, baseWidth: 16, norm: 'batch', dropout: 0, dropoutPlacement: 'bottleneck', seed: 0 };
const root = mkdtempSync(join(tmpdir(), 'hmcseg-bench-window-'));

const makeStore = (window: 'centre' | 'sliding'): string => randomStore(join(root, window), config, K, { size, targetSpacing: null, window });

try {
  const rng = new Rng(1);
  const data = Float32Array.from({ length: nx * ny * nz }, () => rng.uniform());
  const volume = { dims: [nx, ny, nz] as const, spacing: [1, 1, 8] as const, affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1], data };
  const predictors = { centre: new Predictor(makeStore('centre')), sliding: new Predictor(makeStore('sliding')) };
  const times: Record<'centre' | 'sliding', number[]> = { centre: [], sliding: [] };
  const loadBefore = loadavg()[0];
  for (let r = -1; r < runs; r++) {
    for (const m of ['centre', 'sliding'] as const) {
      const t0 = performance.now();
      predictors[m].predict(volume, 'synthetic');
      if (r >= 0) times[m].push(performance.now() - t0); // r = -1 warms up
    }
  }
  const loadAfter = loadavg()[0];
  for (const p of Object.values(predictors)) p.dispose();
  const perSlice = (m: 'centre' | 'sliding') => median(times[m]) / nz;
  const result = {
    date: new Date().toISOString(),
    command: `node dist/bench/window.js --threads ${threads} --runs ${runs} --slices ${nz}`,
    machine: machine(),
    loadAverage1m: { before: loadBefore, after: loadAfter },
    config: { model: config, dims: [nx, ny, nz], window: size, samples: K, threads },
    centreMsPerSlice: perSlice('centre'),
    slidingMsPerSlice: perSlice('sliding'),
    ratio: perSlice('sliding') / perSlice('centre'),
    pairedRatioMedian: median(times.sliding.map((t, i) => t / times.centre[i])),
    runsMs: times,
  };
  writeFileAtomic(join(repoRoot, 'bench', 'results', 'window.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `K=${K}, ${nx}×${ny}×${nz}, window ${size}: centre ${result.centreMsPerSlice.toFixed(0)} ms/slice, ` +
      `sliding ${result.slidingMsPerSlice.toFixed(0)} ms/slice, ratio ${result.ratio.toFixed(2)} (paired ${result.pairedRatioMedian.toFixed(2)}); ` +
      `load ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
