/**
 * The methods hmcseg trains, each a small value built by one function: the schedules the sampler
 * runs on (η, T and the noise gate of `sghmc`), the steps after which a weight sample is
 * taken, the networks and how many prediction passes a sample gets. Every method runs the same
 * sampler over the flat parameter buffer, so the trainer only consumes this value, and every method
 * returns the same thing, a sample store of weight samples, so prediction and uncertainty never
 * branch on the method.
 *
 * - `deterministic` ({@link deterministicMethod}): one network, SGD with momentum (SGHMC at T = 0),
 *   cosine or constant η, one sample at the end.
 * - `mcdropout` ({@link mcDropoutMethod}): the same with dropout, kept active at prediction (K passes).
 * - `ensemble` ({@link ensembleMethod}): M such networks from different seeds.
 * - `hmc` ({@link hmcMethod}): HMC-CP — SGHMC with a cold posterior and cyclical step-size
 *   annealing over one network's budget: T > 0 in the sampling phase of each cycle, S samples in it.
 * - `sgd-trajectory` ({@link sgdTrajectoryMethod}): the same cycles at T = 0 (samples from the SGD
 *   trajectory).
 *
 * @example
 * const m = hmcMethod({ steps: 800, lr: 0.05, cycles: 4, temperature: 0.01, network });
 * const sampler = sghmc({ lr: m.lr, temperature: m.temperature, noise: m.noise, numData, priorStd });
 * m.sampleSteps; // [...]: sample after these updates
 */
import type { UNetConfig } from '../models/index.js';
import { fail, positiveInt } from './options.js';
import {
  constant,
  cosine,
  cycleLayout,
  cyclicalCosine,
  cyclicalTemperature,
  type Phase,
  type Schedule,
} from './schedules.js';

export const METHODS = ['deterministic', 'mcdropout', 'ensemble', 'hmc', 'sgd-trajectory'] as const;
export type Method = (typeof METHODS)[number];

/** A method: what the trainer needs to train it. */
export interface TrainingMethod {
  readonly name: Method;
  /** Networks trained one after another, each over the whole budget (ensemble members; else 1). */
  readonly members: number;
  /** Learning rate η of the update at each step (the sampler's `lr`). */
  readonly lr: Schedule;
  /** Temperature T of the update at each step (0: SGD with momentum). */
  readonly temperature: Schedule;
  /** The sampler's noise gate: noise is added only where it is true. */
  readonly noise: (step: number) => boolean;
  /** The steps after whose update a weight sample is taken, ascending (per member). */
  readonly sampleSteps: readonly number[];
  /** True when a sample is taken after the update at `step`. */
  isSampleStep(step: number): boolean;
  phase(step: number): Phase;
  /** The cycle of `step` (0 for the methods without cycles). */
  cycle(step: number): number;
  /** The network of ensemble member `member` (0 for the others): member m has seed `seed + 1000·m`. */
  model(member: number): UNetConfig;
  /** Forward passes per weight sample at prediction (MC dropout: K passes with dropout active). */
  readonly passesPerSample: number;
}

/** Options of the methods that train networks by SGD with momentum, one sample each. */
export interface BaselineOptions {
  /** Steps K of each network. */
  readonly steps: number;
  /** Learning rate η0 (at step 0 of a cosine decay, or throughout). */
  readonly lr: number;
  /** Cosine decay of η to 0 over K steps, or a constant η (default cosine). */
  readonly schedule?: 'cosine' | 'constant';
  /** The network (of member 0). */
  readonly network: UNetConfig;
}

export interface McDropoutOptions extends BaselineOptions {
  /** Dropout rate of the network, in (0, 1). */
  readonly rate: number;
  /** Dropout passes per prediction. */
  readonly passes: number;
}

export interface EnsembleOptions extends BaselineOptions {
  /** Members M. */
  readonly members: number;
}

/** Options of the cyclical methods: the cycle layout of HMC-CP over one network's budget. */
export interface CyclicalOptions {
  /** Steps K of the whole run. */
  readonly steps: number;
  /** Peak learning rate η0, at the first step of every cycle. */
  readonly lr: number;
  /** Cycles M (default 1). */
  readonly cycles?: number;
  /** Sampling phase as a fraction β of each cycle (default 0.25). */
  readonly beta?: number;
  /** Samples S per sampling cycle (default 3). */
  readonly samplesPerCycle?: number;
  /** Length of the first cycle relative to the others, a warm-up when > 1 (default 1). */
  readonly firstCycleFactor?: number;
  /** First cycle that samples, 0-based (default 0). */
  readonly sampleFromCycle?: number;
  readonly network: UNetConfig;
}

export interface HmcOptions extends CyclicalOptions {
  /** Temperature T of the sampling phases (1: the untempered posterior of the training loss, see src/bayes/sghmc.ts; < 1: cold). */
  readonly temperature: number;
  /** Steps of a linear temperature ramp at the start of each sampling phase (default 0). */
  readonly temperatureRamp?: number;
}

type Schedules = Pick<TrainingMethod, 'lr' | 'temperature' | 'noise' | 'sampleSteps' | 'isSampleStep' | 'phase' | 'cycle'>;

function method(name: Method, network: UNetConfig, s: Schedules, o: { members?: number; passesPerSample?: number } = {}): TrainingMethod {
  const members = positiveInt(name, 'members', o.members ?? 1);
  return Object.freeze({
    name,
    members,
    ...s,
    model: (member: number) => ({ ...network, seed: network.seed + 1000 * member }),
    passesPerSample: o.passesPerSample ?? 1,
  });
}

/** η cosine-decayed or constant over K steps, T = 0, one sample after the last step. */
function baseline(name: Method, o: BaselineOptions): Schedules {
  const steps = positiveInt(name, 'steps', o.steps);
  const last = steps - 1;
  return {
    lr: (o.schedule ?? 'cosine') === 'cosine' ? cosine({ init: o.lr, decaySteps: steps }) : constant(o.lr),
    temperature: constant(0),
    noise: () => false,
    sampleSteps: Object.freeze([last]),
    isSampleStep: (step) => step === last,
    phase: () => 'explore',
    cycle: () => 0,
  };
}

/** One network trained by SGD with momentum (SGHMC at T = 0), one sample at the end. */
export function deterministicMethod(o: BaselineOptions): TrainingMethod {
  return method('deterministic', o.network, baseline('deterministic', o));
}

/** One network with dropout at `rate`, trained as {@link deterministicMethod}; `passes` dropout passes per prediction. */
export function mcDropoutMethod(o: McDropoutOptions): TrainingMethod {
  if (!(o.rate > 0 && o.rate < 1)) fail('mcdropout', 'rate', o.rate, 'in (0, 1)');
  const passes = positiveInt('mcdropout', 'passes', o.passes);
  return method('mcdropout', { ...o.network, dropout: o.rate }, baseline('mcdropout', o), { passesPerSample: passes });
}

/** `members` networks trained as {@link deterministicMethod}, from different seeds. */
export function ensembleMethod(o: EnsembleOptions): TrainingMethod {
  return method('ensemble', o.network, baseline('ensemble', o), { members: o.members });
}

/** The cyclical cosine η over the layout, and where the samples are. */
function cyclical(o: CyclicalOptions) {
  const cycles = o.cycles ?? 1;
  const factor = o.firstCycleFactor ?? 1;
  const layout = cycleLayout({
    totalSteps: o.steps,
    cycles,
    beta: o.beta,
    samplesPerCycle: o.samplesPerCycle,
    firstSampleCycle: o.sampleFromCycle,
    ...(factor !== 1 && cycles > 1 ? { firstCycleLength: Math.round((factor * o.steps) / cycles) } : {}),
  });
  const schedules: Omit<Schedules, 'temperature' | 'noise'> = {
    lr: cyclicalCosine({ lr0: o.lr, layout }),
    sampleSteps: layout.sampleSteps,
    isSampleStep: layout.isSampleStep,
    phase: layout.phaseOf,
    cycle: (step) => layout.cyclePosition(step).cycle,
  };
  return { layout, schedules };
}

/**
 * HMC-CP: SGHMC with a cyclical cosine η; noise at temperature T (optionally ramped) in the
 * sampling phase of each cycle, none while exploring; S samples per sampling phase.
 */
export function hmcMethod(o: HmcOptions): TrainingMethod {
  const { layout, schedules } = cyclical(o);
  const temperature = cyclicalTemperature({ value: o.temperature, layout, rampSteps: o.temperatureRamp });
  return method('hmc', o.network, { ...schedules, temperature, noise: layout.isSamplingPhase });
}

/** The cycles and samples of {@link hmcMethod} at T = 0: samples of the SGD trajectory. */
export function sgdTrajectoryMethod(o: CyclicalOptions): TrainingMethod {
  const { schedules } = cyclical(o);
  return method('sgd-trajectory', o.network, { ...schedules, temperature: constant(0), noise: () => false });
}
