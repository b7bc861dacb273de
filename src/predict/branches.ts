/**
 * Prediction from a model that returns every branch's softmax at once (an ONNX export's
 * `branch_probs`, branches = weight samples × dropout masks), as `hmcseg predict` predicts from a
 * store: each branch is one pass. Windows tile the preprocessed slices (one window per slice for a
 * centre crop, Gaussian-weighted sliding windows for whole slices), each branch's softmax is fused
 * over the windows ({@link WindowFusion}), the branches enter the {@link UncertaintyAccumulator}
 * in their order (the order of `Predictor`'s passes: sample by sample, pass by pass), each
 * branch's arg-max on the input grid enters the disagreement scores, and
 * {@link assembleVolumePrediction} makes the prediction. The accumulator is pixel-wise, so slices
 * are worked through a few at a time and the same numbers come out as from whole volumes.
 *
 * Memory: the running maps of the volume (mean and three maps), one byte per input voxel per
 * branch (the disagreement scores need every pair), and the fused softmaxes of the slices in work
 * (branches × classes planes per slice), never every branch's whole volume.
 *
 * Pure (no engine, no files): the viewer's page bundles it; `forward` may be asynchronous.
 */
import { invertProbabilities, type PreprocessedVolume } from '../data/preprocess.js';
import type { Volume } from '../data/volume.js';
import { argmax } from '../metrics/calibration.js';
import { UncertaintyAccumulator } from '../uncertainty/entropy.js';
import type { ScoreName, ScoreOptions } from '../uncertainty/scores.js';
import { assembleVolumePrediction, passDisagreement } from './assemble.js';
import type { Postprocess } from './postprocess.js';
import type { VolumePrediction } from './predict.js';
import { WindowFusion, windowStarts } from './sliding.js';

/** Every branch's softmax of `b` windows of `size × size`: b × branches × classes × size × size. */
export type BranchForward = (windows: Float32Array, b: number) => Float32Array | Promise<Float32Array>;

export interface BranchPredictionOptions {
  readonly branches: number;
  readonly numClasses: number;
  /** The network's input size S (the window). */
  readonly size: number;
  /** Sliding windows' overlap and Gaussian σ scale (defaults: prediction's; irrelevant with one window per slice). */
  readonly overlap?: number;
  readonly sigmaScale?: number;
  /** Windows per forward call, at most (default 16); slices are fused as many at a time as fill one call. */
  readonly batchSize?: number;
  readonly scores?: ScoreOptions;
  readonly warningScore: ScoreName;
  /** Post-processing of the segmentation (default `'none'`); the scores read the arg-max before it. */
  readonly postprocess?: Postprocess;
  /** Called with (slices done, slices) after each group of slices. */
  readonly progress?: (done: number, total: number) => void;
}

/**
 * Segments `image`, preprocessed as `pre`, with `forward` (see the file comment).
 *
 * @throws {RangeError} when `forward` returns the wrong number of values, or a non-finite one
 */
export async function predictFromBranches(
  image: Volume,
  pre: PreprocessedVolume,
  forward: BranchForward,
  o: BranchPredictionOptions,
): Promise<VolumePrediction> {
  const { branches: B, numClasses: C, size: S } = o;
  const [mx, my] = pre.transform.slice.outputDims;
  const nz = pre.transform.nz;
  const plane = mx * my;
  const [nx, ny] = image.dims;
  const batch = o.batchSize ?? 16;
  const perSlice = windowStarts(mx, S, o.overlap).length * windowStarts(my, S, o.overlap).length;
  const group = Math.max(1, Math.floor(batch / perSlice));
  const mean = new Float32Array(C * nz * plane);
  const predictiveEntropy = new Float32Array(nz * plane);
  const expectedEntropy = new Float32Array(nz * plane);
  const mutualInformation = new Float32Array(nz * plane);
  const disagreement = passDisagreement(image, B);
  const labels = disagreement === undefined ? [] : Array.from({ length: B }, () => new Uint8Array(nx * ny * nz));
  o.progress?.(0, nz);
  for (let z0 = 0; z0 < nz; z0 += group) {
    const g = Math.min(group, nz - z0);
    const fusion = new WindowFusion(pre.image.subarray(z0 * plane, (z0 + g) * plane), g, mx, my, {
      window: [S, S],
      numClasses: C,
      passes: B,
      batchSize: batch,
      ...(o.overlap === undefined ? {} : { overlap: o.overlap }),
      ...(o.sigmaScale === undefined ? {} : { sigmaScale: o.sigmaScale }),
    });
    for (let i = 0; i < fusion.batchCount; i++) {
      const { input, count } = fusion.windows(i);
      fusion.add(i, await forward(input, count));
    }
    const acc = new UncertaintyAccumulator({ numClasses: C, numPixels: g * plane });
    fusion.result().forEach((probs, b) => {
      acc.add(probs);
      labels[b]?.set(argmax(invertProbabilities(probs, C, pre.transform.slice), C), z0 * nx * ny);
    });
    const maps = acc.result();
    for (let c = 0; c < C; c++) mean.set(maps.mean.subarray(c * g * plane, (c + 1) * g * plane), c * nz * plane + z0 * plane);
    predictiveEntropy.set(maps.predictiveEntropy, z0 * plane);
    expectedEntropy.set(maps.expectedEntropy, z0 * plane);
    mutualInformation.set(maps.mutualInformation, z0 * plane);
    o.progress?.(z0 + g, nz);
  }
  for (const l of labels) disagreement?.add(l);
  return assembleVolumePrediction(
    { mean, predictiveEntropy, expectedEntropy, mutualInformation, samples: B },
    C,
    pre.transform,
    image.dims,
    disagreement?.result(),
    { ...(o.scores === undefined ? {} : { scores: o.scores }), warningScore: o.warningScore, ...(o.postprocess === undefined ? {} : { postprocess: o.postprocess }) },
  );
}
