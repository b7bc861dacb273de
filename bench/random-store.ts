/** A complete sample store of K randomly initialised U-Nets (seeds 0..K-1), for prediction benchmarks: cost does not depend on the weights. */
import { addSample, completeSampleStore, createSampleStore } from '../src/bayes/store.js';
import type { PreprocessConfig } from '../src/data/preprocess.js';
import { UNet, type UNetConfig } from '../src/models/index.js';

export function randomStore(dir: string, config: UNetConfig, K: number, preprocess: PreprocessConfig): string {
  let store = createSampleStore(dir, {
    method: 'ensemble',
    model: { ...config },
    preprocess: { ...preprocess },
    training: {},
    passesPerSample: 1,
    data: { dir: '(synthetic)', fingerprint: '-', splitsFingerprint: '-', numTrainSlices: 0 },
  });
  for (let k = 0; k < K; k++) {
    const net = new UNet({ ...config, seed: k });
    const w = net.state();
    store = addSample(store, w, { step: k, cycle: 0, member: k, lr: 0, temperature: 0, loss: 0 });
    for (const t of Object.values(w)) t.dispose();
    net.dispose();
  }
  completeSampleStore(store);
  return dir;
}
