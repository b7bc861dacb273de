/**
 * Failure detection: does a per-slice (or per-volume) uncertainty score flag the slices whose
 * segmentation failed?
 */
import { auroc, spearman } from './ranking.js';
import type { MetricValue, StructureMetric } from './types.js';
import { checkFinite, checkSameLength } from './validate.js';

/**
 * One Dice value per case from per-(case, structure) results (as {@link dice} returns them):
 * - a class index: that structure's Dice (NaN when it is NaN or absent for the case);
 * - `'mean'`: the mean over the case's structures whose Dice is not NaN, so both-empty and
 *   unlabelled structures are left out (EMIDEC: mean of LV and MYO); NaN when none is left.
 */
export function caseDice(rows: readonly (readonly StructureMetric[])[], structure: 'mean' | number): Float64Array {
  const out = new Float64Array(rows.length);
  rows.forEach((row, i) => {
    if (structure === 'mean') {
      let sum = 0;
      let n = 0;
      for (const m of row) {
        if (Number.isNaN(m.value)) continue;
        sum += m.value;
        n++;
      }
      out[i] = n > 0 ? sum / n : NaN;
    } else {
      out[i] = row.find((m) => m.cls === structure)?.value ?? NaN;
    }
  });
  return out;
}

/** Result of {@link failureDetection}. */
export interface FailureDetection {
  /** Cases scored (Dice not NaN). */
  readonly n: number;
  /** Cases left out because their Dice is NaN (e.g. the structure is absent from both). */
  readonly excluded: number;
  /** Dice threshold: a case fails when Dice < threshold. */
  readonly threshold: number;
  /** Failed cases among the scored. */
  readonly failures: number;
  /** AUROC of the uncertainty score for detecting failures; NaN `single-class` when all or none failed. */
  readonly auroc: MetricValue;
  /** Spearman correlation between uncertainty score and Dice (negative is good: more uncertain, worse). */
  readonly spearman: MetricValue;
}

/**
 * Failure detection from per-case uncertainty scores and Dice values (one per case, e.g. from
 * {@link caseDice}, which makes explicit whether the Dice is one structure's or the mean over the
 * labelled structures). A case fails when Dice < `threshold` (default 0.8); cases with NaN Dice
 * are excluded and counted.
 *
 * @param scores per-case uncertainty (higher = less certain), finite
 * @param dice per-case Dice, same length
 */
export function failureDetection(
  scores: ArrayLike<number>,
  dice: ArrayLike<number>,
  opts: { readonly threshold?: number } = {},
): FailureDetection {
  const where = 'failureDetection';
  checkSameLength(scores, dice, 'scores and dice', where);
  checkFinite(scores, 'scores', where);
  const threshold = opts.threshold ?? 0.8;
  if (!Number.isFinite(threshold)) throw new RangeError(`${where}: threshold must be finite, got ${threshold}`);
  const s: number[] = [];
  const d: number[] = [];
  for (let i = 0; i < dice.length; i++) {
    if (Number.isNaN(dice[i])) continue;
    s.push(scores[i]);
    d.push(dice[i]);
  }
  const failed = d.map((v) => (v < threshold ? 1 : 0));
  return {
    n: s.length,
    excluded: dice.length - s.length,
    threshold,
    failures: failed.reduce((a: number, b) => a + b, 0),
    auroc: s.length === 0 ? { value: NaN, reason: 'empty-input' } : auroc(s, failed),
    spearman: spearman(s, d),
  };
}
