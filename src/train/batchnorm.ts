/**
 * BatchNorm statistics of weight samples: with `bnBatches`, each sample's running statistics are
 * recomputed on that many fixed, un-augmented training batches before it is stored; training itself
 * goes on with its own running statistics.
 */
import { createLoader, type Batch, type Sample2D } from '../data/loader.js';
import { tensor, tidy, type Tensor } from '../engine/index.js';
import type { UNet } from '../models/index.js';
import type { TrainConfig } from './config.js';

/** Seed offset of the fixed batches that BatchNorm statistics are recomputed on. */
const BN_SEED = 524287;

/** The `config.bnBatches` fixed batches of un-augmented training slices (none when off or without BatchNorm). */
export async function batchNormInputs(samples: readonly Sample2D[], config: TrainConfig): Promise<Batch[]> {
  const count = config.bnBatches ?? 0;
  if (count === 0 || config.model.norm !== 'batch') return [];
  const loader = createLoader(samples, {
    nx: config.data.size,
    ny: config.data.size,
    batchSize: Math.min(config.data.batchSize, samples.length),
    seed: config.seed + BN_SEED,
    augment: null,
    workers: 0,
  });
  try {
    const out: Batch[] = [];
    for (let i = 0; i < count; i++) out.push(await loader.next());
    return out;
  } finally {
    await loader.close();
  }
}

/**
 * A copy of the model's state with BatchNorm statistics recomputed on `inputs`; the model itself
 * keeps its running statistics, so training goes on as it would without recomputation.
 */
export function recomputedState(model: UNet, inputs: readonly Batch[]): Record<string, Tensor> {
  const training = model.state();
  try {
    const device = model.params.flat.device;
    tidy(() => model.recomputeBatchNorm(inputs.map((b) => tensor(b.images, b.imageShape, { device }))));
    return model.state();
  } finally {
    model.loadState(training);
    for (const t of Object.values(training)) t.dispose();
  }
}
