/**
 * `hmcseg export` on real data: a tiny U-Net trained for a few steps on two ACDC patients with
 * `hmcseg train`, exported with `hmcseg export`, gives on volumes of the ACDC test split the
 * probabilities, entropy and mutual information of our own prediction within 1e-4, with
 * onnxruntime-node (6 volumes, or all with HMCSEG_EXPORT_VOLUMES=all) and onnxruntime-web (wasm, one).
 * Dropout at inference (`--passes 2`) on two whole test volumes: each pass is one fixed dropout
 * network, the masks the export holds are those the predictor draws. A store predicting whole slices by sliding windows (ACDC's 216 × 256-ish
 * slices by 128 × 128 windows) on two test volumes. Every comparison also covers the segmentation
 * and every score. Skips, saying why, without the data (`HMCSEG_DATA`, default ../shared/data).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSplits, openDataset, readNiftiImage, splitCases, writeSplits, type CaseRef, type Volume } from '../src/data/index.js';
import { exportOnnx } from '../src/export/index.js';
import { realData } from './helpers/optional.js';
import { worstAgreement, type Agreement, type OrtLike } from './helpers/onnx.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(here, '../dist/src/cli/main.js');
const data = realData();
const acdc = join(data.root, 'acdc');

const TOL = 1e-4;
// Test volumes compared with onnxruntime-node: the first 6 by default (a minute on the 2-core
// machine would be spent on all 36), every one with HMCSEG_EXPORT_VOLUMES=all.
const volumeCount = process.env.HMCSEG_EXPORT_VOLUMES === 'all' ? Infinity : Number(process.env.HMCSEG_EXPORT_VOLUMES ?? 6);
if (!(volumeCount >= 1)) throw new RangeError(`HMCSEG_EXPORT_VOLUMES must be a positive integer or 'all', got ${process.env.HMCSEG_EXPORT_VOLUMES}`);
const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let root: string;
let testCases: CaseRef[];

const tiny = {
  seed: 7,
  threads: 2,
  data: { labels: 'acdc', batchSize: 4, workers: 0, window: 'centre' },
  // Dropout in the decoder, off at prediction unless more than one pass is asked for.
  model: { depth: 3, baseWidth: 4, dropout: 0.3, dropoutPlacement: 'decoder' },
  optim: { steps: 8, lr: 0.05 },
  hmc: { cycles: 2, samplesPerCycle: 2, beta: 0.5, sampleFromCycle: 0 },
};

data.describe('hmcseg export on ACDC, against hmcseg predict', () => {
  let store: string;
  let sliding: string;
  let onnx: Uint8Array;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'hmcseg-export-acdc-'));
    const dataset = openDataset(acdc);
    const splits = makeSplits(dataset, { seed: 0 });
    testCases = splitCases(dataset, splits, 'test');
    // Two training patients keep training short: agreement, not accuracy, is tested.
    writeSplits(join(root, 'splits.json'), { ...splits, train: splits.train.slice(0, 2) });
    writeFileSync(join(root, 'config.json'), JSON.stringify(tiny));
    store = join(root, 'hmc');
    cli('train', '--method', 'hmc', '--data', acdc, '--splits', join(root, 'splits.json'), '--out', store, '--config', join(root, 'config.json'));
    cli('export', '--model', store, '--out', join(root, 'hmc.onnx'));
    onnx = new Uint8Array(readFileSync(join(root, 'hmc.onnx')));
    writeFileSync(join(root, 'sliding.json'), JSON.stringify({ ...tiny, data: { ...tiny.data, window: 'sliding' } }));
    sliding = join(root, 'hmc-sliding');
    cli('train', '--method', 'hmc', '--data', acdc, '--splits', join(root, 'splits.json'), '--out', sliding, '--config', join(root, 'sliding.json'));
  }, 300_000);
  const LONG = 300_000;

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const worst = (ort: OrtLike, model: Uint8Array, volumes: { image: Volume<Float32Array>; source: string }[], passes?: number, from = store) =>
    worstAgreement(ort, model, from, volumes, { passes }, ort === (ortWeb as unknown as OrtLike) ? { executionProviders: ['wasm'] } : {});

  const report = (what: string, n: number, w: Agreement) =>
    process.stdout.write(
      `export-acdc ${what}, ${n} volumes: max abs diff probs ${w.probs.toExponential(2)}, entropy ${w.entropy.toExponential(2)}, MI ${w.mi.toExponential(2)}, ` +
        `scores ${w.scores.toExponential(2)}, ${w.segmentation} voxels segmented differently\n`,
    );
  /** Maps within 1e-4, the same segmentation, scores (sums over regions) within 1e-3. */
  const expectAgreement = (w: Agreement) => {
    expect(Math.max(w.probs, w.entropy, w.mi, w.expectedEntropy)).toBeLessThan(TOL);
    expect(w.segmentation).toBe(0);
    expect(w.scores).toBeLessThan(1e-3);
  };

  it('HMC (4 samples), onnxruntime-node: ACDC test volumes within 1e-4', async () => {
    const volumes = testCases.slice(0, volumeCount).map((c) => ({ image: readNiftiImage(c.image), source: c.image }));
    expect(volumes.length).toBe(Math.min(volumeCount, testCases.length));
    const w = await worst(ortNode as unknown as OrtLike, onnx, volumes);
    report('hmc K=4 onnxruntime-node', volumes.length, w);
    expect(w.maxMi).toBeGreaterThan(1e-3);
    expectAgreement(w);
  }, LONG);

  it('HMC, onnxruntime-web (wasm): an ACDC test volume within 1e-4', async () => {
    (ortWeb as unknown as { env: { wasm: { numThreads: number } } }).env.wasm.numThreads = 1;
    const volumes = testCases.slice(0, 1).map((c) => ({ image: readNiftiImage(c.image), source: c.image }));
    const w = await worst(ortWeb as unknown as OrtLike, onnx, volumes);
    report('hmc K=4 onnxruntime-web', volumes.length, w);
    expectAgreement(w);
  }, LONG);

  it('dropout at inference (4 samples × 2 fixed masks), onnxruntime-node: two ACDC test volumes within 1e-4', async () => {
    const volumes = testCases.slice(0, 2).map((c) => ({ image: readNiftiImage(c.image), source: c.image }));
    const w = await worst(ortNode as unknown as OrtLike, exportOnnx(store, { passes: 2 }).bytes, volumes, 2);
    report('hmc K=4 × 2 dropout masks onnxruntime-node', volumes.length, w);
    expect(w.maxMi).toBeGreaterThan(1e-3);
    expectAgreement(w);
  }, LONG);

  it('sliding windows (4 samples), onnxruntime-node: two ACDC test volumes, whole slices, within 1e-4', async () => {
    const volumes = testCases.slice(0, 2).map((c) => ({ image: readNiftiImage(c.image), source: c.image }));
    // Larger than the window along at least one axis, so that windows overlap.
    expect(volumes.some((v) => v.image.dims[0] > 128 || v.image.dims[1] > 128)).toBe(true);
    const w = await worst(ortNode as unknown as OrtLike, exportOnnx(sliding).bytes, volumes, undefined, sliding);
    report('hmc K=4 sliding windows onnxruntime-node', volumes.length, w);
    expect(w.maxMi).toBeGreaterThan(1e-3);
    expectAgreement(w);
  }, LONG);
});
