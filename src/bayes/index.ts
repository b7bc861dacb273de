/**
 * Samplers and schedules: SGHMC (cold posterior, cyclical step sizes) and PyTorch-style SGD with
 * momentum over a flat parameter buffer, and the step schedules and cyclical layout they run on.
 */
export {
  constant,
  cosine,
  linear,
  joinSchedules,
  cycleLayout,
  cyclicalCosine,
  cyclicalTemperature,
  sampleSteps,
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
export { sgd, type SGD, type SGDOptions, type SGDState, type SGDCheckpoint } from './sgd.js';
export { chain, clipByGlobalNorm, type GradientTransform, type Updater } from './transforms.js';
export { METHODS, type Method } from './methods.js';
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
