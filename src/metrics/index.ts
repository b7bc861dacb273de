/**
 * Segmentation and uncertainty metrics: pure functions over typed arrays, per (case, class),
 * NaN plus a reason where a value cannot be computed, and {@link reduce} to aggregate.
 */
export type { MetricValue, NanReason, StructureMetric, StructureOptions } from './types.js';
export { dice } from './dice.js';
export {
  distanceTransform,
  surfaceVoxels,
  surfaceDistances,
  surfaceDistancesPerSlice,
  type GridDims,
  type SurfaceDistanceOptions,
  type SurfaceDistances,
} from './hausdorff.js';
export {
  argmax,
  calibrationRoi,
  calibrationError,
  negativeLogLikelihood,
  brierScore,
  brierScorePerClass,
  type CalibrationOptions,
  type CalibrationError,
  type Reliability,
} from './calibration.js';
export {
  auroc,
  averagePrecision,
  riskCoverage,
  riskCoverageOfRisks,
  rankData,
  spearman,
  type RankingOptions,
  type RiskCoverage,
} from './ranking.js';
export {
  errorMask,
  uncertaintyErrorOverlap,
  uncertaintyErrorMetrics,
  type UncertaintyErrorOverlap,
  type UncertaintyErrorMetrics,
} from './uncertainty-error.js';
export { caseDice, failureDetection, type FailureDetection } from './failure.js';
export { reduce, type Reduced, type Reduction } from './reduce.js';
