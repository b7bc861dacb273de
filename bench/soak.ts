/**
 * Soak: a long run of the real trainer (`train()`: the loader with an augmentation worker, SGHMC,
 * checkpoints every 50 steps, weight samples written to the store) on a tiny network, sampling the
 * engine's live native tensors (`liveTensors()`) and the process RSS every `--every` steps. A leak
 * shows as live tensors that grow or an RSS that keeps climbing; the figures are the first, last and
 * largest values and the least-squares slope of RSS over the second half of the run (after the
 * allocator has warmed up).
 *
 * Config: the training defaults except a tiny network and size (data.size 32, batchSize 2, depth 2,
 * baseWidth 4), one thread, `--steps` steps (default 10,000) and, so that samples are written all
 * along the run, hmc.cycles = steps / 500 (3 samples per cycle, β 0.25 as default).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/soak.js [--steps 10000] [--every 100]
 *
 * Writes bench/results/soak.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveTensors } from '../src/engine/index.js';
import { parseTrainConfig, train } from '../src/train/index.js';
import { writeFileAtomic } from '../src/util/index.js';
import { prepareKillData } from './kill9.js';
import { intArg, machine, repoRoot } from './util.js';

const STEPS = intArg('soak', 'steps', 10_000);
const EVERY = intArg('soak', 'every', 100);

/** Least-squares slope of y over x. */
function slope(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  return sxy / sxx;
}

const root = mkdtempSync(join(tmpdir(), 'hmcseg-soak-'));
try {
  const { data, splits } = prepareKillData(root);
  const config = parseTrainConfig({
    threads: 1,
    data: { size: 32, batchSize: 2 },
    model: { depth: 2, baseWidth: 4 },
    optim: { steps: STEPS },
    hmc: { cycles: Math.max(1, Math.round(STEPS / 500)) },
  });
  const points: { step: number; liveTensors: number; rssMiB: number; seconds: number }[] = [];
  const t0 = performance.now();
  const mib = () => process.memoryUsage.rss() / 2 ** 20;
  points.push({ step: 0, liveTensors: liveTensors(), rssMiB: mib(), seconds: 0 });
  const result = await train({
    method: 'hmc',
    config,
    data,
    splits,
    out: join(root, 'store'),
    onProgress: (p) => {
      if (p.step % EVERY !== 0) return;
      points.push({ step: p.step, liveTensors: liveTensors(), rssMiB: mib(), seconds: (performance.now() - t0) / 1000 });
      if (p.step % (EVERY * 10) === 0) {
        const q = points[points.length - 1];
        process.stdout.write(`step ${q.step}: ${q.liveTensors} live tensors, RSS ${q.rssMiB.toFixed(1)} MiB, ${q.seconds.toFixed(0)} s\n`);
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const during = points.slice(1);
  const live = during.map((p) => p.liveTensors);
  const rss = points.map((p) => p.rssMiB);
  const half = during.filter((p) => p.step > STEPS / 2);
  const out = {
    date: new Date().toISOString(),
    command: `node dist/bench/soak.js --steps ${STEPS} --every ${EVERY}`,
    config: { threads: 1, data: { size: 32, batchSize: 2 }, model: { depth: 2, baseWidth: 4 }, optim: { steps: STEPS }, hmc: { cycles: config.hmc.cycles } },
    steps: STEPS,
    samplesWritten: result.store.manifest.samples.length,
    checkpointsWritten: Math.ceil(STEPS / config.checkpointEvery),
    seconds,
    msPerStep: (seconds * 1000) / STEPS,
    liveTensors: { beforeTraining: points[0].liveTensors, first: live[0], last: live[live.length - 1], max: Math.max(...live), min: Math.min(...live) },
    rssMiB: { start: rss[0], firstSample: during[0].rssMiB, end: rss[rss.length - 1], max: Math.max(...rss) },
    rssSlopeMiBPer1000StepsSecondHalf: 1000 * slope(half.map((p) => p.step), half.map((p) => p.rssMiB)),
    machine: machine(),
    points,
  };
  writeFileAtomic(join(repoRoot, 'bench', 'results', 'soak.json'), `${JSON.stringify(out, null, 2)}\n`);
  const { points: _, machine: __, ...summary } = out;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
