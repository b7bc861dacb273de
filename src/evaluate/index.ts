/**
 * Evaluation: per-case metrics in memory ({@link evaluateCase}), their summary ({@link summarize})
 * and a prediction directory against a ground-truth data set ({@link evaluateDirectory}). Results
 * are plain JSON; a NaN metric is `{ value: null, reason }`.
 */
export {
  evaluateCase,
  fromJsonMetric,
  STRUCTURES,
  sumCalibrationBins,
  toJsonMetric,
  type CalibrationBins,
  type CaseCalibration,
  type CaseEvaluation,
  type CaseInput,
  type MapErrorEvaluation,
  type MetricJson,
  type RegionCalibration,
  type SliceEvaluation,
  type StructureEvaluation,
  type StructureName,
} from './case.js';
export {
  chooseWarningScore,
  stat,
  WARNING_SCORE_RULE,
  summarize,
  type CalibrationSummary,
  type CohortSummary,
  type EvaluationSummary,
  type FailureSummary,
  type MapErrorSummary,
  type PooledCalibration,
  type ScoreFailure,
  type Stat,
  type StructureSummary,
  type SummaryOptions,
  type WarningScoreChoice,
} from './summary.js';
export {
  evaluateDirectory,
  type DirectoryEvaluation,
  type EvaluateDirectoryOptions,
  type MissingPrediction,
} from './files.js';
