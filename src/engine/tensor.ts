/**
 * Tensors: a TypeScript handle over one libtorch tensor, with explicit lifetimes.
 *
 * Lifetimes: `t.dispose()` frees at once; `tidy(fn)` frees every tensor made inside `fn` except what
 * it returns; a tensor neither disposed nor in a scope is freed by the garbage collector (the
 * native handle's finalizer is the safety net). `liveTensors()` counts native tensors alive.
 */
import { binding, DTYPE_CODES, DTYPES, type DType, type NativeTensor } from './binding.js';
import { checkDevice } from './device.js';

const B = binding();

export type { DType } from './binding.js';
export type Shape = readonly number[];
export type TypedArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Uint8Array
  | Int16Array;

/** The typed array that holds a dtype's elements (bool as 0/1 bytes). */
export type ArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int16'
          ? Int16Array
          : Uint8Array;

const ARRAY_CTORS: Record<DType, new (buf: ArrayBuffer) => TypedArray> = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
};

function dtypeCode(dtype: DType): number {
  const code = DTYPE_CODES[dtype];
  if (code === undefined) throw new TypeError(`unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`);
  return code;
}

function dtypeName(code: number): DType {
  return DTYPES[code];
}

function dtypeOfArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint8Array) return 'uint8';
  throw new TypeError('tensor: unsupported typed array');
}

// ---------------------------------------------------------------------------------------------
// Scopes

const scopes: Set<Tensor>[] = [];

function track(t: Tensor): void {
  const top = scopes[scopes.length - 1];
  if (top) top.add(t);
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) {
    out.add(value);
  } else if (value && typeof value === 'object' && !seen.has(value) && !ArrayBuffer.isView(value)) {
    seen.add(value);
    for (const v of Array.isArray(value) ? value : value instanceof Map ? value.values() : Object.values(value)) {
      collect(v, out, seen);
    }
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors found in its result
 * (a tensor, or arrays/objects/maps holding tensors), which move to the enclosing scope.
 *
 * @example
 * const loss = tidy(() => crossEntropy(model.forward(x), y)); // intermediates freed
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (err) {
    for (const t of scope) t.dispose();
    throw err;
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) {
    throw new TypeError('tidy: fn must be synchronous (native ops are synchronous; await outside the scope)');
  }
  const keepSet = new Set<Tensor>();
  collect(result, keepSet);
  for (const t of scope) {
    if (!keepSet.has(t)) t.dispose();
  }
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of keepSet) if (scope.has(t)) parent.add(t);
  return result;
}

/** Removes tensors from the current scope so `tidy` does not free them (e.g. parameters, state). */
export function keep<X>(value: X): X {
  const found = new Set<Tensor>();
  collect(value, found);
  for (const t of found) for (const s of scopes) s.delete(t);
  return value;
}

/** Native tensors alive now (created, neither disposed nor garbage-collected). */
export function liveTensors(): number {
  return B.liveTensors();
}

// ---------------------------------------------------------------------------------------------
// Tensor

let handleOf: (t: Tensor) => NativeTensor;

/**
 * The native handle of a tensor, for the engine's own modules. Anything else passes through
 * unchanged, so the native op rejects it with its own name and the argument's position.
 */
export function nativeOf(t: Tensor): NativeTensor {
  return t instanceof Tensor ? handleOf(t) : (t as unknown as NativeTensor);
}

/** Wraps a native result in a Tensor registered with the current scope. */
export function wrap(h: NativeTensor): Tensor {
  return new Tensor(h);
}

type Operand = Tensor | number;

function op(v: Operand | boolean): NativeTensor | number | boolean {
  return v instanceof Tensor ? handleOf(v) : v;
}

export class Tensor {
  #h: NativeTensor;

  static {
    handleOf = (t: Tensor) => t.#h;
  }

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(h: NativeTensor) {
    this.#h = h;
    track(this);
  }

  // ---- metadata
  get shape(): number[] {
    return B.shape(this.#h);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get dtype(): DType {
    return dtypeName(B.dtype(this.#h));
  }
  get device(): string {
    return B.device(this.#h);
  }
  get numel(): number {
    return B.numel(this.#h);
  }
  get isDisposed(): boolean {
    return this.#h.isDisposed();
  }
  isContiguous(): boolean {
    return B.isContiguous(this.#h);
  }
  /** True when both tensors view the same memory. */
  sharesStorageWith(other: Tensor): boolean {
    return B.sameStorage(this.#h, nativeOf(other));
  }

  /** Frees the native tensor now. Idempotent. */
  dispose(): void {
    this.#h.dispose();
    for (const s of scopes) s.delete(this);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- data out
  /** A copy of the elements in row-major order (bool as 0/1 bytes, int64 as BigInt64Array). */
  toArray(): TypedArray {
    const ctor = ARRAY_CTORS[this.dtype];
    return new ctor(B.toBuffer(this.#h));
  }
  /** The elements as float32 (converting when needed). */
  toFloat32(): Float32Array {
    if (this.dtype === 'float32') return this.toArray() as Float32Array;
    const h = B.to(this.#h, DTYPE_CODES.float32);
    try {
      return new Float32Array(B.toBuffer(h));
    } finally {
      h.dispose();
    }
  }
  /** The value of a one-element tensor. */
  item(): number {
    return B.item(this.#h);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- elementwise
  add(other: Operand, alpha?: number): Tensor {
    return wrap(B.add(this.#h, op(other), alpha));
  }
  sub(other: Operand): Tensor {
    return wrap(B.sub(this.#h, op(other)));
  }
  mul(other: Operand): Tensor {
    return wrap(B.mul(this.#h, op(other)));
  }
  div(other: Operand): Tensor {
    return wrap(B.div(this.#h, op(other)));
  }
  pow(exponent: Operand): Tensor {
    return wrap(B.pow(this.#h, op(exponent)));
  }
  maximum(other: Tensor): Tensor {
    return wrap(B.maximum(this.#h, nativeOf(other)));
  }
  minimum(other: Tensor): Tensor {
    return wrap(B.minimum(this.#h, nativeOf(other)));
  }
  eq(other: Operand): Tensor {
    return wrap(B.eq(this.#h, op(other)));
  }
  ne(other: Operand): Tensor {
    return wrap(B.ne(this.#h, op(other)));
  }
  lt(other: Operand): Tensor {
    return wrap(B.lt(this.#h, op(other)));
  }
  le(other: Operand): Tensor {
    return wrap(B.le(this.#h, op(other)));
  }
  gt(other: Operand): Tensor {
    return wrap(B.gt(this.#h, op(other)));
  }
  ge(other: Operand): Tensor {
    return wrap(B.ge(this.#h, op(other)));
  }
  logicalAnd(other: Tensor): Tensor {
    return wrap(B.logicalAnd(this.#h, nativeOf(other)));
  }
  logicalOr(other: Tensor): Tensor {
    return wrap(B.logicalOr(this.#h, nativeOf(other)));
  }
  logicalNot(): Tensor {
    return wrap(B.logicalNot(this.#h));
  }
  clamp(min?: number, max?: number): Tensor {
    return wrap(B.clamp(this.#h, min, max));
  }
  neg(): Tensor {
    return wrap(B.neg(this.#h));
  }
  abs(): Tensor {
    return wrap(B.abs(this.#h));
  }
  exp(): Tensor {
    return wrap(B.exp(this.#h));
  }
  log(): Tensor {
    return wrap(B.log(this.#h));
  }
  log1p(): Tensor {
    return wrap(B.log1p(this.#h));
  }
  sqrt(): Tensor {
    return wrap(B.sqrt(this.#h));
  }
  square(): Tensor {
    return wrap(B.mul(this.#h, this.#h));
  }
  sigmoid(): Tensor {
    return wrap(B.sigmoid(this.#h));
  }
  tanh(): Tensor {
    return wrap(B.tanh(this.#h));
  }
  relu(): Tensor {
    return wrap(B.relu(this.#h));
  }
  leakyRelu(slope = 0.01): Tensor {
    return wrap(B.leakyRelu(this.#h, slope));
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return wrap(B.gelu(this.#h, approximate));
  }
  isfinite(): Tensor {
    return wrap(B.isfinite(this.#h));
  }
  /** True when no element is NaN or ±Inf. */
  allFinite(): boolean {
    return B.allFinite(this.#h);
  }

  // ---- reductions
  sum(dims?: number | number[], keepdim = false): Tensor {
    return wrap(B.sum(this.#h, dims === undefined ? undefined : [dims].flat(), keepdim));
  }
  mean(dims?: number | number[], keepdim = false): Tensor {
    return wrap(B.mean(this.#h, dims === undefined ? undefined : [dims].flat(), keepdim));
  }
  std(dims?: number | number[], keepdim = false, unbiased = true): Tensor {
    return wrap(B.std(this.#h, dims === undefined ? undefined : [dims].flat(), keepdim, unbiased));
  }
  var(dims?: number | number[], keepdim = false, unbiased = true): Tensor {
    return wrap(B.var(this.#h, dims === undefined ? undefined : [dims].flat(), keepdim, unbiased));
  }
  /** Maximum over all elements, or the values along `dim`. */
  max(dim?: number, keepdim = false): Tensor {
    return wrap(B.max(this.#h, dim, keepdim));
  }
  min(dim?: number, keepdim = false): Tensor {
    return wrap(B.min(this.#h, dim, keepdim));
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return wrap(B.argmax(this.#h, dim, keepdim));
  }
  logsumexp(dims: number | number[], keepdim = false): Tensor {
    return wrap(B.logsumexp(this.#h, [dims].flat(), keepdim));
  }
  softmax(dim: number): Tensor {
    return wrap(B.softmax(this.#h, dim));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(B.logSoftmax(this.#h, dim));
  }
  matmul(other: Tensor): Tensor {
    return wrap(B.matmul(this.#h, nativeOf(other)));
  }

  // ---- shape and indexing
  reshape(shape: Shape): Tensor {
    return wrap(B.reshape(this.#h, [...shape]));
  }
  /** A view with a new shape (no copy; the tensor must be contiguous enough). */
  view(shape: Shape): Tensor {
    return wrap(B.view(this.#h, [...shape]));
  }
  flatten(): Tensor {
    return this.reshape([-1]);
  }
  permute(dims: Shape): Tensor {
    return wrap(B.permute(this.#h, [...dims]));
  }
  transpose(d0: number, d1: number): Tensor {
    return wrap(B.transpose(this.#h, d0, d1));
  }
  contiguous(): Tensor {
    return wrap(B.contiguous(this.#h));
  }
  clone(): Tensor {
    return wrap(B.clone(this.#h));
  }
  /** Elements start..end (exclusive) with a step along `dim` (a view). */
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return wrap(B.slice(this.#h, dim, start, end, step));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(B.narrow(this.#h, dim, start, length));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(B.indexSelect(this.#h, dim, nativeOf(index)));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(B.gather(this.#h, dim, nativeOf(index)));
  }
  flip(dims: number | number[]): Tensor {
    return wrap(B.flip(this.#h, [dims].flat()));
  }
  squeeze(dim?: number): Tensor {
    return wrap(B.squeeze(this.#h, dim));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(B.unsqueeze(this.#h, dim));
  }
  expand(shape: Shape): Tensor {
    return wrap(B.expand(this.#h, [...shape]));
  }
  /** Pads the last dimensions: `pads` = [left, right, top, bottom, ...] as in PyTorch's F.pad. */
  pad(pads: number[], mode: 'constant' | 'reflect' | 'replicate' = 'constant', value = 0): Tensor {
    return wrap(B.pad(this.#h, pads, mode, value));
  }
  /** Converts dtype and/or device (a copy unless nothing changes). */
  to(dtype?: DType, device?: string): Tensor {
    return wrap(B.to(this.#h, dtype === undefined ? undefined : dtypeCode(dtype), dev(device, 'to')));
  }
  oneHot(numClasses: number): Tensor {
    return wrap(B.oneHot(this.#h, numClasses));
  }

  // ---- autograd
  get requiresGrad(): boolean {
    return B.requiresGrad(this.#h);
  }
  /** Marks this (leaf) tensor as a parameter whose gradient backward() computes. Returns this. */
  requiresGrad_(on = true): this {
    B.setRequiresGrad(this.#h, on);
    return this;
  }
  /** The accumulated gradient, or undefined (a new handle on the same memory each call). */
  get grad(): Tensor | undefined {
    const g = B.grad(this.#h);
    return g === undefined ? undefined : wrap(g);
  }
  /** Makes `g` this tensor's gradient buffer (backward accumulates into it in place). */
  setGrad(g: Tensor | undefined): void {
    B.setGrad(this.#h, g === undefined ? undefined : nativeOf(g));
  }
  /** Computes gradients of this scalar (or of `sum(this * grad)`) for all leaves that require grad. */
  backward(grad?: Tensor, retainGraph?: boolean): void {
    B.backward(this.#h, grad === undefined ? undefined : nativeOf(grad), retainGraph);
  }
  /** The same memory, cut from the autograd graph. */
  detach(): Tensor {
    return wrap(B.detach(this.#h));
  }

  // ---- in place (for optimizers and samplers): each returns this
  add_(other: Operand, alpha?: number): this {
    B.add_(this.#h, op(other), alpha);
    return this;
  }
  mul_(other: Operand): this {
    B.mul_(this.#h, op(other));
    return this;
  }
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    B.addcmul_(this.#h, nativeOf(t1), nativeOf(t2), value);
    return this;
  }
  copy_(src: Tensor): this {
    B.copy_(this.#h, nativeOf(src));
    return this;
  }
  zero_(): this {
    B.zero_(this.#h);
    return this;
  }
  fill_(value: number): this {
    B.fill_(this.#h, value);
    return this;
  }
  /**
   * Fills with N(mean, std²) draws from `gen` (or the global generator). Generators are CPU
   * streams: off the CPU, the draws are made on the CPU and copied here (see {@link onCpuStream}).
   */
  normal_(mean = 0, std = 1, gen?: { readonly id: number }): this {
    if (gen === undefined || this.device === 'cpu') {
      B.normal_(this.#h, mean, std, gen?.id);
    } else {
      const host = wrap(B.zeros([...this.shape], dtypeCode(this.dtype), 'cpu'));
      try {
        B.normal_(nativeOf(host), mean, std, gen.id);
        B.copy_(this.#h, nativeOf(host));
      } finally {
        host.dispose();
      }
    }
    return this;
  }
}

// ---------------------------------------------------------------------------------------------
// Creation

export interface TensorOptions {
  dtype?: DType;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: string;
}

/** The device argument of `op`, checked (undefined: the default, cpu). */
function dev(device: string | undefined, op: string): string | undefined {
  return device === undefined ? undefined : checkDevice(device, op);
}

function flatten(data: ArrayLike<unknown>, out: number[], shape: number[], depth: number): void {
  if (shape.length <= depth) shape.push(data.length);
  else if (shape[depth] !== data.length) throw new RangeError('tensor: nested arrays are ragged');
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Array.isArray(v)) flatten(v, out, shape, depth + 1);
    else if (typeof v === 'number' || typeof v === 'boolean') {
      if (shape.length !== depth + 1) throw new RangeError('tensor: nested arrays are ragged');
      out.push(Number(v));
    } else throw new TypeError(`tensor: element ${String(v)} is not a number`);
  }
}

function toTyped(values: number[], dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case 'int32':
      return Int32Array.from(values);
    case 'int16':
      return Int16Array.from(values);
    case 'uint8':
      return Uint8Array.from(values);
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
  }
}

/**
 * A tensor holding a copy of `data`: a typed array (with `shape`, default 1-D) or nested number
 * arrays. The dtype defaults to the typed array's, or float32 for plain numbers.
 */
export function tensor(data: TypedArray | number | readonly unknown[], shape?: Shape, opts: TensorOptions = {}): Tensor {
  let arr: TypedArray;
  let shp: number[];
  if (ArrayBuffer.isView(data)) {
    arr = data as TypedArray;
    shp = shape ? [...shape] : [arr.length];
    if (opts.dtype && (opts.dtype === 'bool' || opts.dtype !== dtypeOfArray(arr))) {
      arr = toTyped(Array.from(arr as ArrayLike<number>, Number), opts.dtype);
    }
  } else {
    const values: number[] = [];
    const inferred: number[] = [];
    if (typeof data === 'number') values.push(data);
    else flatten(data as ArrayLike<unknown>, values, inferred, 0);
    shp = shape ? [...shape] : inferred;
    arr = toTyped(values, opts.dtype ?? 'float32');
  }
  if (!shp.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new RangeError(`tensor: shape [${shp.join(', ')}] must hold non-negative integers`);
  }
  const numel = shp.reduce((a, b) => a * b, 1);
  if (numel !== arr.length) {
    throw new RangeError(`tensor: shape [${shp.join(', ')}] needs ${numel} elements, the data has ${arr.length}`);
  }
  const dtype = opts.dtype ?? dtypeOfArray(arr);
  return wrap(B.fromBuffer(arr, shp, dtypeCode(dtype), dev(opts.device, 'tensor')));
}

export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
  return wrap(B.zeros([...shape], dtypeCode(opts.dtype ?? 'float32'), dev(opts.device, 'zeros')));
}
export function ones(shape: Shape, opts: TensorOptions = {}): Tensor {
  return wrap(B.ones([...shape], dtypeCode(opts.dtype ?? 'float32'), dev(opts.device, 'ones')));
}
export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  return wrap(B.full([...shape], value, dtypeCode(opts.dtype ?? 'float32'), dev(opts.device, 'full')));
}
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device });
}
/** start, start+step, ... below end (int64 when all three are integers, else float32). */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const dtype = opts.dtype ?? ([s, e, step].every(Number.isInteger) ? 'int64' : 'float32');
  return wrap(B.arange(s, e, step, dtypeCode(dtype), dev(opts.device, 'arange')));
}

/** A random stream with its own seed and saveable state; pass it to the random functions. */
export interface GeneratorRef {
  readonly id: number;
}

/**
 * Makes a random tensor from a generator on `device`. Generators are CPU streams (their state is
 * device-free, so a checkpoint resumes on any device and a seed gives the same draws everywhere):
 * off the CPU, `make` draws on the CPU and the result is copied to the device. Without a
 * generator, the device's own global generator draws in place.
 */
function onCpuStream(device: string | undefined, generator: GeneratorRef | undefined, make: (device: string | undefined) => NativeTensor): Tensor {
  if (generator === undefined || device === undefined || device === 'cpu') return wrap(make(device));
  const host = make('cpu');
  try {
    return wrap(B.to(host, undefined, device));
  } finally {
    host.dispose();
  }
}

/** Uniform [0, 1). */
export function rand(shape: Shape, opts: TensorOptions & { generator?: GeneratorRef } = {}): Tensor {
  const dtype = dtypeCode(opts.dtype ?? 'float32');
  return onCpuStream(dev(opts.device, 'rand'), opts.generator, (d) => B.rand([...shape], dtype, d, opts.generator?.id));
}
/** Standard normal. */
export function randn(shape: Shape, opts: TensorOptions & { generator?: GeneratorRef } = {}): Tensor {
  const dtype = dtypeCode(opts.dtype ?? 'float32');
  return onCpuStream(dev(opts.device, 'randn'), opts.generator, (d) => B.randn([...shape], dtype, d, opts.generator?.id));
}
/** Integers uniform in [low, high). */
export function randint(
  low: number,
  high: number,
  shape: Shape,
  opts: TensorOptions & { generator?: GeneratorRef } = {},
): Tensor {
  const dtype = dtypeCode(opts.dtype ?? 'int64');
  return onCpuStream(dev(opts.device, 'randint'), opts.generator, (d) => B.randint(low, high, [...shape], dtype, d, opts.generator?.id));
}
/** 1 with probability p, else 0, shaped and typed like `like` and on its device. */
export function bernoulli(like: Tensor, p: number, generator?: GeneratorRef): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli: p must be in [0, 1], got ${p}`);
  return onCpuStream(like.device, generator, (d) => {
    if (d === like.device) return B.bernoulli(nativeOf(like), p, generator?.id);
    const host = B.zeros([...like.shape], dtypeCode(like.dtype), d);
    try {
      return B.bernoulli(host, p, generator?.id);
    } finally {
      host.dispose();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Functions over several tensors

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError('cat: needs at least one tensor');
  return wrap(B.cat(tensors.map(nativeOf), dim));
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError('stack: needs at least one tensor');
  return wrap(B.stack(tensors.map(nativeOf), dim));
}
/** Elementwise `cond ? a : b`; a and b may be numbers. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  return wrap(B.where(nativeOf(cond), op(a), op(b)));
}
