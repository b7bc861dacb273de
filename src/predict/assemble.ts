/**
 * From the network grid to the input grid: the one step that turns a volume's mean softmax and
 * uncertainty maps (as the sample loop of {@link Predictor}, an exported ONNX model in
 * onnxruntime, or the viewer's in-browser inference produce them) into the prediction on the
 * input's own grid. Pure: no engine, no files, so the browser bundle uses it as it is.
 */
import { invertMap, invertProbabilities, spacingIsKnown, type VolumeTransform } from '../data/preprocess.js';
import type { Volume } from '../data/volume.js';
import { argmax } from '../metrics/calibration.js';
import { SampleDisagreement, type DisagreementResult } from '../uncertainty/disagreement.js';
import { uncertaintyScores, withWarningScore, type RegionScores, type ScoreName, type ScoreOptions } from '../uncertainty/scores.js';
import { postprocessSegmentation, type Postprocess } from './postprocess.js';
import type { VolumePrediction } from './predict.js';

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
  /**
   * Arg-max of {@link probabilities} over all classes (the lowest class on ties), then
   * post-processed ({@link postprocessSegmentation}; `'none'` keeps the arg-max).
   */
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
 * Post-processing changes only the segmentation returned: the scores read the network's own
 * arg-max, islands included, because the islands are evidence of its confusion (on the validation
 * split they rank failed slices better than the scores of the post-processed segmentation; README).
 */
export function assemblePrediction(
  outputs: GridOutputs,
  numClasses: number,
  transform: VolumeTransform,
  dims: readonly [number, number, number],
  scores: ScoreOptions = {},
  postprocess: Postprocess = 'none',
): GridPrediction {
  const probabilities = invertProbabilities(outputs.mean, numClasses, transform);
  const network = argmax(probabilities, numClasses);
  const entropy = invertMap(outputs.predictiveEntropy, transform);
  const mutualInformation = invertMap(outputs.mutualInformation, transform);
  const regionScores = uncertaintyScores(network, entropy, mutualInformation, dims, scores);
  return {
    segmentation: postprocessSegmentation(network, dims, postprocess),
    probabilities,
    entropy,
    mutualInformation,
    ...regionScores,
  };
}

/** {@link GridOutputs} with what the accumulator over passes gives beside them. */
export interface PassOutputs extends GridOutputs {
  /** Mean over passes of each pass's entropy, [z][y][x]. */
  readonly expectedEntropy: Float32Array;
  /** Passes averaged. */
  readonly samples: number;
}

/**
 * The accumulator of the passes' segmentations on `image`'s grid for the disagreement scores
 * (voxel volumes in ml where the spacing is known), or undefined with one pass: nothing disagrees.
 */
export function passDisagreement(image: Pick<Volume, 'dims' | 'spacing'>, passes: number): SampleDisagreement | undefined {
  if (passes < 2) return undefined;
  const [sx, sy, sz] = image.spacing;
  return new SampleDisagreement({ dims: image.dims, ...(spacingIsKnown(image.spacing) ? { voxelMl: (sx * sy * sz) / 1000 } : {}) });
}

/**
 * The whole prediction of a volume from its passes' outputs on the network grid (as `hmcseg
 * predict` writes it): {@link assemblePrediction}, the expected entropy on the input grid, and
 * every slice's and the volume's scores with the disagreement scores (`disagreement`, from
 * {@link passDisagreement}) and the warning score `warningScore` copied into `score`, the
 * segmentation post-processed with `postprocess` (default `'none'`).
 */
export function assembleVolumePrediction(
  outputs: PassOutputs,
  numClasses: number,
  transform: VolumeTransform,
  dims: readonly [number, number, number],
  disagreement: DisagreementResult | undefined,
  o: { readonly scores?: ScoreOptions; readonly warningScore: ScoreName; readonly postprocess?: Postprocess },
): VolumePrediction {
  const postprocess = o.postprocess ?? 'none';
  const grid = assemblePrediction(outputs, numClasses, transform, dims, o.scores, postprocess);
  const ws = o.warningScore;
  return {
    dims,
    ...grid,
    slices: grid.slices.map((s, z) => withWarningScore(s, disagreement?.slices[z], ws)),
    volume: withWarningScore(grid.volume, disagreement?.volume, ws),
    expectedEntropy: invertMap(outputs.expectedEntropy, transform),
    passes: outputs.samples,
    warningScore: ws,
    postprocess,
    ...(disagreement === undefined ? {} : { volumeUnit: disagreement.volumeUnit }),
  };
}
