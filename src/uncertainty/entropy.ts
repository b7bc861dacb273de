/**
 * Pixel-wise uncertainty from posterior samples of class probabilities (SGHMC samples, MC-Dropout
 * passes, ensemble members: all the same shape). Entropies are in nats (natural log), with
 * 0·ln 0 = 0. Probabilities are class-major, `probs[c*P + p]` for P pixels.
 *
 * With S samples p^(s) and their mean p̄ (the predictive distribution):
 * - predictive entropy (total) `H[p̄] = −Σ_c p̄_c ln p̄_c`;
 * - expected entropy (aleatoric) `E_s H[p^(s)]`;
 * - mutual information (epistemic) `I = H[p̄] − E_s H[p^(s)] ≥ 0` (BALD; Gal et al. 2017);
 * - per-class variance `Var_s p^(s)_c` (population variance, divisor S).
 */

/** The uncertainty maps of S samples. */
export interface UncertaintyMaps {
  readonly numClasses: number;
  readonly numPixels: number;
  /** Number of samples S. */
  readonly samples: number;
  /** Predictive mean probabilities p̄, class-major C×P. */
  readonly mean: Float32Array;
  /** H[p̄] per pixel (total uncertainty), in nats. */
  readonly predictiveEntropy: Float32Array;
  /** E_s H[p^(s)] per pixel (aleatoric), in nats. */
  readonly expectedEntropy: Float32Array;
  /** H[p̄] − E_s H[p^(s)] per pixel (epistemic), in nats; rounding below 0 is clamped to 0. */
  readonly mutualInformation: Float32Array;
  /** Var_s p^(s)_c per class and pixel (divisor S), class-major C×P. */
  readonly variance: Float32Array;
}

/** Entropy of class-major probabilities at pixel p (nats, 0·ln 0 = 0). */
function pixelEntropy(probs: ArrayLike<number>, P: number, C: number, p: number): number {
  let h = 0;
  for (let c = 0; c < C; c++) {
    const v = probs[c * P + p];
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

function checkPixels(probs: Float32Array | Float64Array, numClasses: number, where: string): number {
  if (!(probs instanceof Float32Array || probs instanceof Float64Array)) {
    throw new TypeError(`${where}: probs must be a Float32Array or Float64Array`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new RangeError(`${where}: numClasses must be an integer ≥ 2, got ${numClasses}`);
  }
  if (probs.length === 0 || probs.length % numClasses !== 0) {
    throw new RangeError(`${where}: probs has ${probs.length} values, not a positive multiple of numClasses = ${numClasses}`);
  }
  return probs.length / numClasses;
}

/**
 * Entropy per pixel of one probability map (e.g. a deterministic network's softmax), in nats.
 *
 * @example entropy(new Float32Array([0.25, 0.25, 0.25, 0.25]), 4) // [ln 4]
 */
export function entropy(probs: Float32Array | Float64Array, numClasses = 4): Float32Array {
  const P = checkPixels(probs, numClasses, 'entropy');
  const out = new Float32Array(P);
  for (let p = 0; p < P; p++) out[p] = pixelEntropy(probs, P, numClasses, p);
  return out;
}

/**
 * Streaming accumulator of uncertainty maps: add one sample's softmax at a time; memory stays at
 * the running sums (mean and sum of squared deviations per class and pixel by Welford's update,
 * and the entropy sum per pixel: (2C + 1)·P doubles), whatever the number of samples.
 *
 * @example
 * const acc = new UncertaintyAccumulator({ numClasses: 4, numPixels: 128 * 128 });
 * for (const s of samples) acc.add(predict(s)); // one sample's softmax, C×H×W
 * const { mutualInformation } = acc.result();
 */
export class UncertaintyAccumulator {
  readonly numClasses: number;
  readonly numPixels: number;
  #samples = 0;
  readonly #mean: Float64Array;
  readonly #m2: Float64Array;
  readonly #entropySum: Float64Array;

  constructor(opts: { readonly numClasses?: number; readonly numPixels: number }) {
    const C = opts.numClasses ?? 4;
    if (!Number.isInteger(C) || C < 2) throw new RangeError(`UncertaintyAccumulator: numClasses must be an integer ≥ 2, got ${C}`);
    if (!Number.isInteger(opts.numPixels) || opts.numPixels < 1) {
      throw new RangeError(`UncertaintyAccumulator: numPixels must be a positive integer, got ${opts.numPixels}`);
    }
    this.numClasses = C;
    this.numPixels = opts.numPixels;
    this.#mean = new Float64Array(C * opts.numPixels);
    this.#m2 = new Float64Array(C * opts.numPixels);
    this.#entropySum = new Float64Array(opts.numPixels);
  }

  /** Number of samples added so far. */
  get samples(): number {
    return this.#samples;
  }

  /** Adds one sample's class-major probabilities (C×P values, finite). Returns this. */
  add(probs: Float32Array | Float64Array): this {
    const where = 'UncertaintyAccumulator.add';
    const C = this.numClasses;
    const P = checkPixels(probs, C, where);
    if (P !== this.numPixels) {
      throw new RangeError(`${where}: probs has ${probs.length} values, expected ${C} × ${this.numPixels} = ${C * this.numPixels}`);
    }
    for (let i = 0; i < probs.length; i++) {
      if (!Number.isFinite(probs[i])) throw new RangeError(`${where}: probs[${i}] = ${probs[i]} is not finite`);
    }
    const n = ++this.#samples;
    const mean = this.#mean;
    const m2 = this.#m2;
    for (let i = 0; i < probs.length; i++) {
      const x = probs[i];
      const delta = x - mean[i];
      mean[i] += delta / n;
      m2[i] += delta * (x - mean[i]);
    }
    for (let p = 0; p < P; p++) this.#entropySum[p] += pixelEntropy(probs, P, C, p);
    return this;
  }

  /** The uncertainty maps of the samples so far. Throws when none was added. */
  result(): UncertaintyMaps {
    const S = this.#samples;
    if (S === 0) throw new RangeError('UncertaintyAccumulator.result: no sample was added');
    const C = this.numClasses;
    const P = this.numPixels;
    const predictiveEntropy = new Float32Array(P);
    const expectedEntropy = new Float32Array(P);
    const mutualInformation = new Float32Array(P);
    for (let p = 0; p < P; p++) {
      const total = pixelEntropy(this.#mean, P, C, p);
      const aleatoric = this.#entropySum[p] / S;
      predictiveEntropy[p] = total;
      expectedEntropy[p] = aleatoric;
      mutualInformation[p] = Math.max(0, total - aleatoric);
    }
    const variance = new Float32Array(C * P);
    for (let i = 0; i < variance.length; i++) variance[i] = this.#m2[i] / S;
    return {
      numClasses: C,
      numPixels: P,
      samples: S,
      mean: Float32Array.from(this.#mean),
      predictiveEntropy,
      expectedEntropy,
      mutualInformation,
      variance,
    };
  }
}
