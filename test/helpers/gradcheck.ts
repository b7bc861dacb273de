/**
 * Finite-difference gradient checking for engine ops (float64).
 *
 * The output of `fn` is reduced to a scalar L = Σ out ⊙ r with a fixed projection r of values in
 * [0.5, 1.5) (so every output element matters and a wrong sign or transposition shows). The
 * analytic gradient of L (backward) is compared with central differences
 * (L(x + ε·e_k) − L(x − ε·e_k)) / 2ε for every element k of every floating-point input.
 */
import { Rng } from '../../src/util/index.js';
import { noGrad, tensor, tidy, type Tensor } from '../../src/engine/index.js';

export interface GradcheckOptions {
  /** Perturbation (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** Relative tolerance (default 1e-6). */
  rtol?: number;
  /** Indices of the inputs to differentiate (default: every float64 input). */
  wrt?: readonly number[];
}

function copyOf(data: Float64Array, like: Tensor): Tensor {
  return tensor(data, like.shape, { dtype: 'float64' });
}

/**
 * Checks the gradients of `fn` at `inputs` and returns one line per disagreement (an empty array
 * when all agree). An input whose numerical gradient is identically zero is reported too, since
 * the check could not fail for it.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts: GradcheckOptions = {}): string[] {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-6;
  const wrt = opts.wrt ?? inputs.flatMap((x, i) => (x.dtype === 'float64' ? [i] : []));
  if (wrt.length === 0) throw new RangeError('gradcheck: no float64 input to differentiate');
  for (const i of wrt) {
    if (inputs[i].dtype !== 'float64') throw new TypeError(`gradcheck: input ${i} is ${inputs[i].dtype}, not float64`);
  }
  const data = inputs.map((x) => (x.dtype === 'float64' ? (x.toArray() as Float64Array) : undefined));

  return tidy(() => {
    const leaves = inputs.map((x, i) => (wrt.includes(i) ? copyOf(data[i] as Float64Array, x).requiresGrad_() : x));
    const out = fn(...leaves);
    const rng = new Rng(12345);
    const proj = tensor(Float64Array.from({ length: out.numel }, () => 0.5 + rng.uniform()), out.shape, { dtype: 'float64' });
    out.mul(proj).sum().backward();

    const loss = (i: number, perturbed: Float64Array): number =>
      noGrad(() => tidy(() => fn(...inputs.map((x, j) => (j === i ? copyOf(perturbed, x) : leaves[j]))).mul(proj).sum().item()));

    const problems: string[] = [];
    for (const i of wrt) {
      const g = leaves[i].grad;
      if (!g) {
        problems.push(`input ${i}: backward left no gradient`);
        continue;
      }
      const analytic = g.toArray() as Float64Array;
      const x = Float64Array.from(data[i] as Float64Array);
      let allZero = true;
      for (let k = 0; k < x.length; k++) {
        const v = x[k];
        x[k] = v + eps;
        const up = loss(i, x);
        x[k] = v - eps;
        const down = loss(i, x);
        x[k] = v;
        const numeric = (up - down) / (2 * eps);
        if (numeric !== 0) allZero = false;
        if (!(Math.abs(analytic[k] - numeric) <= atol + rtol * Math.abs(numeric))) {
          problems.push(`input ${i} element ${k}: analytic ${analytic[k]}, numerical ${numeric}`);
        }
      }
      if (allZero) problems.push(`input ${i}: numerical gradient is all zero, so the check cannot fail`);
    }
    return problems;
  });
}
