import { describe, expect, it } from 'vitest';
import { entropy, UncertaintyAccumulator, type UncertaintyMaps } from '../src/uncertainty/index.js';
import { Rng } from '../src/util/index.js';

/** The maps of `samples`, each added to one accumulator. */
function uncertaintyMaps(samples: readonly Float32Array[], C = 4): UncertaintyMaps {
  const P = samples[0].length / C;
  return samples.reduce((acc, s) => acc.add(s), new UncertaintyAccumulator({ numClasses: C, numPixels: P })).result();
}

/** Random class-major softmax maps (C×P), float32. */
function randomSamples(rng: Rng, S: number, C: number, P: number): Float32Array[] {
  return Array.from({ length: S }, () => {
    const out = new Float32Array(C * P);
    for (let p = 0; p < P; p++) {
      const e = Array.from({ length: C }, () => Math.exp(2 * rng.normal()));
      const z = e.reduce((a, b) => a + b, 0);
      for (let c = 0; c < C; c++) out[c * P + p] = e[c] / z;
    }
    return out;
  });
}

describe('closed forms', () => {
  it('uniform over C classes → entropy ln C, MI 0', () => {
    for (const C of [2, 4, 7]) {
      const u = new Float32Array(C * 3).fill(1 / C);
      for (const h of entropy(u, C)) expect(h).toBeCloseTo(Math.log(C), 6);
      const m = uncertaintyMaps([u, u], C);
      for (const v of m.predictiveEntropy) expect(v).toBeCloseTo(Math.log(C), 6);
      for (const v of m.mutualInformation) expect(v).toBe(0);
    }
  });

  it('one-hot → entropy 0 (0·ln 0 = 0)', () => {
    expect([...entropy(Float32Array.from([1, 0, 0, 1]), 2)]).toEqual([0, 0]);
  });

  it('identical samples → MI = 0, predictive entropy = expected entropy, variance 0', () => {
    const [s] = randomSamples(new Rng(3), 1, 4, 50);
    const m = uncertaintyMaps([s, s, s, s], 4);
    expect([...m.mutualInformation].every((v) => v === 0)).toBe(true);
    expect([...m.predictiveEntropy]).toEqual([...m.expectedEntropy]);
    expect([...m.variance].every((v) => v === 0)).toBe(true);
    expect([...m.mean]).toEqual([...s]);
  });

  it('two one-hot samples that disagree → MI = ln 2, expected entropy 0, variance ¼', () => {
    const m = uncertaintyMaps([Float32Array.from([1, 0]), Float32Array.from([0, 1])], 2);
    expect(m.mutualInformation[0]).toBeCloseTo(Math.LN2, 6);
    expect(m.predictiveEntropy[0]).toBeCloseTo(Math.LN2, 6);
    expect(m.expectedEntropy[0]).toBe(0);
    expect([...m.variance]).toEqual([0.25, 0.25]);
    expect([...m.mean]).toEqual([0.5, 0.5]);
  });

  it('four classes, disagreeing one-hot samples on LV and MYO: MI = ln 2', () => {
    const a = Float32Array.from([0, 1, 0, 0]);
    const b = Float32Array.from([0, 0, 1, 0]);
    expect(uncertaintyMaps([a, b], 4).mutualInformation[0]).toBeCloseTo(Math.LN2, 6);
  });
});

describe('UncertaintyAccumulator', () => {
  const C = 4;
  const P = 200;
  const S = 7;
  const samples = randomSamples(new Rng(11), S, C, P);

  it('streaming equals the batch formulas (naive oracle over all samples at once)', () => {
    const acc = new UncertaintyAccumulator({ numClasses: C, numPixels: P });
    for (const s of samples) acc.add(s);
    expect(acc.samples).toBe(S);
    const m = acc.result();
    for (let p = 0; p < P; p++) {
      let pe = 0;
      let ee = 0;
      for (let c = 0; c < C; c++) {
        const xs = samples.map((s) => s[c * P + p]);
        const mean = xs.reduce((a, b) => a + b, 0) / S;
        const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / S;
        expect(m.mean[c * P + p]).toBeCloseTo(mean, 6);
        expect(m.variance[c * P + p]).toBeCloseTo(variance, 6);
        if (mean > 0) pe -= mean * Math.log(mean);
        for (const x of xs) if (x > 0) ee -= (x * Math.log(x)) / S;
      }
      expect(m.predictiveEntropy[p]).toBeCloseTo(pe, 6);
      expect(m.expectedEntropy[p]).toBeCloseTo(ee, 6);
      expect(m.mutualInformation[p]).toBeCloseTo(Math.max(0, pe - ee), 6);
      expect(m.mutualInformation[p]).toBeGreaterThanOrEqual(0);
    }
  });

  it('result() can be read midway and continued', () => {
    const acc = new UncertaintyAccumulator({ numClasses: C, numPixels: P });
    for (const s of samples.slice(0, 3)) acc.add(s);
    expect(acc.result()).toEqual(uncertaintyMaps(samples.slice(0, 3), C));
    for (const s of samples.slice(3)) acc.add(s);
    expect(acc.result()).toEqual(uncertaintyMaps(samples, C));
  });

  it('the sample order does not matter (to float32 rounding)', () => {
    const a = uncertaintyMaps(samples, C);
    const b = uncertaintyMaps([...samples].reverse(), C);
    for (let p = 0; p < P; p++) expect(b.mutualInformation[p]).toBeCloseTo(a.mutualInformation[p], 6);
  });

  it('BAD CALL - wrong length, non-finite, no sample, bad sizes', () => {
    const acc = new UncertaintyAccumulator({ numClasses: C, numPixels: P });
    expect(() => acc.add(new Float32Array(C * (P + 1)))).toThrow(/expected 4 × 200 = 800/);
    expect(() => acc.add(new Float32Array(C * P).fill(NaN))).toThrow(/probs\[0\] = NaN is not finite/);
    expect(() => acc.result()).toThrow(/no sample was added/);
    expect(() => new UncertaintyAccumulator({ numPixels: 0 })).toThrow(/numPixels/);
    expect(() => entropy(new Float32Array(5), 4)).toThrow(/not a positive multiple/);
  });
});
