/**
 * Runs an exported ONNX model (onnxruntime-node or onnxruntime-web) on a volume as every consumer
 * of an export does (src/export/recipe.ts `predictWithExport`: the recipe's preprocessing, each
 * branch's softmax fused over the windows, the accumulator, the inverse mapping and the scores),
 * so that it can be compared value by value with `Predictor.predict`.
 */
import { predictWithExport, readExportInfo, readOnnxMetadata } from '../../src/export/index.js';
import type { Volume } from '../../src/data/index.js';
import { Predictor, type VolumePrediction } from '../../src/predict/index.js';

/** The part of onnxruntime's API (node and web alike) that the comparison uses. */
export interface OrtLike {
  readonly Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  readonly InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, unknown>, fetches?: readonly string[]): Promise<Record<string, { readonly data: unknown; readonly dims: readonly number[] }>>;
  release(): Promise<void>;
}

/** `model` (its bytes, for the metadata) run by `session` on `image`, through {@link predictWithExport}. */
export function runOnnxOnVolume(ort: OrtLike, session: OrtSession, model: Uint8Array, image: Volume<Float32Array>, source: string): Promise<VolumePrediction> {
  const info = readExportInfo(readOnnxMetadata(model), 'model.onnx');
  const S = info.recipe.size;
  const run = async (windows: Float32Array, b: number) =>
    (await session.run({ image: new ort.Tensor('float32', windows, [b, 1, S, S]) }, ['branch_probs'])).branch_probs.data as Float32Array;
  return predictWithExport(info, image, source, run);
}

/** max |a − b| over equal-length arrays (throws on a length mismatch or a non-finite value). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: lengths ${a.length} and ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!Number.isFinite(e)) throw new RangeError(`maxAbsDiff: element ${i} is not finite (${a[i]} vs ${b[i]})`);
    d = Math.max(d, e);
  }
  return d;
}

/** The largest value of an array (−Infinity when empty). */
export function maxValue(a: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) m = Math.max(m, a[i]);
  return m;
}

/** The largest differences between an ONNX run and our prediction, per output. */
export function compareWithPrediction(onnx: VolumePrediction, ours: VolumePrediction): Omit<Agreement, 'maxMi'> {
  let voxels = 0;
  for (let i = 0; i < ours.segmentation.length; i++) if (onnx.segmentation[i] !== ours.segmentation[i]) voxels++;
  if (onnx.segmentation.length !== ours.segmentation.length || onnx.slices.length !== ours.slices.length) {
    throw new RangeError(`compareWithPrediction: ${onnx.segmentation.length} and ${ours.segmentation.length} voxels, ${onnx.slices.length} and ${ours.slices.length} slices`);
  }
  // Every score of every slice and of the volume, by name (the disagreement scores too, with ≥ 2 passes).
  let scores = 0;
  [ours.volume, ...ours.slices].forEach((u, i) => {
    const o = (i === 0 ? onnx.volume : onnx.slices[i - 1]) as unknown as Record<string, number | null>;
    for (const [k, v] of Object.entries(u as unknown as Record<string, number | null>)) {
      const x = o[k];
      const same = x === v || (Number.isNaN(x) && Number.isNaN(v));
      scores = Math.max(scores, same ? 0 : typeof x === 'number' && typeof v === 'number' ? Math.abs(x - v) : Infinity);
    }
  });
  return {
    probs: maxAbsDiff(onnx.probabilities, ours.probabilities),
    entropy: maxAbsDiff(onnx.entropy, ours.entropy),
    mi: maxAbsDiff(onnx.mutualInformation, ours.mutualInformation),
    expectedEntropy: maxAbsDiff(onnx.expectedEntropy, ours.expectedEntropy),
    segmentation: voxels,
    scores,
  };
}

/** The one slice `z` of a volume, as a volume of its own. */
export function oneSlice<T extends Volume['data']>(v: Volume<T>, z: number): Volume<T> {
  const [nx, ny] = v.dims;
  return { ...v, dims: [nx, ny, 1], data: v.data.slice(z * nx * ny, (z + 1) * nx * ny) as T };
}

export interface Agreement {
  readonly probs: number;
  readonly entropy: number;
  readonly mi: number;
  readonly expectedEntropy: number;
  /** Voxels segmented differently. */
  readonly segmentation: number;
  /** The largest difference of any slice or volume score (Infinity: one is missing or not a number). */
  readonly scores: number;
  /** The largest MI of our prediction: > 0 shows that MI was really compared. */
  readonly maxMi: number;
}

/**
 * The largest differences, over `volumes`, between the exported `model` run by `ort` and our
 * prediction from `store` with `predict` (samples, passes: those the model was exported with);
 * each a maximum over the volumes.
 */
export async function worstAgreement(
  ort: OrtLike,
  model: Uint8Array,
  store: string,
  volumes: readonly { readonly image: Volume<Float32Array>; readonly source: string }[],
  predict: { readonly samples?: number; readonly passes?: number } = {},
  sessionOptions: object = {},
): Promise<Agreement> {
  const session = await ort.InferenceSession.create(model, sessionOptions);
  let w: Agreement = { probs: 0, entropy: 0, mi: 0, expectedEntropy: 0, segmentation: 0, scores: 0, maxMi: 0 };
  // One predictor for every volume: its dropout masks are drawn once, as the export's are.
  const predictor = new Predictor(store, predict);
  try {
    for (const { image, source } of volumes) {
      const ours = predictor.predict(image, source);
      const d: Agreement = { ...compareWithPrediction(await runOnnxOnVolume(ort, session, model, image, source), ours), maxMi: maxValue(ours.mutualInformation) };
      w = Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Math.max(v, d[k as keyof Agreement])])) as unknown as Agreement;
    }
  } finally {
    predictor.dispose();
    await session.release();
  }
  return w;
}
