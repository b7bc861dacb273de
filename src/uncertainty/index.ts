/** Pixel-wise uncertainty maps from posterior samples: predictive entropy, expected entropy, mutual information, variance. */
export { entropy, uncertaintyMaps, UncertaintyAccumulator, type UncertaintyMaps } from './entropy.js';
