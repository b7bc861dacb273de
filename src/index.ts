/**
 * hmcseg: trustworthy cardiac MRI segmentation. Bayesian U-Nets trained by SGHMC with a cold
 * posterior and cyclical step sizes (HMC-CP), MC Dropout and Deep Ensembles, on libtorch.
 *
 * Layers, each its own entry point: engine (tensors, autograd), data (NIfTI, data sets, phantom,
 * pipeline), models (U-Net, loss), bayes (samplers, schedules, sample stores), train, predict,
 * uncertainty, metrics, evaluate, experiment.
 */
export * as engine from './engine/index.js';
export * as data from './data/index.js';
export * as models from './models/index.js';
export * as bayes from './bayes/index.js';
export * as metrics from './metrics/index.js';
export * as uncertainty from './uncertainty/index.js';
export * as evaluate from './evaluate/index.js';
export {
  train,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  DivergenceError,
  parseTrainConfig,
  loadTrainConfig,
  TrainConfigSchema,
  type TrainConfig,
} from './train/index.js';
export * as predict from './predict/index.js';
export { Predictor, type PredictOptions, type VolumePrediction } from './predict/index.js';
export { runExperiment, type ExperimentOptions, type ExperimentResults } from './experiment/index.js';
export { PRESETS, type Preset } from './experiment/presets.js';
