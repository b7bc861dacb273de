/**
 * Gradient transforms composed in front of a sampler or optimizer (optax's `chain`): each rewrites
 * the gradient buffer in place before the update. Warm-up is a schedule (`linear` +
 * `joinSchedules`) and weight decay is the prior (`priorStd`), so the transforms here are the
 * ones that touch the gradient itself.
 *
 * Note that clipping makes SGHMC's gradient biased, so the chain no longer targets the posterior
 * exactly while clipping is active; use it for the SGD baselines or as a guard against rare spikes.
 */
import { noGrad, tidy, type Tensor } from '../engine/index.js';
import { finiteNumber } from './options.js';

/** Rewrites `grads` in place, given the parameters and the step the update is about to use. */
export type GradientTransform = (grads: Tensor, params: Tensor, step: number) => void;

/** What `chain` needs of a sampler or optimizer: an update over a state with params and step. */
export interface Updater<S extends { readonly params: Tensor; readonly step: number }> {
  update(state: S, grads: Tensor): S;
}

/**
 * Scales the gradient by `min(1, maxNorm / ‖g‖₂)` (PyTorch's `clip_grad_norm_` over the whole
 * model, optax `clip_by_global_norm`). No host synchronisation: the factor stays a tensor.
 *
 * @throws RangeError when maxNorm is not positive and finite.
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransform {
  finiteNumber('clipByGlobalNorm', 'maxNorm', maxNorm, 'positive');
  return (grads) =>
    noGrad(() =>
      tidy(() => {
        const flat = grads.reshape([-1]);
        const norm = flat.matmul(flat).sqrt();
        grads.mul_(norm.add(1e-6).pow(-1).mul(maxNorm).clamp(undefined, 1));
      }),
    );
}

/**
 * The sampler or optimizer `inner` with `transforms` applied, in order, to the gradient before
 * each update; everything else (init, checkpoint, ...) is `inner`'s.
 *
 * @example const opt = chain(sghmc({ lr: 0.01, temperature: 0, numData, priorStd }), clipByGlobalNorm(1));
 */
export function chain<S extends { readonly params: Tensor; readonly step: number }, O extends Updater<S>>(
  inner: O,
  ...transforms: readonly GradientTransform[]
): O {
  return Object.freeze({
    ...inner,
    update: (state: S, grads: Tensor): S => {
      for (const t of transforms) t(grads, state.params, state.step);
      return inner.update(state, grads);
    },
  });
}
