/**
 * From the network grid to the input grid: the one step that turns a volume's mean softmax and
 * uncertainty maps (as the sample loop of {@link Predictor}, an exported ONNX model in
 * onnxruntime, or the viewer's in-browser inference produce them) into the prediction on the
 * input's own grid. Pure: no engine, no files, so the browser bundle uses it as it is.
 */
import { invertMap, invertProbabilities, type VolumeTransform } from '../data/preprocess.js';
import { argmax } from '../metrics/calibration.js';
import { uncertaintyScores, type RegionScores, type ScoreOptions } from '../uncertainty/scores.js';

/** A volume's outputs on the network grid (nz slices of the network's input size). */
export interface GridOutputs {
  /** Mean softmax, class-major [class][z][y][x]. */
  readonly mean: Float32Array;
  /** Predictive entropy, [z][y][x]. */
  readonly predictiveEntropy: Float32Array;
  /** Mutual information, [z][y][x]. */
  readonly mutualInformation: Float32Array;
}

/** The prediction on the input grid. */
export interface GridPrediction {
  /** Arg-max of {@link probabilities} over all classes (the lowest class on ties). */
  readonly segmentation: Uint8Array;
  /** Mean softmax on the input grid (bilinear), class-major [class][z][y][x]. */
  readonly probabilities: Float32Array;
  readonly entropy: Float32Array;
  readonly mutualInformation: Float32Array;
  readonly slices: RegionScores[];
  readonly volume: RegionScores;
}

/**
 * Maps `outputs` onto the input grid and takes the arg-max there, so that the segmentation, the
 * probabilities and every score describe one prediction (also when preprocessing resampled).
 */
export function assemblePrediction(
  outputs: GridOutputs,
  numClasses: number,
  transform: VolumeTransform,
  dims: readonly [number, number, number],
  scores: ScoreOptions = {},
): GridPrediction {
  const probabilities = invertProbabilities(outputs.mean, numClasses, transform);
  const segmentation = argmax(probabilities, numClasses);
  const entropy = invertMap(outputs.predictiveEntropy, transform);
  const mutualInformation = invertMap(outputs.mutualInformation, transform);
  return {
    segmentation,
    probabilities,
    entropy,
    mutualInformation,
    ...uncertaintyScores(segmentation, entropy, mutualInformation, dims, scores),
  };
}

/**
 * Copies a batch of `b` slices in NCHW order (`[slice][class][y][x]`, as ONNX models return
 * them) into a class-major volume buffer of `nz` slices, at slice `z0`.
 */
export function copySlicesClassMajor(batch: Float32Array, b: number, numClasses: number, plane: number, into: Float32Array, nz: number, z0: number): void {
  if (batch.length !== b * numClasses * plane) {
    throw new RangeError(`copySlicesClassMajor: ${batch.length} values is not ${b} slices × ${numClasses} classes × ${plane} pixels`);
  }
  if (z0 < 0 || z0 + b > nz || into.length !== numClasses * nz * plane) {
    throw new RangeError(`copySlicesClassMajor: slices ${z0}..${z0 + b} do not fit a volume of ${nz} slices × ${numClasses} classes × ${plane} pixels`);
  }
  for (let i = 0; i < b; i++) {
    for (let c = 0; c < numClasses; c++) {
      into.set(batch.subarray((i * numClasses + c) * plane, (i * numClasses + c + 1) * plane), c * nz * plane + (z0 + i) * plane);
    }
  }
}
