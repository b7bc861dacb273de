import { describe, expect, it } from 'vitest';
import {
  argmax,
  brierScore,
  brierScorePerClass,
  calibrationError,
  calibrationRoi,
  negativeLogLikelihood,
} from '../src/metrics/index.js';

// Two classes, four pixels; class-major probs[c*P + p].
// p0 = [0.9, 0.6, 0.3, 0.2] → confidences 0.9 (pred 0), 0.6 (0), 0.7 (1), 0.8 (1)
const probs = Float64Array.from([0.9, 0.6, 0.3, 0.2, 0.1, 0.4, 0.7, 0.8]);
const target = Uint8Array.from([0, 1, 1, 0]); // correct: yes, no, yes, no
const opts = { numClasses: 2 };

describe('calibrationError', () => {
  it.each([
    // [bins, ECE, MCE]: 10 bins → one pixel per bin, gaps 0.1, 0.6, 0.3, 0.8
    [10, (0.1 + 0.6 + 0.3 + 0.8) / 4, 0.8],
    // 2 bins → all in (0.5, 1]: accuracy 0.5, mean confidence 0.75
    [2, 0.25, 0.25],
  ])('%d bins: ECE %f, MCE %f', (bins, ece, mce) => {
    const r = calibrationError(probs, target, { ...opts, bins });
    expect(r.ece.value).toBeCloseTo(ece, 12);
    expect(r.mce.value).toBeCloseTo(mce, 12);
    expect(r.n).toBe(4);
  });

  it('reliability diagram per bin: count, mean confidence, accuracy; NaN for empty bins', () => {
    const r = calibrationError(probs, target, { ...opts, bins: 10 }).reliability;
    expect([...r.count]).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 0]);
    expect(r.meanConfidence[8]).toBeCloseTo(0.9, 12);
    expect(r.accuracy[8]).toBe(1);
    expect(r.accuracy[7]).toBe(0);
    expect(r.meanConfidence[0]).toBeNaN();
    expect(r.edges[0]).toBe(0);
    expect(r.edges[10]).toBe(1);
  });

  it('default 15 bins; the mask restricts the pixels; an empty mask gives NaN empty-input', () => {
    expect(calibrationError(probs, target, opts).reliability.count).toHaveLength(15);
    const masked = calibrationError(probs, target, { ...opts, bins: 10, mask: Uint8Array.from([1, 1, 0, 0]) });
    expect(masked.ece.value).toBeCloseTo(0.35, 12);
    expect(masked.n).toBe(2);
    const none = calibrationError(probs, target, { ...opts, mask: new Uint8Array(4) });
    expect(none.ece).toEqual({ value: NaN, reason: 'empty-input' });
  });

  it('scores a given prediction instead of the arg-max: confidence p_prediction, correct prediction = target', () => {
    // Predict [1, 1, 0, 0]: confidences 0.1, 0.4, 0.3, 0.2 (bins of 10: 0, 3, 2, 1); correct: no, yes, no, yes.
    const r = calibrationError(probs, target, { ...opts, bins: 10, prediction: Uint8Array.from([1, 1, 0, 0]) });
    expect([...r.reliability.count]).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(r.ece.value).toBeCloseTo((0.1 + 0.8 + 0.3 + 0.6) / 4, 12);
    // The arg-max as prediction is the default.
    expect(calibrationError(probs, target, { ...opts, prediction: argmax(probs, 2) })).toEqual(calibrationError(probs, target, opts));
  });

  it('BAD CALL - a prediction of the wrong length or outside the classes', () => {
    expect(() => calibrationError(probs, target, { ...opts, prediction: new Uint8Array(3) })).toThrow(/prediction has 3 values, probs hold 4 pixels/);
    expect(() => calibrationError(probs, target, { ...opts, prediction: Uint8Array.from([0, 2, 0, 0]) })).toThrow(/prediction 2 at pixel 1 is not a class \(0..1\)/);
  });

  it('a perfectly calibrated one-hot prediction has ECE 0', () => {
    const oneHot = Float32Array.from([1, 0, 0, 1]);
    expect(calibrationError(oneHot, Uint8Array.from([0, 1]), opts).ece.value).toBe(0);
  });
});

describe('negativeLogLikelihood and Brier', () => {
  it('NLL is the mean of −ln p_true', () => {
    const expected = -(Math.log(0.9) + Math.log(0.4) + Math.log(0.7) + Math.log(0.2)) / 4;
    expect(negativeLogLikelihood(probs, target, opts).value).toBeCloseTo(expected, 12);
  });

  it('NLL clamps p_true = 0 at eps', () => {
    const p = Float64Array.from([1, 0]);
    expect(negativeLogLikelihood(p, Uint8Array.from([1]), opts).value).toBeCloseTo(-Math.log(1e-12), 9);
    expect(negativeLogLikelihood(p, Uint8Array.from([1]), { ...opts, eps: 1e-3 }).value).toBeCloseTo(-Math.log(1e-3), 12);
  });

  it('multi-class Brier = mean Σ_c (p_c − y_c)²; per class is one-vs-rest and sums to it', () => {
    // two classes: Σ_c = 2 (1 − p_true)²; (1 − p_true)² = 0.01, 0.36, 0.09, 0.64
    expect(brierScore(probs, target, opts).value).toBeCloseTo(0.55, 12);
    const per = brierScorePerClass(probs, target, opts).map((m) => m.value);
    expect(per[0]).toBeCloseTo(0.275, 12);
    expect(per[1]).toBeCloseTo(0.275, 12);
  });

  it('three classes by hand', () => {
    // one pixel, p = [0.5, 0.3, 0.2], y = 1: 0.25 + 0.49 + 0.04
    const p = Float64Array.from([0.5, 0.3, 0.2]);
    expect(brierScore(p, Uint8Array.from([1]), { numClasses: 3 }).value).toBeCloseTo(0.78, 12);
  });

  it('BAD CALL - probs length, non-finite values, labels', () => {
    expect(() => brierScore(new Float32Array(3), Uint8Array.from([0]), opts)).toThrow(/brierScore: probs has 3 values/);
    expect(() => negativeLogLikelihood(Float32Array.from([NaN, 1]), Uint8Array.from([0]), opts)).toThrow(/probs\[0\] = NaN/);
    expect(() => calibrationError(probs, Uint8Array.from([0, 1, 2, 0]), opts)).toThrow(/target\[2\] = 2/);
    expect(() => calibrationError(probs, target, { ...opts, bins: 0 })).toThrow(/bins/);
  });
});

describe('argmax and calibrationRoi', () => {
  it('argmax takes the lowest class on ties', () => {
    expect([...argmax(Float32Array.from([0.5, 0.2, 0.5, 0.8]), 2)]).toEqual([0, 1]);
  });

  it('dilates the foreground of target ∪ prediction by a Euclidean margin, per slice', () => {
    const n = 7 * 7;
    const t = new Uint8Array(2 * n);
    const p = new Uint8Array(2 * n);
    t[3 + 7 * 3] = 1; // slice 0: target pixel at the centre
    p[n + 0] = 2; // slice 1: predicted pixel at the corner
    const r1 = calibrationRoi(t, p, { dims: [7, 7, 2], margin: 1 });
    const count = (a: Uint8Array, z: number) => a.subarray(z * n, (z + 1) * n).reduce((s, v) => s + v, 0);
    expect(count(r1, 0)).toBe(5); // a cross
    expect(count(r1, 1)).toBe(3); // corner, right, below
    const r15 = calibrationRoi(t, p, { dims: [7, 7, 2], margin: 1.5 });
    expect(count(r15, 0)).toBe(9); // diagonals at √2
    expect(count(calibrationRoi(t, p, { dims: [7, 7, 2], margin: 0 }), 0)).toBe(1);
    expect(calibrationRoi(new Uint8Array(n), new Uint8Array(n), { dims: [7, 7] }).every((v) => v === 0)).toBe(true);
  });

  it('BAD CALL - dims that do not match', () => {
    expect(() => calibrationRoi(new Uint8Array(4), new Uint8Array(4), { dims: [3, 3] })).toThrow(/calibrationRoi: dims/);
  });
});
