import type { MetricValue, NanReason, StructureMetric } from './types.js';

/** How {@link reduce} combines values: `none` keeps them, `mean`, or `mean_std`. */
export type Reduction = 'mean' | 'none' | 'mean_std';

/** The reduction of a list of metric values. NaN values are skipped and counted by reason. */
export interface Reduced {
  readonly reduction: Reduction;
  /** Mean of the non-NaN values (`NaN` when there is none; `NaN` for `none`). */
  readonly mean: number;
  /** Sample standard deviation (n − 1) of the non-NaN values, for `mean_std`; NaN when fewer than 2. */
  readonly std?: number;
  /** All values, NaN included, in input order, for `none`. */
  readonly values?: readonly number[];
  /** Number of values that are not NaN (MONAI's `not_nans`). */
  readonly notNaN: number;
  /** Number of NaN values. */
  readonly nan: number;
  /** NaN values by reason (`unknown` for a bare NaN number). */
  readonly nanByReason: Readonly<Partial<Record<NanReason | 'unknown', number>>>;
}

/**
 * Reduces metric values (plain numbers or {@link MetricValue}s, e.g. Dice per (case, class)
 * flattened) while skipping NaN, as MONAI's `do_metric_reduction` does on not-NaN values, and
 * reports how many were skipped and why.
 *
 * @example
 * reduce([{value: 0.9}, {value: NaN, reason: 'both-empty'}, 0.7], 'mean')
 * // {mean: 0.8, notNaN: 2, nan: 1, nanByReason: {'both-empty': 1}, ...}
 */
export function reduce(values: readonly (number | MetricValue)[], reduction: Reduction = 'mean'): Reduced {
  if (reduction !== 'mean' && reduction !== 'none' && reduction !== 'mean_std') {
    throw new RangeError(`reduce: reduction must be 'mean', 'none' or 'mean_std', got ${String(reduction)}`);
  }
  let n = 0;
  let sum = 0;
  const nanByReason: Partial<Record<NanReason | 'unknown', number>> = {};
  const all = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const item = values[i];
    const v = typeof item === 'number' ? item : item.value;
    all[i] = v;
    if (Number.isNaN(v)) {
      const reason = (typeof item === 'number' ? undefined : item.reason) ?? 'unknown';
      nanByReason[reason] = (nanByReason[reason] ?? 0) + 1;
    } else {
      n++;
      sum += v;
    }
  }
  const mean = n > 0 ? sum / n : NaN;
  const base = { reduction, notNaN: n, nan: values.length - n, nanByReason };
  if (reduction === 'none') return { ...base, mean: NaN, values: all };
  if (reduction === 'mean') return { ...base, mean };
  let ss = 0;
  for (const v of all) if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
  return { ...base, mean, std: n >= 2 ? Math.sqrt(ss / (n - 1)) : NaN };
}
