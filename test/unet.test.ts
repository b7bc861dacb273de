import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conv2d, crossEntropy, liveTensors, noGrad, randn, tensor, tidy, zeros, type Tensor } from '../src/engine/index.js';
import { UNet, unetForwardGflop } from '../src/models/index.js';
import { PYTHON, pytorch } from './helpers/optional.js';

const repoRoot = resolve(import.meta.dirname, '..');
const torch = pytorch();

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('UNet', () => {
  it('maps N×1×H×W to N×C×H×W logits', () => {
    const m = new UNet({ depth: 3, baseWidth: 4, numClasses: 4 });
    const y = noGrad(() => m.forward(randn([2, 1, 16, 24])));
    expect(y.shape).toEqual([2, 4, 16, 24]);
    expect(() => m.forward(randn([2, 1, 18, 16]))).toThrow(/divisible by 4, got \[2, 1, 18, 16\]/);
    expect(() => m.forward(randn([2, 3, 16, 16]))).toThrow(/N×1×H×W/);
    m.dispose();
  });

  it('leaves only its output alive, with and without gradients', () => {
    const m = new UNet({ depth: 3, baseWidth: 4, dropout: 0.2, dropoutPlacement: 'all' });
    const x = randn([2, 1, 16, 16]);
    const before = liveTensors();
    const y = noGrad(() => m.forward(x));
    expect(liveTensors()).toBe(before + 1);
    y.dispose();
    const loss = m.forward(x).sum();
    expect(liveTensors()).toBe(before + 2); // the logits (not disposed here) and the loss
    loss.backward();
    expect(m.params.flatGrad.abs().sum().item()).toBeGreaterThan(0);
    m.dispose();
  });

  it('has as many parameters as the PyTorch twin (bench/engine_torch.py --param-count)', () => {
    // Pinned from `/usr/bin/python3 bench/engine_torch.py --param-count [--norm N] [--depth D --base-width W]`.
    expect(new UNet().parameterCount).toBe(482_500);
    expect(new UNet({ norm: 'instance' }).parameterCount).toBe(482_500);
    expect(new UNet({ norm: 'none' }).parameterCount).toBe(481_796);
    expect(new UNet({ depth: 2, baseWidth: 8 }).parameterCount).toBe(6_516);
  });

  it('costs 9.215 GFLOP forward at 8×1×128×128 (depth 4, widths 16-32-64-128)', () => {
    expect(unetForwardGflop({}, 8, 128)).toBeCloseTo(9.214885888, 9);
  });

  it('initialises reproducibly from the seed: He-normal convs, BN weight 1 and bias 0', () => {
    const a = new UNet({ seed: 7 });
    const b = new UNet({ seed: 7 });
    const c = new UNet({ seed: 8 });
    const fa = a.params.flat.toFloat32();
    expect(maxAbsDiff(fa, b.params.flat.toFloat32())).toBe(0);
    expect(maxAbsDiff(fa, c.params.flat.toFloat32())).toBeGreaterThan(0.1);
    const w = a.param('bottleneck.conv2.weight'); // 128×128×3×3, fan-in 1152
    expect(w.std().item()).toBeCloseTo(Math.sqrt(2 / 1152), 3);
    expect(Math.abs(w.mean().item())).toBeLessThan(1e-3);
    expect(Array.from(a.param('enc1.bn2.weight').toFloat32()).every((v) => v === 1)).toBe(true);
    expect(Array.from(a.param('enc1.bn2.bias').toFloat32()).every((v) => v === 0)).toBe(true);
    expect(Array.from(a.param('head.bias').toFloat32()).every((v) => v === 0)).toBe(true);
    expect(Array.from(a.buffer('dec0.bn1.running_var').toFloat32()).every((v) => v === 1)).toBe(true);
    for (const m of [a, b, c]) m.dispose();
  });

  it('round-trips state() through loadState() and reports bad states by name and shapes', () => {
    const a = new UNet({ depth: 2, baseWidth: 8, seed: 1 });
    const b = new UNet({ depth: 2, baseWidth: 8, seed: 2 });
    const x = randn([1, 1, 8, 8]);
    tidy(() => a.forward(x)); // train mode: updates a's running statistics
    a.eval();
    b.eval();
    const st = a.state();
    expect(Object.keys(st)).toContain('enc0.bn1.running_mean');
    expect(Object.keys(st)).toContain('up0.weight');
    expect(st['up0.weight'].requiresGrad).toBe(false);
    b.loadState(st);
    expect(maxAbsDiff(b.params.flat.toFloat32(), a.params.flat.toFloat32())).toBe(0);
    const ya = noGrad(() => a.forward(x)).toFloat32();
    expect(maxAbsDiff(noGrad(() => b.forward(x)).toFloat32(), ya)).toBe(0);
    // state() holds copies: changing the model leaves it alone
    a.params.flat.zero_();
    expect(st['head.weight'].abs().sum().item()).toBeGreaterThan(0);

    const { ['dec0.conv2.weight']: dropped, ...missing } = st;
    expect(() => b.loadState(missing)).toThrow(/missing dec0\.conv2\.weight/);
    expect(() => b.loadState({ ...st, 'dec0.conv2.weight': zeros([8, 8, 1, 1]) })).toThrow(
      "loadState: 'dec0.conv2.weight' has shape [8, 8, 1, 1], the model expects [8, 8, 3, 3]",
    );
    expect(() => b.loadState({ ...st, 'enc9.conv1.weight': dropped })).toThrow(/unknown enc9\.conv1\.weight/);
    // PyTorch's BN counters are accepted and ignored
    b.loadState({ ...st, 'enc0.bn1.num_batches_tracked': tensor([1], [1], { dtype: 'int64' }) });
    a.dispose();
    b.dispose();
  });

  torch.it('gives PyTorch logits for PyTorch weights (eval and train mode)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmcseg-unet-'));
    try {
      const file = join(dir, 'case.json');
      execFileSync(PYTHON, [join(repoRoot, 'bench/engine_torch.py'), '--export-case', file], { stdio: 'pipe' });
      type Enc = { shape: number[]; data: number[] };
      const c = JSON.parse(readFileSync(file, 'utf8')) as {
        config: { depth: number; baseWidth: number; norm: 'batch' };
        state: Record<string, Enc>;
        input: Enc;
        evalLogits: Enc;
        trainLogits: Enc;
        runningAfterTrain: Record<string, Enc>;
      };
      const t = (e: Enc) => tensor(Float32Array.from(e.data), e.shape);
      const state: Record<string, Tensor> = Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, t(v)]));
      const m = new UNet(c.config);
      m.loadState(state);
      const x = t(c.input);
      m.eval();
      expect(maxAbsDiff(noGrad(() => m.forward(x)).toFloat32(), c.evalLogits.data)).toBeLessThan(1e-4);
      m.train();
      expect(maxAbsDiff(noGrad(() => m.forward(x)).toFloat32(), c.trainLogits.data)).toBeLessThan(1e-4);
      for (const [k, v] of Object.entries(c.runningAfterTrain)) {
        expect(maxAbsDiff(m.buffer(k).toFloat32(), v.data)).toBeLessThan(1e-5);
      }
      m.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('overfits one batch with SGD-momentum on the flat buffer (loss falls ≥ 10×)', () => {
    // Two 32×32 images: a bright noisy disk on a dark noisy background; label = the disk.
    const size = 32;
    const img = new Float32Array(2 * size * size);
    const lab = new BigInt64Array(2 * size * size);
    const noise = randn([2 * size * size]).toArray() as Float32Array;
    for (let n = 0; n < 2; n++) {
      const [cy, cx, r] = n === 0 ? [12, 14, 7] : [19, 17, 9];
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const i = n * size * size + y * size + x;
          const inside = (y - cy) ** 2 + (x - cx) ** 2 <= r * r;
          lab[i] = inside ? 1n : 0n;
          img[i] = (inside ? 1 : 0) + 0.3 * noise[i];
        }
    }
    const x = tensor(img, [2, 1, size, size]);
    const y = tensor(lab, [2, size, size]);
    const m = new UNet({ depth: 2, baseWidth: 8, numClasses: 2, seed: 3 });
    const { flat, flatGrad } = m.params;
    const v = zeros(flat.shape);
    const lr = 0.05;
    const mu = 0.9;
    const losses: number[] = [];
    for (let step = 0; step < 150; step++) {
      m.params.zeroGrad();
      const loss = tidy(() => crossEntropy(m.forward(x), y));
      loss.backward();
      losses.push(loss.item());
      loss.dispose();
      noGrad(() => {
        v.mul_(mu).add_(flatGrad, -lr); // v = μv − ηg
        flat.add_(v); // θ += v
      });
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[0] / Math.min(...losses.slice(-10))).toBeGreaterThan(10);
    m.dispose();
  });

  it('recomputeBatchNorm: running statistics become the mean of the batch statistics; weights and mode stay', () => {
    const m = new UNet({ depth: 2, baseWidth: 4, dropout: 0.5, dropoutPlacement: 'decoder', seed: 7 }).eval().setDropoutActive(true);
    const before = m.state();
    const xs = [randn([3, 1, 16, 16]), randn([5, 1, 16, 16]).mul(2).add(1)];
    expect(m.recomputeBatchNorm(xs)).toBe(2);
    // enc0.bn1 normalises conv1(x) directly: its statistics can be computed by hand.
    const stats = xs.map((x) =>
      noGrad(() => {
        const y = conv2d(x, m.param('enc0.conv1.weight'), undefined, { padding: 1 });
        return { mean: y.mean([0, 2, 3]).toFloat32(), var: y.std([0, 2, 3]).square().toFloat32() };
      }),
    );
    const avg = (k: 'mean' | 'var') => stats[0][k].map((v, c) => (v + stats[1][k][c]) / 2);
    expect(maxAbsDiff(m.buffer('enc0.bn1.running_mean').toFloat32(), avg('mean'))).toBeLessThan(1e-5);
    expect(maxAbsDiff(m.buffer('enc0.bn1.running_var').toFloat32(), avg('var'))).toBeLessThan(1e-4);
    // Deeper layers moved off their initial 0 / 1 as well.
    expect(maxAbsDiff(m.buffer('dec0.bn2.running_mean').toFloat32(), [0, 0, 0, 0])).toBeGreaterThan(1e-3);
    // Parameters and modes are untouched; a second call starts afresh and gives the same statistics.
    const after = m.state();
    for (const [k, t] of Object.entries(before)) {
      if (!k.includes('running_')) expect(maxAbsDiff(after[k].toFloat32(), t.toFloat32())).toBe(0);
    }
    expect(m.training).toBe(false);
    expect(m.dropoutActive).toBe(true);
    m.recomputeBatchNorm(xs);
    expect(maxAbsDiff(m.buffer('enc0.bn1.running_var').toFloat32(), after['enc0.bn1.running_var'].toFloat32())).toBe(0);
    // Without BatchNorm there is nothing to recompute.
    expect(new UNet({ depth: 2, baseWidth: 4, norm: 'instance' }).recomputeBatchNorm(xs)).toBe(0);
  });

  it('MC Dropout: dropout on in eval mode gives different forwards, off gives identical ones', () => {
    const m = new UNet({ depth: 3, baseWidth: 4, dropout: 0.5, dropoutPlacement: 'decoder', seed: 5 });
    const x = randn([1, 1, 16, 16]);
    m.eval();
    expect(m.dropoutActive).toBe(false);
    const run = () => noGrad(() => m.forward(x)).toFloat32();
    expect(maxAbsDiff(run(), run())).toBe(0);
    m.setDropoutActive(true);
    expect(m.training).toBe(false);
    expect(maxAbsDiff(run(), run())).toBeGreaterThan(1e-3);
    m.setDropoutActive(false);
    expect(maxAbsDiff(run(), run())).toBe(0);
    m.train();
    expect(m.dropoutActive).toBe(true);
    // Without dropout configured, switching it on changes nothing.
    const plain = new UNet({ depth: 3, baseWidth: 4, seed: 5 }).eval().setDropoutActive(true);
    const y1 = noGrad(() => plain.forward(x)).toFloat32();
    expect(maxAbsDiff(noGrad(() => plain.forward(x)).toFloat32(), y1)).toBe(0);
  });

  it('fixed dropout masks: one network for the whole batch and every call; a mask of another size is refused by block', () => {
    const p = 0.5;
    const m = new UNet({ depth: 3, baseWidth: 4, dropout: p, dropoutPlacement: 'all', seed: 5 }).eval().setDropoutActive(true);
    const one = randn([1, 1, 16, 16]);
    const two = tensor([...one.toFloat32(), ...one.toFloat32()], [2, 1, 16, 16]);
    const masks = m.drawDropoutMasks(16);
    expect(Object.keys(masks)).toEqual(['enc0', 'enc1', 'bottleneck', 'dec1', 'dec0']);
    expect(masks.enc1.shape).toEqual([1, 8, 8, 8]); // 1×C×h×w at the block's output
    const kept = masks.dec0.toFloat32();
    expect(kept.every((v) => v === 0 || v === 1)).toBe(true);
    expect(kept.reduce((a, v) => a + v, 0) / kept.length).toBeGreaterThan(0.35); // keep probability 1 − p
    expect(kept.reduce((a, v) => a + v, 0) / kept.length).toBeLessThan(0.65);
    const run = (x: Tensor) => noGrad(() => m.forward(x)).toFloat32();
    m.setDropoutMasks(masks);
    const y = run(two);
    const half = y.length / 2;
    expect(maxAbsDiff(y.subarray(0, half), y.subarray(half))).toBe(0); // both slices went through one network
    expect(maxAbsDiff(run(one), y.subarray(0, half))).toBeLessThan(1e-4); // and so does every later call (float32, other batch size)
    m.setDropoutMasks(undefined);
    expect(maxAbsDiff(run(one), run(one))).toBeGreaterThan(1e-3); // fresh draws again
    const wrong = m.drawDropoutMasks(32);
    m.setDropoutMasks(wrong);
    expect(() => run(one)).toThrow(/dropout mask of enc0 is \[1, 4, 32, 32\], its output is \[1, 4, 16, 16\]/);
    for (const t of [...Object.values(masks), ...Object.values(wrong)]) t.dispose();
    m.dispose();
  });
});
