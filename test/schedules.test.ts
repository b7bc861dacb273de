import { describe, expect, it } from 'vitest';
import {
  constant,
  cosine,
  cycleLayout,
  cyclicalCosine,
  cyclicalTemperature,
  joinSchedules,
  linear,
  deterministicMethod,
  ensembleMethod,
  hmcMethod,
  mcDropoutMethod,
  sgdTrajectoryMethod,
  type CycleLayout,
} from '../src/bayes/index.js';
import { UNET_DEFAULTS } from '../src/models/index.js';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const phases = (l: CycleLayout) => range(0, l.totalSteps).map((k) => (l.phaseOf(k) === 'sample' ? 's' : 'e')).join('');

describe('constant, cosine, linear', () => {
  it('constant is the same at every step', () => {
    const s = constant(0.3);
    expect([s(0), s(17), s(1e6)]).toEqual([0.3, 0.3, 0.3]);
  });

  it('cosine decays from init to init·alpha over decaySteps and stays there', () => {
    const s = cosine({ init: 1, decaySteps: 10 });
    expect(s(0)).toBe(1);
    expect(s(5)).toBeCloseTo(0.5, 15);
    expect(s(10)).toBe(0);
    expect(s(25)).toBe(0);
    const a = cosine({ init: 2, decaySteps: 10, alpha: 0.1 });
    expect(a(5)).toBeCloseTo(2 * (0.9 * 0.5 + 0.1), 15);
    expect(a(10)).toBeCloseTo(0.2, 15);
  });

  it('linear ramps and then holds', () => {
    const s = linear({ from: 0, to: 1, steps: 4 });
    expect([0, 1, 2, 4, 10].map(s)).toEqual([0, 0.25, 0.5, 1, 1]);
  });

  it('BAD CALL - options are checked at construction, naming the value', () => {
    expect(() => constant(Number.NaN)).toThrow(/constant: value=NaN/);
    expect(() => cosine({ init: 1, decaySteps: 0 })).toThrow(/cosine: decaySteps=0 must be a positive integer/);
    expect(() => cosine({ init: 1, decaySteps: 10, alpha: 2 })).toThrow(/alpha=2/);
    expect(() => linear({ from: 0, to: 1, steps: 1.5 })).toThrow(/linear: steps=1.5/);
  });
});

describe('joinSchedules', () => {
  it('each schedule sees step − boundary', () => {
    const s = joinSchedules([constant(7), linear({ from: 0, to: 10, steps: 10 }), (k) => -k], [3, 8]);
    expect(range(0, 11).map(s)).toEqual([7, 7, 7, 0, 1, 2, 3, 4, -0, -1, -2]);
  });

  it('BAD CALL - boundaries must match and increase', () => {
    expect(() => joinSchedules([constant(1)], [2])).toThrow(/boundaries.length=1 must be schedules.length − 1 = 0/);
    expect(() => joinSchedules([constant(1), constant(2), constant(3)], [5, 5])).toThrow(/boundaries\[1\]=5 must be greater/);
    expect(() => joinSchedules([], [])).toThrow(RangeError);
  });
});

describe('cycleLayout', () => {
  it('K=1000, M=4 defaults (β=0.25, S=3): phases of round(62.5)=63 steps, samples at the ends', () => {
    const l = cycleLayout({ totalSteps: 1000 });
    expect(l.cycleLengths).toEqual([250, 250, 250, 250]);
    expect(l.cycleStarts).toEqual([0, 250, 500, 750]);
    expect(l.samplePhaseLengths).toEqual([63, 63, 63, 63]);
    expect(l.sampleSteps).toEqual([207, 228, 249, 457, 478, 499, 707, 728, 749, 957, 978, 999]);
    expect([186, 187, 249, 250, 436, 437].map(l.phaseOf)).toEqual(['explore', 'sample', 'sample', 'explore', 'explore', 'sample']);
    expect(l.cyclePosition(478)).toEqual({ cycle: 1, offset: 228, length: 250, phase: 'sample' });
    expect(range(0, 1000).filter(l.isSampleStep)).toEqual(l.sampleSteps);
  });

  it('K=10, M=4 (M ∤ K): cycles of ⌈10/4⌉=3, the last of 1; β=0.5, S=1', () => {
    const l = cycleLayout({ totalSteps: 10, cycles: 4, beta: 0.5, samplesPerCycle: 1 });
    expect(l.cycleLengths).toEqual([3, 3, 3, 1]);
    expect(l.samplePhaseLengths).toEqual([2, 2, 2, 1]);
    expect(phases(l)).toBe('essessesss');
    expect(l.sampleSteps).toEqual([2, 5, 8, 9]);
  });

  it('K=100, M=3, β=0.3, S=4: cycles [34, 34, 32], 4 samples in each 10-step phase', () => {
    const l = cycleLayout({ totalSteps: 100, cycles: 3, beta: 0.3, samplesPerCycle: 4 });
    expect(l.cycleLengths).toEqual([34, 34, 32]);
    expect(l.samplePhaseLengths).toEqual([10, 10, 10]);
    expect(l.sampleSteps).toEqual([26, 28, 31, 33, 60, 62, 65, 67, 92, 94, 97, 99]);
    expect([23, 24, 57, 58, 89, 90].map(l.phaseOf)).toEqual(['explore', 'sample', 'explore', 'sample', 'explore', 'sample']);
  });

  it('uneven cycleLengths with sampling from cycle 1 on (a warm-up cycle)', () => {
    const l = cycleLayout({ cycleLengths: [40, 20, 20], samplesPerCycle: 2, firstSampleCycle: 1 });
    expect(l.totalSteps).toBe(80);
    expect(l.cycleStarts).toEqual([0, 40, 60]);
    expect(l.samplePhaseLengths).toEqual([0, 5, 5]);
    expect(l.sampleSteps).toEqual([57, 59, 77, 79]);
    expect(phases(l)).toBe('e'.repeat(55) + 's'.repeat(5) + 'e'.repeat(15) + 's'.repeat(5));
    expect(l.cyclePosition(39)).toEqual({ cycle: 0, offset: 39, length: 40, phase: 'explore' });
  });

  it('firstCycleLength: a long first cycle, the rest in the ⌈·⌉ layout', () => {
    const l = cycleLayout({ totalSteps: 100, cycles: 3, firstCycleLength: 51 });
    expect(l.cycleLengths).toEqual([51, 25, 24]);
    expect(l.samplePhaseLengths).toEqual([13, 6, 6]);
  });

  it('BAD CALL - every option is checked, naming the value', () => {
    expect(() => cycleLayout({})).toThrow(/give totalSteps/);
    expect(() => cycleLayout({ totalSteps: 100, cycles: 0 })).toThrow(/cycleLayout: cycles=0 must be a positive integer/);
    expect(() => cycleLayout({ totalSteps: 100.5 })).toThrow(/totalSteps=100.5/);
    expect(() => cycleLayout({ totalSteps: 100, beta: 0 })).toThrow(/beta=0 must be in \(0, 1\]/);
    expect(() => cycleLayout({ totalSteps: 100, beta: 1.5 })).toThrow(/beta=1.5/);
    expect(() => cycleLayout({ totalSteps: 100, samplesPerCycle: 0 })).toThrow(/samplesPerCycle=0/);
    expect(() => cycleLayout({ totalSteps: 9, cycles: 4 })).toThrow(/totalSteps=9 cannot be split into cycles=4 .*the last cycle would have 0/);
    expect(() => cycleLayout({ totalSteps: 20, cycles: 4, beta: 0.1 })).toThrow(/cycle 0 \(length 5\) has a sampling phase of .* = 1 steps, fewer than samplesPerCycle=3/);
    expect(() => cycleLayout({ cycleLengths: [10, 10], totalSteps: 30 })).toThrow(/totalSteps=30 must be the sum of cycleLengths \(20\)/);
    expect(() => cycleLayout({ cycleLengths: [10, 10], cycles: 3 })).toThrow(/cycles=3/);
    expect(() => cycleLayout({ cycleLengths: [12, 0] })).toThrow(/cycleLengths\[1\]=0/);
    expect(() => cycleLayout({ cycleLengths: [12, 12], firstCycleLength: 12 })).toThrow(/firstCycleLength=12/);
    expect(() => cycleLayout({ totalSteps: 100, firstCycleLength: 100 })).toThrow(/firstCycleLength=100 must be less than totalSteps=100/);
    expect(() => cycleLayout({ totalSteps: 100, firstSampleCycle: 4 })).toThrow(/firstSampleCycle=4/);
    const l = cycleLayout({ totalSteps: 100 });
    expect(() => l.phaseOf(100)).toThrow(/step=100 must be less than totalSteps=100/);
    expect(() => l.isSampleStep(-1)).toThrow(/step=-1/);
  });
});

describe('cyclicalCosine', () => {
  it('is η0/2 · (cos(π · mod(k, ⌈K/M⌉) / ⌈K/M⌉) + 1) when M | K', () => {
    const s = cyclicalCosine({ lr0: 0.2, layout: { totalSteps: 1000, cycles: 4 } });
    expect(s(0)).toBe(0.2);
    expect(s(125)).toBeCloseTo(0.1, 15);
    expect(s(250)).toBe(0.2);
    expect(s(875)).toBeCloseTo(0.1, 15);
    for (const k of [1, 37, 249, 251, 600, 999]) {
      expect(s(k)).toBeCloseTo(0.1 * (Math.cos((Math.PI * (k % 250)) / 250) + 1), 15);
    }
    expect(s(999)).toBeLessThan(1e-5);
  });

  it('anneals each cycle over its own length (short last cycle, uneven cycles)', () => {
    const s = cyclicalCosine({ lr0: 1, layout: { totalSteps: 10, cycles: 4, beta: 0.5, samplesPerCycle: 1 } }); // cycles [3, 3, 3, 1]
    expect(s(4)).toBeCloseTo(0.75, 15); // r = 1 of 3: (cos(π/3) + 1)/2
    expect(s(9)).toBe(1);
    const u = cyclicalCosine({ lr0: 1, layout: cycleLayout({ cycleLengths: [40, 20, 20] }) });
    expect([u(20), u(40), u(50), u(60), u(70)].map((x) => Number(x.toFixed(12)))).toEqual([0.5, 1, 0.5, 1, 0.5]);
  });

  it('BAD CALL - lr0 must be positive', () => {
    expect(() => cyclicalCosine({ lr0: 0, layout: { totalSteps: 100 } })).toThrow(/cyclicalCosine: lr0=0 must be positive/);
  });
});

describe('cyclicalTemperature', () => {
  const layout = cycleLayout({ totalSteps: 1000 }); // sampling phases 187..249, 437..499, ...
  it('is 0 in exploration and T in sampling phases', () => {
    const t = cyclicalTemperature({ value: 0.5, layout });
    expect([0, 186, 187, 249, 250, 437].map(t)).toEqual([0, 0, 0.5, 0.5, 0, 0.5]);
  });

  it('ramps linearly over rampSteps at the start of each sampling phase', () => {
    const t = cyclicalTemperature({ value: 0.5, layout, rampSteps: 10 });
    expect(t(186)).toBe(0);
    expect(t(187)).toBeCloseTo(0.05, 15);
    expect(t(188)).toBeCloseTo(0.1, 15);
    expect(t(196)).toBe(0.5);
    expect(t(249)).toBe(0.5);
    expect(t(438)).toBeCloseTo(0.1, 15);
  });

  it('BAD CALL - ramp longer than a sampling phase, negative T', () => {
    expect(() => cyclicalTemperature({ value: 1, layout, rampSteps: 64 })).toThrow(/rampSteps=64 must be at most the shortest sampling phase \(63 steps\)/);
    expect(() => cyclicalTemperature({ value: -1, layout })).toThrow(/value=-1/);
  });
});

describe('methods', () => {
  const network = { ...UNET_DEFAULTS, seed: 5 };
  const steps = range(0, 100);

  it('hmcMethod: cyclical cosine η, T only in sampling phases (noise gate open there), S samples per cycle', () => {
    const m = hmcMethod({ steps: 100, lr: 0.1, cycles: 2, beta: 0.2, samplesPerCycle: 2, temperature: 0.3, network });
    // Cycles of 50, sampling phases 40–49 and 90–99, samples at the ends of their halves.
    expect(m.sampleSteps).toEqual([44, 49, 94, 99]);
    expect(steps.filter(m.isSampleStep)).toEqual([44, 49, 94, 99]);
    expect(steps.filter((k) => m.phase(k) === 'sample')).toEqual([...range(40, 50), ...range(90, 100)]);
    expect(steps.filter(m.noise)).toEqual(steps.filter((k) => m.phase(k) === 'sample'));
    expect([0, 39, 40, 99].map(m.temperature)).toEqual([0, 0, 0.3, 0.3]);
    expect([m.lr(0), m.lr(50)]).toEqual([0.1, 0.1]);
    expect(m.lr(25)).toBeCloseTo(0.05, 15);
    expect([m.cycle(49), m.cycle(50)]).toEqual([0, 1]);
    expect([m.members, m.passesPerSample, m.model(0).seed]).toEqual([1, 1, 5]);
  });

  it('sgdTrajectoryMethod: the cycles and samples of hmc at T = 0, no noise', () => {
    const o = { steps: 100, lr: 0.1, cycles: 2, beta: 0.2, samplesPerCycle: 2, network };
    const hmc = hmcMethod({ ...o, temperature: 0.3 });
    const sgd = sgdTrajectoryMethod(o);
    expect(sgd.sampleSteps).toEqual(hmc.sampleSteps);
    expect(steps.map(sgd.lr)).toEqual(steps.map(hmc.lr));
    expect(steps.every((k) => sgd.temperature(k) === 0 && !sgd.noise(k))).toBe(true);
  });

  it('baselines: T = 0, cosine or constant η, one sample after the last step; dropout, passes and members', () => {
    const det = deterministicMethod({ steps: 100, lr: 0.1, network });
    expect(det.sampleSteps).toEqual([99]);
    expect(steps.filter(det.isSampleStep)).toEqual([99]);
    expect([det.lr(0), det.lr(50)].map((x) => Number(x.toFixed(15)))).toEqual([0.1, 0.05]);
    expect(steps.every((k) => det.temperature(k) === 0 && !det.noise(k) && det.phase(k) === 'explore')).toBe(true);
    expect(deterministicMethod({ steps: 100, lr: 0.1, schedule: 'constant', network }).lr(99)).toBe(0.1);
    const mc = mcDropoutMethod({ steps: 100, lr: 0.1, network, rate: 0.2, passes: 7 });
    expect([mc.model(0).dropout, mc.passesPerSample, network.dropout]).toEqual([0.2, 7, 0]);
    const ens = ensembleMethod({ steps: 100, lr: 0.1, network, members: 3 });
    expect([ens.members, ...[0, 1, 2].map((i) => ens.model(i).seed)]).toEqual([3, 5, 1005, 2005]);
  });

  it('BAD CALL - a method names the bad option', () => {
    expect(() => mcDropoutMethod({ steps: 10, lr: 0.1, network, rate: 1, passes: 2 })).toThrow(/mcdropout: rate=1 must be in \(0, 1\)/);
    expect(() => ensembleMethod({ steps: 10, lr: 0.1, network, members: 0 })).toThrow(/ensemble: members=0 must be a positive integer/);
    expect(() => deterministicMethod({ steps: 0, lr: 0.1, network })).toThrow(/deterministic: steps=0 must be a positive integer/);
    expect(() => hmcMethod({ steps: 10, lr: 0.1, cycles: 4, temperature: 0.1, network })).toThrow(/cycleLayout: .*fewer than samplesPerCycle=3/);
  });
});
