/**
 * Training cost of whole-image prediction: the cpu preset's network trained on ACDC with
 * `window: 'centre'` (each step's batch cropped about the slice centre) and with `window:
 * 'sliding'` (random windows of whole slices), the same steps, model, batch, threads and loader
 * otherwise, trained alternately (centre, sliding, centre, ...) in one process so that machine load
 * hits both alike. Reports per run the start (from `train` to the first step's end: reading and
 * preprocessing the volumes, the loader's start) and the seconds per step after the first
 * `--skip` steps, and the paired ratio sliding / centre of each.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/window-train.js [--steps 60] [--pairs 2] [--skip 10] [--workers 1]
 *
 * Data: $HMCSEG_DATA/acdc (default ../shared/data/acdc). Writes bench/results/window-train.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeSplits, openDataset, writeSplits } from '../src/data/index.js';
import { PRESETS } from '../src/experiment/index.js';
import { parseTrainConfig, train } from '../src/train/index.js';
import { writeFileAtomic } from '../src/util/index.js';
import { machine, median, repoRoot } from './util.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '60' },
    pairs: { type: 'string', default: '2' },
    skip: { type: 'string', default: '10' },
    workers: { type: 'string', default: '1' },
  },
});
const steps = Number(values.steps);
const pairs = Number(values.pairs);
const skip = Number(values.skip);
const workers = Number(values.workers);
if (!(steps > skip + 1 && skip >= 1)) throw new RangeError(`bench/window-train: --steps (${steps}) must exceed --skip (${skip}) + 1, and --skip be ≥ 1`);

const data = resolve(process.env.HMCSEG_DATA ?? '../shared/data', 'acdc');
const root = mkdtempSync(join(tmpdir(), 'hmcseg-bench-window-train-'));
type Window = 'centre' | 'sliding';
try {
  const splits = join(root, 'splits.json');
  writeSplits(splits, makeSplits(openDataset(data, { labels: 'acdc' }), { seed: 0 }));
  const preset = PRESETS.cpu.config;
  const configOf = (window: Window) =>
    parseTrainConfig({ ...preset, data: { ...preset.data, window, workers }, optim: { ...preset.optim, steps }, checkpointEvery: steps });
  const runs: { window: Window; startSeconds: number; secondsPerStep: number; loadAverage1m: number }[] = [];
  for (let p = 0; p < pairs; p++) {
    for (const window of ['centre', 'sliding'] as const) {
      const t0 = performance.now();
      const at: number[] = [];
      await train({ method: 'deterministic', config: configOf(window), data, splits, out: join(root, `${window}-${p}`), onProgress: () => at.push(performance.now()) });
      const startSeconds = (at[0] - t0) / 1000;
      const secondsPerStep = (at[steps - 1] - at[skip - 1]) / 1000 / (steps - skip);
      runs.push({ window, startSeconds, secondsPerStep, loadAverage1m: loadavg()[0] });
      console.log(`${window} pair ${p}: start ${startSeconds.toFixed(1)} s, ${secondsPerStep.toFixed(3)} s/step (steps ${skip + 1}..${steps})`);
    }
  }
  const of = (w: Window, k: 'startSeconds' | 'secondsPerStep') => runs.filter((r) => r.window === w).map((r) => r[k]);
  const paired = (k: 'startSeconds' | 'secondsPerStep') => of('sliding', k).map((s, i) => s / of('centre', k)[i]);
  const result = {
    date: new Date().toISOString(),
    command: `node dist/bench/window-train.js --steps ${steps} --pairs ${pairs} --skip ${skip} --workers ${workers}`,
    machine: machine(),
    data,
    config: { centre: configOf('centre'), sliding: configOf('sliding') },
    runs,
    ratioSlidingOverCentre: {
      secondsPerStep: { pairs: paired('secondsPerStep'), median: median(paired('secondsPerStep')) },
      startSeconds: { pairs: paired('startSeconds'), median: median(paired('startSeconds')) },
    },
  };
  writeFileAtomic(join(repoRoot, 'bench', 'results', 'window-train.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `sliding / centre: ${result.ratioSlidingOverCentre.secondsPerStep.median.toFixed(3)} per step, ${result.ratioSlidingOverCentre.startSeconds.median.toFixed(3)} start (medians of ${pairs} pairs)`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
