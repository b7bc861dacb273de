/**
 * Threads and determinism: the thread count is settable; with deterministic mode, a fixed seed and
 * a fixed thread count, training is bit-identical; generator states save and restore the stream.
 */
import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import {
  conv2d,
  crossEntropy,
  dropout,
  FlatParameters,
  Generator,
  getNumThreads,
  interpolate,
  manualSeed,
  maxPool2d,
  noGrad,
  rand,
  randint,
  randn,
  setDeterministic,
  setNumThreads,
  tidy,
  zeros,
} from '../src/engine/index.js';
import { values } from './helpers/close.js';

const initialThreads = getNumThreads();
afterAll(() => {
  setNumThreads(initialThreads);
  setDeterministic(false);
});

describe('threads', () => {
  it('setNumThreads sets what getNumThreads reports; the default is the core count', () => {
    setNumThreads(1);
    expect(getNumThreads()).toBe(1);
    setNumThreads(3);
    expect(getNumThreads()).toBe(3);
    setNumThreads();
    expect(getNumThreads()).toBe(availableParallelism());
  });
});

/**
 * 20 SGD steps of conv 1→6 → relu → dropout (global generator) → maxPool → conv 6→3 → dropout
 * (own generator) → bilinear upsampling → cross-entropy; returns the final parameters' bytes.
 */
function train(seed: number, threads: number): Uint8Array {
  setDeterministic(true);
  setNumThreads(threads);
  manualSeed(seed);
  const gen = new Generator(seed + 1);
  const fp = new FlatParameters([
    { name: 'w1', shape: [6, 1, 3, 3] },
    { name: 'w2', shape: [3, 6, 3, 3] },
    { name: 'b2', shape: [3] },
  ]);
  fp.flat.normal_(0, 0.4);
  const x = randn([4, 1, 12, 12]);
  const y = randint(0, 3, [4, 12, 12]);
  for (let step = 0; step < 20; step++) {
    tidy(() => {
      fp.zeroGrad();
      const h = dropout(conv2d(x, fp.get('w1'), undefined, { padding: 1 }).relu(), 0.3, true);
      const z = dropout(conv2d(maxPool2d(h, 2), fp.get('w2'), fp.get('b2'), { padding: 1 }), 0.2, true, gen);
      crossEntropy(interpolate(z, [12, 12], 'bilinear'), y).backward();
      noGrad(() => fp.flat.add_(fp.flatGrad, -0.1));
    });
  }
  const bytes = new Uint8Array(fp.flat.toArray().buffer);
  fp.dispose();
  x.dispose();
  y.dispose();
  gen.dispose();
  return bytes;
}

describe('determinism', () => {
  // Two threads, so that parallel kernels and reductions are exercised (slow on a loaded 2-core machine).
  it('two runs with the same seed and thread count give bit-identical weights', () => {
    const a = train(7, 2);
    const b = train(7, 2);
    expect(a.byteLength).toBe((6 * 9 + 3 * 6 * 9 + 3) * 4);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('another seed gives other weights', () => {
    expect(Buffer.from(train(7, 1)).equals(Buffer.from(train(8, 1)))).toBe(false);
  });
});

describe('generator state', () => {
  it('a saved state replays the same stream, also in another generator', () => {
    const g = new Generator(3);
    rand([5], { generator: g });
    const state = g.getState();
    const next = values(randn([6], { generator: g }));
    expect(values(randn([6], { generator: g }))).not.toEqual(next);
    g.setState(state);
    expect(values(randn([6], { generator: g }))).toEqual(next);
    const other = new Generator(99);
    other.setState(state);
    expect(values(randn([6], { generator: other }))).toEqual(next);
    expect(values(zeros([4]).normal_(0, 1, g))).toEqual(values(zeros([4]).normal_(0, 1, other)));
  });

  it('different seeds give different streams', () => {
    const draws = [1, 2, 3].map((s) => values(rand([8], { generator: new Generator(s) })).join(','));
    expect(new Set(draws).size).toBe(3);
  });
});
