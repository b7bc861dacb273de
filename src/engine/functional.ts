/**
 * Neural-network ops over tensors (PyTorch's `torch.nn.functional` shapes and defaults).
 * Stateless: weights and running statistics are passed in; modules live in src/models.
 */
import { binding } from './binding.js';
import { bernoulli, nativeOf, Tensor, wrap, type GeneratorRef } from './tensor.js';

const B = binding();
type Pair = number | readonly [number, number];

function pair(v: Pair, what: string): number[] {
  const p = typeof v === 'number' ? [v, v] : [...v];
  if (p.length !== 2 || !p.every(Number.isInteger)) throw new RangeError(`${what} must be an integer or [h, w], got ${String(v)}`);
  return p;
}
const h = (t: Tensor | undefined) => (t === undefined ? undefined : nativeOf(t));

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** 2-D convolution of N×C×H×W input with an O×(C/groups)×kH×kW weight. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: Conv2dOptions = {}): Tensor {
  return wrap(
    B.conv2d(
      nativeOf(x),
      nativeOf(weight),
      h(bias),
      pair(opts.stride ?? 1, 'conv2d: stride'),
      pair(opts.padding ?? 0, 'conv2d: padding'),
      pair(opts.dilation ?? 1, 'conv2d: dilation'),
      opts.groups ?? 1,
    ),
  );
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

/** Transposed convolution; weight is C×(O/groups)×kH×kW as in PyTorch. */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: ConvTranspose2dOptions = {}): Tensor {
  return wrap(
    B.convTranspose2d(
      nativeOf(x),
      nativeOf(weight),
      h(bias),
      pair(opts.stride ?? 1, 'convTranspose2d: stride'),
      pair(opts.padding ?? 0, 'convTranspose2d: padding'),
      pair(opts.outputPadding ?? 0, 'convTranspose2d: outputPadding'),
      opts.groups ?? 1,
      pair(opts.dilation ?? 1, 'convTranspose2d: dilation'),
    ),
  );
}

export interface Pool2dOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(x: Tensor, kernel: Pair, opts: Pool2dOptions & { dilation?: Pair } = {}): Tensor {
  return wrap(
    B.maxPool2d(
      nativeOf(x),
      pair(kernel, 'maxPool2d: kernel'),
      pair(opts.stride ?? kernel, 'maxPool2d: stride'),
      pair(opts.padding ?? 0, 'maxPool2d: padding'),
      pair(opts.dilation ?? 1, 'maxPool2d: dilation'),
      opts.ceilMode ?? false,
    ),
  );
}

export function avgPool2d(x: Tensor, kernel: Pair, opts: Pool2dOptions & { countIncludePad?: boolean } = {}): Tensor {
  return wrap(
    B.avgPool2d(
      nativeOf(x),
      pair(kernel, 'avgPool2d: kernel'),
      pair(opts.stride ?? kernel, 'avgPool2d: stride'),
      pair(opts.padding ?? 0, 'avgPool2d: padding'),
      opts.ceilMode ?? false,
      opts.countIncludePad ?? true,
    ),
  );
}

/** Resizes N×C×H×W to `size` = [H', W']. */
export function interpolate(
  x: Tensor,
  size: readonly [number, number],
  mode: 'nearest' | 'bilinear' = 'nearest',
  alignCorners = false,
): Tensor {
  return wrap(B.interpolate(nativeOf(x), [...size], mode, alignCorners));
}

export interface BatchNormOptions {
  weight?: Tensor;
  bias?: Tensor;
  runningMean?: Tensor;
  runningVar?: Tensor;
  /** Batch statistics (and running-statistics update, in place) when true; running ones when false. */
  training: boolean;
  momentum?: number;
  eps?: number;
}

export function batchNorm(x: Tensor, opts: BatchNormOptions): Tensor {
  return wrap(
    B.batchNorm(
      nativeOf(x),
      h(opts.weight),
      h(opts.bias),
      h(opts.runningMean),
      h(opts.runningVar),
      opts.training,
      opts.momentum ?? 0.1,
      opts.eps ?? 1e-5,
    ),
  );
}

export function instanceNorm(x: Tensor, opts: { weight?: Tensor; bias?: Tensor; eps?: number } = {}): Tensor {
  return wrap(B.instanceNorm(nativeOf(x), h(opts.weight), h(opts.bias), opts.eps ?? 1e-5));
}

export function groupNorm(x: Tensor, groups: number, opts: { weight?: Tensor; bias?: Tensor; eps?: number } = {}): Tensor {
  return wrap(B.groupNorm(nativeOf(x), groups, h(opts.weight), h(opts.bias), opts.eps ?? 1e-5));
}

/**
 * Inverted dropout: in training, zeroes each element with probability p and scales the rest by
 * 1/(1−p); identity otherwise. With `mask` (0/1, broadcast to `x`) that mask is applied instead of
 * a fresh draw; it stays the caller's.
 */
export function dropout(x: Tensor, p: number, training: boolean, generator?: GeneratorRef, mask?: Tensor): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const m = mask ?? bernoulli(x, 1 - p, generator);
  try {
    return x.mul(m).div(1 - p);
  } finally {
    if (m !== mask) m.dispose();
  }
}

export interface CrossEntropyOptions {
  /** Per-class weights (C). */
  weight?: Tensor;
  reduction?: 'mean' | 'sum' | 'none';
  /** Target value that contributes nothing (default −100, as in PyTorch). */
  ignoreIndex?: number;
  labelSmoothing?: number;
}

/**
 * Cross-entropy of N×C×… logits against N×… int64 class indices. Other target dtypes are refused:
 * libtorch would read a float target shaped like the logits as class probabilities.
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  if (!(target instanceof Tensor) || target.dtype !== 'int64') {
    const got = target instanceof Tensor ? `${target.dtype} [${target.shape.join(', ')}]` : typeof target;
    throw new TypeError(`crossEntropy: target must be an int64 tensor of class indices, got ${got}`);
  }
  return wrap(
    B.crossEntropy(
      nativeOf(logits),
      nativeOf(target),
      h(opts.weight),
      opts.reduction ?? 'mean',
      opts.ignoreIndex ?? -100,
      opts.labelSmoothing ?? 0,
    ),
  );
}
