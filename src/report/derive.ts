/**
 * Plot data from saved evaluations, never new metrics: the pooled reliability bins are the sums of
 * the cases' saved bins (the same sums the summary's pooled ECE is computed from), the scatter lists
 * the saved per-slice scores and Dice, and the risk–coverage points are the saved curve.
 */
import { sumCalibrationBins } from '../evaluate/case.js';
import type { ScoreFailure } from '../evaluate/index.js';
import type { ResultRow } from '../experiment/index.js';
import type { ScoreName } from '../uncertainty/index.js';
import type { RiskCoverageCurve, ReportCase } from './load.js';

/** One non-empty bin of a pooled reliability diagram. */
export interface ReliabilityBin {
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  readonly confidence: number;
  readonly accuracy: number;
}

/**
 * Sums the cases' reliability bins of one region; bins without pixels are left out.
 *
 * @returns the non-empty bins, or an empty array when no case has calibration
 * @throws {RangeError} when cases disagree on the number of bins
 */
export function pooledReliability(cases: readonly ReportCase[], region: 'all' | 'roi'): ReliabilityBin[] {
  const withCal = cases.filter((c) => c.calibration !== undefined);
  if (withCal.length === 0) return [];
  const bins = withCal[0].calibration?.eceBins as number;
  const regionBins = withCal.map((c) => {
    const cal = c.calibration as NonNullable<ReportCase['calibration']>;
    const b = cal[region].bins;
    if (cal.eceBins !== bins || b.count.length !== bins) {
      throw new RangeError(`pooledReliability: case ${c.id} has ${b.count.length} ${region} bins, ${withCal[0].id} has ${bins}`);
    }
    return b;
  });
  const { count, confidenceSum: confidence, correct } = sumCalibrationBins(regionBins, bins);
  const out: ReliabilityBin[] = [];
  for (let i = 0; i < bins; i++) {
    if (count[i] === 0) continue;
    out.push({ lo: i / bins, hi: (i + 1) / bins, count: count[i], confidence: confidence[i] / count[i], accuracy: correct[i] / count[i] });
  }
  return out;
}

/** A slice with a warning score and a mean Dice. */
export interface SlicePoint {
  readonly case: string;
  readonly z: number;
  readonly score: number;
  readonly dice: number;
  readonly failed: boolean;
}

/**
 * The slices that have a score and a mean Dice (others hold no labelled structure or were not
 * scored): with `score`, the slice's score of that name (the method's warning score chosen on
 * validation); without, its `score`, the warning score that the evaluation predicted with.
 */
export function slicePoints(cases: readonly ReportCase[], score?: ScoreName): SlicePoint[] {
  return cases.flatMap((c) =>
    c.slices.flatMap((s) => {
      const value = score === undefined ? s.score : s.scores?.[score];
      return value === undefined || value === null || !Number.isFinite(value) || s.meanDice.value === null || s.failed === null
        ? []
        : [{ case: c.id, z: s.z, score: value, dice: s.meanDice.value, failed: s.failed }];
    }),
  );
}

/**
 * The failure detection of a row's warning score: the chosen score's, or, for results written
 * before warning scores were chosen (no `warningScore`), the summary's own, which was then the
 * default score's. Undefined when the chosen score is not among the row's scores.
 */
export function warningFailureOf(r: ResultRow): ScoreFailure | undefined {
  if ((r as Partial<ResultRow>).warningScore === undefined) return { slice: r.summary.failure.slice, volume: r.summary.failure.volume };
  return r.warningFailure;
}

/** A point of a risk–coverage curve. */
export interface CoveragePoint {
  readonly coverage: number;
  readonly risk: number;
}

/** The saved risk–coverage curve as plot points, starting at coverage 0 with the first point's risk. */
export function coveragePoints(curve: RiskCoverageCurve): CoveragePoint[] {
  if (curve.coverage.length === 0) return [];
  return [{ coverage: 0, risk: curve.risk[0] }, ...curve.coverage.map((coverage, i) => ({ coverage, risk: curve.risk[i] }))];
}
