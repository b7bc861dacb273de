/**
 * Stochastic gradient Hamiltonian Monte Carlo in SGD-with-momentum form, over a flat parameter
 * buffer.
 *
 * Derivation. The posterior over weights θ given N training examples, with a Gaussian prior
 * N(0, σ²I), has the energy `U(θ) = N·L̄(θ) + ‖θ‖²/(2σ²)`, L̄ the mean loss (negative log
 * likelihood per example), estimated on a mini-batch. HMC simulates Hamiltonian dynamics with a
 * unit mass, `H(θ, r) = U(θ) + ½‖r‖²`; SGHMC (Chen, Fox and Guestrin 2014, "Stochastic Gradient
 * Hamiltonian Monte Carlo", ICML) adds a friction C that absorbs the
 * mini-batch noise: `dθ = r dt`, `dr = −∇U dt − C r dt + N(0, 2CT dt)`, whose stationary density
 * is ∝ exp(−U/T − ‖r‖²/(2T)), so θ follows the tempered posterior p(θ | D)^{1/T}. Euler steps of size h
 * with `v = h·r`, `α = hC` (friction per step) and `η' = h²` give
 * `v ← (1 − α)·v − η'·∇U(θ) + N(0, 2αη'T)`, `θ ← θ + v`. Writing the step on the mean loss,
 * `η = N·η'`, and the momentum `μ = 1 − α`:
 *
 * ```
 * v ← μ·v − η·(∇L̄(θ) + θ/(N·σ²)) + sqrt(2·(1 − μ)·η·T / N) · ε,   ε ~ N(0, I)
 * θ ← θ + v
 * ```
 *
 * - T = 1 samples exp(−U(θ)), the posterior of whatever per-example negative log likelihood L̄
 *   averages (for this project's segmentation loss, which one is below); T < 1 a cold posterior
 *   exp(−U/T), prior and likelihood both raised to 1/T (Wenzel et al. 2020, "How good is the
 *   Bayes posterior in deep neural networks really?", ICML); T = 0 adds no noise: the update is
 *   then exactly SGD with momentum μ, learning rate η and weight decay `1/(N·σ²)`.
 * - N stays explicit (`numData`) and is not folded into T: with a mean loss the noise is
 *   `sqrt(2(1 − μ)ηT/N)` (posteriors' "temperature = 1/num_data" is the same thing at T = 1).
 * - With a cyclical η and a noise gate that is off in exploration phases this is cSGHMC (Zhang et
 *   al. 2020, "Cyclical Stochastic Gradient MCMC for Bayesian Deep Learning", ICLR).
 * - The mini-batch noise correction B̂ of Chen et al. is taken as 0 (small η), as is usual.
 *
 * Which posterior T = 1 is with the training loss (src/train/step.ts, `segmentationLoss`). An
 * example is a 2-D slice and N the training slices. On a batch of B slices of H × W pixels,
 * `L̄ = (1/B)·Σ_b ℓ_b` with `ℓ_n(θ) = CE_n(θ) + D_n(θ)`: CE_n the cross-entropy *averaged* over the
 * slice's H·W pixels (unlabelled classes merged into background), D_n = 1 − the slice's soft Dice
 * averaged over its labelled foreground classes (loss weights 1 and 1). N·L̄ is an unbiased
 * estimate of Σ_n ℓ_n, so
 *
 * ```
 * U(θ) = Σ_{n=1}^{N} [CE_n(θ) + D_n(θ)] + ‖θ‖²/(2σ²)
 * ```
 *
 * and exp(−U/T) at T = 1 is the posterior of a model in which each slice is ONE observation with
 * log-likelihood −(CE_n + D_n):
 * - the pixel factor `exp(−CE_n) = (Π_i p(y_ni | x_n, θ))^{1/(H·W)}` is the per-pixel independent
 *   categorical likelihood raised to 1/(H·W): relative to the Bayes posterior of that per-pixel
 *   model (prior × Π_n Π_i p), the likelihood is tempered at T_pixel = H·W (16,384 at the default
 *   128 × 128) and the prior is not;
 * - the Dice factor `exp(−D_n)`, D_n ∈ [0, 1], is not a normalised density of the labels (its sum
 *   over label maps is not 1 and depends on θ): with it exp(−U) is a Gibbs (generalised-Bayes)
 *   posterior of the loss Σ_n ℓ_n at learning rate 1, not the Bayes posterior of any likelihood.
 *
 * At T < 1 both factors and the prior are raised to 1/T: at the default T = 0.01 and 128 × 128 the
 * pixel likelihood has the exponent 1/(T·H·W) ≈ 0.0061 and the prior is N(0, T·σ²I) (std 0.1σ).
 * The noise of one step, sqrt(2(1 − μ)ηT/N) per parameter, is measured against the gradient step
 * η·|∇L̄| by bench/noise-scale.ts (README, "The method").
 *
 * Relation to PyTorch's `torch.optim.SGD(lr=η, momentum=μ, weight_decay=wd)`, which keeps
 * `b ← μ·b + g + wd·θ; θ ← θ − η·b`: with a constant η, `v = −η·b` at every step and the two are
 * identical step for step. With a changing η they differ: here `v_k = −Σ_j μ^{k−j} η_j g_j`, g_j including `wd·θ_j` (each
 * gradient scaled by the η of its own step, as the discretised dynamics require), in PyTorch
 * `θ` moves by `−η_k Σ_j μ^{k−j} g_j`. Equivalently, PyTorch's step is this one with the momentum
 * of step k replaced by `μ·η_k/η_{k−1}`: `−η_k·b_k = μ·(η_k/η_{k−1})·(−η_{k−1}·b_{k−1}) − η_k·g_k`.
 * Both add the weight decay to the gradient (L2, not decoupled) and neither dampens the momentum
 * (PyTorch's `dampening=0`, whose first step `b_0 = g_0` is `v_0 = −η_0·g_0` here). The
 * baselines (deterministic, MC dropout, ensembles) run this sampler at T = 0.
 *
 * The update runs as a handful of native calls over the whole model (`mul_`, `add_` ×3–4,
 * `normal_`), in place: `update` mutates `state.params` (the model's flat buffer itself) and
 * `state.momentum` and returns a new state object with `step + 1` (posteriors' `inplace=True`).
 *
 * @example
 * const sampler = sghmc({ lr: cyclicalCosine({ lr0: 0.1, layout }), temperature: 0.1, numData: 1902, priorStd: 1,
 *   noise: layout.isSamplingPhase });
 * let state = sampler.init(flat.flat, { seed: 0 });
 * for (...) { computeGradientsInto(flat.flatGrad); state = sampler.update(state, flat.flatGrad); }
 */
import { Generator, keep, noGrad, tensor, zerosLike, type Tensor, type TypedArray } from '../engine/index.js';
import { fail, finiteNumber, numberOrSchedule, nonNegativeInt, positiveInt } from './options.js';
import { valueAt, type Schedule } from './schedules.js';

export interface SGHMCOptions {
  /** Learning rate η on the mean loss (a number or a schedule of the step). */
  lr: number | Schedule;
  /** Momentum μ = 1 − α, α the friction per step, in [0, 1) (default 0.9). */
  momentum?: number;
  /** Temperature T ≥ 0 (default 1: exp(−U), the posterior of the loss L̄ as a per-example likelihood, see above; < 1 cold; 0 SGD with momentum). */
  temperature?: number | Schedule;
  /** Number of training examples N. */
  numData: number;
  /** Prior standard deviation σ of N(0, σ²I); `Infinity` for a flat prior (no weight decay). */
  priorStd: number;
  /** Noise gate: noise is added at `step` only when it returns true (default: always). */
  noise?: (step: number) => boolean;
}

/** The sampler's state. Frozen; `update` mutates its tensors in place and returns a new object. */
export interface SGHMCState {
  /** The parameters: the tensor given to `init` (e.g. the model's flat buffer), updated in place. */
  readonly params: Tensor;
  /** The velocity v (momentum times step), same shape as params. */
  readonly momentum: Tensor;
  /** Updates done so far; the next update uses `lr(step)` and `temperature(step)`. */
  readonly step: number;
  /** The noise stream (advanced in place; its state is part of a checkpoint). */
  readonly generator: Generator;
  /** Scratch buffer for the noise, on the params' device (drawn on the CPU stream, tensor.ts). */
  readonly noise: Tensor;
}

/** What a checkpoint needs besides the parameters: plain data, exact. */
export interface SGHMCCheckpoint {
  readonly step: number;
  /** The velocity, row-major, in the params' dtype. */
  readonly momentum: Float32Array | Float64Array;
  readonly shape: readonly number[];
  /** The generator's state bytes. */
  readonly rngState: Uint8Array;
}

export interface SGHMCInitOptions {
  /** Seed of the noise stream (default 0). */
  seed?: number;
  /** Continue from a checkpoint (step, momentum and noise stream), with `params` restored separately. */
  resume?: SGHMCCheckpoint;
}

/** The hyperparameters an update at `step` uses (for logs and sample manifests). */
export interface SGHMCStepInfo {
  readonly lr: number;
  readonly temperature: number;
  /** Whether the noise gate is open. */
  readonly noise: boolean;
  /** Standard deviation of the noise added to v: sqrt(2(1 − μ)ηT/N), 0 when the gate is closed. */
  readonly noiseStd: number;
}

export interface SGHMC {
  /** Starts a chain at `params` (held, not copied: updates write into it). */
  init(params: Tensor, opts?: SGHMCInitOptions): SGHMCState;
  /** One step with the mean-loss gradient `grads` (same shape as params). Mutates the tensors in place. */
  update(state: SGHMCState, grads: Tensor): SGHMCState;
  /** The hyperparameters of the update at `step`. */
  stepInfo(step: number): SGHMCStepInfo;
  /** The state as plain data (a copy), for a checkpoint. */
  checkpoint(state: SGHMCState): SGHMCCheckpoint;
  /** Frees the state's buffers and generator (not the params). */
  dispose(state: SGHMCState): void;
}

const FLOAT_DTYPES = ['float32', 'float64'] as const;

/** Throws unless `grads` has the shape, dtype and device of `params`. */
function checkGrads(where: string, params: Tensor, grads: Tensor): void {
  const ps = params.shape;
  const gs = grads.shape;
  if (gs.length !== ps.length || gs.some((d, i) => d !== ps[i]) || grads.dtype !== params.dtype || grads.device !== params.device) {
    throw new RangeError(
      `${where}.update: grads [${gs.join(', ')}] ${grads.dtype} on ${grads.device} must match params [${ps.join(', ')}] ${params.dtype} on ${params.device}`,
    );
  }
}

/**
 * Builds an SGHMC sampler (see the module documentation for the update).
 *
 * @throws RangeError naming the bad option (`sghmc: momentum=1 must be in [0, 1)`).
 */
export function sghmc(opts: SGHMCOptions): SGHMC {
  const where = 'sghmc';
  const mu = opts.momentum ?? 0.9;
  if (!(mu >= 0 && mu < 1)) fail(where, 'momentum', mu, 'in [0, 1)');
  const n = positiveInt(where, 'numData', opts.numData);
  const sigma = opts.priorStd;
  if (!(sigma > 0)) fail(where, 'priorStd', sigma, 'positive (Infinity for a flat prior)');
  numberOrSchedule(where, 'lr', opts.lr, 'positive');
  const temperatureOpt = opts.temperature ?? 1;
  numberOrSchedule(where, 'temperature', temperatureOpt, 'non-negative');
  const weightDecay = 1 / (n * sigma * sigma);

  const stepInfo = (step: number): SGHMCStepInfo => {
    const lr = finiteNumber(where, `lr(${step})`, valueAt(opts.lr, step), 'non-negative');
    const temperature = finiteNumber(where, `temperature(${step})`, valueAt(temperatureOpt, step), 'non-negative');
    const noise = opts.noise ? opts.noise(step) : true;
    const noiseStd = noise ? Math.sqrt((2 * (1 - mu) * lr * temperature) / n) : 0;
    return { lr, temperature, noise, noiseStd };
  };

  const init = (params: Tensor, initOpts: SGHMCInitOptions = {}): SGHMCState => {
    if (!(FLOAT_DTYPES as readonly string[]).includes(params.dtype)) {
      throw new TypeError(`${where}.init: params must be float32 or float64, got ${params.dtype}`);
    }
    const shape = params.shape;
    const resume = initOpts.resume;
    if (resume && (resume.shape.length !== shape.length || resume.shape.some((d, i) => d !== shape[i]))) {
      throw new RangeError(`${where}.init: checkpoint momentum has shape [${resume.shape.join(', ')}], params have [${shape.join(', ')}]`);
    }
    if (resume) nonNegativeInt(where, 'resume.step', resume.step);
    const generator = new Generator(initOpts.seed ?? 0);
    // Long-lived buffers: kept out of any enclosing tidy scope, freed by dispose().
    const momentum = keep(zerosLike(params));
    const noise = keep(zerosLike(params));
    let step = 0;
    if (resume) {
      const saved = tensor(resume.momentum as TypedArray, resume.shape, { dtype: params.dtype });
      momentum.copy_(saved);
      saved.dispose();
      generator.setState(resume.rngState);
      step = resume.step;
    }
    return Object.freeze({ params, momentum, step, generator, noise });
  };

  const update = (state: SGHMCState, grads: Tensor): SGHMCState => {
    const { params, momentum: v } = state;
    checkGrads(where, params, grads);
    const info = stepInfo(state.step);
    noGrad(() => {
      v.mul_(mu);
      v.add_(grads, -info.lr);
      if (weightDecay > 0) v.add_(params, -info.lr * weightDecay);
      if (info.noiseStd > 0) {
        state.noise.normal_(0, 1, state.generator);
        v.add_(state.noise, info.noiseStd);
      }
      params.add_(v);
    });
    return Object.freeze({ ...state, step: state.step + 1 });
  };

  const checkpoint = (state: SGHMCState): SGHMCCheckpoint => ({
    step: state.step,
    momentum: state.momentum.toArray() as Float32Array | Float64Array, // copied to the CPU
    shape: state.momentum.shape,
    rngState: state.generator.getState(),
  });

  const dispose = (state: SGHMCState): void => {
    state.momentum.dispose();
    state.noise.dispose();
    state.generator.dispose();
  };

  return Object.freeze({ init, update, stepInfo, checkpoint, dispose });
}
