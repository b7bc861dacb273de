/**
 * Experiment presets: the data, the training budget of every method and the studies to run.
 * - `demo`: phantom data only, a small network (U-Net 8–64, depth 4: at depth 3 a network cannot
 *   tell the RV's blood from the LV's, and every single network missed the RV) with K = 600 steps,
 *   and the sample-count study (the others on request: `--studies`); about 10 minutes on 2 cores.
 * - `cpu`: ACDC at 128 × 128 with a U-Net of base width 16 and the reference budget (K = 800 steps
 *   per network, M = 4 cycles, T = 0.01, 12 samples), EMIDEC and phantom contrasts out of domain.
 * - `full`: the budgets a GPU user would use.
 */
import type { Method } from '../bayes/methods.js';
import { parseTrainConfig, type TrainConfigInput } from '../train/config.js';

export const STUDIES = ['temperature', 'cycles', 'layout', 'batchnorm', 'samples', 'budget'] as const;
export type StudyName = (typeof STUDIES)[number];

export interface PhantomSetSpec {
  readonly cases: number;
  readonly size: number;
  readonly seed: number;
}

export interface CycleLayoutSetting {
  readonly firstCycleFactor: number;
  readonly sampleFromCycle: number;
}

export interface Variant {
  /** The row's name in the tables (not a method name). */
  readonly name: string;
  readonly method: Method;
  readonly config: TrainConfigInput;
}

export interface Preset {
  readonly name: 'demo' | 'cpu' | 'full';
  readonly description: string;
  /** Training data: phantoms generated into the output, or a data set directory given by --data. */
  readonly train: { readonly kind: 'phantom'; readonly phantom: PhantomSetSpec } | { readonly kind: 'dataset' };
  /** Phantom out-of-domain sets generated into the output (name → contrast). */
  readonly phantomDomains: readonly { readonly name: string; readonly contrast: 'ssfp' | 't1map' | 't2map'; readonly spec: PhantomSetSpec }[];
  /** Real out-of-domain sets used when present and not overridden by --ood: name, path relative to the data root, label map. */
  readonly realDomains: readonly { readonly name: string; readonly path: string; readonly labels: string }[];
  readonly methods: readonly Method[];
  readonly config: TrainConfigInput;
  /**
   * Further rows of the comparison: a method trained with overrides of `config` (e.g. the library's
   * defaults where the preset pins a reference protocol), trained and evaluated like the methods.
   */
  readonly variants: readonly Variant[];
  /** Studies run by default (more with --studies). */
  readonly studies: readonly StudyName[];
  /** Study grids. */
  readonly grid: {
    readonly temperatures: readonly number[];
    readonly cycles: readonly number[];
    /** Budget multipliers of K. */
    readonly budgets: readonly number[];
    /** Cycle layouts at the preset's M: a longer first cycle (warm-up) and/or sampling only from a later cycle. */
    readonly layouts: readonly CycleLayoutSetting[];
    /** Batches over which each HMC sample's BatchNorm statistics are recomputed (0: stored from training). */
    readonly bnBatches: readonly number[];
  };
}

/**
 * The cycle layout of the reference protocol (M equal cycles, samples from every cycle),
 * pinned in every preset so that its HMC-CP row stays that protocol whatever the library defaults.
 */
const REFERENCE_LAYOUT = { firstCycleFactor: 1, sampleFromCycle: 0 } as const;

const LIBRARY_HMC = parseTrainConfig({}).hmc;

/**
 * HMC-CP with the library's default cycle layout (cycles, first-cycle length, first sampling
 * cycle; chosen on the ACDC validation split), beside the reference protocol's row.
 */
const DEFAULT_LAYOUT_VARIANT: Variant = {
  name: 'hmc-default-layout',
  method: 'hmc',
  config: {
    hmc: { cycles: LIBRARY_HMC.cycles, firstCycleFactor: LIBRARY_HMC.firstCycleFactor, sampleFromCycle: LIBRARY_HMC.sampleFromCycle },
  },
};

const ALL_METHODS: readonly Method[] = ['deterministic', 'mcdropout', 'ensemble', 'hmc', 'sgd-trajectory'];
const GRID = {
  temperatures: [1, 0.3, 0.1, 0.03, 0.01, 0],
  cycles: [1, 2, 4, 8],
  budgets: [1, 2, 4, 8],
  layouts: [
    { firstCycleFactor: 1, sampleFromCycle: 0 },
    { firstCycleFactor: 2, sampleFromCycle: 0 },
    { firstCycleFactor: 1, sampleFromCycle: 4 },
    { firstCycleFactor: 2, sampleFromCycle: 2 },
  ],
  bnBatches: [0, 32],
};

export const PRESETS: Readonly<Record<Preset['name'], Preset>> = {
  demo: {
    name: 'demo',
    description: 'phantom bSSFP for training; phantom T1/T2 maps and unseen bSSFP phantoms for testing; tiny U-Net',
    train: { kind: 'phantom', phantom: { cases: 16, size: 64, seed: 1 } },
    phantomDomains: [
      { name: 'phantom-ssfp', contrast: 'ssfp', spec: { cases: 4, size: 64, seed: 101 } },
      { name: 'phantom-t1map', contrast: 't1map', spec: { cases: 4, size: 64, seed: 102 } },
      { name: 'phantom-t2map', contrast: 't2map', spec: { cases: 4, size: 64, seed: 103 } },
    ],
    realDomains: [],
    methods: ALL_METHODS,
    variants: [DEFAULT_LAYOUT_VARIANT],
    config: {
      data: { labels: 'acdc', size: 64, batchSize: 8, workers: 1 },
      model: { depth: 4, baseWidth: 8 },
      optim: { steps: 600, lr: 0.1 },
      hmc: { cycles: 3, samplesPerCycle: 2, temperature: 0.01, ...REFERENCE_LAYOUT },
      ensemble: { members: 5 },
      checkpointEvery: 50,
    },
    studies: ['samples'],
    grid: {
      temperatures: [1, 0.01, 0],
      cycles: [1, 3, 6],
      budgets: [1, 2],
      layouts: [
        { firstCycleFactor: 1, sampleFromCycle: 0 },
        { firstCycleFactor: 2, sampleFromCycle: 1 },
      ],
      bnBatches: [0, 2],
    },
  },
  cpu: {
    name: 'cpu',
    description: 'ACDC at 128 × 128, U-Net base width 16, K = 800 steps per network; EMIDEC (LGE) and phantom contrasts out of domain',
    train: { kind: 'dataset' },
    phantomDomains: [
      { name: 'phantom-ssfp', contrast: 'ssfp', spec: { cases: 8, size: 128, seed: 101 } },
      { name: 'phantom-t1map', contrast: 't1map', spec: { cases: 8, size: 128, seed: 102 } },
      { name: 'phantom-t2map', contrast: 't2map', spec: { cases: 8, size: 128, seed: 103 } },
    ],
    realDomains: [{ name: 'emidec', path: 'emidec', labels: 'emidec' }],
    methods: ALL_METHODS,
    variants: [DEFAULT_LAYOUT_VARIANT],
    config: {
      data: { labels: 'acdc', size: 128, batchSize: 8, workers: 1 },
      model: { depth: 4, baseWidth: 16 },
      optim: { steps: 800, lr: 0.05 },
      hmc: { cycles: 4, samplesPerCycle: 3, temperature: 0.01, ...REFERENCE_LAYOUT },
      ensemble: { members: 5 },
      checkpointEvery: 50,
    },
    studies: ['samples'],
    grid: {
      temperatures: [1, 0.01, 0],
      cycles: [1, 2, 4, 8],
      budgets: [1, 2, 4],
      layouts: [
        { firstCycleFactor: 1, sampleFromCycle: 0 },
        { firstCycleFactor: 2, sampleFromCycle: 0 },
        { firstCycleFactor: 1, sampleFromCycle: 2 },
        { firstCycleFactor: 2, sampleFromCycle: 1 },
      ],
      bnBatches: [0, 16],
    },
  },
  full: {
    name: 'full',
    description: 'ACDC at 128 × 128, U-Net base width 32, K = 6,400 steps per network (a GPU budget)',
    train: { kind: 'dataset' },
    phantomDomains: [
      { name: 'phantom-ssfp', contrast: 'ssfp', spec: { cases: 20, size: 128, seed: 101 } },
      { name: 'phantom-t1map', contrast: 't1map', spec: { cases: 20, size: 128, seed: 102 } },
      { name: 'phantom-t2map', contrast: 't2map', spec: { cases: 20, size: 128, seed: 103 } },
    ],
    realDomains: [{ name: 'emidec', path: 'emidec', labels: 'emidec' }],
    methods: ALL_METHODS,
    variants: [DEFAULT_LAYOUT_VARIANT],
    config: {
      data: { labels: 'acdc', size: 128, batchSize: 16, workers: 2 },
      model: { depth: 4, baseWidth: 32 },
      optim: { steps: 6400, lr: 0.05 },
      hmc: { cycles: 8, samplesPerCycle: 3, temperature: 0.01, ...REFERENCE_LAYOUT },
      ensemble: { members: 5 },
      checkpointEvery: 200,
    },
    studies: ['temperature', 'cycles', 'layout', 'batchnorm', 'samples', 'budget'],
    grid: GRID,
  },
};
