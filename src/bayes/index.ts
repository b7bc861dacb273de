/**
 * Samplers, schedules and methods: SGHMC (cold posterior, cyclical step sizes; at T = 0 SGD with
 * momentum) over a flat parameter buffer, the step schedules and cyclical layout it runs on, the
 * methods as values built from them, and the sample store every method writes.
 */
export {
  constant,
  cosine,
  linear,
  joinSchedules,
  cycleLayout,
  cyclicalCosine,
  cyclicalTemperature,
  valueAt,
  type Schedule,
  type Phase,
  type CosineOptions,
  type LinearOptions,
  type CycleLayout,
  type CycleLayoutOptions,
  type CyclePosition,
  type CyclicalCosineOptions,
  type CyclicalTemperatureOptions,
} from './schedules.js';
export {
  sghmc,
  type SGHMC,
  type SGHMCOptions,
  type SGHMCState,
  type SGHMCCheckpoint,
  type SGHMCInitOptions,
  type SGHMCStepInfo,
} from './sghmc.js';
export { chain, clipByGlobalNorm, type GradientTransform, type Updater } from './transforms.js';
export {
  METHODS,
  deterministicMethod,
  mcDropoutMethod,
  ensembleMethod,
  hmcMethod,
  sgdTrajectoryMethod,
  type Method,
  type TrainingMethod,
  type BaselineOptions,
  type McDropoutOptions,
  type EnsembleOptions,
  type CyclicalOptions,
  type HmcOptions,
} from './methods.js';
export {
  ManifestSchema,
  openSampleStore,
  loadSample,
  createSampleStore,
  addSample,
  filterSamples,
  completeSampleStore,
  type Manifest,
  type SampleInfo,
  type SampleStore,
} from './store.js';
