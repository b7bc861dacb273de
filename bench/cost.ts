/**
 * Cost of HMC-CP against one ordinary network: `hmc` (M = 4 cycles, S = 3 samples per cycle, noise
 * in the sampling phases, 12 weight samples written) and `deterministic`, the same K steps on the
 * same data, model and loader, trained alternately (det, hmc, det, hmc, ...) in one process.
 * Reports wall-time per run and the paired ratio hmc / deterministic (target ≤ 1.05).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/cost.js [--steps 100] [--pairs 2] [--size 128]
 *
 * Data: phantom bSSFP (generated into a temporary directory). Writes bench/results/cost.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeSplits, openDataset, writePhantomDataset, writeSplits } from '../src/data/index.js';
import { parseTrainConfig, train } from '../src/train/index.js';
import { writeFileAtomic } from '../src/util/index.js';
import { machine, median, repoRoot } from './util.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100' },
    pairs: { type: 'string', default: '2' },
    size: { type: 'string', default: '128' },
    threads: { type: 'string', default: '2' },
  },
});
const steps = Number(values.steps);
const pairs = Number(values.pairs);
const size = Number(values.size);
const root = mkdtempSync(join(tmpdir(), 'hmcseg-bench-cost-'));
try {
  const data = join(root, 'data');
  writePhantomDataset({ out: data, cases: 12, contrast: 'ssfp', seed: 7, size });
  const splits = join(root, 'splits.json');
  writeSplits(splits, makeSplits(openDataset(data), { seed: 0 }));
  const config = parseTrainConfig({
    threads: Number(values.threads),
    data: { size, batchSize: 8, workers: 1 },
    model: { depth: 4, baseWidth: 16 },
    optim: { steps, lr: 0.05 },
    hmc: { cycles: 4, samplesPerCycle: 3, temperature: 0.01, sampleFromCycle: 0 },
    checkpointEvery: Math.max(1, Math.floor(steps / 4)),
  });
  const runs: { method: string; seconds: number; samples: number }[] = [];
  for (let p = 0; p < pairs; p++) {
    for (const method of ['deterministic', 'hmc'] as const) {
      const r = await train({ method, config, data, splits, out: join(root, `${method}-${p}`) });
      runs.push({ method, seconds: r.seconds, samples: r.store.manifest.samples.length });
      console.log(`${method} pair ${p}: ${r.seconds.toFixed(1)} s, ${r.store.manifest.samples.length} samples`);
    }
  }
  const det = runs.filter((r) => r.method === 'deterministic').map((r) => r.seconds);
  const hmc = runs.filter((r) => r.method === 'hmc').map((r) => r.seconds);
  const ratios = hmc.map((h, i) => h / det[i]);
  const result = {
    date: new Date().toISOString(),
    command: `node dist/bench/cost.js --steps ${steps} --pairs ${pairs} --size ${size} --threads ${values.threads}`,
    machine: machine(),
    config,
    runs,
    ratioHmcOverDeterministic: { pairs: ratios, median: median(ratios) },
    target: 1.05,
  };
  writeFileAtomic(join(repoRoot, 'bench', 'results', 'cost.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`hmc / deterministic wall time: ${ratios.map((r) => r.toFixed(3)).join(', ')} (median ${median(ratios).toFixed(3)})`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
