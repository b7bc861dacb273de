/**
 * Export of a sample store's posterior predictive as one ONNX model (`hmcseg export`).
 *
 * I/O contract (stable; the browser viewer depends on it):
 * - input `image`: float32 N×1×S×S, already preprocessed (the recipe is in the metadata, key
 *   `hmcseg.preprocess`; S is its `size`): N centre crops, or N windows of whole slices;
 * - outputs `branch_probs` N×K×C×S×S (each branch's softmax), `probs` N×C×S×S (their mean),
 *   `entropy` and `mutual_information` N×S×S (nats; see src/uncertainty/entropy.ts).
 *
 * A store predicting one centre crop (recipe `window: 'centre'`) gives `hmcseg predict`'s maps
 * from `probs`, `entropy` and `mutual_information` directly. A store predicting whole slices
 * (`window: 'sliding'`) needs its windows fused per branch before the branches are averaged (MI
 * is the disagreement between branches, not between windows): the consumer tiles each slice with
 * windows (`overlap`), fuses each branch's softmax with the Gaussian weights (`sigmaScale`), then
 * averages; `src/predict/branches.ts` does exactly that from `branch_probs`, for both recipes, and
 * is what the viewer and the tests run. The three maps remain right for one window.
 *
 * The branches are the last K weight samples (as `hmcseg predict --samples K` takes them) times
 * the dropout passes per sample (MC Dropout; 1 otherwise). Each pass is one dropout network: fixed
 * masks (`UNet.drawDropoutMasks`) drawn from the generator of a U-Net built with the stated seed
 * after its weight initialisation, sample by sample, pass by pass, block by block, which is how
 * `hmcseg predict` draws the masks it applies to every slice, window and volume. With the model's
 * own seed (the default) the export therefore gives exactly `hmcseg predict`'s posterior.
 */
import { loadSample, openSampleStore, type SampleStore } from '../bayes/store.js';
import { CLASSES } from '../data/labels.js';
import { UNet, UNET_DEFAULTS, type UNetConfig } from '../models/unet.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { PreprocessConfig } from '../data/preprocess.js';
import { GraphBuilder, ONNX_OPSET } from './onnx-graph.js';
import { unetBlocks } from '../models/unet.js';
import { addPosteriorGraph, type Branch, type WeightSample } from './unet-onnx.js';
import { GAUSSIAN_SIGMA_SCALE, SLIDING_OVERLAP } from '../predict/sliding.js';
import { METADATA_KEYS, type PreprocessRecipe } from './recipe.js';

export interface ExportOptions {
  /** The last K weight samples (default: all). */
  readonly samples?: number;
  /** Dropout passes (fixed masks) per weight sample (default: the store's; must be 1 without dropout). */
  readonly passes?: number;
  /** Seed of the dropout masks (default: the model's seed, which matches `hmcseg predict`). */
  readonly seed?: number;
}

export const EXPORT_FORMAT = 'hmcseg-posterior-onnx/1';

export interface OnnxExport {
  readonly bytes: Uint8Array;
  readonly metadata: Readonly<Record<string, string>>;
  /** Branches in the graph (weight samples × passes). */
  readonly branches: number;
  readonly size: number;
  /** How consumers tile slices (the recipe's `window`). */
  readonly window: PreprocessRecipe['window'];
  readonly numClasses: number;
}

function checkCount(v: number, max: number, what: string, dir: string): void {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`${dir}: ${what} must be an integer in 1..${max}, got ${v}`);
}

function loadWeightSample(store: SampleStore, index: number): WeightSample {
  const tensors = loadSample(store, index);
  try {
    return {
      source: `${store.dir}/${store.manifest.samples[index].file}`,
      tensors: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { data: t.toFloat32(), shape: t.shape }])),
    };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** Dropout masks for `count` passes, drawn from `model`'s generator as prediction draws them (see the file comment). */
function drawMasks(model: UNet, size: number, count: number): Record<string, Float32Array>[] {
  return Array.from({ length: count }, () => {
    const masks = model.drawDropoutMasks(size);
    try {
      return Object.fromEntries(Object.entries(masks).map(([name, m]) => [name, m.toFloat32()]));
    } finally {
      for (const m of Object.values(masks)) m.dispose();
    }
  });
}

/** The posterior predictive of the store in `storeDir` as an ONNX model (see the file comment). */
export function exportOnnx(storeDir: string, opts: ExportOptions = {}): OnnxExport {
  const store = openSampleStore(storeDir);
  const m = store.manifest;
  const available = m.samples.length;
  if (available === 0) throw new Error(`${storeDir}: the sample store holds no samples (was training interrupted?)`);
  const k = opts.samples ?? available;
  checkCount(k, available, '--samples', storeDir);
  const passes = opts.passes ?? m.passesPerSample;
  checkCount(passes, 10000, '--passes', storeDir);
  const pre = m.preprocess as unknown as PreprocessConfig;
  if (!Number.isInteger(pre.size) || pre.size < 1) throw new Error(`${storeDir}/manifest.json: preprocess.size is not a positive integer`);
  const window = pre.window ?? 'centre';
  if (window !== 'centre' && window !== 'sliding') throw new Error(`${storeDir}/manifest.json: preprocess.window '${String(window)}' is neither 'centre' nor 'sliding'`);
  const config: UNetConfig = { ...UNET_DEFAULTS, ...(m.model as Partial<UNetConfig>) };
  const maskSeed = opts.seed ?? config.seed;
  // Built as prediction builds it (weights initialised from the seed), for its generator only.
  const model = new UNet({ ...config, seed: maskSeed });
  try {
    const f = 2 ** (config.depth - 1);
    if (pre.size % f !== 0) throw new Error(`${storeDir}: input size ${pre.size} is not divisible by 2^(depth−1) = ${f}`);
    // As in prediction: dropout at inference only with more than one pass per sample.
    const hasDropout = passes > 1;
    if (hasDropout && !unetBlocks(config).some((b) => b.dropout)) {
      throw new RangeError(`${storeDir}: --passes ${passes} needs a model with dropout; this one has none`);
    }
    const indices = Array.from({ length: k }, (_, i) => available - k + i);
    const samples = indices.map((i) => loadWeightSample(store, i));
    const branches: Branch[] = [];
    for (let s = 0; s < k; s++) {
      if (hasDropout) for (const masks of drawMasks(model, pre.size, passes)) branches.push({ sample: s, masks });
      else branches.push({ sample: s });
    }

    const g = new GraphBuilder();
    const S = pre.size;
    const C = config.numClasses;
    const image = g.input('image', ['N', config.inChannels, S, S]);
    const out = addPosteriorGraph(g, config, image, samples, branches, S);
    g.output(out.branchProbs, ['N', branches.length, C, S, S]);
    g.output(out.probs, ['N', C, S, S]);
    g.output(out.entropy, ['N', S, S]);
    g.output(out.mutualInformation, ['N', S, S]);

    const recipe: PreprocessRecipe = {
      size: S,
      window,
      overlap: window === 'sliding' ? SLIDING_OVERLAP : null,
      sigmaScale: window === 'sliding' ? GAUSSIAN_SIGMA_SCALE : null,
      targetSpacing: pre.targetSpacing,
      unitSpacingIsUnknown: true,
      clipPercentiles: [0.5, 99.5], // preprocessVolume's default, which training and prediction use
      normalisation: 'zscore-clipped-volume',
      pad: 'normalised-lower-clip',
      centre: 'image',
      layout: 'NCHW, H = y, W = x',
    };
    const training = m.training as { configHash?: unknown };
    const metadata: Record<string, string> = {
      [METADATA_KEYS.format]: EXPORT_FORMAT,
      [METADATA_KEYS.method]: m.method,
      [METADATA_KEYS.classes]: JSON.stringify(CLASSES.slice(0, C)),
      [METADATA_KEYS.preprocess]: JSON.stringify(recipe),
      [METADATA_KEYS.configHash]: typeof training.configHash === 'string' ? training.configHash : '',
      [METADATA_KEYS.model]: JSON.stringify(config),
      [METADATA_KEYS.samples]: JSON.stringify({ count: k, passes, files: indices.map((i) => m.samples[i].file), steps: indices.map((i) => m.samples[i].step) }),
      [METADATA_KEYS.dropout]: JSON.stringify(hasDropout ? { p: config.dropout, seed: maskSeed, masksPerSample: passes } : null),
      [METADATA_KEYS.outputs]: JSON.stringify({
        branch_probs: `each branch's softmax, N×K×C×S×S (K = ${branches.length}, samples × masks); fuse windows per branch before averaging`,
        probs: 'mean softmax over the branches, N×C×S×S',
        entropy: 'predictive entropy, nats, N×S×S',
        mutual_information: 'entropy − mean branch entropy, clamped at 0, nats, N×S×S',
      }),
    };
    const bytes = g.encode({
      graphName: `hmcseg-${m.method}`,
      producerVersion: '0.1.0',
      docString: `hmcseg ${m.method} posterior predictive, ${branches.length} branches, opset ${ONNX_OPSET}`,
      metadata,
    });
    return { bytes, metadata, branches: branches.length, size: S, window, numClasses: C };
  } finally {
    model.dispose();
  }
}

/** {@link exportOnnx} written to `out`. */
export function writeOnnxExport(storeDir: string, out: string, opts: ExportOptions = {}): OnnxExport {
  const result = exportOnnx(storeDir, opts);
  writeFileAtomic(out, result.bytes);
  return result;
}
