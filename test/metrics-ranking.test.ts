import { describe, expect, it } from 'vitest';
import {
  auroc,
  averagePrecision,
  caseDice,
  errorMask,
  failureDetection,
  rankData,
  riskCoverage,
  riskCoverageOfRisks,
  spearman,
  uncertaintyErrorMetrics,
  uncertaintyErrorOverlap,
  type StructureMetric,
} from '../src/metrics/index.js';

describe('auroc and averagePrecision', () => {
  // scikit-learn's documentation example: roc_auc_score → 0.75, average_precision_score → 0.8333…
  const y = [0, 0, 1, 1];
  const s = [0.1, 0.4, 0.35, 0.8];

  it('sklearn documentation example', () => {
    expect(auroc(s, y).value).toBeCloseTo(0.75, 12);
    expect(averagePrecision(s, y).value).toBeCloseTo(5 / 6, 12);
  });

  it.each([
    // [scores, labels, AUROC, AP]
    [[0.5, 0.5], [0, 1], 0.5, 0.5], // one tie: counts one half; one PR point (recall 1, precision ½)
    [[0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1], 0.875, 5 / 6], // AP = ½·1 + ½·(2/3)
    [[0.9, 0.8, 0.1], [0, 1, 1], 0.0, (1 / 2) * (1 / 2) + (1 / 2) * (2 / 3)],
    [[3, 1, 2], [1, 0, 1], 1, 1],
  ])('ties as sklearn: %j / %j → AUROC %f, AP %f', (scores, labels, a, ap) => {
    expect(auroc(scores, labels).value).toBeCloseTo(a, 12);
    expect(averagePrecision(scores, labels).value).toBeCloseTo(ap, 12);
  });

  it('a mask restricts the elements', () => {
    const m = Uint8Array.from([1, 0, 1, 1]);
    expect(auroc(s, y, { mask: m }).value).toBe(1); // 0.1 vs 0.35, 0.8
  });

  it('one class only → NaN single-class; no positive → AP NaN no-positives; all positive → AP 1', () => {
    expect(auroc([0.1, 0.2], [1, 1])).toEqual({ value: NaN, reason: 'single-class' });
    expect(auroc([0.1, 0.2], [0, 0])).toEqual({ value: NaN, reason: 'single-class' });
    expect(averagePrecision([0.1, 0.2], [0, 0])).toEqual({ value: NaN, reason: 'no-positives' });
    expect(averagePrecision([0.1, 0.2], [1, 1]).value).toBe(1);
  });

  it('BAD CALL - NaN score, length mismatch', () => {
    expect(() => auroc([0.1, NaN], [0, 1])).toThrow(/auroc: scores\[1\] = NaN is not finite/);
    expect(() => averagePrecision([0.1], [0, 1])).toThrow(/averagePrecision: scores and labels must have the same length/);
  });
});

describe('riskCoverage', () => {
  it('curve and AURC by hand', () => {
    // most certain first: errors at ranks 2 and 4 → risks 0, ½, ⅓, ½
    const r = riskCoverage([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1]);
    expect([...r.coverage]).toEqual([0.25, 0.5, 0.75, 1]);
    expect([...r.risk].map((v) => +v.toFixed(12))).toEqual([0, 0.5, +(1 / 3).toFixed(12), 0.5]);
    expect([...r.thresholds]).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(r.aurc.value).toBeCloseTo(1 / 3, 12);
    expect(r.optimalAurc.value).toBeCloseTo(5 / 24, 12); // risks 0, 0, ⅓, ½
    expect(r.eAurc.value).toBeCloseTo(1 / 8, 12);
  });

  it('tied uncertainties are covered together', () => {
    const r = riskCoverage([0.1, 0.1, 0.2], [1, 0, 0]);
    expect([...r.coverage].map((v) => +v.toFixed(12))).toEqual([+(2 / 3).toFixed(12), 1]);
    expect(r.aurc.value).toBeCloseTo((2 / 3) * (1 / 2) + (1 / 3) * (1 / 3), 12);
  });

  it('no errors → AURC 0; nothing covered → NaN empty-input', () => {
    expect(riskCoverage([0.3, 0.1], [0, 0]).aurc.value).toBe(0);
    expect(riskCoverage([0.3], [1], { mask: Uint8Array.from([0]) }).aurc).toEqual({ value: NaN, reason: 'empty-input' });
  });
});

describe('riskCoverageOfRisks (risk = 1 − Dice per item)', () => {
  // [uncertainty, risks, coverage, risk, aurc, optimalAurc], each by hand.
  const TABLE: [string, number[], number[], number[], number[], number, number][] = [
    // covered means 0, .25, .7/3, .4; AURC = (0+.25+.7/3+.4)/4; oracle order 0,.2,.5,.9: means 0,.1,.7/3,.4
    ['distinct', [0.1, 0.2, 0.3, 0.4], [0, 0.5, 0.2, 0.9], [0.25, 0.5, 0.75, 1], [0, 0.25, 0.7 / 3, 0.4], (0.25 + 0.7 / 3 + 0.4) / 4, (0.1 + 0.7 / 3 + 0.4) / 4],
    // the tie covers two items at once (mean .5), then all three (mean .5); oracle 0,.5,1: means 0,.25,.5
    ['tied', [0.1, 0.1, 0.2], [1, 0, 0.5], [2 / 3, 1], [0.5, 0.5], 0.5, 0.25],
    // ranked exactly as the oracle: e-AURC 0
    ['oracle', [3, 1, 2], [0.6, 0, 0.3], [1 / 3, 2 / 3, 1], [0, 0.15, 0.3], (0.15 + 0.3) / 3, (0.15 + 0.3) / 3],
    // every item perfect: no risk anywhere
    ['no risk', [0.5, 0.2], [0, 0], [0.5, 1], [0, 0], 0, 0],
  ];
  it.each(TABLE)('%s', (_name, u, r, coverage, risk, aurc, optimal) => {
    const rc = riskCoverageOfRisks(u, r);
    expect([...rc.coverage]).toEqual(coverage.map((c) => expect.closeTo(c, 12)));
    expect([...rc.risk]).toEqual(risk.map((c) => expect.closeTo(c, 12)));
    expect(rc.aurc.value).toBeCloseTo(aurc, 12);
    expect(rc.optimalAurc.value).toBeCloseTo(optimal, 12);
    expect(rc.eAurc.value).toBeCloseTo(aurc - optimal, 12);
  });

  it('0/1 risks give exactly riskCoverage', () => {
    const u = [0.3, 0.1, 0.1, 0.7, 0.2, 0.7, 0.5];
    const e = [1, 0, 1, 1, 0, 0, 0];
    const a = riskCoverageOfRisks(u, e);
    const b = riskCoverage(u, e);
    expect([...a.coverage]).toEqual([...b.coverage]);
    expect([...a.risk].map((x) => x.toFixed(12))).toEqual([...b.risk].map((x) => x.toFixed(12)));
    expect(a.aurc.value).toBeCloseTo(b.aurc.value, 12);
    expect(a.optimalAurc.value).toBeCloseTo(b.optimalAurc.value, 12);
  });

  it('no item → NaN empty-input', () => {
    const rc = riskCoverageOfRisks([], []);
    expect(rc.aurc).toEqual({ value: NaN, reason: 'empty-input' });
    expect(rc.eAurc).toEqual({ value: NaN, reason: 'empty-input' });
  });

  it('BAD CALL - NaN risk, risk outside [0, 1], lengths', () => {
    expect(() => riskCoverageOfRisks([1, 2], [0, NaN])).toThrow(/risks/);
    expect(() => riskCoverageOfRisks([1, 2], [0, 1.5])).toThrow(/risks\[1\] = 1.5 is outside \[0, 1\]/);
    expect(() => riskCoverageOfRisks([1], [0, 1])).toThrow(/uncertainty and risks/);
  });
});

describe('rankData and spearman', () => {
  it('average ranks for ties (scipy rankdata)', () => {
    expect([...rankData([10, 20, 20, 30])]).toEqual([1, 2.5, 2.5, 4]);
    expect([...rankData([3, 1, 3, 3])]).toEqual([3, 1, 3, 3]);
  });

  it.each([
    [[1, 2, 3, 4], [4, 3, 2, 1], -1],
    [[1, 2, 3, 4], [10, 20, 30, 40], 1],
    [[1, 2, 3], [1, 3, 2], 0.5],
  ])('%j vs %j → %f', (a, b, rho) => {
    expect(spearman(a, b).value).toBeCloseTo(rho, 12);
  });

  it('constant input → NaN constant-input; fewer than 2 → empty-input', () => {
    expect(spearman([1, 1, 1], [1, 2, 3])).toEqual({ value: NaN, reason: 'constant-input' });
    expect(spearman([1], [2])).toEqual({ value: NaN, reason: 'empty-input' });
  });
});

describe('uncertainty vs error', () => {
  it('errorMask: mismatches, predicted unlabelled class counted as background', () => {
    const pred = Uint8Array.from([0, 1, 3, 3, 2]);
    const gt = Uint8Array.from([0, 2, 0, 1, 2]);
    expect([...errorMask(pred, gt)]).toEqual([0, 1, 1, 1, 0]);
    expect([...errorMask(pred, gt, { labelled: [0, 1, 2] })]).toEqual([0, 1, 0, 1, 0]);
  });

  it('overlap: Dice of (u ≥ t) with the errors, and the exact best threshold', () => {
    const u = [0.9, 0.8, 0.1, 0.05];
    const e = [1, 0, 1, 0];
    const r = uncertaintyErrorOverlap(u, e, { thresholds: [0.5, 0.9, 1] });
    expect(r.dice.map((m) => m.value)).toEqual([0.5, 2 / 3, 0]);
    expect(r.best.threshold).toBe(0.1);
    expect(r.best.dice.value).toBeCloseTo(0.8, 12);
    const none = uncertaintyErrorOverlap(u, [0, 0, 0, 0], { thresholds: [0.5] });
    expect(none.dice[0]).toEqual({ value: NaN, reason: 'no-positives' });
  });

  it('uncertaintyErrorMetrics agrees with the separate functions', () => {
    const u = [0.9, 0.8, 0.1, 0.05, 0.5, 0.5, 0.3];
    const e = [1, 0, 1, 0, 1, 0, 0];
    const all = uncertaintyErrorMetrics(u, e, { thresholds: [0.4] });
    expect(all.n).toBe(7);
    expect(all.errors).toBe(3);
    expect(all.auroc).toEqual(auroc(u, e));
    expect(all.averagePrecision).toEqual(averagePrecision(u, e));
    expect(all.riskCoverage).toEqual(riskCoverage(u, e));
    expect(all.overlap).toEqual(uncertaintyErrorOverlap(u, e, { thresholds: [0.4] }));
  });
});

describe('failure detection', () => {
  const row = (d: [number, number, number]): StructureMetric[] => [
    { cls: 1, value: d[0] },
    { cls: 2, value: d[1] },
    Number.isNaN(d[2]) ? { cls: 3, value: NaN, reason: 'unlabelled' } : { cls: 3, value: d[2] },
  ];

  it('caseDice: one structure or the mean over non-NaN structures', () => {
    const rows = [row([0.8, 0.6, NaN]), row([1, 0.5, 0.6])];
    expect([...caseDice(rows, 'mean')].map((v) => +v.toFixed(12))).toEqual([0.7, 0.7]);
    expect([...caseDice(rows, 2)]).toEqual([0.6, 0.5]);
    expect(caseDice(rows, 3)[0]).toBeNaN();
    expect(caseDice([[{ cls: 1, value: NaN, reason: 'both-empty' }]], 'mean')[0]).toBeNaN();
  });

  it('failure = Dice < threshold; NaN Dice excluded and counted; AUROC and Spearman', () => {
    const r = failureDetection([0.1, 0.6, 0.3, 0.9, 0.2], [0.9, 0.7, NaN, 0.5, 0.85]);
    expect(r).toMatchObject({ n: 4, excluded: 1, threshold: 0.8, failures: 2 });
    expect(r.auroc.value).toBe(1); // failures score 0.6, 0.9 above 0.1, 0.2
    expect(r.spearman.value).toBeCloseTo(-1, 12);
    const strict = failureDetection([0.1, 0.6, 0.3, 0.9, 0.2], [0.9, 0.7, NaN, 0.5, 0.85], { threshold: 0.6 });
    expect(strict.failures).toBe(1);
  });

  it('all or none failed → AUROC NaN single-class', () => {
    expect(failureDetection([0.1, 0.2], [0.5, 0.6]).auroc).toEqual({ value: NaN, reason: 'single-class' });
    expect(failureDetection([0.1, 0.2], [0.9, 0.95]).auroc.reason).toBe('single-class');
  });

  it('BAD CALL - lengths, non-finite scores', () => {
    expect(() => failureDetection([0.1], [0.5, 0.6])).toThrow(/failureDetection: scores and dice/);
    expect(() => failureDetection([NaN], [0.5])).toThrow(/scores\[0\] = NaN/);
  });
});
