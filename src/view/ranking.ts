/**
 * The slice list of the viewer: every slice of every case, sorted by its warning score (the
 * `score` of `NAME_uncertainty.json`, see `src/uncertainty/scores.ts`), most uncertain first.
 * Pure: it runs on the server and, bundled, in the browser (for a volume segmented there).
 */
import { percentileSorted } from '../util/percentile.js';

/** The scores of one case as the viewer needs them. */
export interface RankedCaseInput {
  readonly name: string;
  /** Per slice, in z order; null where the score is not a number (written as null in the JSON). */
  readonly scores: readonly (number | null)[];
}

export interface RankedSlice {
  readonly case: string;
  readonly z: number;
  /** NaN where the file had no score. */
  readonly score: number;
  /** `score > threshold`. */
  readonly flagged: boolean;
}

export interface SliceRanking {
  readonly threshold: number;
  /** Whether the threshold was given or is the default quantile of the scores. */
  readonly thresholdSource: 'given' | 'quantile';
  readonly slices: readonly RankedSlice[];
}

/** The default threshold flags the slices above this quantile of all slice scores (the top 10 %). */
export const DEFAULT_FLAG_QUANTILE = 0.9;

/**
 * Sorts all slices by score, descending (ties: case name, then z; slices without a score last),
 * and flags those above `threshold`, by default the {@link DEFAULT_FLAG_QUANTILE} quantile of the
 * finite scores (linear interpolation).
 *
 * @example
 * rankSlices([{ name: 'a', scores: [0.1, 0.5] }], 0.3).slices // [{case: 'a', z: 1, score: 0.5, flagged: true}, {… z: 0 …}]
 */
export function rankSlices(cases: readonly RankedCaseInput[], threshold?: number): SliceRanking {
  if (threshold !== undefined && !Number.isFinite(threshold)) throw new RangeError(`rankSlices: threshold must be a finite number, got ${threshold}`);
  const all = cases.flatMap((c) => c.scores.map((s, z) => ({ case: c.name, z, score: s ?? NaN })));
  const finite = all.map((s) => s.score).filter(Number.isFinite).sort((a, b) => a - b);
  let t = threshold;
  if (t === undefined) {
    t = finite.length === 0 ? Infinity : percentileSorted(finite, 100 * DEFAULT_FLAG_QUANTILE);
  }
  const key = (s: number) => (Number.isFinite(s) ? s : -Infinity);
  const slices = all
    .sort((a, b) => key(b.score) - key(a.score) || (a.case < b.case ? -1 : a.case > b.case ? 1 : 0) || a.z - b.z)
    .map((s) => ({ ...s, flagged: Number.isFinite(s.score) && s.score > (t as number) }));
  return { threshold: t, thresholdSource: threshold === undefined ? 'quantile' : 'given', slices };
}
