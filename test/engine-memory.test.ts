/**
 * Lifetimes: a long training loop keeps the native tensor count exactly flat and the resident
 * memory bounded; `tidy`/`keep`/`dispose` semantics; the garbage-collector path that frees
 * tensors nobody disposed.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  conv2d,
  crossEntropy,
  FlatParameters,
  Generator,
  keep,
  liveTensors,
  noGrad,
  ones,
  randint,
  randn,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../src/engine/index.js';

/** The V8 garbage collector, exposed at run time (vitest starts workers without --expose-gc). */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Run {
  liveAt100: number;
  liveAt2000: number;
  rssGrowthMB: number;
  firstLoss: number;
  lastLoss: number;
}

/**
 * 2,000 SGD steps of conv 1→8→4 on 2×1×16×16 with a cross-entropy loss, parameters in a
 * FlatParameters buffer, each step inside `tidy`. `leaked` (when given) receives a copy of each
 * step's hidden activation (16 KB), a deliberate leak for the control run.
 */
function train(leaked?: Tensor[]): Run {
  const gen = new Generator(0);
  const fp = new FlatParameters([
    { name: 'w1', shape: [8, 1, 3, 3] },
    { name: 'b1', shape: [8] },
    { name: 'w2', shape: [4, 8, 3, 3] },
    { name: 'b2', shape: [4] },
  ]);
  fp.flat.normal_(0, 0.3, gen);
  const x = randn([2, 1, 16, 16], { generator: gen });
  const y = randint(0, 4, [2, 16, 16], { generator: gen });
  const step = () =>
    tidy(() => {
      fp.zeroGrad();
      const h = conv2d(x, fp.get('w1'), fp.get('b1'), { padding: 1 }).relu();
      if (leaked) leaked.push(keep(h.detach().clone()));
      const loss = crossEntropy(conv2d(h, fp.get('w2'), fp.get('b2'), { padding: 1 }), y);
      loss.backward();
      noGrad(() => fp.flat.add_(fp.flatGrad, -0.05));
      return loss.item();
    });

  const run = { liveAt100: 0, liveAt2000: 0, rssGrowthMB: 0, firstLoss: step(), lastLoss: 0 };
  let rssAt200 = 0;
  for (let i = 2; i <= 2000; i++) {
    const loss = step();
    if (i === 100) run.liveAt100 = liveTensors();
    if (i === 200) {
      gc();
      rssAt200 = process.memoryUsage.rss();
    }
    if (i === 2000) run.lastLoss = loss;
  }
  run.liveAt2000 = liveTensors();
  gc();
  run.rssGrowthMB = (process.memoryUsage.rss() - rssAt200) / 2 ** 20;
  fp.dispose();
  x.dispose();
  y.dispose();
  return run;
}

/**
 * Measured RSS growth from step 200 to 2,000 of the clean loop: 2.0–3.0 MB (4 runs). A leak of
 * one 16 KB activation per step adds ~28 MB; so did the finalizer records of disposed handles
 * before dispose() unwrapped them (30.8 MB).
 */
const RSS_BOUND_MB = 10;

describe('a long training loop does not leak', () => {
  it('2,000 SGD steps of a small conv net: live tensors exactly flat, RSS growth bounded', () => {
    const run = train();
    console.log(`clean: live tensors ${run.liveAt100} at step 100, ${run.liveAt2000} at step 2000; RSS growth 200→2000 ${run.rssGrowthMB.toFixed(1)} MB; loss ${run.firstLoss.toFixed(3)} → ${run.lastLoss.toFixed(3)}`);
    expect(run.liveAt2000).toBe(run.liveAt100);
    expect(run.rssGrowthMB).toBeLessThan(RSS_BOUND_MB);
    expect(run.lastLoss).toBeLessThan(run.firstLoss * 0.7); // it did train
  });

  it('control: the same loop leaking one activation per step fails both checks', () => {
    const leaked: Tensor[] = [];
    const run = train(leaked);
    console.log(`leaky: live tensors ${run.liveAt100} → ${run.liveAt2000}; RSS growth ${run.rssGrowthMB.toFixed(1)} MB`);
    expect(run.liveAt2000 - run.liveAt100).toBe(1900);
    expect(run.rssGrowthMB).toBeGreaterThan(RSS_BOUND_MB);
    for (const t of leaked) t.dispose();
  });
});

describe('tidy, keep and dispose', () => {
  it('frees what fn made except its result; tensors from outside are untouched', () => {
    const outside = ones([2]);
    const before = liveTensors();
    const r = tidy(() => outside.add(1).mul(2).sub(outside));
    expect(liveTensors()).toBe(before + 1);
    expect(Array.from(r.toArray() as Float32Array)).toEqual([3, 3]);
    expect(outside.isDisposed).toBe(false);
    r.dispose();
    outside.dispose();
    expect(liveTensors()).toBe(before - 1);
  });

  it('keeps tensors anywhere in a returned object, array or map', () => {
    const before = liveTensors();
    let dropped: Tensor | undefined;
    const out = tidy(() => {
      dropped = zeros([1]);
      return { a: zeros([1]), list: [zeros([2]), { deep: zeros([3]) }], map: new Map([['k', zeros([4])]]), n: 5 };
    });
    expect(liveTensors()).toBe(before + 4);
    expect(dropped?.isDisposed).toBe(true);
    const kept = [out.a, out.list[0] as Tensor, (out.list[1] as { deep: Tensor }).deep, out.map.get('k') as Tensor];
    expect(kept.map((t) => t.numel)).toEqual([1, 2, 3, 4]);
    for (const t of kept) t.dispose();
    expect(liveTensors()).toBe(before);
  });

  it('a nested tidy hands its result to the enclosing scope, which frees it unless returned', () => {
    const before = liveTensors();
    let inner: Tensor | undefined;
    tidy(() => {
      inner = tidy(() => ones([2]).add(1));
      expect(inner.isDisposed).toBe(false);
      return 0;
    });
    expect(inner?.isDisposed).toBe(true);
    const survived = tidy(() => tidy(() => ones([2]).add(1)));
    expect(survived.isDisposed).toBe(false);
    survived.dispose();
    expect(liveTensors()).toBe(before);
  });

  it('keep() lets a tensor outlive the scope it was made in', () => {
    const before = liveTensors();
    let held: Tensor | undefined;
    tidy(() => {
      held = keep(ones([3]));
      ones([3]);
    });
    expect(held?.isDisposed).toBe(false);
    expect(liveTensors()).toBe(before + 1);
    held?.dispose();
  });

  it('a throwing fn still frees its tensors; an async fn is refused', () => {
    const before = liveTensors();
    expect(() =>
      tidy(() => {
        ones([2]).add(1);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(liveTensors()).toBe(before);
    expect(() => tidy(async () => 1)).toThrow(/^tidy: fn must be synchronous/);
  });

  it('dispose is idempotent, also inside a scope that later frees', () => {
    const before = liveTensors();
    tidy(() => {
      const t = ones([2]);
      t.dispose();
      t.dispose();
      t[Symbol.dispose]();
      expect(t.isDisposed).toBe(true);
    });
    expect(liveTensors()).toBe(before);
  });

  it('views, grads and detach are handles of their own; FlatParameters.dispose frees all it made', () => {
    const before = liveTensors();
    const base = zeros([4]);
    const view = base.view([2, 2]);
    base.dispose();
    expect(view.sum().item()).toBe(0); // the view keeps the memory alive
    view.dispose();
    expect(liveTensors()).toBe(before + 1); // the sum's handle
    const fp = new FlatParameters([
      { name: 'w', shape: [2, 2] },
      { name: 'b', shape: [2] },
    ]);
    expect(liveTensors()).toBe(before + 1 + 2 + 2 * 2); // flat, flatGrad, one parameter and one gradient view each
    fp.dispose();
    expect(liveTensors()).toBe(before + 1);
  });
});

describe('the garbage collector frees tensors nobody disposed', () => {
  /** V8 collects the handles; Node runs their native finalizers from the event loop. */
  async function collectGarbage(): Promise<void> {
    for (let round = 0; round < 5; round++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it('after the references are dropped, gc and a turn of the event loop', async () => {
    await collectGarbage(); // earlier tests' undisposed handles
    const before = liveTensors();
    (() => {
      for (let i = 0; i < 500; i++) tensor([i, i + 1]).mul(2);
    })();
    expect(liveTensors()).toBe(before + 1000);
    await collectGarbage();
    expect(liveTensors()).toBe(before);
  });
});
