/**
 * Segmentation losses that respect partially labelled data.
 *
 * Data sets label different structures (EMIDEC has no RV). A per-sample mask `labelled` (N×C,
 * 1 = the sample's data set labels class c) says which classes a sample's target can contain;
 * class 0 (background) is always labelled. In such data an unlabelled structure's pixels carry
 * the background label, so "background" really means "background or any unlabelled class".
 *
 * - Cross-entropy marginalises the unlabelled classes: for a background pixel the probability is
 *   p(bg) + Σ_{c unlabelled} p(c), i.e. the log-probability is
 *   logsumexp over {0} ∪ unlabelled of log_softmax(logits); labelled classes keep theirs. The
 *   model is thus never pushed to call a real RV "background" in EMIDEC. With every class
 *   labelled this is exactly the ordinary cross-entropy.
 * - Soft Dice is computed per sample and per labelled foreground class and averaged over those
 *   (sample, class) pairs; unlabelled classes are left out.
 *
 * Both terms decompose over a split of the batch (data-parallel training): given `shardOf`, the
 * counts of the global batch, each term is the shard's sum divided by the global count, so the
 * shards' losses, and their gradients, add up to the global batch's (up to float rounding).
 */
import { crossEntropy, tidy, where, type Tensor } from '../engine/index.js';

export interface DiceOptions {
  /** Added to numerator and denominator (default 1e-5). */
  readonly smooth?: number;
}

/** The global batch that a batch is one rank's shard of (data-parallel training). */
export interface ShardOf {
  /** Samples N of the global batch (its pixels are N times each sample's). */
  readonly samples: number;
  /** Labelled (sample, foreground class) pairs of the global batch, over which soft Dice is averaged. */
  readonly labelledPairs: number;
}

export interface SegmentationLossOptions extends DiceOptions {
  /** Weight of the cross-entropy term (default 1). */
  readonly ceWeight?: number;
  /** Weight of the soft Dice term (default 1). */
  readonly diceWeight?: number;
  /** N×C mask (0/1) of the classes each sample's data set labels; default: all labelled. */
  readonly labelled?: Tensor;
  /** When the batch is a shard of a larger batch: that batch's counts (see the file comment). */
  readonly shardOf?: ShardOf;
}

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

function checkInputs(fn: string, logits: Tensor, target: Tensor, labelled: Tensor | undefined): void {
  const ls = logits.shape;
  const ts = target.shape;
  if (ls.length < 2 || ts.length !== ls.length - 1 || ts[0] !== ls[0] || ts.some((d, i) => i > 0 && d !== ls[i + 1])) {
    throw new RangeError(`${fn}: logits N×C×… and target N×… must agree, got ${shapeStr(ls)} and ${shapeStr(ts)}`);
  }
  if (target.dtype !== 'int64') throw new TypeError(`${fn}: target must be int64, got ${target.dtype}`);
  if (labelled) {
    const ms = labelled.shape;
    if (ms.length !== 2 || ms[0] !== ls[0] || ms[1] !== ls[1]) {
      throw new RangeError(`${fn}: labelled must be N×C = [${ls[0]}, ${ls[1]}], got ${shapeStr(ms)}`);
    }
  }
}

function checkShard(fn: string, n: number, shard: ShardOf): void {
  if (!Number.isInteger(shard.samples) || shard.samples < n) {
    throw new RangeError(`${fn}: shardOf.samples must be an integer ≥ the shard's ${n} samples, got ${shard.samples}`);
  }
  if (!Number.isInteger(shard.labelledPairs) || shard.labelledPairs < 0) {
    throw new RangeError(`${fn}: shardOf.labelledPairs must be a non-negative integer, got ${shard.labelledPairs}`);
  }
}

/**
 * `labelled` as 0/1 in the logits' dtype, with background forced to 1, shaped `[N, C, 1, …]` so it
 * broadcasts over pixels.
 */
function labelMask(labelled: Tensor, logits: Tensor): Tensor {
  const mask = labelled.ne(0).to(logits.dtype);
  mask.narrow(1, 0, 1).fill_(1);
  return mask.reshape([...labelled.shape, ...Array<number>(logits.ndim - 2).fill(1)]);
}

/**
 * Mean cross-entropy over all pixels, with unlabelled classes merged into background (see the
 * file comment). A target pixel whose class the sample does not label is an error.
 *
 * @param logits N×C×… raw scores.
 * @param target N×… int64 class indices.
 * @param labelled N×C 0/1 mask; omitted means all classes labelled (ordinary cross-entropy).
 * @param shardOf the global batch when this one is its shard: the shard's sum over the global pixel count.
 */
export function marginalCrossEntropy(logits: Tensor, target: Tensor, labelled?: Tensor, shardOf?: ShardOf): Tensor {
  checkInputs('marginalCrossEntropy', logits, target, labelled);
  const n = logits.shape[0];
  if (shardOf) checkShard('marginalCrossEntropy', n, shardOf);
  // mean · n/N = (shard sum) / (pixels of the global batch)
  const scaled = (mean: Tensor) => (shardOf ? mean.mul(n / shardOf.samples) : mean);
  if (!labelled) return tidy(() => scaled(crossEntropy(logits, target)));
  return tidy(() => {
    const mask = labelMask(labelled, logits);
    const labelledAtTarget = mask.reshape([n, -1]).gather(1, target.reshape([n, -1]));
    if (labelledAtTarget.min().item() === 0) {
      throw new RangeError('marginalCrossEntropy: the target contains a class that its sample marks as unlabelled');
    }
    const logp = logits.logSoftmax(1);
    // Background and the unlabelled classes form one outcome: log Σ p over them (log 0 = −∞ drops the rest).
    const merge = mask.neg().add(1);
    merge.narrow(1, 0, 1).fill_(1);
    const mergedBg = logp.add(merge.log()).logsumexp(1);
    const picked = logp.gather(1, target.unsqueeze(1)).squeeze(1);
    return scaled(where(target.eq(0), mergedBg, picked).neg().mean());
  });
}

/**
 * Soft Dice loss: 1 − mean over (sample, labelled foreground class) of
 * (2 Σ p·g + s) / (Σ p + Σ g + s), with p = softmax(logits) and g the one-hot target.
 *
 * @param logits N×C×… raw scores.
 * @param target N×… int64 class indices.
 * @param labelled N×C 0/1 mask; unlabelled (sample, class) pairs are left out of the mean.
 * @param shardOf the global batch when this one is its shard: Σ (1 − Dice) over the shard's pairs
 *   divided by the global batch's labelled pairs (the shards' terms add up to the global loss).
 */
export function softDiceLoss(logits: Tensor, target: Tensor, labelled?: Tensor, opts: DiceOptions & { shardOf?: ShardOf } = {}): Tensor {
  checkInputs('softDiceLoss', logits, target, labelled);
  const smooth = opts.smooth ?? 1e-5;
  const [n, c] = logits.shape;
  if (c < 2) throw new RangeError(`softDiceLoss: needs background and at least one foreground class, got C = ${c}`);
  const { shardOf } = opts;
  if (shardOf) {
    checkShard('softDiceLoss', n, shardOf);
    if (shardOf.labelledPairs <= 0) throw new RangeError('softDiceLoss: no sample of the global batch labels any foreground class');
  }
  return tidy(() => {
    const p = logits.softmax(1).reshape([n, c, -1]).narrow(1, 1, c - 1);
    const g = target.reshape([n, -1]).oneHot(c).to(logits.dtype).permute([0, 2, 1]).narrow(1, 1, c - 1);
    const inter = p.mul(g).sum(2);
    const denom = p.sum(2).add(g.sum(2));
    const dice = inter.mul(2).add(smooth).div(denom.add(smooth)); // N×(C−1)
    if (shardOf) {
      const w = labelled ? labelled.ne(0).to(logits.dtype).narrow(1, 1, c - 1) : undefined;
      const pairs = w ? w.sum() : n * (c - 1);
      const hits = w ? dice.mul(w).sum() : dice.sum();
      return hits.neg().add(pairs).div(shardOf.labelledPairs);
    }
    if (!labelled) return dice.mean().neg().add(1);
    const w = labelled.ne(0).to(logits.dtype).narrow(1, 1, c - 1);
    const count = w.sum().item();
    if (count === 0) throw new RangeError('softDiceLoss: no sample labels any foreground class');
    return dice.mul(w).sum().div(count).neg().add(1);
  });
}

/**
 * ceWeight · {@link marginalCrossEntropy} + diceWeight · {@link softDiceLoss} (defaults 1 and 1).
 *
 * @example
 * const loss = tidy(() => segmentationLoss(model.forward(x), y, { labelled }));
 * loss.backward();
 */
export function segmentationLoss(logits: Tensor, target: Tensor, opts: SegmentationLossOptions = {}): Tensor {
  const ceWeight = opts.ceWeight ?? 1;
  const diceWeight = opts.diceWeight ?? 1;
  if (!(ceWeight >= 0 && diceWeight >= 0) || ceWeight + diceWeight === 0) {
    throw new RangeError(`segmentationLoss: weights must be ≥ 0 and not both 0, got ce ${ceWeight}, dice ${diceWeight}`);
  }
  return tidy(() => {
    const ce = ceWeight > 0 ? marginalCrossEntropy(logits, target, opts.labelled, opts.shardOf).mul(ceWeight) : undefined;
    const dice = diceWeight > 0 ? softDiceLoss(logits, target, opts.labelled, opts).mul(diceWeight) : undefined;
    return ce && dice ? ce.add(dice) : ((ce ?? dice) as Tensor);
  });
}
