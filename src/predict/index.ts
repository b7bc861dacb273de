/**
 * Prediction: segmentation, uncertainty maps and scores of a volume from a sample store
 * ({@link Predictor}), and the prediction files, written and read by one module.
 */
export { assemblePrediction, copySlicesClassMajor, type GridOutputs, type GridPrediction } from './assemble.js';
export { Predictor, type PredictOptions, type VolumePrediction } from './predict.js';
export { gaussianImportance, slidingWindowSoftmax, windowStarts, type SlidingWindowOptions } from './sliding.js';
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
