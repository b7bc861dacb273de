/**
 * Runs an exported ONNX model (onnxruntime-node or onnxruntime-web) on a volume preprocessed as the
 * store says, and maps its outputs back onto the input grid exactly as `Predictor.predict` does,
 * so that the two can be compared value by value.
 */
import { openSampleStore } from '../../src/bayes/store.js';
import { invertMap, invertProbabilities, preprocessVolume, type Volume } from '../../src/data/index.js';
import type { VolumePrediction } from '../../src/predict/predict.js';
import { preprocessOptions, type PreprocessConfig } from '../../src/train/slices.js';

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
  /** Mean softmax, [slice][class][y][x], on the input grid. */
  readonly probabilities: Float32Array;
  readonly entropy: Float32Array;
  readonly mutualInformation: Float32Array;
  /** Output dims as onnxruntime returned them (preprocessed grid). */
  readonly dims: { readonly probs: readonly number[]; readonly entropy: readonly number[]; readonly mutualInformation: readonly number[] };
}

/** Preprocesses `image` as the store's manifest says, runs `session` on all slices, inverts the outputs. */
export async function runOnnxOnVolume(ort: OrtLike, session: OrtSession, storeDir: string, image: Volume, source: string): Promise<OnnxVolumeOutputs> {
  const pre = preprocessVolume(image, preprocessOptions(openSampleStore(storeDir).manifest.preprocess as unknown as PreprocessConfig, source));
  const [mx, my] = pre.transform.slice.outputDims;
  const r = await session.run({ image: new ort.Tensor('float32', pre.image, [pre.transform.nz, 1, my, mx]) });
  const f32 = (name: string) => r[name].data as Float32Array;
  return {
    probabilities: invertProbabilities(f32('probs'), r.probs.dims[1], pre.transform),
    entropy: invertMap(f32('entropy'), pre.transform),
    mutualInformation: invertMap(f32('mutual_information'), pre.transform),
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

/** The largest differences between an ONNX run and our prediction, per output. */
export function compareWithPrediction(onnx: OnnxVolumeOutputs, ours: VolumePrediction): { probs: number; entropy: number; mi: number } {
  return {
    probs: maxAbsDiff(onnx.probabilities, ours.probabilities),
    entropy: maxAbsDiff(onnx.entropy, ours.entropy),
    mi: maxAbsDiff(onnx.mutualInformation, ours.mutualInformation),
  };
}

/** The one slice `z` of a volume, as a volume of its own. */
export function oneSlice<T extends Volume['data']>(v: Volume<T>, z: number): Volume<T> {
  const [nx, ny] = v.dims;
  return { ...v, dims: [nx, ny, 1], data: v.data.slice(z * nx * ny, (z + 1) * nx * ny) as T };
}
