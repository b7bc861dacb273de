/**
 * One training step, shared by the trainer and `hmcseg smoke`: forward, loss (cross-entropy + soft
 * Dice), backward into the flat gradient buffer, the finiteness checks, and the sampler's update of
 * the flat parameter buffer.
 */
import type { Updater } from '../bayes/index.js';
import type { Batch } from '../data/loader.js';
import { tensor, tidy, type Tensor } from '../engine/index.js';
import { segmentationLoss, type ShardOf, type UNet } from '../models/index.js';

/** The tensors of a batch: images N×1×H×W, labels N×H×W (int64) and optionally the N×C labelled-class mask. */
export interface StepBatch {
  readonly x: Tensor;
  readonly y: Tensor;
  readonly labelled?: Tensor;
}

export interface StepInput<S extends { readonly params: Tensor; readonly step: number }> {
  readonly model: UNet;
  /** The sampler (e.g. `sghmc`, or it `chain`ed with transforms) over `model.params.flat`. */
  readonly sampler: Updater<S>;
  readonly state: S;
  /** Makes the batch's tensors; called inside the step's scope, which frees them. */
  readonly batch: () => StepBatch;
  /** Weights of the loss terms (default 1 and 1). */
  readonly ceWeight?: number;
  readonly diceWeight?: number;
  /** Data-parallel: the global batch this one is a shard of (the loss is the shard's part of its loss). */
  readonly shardOf?: ShardOf;
  /**
   * Data-parallel: sums the flat gradient and the loss over the ranks (parallel.ts), before the
   * checks, so that every rank takes the same decision; returns the global loss.
   */
  readonly reduce?: (flatGrad: Tensor, loss: number) => number;
}

export interface StepResult<S> {
  /** The sampler state after the update (the one given when the loss or gradient is not finite). */
  readonly state: S;
  /** The loss before the update. */
  readonly loss: number;
  /** What is not finite, or null: a non-finite loss or gradient skips the update. */
  readonly notFinite: 'the loss' | 'the gradient' | 'a weight' | null;
}

/** Runs one step: the model's gradient on the batch, then the sampler's update. */
export function trainStep<S extends { readonly params: Tensor; readonly step: number }>(i: StepInput<S>): StepResult<S> {
  const { model } = i;
  model.params.zeroGrad();
  const local = tidy(() => {
    const b = i.batch();
    const l = segmentationLoss(model.forward(b.x), b.y, {
      labelled: b.labelled,
      ceWeight: i.ceWeight,
      diceWeight: i.diceWeight,
      shardOf: i.shardOf,
    });
    l.backward();
    return l.item();
  });
  const loss = i.reduce ? i.reduce(model.params.flatGrad, local) : local;
  if (!Number.isFinite(loss)) return { state: i.state, loss, notFinite: 'the loss' };
  if (!model.params.flatGrad.allFinite()) return { state: i.state, loss, notFinite: 'the gradient' };
  const state = i.sampler.update(i.state, model.params.flatGrad);
  return { state, loss, notFinite: model.params.flat.allFinite() ? null : 'a weight' };
}

/** A loader's batch as the step's tensors (labels as int64, the labelled-class mask as uint8). */
export function batchTensors(batch: Batch, device = 'cpu'): StepBatch {
  return {
    x: tensor(batch.images, batch.imageShape, { device }),
    y: tensor(batch.labels, batch.labelShape, { dtype: 'uint8', device }).to('int64'),
    labelled: tensor(batch.labelled, batch.labelledShape, { dtype: 'uint8', device }),
  };
}
