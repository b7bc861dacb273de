/**
 * A minimal, explicit module system. A model declares all its parameters (name, shape, init) and
 * buffers (e.g. BatchNorm running statistics) up front; the parameters live in one
 * {@link FlatParameters} buffer so optimizers and samplers update the whole model with a few
 * native calls. Names follow PyTorch's `state_dict` keys, so weights move between the two.
 */
import {
  FlatParameters,
  Generator,
  keep,
  noGrad,
  ones,
  zeros,
  type DType,
  type ParameterSpec,
  type Shape,
  type Tensor,
} from '../engine/index.js';

/** How a parameter is initialised. */
export type ParameterInit =
  /** He/Kaiming normal, fan-in mode, ReLU gain: N(0, 2 / fanIn). */
  | { readonly kind: 'kaiming'; readonly fanIn: number }
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' };

export interface ParameterDecl extends ParameterSpec {
  readonly init: ParameterInit;
}

export interface BufferDecl {
  readonly name: string;
  readonly shape: Shape;
  readonly init: 'zeros' | 'ones';
}

export interface ModuleOptions {
  /** Seed of the generator that draws the initial weights (and later the module's random ops). */
  readonly seed: number;
  readonly dtype?: DType;
  readonly device?: string;
}

const shapeStr = (s: Shape) => `[${s.join(', ')}]`;

/** State keys that PyTorch writes and this module system does not keep (accepted and ignored on load). */
const IGNORED_KEY = /(^|\.)num_batches_tracked$/;

/**
 * Base of the models: flat parameters, named buffers, train/eval mode, state export/import.
 * Subclasses declare their parameters in the constructor and implement `forward`.
 */
export abstract class Module {
  /** All parameters as views into one contiguous buffer (`params.flat`, grads in `params.flatGrad`). */
  readonly params: FlatParameters;
  /** Seeded random stream: drew the initial weights, then drives the module's random ops (dropout). */
  readonly generator: Generator;
  readonly #buffers = new Map<string, Tensor>();
  #training = true;

  protected constructor(parameters: readonly ParameterDecl[], buffers: readonly BufferDecl[], opts: ModuleOptions) {
    const dtype = opts.dtype ?? 'float32';
    this.params = new FlatParameters(parameters, { dtype, device: opts.device });
    this.generator = new Generator(opts.seed);
    noGrad(() => {
      for (const d of parameters) {
        const p = this.params.get(d.name);
        if (d.init.kind === 'kaiming') p.normal_(0, Math.sqrt(2 / d.init.fanIn), this.generator);
        else if (d.init.kind === 'ones') p.fill_(1);
        // zeros: the flat buffer starts at zero
      }
    });
    for (const b of buffers) {
      if (this.params.slots.some((s) => s.name === b.name) || this.#buffers.has(b.name)) {
        throw new RangeError(`Module: duplicate name '${b.name}'`);
      }
      const make = b.init === 'ones' ? ones : zeros;
      this.#buffers.set(b.name, keep(make(b.shape, { dtype, device: opts.device })));
    }
  }

  /** Maps N×… input to output; call it inside `tidy`. */
  abstract forward(x: Tensor): Tensor;

  /** The parameter named `name`. */
  param(name: string): Tensor {
    return this.params.get(name);
  }

  /** The names of the buffers, in declaration order. */
  get bufferNames(): string[] {
    return [...this.#buffers.keys()];
  }

  /** The buffer named `name` (updated in place, e.g. BatchNorm running statistics). */
  buffer(name: string): Tensor {
    const b = this.#buffers.get(name);
    if (!b) throw new RangeError(`Module: no buffer named '${name}'`);
    return b;
  }

  /** True in training mode (batch statistics in BatchNorm). */
  get training(): boolean {
    return this.#training;
  }

  /** Training mode. Subclasses extend this to switch their own mode-dependent parts. */
  train(on = true): this {
    this.#training = on;
    return this;
  }

  /** Evaluation mode, i.e. `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Number of scalar parameters (buffers excluded). */
  get parameterCount(): number {
    return this.params.size;
  }

  /**
   * Copies of all parameters and buffers under PyTorch `state_dict` names (the caller owns and
   * disposes them).
   */
  state(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    noGrad(() => {
      for (const s of this.params.slots) out[s.name] = this.params.get(s.name).clone(); // no grad: a plain copy
      for (const [name, b] of this.#buffers) out[name] = b.clone();
    });
    return out;
  }

  /**
   * Copies `record` into the parameters and buffers. Every name must be present with the same
   * shape, and no unknown names are allowed (PyTorch's `num_batches_tracked` is ignored); on error
   * nothing is changed.
   */
  loadState(record: Readonly<Record<string, Tensor>>): void {
    const targets = new Map<string, Tensor>();
    for (const s of this.params.slots) targets.set(s.name, this.params.get(s.name));
    for (const [name, b] of this.#buffers) targets.set(name, b);
    const missing = [...targets.keys()].filter((k) => !(k in record));
    const unknown = Object.keys(record).filter((k) => !targets.has(k) && !IGNORED_KEY.test(k));
    if (missing.length > 0 || unknown.length > 0) {
      const parts = [];
      if (missing.length > 0) parts.push(`missing ${missing.join(', ')}`);
      if (unknown.length > 0) parts.push(`unknown ${unknown.join(', ')}`);
      throw new RangeError(`loadState: ${parts.join('; ')}`);
    }
    for (const [name, t] of targets) {
      const want = t.shape;
      const got = record[name].shape;
      if (want.length !== got.length || want.some((d, i) => d !== got[i])) {
        throw new RangeError(`loadState: '${name}' has shape ${shapeStr(got)}, the model expects ${shapeStr(want)}`);
      }
    }
    noGrad(() => {
      for (const [name, t] of targets) t.copy_(record[name]);
    });
  }

  /** Frees parameters, buffers and the generator. */
  dispose(): void {
    this.params.dispose();
    for (const b of this.#buffers.values()) b.dispose();
    this.#buffers.clear();
    this.generator.dispose();
  }
}
