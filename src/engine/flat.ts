/**
 * A flat parameter buffer: every parameter of a model is a view into one contiguous 1-D tensor,
 * and every gradient a view into a second one. An optimizer or sampler then updates the whole
 * model with a few native calls (`flat.add_(...)`) instead of one per tensor.
 */
import { noGrad } from './autograd.js';
import { keep, tidy, zeros, type DType, type Shape, type Tensor } from './tensor.js';

export interface ParameterSpec {
  readonly name: string;
  readonly shape: Shape;
}

export interface ParameterSlot extends ParameterSpec {
  /** Offset of the first element in the flat buffer. */
  readonly offset: number;
  readonly numel: number;
}

export class FlatParameters {
  /** All parameters, contiguous (no grad: update it in place under `noGrad` or directly). */
  readonly flat: Tensor;
  /** All gradients, contiguous; backward accumulates into it. */
  readonly flatGrad: Tensor;
  readonly slots: readonly ParameterSlot[];
  readonly #params = new Map<string, Tensor>();
  readonly #grads: Tensor[] = [];

  constructor(specs: readonly ParameterSpec[], opts: { dtype?: DType; device?: string } = {}) {
    const names = new Set<string>();
    let offset = 0;
    const slots: ParameterSlot[] = [];
    for (const s of specs) {
      if (names.has(s.name)) throw new RangeError(`FlatParameters: duplicate parameter name '${s.name}'`);
      names.add(s.name);
      if (!s.shape.every((d) => Number.isInteger(d) && d > 0)) {
        throw new RangeError(`FlatParameters: parameter '${s.name}' has a bad shape [${s.shape.join(', ')}]`);
      }
      const numel = s.shape.reduce((a, b) => a * b, 1);
      slots.push({ name: s.name, shape: [...s.shape], offset, numel });
      offset += numel;
    }
    if (offset === 0) throw new RangeError('FlatParameters: no parameters');
    this.slots = slots;
    const dtype = opts.dtype ?? 'float32';
    this.flat = keep(zeros([offset], { dtype, device: opts.device }));
    this.flatGrad = keep(zeros([offset], { dtype, device: opts.device }));
    // tidy frees the intermediate narrow() handles; keep() holds each parameter and gradient view.
    noGrad(() =>
      tidy(() => {
        for (const s of slots) {
          const p = keep(this.flat.narrow(0, s.offset, s.numel).view(s.shape).detach().requiresGrad_(true));
          const g = keep(this.flatGrad.narrow(0, s.offset, s.numel).view(s.shape));
          p.setGrad(g);
          this.#params.set(s.name, p);
          this.#grads.push(g);
        }
      }),
    );
  }

  /** Total number of scalar parameters. */
  get size(): number {
    return this.flat.numel;
  }

  /** The parameter named `name` (a leaf tensor viewing the flat buffer). */
  get(name: string): Tensor {
    const p = this.#params.get(name);
    if (!p) throw new RangeError(`FlatParameters: no parameter named '${name}'`);
    return p;
  }

  names(): string[] {
    return this.slots.map((s) => s.name);
  }

  zeroGrad(): void {
    this.flatGrad.zero_();
  }

  /** Frees the buffers; the parameters become unusable. */
  dispose(): void {
    this.flat.dispose();
    this.flatGrad.dispose();
    for (const p of this.#params.values()) p.dispose();
    for (const g of this.#grads) g.dispose();
    this.#params.clear();
    this.#grads.length = 0;
  }
}
