import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { full, liveTensors, randint, tensor, tidy, zeros, Generator, type Tensor } from '../src/engine/index.js';
import { chain, clipByGlobalNorm, cosine, cycleLayout, sghmc, type SGHMC, type SGHMCState } from '../src/bayes/index.js';
import { Rng } from '../src/util/index.js';

interface TorchCase {
  options: Record<string, number | boolean>;
  theta0: number[];
  grads: number[][];
  params: number[][];
}
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('./fixtures/sgd_reference.json', import.meta.url)), 'utf8')) as {
  steps: number;
  cases: Record<'constant' | 'cosine', TorchCase>;
};

/** Feeds the fixture's gradients to `step` and returns the largest deviation from torch's parameters. */
function maxDeviation(c: TorchCase, run: (params: Tensor) => (grads: Tensor) => void): number {
  const params = tensor(Float64Array.from(c.theta0));
  const step = run(params);
  let worst = 0;
  c.grads.forEach((g, k) => {
    step(tensor(Float64Array.from(g)));
    const got = params.toArray() as Float64Array;
    c.params[k].forEach((want, i) => (worst = Math.max(worst, Math.abs(got[i] - want))));
  });
  return worst;
}

/** Mean and covariance of the rows of an [n, d] float tensor. */
function moments(t: Tensor): { mean: number[]; cov: number[][] } {
  const [n, d] = t.shape;
  const x = t.toArray() as Float32Array;
  const mean = Array.from({ length: d }, (_, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i * d + j];
    return s / n;
  });
  const cov = mean.map((_, a) =>
    mean.map((__, b) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += (x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b]);
      return s / (n - 1);
    }),
  );
  return { mean, cov };
}

/**
 * Checks sample moments of n independent draws against a Gaussian (m, S): each mean within 4
 * standard errors, each covariance entry within 4 standard errors plus `bias` · sqrt(S_aa S_bb)
 * (the O(η) discretisation and mini-batch bias of the sampler).
 */
function expectGaussian(got: { mean: number[]; cov: number[][] }, m: number[], S: number[][], n: number, bias: number): void {
  m.forEach((mi, a) => expect(Math.abs(got.mean[a] - mi)).toBeLessThan(4 * Math.sqrt(S[a][a] / n)));
  S.forEach((row, a) =>
    row.forEach((s, b) => {
      const se = Math.sqrt((S[a][a] * S[b][b] + s * s) / n);
      expect(Math.abs(got.cov[a][b] - s)).toBeLessThan(4 * se + bias * Math.sqrt(S[a][a] * S[b][b]));
    }),
  );
}

const inv2 = (A: number[][]): number[][] => {
  const det = A[0][0] * A[1][1] - A[0][1] * A[1][0];
  return [
    [A[1][1] / det, -A[0][1] / det],
    [-A[1][0] / det, A[0][0] / det],
  ];
};

describe('sghmc with T = 0 is torch.optim.SGD (fixture: test/fixtures/sgd_reference.py)', () => {
  it('sghmc(T = 0) = SGD(lr, momentum, weight_decay = 1/(N σ²)) step for step with a constant lr', () => {
    const c = fixture.cases.constant;
    const o = c.options as { lr: number; momentum: number; numData: number; priorStd: number; weightDecay: number };
    expect(o.weightDecay).toBeCloseTo(1 / (o.numData * o.priorStd ** 2), 15);
    const sampler = sghmc({ lr: o.lr, momentum: o.momentum, temperature: 0, numData: o.numData, priorStd: o.priorStd });
    const dev = maxDeviation(c, (params) => {
      let st = sampler.init(params, { seed: 1 });
      return (g) => (st = sampler.update(st, g));
    });
    expect(dev).toBeLessThan(1e-13);
  });

  it("with a cosine lr: torch's step is sghmc's with momentum μ·η_k/η_(k−1); the first step is the same", () => {
    const c = fixture.cases.cosine;
    const o = c.options as { lrInit: number; decaySteps: number; momentum: number; weightDecay: number };
    const lr = cosine({ init: o.lrInit, decaySteps: o.decaySteps });
    // weight decay 1/(N σ²) = 0.01 with N = 100, σ = 1.
    const sampler = sghmc({ lr, momentum: o.momentum, temperature: 0, numData: 100, priorStd: 1 });
    const params = tensor(Float64Array.from(c.theta0));
    let st = sampler.init(params);
    const ours: number[][] = [];
    for (const g of c.grads) {
      st = sampler.update(st, tensor(Float64Array.from(g)));
      ours.push(Array.from(params.toArray() as Float64Array));
    }
    const deviation = (k: number) => Math.max(...ours[k].map((x, i) => Math.abs(x - c.params[k][i])));
    expect(deviation(0)).toBeLessThan(1e-15);
    expect(deviation(c.grads.length - 1)).toBeGreaterThan(1e-3);
    // The same recurrence, v ← μ_k·v − η_k·(g_k + wd·θ_k), θ ← θ + v, with μ_k = μ·η_k/η_(k−1),
    // reproduces torch's trajectory (its b ← μ·b + g + wd·θ, θ ← θ − η·b), and with μ_k = μ ours.
    const replay = (muAt: (k: number) => number) => {
      const theta = [...c.theta0];
      const v = theta.map(() => 0);
      return c.grads.map((g, k) => {
        theta.forEach((t, i) => {
          v[i] = muAt(k) * v[i] - lr(k) * (g[i] + o.weightDecay * t);
          theta[i] += v[i];
        });
        return [...theta];
      });
    };
    const worst = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, k) => row.map((x, i) => Math.abs(x - b[k][i]))));
    expect(worst(replay((k) => (k === 0 ? 0 : (o.momentum * lr(k)) / lr(k - 1))), c.params)).toBeLessThan(1e-13);
    expect(worst(replay(() => o.momentum), ours)).toBeLessThan(1e-13);
    expect(st.step).toBe(c.grads.length);
  });
});

describe('sghmc samples the tempered posterior', () => {
  // U(θ) = ½ (θ − m)ᵀ Σ⁻¹ (θ − m) in the sampler's form N·L̄ + prior with N = 1 and a flat prior.
  const m = [1, -2];
  const Sigma = [
    [1, 0.6],
    [0.6, 0.5],
  ];
  const chains = 10_000;

  function runGaussian(temperature: number): { mean: number[]; cov: number[][] } {
    const prec = tensor(inv2(Sigma));
    const mean = tensor(m);
    const params = zeros([chains, 2]); // every chain starts at the origin
    const grads = zeros([chains, 2]);
    const sampler = sghmc({ lr: 0.003, momentum: 0.9, temperature, numData: 1, priorStd: Infinity });
    let st = sampler.init(params, { seed: 7 });
    for (let k = 0; k < 1500; k++) {
      tidy(() => void grads.copy_(params.sub(mean).matmul(prec)));
      st = sampler.update(st, grads);
    }
    sampler.dispose(st);
    return moments(params);
  }

  it('T = 1: 2-D correlated Gaussian, mean and covariance within MC error (10,000 chains)', () => {
    expectGaussian(runGaussian(1), m, Sigma, chains, 0.01);
  });

  it('T = 0.25: the covariance is T·Σ (target p^{1/T})', () => {
    const got = runGaussian(0.25);
    expectGaussian(got, m, Sigma.map((r) => r.map((s) => 0.25 * s)), chains, 0.01);
    expect(got.cov[0][0] / Sigma[0][0]).toBeGreaterThan(0.2);
    expect(got.cov[0][0] / Sigma[0][0]).toBeLessThan(0.3);
  });

  it('Bayesian linear regression with mini-batches: the closed-form posterior', () => {
    // y = w0 + w1·x + e, e ~ N(0, s²), prior w ~ N(0, σ² I); loss per example (y − xᵀw)²/(2s²).
    const N = 100;
    const s = 0.5;
    const sigma = 1;
    const rng = new Rng(3);
    const X: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < N; i++) {
      const x1 = rng.normal();
      X.push([1, x1]);
      y.push(0.5 - x1 + s * rng.normal());
    }
    // Posterior precision A = XᵀX/s² + I/σ², mean A⁻¹Xᵀy/s².
    const A = [0, 1].map((a) => [0, 1].map((b) => X.reduce((t, r) => t + r[a] * r[b], 0) / s ** 2 + (a === b ? 1 / sigma ** 2 : 0)));
    const cov = inv2(A);
    const xty = [0, 1].map((a) => X.reduce((t, r, i) => t + r[a] * y[i], 0) / s ** 2);
    const mean = [0, 1].map((a) => cov[a][0] * xty[0] + cov[a][1] * xty[1]);

    // Per-example sufficient statistics [x0x0, x0x1, x1x1, x0y, x1y] (x0 = 1): a mini-batch's
    // gradient is (Σ_b x xᵀ w − Σ_b x y) / (s² b), so each chain's batch is one gather and one sum.
    const F = tensor(
      X.flatMap(([x0, x1], i) => [x0 * x0, x0 * x1, x1 * x1, x0 * y[i], x1 * y[i]]),
      [N, 5],
    );
    const nChains = 4000;
    const batch = 50;
    const params = zeros([nChains, 2]);
    const grads = zeros([nChains, 2]);
    const sampler = sghmc({ lr: 5e-4, momentum: 0.9, temperature: 1, numData: N, priorStd: sigma });
    let st = sampler.init(params, { seed: 11 });
    const batchGen = new Generator(5);
    const col = (t: Tensor, j: number) => t.narrow(1, j, 1);
    for (let k = 0; k < 800; k++) {
      tidy(() => {
        // Each chain draws its own mini-batch of 50 (with replacement).
        const idx = randint(0, N, [batch * nChains], { generator: batchGen });
        const S = F.indexSelect(0, idx).view([batch, nChains, 5]).sum(0).div(s ** 2 * batch);
        const [w0, w1] = [col(params, 0), col(params, 1)];
        col(grads, 0).copy_(col(S, 0).mul(w0).add(col(S, 1).mul(w1)).sub(col(S, 3)));
        col(grads, 1).copy_(col(S, 1).mul(w0).add(col(S, 2).mul(w1)).sub(col(S, 4)));
      });
      st = sampler.update(st, grads);
    }
    sampler.dispose(st);
    batchGen.dispose();
    // Mini-batch noise inflates the covariance by about η·N·Var(ĝ)/(2(1 − μ)) ≈ 2 % here.
    expectGaussian(moments(params), mean, cov, nChains, 0.04);
  });
});

describe('sghmc noise gate, checkpoints and bad calls', () => {
  const quadGrad = (params: Tensor, grads: Tensor) => tidy(() => void grads.copy_(params.mul(params).mul(params).add(params)));

  function trajectory(sampler: SGHMC, steps: number, seed = 3): number[][] {
    const params = tensor([0.5, -1, 2, 0.1]);
    const grads = zeros([4]);
    let st: SGHMCState = sampler.init(params, { seed });
    const out: number[][] = [];
    for (let k = 0; k < steps; k++) {
      quadGrad(params, grads);
      st = sampler.update(st, grads);
      out.push(Array.from(params.toArray() as Float32Array));
    }
    sampler.dispose(st);
    return out;
  }

  it('no noise in exploration phases (T effectively 0), noise in sampling phases', () => {
    const layout = cycleLayout({ cycleLengths: [8, 8], beta: 0.5, samplesPerCycle: 1 }); // sampling: 4..7, 12..15
    const base = { lr: 0.01, momentum: 0.9, numData: 10, priorStd: 1 };
    const gated = trajectory(sghmc({ ...base, temperature: 1, noise: layout.isSamplingPhase }), 16);
    const sgdPath = trajectory(sghmc({ ...base, temperature: 0 }), 16);
    const differs = gated.map((p, k) => p.some((x, i) => x !== sgdPath[k][i]));
    expect(differs.slice(0, 4)).toEqual([false, false, false, false]); // steps 0..3 explore: bit-identical to T = 0
    expect(differs[4]).toBe(true); // the first sampling step adds noise
    // Closed gate: T = 1 is bit-identical to T = 0 throughout.
    expect(trajectory(sghmc({ ...base, temperature: 1, noise: () => false }), 16)).toEqual(sgdPath);
    const s = sghmc({ ...base, temperature: 1, noise: layout.isSamplingPhase });
    expect(s.stepInfo(3)).toEqual({ lr: 0.01, temperature: 1, noise: false, noiseStd: 0 });
    expect(s.stepInfo(4).noiseStd).toBeCloseTo(Math.sqrt((2 * 0.1 * 0.01 * 1) / 10), 15);
  });

  it('a checkpoint (momentum, step, generator state) gives an identical continuation', () => {
    const sampler = sghmc({ lr: cosine({ init: 0.01, decaySteps: 40 }), momentum: 0.9, temperature: 0.5, numData: 10, priorStd: 1 });
    const params = tensor([0.5, -1, 2, 0.1]);
    const grads = zeros([4]);
    let st = sampler.init(params, { seed: 9 });
    for (let k = 0; k < 20; k++) {
      quadGrad(params, grads);
      st = sampler.update(st, grads);
    }
    const ckpt = sampler.checkpoint(st);
    const savedParams = params.toArray() as Float32Array;
    expect(ckpt.step).toBe(20);
    const continueFrom = (p: Tensor, s0: SGHMCState): number[] => {
      let s = s0;
      for (let k = 0; k < 20; k++) {
        quadGrad(p, grads);
        s = sampler.update(s, grads);
      }
      expect(s.step).toBe(40);
      sampler.dispose(s);
      return Array.from(p.toArray() as Float32Array);
    };
    const original = continueFrom(params, st);
    const restoredParams = tensor(savedParams);
    const restored = continueFrom(restoredParams, sampler.init(restoredParams, { resume: ckpt }));
    expect(restored).toEqual(original);
    expect(restored).not.toEqual(Array.from(savedParams));
  });

  it('update returns a new frozen state with step + 1 and allocates no tensors', () => {
    const sampler = sghmc({ lr: 0.01, numData: 5, priorStd: 1 });
    const params = full([1000], 1);
    const grads = full([1000], 0.5);
    const s0 = sampler.init(params);
    const before = liveTensors();
    const s1 = sampler.update(s0, grads);
    expect(liveTensors()).toBe(before);
    expect(s0.step).toBe(0);
    expect(s1.step).toBe(1);
    expect(Object.isFrozen(s1)).toBe(true);
    expect(s1.params).toBe(params);
    sampler.dispose(s1);
  });

  it('BAD CALL - options and gradients are checked, naming the value', () => {
    const ok = { lr: 0.01, numData: 10, priorStd: 1 };
    expect(() => sghmc({ ...ok, momentum: 1 })).toThrow(/sghmc: momentum=1 must be in \[0, 1\)/);
    expect(() => sghmc({ ...ok, numData: 0 })).toThrow(/numData=0 must be a positive integer/);
    expect(() => sghmc({ ...ok, priorStd: 0 })).toThrow(/priorStd=0/);
    expect(() => sghmc({ ...ok, lr: -1 })).toThrow(/lr=-1/);
    expect(() => sghmc({ ...ok, temperature: -0.5 })).toThrow(/temperature=-0.5/);
    expect(() => sghmc({ ...ok, lr: () => Number.NaN }).stepInfo(3)).toThrow(/lr\(3\)=NaN/);
    const sampler = sghmc(ok);
    const st = sampler.init(zeros([4]));
    expect(() => sampler.update(st, zeros([5]))).toThrow(/sghmc.update: grads \[5\] float32 on cpu must match params \[4\] float32 on cpu/);
    expect(() => sampler.update(st, zeros([4], { dtype: 'float64' }))).toThrow(/grads \[4\] float64/);
    expect(() => sampler.init(zeros([4], { dtype: 'int32' }))).toThrow(/params must be float32 or float64, got int32/);
    const ckpt = sampler.checkpoint(st);
    expect(() => sampler.init(zeros([3]), { resume: ckpt })).toThrow(/checkpoint momentum has shape \[4\], params have \[3\]/);
    sampler.dispose(st);
  });
});

describe('gradient transforms', () => {
  it('clipByGlobalNorm scales to maxNorm above it and leaves smaller gradients alone', () => {
    const g = tensor([3, 4, 0, 0]);
    clipByGlobalNorm(1)(g, g, 0);
    const got = Array.from(g.toArray() as Float32Array);
    [0.6, 0.8, 0, 0].forEach((want, i) => expect(got[i]).toBeCloseTo(want, 6));
    const small = tensor([3, 4]);
    clipByGlobalNorm(10)(small, small, 0);
    expect(Array.from(small.toArray() as Float32Array)).toEqual([3, 4]);
  });

  it('chain(sghmc, clip) = sghmc on the clipped gradient, and keeps the rest of sghmc', () => {
    const opt = chain(sghmc({ lr: 0.1, momentum: 0.5, temperature: 0, numData: 1, priorStd: Infinity }), clipByGlobalNorm(1));
    const params = tensor([1, 1]);
    let st = opt.init(params);
    st = opt.update(st, tensor([0, 10])); // clipped to [0, 1]: v = [0, −0.1], θ = [1, 0.9]
    st = opt.update(st, tensor([0.3, 0.4])); // norm 0.5, kept: v = [−0.03, −0.09], θ = [0.97, 0.81]
    const got = Array.from(params.toArray() as Float32Array);
    [0.97, 0.81].forEach((want, i) => expect(got[i]).toBeCloseTo(want, 6));
    expect(opt.checkpoint(st).step).toBe(2);
    opt.dispose(st);
    expect(() => clipByGlobalNorm(0)).toThrow(/clipByGlobalNorm: maxNorm=0 must be a positive finite number/);
  });
});
