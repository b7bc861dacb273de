/**
 * @internal Option checks of the samplers, schedules and transforms: each throws a RangeError that
 * names the function, the option and its value (`sghmc: momentum=1 must be in [0, 1)`), at
 * construction (optax's `f'{decay_steps=}'`).
 */
import type { Schedule } from './schedules.js';

/** Throws `RangeError("<where>: <name>=<value> must be <want>")`. */
export function fail(where: string, name: string, value: unknown, want: string): never {
  throw new RangeError(`${where}: ${name}=${String(value)} must be ${want}`);
}

export function positiveInt(where: string, name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) fail(where, name, v, 'a positive integer');
  return v;
}

export function nonNegativeInt(where: string, name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) fail(where, name, v, 'a non-negative integer');
  return v;
}

export function finite(where: string, name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, name, v, 'a finite number');
  return v;
}

type Sign = 'positive' | 'non-negative';
const holds = (v: number, sign: Sign) => (sign === 'positive' ? v > 0 : v >= 0) && Number.isFinite(v);

/** A finite number that is positive or non-negative. */
export function finiteNumber(where: string, name: string, v: number, sign: Sign): number {
  if (!holds(v, sign)) fail(where, name, v, `a ${sign} finite number`);
  return v;
}

/** A schedule, or a number checked as {@link finiteNumber}. */
export function numberOrSchedule(where: string, name: string, v: number | Schedule, sign: Sign): void {
  if (typeof v !== 'function' && !holds(v, sign)) fail(where, name, v, `a ${sign} finite number or a schedule`);
}
