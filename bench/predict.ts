/**
 * Prediction benchmark: segmenting a volume of 10 slices of 128 × 128 with K = 10 weight samples
 * (the full pipeline: preprocessing, streaming the samples from disk, forward passes, running
 * uncertainty sums, inverse mapping, scores), against K plain forward passes of the same batch in
 * the same run. Reports slices/s and the overhead ratio, and what the sample-disagreement scores
 * (src/uncertainty/disagreement.ts: each pass's arg-max kept, K(K−1)/2 pairs of intersections)
 * cost inside it: K arg-maxes of a pass's probabilities plus the accumulator, timed alone.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/predict.js [--threads 2] [--runs 5] [--device cpu|cuda|cuda:N] [--out FILE]
 *
 * Writes bench/results/predict.json (or --out). Both sides end by copying the probabilities to the
 * CPU, so on a GPU each timed run has waited for its kernels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkDevice, noGrad, setNumThreads, tensor, tidy } from '../src/engine/index.js';
import { UNet, type UNetConfig } from '../src/models/index.js';
import { argmax } from '../src/metrics/index.js';
import { Predictor } from '../src/predict/index.js';
import { SampleDisagreement } from '../src/uncertainty/index.js';
import { Rng, writeFileAtomic } from '../src/util/index.js';
import { randomStore } from './random-store.js';
import { machine, median, repoRoot, timed } from './util.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    runs: { type: 'string', default: '5' },
    samples: { type: 'string', default: '10' },
    device: { type: 'string', default: 'cpu' },
    out: { type: 'string', default: join(repoRoot, 'bench', 'results', 'predict.json') },
  },
});
const threads = Number(values.threads);
const runs = Number(values.runs);
const K = Number(values.samples);
const device = checkDevice(values.device as string, 'bench');
setNumThreads(threads);

const config: UNetConfig = { inChannels: 1, numClasses: 4, depth: 4, baseWidth: 16, norm: 'batch', dropout: 0, dropoutPlacement: 'bottleneck', seed: 0 };
const [size, nz] = [128, 10];
const dir = mkdtempSync(join(tmpdir(), 'hmcseg-bench-predict-'));
try {
  randomStore(dir, config, K, { size, targetSpacing: null });

  const rng = new Rng(1);
  const image = Float32Array.from({ length: size * size * nz }, () => rng.uniform());
  const volume = { dims: [size, size, nz] as const, spacing: [1.5, 1.5, 8] as const, affine: [1.5, 0, 0, 0, 0, 1.5, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1], data: image };

  const predictor = new Predictor(dir, { device });
  const full = timed(() => predictor.predict(volume, 'synthetic'), 1, runs);
  predictor.dispose();

  const net = new UNet(config, { device }).eval();
  const forward = timed(
    () => {
      for (let k = 0; k < K; k++) {
        noGrad(() => tidy(() => net.forward(tensor(image, [nz, 1, size, size], { device })).softmax(1).toFloat32()));
      }
    },
    1,
    runs,
  );
  net.dispose();

  // The disagreement scores' own work in predict: per pass an arg-max of its probabilities and
  // the pairwise intersections with the earlier passes, then the scores.
  const passProbs = Array.from({ length: K }, () => Float32Array.from({ length: 4 * size * size * nz }, () => rng.uniform()));
  const disagreement = timed(
    () => {
      const d = new SampleDisagreement({ dims: volume.dims, voxelMl: (1.5 * 1.5 * 8) / 1000 });
      for (const p of passProbs) d.add(argmax(p, 4));
      d.result();
    },
    1,
    runs,
  );

  const result = {
    date: new Date().toISOString(),
    command: `node dist/bench/predict.js --threads ${threads} --runs ${runs} --samples ${K}${device === 'cpu' ? '' : ` --device ${device}`}`,
    machine: { ...machine(), device },
    config: { model: config, slices: nz, size, samples: K, threads },
    predictMs: full.medianMs,
    predictRunsMs: full.runsMs,
    slicesPerSecond: (nz * 1000) / full.medianMs,
    forwardOnlyMs: forward.medianMs,
    forwardRunsMs: forward.runsMs,
    forwardSlicesPerSecond: (nz * 1000) / forward.medianMs,
    overheadRatio: full.medianMs / forward.medianMs,
    pairedRatioMedian: median(full.runsMs.map((t, i) => t / forward.runsMs[i])),
    disagreementMs: disagreement.medianMs,
    disagreementRunsMs: disagreement.runsMs,
    disagreementShareOfPredict: disagreement.medianMs / full.medianMs,
  };
  writeFileAtomic(values.out as string, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `predict, K=${K}, ${nz} slices ${size}²: ${full.medianMs.toFixed(0)} ms (${result.slicesPerSecond.toFixed(2)} slices/s); ` +
      `${K} forward passes alone: ${forward.medianMs.toFixed(0)} ms; ratio ${result.overheadRatio.toFixed(3)}; ` +
      `disagreement scores (${K} arg-maxes, ${(K * (K - 1)) / 2} pairs): ${disagreement.medianMs.toFixed(1)} ms, ${(100 * result.disagreementShareOfPredict).toFixed(1)} % of predict`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
