/** Small helpers every layer may use: atomic writes, validated JSON files, the seedable generator, percentiles. */
export { writeFileAtomic } from './atomic.js';
export { parseJson, readJsonFile } from './json.js';
export { Rng, type RngState } from './rng.js';
export { percentileSorted } from './percentile.js';
