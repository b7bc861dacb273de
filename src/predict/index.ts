/**
 * Prediction: segmentation, uncertainty maps and scores of a volume from a sample store
 * ({@link Predictor}), and the prediction files, written and read by one module.
 */
export {
  assemblePrediction,
  assembleVolumePrediction,
  passDisagreement,
  type GridOutputs,
  type GridPrediction,
  type PassOutputs,
} from './assemble.js';
export { predictFromBranches, type BranchForward, type BranchPredictionOptions } from './branches.js';
export { POSTPROCESS_MODES, postprocessSegmentation, type Postprocess } from './postprocess.js';
export { PREDICTION_VERSION, Predictor, type PredictOptions, type VolumePrediction } from './predict.js';
export {
  GAUSSIAN_SIGMA_SCALE,
  SLIDING_OVERLAP,
  gaussianImportance,
  slidingWindowSoftmax,
  windowStarts,
  WindowFusion,
  type SlidingWindowOptions,
  type WindowBatch,
} from './sliding.js';
export {
  findInputs,
  hasPrediction,
  isPredictionFile,
  niftiStem,
  readPrediction,
  segmentationPath,
  writePrediction,
  NNUNET_EXTRAS_DIR,
  type PredictionFiles,
  type PredictionLayout,
  type PredictionSource,
  type ProbabilityStorage,
} from './files.js';
