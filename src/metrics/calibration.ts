/**
 * Calibration of pixel-wise class probabilities: ECE, MCE, reliability diagrams, NLL and Brier
 * score. Probabilities are class-major, `probs[c*P + p]` for P pixels (a C×H×W tensor's layout).
 *
 * Pixels of structures the ground truth does not label cannot be scored. For EMIDEC (no RV) the
 * RV pixels are background in the ground truth already, so a confident RV prediction there counts
 * as an error; pass a `mask` to leave pixels out.
 */
import { distanceTransform, type GridDims } from './hausdorff.js';
import type { MetricValue } from './types.js';
import { checkLabels, checkMask, checkProbs, checkSameLength } from './validate.js';

/** Options shared by the calibration metrics. */
export interface CalibrationOptions {
  /** Number of classes C. Default 4. */
  readonly numClasses?: number;
  /** Only pixels with `mask[p] !== 0` are scored (e.g. {@link calibrationRoi}). Default: all. */
  readonly mask?: Uint8Array;
}

interface Checked {
  readonly C: number;
  readonly P: number;
}

function check(probs: Float32Array | Float64Array, target: Uint8Array, opts: CalibrationOptions, where: string): Checked {
  const C = opts.numClasses ?? 4;
  if (!Number.isInteger(C) || C < 2 || C > 256) throw new RangeError(`${where}: numClasses must be an integer in [2, 256], got ${C}`);
  const P = checkProbs(probs, C, where);
  checkLabels(target, C, 'target', where, P);
  checkMask(opts.mask, P, where);
  return { C, P };
}

/**
 * Predicted labels: the arg-max class per pixel (the lowest class on ties, as numpy's argmax).
 *
 * @param probs class-major probabilities `probs[c*P + p]`
 */
export function argmax(probs: Float32Array | Float64Array, numClasses = 4): Uint8Array {
  const P = checkProbs(probs, numClasses, 'argmax');
  const out = new Uint8Array(P);
  for (let p = 0; p < P; p++) {
    let best = probs[p];
    let arg = 0;
    for (let c = 1; c < numClasses; c++) {
      const v = probs[c * P + p];
      if (v > best) {
        best = v;
        arg = c;
      }
    }
    out[p] = arg;
  }
  return out;
}

/**
 * The region of interest for calibration: the foreground (any class ≠ 0) of the ground truth or
 * the prediction, dilated within each z slice by `margin` pixels (a Euclidean disc: every pixel
 * within distance ≤ margin of the foreground). Background far from the heart is trivially
 * confident and would otherwise swamp the ECE.
 *
 * @param dims `[nx, ny]` or `[nx, ny, nz]`; dilation is in-plane only
 */
export function calibrationRoi(
  target: Uint8Array,
  pred: Uint8Array,
  opts: { readonly dims: GridDims; readonly margin?: number },
): Uint8Array {
  const where = 'calibrationRoi';
  const margin = opts.margin ?? 5;
  if (!(margin >= 0) || !Number.isFinite(margin)) throw new RangeError(`${where}: margin must be ≥ 0 pixels, got ${margin}`);
  checkSameLength(target, pred, 'target and pred', where);
  const [nx, ny] = opts.dims;
  const nz = opts.dims.length === 3 ? opts.dims[2] : 1;
  if (nx * ny * nz !== target.length) {
    throw new RangeError(`${where}: dims [${opts.dims.join(', ')}] hold ${nx * ny * nz} pixels, but the label maps have ${target.length}`);
  }
  const n = nx * ny;
  const out = new Uint8Array(target.length);
  const fg = new Uint8Array(n);
  for (let z = 0; z < nz; z++) {
    let any = false;
    for (let i = 0; i < n; i++) {
      fg[i] = target[z * n + i] !== 0 || pred[z * n + i] !== 0 ? 1 : 0;
      any ||= fg[i] === 1;
    }
    if (!any) continue;
    const d = distanceTransform(fg, [nx, ny]);
    for (let i = 0; i < n; i++) out[z * n + i] = d[i] <= margin ? 1 : 0;
  }
  return out;
}

/** Reliability diagram data: per equal-width confidence bin. */
export interface Reliability {
  /** Bin edges, `bins + 1` values from 0 to 1; bin b holds confidences in (edges[b], edges[b+1]] (bin 0 also holds 0). */
  readonly edges: Float64Array;
  /** Pixels per bin. */
  readonly count: Float64Array;
  /** Mean confidence per bin (NaN for an empty bin). */
  readonly meanConfidence: Float64Array;
  /** Accuracy (fraction of pixels whose arg-max class is right) per bin (NaN for an empty bin). */
  readonly accuracy: Float64Array;
}

/** ECE, MCE and the reliability diagram. */
export interface CalibrationError {
  /** Pixels scored. */
  readonly n: number;
  /** Expected calibration error `Σ_b (n_b / n) |acc_b − conf_b|`. */
  readonly ece: MetricValue;
  /** Maximum calibration error `max_b |acc_b − conf_b|` over non-empty bins. */
  readonly mce: MetricValue;
  readonly reliability: Reliability;
}

/**
 * Expected and maximum calibration error of the arg-max confidence (Guo et al., "On Calibration
 * of Modern Neural Networks", ICML 2017), with `bins` equal-width bins (default 15); confidence
 * = max_c p_c, correct = arg-max class equals the ground truth. Bin b is (b/B, (b+1)/B], i.e.
 * `b = ceil(conf·B) − 1` clamped to [0, B − 1].
 *
 * With `prediction` given, that is the predicted class per pixel instead of the arg-max (a
 * segmentation scored elsewhere too): confidence = p_prediction, correct = prediction equals the
 * ground truth.
 *
 * @returns NaN with reason `empty-input` when the mask selects no pixel
 */
export function calibrationError(
  probs: Float32Array | Float64Array,
  target: Uint8Array,
  opts: CalibrationOptions & { readonly bins?: number; readonly prediction?: Uint8Array } = {},
): CalibrationError {
  const where = 'calibrationError';
  const { C, P } = check(probs, target, opts, where);
  const B = opts.bins ?? 15;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`${where}: bins must be a positive integer, got ${B}`);
  const count = new Float64Array(B);
  const confSum = new Float64Array(B);
  const correct = new Float64Array(B);
  const mask = opts.mask;
  const pred = opts.prediction ?? argmax(probs, C);
  if (pred.length !== P) throw new RangeError(`${where}: prediction has ${pred.length} values, probs hold ${P} pixels`);
  const bad = pred.findIndex((v) => v >= C);
  if (bad >= 0) throw new RangeError(`${where}: prediction ${pred[bad]} at pixel ${bad} is not a class (0..${C - 1})`);
  let n = 0;
  for (let p = 0; p < P; p++) {
    if (mask !== undefined && mask[p] === 0) continue;
    const arg = pred[p];
    const conf = probs[arg * P + p];
    const b = Math.min(B - 1, Math.max(0, Math.ceil(conf * B) - 1));
    count[b]++;
    confSum[b] += conf;
    if (arg === target[p]) correct[b]++;
    n++;
  }
  const edges = Float64Array.from({ length: B + 1 }, (_, b) => b / B);
  const meanConfidence = new Float64Array(B);
  const accuracy = new Float64Array(B);
  let ece = 0;
  let mce = 0;
  for (let b = 0; b < B; b++) {
    if (count[b] === 0) {
      meanConfidence[b] = NaN;
      accuracy[b] = NaN;
      continue;
    }
    meanConfidence[b] = confSum[b] / count[b];
    accuracy[b] = correct[b] / count[b];
    const gap = Math.abs(accuracy[b] - meanConfidence[b]);
    ece += (count[b] / n) * gap;
    mce = Math.max(mce, gap);
  }
  const reliability = { edges, count, meanConfidence, accuracy };
  if (n === 0) return { n, ece: { value: NaN, reason: 'empty-input' }, mce: { value: NaN, reason: 'empty-input' }, reliability };
  return { n, ece: { value: ece }, mce: { value: mce }, reliability };
}

/**
 * Negative log-likelihood: mean over pixels of `−ln max(p_true, eps)` (eps default 1e-12 keeps a
 * confident mistake finite).
 */
export function negativeLogLikelihood(
  probs: Float32Array | Float64Array,
  target: Uint8Array,
  opts: CalibrationOptions & { readonly eps?: number } = {},
): MetricValue {
  const { P } = check(probs, target, opts, 'negativeLogLikelihood');
  const eps = opts.eps ?? 1e-12;
  if (!(eps > 0 && eps < 1)) throw new RangeError(`negativeLogLikelihood: eps must be in (0, 1), got ${eps}`);
  const mask = opts.mask;
  let sum = 0;
  let n = 0;
  for (let p = 0; p < P; p++) {
    if (mask !== undefined && mask[p] === 0) continue;
    sum -= Math.log(Math.max(probs[target[p] * P + p], eps));
    n++;
  }
  return n === 0 ? { value: NaN, reason: 'empty-input' } : { value: sum / n };
}

/**
 * Multi-class Brier score: mean over pixels of `Σ_c (p_c − y_c)²` with y one-hot (range [0, 2]).
 */
export function brierScore(probs: Float32Array | Float64Array, target: Uint8Array, opts: CalibrationOptions = {}): MetricValue {
  const perClass = brierPerClass(probs, target, opts, 'brierScore');
  if (Number.isNaN(perClass[0].value)) return perClass[0];
  return { value: perClass.reduce((sum, m) => sum + m.value, 0) };
}

/**
 * One-vs-rest Brier score per class: for class c, mean over pixels of `(p_c − [y = c])²`, which
 * is scikit-learn's `brier_score_loss(y == c, p_c)`. Their sum is {@link brierScore}.
 *
 * @returns one value per class 0..C-1
 */
export function brierScorePerClass(
  probs: Float32Array | Float64Array,
  target: Uint8Array,
  opts: CalibrationOptions = {},
): MetricValue[] {
  return brierPerClass(probs, target, opts, 'brierScorePerClass');
}

function brierPerClass(
  probs: Float32Array | Float64Array,
  target: Uint8Array,
  opts: CalibrationOptions,
  where: string,
): MetricValue[] {
  const { C, P } = check(probs, target, opts, where);
  const mask = opts.mask;
  const sums = new Float64Array(C);
  let n = 0;
  for (let p = 0; p < P; p++) {
    if (mask !== undefined && mask[p] === 0) continue;
    for (let c = 0; c < C; c++) {
      const d = probs[c * P + p] - (target[p] === c ? 1 : 0);
      sums[c] += d * d;
    }
    n++;
  }
  return Array.from(sums, (s): MetricValue => (n === 0 ? { value: NaN, reason: 'empty-input' } : { value: s / n }));
}
