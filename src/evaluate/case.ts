/**
 * Evaluation of one case in memory: segmentation quality per structure and per slice,
 * calibration of the probabilities, and how well the uncertainty maps point at the errors.
 *
 * JSON convention: every result here is plain JSON. A metric value that cannot be computed is
 * `NaN` in the metrics library; here it is `{ value: null, reason }` ({@link MetricJson}), with the
 * reason the metric gave (`both-empty`, `unlabelled`, `missing`, …). A finite value carries no
 * reason. Inputs that were not given (no probabilities, no uncertainty scores) leave their
 * section out instead of filling it with nulls.
 */
import type { CardiacPhase } from '../data/datasets.js';
import { CLASSES, NUM_CLASSES } from '../data/labels.js';
import {
  brierScore,
  calibrationError,
  calibrationRoi,
  caseDice,
  dice,
  errorMask,
  negativeLogLikelihood,
  surfaceDistances,
  uncertaintyErrorMetrics,
  type MetricValue,
  type NanReason,
  type StructureMetric,
} from '../metrics/index.js';
import { SCORE_NAMES, type NamedScores, type ScoreName } from '../uncertainty/index.js';

/** The scored structures, in output order. */
export const STRUCTURES = ['LV', 'MYO', 'RV'] as const;
export type StructureName = (typeof STRUCTURES)[number];
/** Class index of each structure (project classes: 1 LV, 2 MYO, 3 RV). */
const STRUCTURE_CLASSES: readonly number[] = STRUCTURES.map((s) => CLASSES.indexOf(s));

/** A metric value in JSON: `value` is null exactly when the metric is NaN, and `reason` says why. */
export interface MetricJson {
  readonly value: number | null;
  readonly reason?: NanReason;
}

/**
 * A metric value as JSON.
 *
 * @throws {Error} for a NaN without a reason or an infinite value (a bug upstream, never data)
 */
export function toJsonMetric(m: MetricValue): MetricJson {
  if (Number.isNaN(m.value)) {
    if (m.reason === undefined) throw new Error('toJsonMetric: NaN metric value without a reason');
    return { value: null, reason: m.reason };
  }
  if (!Number.isFinite(m.value)) throw new Error(`toJsonMetric: metric value ${m.value} is not finite`);
  return { value: m.value };
}

/** The inverse of {@link toJsonMetric}: null becomes NaN with its reason (for {@link reduce}). */
export function fromJsonMetric(m: MetricJson): MetricValue {
  return m.value === null ? { value: NaN, reason: m.reason } : { value: m.value };
}

/** One case's prediction and ground truth, on one grid (x fastest, then y, then z). */
export interface CaseInput {
  readonly id: string;
  readonly patient?: string;
  readonly phase?: CardiacPhase;
  readonly group?: string;
  readonly dims: readonly [number, number, number];
  /** Voxel size in mm; used only when `spacingKnown`. */
  readonly spacing: readonly [number, number, number];
  /** False when the file kept no spacing: distances are then in pixels (`unit: 'px'`). */
  readonly spacingKnown: boolean;
  /** Ground truth in project classes (0 background, 1 LV, 2 MYO, 3 RV). */
  readonly target: Uint8Array;
  /** Per project class (4 entries): does the ground truth label it? (EMIDEC: RV false.) */
  readonly labelled: readonly boolean[];
  /** Predicted project classes. */
  readonly segmentation: Uint8Array;
  /** Mean softmax, class-major [class][z][y][x] (as {@link VolumePrediction}). */
  readonly probabilities?: Float32Array;
  /** Predictive entropy per voxel. */
  readonly entropy?: Float32Array;
  /** Mutual information per voxel. */
  readonly mutualInformation?: Float32Array;
  /**
   * Per-slice uncertainty scores (one per z): `score`, the warning score, and the named scores
   * (null or absent where a score does not exist, e.g. no foreground or one sample).
   */
  readonly sliceScores?: readonly NamedScores[];
  /** The volume's warning score. */
  readonly volumeScore?: number;
  /** The volume's named scores. */
  readonly volumeScores?: Readonly<Partial<Record<ScoreName, number | null>>>;
  /** A slice or case fails when its mean Dice is below this. Default 0.8. */
  readonly failureThreshold?: number;
  /** Equal-width confidence bins for ECE/MCE. Default 15. */
  readonly eceBins?: number;
  /** Calibration ROI margin in pixels (see {@link calibrationRoi}). Default 5. */
  readonly roiMargin?: number;
}

/** Dice, HD95 and ASSD of one structure over the volume (3-D surfaces). */
export interface StructureEvaluation {
  readonly labelled: boolean;
  readonly dice: MetricJson;
  readonly hd95: MetricJson;
  readonly assd: MetricJson;
}

export interface SliceEvaluation {
  readonly z: number;
  readonly dice: Readonly<Record<StructureName, MetricJson>>;
  /** Mean Dice over the labelled structures present in the slice (prediction or ground truth). */
  readonly meanDice: MetricJson;
  /** `meanDice < failureThreshold`; null when the slice holds no labelled structure. */
  readonly failed: boolean | null;
  /** The slice's warning score, when scores were given. */
  readonly score?: number;
  /** The slice's named scores that are finite, when given. */
  readonly scores?: Readonly<Partial<Record<ScoreName, number>>>;
}

/**
 * Reliability bins as sums, so that cases pool exactly: ECE over many cases is
 * `Σ_b |correct_b − confidenceSum_b| / Σ_b count_b`.
 */
export interface CalibrationBins {
  readonly count: number[];
  /** Σ of the arg-max confidence of the pixels in the bin. */
  readonly confidenceSum: number[];
  /** Pixels in the bin whose arg-max class is right. */
  readonly correct: number[];
}

/** The bin-wise sums of `list`, each of `bins` bins: the pooled bins that ECE over many cases is computed from. */
export function sumCalibrationBins(list: readonly CalibrationBins[], bins: number): { count: Float64Array; confidenceSum: Float64Array; correct: Float64Array } {
  const count = new Float64Array(bins);
  const confidenceSum = new Float64Array(bins);
  const correct = new Float64Array(bins);
  for (const b of list) {
    for (let i = 0; i < bins; i++) {
      count[i] += b.count[i];
      confidenceSum[i] += b.confidenceSum[i];
      correct[i] += b.correct[i];
    }
  }
  return { count, confidenceSum, correct };
}

/** Calibration over one set of pixels. */
export interface RegionCalibration {
  readonly pixels: number;
  readonly ece: MetricJson;
  readonly mce: MetricJson;
  readonly nll: MetricJson;
  readonly brier: MetricJson;
  readonly bins: CalibrationBins;
}

export interface CaseCalibration {
  /** Number of ECE bins. */
  readonly eceBins: number;
  /** ROI margin in pixels. */
  readonly roiMargin: number;
  /** Every voxel of the volume. */
  readonly all: RegionCalibration;
  /** Foreground of prediction or ground truth, dilated in-plane by `roiMargin` ({@link calibrationRoi}). */
  readonly roi: RegionCalibration;
}

/** How one uncertainty map ranks the misclassified voxels (over all voxels of the volume). */
export interface MapErrorEvaluation {
  readonly pixels: number;
  /** Misclassified voxels ({@link errorMask}: an unlabelled predicted class counts as background). */
  readonly errors: number;
  readonly auroc: MetricJson;
  /** Average precision. */
  readonly aupr: MetricJson;
  /** Area under the risk–coverage curve, its optimum for this error rate, and the excess. */
  readonly aurc: MetricJson;
  readonly optimalAurc: MetricJson;
  readonly eAurc: MetricJson;
  /** Best Dice between `map ≥ t` and the error mask over all t, and that t (null without errors). */
  readonly bestOverlap: { readonly dice: MetricJson; readonly threshold: number | null };
}

/** Everything measured on one case; plain JSON (see the module comment for NaN). */
export interface CaseEvaluation {
  readonly id: string;
  readonly patient?: string;
  readonly phase?: CardiacPhase;
  readonly group?: string;
  readonly dims: readonly [number, number, number];
  readonly spacing: readonly [number, number, number];
  /** Unit of HD95 and ASSD: `px` when the file kept no spacing. */
  readonly unit: 'mm' | 'px';
  /** Per project class. */
  readonly labelled: readonly boolean[];
  readonly failureThreshold: number;
  readonly structures: Readonly<Record<StructureName, StructureEvaluation>>;
  /** Mean volume Dice over the labelled structures present (NaN ones left out). */
  readonly meanDice: MetricJson;
  /** `meanDice < failureThreshold`; null when no labelled structure is present. */
  readonly failed: boolean | null;
  readonly volumeScore?: number;
  /** The volume's named scores that are finite, when given. */
  readonly volumeScores?: Readonly<Partial<Record<ScoreName, number>>>;
  readonly slices: readonly SliceEvaluation[];
  /** Present when probabilities were given. */
  readonly calibration?: CaseCalibration;
  /** Present when an entropy or MI map was given. */
  readonly uncertainty?: {
    readonly entropy?: MapErrorEvaluation;
    readonly mutualInformation?: MapErrorEvaluation;
  };
}

/**
 * Evaluates one case (pure, in memory).
 *
 * Rules for structures (those of {@link dice} and {@link surfaceDistances}): a structure the
 * ground truth does not label is `null`/`unlabelled` and a prediction of it counts as background
 * everywhere (Dice, distances, error masks, calibration ROI); a structure absent from both is
 * `null`/`both-empty` and left out of means; present in only one: Dice 0, distances
 * `null`/`missing`.
 *
 * One prediction: `segmentation` is the prediction (for `hmcseg predict`, the arg-max of the
 * probabilities over all four classes), and every metric scores it. The merge rule for classes
 * the ground truth does not label is applied once, to that prediction: a predicted RV on EMIDEC
 * counts as background for Dice, distances, error masks, the calibration ROI and the calibration
 * itself, whose correctness is that of the merged segmentation and whose confidence is the merged
 * probability of its class (the probabilities of unlabelled classes are added to background; NLL
 * and Brier score these merged probabilities).
 *
 * @throws {RangeError} naming the case when an array does not fit `dims` or an option is invalid
 * @example
 * const ev = evaluateCase({ id: 'p1_ED', dims, spacing, spacingKnown: true, target, labelled: ACDC_LABELS.labelled,
 *   segmentation: pred.segmentation, probabilities: pred.probabilities, entropy: pred.entropy,
 *   mutualInformation: pred.mutualInformation, sliceScores: pred.slices, volumeScore: pred.volume.score });
 */
export function evaluateCase(input: CaseInput): CaseEvaluation {
  const where = `evaluateCase ${input.id}`;
  const [nx, ny, nz] = checkInput(input, where);
  const threshold = input.failureThreshold ?? 0.8;
  const eceBins = input.eceBins ?? 15;
  const roiMargin = input.roiMargin ?? 5;
  if (!Number.isFinite(threshold)) throw new RangeError(`${where}: failureThreshold must be finite, got ${threshold}`);
  if (!Number.isInteger(eceBins) || eceBins < 1) throw new RangeError(`${where}: eceBins must be a positive integer, got ${eceBins}`);
  if (!(roiMargin >= 0) || !Number.isFinite(roiMargin)) throw new RangeError(`${where}: roiMargin must be ≥ 0 pixels, got ${roiMargin}`);

  const labelledClasses = input.labelled.flatMap((l, c) => (l ? [c] : []));
  const structureOpts = { classes: STRUCTURE_CLASSES, labelled: labelledClasses };
  const { target, segmentation: seg } = input;

  const volumeDice = dice(seg, target, structureOpts);
  const distances = surfaceDistances(seg, target, {
    ...structureOpts,
    dims: input.dims,
    spacing: input.spacing,
    spacingKnown: input.spacingKnown,
  });
  const structures = byStructure((i) => ({
    labelled: input.labelled[STRUCTURE_CLASSES[i]],
    dice: toJsonMetric(volumeDice[i]),
    hd95: toJsonMetric(distances.hausdorff[i]),
    assd: toJsonMetric(distances.assd[i]),
  }));
  const meanDice = meanOfStructures(volumeDice);

  const plane = nx * ny;
  const slices: SliceEvaluation[] = [];
  for (let z = 0; z < nz; z++) {
    const row = dice(seg.subarray(z * plane, (z + 1) * plane), target.subarray(z * plane, (z + 1) * plane), structureOpts);
    const sliceMean = meanOfStructures(row);
    const given = input.sliceScores?.[z];
    const named = given === undefined ? undefined : finiteScores(given);
    slices.push({
      z,
      dice: byStructure((i) => toJsonMetric(row[i])),
      meanDice: sliceMean,
      failed: failedAt(sliceMean, threshold),
      ...(given === undefined ? {} : { score: given.score }),
      ...(named === undefined ? {} : { scores: named }),
    });
  }

  // Everything below sees the prediction with unlabelled classes as background (dice() above
  // has checked that every value is a class).
  const pred = seg.map((v) => (input.labelled[v] ? v : 0));
  const errors = errorMask(pred, target);
  const calibration =
    input.probabilities === undefined ? undefined : evaluateCalibration(input, input.probabilities, pred, eceBins, roiMargin);
  const mapMetrics = (map: Float32Array | undefined): MapErrorEvaluation | undefined =>
    map === undefined ? undefined : evaluateMap(map, errors);
  const entropy = mapMetrics(input.entropy);
  const mutualInformation = mapMetrics(input.mutualInformation);

  const volumeScores = input.volumeScores === undefined ? undefined : finiteScores(input.volumeScores);
  return {
    id: input.id,
    ...(input.patient === undefined ? {} : { patient: input.patient }),
    ...(input.phase === undefined ? {} : { phase: input.phase }),
    ...(input.group === undefined ? {} : { group: input.group }),
    dims: [nx, ny, nz],
    spacing: [...input.spacing] as [number, number, number],
    unit: distances.unit,
    labelled: [...input.labelled],
    failureThreshold: threshold,
    structures,
    meanDice,
    failed: failedAt(meanDice, threshold),
    ...(input.volumeScore === undefined ? {} : { volumeScore: input.volumeScore }),
    ...(volumeScores === undefined ? {} : { volumeScores }),
    slices,
    ...(calibration === undefined ? {} : { calibration }),
    ...(entropy === undefined && mutualInformation === undefined
      ? {}
      : {
          uncertainty: {
            ...(entropy === undefined ? {} : { entropy }),
            ...(mutualInformation === undefined ? {} : { mutualInformation }),
          },
        }),
  };
}

/** The finite named scores of `s`; undefined when it has none (a file from before the named scores). */
function finiteScores(s: Readonly<Partial<Record<ScoreName, number | null>>>): Partial<Record<ScoreName, number>> | undefined {
  const out: Partial<Record<ScoreName, number>> = {};
  let any = false;
  for (const n of SCORE_NAMES) {
    const v = s[n];
    if (typeof v === 'number' && Number.isFinite(v)) {
      out[n] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

function checkInput(input: CaseInput, where: string): [number, number, number] {
  const { dims } = input;
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${where}: dims must be [nx, ny, nz] of positive integers, got ${JSON.stringify(dims)}`);
  }
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (input.spacing.length !== 3) throw new RangeError(`${where}: spacing must hold 3 numbers, got [${input.spacing.join(', ')}]`);
  if (input.labelled.length !== NUM_CLASSES) {
    throw new RangeError(`${where}: labelled must hold ${NUM_CLASSES} flags (${CLASSES.join(', ')}), got ${input.labelled.length}`);
  }
  const sized = (name: string, a: ArrayLike<number> | undefined, expected: number): void => {
    if (a !== undefined && a.length !== expected) {
      throw new RangeError(`${where}: ${name} has ${a.length} values, dims ${nx}×${ny}×${nz} need ${expected}`);
    }
  };
  sized('target', input.target, n);
  sized('segmentation', input.segmentation, n);
  sized('probabilities', input.probabilities, n * NUM_CLASSES);
  sized('entropy', input.entropy, n);
  sized('mutualInformation', input.mutualInformation, n);
  if (input.sliceScores !== undefined) {
    if (input.sliceScores.length !== nz) {
      throw new RangeError(`${where}: sliceScores has ${input.sliceScores.length} entries, expected one per slice (${nz})`);
    }
    input.sliceScores.forEach((s, z) => {
      if (!Number.isFinite(s.score)) throw new RangeError(`${where}: sliceScores[${z}].score = ${s.score} is not finite`);
    });
  }
  if (input.volumeScore !== undefined && !Number.isFinite(input.volumeScore)) {
    throw new RangeError(`${where}: volumeScore = ${input.volumeScore} is not finite`);
  }
  return [nx, ny, nz];
}

function byStructure<T>(f: (i: number) => T): Record<StructureName, T> {
  return { LV: f(0), MYO: f(1), RV: f(2) };
}

/** Mean Dice over the non-NaN structures ({@link caseDice} `'mean'`), with a reason when none is left. */
function meanOfStructures(row: readonly StructureMetric[]): MetricJson {
  const value = caseDice([row], 'mean')[0];
  if (!Number.isNaN(value)) return { value };
  return { value: null, reason: row.some((m) => m.reason === 'both-empty') ? 'both-empty' : 'unlabelled' };
}

function failedAt(m: MetricJson, threshold: number): boolean | null {
  return m.value === null ? null : m.value < threshold;
}

/** Class-major probabilities with the mass of unlabelled classes moved to background. */
function mergeUnlabelled(probs: Float32Array, labelled: readonly boolean[]): Float32Array {
  const n = probs.length / NUM_CLASSES;
  const out = new Float32Array(probs.length);
  for (let c = 0; c < NUM_CLASSES; c++) {
    const off = (labelled[c] ? c : 0) * n;
    for (let p = 0; p < n; p++) out[off + p] += probs[c * n + p];
  }
  return out;
}

function evaluateCalibration(
  input: CaseInput,
  probabilities: Float32Array,
  pred: Uint8Array,
  eceBins: number,
  roiMargin: number,
): CaseCalibration {
  const probs = mergeUnlabelled(probabilities, input.labelled);
  const roi = calibrationRoi(input.target, pred, { dims: input.dims, margin: roiMargin });
  const region = (mask: Uint8Array | undefined): RegionCalibration => {
    const ce = calibrationError(probs, input.target, { bins: eceBins, mask, prediction: pred });
    const { count, meanConfidence, accuracy } = ce.reliability;
    return {
      pixels: ce.n,
      ece: toJsonMetric(ce.ece),
      mce: toJsonMetric(ce.mce),
      nll: toJsonMetric(negativeLogLikelihood(probs, input.target, { mask })),
      brier: toJsonMetric(brierScore(probs, input.target, { mask })),
      bins: {
        count: Array.from(count),
        confidenceSum: Array.from(count, (k, b) => (k === 0 ? 0 : meanConfidence[b] * k)),
        correct: Array.from(count, (k, b) => (k === 0 ? 0 : Math.round(accuracy[b] * k))),
      },
    };
  };
  return { eceBins, roiMargin, all: region(undefined), roi: region(roi) };
}

function evaluateMap(map: Float32Array, errors: Uint8Array): MapErrorEvaluation {
  const m = uncertaintyErrorMetrics(map, errors);
  const rc = m.riskCoverage;
  return {
    pixels: m.n,
    errors: m.errors,
    auroc: toJsonMetric(m.auroc),
    aupr: toJsonMetric(m.averagePrecision),
    aurc: toJsonMetric(rc.aurc),
    optimalAurc: toJsonMetric(rc.optimalAurc),
    eAurc: toJsonMetric(rc.eAurc),
    bestOverlap: {
      dice: toJsonMetric(m.overlap.best.dice),
      threshold: Number.isNaN(m.overlap.best.threshold) ? null : m.overlap.best.threshold,
    },
  };
}
