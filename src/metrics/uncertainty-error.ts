/**
 * How well a pixel-wise uncertainty map points at the segmentation's errors.
 */
import {
  aurocOfSplit,
  averagePrecisionOfSplit,
  riskCoverageOfSplit,
  splitScores,
  sweepDescending,
  type RankingOptions,
  type RiskCoverage,
  type SplitScores,
} from './ranking.js';
import type { MetricValue } from './types.js';
import { checkLabels, remapUnlabelled, resolveStructures } from './validate.js';

/**
 * The error mask: 1 where the prediction differs from the ground truth. Predicted classes the
 * ground truth does not label (`labelled`) count as background first, as in {@link dice}.
 */
export function errorMask(
  pred: Uint8Array,
  target: Uint8Array,
  opts: { readonly numClasses?: number; readonly labelled?: readonly number[] } = {},
): Uint8Array {
  const where = 'errorMask';
  const s = resolveStructures(opts, where);
  checkLabels(pred, s.numClasses, 'pred', where);
  checkLabels(target, s.numClasses, 'target', where, pred.length);
  const p = remapUnlabelled(pred, s.labelled);
  const out = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = p[i] !== target[i] ? 1 : 0;
  return out;
}

/** Overlap between thresholded uncertainty and errors. */
export interface UncertaintyErrorOverlap {
  /** The thresholds asked for (uncertain = uncertainty ≥ t). */
  readonly thresholds: readonly number[];
  /** Dice between `uncertainty ≥ t` and the error mask, per threshold. */
  readonly dice: readonly MetricValue[];
  /** The best Dice over every possible threshold (each distinct uncertainty value), and that threshold. */
  readonly best: { readonly threshold: number; readonly dice: MetricValue };
}

/**
 * Uncertainty–error overlap: Dice between the uncertain pixels (`uncertainty ≥ t`) and the
 * misclassified pixels, at the given thresholds and at the best threshold, which is searched
 * exactly over all distinct uncertainty values (O(n log n)).
 *
 * @returns Dice values NaN with reason `no-positives` when there is no error pixel
 */
export function uncertaintyErrorOverlap(
  uncertainty: ArrayLike<number>,
  errors: ArrayLike<number>,
  opts: RankingOptions & { readonly thresholds?: readonly number[] } = {},
): UncertaintyErrorOverlap {
  return overlapOfSplit(splitScores(uncertainty, errors, opts, 'uncertaintyErrorOverlap'), opts.thresholds ?? []);
}

function overlapOfSplit(s: SplitScores, thresholds: readonly number[]): UncertaintyErrorOverlap {
  const nErr = s.pos.length;
  if (nErr === 0) {
    const nan = { value: NaN, reason: 'no-positives' } as const;
    return { thresholds, dice: thresholds.map(() => nan), best: { threshold: NaN, dice: nan } };
  }
  const dice = thresholds.map((t): MetricValue => {
    const tp = countAtLeast(s.pos, t);
    const fp = countAtLeast(s.neg, t);
    return { value: (2 * tp) / (tp + fp + nErr) };
  });
  let bestDice = -1;
  let bestT = NaN;
  sweepDescending(s, (t, tp, fp) => {
    const d = (2 * tp) / (tp + fp + nErr);
    if (d > bestDice) {
      bestDice = d;
      bestT = t;
    }
  });
  return { thresholds, dice, best: { threshold: bestT, dice: { value: bestDice } } };
}

/** Number of values ≥ t in an ascending array (binary search). */
function countAtLeast(sorted: Float64Array, t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return sorted.length - lo;
}

/** Every uncertainty-vs-error metric of one uncertainty map. */
export interface UncertaintyErrorMetrics {
  /** Pixels scored (inside the mask). */
  readonly n: number;
  /** Misclassified pixels among them. */
  readonly errors: number;
  /** AUROC of the uncertainty for detecting misclassified pixels. */
  readonly auroc: MetricValue;
  /** Average precision (AUPR) of the same. */
  readonly averagePrecision: MetricValue;
  readonly riskCoverage: RiskCoverage;
  readonly overlap: UncertaintyErrorOverlap;
}

/**
 * AUROC, average precision, risk–coverage (AURC) and uncertainty–error overlap of an
 * uncertainty map against the error mask of a prediction, sorting the pixels once.
 *
 * @param uncertainty per-pixel uncertainty (e.g. predictive entropy or mutual information)
 * @param errors non-zero at misclassified pixels ({@link errorMask})
 */
export function uncertaintyErrorMetrics(
  uncertainty: ArrayLike<number>,
  errors: ArrayLike<number>,
  opts: RankingOptions & { readonly thresholds?: readonly number[] } = {},
): UncertaintyErrorMetrics {
  const s = splitScores(uncertainty, errors, opts, 'uncertaintyErrorMetrics');
  return {
    n: s.pos.length + s.neg.length,
    errors: s.pos.length,
    auroc: aurocOfSplit(s),
    averagePrecision: averagePrecisionOfSplit(s),
    riskCoverage: riskCoverageOfSplit(s),
    overlap: overlapOfSplit(s, opts.thresholds ?? []),
  };
}
