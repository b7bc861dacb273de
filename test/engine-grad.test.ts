/**
 * Gradients of every differentiable op against central finite differences in float64
 * (test/helpers/gradcheck.ts: ε = 1e-6, tolerance 1e-6 absolute + relative), and the
 * FlatParameters path where backward accumulates into one flat gradient buffer.
 */
import { describe, expect, it } from 'vitest';
import {
  avgPool2d,
  batchNorm,
  cat,
  conv2d,
  convTranspose2d,
  crossEntropy,
  dropout,
  FlatParameters,
  Generator,
  groupNorm,
  instanceNorm,
  interpolate,
  isGradEnabled,
  maxPool2d,
  noGrad,
  stack,
  ones,
  tensor,
  tidy,
  where,
  type Tensor,
} from '../src/engine/index.js';
import { Rng } from '../src/util/index.js';
import { values } from './helpers/close.js';
import { gradcheck } from './helpers/gradcheck.js';

let seed = 1;
/** A float64 tensor of uniform values in [lo, hi), different for each call. */
function rnd(shape: number[], lo = -1, hi = 1): Tensor {
  const rng = new Rng(seed++);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float64Array.from({ length: n }, () => rng.range(lo, hi)), shape, { dtype: 'float64' });
}
const long = (data: number[], shape?: number[]) => tensor(data, shape, { dtype: 'int64' });

function check(name: string, fn: (...xs: Tensor[]) => Tensor, inputs: () => Tensor[], wrt?: number[]): void {
  it(name, () => {
    tidy(() => expect(gradcheck(fn, inputs(), { wrt })).toEqual([]));
  });
}

describe('gradcheck itself', () => {
  it('reports a wrong gradient (x·detach(x) has analytic x, true 2x)', () => {
    tidy(() => {
      const problems = gradcheck((x) => x.mul(x.detach()), [rnd([3], 0.5, 1)]);
      expect(problems).toHaveLength(3);
      expect(problems[0]).toMatch(/^input 0 element 0: analytic/);
    });
  });

  it('reports an input the output does not depend on', () => {
    tidy(() => expect(gradcheck((x, y) => x.mul(2), [rnd([2]), rnd([2])])).toEqual([
      'input 1: backward left no gradient',
    ]));
  });
});

describe('autograd modes and graph handling', () => {
  it('noGrad stops recording and restores the previous mode, also nested and after a throw', () => {
    const w = ones([2]).requiresGrad_();
    expect([w.requiresGrad, isGradEnabled()]).toEqual([true, true]);
    const [off, inner] = noGrad(() => [w.mul(2), noGrad(() => isGradEnabled()), isGradEnabled()]);
    expect([off.requiresGrad, inner]).toEqual([false, false]);
    expect(isGradEnabled()).toBe(true);
    expect(() => noGrad(() => {
      throw new Error('inside');
    })).toThrow('inside');
    expect(isGradEnabled()).toBe(true);
  });

  it('detach cuts the graph; backward takes a gradient for non-scalars; retainGraph allows a second pass', () => {
    const w = tensor([1, 2, 3], undefined, { dtype: 'float64' }).requiresGrad_();
    expect(w.mul(2).detach().requiresGrad).toBe(false);
    const y = w.mul(w); // dy/dw = 2w
    y.backward(tensor([1, 0.5, -1], undefined, { dtype: 'float64' }), true);
    expect(values(w.grad as Tensor)).toEqual([2, 2, -6]);
    y.sum().backward(); // accumulates 2w
    expect(values(w.grad as Tensor)).toEqual([4, 6, 0]);
    expect(() => y.sum().backward()).toThrow(/^backward failed for inputs \[\] Double: Trying to backward through the graph a second time/);
    w.setGrad(undefined);
    expect(w.grad).toBeUndefined();
    w.requiresGrad_(false);
    expect(w.requiresGrad).toBe(false);
  });
});

describe('elementwise', () => {
  check('add/sub/mul/div with broadcasting and numbers', (a, b) => a.add(b, 0.5).mul(b.sub(a)).div(b.add(3)).add(2).mul(1.5), () => [rnd([2, 3]), rnd([3])]);
  check('pow with a number and a tensor exponent', (a, b) => a.pow(3).add(a.pow(b)), () => [rnd([4], 0.5, 2), rnd([4])]);
  check('exp, log, log1p, sqrt, square', (a) => a.exp().add(a.log()).add(a.log1p()).add(a.sqrt()).add(a.square()), () => [rnd([5], 0.2, 2)]);
  check('sigmoid, tanh, neg, abs', (a) => a.sigmoid().add(a.tanh()).add(a.neg().abs()), () => [rnd([6], -2, 2)]);
  check('clamp, relu, leakyRelu', (a) => a.clamp(-0.5, 0.5).add(a.relu()).add(a.leakyRelu(0.1)), () => [rnd([8], -1, 1)]);
  check('gelu exact and tanh', (a) => a.gelu().add(a.gelu('tanh')), () => [rnd([6], -2, 2)]);
  check('maximum, minimum', (a, b) => a.maximum(b).add(a.minimum(b).mul(3)), () => [rnd([6]), rnd([6])]);
  check('where', (a, b) => where(a.gt(0), a.mul(b), b.exp()), () => [rnd([6]), rnd([6])]);
});

describe('reductions', () => {
  check('sum and mean over dims with keepdim', (a) => a.sum(1, true).mul(a.mean(0)).add(a.sum().mul(a.mean([0, 1]))), () => [rnd([3, 4])]);
  check('std and var (unbiased and biased)', (a) => a.std(1).add(a.var(0).sum()).add(a.std(undefined, false, false)), () => [rnd([3, 4])]);
  check('max and min over a dim and overall', (a) => a.max(1).add(a.min(1, true).squeeze(1)).add(a.max()), () => [rnd([3, 4])]);
  check('logsumexp', (a) => a.logsumexp(1).add(a.logsumexp([0, 1], true).squeeze()), () => [rnd([3, 4], -3, 3)]);
  check('softmax', (a) => a.softmax(1), () => [rnd([2, 4], -2, 2)]);
  check('logSoftmax', (a) => a.logSoftmax(0), () => [rnd([3, 2], -2, 2)]);
});

describe('matmul', () => {
  check('matrix × matrix', (a, b) => a.matmul(b), () => [rnd([2, 3]), rnd([3, 4])]);
  check('batched with broadcasting', (a, b) => a.matmul(b), () => [rnd([2, 2, 3]), rnd([3, 2])]);
  check('matrix × vector', (a, b) => a.matmul(b), () => [rnd([2, 3]), rnd([3])]);
});

describe('shapes and indexing', () => {
  check('reshape, permute, transpose, contiguous', (a) => a.reshape([3, 2, 2]).permute([2, 0, 1]).transpose(0, 2).contiguous().mul(a.transpose(0, 1).reshape([2, 3, 2])), () => [rnd([2, 6])]);
  check('slice with step, narrow, flip, expand', (a) => a.slice(1, 0, 4, 2).mul(a.narrow(1, 1, 2).flip(0)).add(a.narrow(0, 0, 1).expand([3, 4]).narrow(1, 0, 2)), () => [rnd([3, 4])]);
  check('squeeze, unsqueeze', (a) => a.unsqueeze(1).mul(a.unsqueeze(0)).squeeze(), () => [rnd([3])]);
  check('pad constant', (a) => a.pad([1, 2, 0, 1], 'constant', 0.5), () => [rnd([1, 2, 2, 3])]);
  check('pad reflect', (a) => a.pad([2, 1, 1, 1], 'reflect'), () => [rnd([1, 1, 3, 4])]);
  check('pad replicate', (a) => a.pad([1, 2, 2, 0], 'replicate'), () => [rnd([1, 2, 2, 3])]);
  check('indexSelect (repeated indices accumulate)', (a) => a.indexSelect(0, long([2, 0, 2])), () => [rnd([3, 2])]);
  check('gather', (a) => a.gather(1, long([0, 0, 2, 1, 3, 3], [2, 3])), () => [rnd([2, 4])]);
  check('cat and stack', (a, b) => cat([a, b], 1).mul(stack([a.sum(1), b.sum(1)], 1).sum(1, true)), () => [rnd([2, 2]), rnd([2, 3])]);
});

describe('nn ops', () => {
  check('conv2d with bias, stride, padding, dilation', (x, w, b) => conv2d(x, w, b, { stride: [2, 1], padding: 1, dilation: [1, 2] }), () => [rnd([1, 2, 5, 5]), rnd([3, 2, 3, 2]), rnd([3])]);
  check('conv2d groups', (x, w) => conv2d(x, w, undefined, { groups: 2 }), () => [rnd([1, 4, 3, 3]), rnd([2, 2, 2, 2])]);
  check('convTranspose2d with stride, padding, outputPadding', (x, w, b) => convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), () => [rnd([1, 2, 3, 3]), rnd([2, 2, 3, 3]), rnd([2])]);
  check('maxPool2d', (x) => maxPool2d(x, 2, { stride: 1, padding: 1 }), () => [rnd([1, 2, 4, 4])]);
  check('maxPool2d ceil mode', (x) => maxPool2d(x, 2, { ceilMode: true }), () => [rnd([1, 1, 5, 5])]);
  check('avgPool2d with padding, counting and not counting it', (x) => avgPool2d(x, 3, { stride: 2, padding: 1 }).add(avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false })), () => [rnd([1, 2, 5, 5])]);
  check('interpolate bilinear', (x) => interpolate(x, [5, 7], 'bilinear'), () => [rnd([1, 2, 3, 4])]);
  check('interpolate bilinear align corners, downsampling', (x) => interpolate(x, [3, 2], 'bilinear', true), () => [rnd([1, 1, 5, 4])]);
  check('interpolate nearest', (x) => interpolate(x, [5, 3], 'nearest'), () => [rnd([1, 1, 3, 2])]);
  check('batchNorm training (x, weight, bias)', (x, w, b) => batchNorm(x, { training: true, weight: w, bias: b, runningMean: tensor([0, 0], undefined, { dtype: 'float64' }), runningVar: tensor([1, 1], undefined, { dtype: 'float64' }) }), () => [rnd([3, 2, 2, 2]), rnd([2], 0.5, 1.5), rnd([2])]);
  check('batchNorm eval (x, weight; running statistics are not differentiable)', (x, w, m, v) => batchNorm(x, { training: false, weight: w, runningMean: m, runningVar: v }), () => [rnd([2, 2, 2, 1]), rnd([2]), rnd([2]), rnd([2], 0.5, 2)], [0, 1]);
  check('groupNorm', (x, w, b) => groupNorm(x, 2, { weight: w, bias: b }), () => [rnd([2, 4, 2, 2]), rnd([4]), rnd([4])]);
  check('instanceNorm', (x, w, b) => instanceNorm(x, { weight: w, bias: b }), () => [rnd([2, 2, 3, 2]), rnd([2]), rnd([2])]);
  check('crossEntropy with weights and ignoreIndex', (z) => crossEntropy(z, long([0, 2, 1, 2, 3]), { weight: tensor([0.5, 1, 2, 0.25], undefined, { dtype: 'float64' }), ignoreIndex: 2 }), () => [rnd([5, 4], -2, 2)]);
  check('crossEntropy 2-D, sum and none reductions', (z) => crossEntropy(z, long([0, 1, 2, 255, 1, 0, 0, 2], [2, 2, 2]), { ignoreIndex: 255, reduction: 'none' }).add(crossEntropy(z, long([0, 1, 2, 1, 1, 0, 0, 2], [2, 2, 2]), { reduction: 'sum' })), () => [rnd([2, 3, 2, 2], -2, 2)]);
  check('crossEntropy with label smoothing', (z) => crossEntropy(z, long([1, 0, 2]), { labelSmoothing: 0.2 }), () => [rnd([3, 3], -2, 2)]);
  check('dropout (fixed mask, scaled by 1/(1−p))', (x) => dropout(x, 0.4, true, new Generator(4)), () => [rnd([10])]);
});

describe('FlatParameters', () => {
  const specs = [
    { name: 'w', shape: [3, 2] },
    { name: 'b', shape: [3] },
  ];
  const x = () => tensor([0.5, -1, 2, 0.25], [2, 2], { dtype: 'float64' });
  const y = () => long([2, 0]);
  const loss = (fp: FlatParameters) => crossEntropy(x().matmul(fp.get('w').transpose(0, 1)).add(fp.get('b')), y());

  it('parameters are views of flat and backward lands in flatGrad', () => {
    const fp = new FlatParameters(specs, { dtype: 'float64' });
    try {
      const init = Float64Array.from([0.3, -0.2, 0.1, 0.4, -0.5, 0.2, 0.05, -0.1, 0.15]);
      noGrad(() => fp.flat.copy_(tensor(init)));
      expect(values(fp.get('b'))).toEqual([0.05, -0.1, 0.15]);
      expect(fp.get('w').sharesStorageWith(fp.flat)).toBe(true);
      expect(fp.slots.map((s) => [s.name, s.offset, s.numel])).toEqual([
        ['w', 0, 6],
        ['b', 6, 3],
      ]);
      tidy(() => loss(fp).backward());
      const analytic = values(fp.flatGrad);
      const grads = tidy(() => [fp.get('w').grad, fp.get('b').grad].map((g) => values(g as Tensor)));
      expect(grads.flat()).toEqual(analytic);

      // the same gradient by central differences on the flat buffer
      const eps = 1e-6;
      const numeric = Array.from(init, (_, k) => {
        const at = (d: number) => {
          const p = Float64Array.from(init);
          p[k] += d;
          return noGrad(() => tidy(() => (fp.flat.copy_(tensor(p)), loss(fp).item())));
        };
        return (at(eps) - at(-eps)) / (2 * eps);
      });
      numeric.forEach((n, k) => expect(Math.abs(analytic[k] - n)).toBeLessThan(1e-6 + 1e-6 * Math.abs(n)));
      expect(numeric.some((n) => Math.abs(n) > 0.01)).toBe(true);

      // backward accumulates; zeroGrad resets; an in-place step on flat moves the parameters
      noGrad(() => fp.flat.copy_(tensor(init)));
      tidy(() => loss(fp).backward());
      values(fp.flatGrad).forEach((g, k) => expect(g).toBeCloseTo(2 * analytic[k], 12));
      fp.zeroGrad();
      expect(values(fp.flatGrad).every((g) => g === 0)).toBe(true);
      tidy(() => loss(fp).backward());
      const before = tidy(() => loss(fp).item());
      fp.flat.add_(fp.flatGrad, -0.1);
      expect(values(fp.get('w'))).toEqual(Array.from(init.subarray(0, 6), (v, k) => v - 0.1 * analytic[k]));
      expect(tidy(() => loss(fp).item())).toBeLessThan(before);
    } finally {
      fp.dispose();
    }
  });
});
