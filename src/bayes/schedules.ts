/**
 * Schedules and the cyclical layout of HMC-CP.
 *
 * A schedule is a pure function of the step count, `(step) => value` (optax's `Schedule`); samplers
 * accept `number | Schedule` for the learning rate and the temperature and resolve it with the
 * step stored in their state. Steps are 0-based: the update that turns `state.step = k` into
 * `k + 1` uses `lr(k)` and `temperature(k)`.
 *
 * The cyclical layout ({@link cycleLayout}) splits a run of K steps into M cycles; each cycle is an
 * exploration phase followed by a sampling phase (its last fraction β), and weight samples are
 * taken at S evenly spaced steps of each sampling phase, the last at the cycle's end (Zhang et al.
 * 2020, "Cyclical Stochastic Gradient MCMC for Bayesian Deep Learning", ICLR).
 *
 * Every option is checked when a schedule is built; a bad value throws a RangeError that names it
 * (`cycleLayout: cycles=0 must be a positive integer`).
 */

import { fail, finite, nonNegativeInt, positiveInt } from './options.js';

/** A value as a function of the 0-based step count. */
export type Schedule = (step: number) => number;

/** Resolves a `number | Schedule` at `step`. */
export function valueAt(v: number | Schedule, step: number): number {
  return typeof v === 'function' ? v(step) : v;
}

/** The same value at every step. */
export function constant(value: number): Schedule {
  finite('constant', 'value', value);
  return () => value;
}

export interface CosineOptions {
  /** Value at step 0. */
  init: number;
  /** Steps over which the value decays; it stays at `init · alpha` afterwards. */
  decaySteps: number;
  /** Final value as a fraction of `init` (default 0). */
  alpha?: number;
}

/**
 * Cosine decay (optax `cosine_decay_schedule`): `init · ((1 − α) · ½(1 + cos(π · min(k, D) / D)) + α)`.
 * For the deterministic, MC-dropout and ensemble baselines.
 */
export function cosine({ init, decaySteps, alpha = 0 }: CosineOptions): Schedule {
  finite('cosine', 'init', init);
  positiveInt('cosine', 'decaySteps', decaySteps);
  if (!(alpha >= 0 && alpha <= 1)) fail('cosine', 'alpha', alpha, 'in [0, 1]');
  return (step) => {
    const k = Math.min(step, decaySteps);
    return init * ((1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * k) / decaySteps)) + alpha);
  };
}

export interface LinearOptions {
  /** Value at step 0. */
  from: number;
  /** Value from step `steps` on. */
  to: number;
  /** Length of the ramp in steps. */
  steps: number;
}

/** Linear interpolation from `from` (step 0) to `to` (step `steps` and later); e.g. a learning-rate warm-up. */
export function linear({ from, to, steps }: LinearOptions): Schedule {
  finite('linear', 'from', from);
  finite('linear', 'to', to);
  positiveInt('linear', 'steps', steps);
  return (step) => from + ((to - from) * Math.min(step, steps)) / steps;
}

/**
 * Joins schedules at step boundaries (optax `join_schedules`): `schedules[i]` applies from
 * `boundaries[i − 1]` (0 for i = 0) and sees `step − boundaries[i − 1]`.
 *
 * @example joinSchedules([linear({from: 0, to: 0.1, steps: 100}), cosine({init: 0.1, decaySteps: 900})], [100])
 */
export function joinSchedules(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  if (schedules.length === 0) fail('joinSchedules', 'schedules.length', 0, 'at least 1');
  if (boundaries.length !== schedules.length - 1) {
    fail('joinSchedules', 'boundaries.length', boundaries.length, `schedules.length − 1 = ${schedules.length - 1}`);
  }
  boundaries.forEach((b, i) => {
    positiveInt('joinSchedules', `boundaries[${i}]`, b);
    if (i > 0 && b <= boundaries[i - 1]) fail('joinSchedules', `boundaries[${i}]`, b, `greater than boundaries[${i - 1}]=${boundaries[i - 1]}`);
  });
  const starts = [0, ...boundaries];
  return (step) => {
    let i = starts.length - 1;
    while (step < starts[i]) i--;
    return schedules[i](step - starts[i]);
  };
}

// ---------------------------------------------------------------------------------------------
// The cyclical layout

export type Phase = 'explore' | 'sample';

export interface CycleLayoutOptions {
  /** Total steps K (with `cycles`); when given with `cycleLengths`, it must equal their sum. */
  totalSteps?: number;
  /** Number of cycles M (default 4). */
  cycles?: number;
  /**
   * Explicit cycle lengths (instead of the ⌈K/M⌉ layout; not with `firstCycleLength`): e.g. a
   * long first cycle as warm-up, `[4000, 1000, 1000, 1000]`.
   */
  cycleLengths?: readonly number[];
  /**
   * Length of a longer first cycle (a warm-up); the other `cycles − 1` cycles split the remaining
   * `totalSteps − firstCycleLength` steps in the ⌈·⌉ layout.
   */
  firstCycleLength?: number;
  /** Sampling phase as a fraction of each cycle, its last part (default 0.25). */
  beta?: number;
  /** Samples S per sampling cycle, evenly spaced, the last at the cycle's end (default 3). */
  samplesPerCycle?: number;
  /** Index of the first cycle that samples (default 0); earlier cycles only explore (burn-in). */
  firstSampleCycle?: number;
}

/** Where a step lies in the layout. */
export interface CyclePosition {
  /** 0-based cycle index. */
  readonly cycle: number;
  /** Steps since the cycle's first step. */
  readonly offset: number;
  /** The cycle's length in steps. */
  readonly length: number;
  readonly phase: Phase;
}

/** A validated cyclical layout: cycle boundaries, phases and sample steps, all exact integers. */
export interface CycleLayout {
  readonly totalSteps: number;
  readonly cycleLengths: readonly number[];
  /** First step of each cycle (`cycleStarts[0] = 0`). */
  readonly cycleStarts: readonly number[];
  /** Length of each cycle's sampling phase (0 for cycles before `firstSampleCycle`). */
  readonly samplePhaseLengths: readonly number[];
  readonly beta: number;
  readonly samplesPerCycle: number;
  readonly firstSampleCycle: number;
  /** The steps after whose update a weight sample is taken, ascending. */
  readonly sampleSteps: readonly number[];
  /** Cycle, offset, length and phase of `step` (0 ≤ step < totalSteps). */
  cyclePosition(step: number): CyclePosition;
  phaseOf(step: number): Phase;
  /** True when a sample is taken after the update at `step`. */
  isSampleStep(step: number): boolean;
  /** True in sampling phases: pass as the sampler's `noise` gate. */
  isSamplingPhase(step: number): boolean;
}

/** Splits `total` steps into `m` cycles of ⌈total/m⌉ steps, the last one shorter when m ∤ total. */
function ceilLayout(where: string, total: number, m: number): number[] {
  const period = Math.ceil(total / m);
  const last = total - (m - 1) * period;
  if (last < 1) {
    throw new RangeError(
      `${where}: totalSteps=${total} cannot be split into cycles=${m} of ⌈${total}/${m}⌉ = ${period} steps ` +
        `(the last cycle would have ${last}); give cycleLengths explicitly`,
    );
  }
  return [...Array<number>(m - 1).fill(period), last];
}

/**
 * Builds the cyclical layout. By default the K steps form M cycles of ⌈K/M⌉ steps (the last one
 * shorter when M does not divide K), as in Zhang et al. 2020; `firstCycleLength` or `cycleLengths`
 * give uneven cycles. In cycle c of length L_c, the sampling phase is its last P_c = round(β·L_c)
 * steps (half rounds up), and the S sample steps are the ends of S nearly equal parts of it: phase offsets
 * ⌈(j+1)·P_c/S⌉ − 1 for j = 0..S−1 (so the last is the cycle's last step).
 *
 * @throws RangeError naming the bad option, e.g. a sampling phase shorter than S steps.
 * @example
 * const layout = cycleLayout({ totalSteps: 1000, cycles: 4 }); // β = 0.25, S = 3
 * layout.sampleSteps; // phases of round(62.5) = 63 steps: [207, 228, 249, 457, 478, 499, ...]
 */
export function cycleLayout(opts: CycleLayoutOptions): CycleLayout {
  const where = 'cycleLayout';
  const beta = opts.beta ?? 0.25;
  if (!(beta > 0 && beta <= 1)) fail(where, 'beta', beta, 'in (0, 1]');
  const samplesPerCycle = positiveInt(where, 'samplesPerCycle', opts.samplesPerCycle ?? 3);

  let lengths: number[];
  if (opts.cycleLengths !== undefined) {
    if (opts.cycleLengths.length === 0) fail(where, 'cycleLengths.length', 0, 'at least 1');
    lengths = opts.cycleLengths.map((l, i) => positiveInt(where, `cycleLengths[${i}]`, l));
    const sum = lengths.reduce((a, b) => a + b, 0);
    if (opts.totalSteps !== undefined && opts.totalSteps !== sum) fail(where, 'totalSteps', opts.totalSteps, `the sum of cycleLengths (${sum})`);
    if (opts.cycles !== undefined && opts.cycles !== lengths.length) fail(where, 'cycles', opts.cycles, `cycleLengths.length (${lengths.length})`);
    if (opts.firstCycleLength !== undefined) fail(where, 'firstCycleLength', opts.firstCycleLength, 'left out when cycleLengths is given');
  } else {
    if (opts.totalSteps === undefined) throw new RangeError(`${where}: give totalSteps (with cycles) or cycleLengths`);
    const total = positiveInt(where, 'totalSteps', opts.totalSteps);
    const m = positiveInt(where, 'cycles', opts.cycles ?? 4);
    if (opts.firstCycleLength === undefined) {
      lengths = ceilLayout(where, total, m);
    } else {
      const first = positiveInt(where, 'firstCycleLength', opts.firstCycleLength);
      if (m === 1 ? first !== total : first >= total) {
        fail(where, 'firstCycleLength', first, m === 1 ? `totalSteps=${total} with cycles=1` : `less than totalSteps=${total}`);
      }
      lengths = m === 1 ? [first] : [first, ...ceilLayout(where, total - first, m - 1)];
    }
  }
  const firstSampleCycle = nonNegativeInt(where, 'firstSampleCycle', opts.firstSampleCycle ?? 0);
  if (firstSampleCycle >= lengths.length) fail(where, 'firstSampleCycle', firstSampleCycle, `less than the number of cycles (${lengths.length})`);

  const starts: number[] = [];
  let total = 0;
  for (const l of lengths) {
    starts.push(total);
    total += l;
  }
  const phaseLengths = lengths.map((l, c) => (c < firstSampleCycle ? 0 : Math.round(beta * l)));
  const sampleSteps: number[] = [];
  phaseLengths.forEach((p, c) => {
    if (c < firstSampleCycle) return;
    if (p < samplesPerCycle) {
      throw new RangeError(
        `${where}: cycle ${c} (length ${lengths[c]}) has a sampling phase of round(beta=${beta} · ${lengths[c]}) = ${p} steps, ` +
          `fewer than samplesPerCycle=${samplesPerCycle}`,
      );
    }
    const phaseStart = starts[c] + lengths[c] - p;
    for (let j = 0; j < samplesPerCycle; j++) sampleSteps.push(phaseStart + Math.ceil(((j + 1) * p) / samplesPerCycle) - 1);
  });
  const sampleSet = new Set(sampleSteps);

  const cyclePosition = (step: number): CyclePosition => {
    nonNegativeInt(where, 'step', step);
    if (step >= total) fail(where, 'step', step, `less than totalSteps=${total}`);
    let c = lengths.length - 1;
    while (step < starts[c]) c--;
    const offset = step - starts[c];
    const phase: Phase = offset >= lengths[c] - phaseLengths[c] ? 'sample' : 'explore';
    return { cycle: c, offset, length: lengths[c], phase };
  };
  return Object.freeze({
    totalSteps: total,
    cycleLengths: Object.freeze(lengths),
    cycleStarts: Object.freeze(starts),
    samplePhaseLengths: Object.freeze(phaseLengths),
    beta,
    samplesPerCycle,
    firstSampleCycle,
    sampleSteps: Object.freeze(sampleSteps),
    cyclePosition,
    phaseOf: (step: number) => cyclePosition(step).phase,
    isSampleStep: (step: number) => {
      nonNegativeInt(where, 'step', step);
      return sampleSet.has(step);
    },
    isSamplingPhase: (step: number) => cyclePosition(step).phase === 'sample',
  });
}

function layoutOf(layout: CycleLayout | CycleLayoutOptions): CycleLayout {
  return 'cyclePosition' in layout ? layout : cycleLayout(layout);
}

export interface CyclicalCosineOptions {
  /** Peak learning rate η0, at the first step of every cycle. */
  lr0: number;
  /** The cycles: a built layout or its options. */
  layout: CycleLayout | CycleLayoutOptions;
}

/**
 * Cyclical cosine learning rate (Zhang et al. 2020): in a cycle of length L, at offset r,
 * `η = η0/2 · (cos(π · r / L) + 1)`. With the default layout this is exactly
 * `η_k = η0/2 · (cos(π · mod(k, ⌈K/M⌉) / ⌈K/M⌉) + 1)` in every cycle except a shorter last one
 * (M ∤ K), which anneals over its own length so that it, too, ends near 0. Built with
 * {@link joinSchedules}, each cycle seeing `step − cycleStart` (optax `sgdr_schedule`). Past the
 * last cycle the last cycle's cosine continues (clamped at 0 decay).
 */
export function cyclicalCosine({ lr0, layout }: CyclicalCosineOptions): Schedule {
  finite('cyclicalCosine', 'lr0', lr0);
  if (!(lr0 > 0)) fail('cyclicalCosine', 'lr0', lr0, 'positive');
  const l = layoutOf(layout);
  const cycle = (length: number): Schedule => (r) => (lr0 / 2) * (Math.cos((Math.PI * Math.min(r, length)) / length) + 1);
  return joinSchedules(l.cycleLengths.map(cycle), l.cycleStarts.slice(1));
}

export interface CyclicalTemperatureOptions {
  /** Temperature T in sampling phases (1: the untempered posterior of the training loss, see src/bayes/sghmc.ts; < 1: cold). */
  value: number;
  /** The cycles: a built layout or its options. */
  layout: CycleLayout | CycleLayoutOptions;
  /**
   * Steps of a linear ramp at the start of each sampling phase: the phase's j-th step (0-based)
   * has `T · min(1, (j + 1) / rampSteps)` (default 0: no ramp).
   */
  rampSteps?: number;
}

/**
 * Temperature over the cyclical layout: 0 in exploration phases (the update is SGD with momentum),
 * `value` in sampling phases, optionally reached by a linear ramp.
 */
export function cyclicalTemperature({ value, layout, rampSteps = 0 }: CyclicalTemperatureOptions): Schedule {
  const where = 'cyclicalTemperature';
  finite(where, 'value', value);
  if (value < 0) fail(where, 'value', value, 'non-negative');
  nonNegativeInt(where, 'rampSteps', rampSteps);
  const l = layoutOf(layout);
  const shortest = Math.min(...l.samplePhaseLengths.filter((p) => p > 0));
  if (rampSteps > shortest) fail(where, 'rampSteps', rampSteps, `at most the shortest sampling phase (${shortest} steps)`);
  return (step) => {
    const pos = l.cyclePosition(step);
    if (pos.phase === 'explore') return 0;
    const j = pos.offset - (pos.length - l.samplePhaseLengths[pos.cycle]);
    return rampSteps === 0 ? value : value * Math.min(1, (j + 1) / rampSteps);
  };
}
