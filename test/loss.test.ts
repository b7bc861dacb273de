import { describe, expect, it } from 'vitest';
import { noGrad, randn, randint, tensor, tidy, type Tensor } from '../src/engine/index.js';
import { marginalCrossEntropy, segmentationLoss, softDiceLoss } from '../src/models/index.js';

const S = 1e-5;
const L2 = Math.log(2);

/**
 * One sample, 3 classes, 1×2 pixels. Pixel 0: logits (0, 0, 0), target 0 → p = (1/3, 1/3, 1/3).
 * Pixel 1: logits (0, ln 2, 0), target 1 → p = (1/4, 1/2, 1/4).
 */
function tiny(dtype: 'float32' | 'float64' = 'float64'): { logits: Tensor; target: Tensor } {
  const logits = tensor([0, 0, 0, L2, 0, 0], [1, 3, 1, 2], { dtype }); // layout C×H×W: class-major
  const target = tensor([0, 1], [1, 1, 2], { dtype: 'int64' });
  return { logits, target };
}

// Hand-computed from the probabilities above.
const CE_ALL = (Math.log(3) + Math.log(2)) / 2; // −ln(1/3), −ln(1/2)
const CE_NO2 = (Math.log(3 / 2) + Math.log(2)) / 2; // background merged with class 2: p = 1/3 + 1/3
const DICE1 = (2 * 0.5 + S) / (1 / 3 + 1 / 2 + 1 + S); // class 1: Σpg = 1/2, Σp = 5/6, Σg = 1
const DICE2 = S / (1 / 3 + 1 / 4 + S); // class 2 absent from the target

describe('marginalCrossEntropy', () => {
  it('equals ordinary cross-entropy when all classes are labelled', () => {
    const { logits, target } = tiny();
    expect(marginalCrossEntropy(logits, target).item()).toBeCloseTo(CE_ALL, 12);
    expect(marginalCrossEntropy(logits, target, tensor([[1, 1, 1]])).item()).toBeCloseTo(CE_ALL, 12);
  });

  it('merges an unlabelled class into background', () => {
    const { logits, target } = tiny();
    expect(marginalCrossEntropy(logits, target, tensor([[1, 1, 0]])).item()).toBeCloseTo(CE_NO2, 12);
    // background's own flag is ignored: it is always labelled
    expect(marginalCrossEntropy(logits, target, tensor([[0, 1, 0]])).item()).toBeCloseTo(CE_NO2, 12);
  });

  it('rejects a target pixel of a class its sample does not label', () => {
    const { logits, target } = tiny();
    expect(() => marginalCrossEntropy(logits, target, tensor([[1, 0, 1]]))).toThrow(/marks as unlabelled/);
  });

  it('names both shapes on a mismatch', () => {
    const { logits } = tiny();
    expect(() => marginalCrossEntropy(logits, tensor([0, 1, 1], [1, 1, 3], { dtype: 'int64' }))).toThrow(
      /\[1, 3, 1, 2\] and \[1, 1, 3\]/,
    );
    expect(() => marginalCrossEntropy(logits, tensor([0, 1], [1, 1, 2]))).toThrow(/int64/);
    expect(() => marginalCrossEntropy(logits, tiny().target, tensor([[1, 1]]))).toThrow(/labelled must be N×C/);
  });
});

describe('softDiceLoss', () => {
  it('averages per-class Dice over foreground classes', () => {
    const { logits, target } = tiny();
    expect(softDiceLoss(logits, target).item()).toBeCloseTo(1 - (DICE1 + DICE2) / 2, 12);
  });

  it('leaves unlabelled classes out of the mean, per sample', () => {
    const { logits, target } = tiny();
    expect(softDiceLoss(logits, target, tensor([[1, 1, 0]])).item()).toBeCloseTo(1 - DICE1, 12);
    // Two copies of the sample, the second without class 2: mean over 3 (sample, class) pairs.
    const l2 = logits.expand([2, 3, 1, 2]).contiguous();
    const t2 = target.expand([2, 1, 2]).contiguous();
    expect(softDiceLoss(l2, t2, tensor([[1, 1, 1], [1, 1, 0]])).item()).toBeCloseTo(1 - (2 * DICE1 + DICE2) / 3, 12);
    expect(() => softDiceLoss(logits, target, tensor([[1, 0, 0]]))).toThrow(/no sample labels/);
  });

  it('is ~0 for a confident perfect prediction', () => {
    const target = tensor([0, 1, 2, 1], [1, 2, 2], { dtype: 'int64' });
    const logits = target.oneHot(3).permute([0, 3, 1, 2]).to('float64').mul(40);
    expect(softDiceLoss(logits, target).item()).toBeLessThan(1e-12);
  });
});

describe('segmentationLoss', () => {
  it('weights the two terms', () => {
    const { logits, target } = tiny();
    const labelled = tensor([[1, 1, 0]]);
    expect(segmentationLoss(logits, target, { labelled }).item()).toBeCloseTo(CE_NO2 + 1 - DICE1, 12);
    expect(segmentationLoss(logits, target, { ceWeight: 2, diceWeight: 0.5 }).item()).toBeCloseTo(
      2 * CE_ALL + 0.5 * (1 - (DICE1 + DICE2) / 2),
      12,
    );
    expect(() => segmentationLoss(logits, target, { ceWeight: 0, diceWeight: 0 })).toThrow(/not both 0/);
  });

  it('shardOf: the shards\' losses and gradients add up to the whole batch\'s (float64)', () => {
    const [n, c] = [5, 4];
    const data = randn([n, c, 3, 4], { dtype: 'float64' }).toArray() as Float64Array;
    const target = randint(0, 3, [n, 3, 4]);
    const mask = [1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0]; // classes 0–2 present, class 3 labelled in 2 samples
    const labelled = tensor(mask, [n, c]);
    const pairs = mask.filter((v, i) => i % c > 0 && v === 1).length;
    const gradOf = (x: Tensor, t: Tensor, l: Tensor, shardOf?: { samples: number; labelledPairs: number }) => {
      const loss = tidy(() => segmentationLoss(x, t, { labelled: l, shardOf }));
      loss.backward();
      return loss.item();
    };
    const whole = tensor(data, [n, c, 3, 4]).requiresGrad_();
    const wholeLoss = gradOf(whole, target, labelled);
    const wholeGrad = whole.grad!.toArray() as Float64Array;
    const plane = c * 12;
    let sum = 0;
    const grads: number[] = [];
    for (const [lo, hi] of [[0, 2], [2, 5]]) {
      const x = tensor(data.slice(lo * plane, hi * plane), [hi - lo, c, 3, 4]).requiresGrad_();
      sum += gradOf(x, target.narrow(0, lo, hi - lo), labelled.narrow(0, lo, hi - lo), { samples: n, labelledPairs: pairs });
      grads.push(...(x.grad!.toArray() as Float64Array));
    }
    expect(sum).toBeCloseTo(wholeLoss, 12);
    expect(Math.max(...grads.map((g, i) => Math.abs(g - wholeGrad[i])))).toBeLessThan(1e-14);
    expect(() => segmentationLoss(whole, target, { labelled, shardOf: { samples: 4, labelledPairs: pairs } })).toThrow(
      /shardOf.samples must be an integer ≥ the shard's 5 samples, got 4/,
    );
  });

  it('has the gradient of central finite differences (float64)', () => {
    const n = 2;
    const c = 3;
    const logitsData = randn([n, c, 3, 4], { dtype: 'float64' }).toArray() as Float64Array;
    const target = randint(0, 2, [n, 3, 4]); // classes 0 and 1 only, so class 2 may be unlabelled
    const labelled = tensor([[1, 1, 1], [1, 1, 0]]);
    const loss = (data: Float64Array) =>
      noGrad(() => tidy(() => segmentationLoss(tensor(data, [n, c, 3, 4]), target, { labelled }).item()));
    const x = tensor(logitsData, [n, c, 3, 4]).requiresGrad_();
    tidy(() => segmentationLoss(x, target, { labelled })).backward();
    const grad = x.grad!.toArray() as Float64Array;
    const eps = 1e-6;
    let maxErr = 0;
    for (let i = 0; i < logitsData.length; i++) {
      const plus = logitsData.slice();
      const minus = logitsData.slice();
      plus[i] += eps;
      minus[i] -= eps;
      const fd = (loss(plus) - loss(minus)) / (2 * eps);
      maxErr = Math.max(maxErr, Math.abs(fd - grad[i]));
    }
    expect(maxErr).toBeLessThan(1e-8);
    expect(Math.max(...grad.map(Math.abs))).toBeGreaterThan(1e-3);
  });
});
