/**
 * Runs an exported ONNX model (onnxruntime-node or onnxruntime-web) on a volume preprocessed as the
 * store says, and maps its outputs back onto the input grid exactly as `Predictor.predict` does,
 * so that the two can be compared value by value.
 */
import { openSampleStore } from '../../src/bayes/store.js';
import { preprocessOptions, preprocessVolume, type PreprocessConfig, type Volume } from '../../src/data/index.js';
import { assemblePrediction, copySlicesClassMajor, Predictor, type GridPrediction, type VolumePrediction } from '../../src/predict/index.js';

/** The part of onnxruntime's API (node and web alike) that the comparison uses. */
export interface OrtLike {
  readonly Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  readonly InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { readonly data: unknown; readonly dims: readonly number[] }>>;
  release(): Promise<void>;
}

export interface OnnxVolumeOutputs {
  /** The prediction on the input grid, assembled as {@link Predictor} assembles its own. */
  readonly prediction: GridPrediction;
  /** Output dims as onnxruntime returned them (preprocessed grid). */
  readonly dims: { readonly probs: readonly number[]; readonly entropy: readonly number[]; readonly mutualInformation: readonly number[] };
}

/** Preprocesses `image` as the store's manifest says, runs `session` on all slices, assembles the prediction on the input grid. */
export async function runOnnxOnVolume(ort: OrtLike, session: OrtSession, storeDir: string, image: Volume, source: string): Promise<OnnxVolumeOutputs> {
  const pre = preprocessVolume(image, preprocessOptions(openSampleStore(storeDir).manifest.preprocess as unknown as PreprocessConfig, source));
  const [mx, my] = pre.transform.slice.outputDims;
  const nz = pre.transform.nz;
  const r = await session.run({ image: new ort.Tensor('float32', pre.image, [nz, 1, my, mx]) });
  const f32 = (name: string) => r[name].data as Float32Array;
  const C = r.probs.dims[1];
  const mean = new Float32Array(C * nz * mx * my);
  copySlicesClassMajor(f32('probs'), nz, C, mx * my, mean, nz, 0);
  return {
    prediction: assemblePrediction({ mean, predictiveEntropy: f32('entropy'), mutualInformation: f32('mutual_information') }, C, pre.transform, image.dims),
    dims: { probs: r.probs.dims, entropy: r.entropy.dims, mutualInformation: r.mutual_information.dims },
  };
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
export function compareWithPrediction(onnx: OnnxVolumeOutputs, ours: VolumePrediction): { probs: number; entropy: number; mi: number } {
  return {
    probs: maxAbsDiff(onnx.prediction.probabilities, ours.probabilities),
    entropy: maxAbsDiff(onnx.prediction.entropy, ours.entropy),
    mi: maxAbsDiff(onnx.prediction.mutualInformation, ours.mutualInformation),
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
  /** The largest MI of our prediction: > 0 shows that MI was really compared. */
  readonly maxMi: number;
}

/**
 * The largest differences, over `volumes`, between the exported `model` run by `ort` and our
 * prediction from `store` with `predict` (samples, passes: those the model was exported with).
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
  const w = { probs: 0, entropy: 0, mi: 0, maxMi: 0 };
  try {
    for (const { image, source } of volumes) {
      // A fresh predictor per volume: dropout masks come from the model's generator, which the
      // export replays from the start (a second volume would get the masks that follow).
      const predictor = new Predictor(store, predict);
      try {
        const ours = predictor.predict(image, source);
        const d = compareWithPrediction(await runOnnxOnVolume(ort, session, store, image, source), ours);
        w.probs = Math.max(w.probs, d.probs);
        w.entropy = Math.max(w.entropy, d.entropy);
        w.mi = Math.max(w.mi, d.mi);
        w.maxMi = Math.max(w.maxMi, maxValue(ours.mutualInformation));
      } finally {
        predictor.dispose();
      }
    }
  } finally {
    await session.release();
  }
  return w;
}
