/**
 * `hmcseg export`: the ONNX model, run by onnxruntime-node and onnxruntime-web (wasm), gives the
 * probabilities, entropy and mutual information of our own prediction (`Predictor`, what
 * `hmcseg predict` runs) on the same preprocessed input. Tiny U-Nets trained for a few steps on
 * phantoms (numeric agreement, not accuracy): HMC with BatchNorm, deterministic networks with
 * instance norm and with no norm, MC Dropout with dropout after every block, each on one centre
 * crop; and HMC on whole 40 × 40 slices by 24 × 24 sliding windows (3 × 3 per slice, as ACDC's
 * 216 × 256 slices by 128 × 128 windows). Every consumer runs the export through the one fusion
 * (src/export/recipe.ts `predictWithExport`): each branch's softmax fused over the windows, then
 * the accumulator and the scores; the comparison covers the maps, the segmentation and every
 * slice and volume score, the disagreement scores included.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSplits, openDataset, readNiftiImage, writePhantomDataset, writeSplits, type Volume } from '../src/data/index.js';
import { addPosteriorGraph, exportOnnx, GraphBuilder, METADATA_KEYS, readExportInfo, readOnnxMetadata, type PreprocessRecipe } from '../src/export/index.js';
import { UNET_DEFAULTS } from '../src/models/index.js';
import { openSampleStore, type Method } from '../src/bayes/index.js';
import { parseTrainConfig, train, type TrainConfigInput } from '../src/train/index.js';
import { oneSlice, worstAgreement, type Agreement, type OrtLike } from './helpers/onnx.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/src/cli/main.js');
const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const TOL = 1e-4;
/** Scores are sums over regions (entropy sums, volumes in ml): a relative 1e-5 of float32 rounding. */
const SCORE_TOL = 1e-3;

let root: string;
let images: string[];
const stores: Record<string, string> = {};

async function trainStore(name: string, method: Method, config: TrainConfigInput): Promise<void> {
  stores[name] = join(root, name);
  await train({ method, config: parseTrainConfig(config), data: join(root, 'phantom'), splits: join(root, 'splits.json'), out: stores[name] });
}

const base = (model: TrainConfigInput['model'], over: TrainConfigInput = {}): TrainConfigInput => ({
  seed: 3,
  threads: 1,
  data: { labels: 'acdc', size: 32, batchSize: 4, workers: 0, window: 'centre' },
  model: { depth: 3, baseWidth: 4, ...model },
  optim: { steps: 8, lr: 0.05 },
  ...over,
});

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hmcseg-export-'));
  const data = join(root, 'phantom');
  writePhantomDataset({ out: data, cases: 4, contrast: 'ssfp', seed: 11, size: 40, slices: 3 });
  const dataset = openDataset(data);
  writeSplits(join(root, 'splits.json'), makeSplits(dataset, { seed: 0, fractions: { train: 0.5, val: 0.25, test: 0.25 } }));
  images = dataset.cases.map((c) => c.image);
  await trainStore('hmc', 'hmc', base({}, { hmc: { cycles: 2, samplesPerCycle: 2, beta: 0.5, sampleFromCycle: 0 } }));
  await trainStore('instance', 'deterministic', base({ norm: 'instance' }));
  await trainStore('none', 'deterministic', base({ norm: 'none' }));
  await trainStore('mcd', 'mcdropout', base({ dropoutPlacement: 'all' }, { mcdropout: { rate: 0.3, passes: 3 } }));
  await trainStore(
    'mcdSliding',
    'mcdropout',
    base({ dropoutPlacement: 'all' }, { data: { labels: 'acdc', size: 24, batchSize: 4, workers: 0, window: 'sliding' }, mcdropout: { rate: 0.3, passes: 3 } }),
  );
  await trainStore(
    'sliding',
    'hmc',
    base({}, { data: { labels: 'acdc', size: 24, batchSize: 4, workers: 0, window: 'sliding' }, hmc: { cycles: 2, samplesPerCycle: 2, beta: 0.5, sampleFromCycle: 0 } }),
  );
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const WASM = { executionProviders: ['wasm'] };
const nodeOrt = ortNode as unknown as OrtLike;
const webOrt = ortWeb as unknown as OrtLike;

/** Largest differences between the export (with `opts`) and our prediction over `volumes`. */
function agreement(
  ort: OrtLike,
  store: string,
  volumes: readonly { image: Volume<Float32Array>; source: string }[],
  opts: { samples?: number; passes?: number; seed?: number } = {},
): Promise<Agreement> {
  const { seed: _seed, ...predict } = opts;
  return worstAgreement(ort, exportOnnx(store, opts).bytes, store, volumes, predict, ort === webOrt ? WASM : {});
}

const volumes = () => images.slice(0, 2).map((source) => ({ image: readNiftiImage(source), source }));

/** The export agrees with our prediction: maps within {@link TOL}, the same segmentation, the scores. */
function expectAgreement(d: Agreement, what: string): void {
  expect(Math.max(d.probs, d.entropy, d.mi, d.expectedEntropy), what).toBeLessThan(TOL);
  expect(d.segmentation, `${what}: voxels segmented differently`).toBe(0);
  expect(d.scores, `${what}: scores`).toBeLessThan(SCORE_TOL);
}

const printed = (what: string, d: Agreement) =>
  process.stdout.write(
    `export ${what}: max abs diff probs ${d.probs.toExponential(2)}, entropy ${d.entropy.toExponential(2)}, MI ${d.mi.toExponential(2)}, ` +
      `scores ${d.scores.toExponential(2)}, ${d.segmentation} voxels segmented differently\n`,
  );

describe('hmcseg export, verified against our prediction', () => {
  it('HMC, BatchNorm, 4 samples: onnxruntime-node gives the probabilities, entropy and MI of hmcseg predict', async () => {
    const d = await agreement(nodeOrt, stores.hmc, volumes());
    printed('hmc K=4 (onnxruntime-node)', d);
    expect(d.maxMi).toBeGreaterThan(1e-3); // the samples disagree, so MI is really compared
    expectAgreement(d, 'hmc');
  });

  it('HMC on whole slices by sliding windows: onnxruntime-node through the shared fusion gives hmcseg predict on the input grid', async () => {
    const d = await agreement(nodeOrt, stores.sliding, volumes());
    printed('hmc K=4 sliding windows (onnxruntime-node)', d);
    expect(d.maxMi).toBeGreaterThan(1e-3);
    expectAgreement(d, 'sliding');
    const two = await agreement(nodeOrt, stores.sliding, volumes().slice(0, 1), { samples: 2 });
    expectAgreement(two, 'sliding --samples 2');
    const info = readExportInfo(readOnnxMetadata(exportOnnx(stores.sliding).bytes), 'sliding.onnx');
    expect(info.recipe).toMatchObject({ window: 'sliding', size: 24, overlap: 0.5, sigmaScale: 0.125 });
    expect(info.branches).toBe(4);
  });

  it('--samples 2 takes the last two samples, as predict --samples 2 does', async () => {
    const d = await agreement(nodeOrt, stores.hmc, volumes().slice(0, 1), { samples: 2 });
    expectAgreement(d, '--samples 2');
  });

  it('instance norm and no norm (one network each): same outputs, and MI exactly 0', async () => {
    for (const name of ['instance', 'none']) {
      const d = await agreement(nodeOrt, stores[name], volumes().slice(0, 1));
      expectAgreement(d, name);
      expect(d.mi, name).toBe(0);
      expect(d.maxMi, name).toBe(0);
    }
  });

  it('MC Dropout: the fixed masks reproduce hmcseg predict on whole volumes, centre crop and sliding windows; another seed gives other masks', async () => {
    const ort = nodeOrt;
    const d = await agreement(ort, stores.mcd, volumes());
    printed('mcdropout 3 masks (onnxruntime-node)', d);
    expect(d.maxMi).toBeGreaterThan(1e-3);
    expectAgreement(d, 'mcdropout');
    const sliding = await agreement(ort, stores.mcdSliding, volumes());
    printed('mcdropout 3 masks, sliding windows (onnxruntime-node)', sliding);
    expect(sliding.maxMi).toBeGreaterThan(1e-3);
    expectAgreement(sliding, 'mcdropout, sliding windows');
    const image = readNiftiImage(images[0]);
    const slices = [{ image: oneSlice(image, 0), source: `${images[0]} z=0` }];
    const off = await agreement(ort, stores.mcd, volumes().slice(0, 1), { passes: 1 }); // dropout off, as predict --passes 1
    expectAgreement(off, 'mcdropout --passes 1');
    expect(off.maxMi).toBe(0);
    const other = await agreement(ort, stores.mcd, slices, { seed: 12345 });
    expect(other.probs).toBeGreaterThan(1e-3);
    const meta = readOnnxMetadata(exportOnnx(stores.mcd, { seed: 12345 }).bytes);
    expect(JSON.parse(meta[METADATA_KEYS.dropout])).toEqual({ p: 0.3, seed: 12345, masksPerSample: 3 });
    expect(JSON.parse(meta[METADATA_KEYS.model])).toEqual(openSampleStore(stores.mcd).manifest.model); // the store's, seed included
  });

  it('onnxruntime-web (wasm) in Node gives the same outputs', async () => {
    (ortWeb as unknown as { env: { wasm: { numThreads: number } } }).env.wasm.numThreads = 1;
    const ort = webOrt;
    const d = await agreement(ort, stores.hmc, volumes().slice(0, 1));
    printed('hmc K=4 (onnxruntime-web wasm)', d);
    expectAgreement(d, 'hmc, wasm');
    const mcd = await agreement(ort, stores.mcd, [{ image: oneSlice(readNiftiImage(images[1]), 1), source: images[1] }]);
    expectAgreement(mcd, 'mcdropout, wasm');
    const sliding = await agreement(ort, stores.sliding, volumes().slice(1, 2));
    printed('hmc K=4 sliding windows (onnxruntime-web wasm)', sliding);
    expectAgreement(sliding, 'sliding, wasm');
  });
});

describe('the exported model', () => {
  it('has the stable I/O contract and the preprocessing recipe in metadata_props', async () => {
    const out = join(root, 'hmc.onnx');
    const printed = JSON.parse(cli('export', '--model', stores.hmc, '--out', out, '--samples', '3'));
    expect(printed).toMatchObject({ out, branches: 3, size: 32, window: 'centre', classes: 4 });
    const bytes = new Uint8Array(readFileSync(out));
    const s = await ortNode.InferenceSession.create(bytes);
    expect(s.inputNames).toEqual(['image']);
    expect(s.outputNames).toEqual(['branch_probs', 'probs', 'entropy', 'mutual_information']);
    const r = await s.run({ image: new ortNode.Tensor('float32', new Float32Array(2 * 32 * 32).fill(0.5), [2, 1, 32, 32]) });
    await s.release();
    expect(r.branch_probs.dims).toEqual([2, 3, 4, 32, 32]);
    expect(r.probs.dims).toEqual([2, 4, 32, 32]);
    expect(r.entropy.dims).toEqual([2, 32, 32]);
    expect(r.mutual_information.dims).toEqual([2, 32, 32]);
    const p = r.probs.data as Float32Array;
    for (let i = 0; i < 32 * 32; i++) expect(p[i] + p[i + 1024] + p[i + 2048] + p[i + 3072]).toBeCloseTo(1, 5);
    // probs is the mean of the branches' softmaxes: slice n, class c, pixel i of branch k at ((n·3 + k)·4 + c)·1024 + i.
    const bp = r.branch_probs.data as Float32Array;
    for (const [n, c, i] of [[0, 0, 0], [1, 2, 517], [1, 3, 1023]]) {
      const mean = [0, 1, 2].reduce((a, k) => a + bp[((n * 3 + k) * 4 + c) * 1024 + i], 0) / 3;
      expect(p[(n * 4 + c) * 1024 + i]).toBeCloseTo(mean, 6);
    }

    const meta = readOnnxMetadata(bytes);
    const manifest = openSampleStore(stores.hmc).manifest;
    expect(meta[METADATA_KEYS.format]).toBe('hmcseg-posterior-onnx/1');
    expect(meta[METADATA_KEYS.method]).toBe('hmc');
    expect(JSON.parse(meta[METADATA_KEYS.classes])).toEqual(['background', 'LV', 'MYO', 'RV']);
    expect(meta[METADATA_KEYS.configHash]).toBe((manifest.training as { configHash: string }).configHash);
    const recipe = JSON.parse(meta[METADATA_KEYS.preprocess]) as PreprocessRecipe;
    expect(recipe).toMatchObject({ size: 32, window: 'centre', overlap: null, sigmaScale: null, targetSpacing: manifest.preprocess.targetSpacing, clipPercentiles: [0.5, 99.5] });
    expect(Object.keys(JSON.parse(meta[METADATA_KEYS.outputs]))).toEqual(['branch_probs', 'probs', 'entropy', 'mutual_information']);
    const samples = JSON.parse(meta[METADATA_KEYS.samples]);
    expect(samples.files).toEqual(manifest.samples.slice(-3).map((x) => x.file));
    expect(JSON.parse(meta[METADATA_KEYS.dropout])).toBeNull();
  });

  it('BAD CALL - sample counts out of range, passes without dropout, not a store, an unknown window: errors name the store', () => {
    expect(() => exportOnnx(stores.hmc, { samples: 5 })).toThrow(/hmc: --samples must be an integer in 1\.\.4, got 5/);
    expect(() => exportOnnx(stores.hmc, { samples: 0 })).toThrow(/--samples/);
    expect(() => exportOnnx(stores.hmc, { passes: 2 })).toThrow(/--passes 2 needs a model with dropout/);
    expect(() => exportOnnx(root)).toThrow(/not a sample store/);
    const bogus = join(root, 'hmc-bogus-window');
    cpSync(stores.hmc, bogus, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(bogus, 'manifest.json'), 'utf8'));
    writeFileSync(join(bogus, 'manifest.json'), JSON.stringify({ ...manifest, preprocess: { ...manifest.preprocess, window: 'tiles' } }));
    expect(() => exportOnnx(bogus)).toThrow(/hmc-bogus-window\/manifest\.json: preprocess\.window 'tiles' is neither 'centre' nor 'sliding'/);
  });

  it('BAD CALL - metadata without a recipe, an old recipe (no window), a sliding recipe without overlap: errors name the model and the key', () => {
    const meta = readOnnxMetadata(exportOnnx(stores.sliding).bytes);
    expect(readExportInfo(meta, 'm.onnx').recipe.window).toBe('sliding');
    const { [METADATA_KEYS.preprocess]: recipe, ...rest } = meta;
    expect(() => readExportInfo(rest, 'm.onnx')).toThrow('m.onnx: not an hmcseg export (no hmcseg.preprocess in its metadata)');
    const { window: _w, overlap: _o, sigmaScale: _s, ...old } = JSON.parse(recipe) as PreprocessRecipe;
    expect(() => readExportInfo({ ...meta, [METADATA_KEYS.preprocess]: JSON.stringify(old) }, 'old.onnx')).toThrow(/old\.onnx: hmcseg\.preprocess is not a recipe this version knows[^]*window/);
    const noOverlap = { ...(JSON.parse(recipe) as PreprocessRecipe), overlap: null };
    expect(() => readExportInfo({ ...meta, [METADATA_KEYS.preprocess]: JSON.stringify(noOverlap) }, 'm.onnx')).toThrow(/overlap and sigmaScale are numbers for window 'sliding'/);
    expect(() => readExportInfo({ ...meta, [METADATA_KEYS.samples]: '{"count": 4}' }, 'm.onnx')).toThrow(/m\.onnx: hmcseg\.samples has no positive integer count and passes/);
  });

  it('BAD CALL - a sample missing a tensor or with a misshapen one: the error names the file and the tensor', () => {
    const config = { ...UNET_DEFAULTS, depth: 2, baseWidth: 2 };
    const tensors: Record<string, { data: Float32Array; shape: number[] }> = {
      'enc0.conv1.weight': { data: new Float32Array(2 * 9), shape: [2, 1, 3, 3] },
      'enc0.bn1.weight': { data: new Float32Array(3), shape: [3] },
    };
    const g = () => {
      const b = new GraphBuilder();
      return { b, x: b.input('image', ['N', 1, 8, 8]) };
    };
    const { b, x } = g();
    expect(() => addPosteriorGraph(b, config, x, [{ source: 'a.safetensors', tensors }], [{ sample: 0 }], 8)).toThrow(
      "a.safetensors: tensor 'enc0.bn1.weight' has shape [3], the model configuration needs [2]",
    );
    const { b: b2, x: x2 } = g();
    const fixed = { ...tensors, 'enc0.bn1.weight': { data: new Float32Array(2), shape: [2] } };
    expect(() => addPosteriorGraph(b2, config, x2, [{ source: 'a.safetensors', tensors: fixed }], [{ sample: 0 }], 8)).toThrow(
      "a.safetensors: no tensor 'enc0.bn1.bias'",
    );
  });
});
