import { describe, expect, it } from 'vitest';
import { dice, reduce, type StructureMetric } from '../src/metrics/index.js';

const u8 = (a: number[]): Uint8Array => Uint8Array.from(a);
const values = (r: StructureMetric[]): number[] => r.map((m) => m.value);

// [pred, target, options, expected {cls, value, reason?}[]] (MONAI-style table)
const CASES: [string, number[], number[], Parameters<typeof dice>[2], StructureMetric[]][] = [
  [
    'mixed overlap, RV only in the target → 0',
    [0, 1, 1, 2, 2, 0],
    [0, 1, 2, 2, 2, 3],
    {},
    [
      { cls: 1, value: 2 / 3 },
      { cls: 2, value: 4 / 5 },
      { cls: 3, value: 0 },
    ],
  ],
  [
    'RV in neither → NaN both-empty',
    [1, 1, 0, 2],
    [1, 0, 0, 2],
    {},
    [
      { cls: 1, value: 2 / 3 },
      { cls: 2, value: 1 },
      { cls: 3, value: NaN, reason: 'both-empty' },
    ],
  ],
  [
    'RV only in the prediction → 0',
    [3, 1],
    [0, 1],
    { classes: [3] },
    [{ cls: 3, value: 0 }],
  ],
  [
    'EMIDEC: RV unlabelled, predicted RV counts as background',
    [3, 0, 1, 2],
    [0, 0, 1, 2],
    { classes: [0, 1, 2, 3], labelled: [0, 1, 2] },
    [
      { cls: 0, value: 1 },
      { cls: 1, value: 1 },
      { cls: 2, value: 1 },
      { cls: 3, value: NaN, reason: 'unlabelled' },
    ],
  ],
  [
    'the same without labelled: background loses the RV pixel',
    [3, 0, 1, 2],
    [0, 0, 1, 2],
    { classes: [0, 3] },
    [
      { cls: 0, value: 2 / 3 },
      { cls: 3, value: 0 },
    ],
  ],
];

describe('dice', () => {
  it.each(CASES)('%s', (_name, pred, target, opts, expected) => {
    const got = dice(u8(pred), u8(target), opts);
    expect(got.map((m) => m.cls)).toEqual(expected.map((m) => m.cls));
    got.forEach((m, i) => {
      if (Number.isNaN(expected[i].value)) {
        expect(m.value).toBeNaN();
        expect(m.reason).toBe(expected[i].reason);
      } else {
        expect(m.value).toBeCloseTo(expected[i].value, 12);
        expect(m.reason).toBeUndefined();
      }
    });
  });

  it('is symmetric and 1 on identical maps', () => {
    const a = u8([0, 1, 2, 3, 3, 2, 1, 0, 1]);
    const b = u8([0, 1, 2, 2, 3, 1, 1, 0, 0]);
    expect(values(dice(a, b))).toEqual(values(dice(b, a)));
    expect(values(dice(a, a))).toEqual([1, 1, 1]);
  });

  it('BAD CALL - labels out of range, length mismatch, bad classes', () => {
    expect(() => dice(u8([0, 4]), u8([0, 1]))).toThrow(/dice: pred\[1\] = 4/);
    expect(() => dice(u8([0, 1]), u8([0]))).toThrow(/dice: target has 1 pixels, expected 2/);
    expect(() => dice(u8([0]), u8([0]), { classes: [5] })).toThrow(RangeError);
    expect(() => dice([0, 1] as unknown as Uint8Array, u8([0, 1]))).toThrow(/Uint8Array/);
  });
});

describe('reduce', () => {
  const vals = [
    { value: 0.9 },
    { value: NaN, reason: 'both-empty' as const },
    0.7,
    { value: NaN, reason: 'missing' as const },
    { value: NaN, reason: 'both-empty' as const },
  ];

  it('mean skips NaN and counts them by reason', () => {
    const r = reduce(vals, 'mean');
    expect(r.mean).toBeCloseTo(0.8, 12);
    expect(r.notNaN).toBe(2);
    expect(r.nan).toBe(3);
    expect(r.nanByReason).toEqual({ 'both-empty': 2, missing: 1 });
    expect(r.std).toBeUndefined();
  });

  it('mean_std gives the sample standard deviation', () => {
    const r = reduce(vals, 'mean_std');
    expect(r.std).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(reduce([0.5], 'mean_std').std).toBeNaN();
  });

  it('none keeps every value in order', () => {
    const r = reduce(vals, 'none');
    expect(r.values?.map((v) => (Number.isNaN(v) ? 'nan' : v))).toEqual([0.9, 'nan', 0.7, 'nan', 'nan']);
    expect(r.notNaN).toBe(2);
  });

  it('all NaN (or empty) → NaN mean, bare NaN counted as unknown', () => {
    const r = reduce([NaN, { value: NaN, reason: 'unlabelled' }]);
    expect(r.mean).toBeNaN();
    expect(r.notNaN).toBe(0);
    expect(r.nanByReason).toEqual({ unknown: 1, unlabelled: 1 });
    expect(reduce([]).mean).toBeNaN();
  });

  it('BAD CALL - unknown reduction', () => {
    expect(() => reduce([1], 'sum' as never)).toThrow(/reduction must be/);
  });
});
