/**
 * Compares the metrics with reference values from scikit-learn, scipy and numpy, computed once by
 * scripts/reference-metrics.py on seeded random inputs (test/fixtures/metrics-reference.json).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  argmax,
  auroc,
  averagePrecision,
  brierScore,
  brierScorePerClass,
  calibrationError,
  calibrationRoi,
  dice,
  distanceTransform,
  failureDetection,
  negativeLogLikelihood,
  rankData,
  riskCoverage,
  spearman,
  surfaceDistances,
  uncertaintyErrorOverlap,
  type GridDims,
  type MetricValue,
} from '../src/metrics/index.js';
import { UncertaintyAccumulator } from '../src/uncertainty/index.js';

const here = dirname(fileURLToPath(import.meta.url));
type Ref = { value: number | null; reason?: string };
type Nums = (number | null)[];
interface EdtCase { dims: GridDims; spacing: number[]; features: number[]; distance: number[] }
interface SurfaceCase {
  name: string; dims: GridDims; spacing: number[]; spacingKnown: boolean; percentile: number; classes: number[];
  pred: number[]; target: number[]; hausdorff: Ref[]; assd: Ref[]; dice: Ref[];
}
interface CalibrationRef {
  bins: number; n: number; ece: number; mce: number; count: number[]; meanConfidence: Nums; accuracy: Nums;
  nll: number; brier: number; brierPerClass: number[];
}
interface RankingCase {
  name: string; scores: number[]; labels: number[]; mask?: number[]; auroc: number; averagePrecision: number;
  thresholds: number[]; coverage: number[]; risk: number[]; aurc: number; optimalAurc: number; aurcGeifman?: number;
  overlapThresholds: number[]; overlapDice: number[]; bestThreshold: number; bestDice: number;
}
interface Fixture {
  generator: string;
  edt: EdtCase[];
  surface: SurfaceCase[];
  calibration: {
    dims: GridDims; numClasses: number; probs: number[]; target: number[]; margin: number; roi: number[];
    all: CalibrationRef; all10: CalibrationRef; roiResult: CalibrationRef;
  };
  ranking: RankingCase[];
  spearman: { a: number[]; b: number[]; rho: number; ranksB: number[] };
  failure: { scores: number[]; dice: Nums; threshold: number; n: number; excluded: number; failures: number; auroc: number; spearman: number };
  uncertainty: { numClasses: number; samples: number[][]; mean: number[]; predictiveEntropy: number[];
    expectedEntropy: number[]; mutualInformation: number[]; variance: number[] };
}

const ref = JSON.parse(readFileSync(resolve(here, 'fixtures/metrics-reference.json'), 'utf8')) as Fixture;

/** |got − want| ≤ rel·|want| (+ a tiny absolute floor for values at 0). */
function expectClose(got: number, want: number, rel = 1e-6, abs = 1e-12): void {
  if (Math.abs(got - want) > rel * Math.abs(want) + abs) expect(got).toBe(want);
}

function expectArrayClose(got: ArrayLike<number>, want: readonly (number | null)[], rel = 1e-6, abs = 1e-12): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    if (w === null) expect(got[i]).toBeNaN();
    else expectClose(got[i], w, rel, abs);
  }
}

function expectMetric(got: MetricValue, want: Ref): void {
  if (want.value === null) {
    expect(got.value).toBeNaN();
    expect(got.reason).toBe(want.reason);
  } else {
    expectClose(got.value, want.value);
    expect(got.reason).toBeUndefined();
  }
}

describe('reference values (scripts/reference-metrics.py)', () => {
  it('fixture is small and names its generator', () => {
    expect(ref.generator).toBe('scripts/reference-metrics.py');
    expect(readFileSync(resolve(here, 'fixtures/metrics-reference.json')).byteLength).toBeLessThan(200_000);
  });

  it.each(ref.edt.map((c): [string, EdtCase] => [c.dims.join('×'), c]))(
    'distanceTransform %s = scipy distance_transform_edt(sampling=)',
    (_n, c) => {
      const d = distanceTransform(Uint8Array.from(c.features), c.dims as GridDims, c.spacing);
      expectArrayClose(d, c.distance);
    },
  );

  it.each(ref.surface.map((c): [string, SurfaceCase] => [c.name, c]))('surfaceDistances and dice: %s', (_n, c) => {
    const pred = Uint8Array.from(c.pred);
    const target = Uint8Array.from(c.target);
    const r = surfaceDistances(pred, target, {
      dims: c.dims,
      spacing: c.spacing,
      spacingKnown: c.spacingKnown,
      percentile: c.percentile,
      classes: c.classes,
    });
    expect(r.unit).toBe(c.spacingKnown ? 'mm' : 'px');
    r.hausdorff.forEach((m, i) => expectMetric(m, c.hausdorff[i]));
    r.assd.forEach((m, i) => expectMetric(m, c.assd[i]));
    dice(pred, target, { classes: c.classes }).forEach((m, i) => expectMetric(m, c.dice[i]));
  });

  describe('calibration', () => {
    const c = ref.calibration;
    const probs = Float32Array.from(c.probs);
    const target = Uint8Array.from(c.target);
    const roi = calibrationRoi(target, argmax(probs, c.numClasses), { dims: c.dims, margin: c.margin });

    it('calibrationRoi = scipy EDT ≤ margin on the foreground of target ∪ prediction', () => {
      expect([...roi]).toEqual(c.roi);
    });

    it.each([
      ['all pixels, 15 bins', c.all, false],
      ['all pixels, 10 bins', c.all10, false],
      ['region of interest, 15 bins', c.roiResult, true],
    ] as [string, CalibrationRef, boolean][])('%s: ECE, MCE, reliability, NLL, Brier (sklearn brier_score_loss per class)', (_n, want, useRoi) => {
      const mask = useRoi ? roi : undefined;
      const opts = { numClasses: c.numClasses, mask };
      const r = calibrationError(probs, target, { ...opts, bins: want.bins });
      expect(r.n).toBe(want.n);
      expectClose(r.ece.value, want.ece);
      expectClose(r.mce.value, want.mce);
      expect([...r.reliability.count]).toEqual(want.count);
      expectArrayClose(r.reliability.meanConfidence, want.meanConfidence);
      expectArrayClose(r.reliability.accuracy, want.accuracy);
      expectClose(negativeLogLikelihood(probs, target, opts).value, want.nll);
      expectClose(brierScore(probs, target, opts).value, want.brier);
      expectArrayClose(brierScorePerClass(probs, target, opts).map((m) => m.value), want.brierPerClass);
    });
  });

  it.each(ref.ranking.map((c): [string, RankingCase] => [c.name, c]))(
    'AUROC, AP (sklearn), risk–coverage and overlap: %s',
    (_n, c) => {
      const mask = c.mask ? Uint8Array.from(c.mask) : undefined;
      expectClose(auroc(c.scores, c.labels, { mask }).value, c.auroc);
      expectClose(averagePrecision(c.scores, c.labels, { mask }).value, c.averagePrecision);
      const rc = riskCoverage(c.scores, c.labels, { mask });
      expectArrayClose(rc.thresholds, c.thresholds);
      expectArrayClose(rc.coverage, c.coverage);
      expectArrayClose(rc.risk, c.risk);
      expectClose(rc.aurc.value, c.aurc);
      expectClose(rc.optimalAurc.value, c.optimalAurc);
      if (c.aurcGeifman !== undefined) expectClose(rc.aurc.value, c.aurcGeifman);
      const ov = uncertaintyErrorOverlap(c.scores, c.labels, { mask, thresholds: c.overlapThresholds });
      expectArrayClose(ov.dice.map((m) => m.value), c.overlapDice);
      expect(ov.best.threshold).toBe(c.bestThreshold);
      expectClose(ov.best.dice.value, c.bestDice);
    },
  );

  it('spearman and rankData with ties = scipy', () => {
    const s = ref.spearman;
    expectClose(spearman(s.a, s.b).value, s.rho);
    expect([...rankData(s.b)]).toEqual(s.ranksB);
  });

  it('failureDetection = sklearn roc_auc_score and scipy spearmanr on the non-NaN cases', () => {
    const f = ref.failure;
    const r = failureDetection(f.scores, f.dice.map((v) => v ?? NaN), { threshold: f.threshold });
    expect(r).toMatchObject({ n: f.n, excluded: f.excluded, failures: f.failures });
    expectClose(r.auroc.value, f.auroc);
    expectClose(r.spearman.value, f.spearman);
  });

  it('uncertainty maps = numpy (float32 outputs)', () => {
    const u = ref.uncertainty;
    const acc = new UncertaintyAccumulator({ numClasses: u.numClasses, numPixels: u.samples[0].length / u.numClasses });
    const m = u.samples.reduce((a, s) => a.add(Float32Array.from(s)), acc).result();
    expectArrayClose(m.mean, u.mean, 1e-6, 1e-7);
    expectArrayClose(m.predictiveEntropy, u.predictiveEntropy, 1e-6, 1e-7);
    expectArrayClose(m.expectedEntropy, u.expectedEntropy, 1e-6, 1e-7);
    expectArrayClose(m.mutualInformation, u.mutualInformation, 1e-6, 1e-7);
    expectArrayClose(m.variance, u.variance, 1e-6, 1e-7);
  });
});
