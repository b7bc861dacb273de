/** The one percentile of the project: intensity clipping (`data/preprocess.ts`) and HD95 (`metrics/hausdorff.ts`) both use it. */

/**
 * Percentile of an ascending array with numpy's default ("linear") interpolation: position
 * `(p / 100)·(n − 1)`, linear between its two neighbours.
 *
 * @param sorted ascending values
 * @param p percentile in [0, 100]
 * @throws {RangeError} for an empty array
 * @example percentileSorted([1, 2, 3, 4, 10], 90) // 7.6, as numpy.percentile
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('percentileSorted: empty array');
  const pos = (p / 100) * (n - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  if (i + 1 >= n) return sorted[n - 1];
  return sorted[i] + f * (sorted[i + 1] - sorted[i]);
}
