/** Pixel-wise uncertainty maps from posterior samples: predictive entropy, expected entropy, mutual information, variance. */
export { entropy, UncertaintyAccumulator, type UncertaintyMaps } from './entropy.js';
export {
  DEFAULT_WARNING_SCORE,
  SCORE_NAMES,
  uncertaintyScores,
  withWarningScore,
  type RegionScores,
  type NamedScores,
  type ScoreName,
  type ScoreOptions,
  type SliceScores,
} from './scores.js';
export { SampleDisagreement, type DisagreementOptions, type DisagreementResult, type DisagreementScores } from './disagreement.js';
