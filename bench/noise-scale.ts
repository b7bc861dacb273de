/**
 * The SGHMC noise against the gradient step at the defaults (src/bayes/sghmc.ts):
 *
 *   v ← μ·v − η·(∇L̄(θ) + θ/(N·σ²)) + sqrt(2·(1 − μ)·η·T / N)·ε
 *
 * with the training defaults (K = 800, one cosine cycle, η0 = 0.05, μ = 0.9, T = 0.01, σ = 1, the
 * default U-Net, 128 × 128, batch 8) and N the training slices of the `cpu` preset's split of ACDC
 * (`makeSplits(acdc, {seed: 0})`, the split `hmcseg experiment --preset cpu` writes). The gradient
 * is measured on the first `--steps` steps of a real run from the initial weights (the default
 * augmentation, the default loss); per step it records the RMS and median over the parameters of
 * |η_k·∇L̄| and of the prior term |η_k·θ/(Nσ²)|, and the noise std at η_k and at the η of the
 * sampling phase (the last β = 25 % of the cycle, steps 600–799).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/noise-scale.js [--steps 30]
 * Data: $HMCSEG_DATA/acdc (default ../shared/data/acdc). Writes bench/results/noise-scale.json.
 */
import { join, resolve } from 'node:path';
import { sghmc } from '../src/bayes/index.js';
import { augmentConfig } from '../src/data/augment.js';
import { makeSplits, openDataset, splitCases } from '../src/data/index.js';
import { createLoader } from '../src/data/loader.js';
import { manualSeed, setDeterministic, setNumThreads } from '../src/engine/index.js';
import { UNet } from '../src/models/index.js';
import { methodFromConfig, parseTrainConfig, trainStep } from '../src/train/index.js';
import { batchTensors } from '../src/train/step.js';
import { loadTrainingSlices } from '../src/train/slices.js';
import { writeFileAtomic } from '../src/util/index.js';
import { intArg, machine, median, repoRoot } from './util.js';

const STEPS = intArg('noise-scale', 'steps', 30);

const acdc = resolve(process.env.HMCSEG_DATA ?? '../shared/data', 'acdc');
const config = parseTrainConfig({ data: { workers: 0 } });
setNumThreads(2);
setDeterministic(true);
manualSeed(config.seed);
const dataset = openDataset(acdc, { labels: config.data.labels, requireLabels: true });
const splits = makeSplits(dataset, { seed: 0 });
const slices = loadTrainingSlices(dataset, splitCases(dataset, splits, 'train'), { size: config.data.size, targetSpacing: null });
const N = slices.length;
const method = methodFromConfig('hmc', config);
const { momentum: mu, priorStd: sigma } = config.optim;
const T = config.hmc.temperature;
const noiseStd = (lr: number) => Math.sqrt((2 * (1 - mu) * lr * T) / N);
const sampling = method.sampleSteps.length > 0 ? Array.from({ length: config.optim.steps }, (_, k) => k).filter((k) => method.noise(k)) : [];
const samplingLr = { first: method.lr(sampling[0]), last: method.lr(sampling[sampling.length - 1]), atFirstSample: method.lr(method.sampleSteps[0]) };

const model = new UNet(method.model(0));
const sampler = sghmc({ lr: method.lr, momentum: mu, temperature: method.temperature, numData: N, priorStd: sigma, noise: method.noise });
let state = sampler.init(model.params.flat, { seed: config.seed + 7919 });
const loader = createLoader(slices, {
  nx: config.data.size,
  ny: config.data.size,
  batchSize: config.data.batchSize,
  seed: config.seed,
  augment: augmentConfig({ strength: config.data.augment }),
  workers: 0,
});

const absStats = (xs: Float32Array, scale: number) => {
  let ss = 0;
  const abs = new Float32Array(xs.length);
  for (let j = 0; j < xs.length; j++) {
    const v = Math.abs(xs[j] * scale);
    abs[j] = v;
    ss += v * v;
  }
  abs.sort();
  return { rms: Math.sqrt(ss / xs.length), median: abs[abs.length >> 1] };
};

const rows = [];
model.train();
for (let k = 0; k < STEPS; k++) {
  const batch = await loader.next();
  const lr = method.lr(k);
  const theta = model.params.flat.toArray() as Float32Array;
  const r = trainStep({
    model,
    sampler,
    state,
    batch: () => batchTensors(batch),
  });
  state = r.state;
  const g = model.params.flatGrad.toArray() as Float32Array;
  rows.push({
    step: k,
    loss: r.loss,
    lr,
    gradStep: absStats(g, lr),
    priorStep: absStats(theta, lr / (N * sigma ** 2)),
    noiseStdAtLr: noiseStd(lr),
  });
  process.stdout.write(`step ${k}: loss ${r.loss.toFixed(4)}, RMS |η∇L̄| ${rows[k].gradStep.rms.toExponential(3)}, noise std ${noiseStd(lr).toExponential(3)}\n`);
}
await loader.close();
sampler.dispose(state);
const params = model.params.flat.shape.reduce((a, b) => a * b, 1);
model.dispose();

// Per unit η: the gradient step is η·|∇L̄|, the noise sqrt(2(1 − μ)ηT/N); their ratio at another η
// scales as 1/sqrt(η) for the same gradient.
const gradRms = median(rows.map((r) => r.gradStep.rms / r.lr));
const gradMedian = median(rows.map((r) => r.gradStep.median / r.lr));
const at = (lr: number) => ({ lr, noiseStd: noiseStd(lr), gradStepRms: lr * gradRms, noiseOverGradRms: noiseStd(lr) / (lr * gradRms), noiseOverGradMedian: noiseStd(lr) / (lr * gradMedian) });
const out = {
  date: new Date().toISOString(),
  command: `HMCSEG_DATA=${resolve(acdc, '..')} node dist/bench/noise-scale.js --steps ${STEPS}`,
  data: { acdc, split: 'makeSplits(acdc, {seed: 0}).train (the cpu preset)', trainCases: splits.train.length, trainSlices: N },
  defaults: { steps: config.optim.steps, lr0: config.optim.lr, momentum: mu, temperature: T, priorStd: sigma, cycles: config.hmc.cycles, beta: config.hmc.beta, batchSize: config.data.batchSize, size: config.data.size, params },
  gradientMeasuredOn: `the first ${STEPS} steps of a run from the initial weights (the trained network's gradient is not measured)`,
  gradPerUnitLr: { rmsMedianOverSteps: gradRms, medianAbsMedianOverSteps: gradMedian },
  atPeakLr: at(config.optim.lr),
  samplingPhase: { steps: [sampling[0], sampling[sampling.length - 1]], lr: samplingLr, atStart: at(samplingLr.first), atFirstSample: at(samplingLr.atFirstSample) },
  machine: machine(),
  rows,
};
writeFileAtomic(join(repoRoot, 'bench', 'results', 'noise-scale.json'), `${JSON.stringify(out, null, 2)}\n`);
const { rows: _, machine: __, ...summary } = out;
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
