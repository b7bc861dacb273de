/**
 * ONNX benchmark: slices per second of the exported posterior (`hmcseg export`) in
 * onnxruntime-node against our Predictor (`hmcseg predict`), for K = 1, 3 and 12 weight samples
 * of the U-Net 16–128 on a volume of 10 slices of 128 × 128, in the same run, interleaved run by
 * run. Reported per K: the Predictor's whole pipeline (preprocessing, samples streamed from disk,
 * forward passes, uncertainty sums, inverse mapping, scores); onnxruntime's `run` alone on the
 * preprocessed slices; and onnxruntime with the same preprocessing and inverse mapping around it.
 * Each K also checks the outputs against the Predictor's (max abs difference).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/onnx.js [--threads 2] [--runs 5]
 *
 * Writes bench/results/onnx.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { addSample, completeSampleStore, createSampleStore } from '../src/bayes/store.js';
import { invertMap, invertProbabilities, preprocessVolume, type Volume } from '../src/data/index.js';
import { setNumThreads, tensor } from '../src/engine/index.js';
import { exportOnnx } from '../src/export/index.js';
import { UNet, type UNetConfig } from '../src/models/index.js';
import { Predictor } from '../src/predict/index.js';
import { preprocessOptions } from '../src/data/index.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { Rng } from '../src/util/rng.js';
import { machine, median, repoRoot } from './util.js';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '2' }, runs: { type: 'string', default: '5' } } });
const threads = Number(values.threads);
const runs = Number(values.runs);
if (!(Number.isInteger(threads) && threads >= 1 && Number.isInteger(runs) && runs >= 1)) throw new RangeError('--threads and --runs must be positive integers');
setNumThreads(threads);

const KS = [1, 3, 12];
const config: UNetConfig = { inChannels: 1, numClasses: 4, depth: 4, baseWidth: 16, norm: 'batch', dropout: 0, dropoutPlacement: 'bottleneck', seed: 0 };
const [size, nz] = [128, 10];
const preprocess = { size, targetSpacing: null };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const dir = mkdtempSync(join(tmpdir(), 'hmcseg-bench-onnx-'));
try {
  // K = 12 weight samples of independently initialised networks, with BatchNorm statistics
  // recomputed on random batches so that normalisation is not the identity.
  let store = createSampleStore(dir, {
    method: 'hmc',
    model: { ...config },
    preprocess,
    training: { configHash: 'bench' },
    passesPerSample: 1,
    data: { dir: '(synthetic)', fingerprint: '-', splitsFingerprint: '-', numTrainSlices: 0 },
  });
  const rng = new Rng(1);
  for (let k = 0; k < Math.max(...KS); k++) {
    const net = new UNet({ ...config, seed: k });
    const batch = tensor(Float32Array.from({ length: 4 * size * size }, () => rng.normal()), [4, 1, size, size]);
    net.recomputeBatchNorm([batch]);
    batch.dispose();
    const w = net.state();
    store = addSample(store, w, { step: k, cycle: 0, member: 0, lr: 0, temperature: 0, loss: 0 });
    for (const t of Object.values(w)) t.dispose();
    net.dispose();
  }
  completeSampleStore(store);

  const image = Float32Array.from({ length: size * size * nz }, () => rng.uniform());
  const volume: Volume<Float32Array> = { dims: [size, size, nz], spacing: [1.5, 1.5, 8], affine: [1.5, 0, 0, 0, 0, 1.5, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1], data: image };

  const results = [];
  for (const K of KS) {
    const exported = exportOnnx(dir, { samples: K });
    const session = await ort.InferenceSession.create(exported.bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    const predictor = new Predictor(dir, { samples: K });
    const ortPipeline = async () => {
      const pre = preprocessVolume(volume, preprocessOptions(preprocess, 'synthetic'));
      const r = await session.run({ image: new ort.Tensor('float32', pre.image, [nz, 1, size, size]) });
      return {
        probabilities: invertProbabilities(r.probs.data as Float32Array, 4, pre.transform),
        entropy: invertMap(r.entropy.data as Float32Array, pre.transform),
        mutualInformation: invertMap(r.mutual_information.data as Float32Array, pre.transform),
      };
    };
    const pre = preprocessVolume(volume, preprocessOptions(preprocess, 'synthetic'));
    const feeds = { image: new ort.Tensor('float32', pre.image, [nz, 1, size, size]) };

    // Warm-up, and the agreement check of this K.
    const ours = predictor.predict(volume, 'synthetic');
    const theirs = await ortPipeline();
    const diff = {
      probs: maxAbsDiff(theirs.probabilities, ours.probabilities),
      entropy: maxAbsDiff(theirs.entropy, ours.entropy),
      mi: maxAbsDiff(theirs.mutualInformation, ours.mutualInformation),
    };
    await session.run(feeds);

    const predictMs: number[] = [];
    const ortRunMs: number[] = [];
    const ortPipelineMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t0 = performance.now();
      predictor.predict(volume, 'synthetic');
      predictMs.push(performance.now() - t0);
      t0 = performance.now();
      await session.run(feeds);
      ortRunMs.push(performance.now() - t0);
      t0 = performance.now();
      await ortPipeline();
      ortPipelineMs.push(performance.now() - t0);
    }
    predictor.dispose();
    await session.release();
    const sps = (ms: number[]) => (nz * 1000) / median(ms);
    const row = {
      samples: K,
      onnxBytes: exported.bytes.length,
      predictMs,
      ortRunMs,
      ortPipelineMs,
      predictSlicesPerSecond: sps(predictMs),
      ortRunSlicesPerSecond: sps(ortRunMs),
      ortPipelineSlicesPerSecond: sps(ortPipelineMs),
      /** Median over runs of (Predictor time / onnxruntime pipeline time), run by run. */
      pairedSpeedup: median(predictMs.map((t, i) => t / ortPipelineMs[i])),
      maxAbsDiff: diff,
    };
    results.push(row);
    console.log(
      `K=${K}: predict ${row.predictSlicesPerSecond.toFixed(2)} slices/s; onnxruntime-node run ${row.ortRunSlicesPerSecond.toFixed(2)}, ` +
        `with preprocessing and inverse mapping ${row.ortPipelineSlicesPerSecond.toFixed(2)} slices/s (paired speed-up ${row.pairedSpeedup.toFixed(2)}); ` +
        `max abs diff probs ${diff.probs.toExponential(2)}, entropy ${diff.entropy.toExponential(2)}, MI ${diff.mi.toExponential(2)}`,
    );
  }

  writeFileAtomic(
    join(repoRoot, 'bench', 'results', 'onnx.json'),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        command: `node dist/bench/onnx.js --threads ${threads} --runs ${runs}`,
        machine: machine(),
        onnxruntime: ort.env.versions,
        config: { model: config, slices: nz, size, threads },
        results,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
