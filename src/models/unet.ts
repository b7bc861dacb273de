/**
 * 2-D U-Net (Ronneberger et al., 2015), in the compact form common in cardiac segmentation.
 *
 * `depth` levels with widths `baseWidth·2^l`: depth−1 encoder blocks (each followed by 2×2 max
 * pooling), a bottleneck block at the deepest level, and depth−1 decoder levels, each a 2×2
 * stride-2 transposed convolution that halves the channels, concatenation with the skip
 * (`[skip, up]`), and a block. A block is (conv 3×3 → norm → ReLU) ×2, then dropout where placed.
 * A final 1×1 convolution gives the class logits. Convolutions before a norm have no bias.
 *
 * The PyTorch twin is `UNet` in bench/engine_torch.py: same structure, same `state_dict` names
 * (`enc0.conv1.weight`, `enc0.bn1.running_mean`, `bottleneck.…`, `up2.weight`, `dec2.…`,
 * `head.weight`, …), same initialisation scheme.
 *
 * For depth 4, base width 16 (16-32-64-128), 1 input channel, 4 classes and an 8×1×128×128 batch,
 * the forward costs 9.215 GFLOP (2 × multiply-adds of the convolutions; {@link unetForwardGflop}).
 */
import {
  batchNorm,
  bernoulli,
  cat,
  conv2d,
  convTranspose2d,
  dropout,
  instanceNorm,
  maxPool2d,
  noGrad,
  ones,
  tidy,
  type DType,
  type Tensor,
} from '../engine/index.js';
import { Module, type BufferDecl, type ParameterDecl } from './module.js';

export type NormKind = 'batch' | 'instance' | 'none';
export type DropoutPlacement = 'bottleneck' | 'decoder' | 'all';

export interface UNetConfig {
  readonly inChannels: number;
  readonly numClasses: number;
  /** Levels, including the bottleneck (≥ 2). */
  readonly depth: number;
  /** Channels at the first level; doubled at each level below. */
  readonly baseWidth: number;
  readonly norm: NormKind;
  /** Dropout probability (0 = none). */
  readonly dropout: number;
  /** Blocks followed by dropout: the bottleneck, the decoder blocks, or every block. */
  readonly dropoutPlacement: DropoutPlacement;
  readonly seed: number;
}

export const UNET_DEFAULTS: UNetConfig = {
  inChannels: 1,
  numClasses: 4,
  depth: 4,
  baseWidth: 16,
  norm: 'batch',
  dropout: 0,
  dropoutPlacement: 'bottleneck',
  seed: 0,
};

const BN_MOMENTUM = 0.1;
const NORM_EPS = 1e-5;

/** A block of the U-Net (two 3×3 conv–norm–ReLU), as {@link unetBlocks} lists them. */
export interface UNetBlock {
  readonly name: string;
  readonly kind: 'enc' | 'bottleneck' | 'dec';
  /** Level: 0 is the full resolution. */
  readonly level: number;
  readonly cin: number;
  readonly cout: number;
  /** Followed by dropout. */
  readonly dropout: boolean;
}

function checkConfig(c: UNetConfig): void {
  const ints: (keyof UNetConfig)[] = ['inChannels', 'numClasses', 'depth', 'baseWidth', 'seed'];
  for (const k of ints) {
    if (!Number.isInteger(c[k]) || (c[k] as number) < 0) throw new RangeError(`UNet: ${k} must be a non-negative integer, got ${String(c[k])}`);
  }
  if (c.inChannels < 1 || c.numClasses < 1 || c.baseWidth < 1) throw new RangeError('UNet: inChannels, numClasses and baseWidth must be ≥ 1');
  if (c.depth < 2) throw new RangeError(`UNet: depth must be ≥ 2, got ${c.depth}`);
  if (!['batch', 'instance', 'none'].includes(c.norm)) throw new RangeError(`UNet: norm must be 'batch', 'instance' or 'none', got '${c.norm}'`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new RangeError(`UNet: dropout must be in [0, 1), got ${c.dropout}`);
  if (!['bottleneck', 'decoder', 'all'].includes(c.dropoutPlacement)) {
    throw new RangeError(`UNet: dropoutPlacement must be 'bottleneck', 'decoder' or 'all', got '${c.dropoutPlacement}'`);
  }
}

/** Channel widths per level. */
function widths(c: UNetConfig): number[] {
  return Array.from({ length: c.depth }, (_, l) => c.baseWidth * 2 ** l);
}

/**
 * The U-Net's blocks in forward order (encoders, bottleneck, decoders from deep to shallow): the
 * one layout that the network and its ONNX export (src/export) are built from.
 */
export function unetBlocks(c: UNetConfig): UNetBlock[] {
  const w = widths(c);
  const drop = (where: DropoutPlacement | 'encoder') => c.dropout > 0 && (c.dropoutPlacement === 'all' || c.dropoutPlacement === where);
  const out: UNetBlock[] = [];
  let cin = c.inChannels;
  for (let l = 0; l < c.depth - 1; l++) {
    out.push({ name: `enc${l}`, kind: 'enc', level: l, cin, cout: w[l], dropout: drop('encoder') });
    cin = w[l];
  }
  out.push({ name: 'bottleneck', kind: 'bottleneck', level: c.depth - 1, cin, cout: w[c.depth - 1], dropout: drop('bottleneck') });
  for (let l = c.depth - 2; l >= 0; l--) out.push({ name: `dec${l}`, kind: 'dec', level: l, cin: 2 * w[l], cout: w[l], dropout: drop('decoder') });
  return out;
}

/** The shape of `block`'s dropout mask for a `size`×`size` input: 1×C×h×w at the block's output. */
export function dropoutMaskShape(block: UNetBlock, size: number): [number, number, number, number] {
  const s = size / 2 ** block.level;
  return [1, block.cout, s, s];
}

const normName = (kind: NormKind, i: 1 | 2) => (kind === 'batch' ? `bn${i}` : `norm${i}`);

function declarations(c: UNetConfig): { params: ParameterDecl[]; buffers: BufferDecl[] } {
  const params: ParameterDecl[] = [];
  const buffers: BufferDecl[] = [];
  const w = widths(c);
  const block = (b: UNetBlock) => {
    for (const i of [1, 2] as const) {
      const cin = i === 1 ? b.cin : b.cout;
      params.push({ name: `${b.name}.conv${i}.weight`, shape: [b.cout, cin, 3, 3], init: { kind: 'kaiming', fanIn: cin * 9 } });
      if (c.norm === 'none') {
        params.push({ name: `${b.name}.conv${i}.bias`, shape: [b.cout], init: { kind: 'zeros' } });
        continue;
      }
      const n = `${b.name}.${normName(c.norm, i)}`;
      params.push({ name: `${n}.weight`, shape: [b.cout], init: { kind: 'ones' } });
      params.push({ name: `${n}.bias`, shape: [b.cout], init: { kind: 'zeros' } });
      if (c.norm === 'batch') {
        buffers.push({ name: `${n}.running_mean`, shape: [b.cout], init: 'zeros' });
        buffers.push({ name: `${n}.running_var`, shape: [b.cout], init: 'ones' });
      }
    }
  };
  for (const b of unetBlocks(c)) {
    if (b.name.startsWith('dec')) {
      const l = Number(b.name.slice(3));
      // ConvTranspose2d weight is in×out×kH×kW; PyTorch's fan-in for it is out·kH·kW.
      params.push({ name: `up${l}.weight`, shape: [w[l + 1], w[l], 2, 2], init: { kind: 'kaiming', fanIn: w[l] * 4 } });
      params.push({ name: `up${l}.bias`, shape: [w[l]], init: { kind: 'zeros' } });
    }
    block(b);
  }
  params.push({ name: 'head.weight', shape: [c.numClasses, w[0], 1, 1], init: { kind: 'kaiming', fanIn: w[0] } });
  params.push({ name: 'head.bias', shape: [c.numClasses], init: { kind: 'zeros' } });
  return { params, buffers };
}

/**
 * Forward cost in GFLOP (2 × multiply-adds of all convolutions; norms, activations and pooling
 * not counted) for a `batch`×inChannels×size×size input.
 */
export function unetForwardGflop(config: Partial<UNetConfig>, batch: number, size: number): number {
  const c = { ...UNET_DEFAULTS, ...config };
  const w = widths(c);
  let macs = 0;
  let h = size;
  for (const b of unetBlocks(c)) {
    if (b.name.startsWith('enc')) {
      macs += h * h * 9 * (b.cin * b.cout + b.cout * b.cout);
      h /= 2;
    } else if (b.name === 'bottleneck') {
      macs += h * h * 9 * (b.cin * b.cout + b.cout * b.cout);
    } else {
      const l = Number(b.name.slice(3));
      h *= 2;
      macs += h * h * w[l + 1] * w[l]; // 2×2 stride-2 transposed conv: one tap per output pixel
      macs += h * h * 9 * (b.cin * b.cout + b.cout * b.cout);
    }
  }
  macs += h * h * w[0] * c.numClasses;
  return (2 * macs * batch) / 1e9;
}

/** A 2-D U-Net; see the file comment for the architecture. */
export class UNet extends Module {
  readonly config: UNetConfig;
  readonly #blocks: readonly UNetBlock[];
  #dropoutActive = true;
  #dropoutMasks: Readonly<Record<string, Tensor>> | undefined;
  #bnMomentum = BN_MOMENTUM;

  constructor(config: Partial<UNetConfig> = {}, opts: { dtype?: DType; device?: string } = {}) {
    const c: UNetConfig = { ...UNET_DEFAULTS, ...config };
    checkConfig(c);
    const { params, buffers } = declarations(c);
    super(params, buffers, { seed: c.seed, ...opts });
    this.config = c;
    this.#blocks = unetBlocks(c);
  }

  /** Sets training mode and, like PyTorch, switches dropout on (train) or off (eval). */
  override train(on = true): this {
    this.#dropoutActive = on;
    return super.train(on);
  }

  /**
   * Switches dropout independently of the mode: MC Dropout runs `eval()` (running BatchNorm
   * statistics) and then `setDropoutActive(true)`.
   */
  setDropoutActive(on: boolean): this {
    this.#dropoutActive = on;
    return this;
  }

  get dropoutActive(): boolean {
    return this.#dropoutActive;
  }

  /**
   * One dropout network: a 0/1 mask (keep probability 1 − p) for each dropout block, shaped
   * 1×C×h×w for a `size`×`size` input ({@link dropoutMaskShape}), drawn from the model's generator
   * in block order. The caller disposes them.
   */
  drawDropoutMasks(size: number): Record<string, Tensor> {
    const masks: Record<string, Tensor> = {};
    for (const b of this.#blocks.filter((x) => x.dropout)) {
      const like = ones(dropoutMaskShape(b, size), { device: this.params.flat.device });
      try {
        masks[b.name] = bernoulli(like, 1 - this.config.dropout, this.generator);
      } finally {
        like.dispose();
      }
    }
    return masks;
  }

  /**
   * With masks (from {@link drawDropoutMasks}), active dropout multiplies by them (broadcast over
   * the batch, scaled by 1/(1−p)) instead of drawing a fresh mask per element: every slice and
   * window of a forward pass then goes through the same network, as MC Dropout's pass is meant to.
   * `undefined` returns to fresh draws. The masks stay the caller's.
   */
  setDropoutMasks(masks: Readonly<Record<string, Tensor>> | undefined): this {
    this.#dropoutMasks = masks;
    return this;
  }

  /**
   * Recomputes the BatchNorm running statistics for the current weights from `batches`
   * (N×inChannels×H×W inputs): each layer's running mean and unbiased variance become the average
   * of its batch statistics over the batches, as PyTorch's `momentum=None` (and SWA's `update_bn`)
   * computes them. Weights, mode and dropout are left as they were; a network without BatchNorm is
   * unchanged. Returns the number of batches used.
   */
  recomputeBatchNorm(batches: Iterable<Tensor>): number {
    if (this.config.norm !== 'batch') return 0;
    const names = this.#blocks.flatMap((b) => ([1, 2] as const).map((i) => `${b.name}.${normName('batch', i)}`));
    const training = this.training;
    const dropout = this.#dropoutActive;
    let n = 0;
    try {
      this.train(true).setDropoutActive(false);
      noGrad(() => {
        for (const name of names) {
          this.buffer(`${name}.running_mean`).zero_();
          this.buffer(`${name}.running_var`).fill_(1);
        }
        for (const x of batches) {
          // Momentum 1/(n+1): the running value becomes the mean of the n+1 batch statistics.
          this.#bnMomentum = 1 / (n + 1);
          this.forward(x).dispose();
          n++;
        }
      });
    } finally {
      this.#bnMomentum = BN_MOMENTUM;
      this.train(training).setDropoutActive(dropout);
    }
    return n;
  }

  /** N×inChannels×H×W → N×numClasses×H×W logits; H and W must be divisible by 2^(depth−1). */
  override forward(x: Tensor): Tensor {
    const c = this.config;
    const s = x.shape;
    const f = 2 ** (c.depth - 1);
    if (s.length !== 4 || s[1] !== c.inChannels || s[2] % f !== 0 || s[3] % f !== 0) {
      throw new RangeError(
        `UNet.forward: input must be N×${c.inChannels}×H×W with H, W divisible by ${f}, got [${s.join(', ')}]`,
      );
    }
    // Each intermediate is freed as soon as it is consumed (autograd keeps what backward needs), as
    // Python's reference counting would do: memory stays small and cache-warm. tidy() catches the
    // rest (e.g. on an exception).
    return tidy(() => {
      const skips: Tensor[] = [];
      let h = x;
      const swap = (next: Tensor) => {
        if (h !== x) h.dispose();
        h = next;
      };
      for (const b of this.#blocks) {
        if (b.name.startsWith('enc')) {
          const skip = this.#block(b, h);
          swap(maxPool2d(skip, 2));
          skips.push(skip);
        } else if (b.name === 'bottleneck') {
          swap(this.#block(b, h));
        } else {
          const l = b.name.slice(3);
          swap(convTranspose2d(h, this.param(`up${l}.weight`), this.param(`up${l}.bias`), { stride: 2 }));
          const skip = skips.pop() as Tensor;
          swap(cat([skip, h], 1));
          skip.dispose();
          swap(this.#block(b, h));
        }
      }
      const logits = conv2d(h, this.param('head.weight'), this.param('head.bias'));
      swap(logits);
      return logits;
    });
  }

  /** One block; frees its intermediates at once and never `x`. */
  #block(b: UNetBlock, x: Tensor): Tensor {
    const norm = this.config.norm;
    let h = x;
    const swap = (next: Tensor) => {
      if (h !== x && h !== next) h.dispose();
      h = next;
    };
    for (const i of [1, 2] as const) {
      const conv = `${b.name}.conv${i}`;
      swap(conv2d(h, this.param(`${conv}.weight`), norm === 'none' ? this.param(`${conv}.bias`) : undefined, { padding: 1 }));
      const n = `${b.name}.${normName(norm, i)}`;
      if (norm === 'batch') {
        swap(
          batchNorm(h, {
            weight: this.param(`${n}.weight`),
            bias: this.param(`${n}.bias`),
            runningMean: this.buffer(`${n}.running_mean`),
            runningVar: this.buffer(`${n}.running_var`),
            training: this.training,
            momentum: this.#bnMomentum,
            eps: NORM_EPS,
          }),
        );
      } else if (norm === 'instance') {
        swap(instanceNorm(h, { weight: this.param(`${n}.weight`), bias: this.param(`${n}.bias`), eps: NORM_EPS }));
      }
      swap(h.relu());
    }
    if (b.dropout && this.#dropoutActive) {
      const mask = this.#dropoutMasks?.[b.name];
      if (mask !== undefined) {
        const [, c, y, x] = h.shape;
        const m = mask.shape;
        if (m[1] !== c || m[2] !== y || m[3] !== x) {
          throw new RangeError(`UNet: the dropout mask of ${b.name} is [${m.join(', ')}], its output is [${h.shape.join(', ')}] (masks drawn for another input size)`);
        }
      }
      swap(dropout(h, this.config.dropout, true, this.generator, mask));
    }
    return h;
  }
}
