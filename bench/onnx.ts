/**
 * ONNX benchmark: slices per second of the exported posterior (`hmcseg export`) in
 * onnxruntime-node against our Predictor (`hmcseg predict`), for K = 1, 3 and 12 weight samples
 * (`--samples`) of the U-Net 16–128 on a volume of 10 slices, in the same run, interleaved run by
 * run: 128 × 128 slices and the centre crop (`--window centre`, the default), or ACDC-size
 * 216 × 256 slices by 128 × 128 sliding windows (`--window sliding`, 9 windows a slice). Reported
 * per K: the Predictor's whole pipeline (preprocessing, samples streamed from disk, forward
 * passes, window fusion, uncertainty sums, inverse mapping, scores); onnxruntime's `run` calls
 * alone; and the whole consumer pipeline around them (`predictWithExport`: the same
 * preprocessing, fusion per branch of `branch_probs`, accumulator, inverse mapping and scores).
 * Each K also checks the outputs against the Predictor's (max abs difference).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/onnx.js [--threads 2] [--runs 5] [--window centre|sliding] [--samples 1,3,12]
 *
 * Writes bench/results/onnx.json (`--window sliding`: onnx-sliding.json).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { addSample, completeSampleStore, createSampleStore } from '../src/bayes/store.js';
import type { Volume } from '../src/data/index.js';
import { setNumThreads, tensor } from '../src/engine/index.js';
import { exportOnnx, predictWithExport, readExportInfo } from '../src/export/index.js';
import { UNet, type UNetConfig } from '../src/models/index.js';
import { Predictor } from '../src/predict/index.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { Rng } from '../src/util/rng.js';
import { machine, median, repoRoot } from './util.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    runs: { type: 'string', default: '5' },
    window: { type: 'string', default: 'centre' },
    samples: { type: 'string', default: '1,3,12' },
  },
});
const threads = Number(values.threads);
const runs = Number(values.runs);
if (!(Number.isInteger(threads) && threads >= 1 && Number.isInteger(runs) && runs >= 1)) throw new RangeError('--threads and --runs must be positive integers');
const window = values.window;
if (window !== 'centre' && window !== 'sliding') throw new RangeError(`--window must be centre or sliding, got ${window}`);
const KS = values.samples.split(',').map(Number);
if (!KS.every((k) => Number.isInteger(k) && k >= 1 && k <= 12)) throw new RangeError(`--samples must be integers in 1..12, comma-separated, got ${values.samples}`);
setNumThreads(threads);

const config: UNetConfig = { inChannels: 1, numClasses: 4, depth: 4, baseWidth: 16, norm: 'batch', dropout: 0, dropoutPlacement: 'bottleneck', seed: 0 };
const [size, nz] = [128, 10];
const [nx, ny] = window === 'sliding' ? [216, 256] : [size, size];
const preprocess = { size, targetSpacing: null, window };

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

  const image = Float32Array.from({ length: nx * ny * nz }, () => rng.uniform());
  const volume: Volume<Float32Array> = { dims: [nx, ny, nz], spacing: [1.5, 1.5, 8], affine: [1.5, 0, 0, 0, 0, 1.5, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1], data: image };

  const results = [];
  for (const K of KS) {
    const exported = exportOnnx(dir, { samples: K });
    const session = await ort.InferenceSession.create(exported.bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    const predictor = new Predictor(dir, { samples: K });
    const info = readExportInfo(exported.metadata, 'bench');
    let runMs = 0; // onnxruntime's run calls of the last pipeline
    const ortPipeline = () => {
      runMs = 0;
      return predictWithExport(info, volume, 'synthetic', async (windows, b) => {
        const t0 = performance.now();
        const r = await session.run({ image: new ort.Tensor('float32', windows, [b, 1, size, size]) }, ['branch_probs']);
        runMs += performance.now() - t0;
        return r.branch_probs.data as Float32Array;
      });
    };

    // Warm-up, and the agreement check of this K.
    const ours = predictor.predict(volume, 'synthetic');
    const theirs = await ortPipeline();
    const diff = {
      probs: maxAbsDiff(theirs.probabilities, ours.probabilities),
      entropy: maxAbsDiff(theirs.entropy, ours.entropy),
      mi: maxAbsDiff(theirs.mutualInformation, ours.mutualInformation),
    };

    const predictMs: number[] = [];
    const ortRunMs: number[] = [];
    const ortPipelineMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t0 = performance.now();
      predictor.predict(volume, 'synthetic');
      predictMs.push(performance.now() - t0);
      t0 = performance.now();
      await ortPipeline();
      ortPipelineMs.push(performance.now() - t0);
      ortRunMs.push(runMs);
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
        `with the consumer pipeline ${row.ortPipelineSlicesPerSecond.toFixed(2)} slices/s (paired speed-up ${row.pairedSpeedup.toFixed(2)}); ` +
        `max abs diff probs ${diff.probs.toExponential(2)}, entropy ${diff.entropy.toExponential(2)}, MI ${diff.mi.toExponential(2)}`,
    );
  }

  writeFileAtomic(
    join(repoRoot, 'bench', 'results', window === 'sliding' ? 'onnx-sliding.json' : 'onnx.json'),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        command: `node dist/bench/onnx.js --threads ${threads} --runs ${runs} --window ${window} --samples ${KS.join(',')}`,
        machine: machine(),
        onnxruntime: ort.env.versions,
        config: { model: config, slices: nz, slice: [nx, ny], size, window, threads },
        results,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
