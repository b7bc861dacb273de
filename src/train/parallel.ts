/**
 * Data-parallel training over a c10d process group (src/engine/distributed.ts), like PyTorch's DDP
 * but with `data.batchSize` kept the *global* batch: each rank's loader plans the same batches and
 * builds only its rows (`shard`, src/data/loader.ts); each rank's loss is its shard's sum over the
 * global batch's counts (`shardOf`, src/models/loss.ts); the gradients are allreduce-summed, so
 * every rank holds the one-process gradient up to float rounding. The sampler's noise comes from
 * the same seeded generator on every rank and the weights are broadcast from rank 0 at the start,
 * so every rank applies the same update and holds the same weights (checked at every checkpoint).
 *
 * BatchNorm sees per-shard batch statistics (as DDP without SyncBatchNorm), which differ from the
 * global batch's; its running buffers are averaged over the ranks after every step, so they stay
 * identical. With equal shards, the averaged running mean is exactly the exponential average of
 * the global batch's means (the mean of the shards' means); the averaged running variance is the
 * exponential average of the mean of the shards' (unbiased) variances, which leaves out the
 * spread of the shard means around the global one — smaller than the global batch's variance.
 */
import { tensor, tidy, type ProcessGroup, type Tensor } from '../engine/index.js';
import type { Batch } from '../data/loader.js';
import type { ShardOf } from '../models/index.js';
import type { UNet } from '../models/index.js';

/** The allreduce of a few host values (float64), through a temporary tensor. */
export function allreduceValues(group: ProcessGroup, values: Float64Array, op: 'sum' | 'max'): Float64Array {
  const t = tensor(values);
  try {
    group.allreduce(t, op);
    return t.toArray() as Float64Array;
  } finally {
    t.dispose();
  }
}

/** The global batch's counts that a shard's loss is divided by. */
export function shardCounts(batch: Batch): ShardOf {
  const g = batch.shardOf;
  if (g === undefined) throw new Error('shardCounts: the batch is not a shard (the loader was made without `shard`)');
  const c = g.labelled.length / g.size;
  let pairs = 0;
  for (let k = 0; k < g.size; k++) for (let j = 1; j < c; j++) pairs += g.labelled[k * c + j];
  return { samples: g.size, labelledPairs: pairs };
}

/**
 * The step's reduction over the ranks: the flat gradient summed (one allreduce), then one small
 * allreduce of the loss, a stop flag and the floating-point buffers (BatchNorm running statistics),
 * which are averaged. Returns the global loss and whether any rank asked to stop.
 */
export function reduceStep(group: ProcessGroup, model: UNet, flatGrad: Tensor, loss: number, stop: boolean): { loss: number; stop: boolean } {
  group.allreduce(flatGrad, 'sum');
  const buffers = model.bufferNames.map((n) => model.buffer(n)).filter((b) => b.dtype === 'float32' || b.dtype === 'float64');
  const sizes = buffers.map((b) => b.numel);
  const packed = new Float64Array(2 + sizes.reduce((a, b) => a + b, 0));
  packed[0] = loss;
  packed[1] = stop ? 1 : 0;
  let at = 2;
  for (const b of buffers) {
    packed.set(Float64Array.from(b.toArray() as Float32Array | Float64Array), at);
    at += b.numel;
  }
  const out = allreduceValues(group, packed, 'sum');
  at = 2;
  buffers.forEach((b, i) => {
    const mean = out.subarray(at, at + sizes[i]).map((v) => v / group.worldSize);
    const src = tensor(b.dtype === 'float32' ? Float32Array.from(mean) : Float64Array.from(mean), b.shape);
    try {
      b.copy_(src);
    } finally {
      src.dispose();
    }
    at += sizes[i];
  });
  return { loss: out[0], stop: out[1] > 0 };
}

/**
 * Checks that every rank holds the same weights: the float64 sum of the flat parameters and of the
 * buffers, allreduced by max of (s, −s); a mismatch throws on every rank, naming the step.
 */
export function checkSameWeights(group: ProcessGroup, model: UNet, step: number): void {
  const sums = [model.params.flat, ...model.bufferNames.map((n) => model.buffer(n))].map((t) => tidy(() => t.to('float64').sum().item()));
  const k = sums.length;
  const out = allreduceValues(group, Float64Array.from([...sums, ...sums.map((v) => -v)]), 'max');
  for (let i = 0; i < k; i++) {
    if (out[i] !== -out[k + i]) {
      const what = i === 0 ? 'the parameters' : `buffer '${model.bufferNames[i - 1]}'`;
      throw new Error(
        `data-parallel training: the ranks' weights differ at step ${step} (${what}: checksums ${-out[k + i]} to ${out[i]} ` +
          `across the ${group.worldSize} ranks; rank ${group.rank} has ${sums[i]})`,
      );
    }
  }
}
