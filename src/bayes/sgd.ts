/**
 * SGD with momentum exactly as PyTorch's `torch.optim.SGD(lr, momentum, weight_decay, nesterov)`,
 * over a flat parameter buffer, for the deterministic, MC-dropout and ensemble baselines:
 *
 * ```
 * b ← μ·b + g + wd·θ
 * θ ← θ − η·b                          (nesterov: θ ← θ − η·(g + wd·θ + μ·b))
 * ```
 *
 * With a constant η this equals `sghmc({temperature: 0})` with `wd = 1/(N·σ²)`; with a schedule
 * the two differ in how past gradients are scaled (see sghmc.ts). `update` mutates the params and
 * the momentum buffer in place and returns a new state object with `step + 1`.
 */
import { keep, noGrad, tensor, zerosLike, type Tensor, type TypedArray } from '../engine/index.js';
import { valueAt, type Schedule } from './schedules.js';
import { checkGrads, hostCopy } from './sghmc.js';

export interface SGDOptions {
  /** Learning rate η (a number or a schedule of the step). */
  lr: number | Schedule;
  /** Momentum μ in [0, 1) (default 0.9). */
  momentum?: number;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

export interface SGDState {
  /** The parameters given to `init`, updated in place. */
  readonly params: Tensor;
  /** PyTorch's momentum buffer b. */
  readonly momentum: Tensor;
  /** Updates done so far; the next one uses `lr(step)`. */
  readonly step: number;
}

export interface SGDCheckpoint {
  readonly step: number;
  readonly momentum: Float32Array | Float64Array;
  readonly shape: readonly number[];
}

export interface SGD {
  /** Starts at `params` (held, not copied), or resumes from a checkpoint. */
  init(params: Tensor, opts?: { resume?: SGDCheckpoint }): SGDState;
  /** One step with gradient `grads` (same shape as params). Mutates the tensors in place. */
  update(state: SGDState, grads: Tensor): SGDState;
  checkpoint(state: SGDState): SGDCheckpoint;
  /** Frees the momentum buffer (not the params). */
  dispose(state: SGDState): void;
}

/**
 * Builds a PyTorch-style SGD optimizer.
 *
 * @throws RangeError naming the bad option (`sgd: weightDecay=-1 must be non-negative and finite`).
 */
export function sgd(opts: SGDOptions): SGD {
  const where = 'sgd';
  const bad = (name: string, v: unknown, want: string): never => {
    throw new RangeError(`${where}: ${name}=${String(v)} must be ${want}`);
  };
  const mu = opts.momentum ?? 0.9;
  if (!(mu >= 0 && mu < 1)) bad('momentum', mu, 'in [0, 1)');
  const wd = opts.weightDecay ?? 0;
  if (!(wd >= 0 && Number.isFinite(wd))) bad('weightDecay', wd, 'non-negative and finite');
  if (typeof opts.lr !== 'function' && !(opts.lr > 0 && Number.isFinite(opts.lr))) bad('lr', opts.lr, 'a positive finite number or a schedule');
  const nesterov = opts.nesterov ?? false;
  if (nesterov && mu === 0) bad('momentum', mu, 'positive with nesterov');

  const init = (params: Tensor, initOpts: { resume?: SGDCheckpoint } = {}): SGDState => {
    if (params.dtype !== 'float32' && params.dtype !== 'float64') {
      throw new TypeError(`${where}.init: params must be float32 or float64, got ${params.dtype}`);
    }
    const momentum = keep(zerosLike(params));
    const resume = initOpts.resume;
    if (!resume) return Object.freeze({ params, momentum, step: 0 });
    const shape = params.shape;
    if (!Number.isSafeInteger(resume.step) || resume.step < 0) {
      momentum.dispose();
      bad('resume.step', resume.step, 'a non-negative integer');
    }
    if (resume.shape.length !== shape.length || resume.shape.some((d, i) => d !== shape[i])) {
      momentum.dispose();
      throw new RangeError(`${where}.init: checkpoint momentum has shape [${resume.shape.join(', ')}], params have [${shape.join(', ')}]`);
    }
    const saved = tensor(resume.momentum as TypedArray, resume.shape, { dtype: params.dtype });
    momentum.copy_(saved);
    saved.dispose();
    return Object.freeze({ params, momentum, step: resume.step });
  };

  const update = (state: SGDState, grads: Tensor): SGDState => {
    const { params, momentum: b } = state;
    checkGrads(where, params, grads);
    const lr = valueAt(opts.lr, state.step);
    if (!(lr >= 0 && Number.isFinite(lr))) bad(`lr(${state.step})`, lr, 'a non-negative finite number');
    noGrad(() => {
      b.mul_(mu).add_(grads);
      if (wd > 0) b.add_(params, wd);
      if (nesterov) {
        // θ − η(g + wd·θ + μ·b), with θ scaled first so that wd sees the old θ.
        if (wd > 0) params.mul_(1 - lr * wd);
        params.add_(grads, -lr).add_(b, -lr * mu);
      } else {
        params.add_(b, -lr);
      }
    });
    return Object.freeze({ ...state, step: state.step + 1 });
  };

  return Object.freeze({
    init,
    update,
    checkpoint: (state: SGDState): SGDCheckpoint => ({ step: state.step, momentum: hostCopy(state.momentum), shape: state.momentum.shape }),
    dispose: (state: SGDState) => state.momentum.dispose(),
  });
}
