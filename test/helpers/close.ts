/** Numeric comparison helpers for engine tests. */
import { expect } from 'vitest';
import type { Tensor } from '../../src/engine/index.js';

/** A tensor's elements as plain numbers (int64 and bool converted). */
export function values(t: Tensor): number[] {
  return Array.from(t.toArray() as ArrayLike<number | bigint>, Number);
}

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise (and equal lengths), reporting
 * the first element that is off.
 */
export function expectClose(actual: ArrayLike<number> | Tensor, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-5): void {
  const a = 'toArray' in actual ? values(actual) : Array.from(actual);
  expect(a.length, 'element count').toBe(expected.length);
  for (let i = 0; i < a.length; i++) {
    const e = expected[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a[i]) : Math.abs(a[i] - e) <= atol + rtol * Math.abs(e);
    if (!ok) expect.fail(`element ${i}: got ${a[i]}, expected ${e} (atol ${atol}, rtol ${rtol})`);
  }
}
