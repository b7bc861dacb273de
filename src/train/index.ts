/**
 * Training: the config, the loop that trains a method into a sample store (resumable, with
 * divergence roll-back), the run file `--resume` reads, and the training step `hmcseg smoke` shares.
 */
export {
  TrainConfigSchema,
  parseTrainConfig,
  loadTrainConfig,
  methodFromConfig,
  type TrainConfig,
  type TrainConfigInput,
} from './config.js';
export { train, type TrainOptions, type TrainProgress, type TrainResult } from './trainer.js';
export { DivergenceError } from './rollback.js';
export { readRunFile, type RunFile } from './run-file.js';
export { trainStep, type StepBatch, type StepInput, type StepResult } from './step.js';
