/** Gradient-mode scopes. Gradients themselves are `Tensor.backward`, `.grad`, `.requiresGrad_`. */
import { binding } from './binding.js';

const B = binding();

/** Runs `fn` with gradient recording off (inference, optimizer and sampler updates). */
export function noGrad<R>(fn: () => R): R {
  const prev = B.setGradEnabled(false);
  try {
    return fn();
  } finally {
    B.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return B.isGradEnabled();
}
