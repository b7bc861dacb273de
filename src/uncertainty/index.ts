/** Pixel-wise uncertainty maps from posterior samples: predictive entropy, expected entropy, mutual information, variance. */
export { entropy, UncertaintyAccumulator, type UncertaintyMaps } from './entropy.js';
export { uncertaintyScores, type RegionScores, type ScoreOptions } from './scores.js';
export { SampleDisagreement, type DisagreementOptions, type DisagreementResult, type DisagreementScores } from './disagreement.js';
