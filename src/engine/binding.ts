/**
 * Types of the native addon (native/*.cc) and its one load site. The addon is "dumb": tensors, ops,
 * autograd, generators. Everything else is TypeScript.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque handle owning one libtorch tensor. */
export interface NativeTensor {
  dispose(): void;
  isDisposed(): boolean;
}

/** Dtype codes, pinned to `DtypeCode` in native/engine.h. */
export const DTYPE_CODES = {
  float32: 0,
  float64: 1,
  int64: 2,
  int32: 3,
  uint8: 4,
  bool: 5,
  int16: 6,
} as const;
export type DType = keyof typeof DTYPE_CODES;
export const DTYPES: readonly DType[] = Object.keys(DTYPE_CODES) as DType[];

type T = NativeTensor;
type Operand = T | number | boolean;
type Opt<X> = X | undefined;

/** The addon's functions. Argument order matches native/ops.cc and native/addon.cc. */
export interface Binding {
  NativeTensor: new () => NativeTensor;
  // creation and conversion
  fromBuffer(data: ArrayBufferView, shape: number[], dtype: number, device?: string): T;
  toBuffer(t: T): ArrayBuffer;
  item(t: T): number;
  shape(t: T): number[];
  dtype(t: T): number;
  device(t: T): string;
  numel(t: T): number;
  isContiguous(t: T): boolean;
  sameStorage(a: T, b: T): boolean;
  zeros(shape: number[], dtype?: number, device?: string): T;
  ones(shape: number[], dtype?: number, device?: string): T;
  full(shape: number[], value: number | boolean, dtype?: number, device?: string): T;
  arange(start: number, end: number, step: number, dtype?: number, device?: string): T;
  rand(shape: number[], dtype?: number, device?: string, gen?: number): T;
  randn(shape: number[], dtype?: number, device?: string, gen?: number): T;
  randint(low: number, high: number, shape: number[], dtype?: number, device?: string, gen?: number): T;
  bernoulli(like: T, p: number, gen?: number): T;
  normal_(t: T, mean: number, std: number, gen?: number): void;
  // autograd
  requiresGrad(t: T): boolean;
  setRequiresGrad(t: T, on: boolean): void;
  grad(t: T): T | undefined;
  setGrad(t: T, g?: T): void;
  backward(t: T, grad?: T, retainGraph?: boolean): void;
  detach(t: T): T;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  // runtime
  liveTensors(): number;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setDeterministic(on: boolean): void;
  manualSeed(seed: number): void;
  cudaDeviceCount(): number;
  cudaBuilt(): boolean;
  generatorNew(seed: number): number;
  generatorFree(id: number): void;
  generatorGetState(id: number): T;
  generatorSetState(id: number, state: T): void;
  // process groups (native/distributed.cc); a build without Gloo has only distBackends (-> [])
  distBackends(): string[];
  distNewGroup(
    backend: string,
    host: string,
    port: number,
    rank: number,
    worldSize: number,
    timeoutMs: number,
    initTimeoutMs: number,
    bindHost: string,
    iface: string,
  ): number;
  distAllreduce(id: number, t: T, op: 'sum' | 'max'): void;
  distBroadcast(id: number, t: T, root: number): void;
  distBarrier(id: number): void;
  distFreeGroup(id: number): void;
  // elementwise
  add(a: T, b: Operand, alpha?: number): T;
  sub(a: T, b: Operand): T;
  mul(a: T, b: Operand): T;
  div(a: T, b: Operand): T;
  pow(a: T, b: Operand): T;
  maximum(a: T, b: T): T;
  minimum(a: T, b: T): T;
  eq(a: T, b: Operand): T;
  ne(a: T, b: Operand): T;
  lt(a: T, b: Operand): T;
  le(a: T, b: Operand): T;
  gt(a: T, b: Operand): T;
  ge(a: T, b: Operand): T;
  logicalAnd(a: T, b: T): T;
  logicalOr(a: T, b: T): T;
  logicalNot(a: T): T;
  where(cond: T, a: Operand, b: Operand): T;
  clamp(a: T, min?: number, max?: number): T;
  neg(a: T): T;
  abs(a: T): T;
  exp(a: T): T;
  log(a: T): T;
  log1p(a: T): T;
  sqrt(a: T): T;
  sigmoid(a: T): T;
  tanh(a: T): T;
  relu(a: T): T;
  leakyRelu(a: T, slope?: number): T;
  gelu(a: T, approximate?: string): T;
  isfinite(a: T): T;
  allFinite(a: T): boolean;
  // reductions
  sum(a: T, dims?: number[], keepdim?: boolean): T;
  mean(a: T, dims?: number[], keepdim?: boolean): T;
  std(a: T, dims?: number[], keepdim?: boolean, unbiased?: boolean): T;
  var(a: T, dims?: number[], keepdim?: boolean, unbiased?: boolean): T;
  max(a: T, dim?: number, keepdim?: boolean): T;
  min(a: T, dim?: number, keepdim?: boolean): T;
  argmax(a: T, dim?: number, keepdim?: boolean): T;
  logsumexp(a: T, dims: number[], keepdim?: boolean): T;
  softmax(a: T, dim: number): T;
  logSoftmax(a: T, dim: number): T;
  matmul(a: T, b: T): T;
  // shape and indexing
  reshape(a: T, shape: number[]): T;
  view(a: T, shape: number[]): T;
  permute(a: T, dims: number[]): T;
  transpose(a: T, d0: number, d1: number): T;
  contiguous(a: T): T;
  clone(a: T): T;
  slice(a: T, dim: number, start: number, end: number, step?: number): T;
  narrow(a: T, dim: number, start: number, length: number): T;
  indexSelect(a: T, dim: number, index: T): T;
  gather(a: T, dim: number, index: T): T;
  cat(ts: T[], dim?: number): T;
  stack(ts: T[], dim?: number): T;
  flip(a: T, dims: number[]): T;
  squeeze(a: T, dim?: number): T;
  unsqueeze(a: T, dim: number): T;
  expand(a: T, shape: number[]): T;
  pad(a: T, pads: number[], mode?: string, value?: number): T;
  to(a: T, dtype?: number, device?: string): T;
  oneHot(a: T, numClasses: number): T;
  // neural network
  conv2d(x: T, w: T, b: Opt<T>, stride: number[], padding: number[], dilation: number[], groups: number): T;
  convTranspose2d(
    x: T,
    w: T,
    b: Opt<T>,
    stride: number[],
    padding: number[],
    outputPadding: number[],
    groups: number,
    dilation: number[],
  ): T;
  maxPool2d(x: T, kernel: number[], stride: number[], padding: number[], dilation: number[], ceil: boolean): T;
  avgPool2d(x: T, kernel: number[], stride: number[], padding: number[], ceil: boolean, countIncludePad: boolean): T;
  interpolate(x: T, size: number[], mode: string, alignCorners?: boolean): T;
  batchNorm(
    x: T,
    w: Opt<T>,
    b: Opt<T>,
    runningMean: Opt<T>,
    runningVar: Opt<T>,
    training: boolean,
    momentum: number,
    eps: number,
  ): T;
  instanceNorm(x: T, w: Opt<T>, b: Opt<T>, eps: number): T;
  groupNorm(x: T, groups: number, w: Opt<T>, b: Opt<T>, eps: number): T;
  crossEntropy(logits: T, target: T, weight: Opt<T>, reduction: string, ignoreIndex: number, labelSmoothing: number): T;
  // in place
  add_(a: T, b: Operand, alpha?: number): void;
  mul_(a: T, b: Operand): void;
  addcmul_(a: T, t1: T, t2: T, value?: number): void;
  copy_(a: T, src: T): void;
  zero_(a: T): void;
  fill_(a: T, v: number | boolean): void;
}

function findAddon(): string {
  // From src/engine (vitest) or dist/src/engine (compiled): walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build', 'Release', 'hmcseg_native.node');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error(
    'hmcseg: the native addon build/Release/hmcseg_native.node was not found. Build it with `bash scripts/setup.sh` ' +
      '(or `npm run build:native`).',
  );
}

/**
 * Environment defaults that libtorch's libraries read once, when they load, so they are set here,
 * before the addon is required, and only where the user has not set them:
 *
 * - `OMP_WAIT_POLICY=PASSIVE`: libgomp's idle threads sleep instead of spinning (its default
 *   spins about 3 ms, 300,000 rounds, after every parallel region). Alone on a machine this costs
 *   nothing measurable; with two jobs, or ranks, on the same cores the spinning threads take the
 *   cores from the threads with work (bench/sharing.ts). Setting `OMP_WAIT_POLICY` or
 *   `GOMP_SPINCOUNT` keeps libgomp's own choice.
 * - `CUBLAS_WORKSPACE_CONFIG=:4096:8`: cuBLAS's deterministic mode, without which libtorch's
 *   deterministic algorithms (the default, `deterministic: true`) refuse matrix products on CUDA.
 */
export function setLoadTimeDefaults(env: NodeJS.ProcessEnv = process.env): void {
  if (env.OMP_WAIT_POLICY === undefined && env.GOMP_SPINCOUNT === undefined) env.OMP_WAIT_POLICY = 'PASSIVE';
  env.CUBLAS_WORKSPACE_CONFIG ??= ':4096:8';
}

let loaded: Binding | undefined;

/** The addon, loaded once (after {@link setLoadTimeDefaults}). */
export function binding(): Binding {
  if (!loaded) {
    setLoadTimeDefaults();
    const require = createRequire(import.meta.url);
    loaded = require(findAddon()) as Binding;
  }
  return loaded;
}
