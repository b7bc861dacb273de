/**
 * Shared result types of the metrics. Every metric is a pure function over typed arrays; a value
 * that cannot be computed is `NaN` together with the reason, never a silent 0 or a dropped entry.
 */

/**
 * Why a metric value is `NaN`.
 * - `both-empty`: prediction and ground truth both lack the structure (Dice, surface distances).
 * - `unlabelled`: the data set does not label this structure (EMIDEC has no RV).
 * - `missing`: exactly one of prediction and ground truth has the structure, so a surface
 *   distance is undefined (Dice is 0 there, not NaN).
 * - `single-class`: a ranking metric (AUROC) saw only positives or only negatives.
 * - `no-positives`: average precision or an overlap with no positive (error) pixel.
 * - `constant-input`: a rank correlation with a constant input.
 * - `empty-input`: nothing to average (no pixel in the mask, no case).
 */
export type NanReason =
  | 'both-empty'
  | 'unlabelled'
  | 'missing'
  | 'single-class'
  | 'no-positives'
  | 'constant-input'
  | 'empty-input';

/** A scalar metric value; `reason` is set exactly when `value` is NaN. */
export interface MetricValue {
  readonly value: number;
  readonly reason?: NanReason;
}

/** A metric value for one structure (class index) of one case. */
export interface StructureMetric extends MetricValue {
  /** Class index: 1 LV, 2 MYO, 3 RV (0 background). */
  readonly cls: number;
}

/** Options shared by the per-structure metrics (Dice, surface distances). */
export interface StructureOptions {
  /** Number of classes C, background included. Default 4 (background, LV, MYO, RV). */
  readonly numClasses?: number;
  /** Classes to score, in output order. Default 1..C-1 (background excluded). */
  readonly classes?: readonly number[];
  /**
   * Classes the ground truth labels. Default: all. A structure outside this set gives NaN with
   * reason `unlabelled`, and a prediction of it is treated as background (for EMIDEC, which has
   * no RV, a predicted RV counts as background when background is scored).
   */
  readonly labelled?: readonly number[];
}
