import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerEvaluateCommand, runEvaluate } from '../src/cli/evaluate.js';
import { writeNifti, type Volume } from '../src/data/index.js';
import {
  chooseWarningScore,
  evaluateCase,
  evaluateDirectory,
  summarize,
  type CaseEvaluation,
  type CaseInput,
} from '../src/evaluate/index.js';
import { calibrationError, brierScore, negativeLogLikelihood } from '../src/metrics/index.js';
import { Rng } from '../src/util/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'hmcseg-evaluate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ALL = [true, true, true, true];
const NO_RV = [true, true, true, false];
const THIRD = Math.fround(0.1 / 3);

/** A label volume nx×ny×nz with rectangles [z, x0, x1, y0, y1, class] (inclusive bounds). */
function labels(dims: [number, number, number], boxes: readonly (readonly number[])[]): Uint8Array {
  const [nx, ny] = dims;
  const out = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [z, x0, x1, y0, y1, c] of boxes) {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) out[x + nx * (y + ny * z)] = c;
  }
  return out;
}

/** Probabilities, class-major [class][z][y][x]: `hi` on the given label, the rest split evenly. */
function probsFor(seg: Uint8Array, hi = 0.9): Float32Array {
  const n = seg.length;
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 4; c++) out[c * n + i] = c === seg[i] ? hi : (1 - hi) / 3;
  return out;
}

/**
 * Case A, 8×8×2, spacing 1.5×2×10 mm. Slice 0: LV 2×2 exact; MYO 2×2 at x 5..6 in the ground
 * truth, x 6..7 predicted (Dice 0.5, HD95 = ASSD·2 = 1 voxel in x = 1.5 mm). Slice 1: LV exact.
 * RV in neither. 4 error pixels: (5,2), (5,3) missed, (7,2), (7,3) wrong.
 */
const dimsA: [number, number, number] = [8, 8, 2];
const targetA = labels(dimsA, [[0, 2, 3, 2, 3, 1], [0, 5, 6, 2, 3, 2], [1, 2, 3, 2, 3, 1]]);
const predA = labels(dimsA, [[0, 2, 3, 2, 3, 1], [0, 6, 7, 2, 3, 2], [1, 2, 3, 2, 3, 1]]);
const errorsA = [5 + 8 * 2, 5 + 8 * 3, 7 + 8 * 2, 7 + 8 * 3];
// Entropy: 1 on the errors, 0.5 on the slice-0 LV, 0 elsewhere (perfect ranking).
const lv0 = labels(dimsA, [[0, 2, 3, 2, 3, 1]]);
const lv1 = labels(dimsA, [[1, 2, 3, 2, 3, 1]]);
const entropyA = lv0.reduce((m, v, i) => ((m[i] = v ? 0.5 : 0), m), new Float32Array(128));
for (const i of errorsA) entropyA[i] = 1;
// MI: 0.5 on the errors, 1 on the slice-1 LV (4 correct pixels rank above them), 0 elsewhere.
const miA = lv1.reduce((m, v, i) => ((m[i] = v ? 1 : 0), m), new Float32Array(128));
for (const i of errorsA) miA[i] = 0.5;

const caseA: CaseInput = {
  id: 'caseA',
  patient: 'pA',
  phase: 'ED',
  group: 'NOR',
  dims: dimsA,
  spacing: [1.5, 2, 10],
  spacingKnown: true,
  target: targetA,
  labelled: ALL,
  segmentation: predA,
  probabilities: probsFor(predA),
  entropy: entropyA,
  mutualInformation: miA,
  sliceScores: [{ score: 0.7 }, { score: 0.2 }],
  volumeScore: 0.5,
};

/** Case C, 8×8×1: LV exact, RV in the ground truth only, MYO in the prediction only. */
const dimsC: [number, number, number] = [8, 8, 1];
const caseC: CaseInput = {
  id: 'caseC',
  phase: 'ES',
  dims: dimsC,
  spacing: [1.5, 2, 10],
  spacingKnown: true,
  target: labels(dimsC, [[0, 2, 3, 2, 3, 1], [0, 5, 5, 5, 6, 3]]),
  labelled: ALL,
  segmentation: labels(dimsC, [[0, 2, 3, 2, 3, 1], [0, 0, 0, 5, 6, 2]]),
  sliceScores: [{ score: 0.1 }],
  volumeScore: 0.3,
};

/** Case D, 8×8×1: nothing anywhere. */
const caseD: CaseInput = {
  id: 'caseD',
  dims: dimsC,
  spacing: [1.5, 2, 10],
  spacingKnown: true,
  target: new Uint8Array(64),
  labelled: ALL,
  segmentation: new Uint8Array(64),
  sliceScores: [{ score: 0.4 }],
  volumeScore: 0.1,
};

describe('evaluateCase', () => {
  const a = evaluateCase(caseA);

  it('per structure: perfect LV, shifted MYO (Dice 0.5, HD95 1.5 mm, ASSD 0.75 mm), absent RV null both-empty', () => {
    expect(a.unit).toBe('mm');
    expect(a.structures.LV).toEqual({ labelled: true, dice: { value: 1 }, hd95: { value: 0 }, assd: { value: 0 } });
    expect(a.structures.MYO.dice.value).toBe(0.5);
    expect(a.structures.MYO.hd95.value).toBeCloseTo(1.5, 12);
    expect(a.structures.MYO.assd.value).toBeCloseTo(0.75, 12);
    const bothEmpty = { value: null, reason: 'both-empty' };
    expect(a.structures.RV).toEqual({ labelled: true, dice: bothEmpty, hd95: bothEmpty, assd: bothEmpty });
    expect(a.meanDice.value).toBeCloseTo(0.75, 12);
    expect(a.failed).toBe(true);
    expect(a.volumeScore).toBe(0.5);
    expect({ patient: a.patient, phase: a.phase, group: a.group }).toEqual({ patient: 'pA', phase: 'ED', group: 'NOR' });
  });

  it('per slice: Dice per structure, mean over the structures present, score, failure', () => {
    expect(a.slices).toHaveLength(2);
    expect(a.slices[0].dice.MYO.value).toBe(0.5);
    expect(a.slices[0].meanDice.value).toBeCloseTo(0.75, 12);
    expect(a.slices[0]).toMatchObject({ z: 0, score: 0.7, failed: true });
    expect(a.slices[1].dice.MYO).toEqual({ value: null, reason: 'both-empty' });
    expect(a.slices[1]).toMatchObject({ z: 1, meanDice: { value: 1 }, score: 0.2, failed: false });
  });

  it('calibration over all pixels and the ROI equals the reference (numpy/scipy, test comment)', () => {
    // 124 of 128 pixels right at confidence 0.9 (float32): ECE = MCE = 124/128 − 0.9.
    const cal = a.calibration!;
    expect(cal.all.pixels).toBe(128);
    expect(cal.all.ece.value).toBeCloseTo(124 / 128 - Math.fround(0.9), 7);
    expect(cal.all.mce.value).toBeCloseTo(124 / 128 - Math.fround(0.9), 7);
    expect(cal.all.nll.value).toBeCloseTo((-124 * Math.log(Math.fround(0.9)) - 4 * Math.log(THIRD)) / 128, 7);
    expect(cal.all.brier.value).toBeCloseTo(0.06750000351729554, 7);
    expect(cal.all.bins.count[13]).toBe(128);
    expect(cal.all.bins.correct[13]).toBe(124);
    expect(cal.all.bins.confidenceSum[13]).toBeCloseTo(128 * Math.fround(0.9), 4);
    // Default margin 5: every pixel but (7, 7) of slice 1, 5.66 px from its LV (scipy: 127).
    expect(cal.roi.pixels).toBe(127);
    expect(cal.roi.ece.value).toBeCloseTo(0.06850396084973187, 7);
    expect(cal.roi.nll.value).toBeCloseTo(0.20916642521521506, 7);
    const tight = evaluateCase({ ...caseA, roiMargin: 1 }).calibration!.roi;
    expect(tight.pixels).toBe(36);
    expect(tight.ece.value).toBeCloseTo(0.01111108726925325, 7);
    expect(tight.brier.value).toBeCloseTo(0.2059259253574748, 7);
  });

  it('uncertainty vs errors: entropy ranks perfectly, MI puts 4 correct pixels above the errors', () => {
    const e = a.uncertainty!.entropy!;
    expect(e).toMatchObject({ pixels: 128, errors: 4, auroc: { value: 1 }, aupr: { value: 1 } });
    expect(e.bestOverlap).toEqual({ dice: { value: 1 }, threshold: 1 });
    // The 4 errors tie at 1 and are covered together: AURC = (4/128)·(4/128), above the optimum.
    expect(e.aurc.value).toBeCloseTo((4 / 128) * (4 / 128), 12);
    expect(e.eAurc.value).toBeCloseTo((4 / 128) * (4 / 128) - (1 / 125 + 2 / 126 + 3 / 127 + 4 / 128) / 128, 12);
    const m = a.uncertainty!.mutualInformation!;
    expect(m.auroc.value).toBeCloseTo(120 / 124, 12);
    expect(m.aupr.value).toBeCloseTo(0.5, 12);
    expect(m.bestOverlap).toEqual({ dice: { value: 2 / 3 }, threshold: 0.5 });
    expect(m.aurc.value).toBeCloseTo((4 / 128) * (4 / 124) + (4 / 128) * (4 / 128), 12);
    expect(m.optimalAurc.value).toBeCloseTo((1 / 125 + 2 / 126 + 3 / 127 + 4 / 128) / 128, 12);
  });

  it('EMIDEC-like: RV unlabelled is null, a predicted RV is background (Dice, errors, calibration mass)', () => {
    const dims: [number, number, number] = [8, 8, 1];
    const target = labels(dims, [[0, 2, 4, 2, 4, 2], [0, 3, 3, 3, 3, 1]]);
    const seg = labels(dims, [[0, 2, 4, 2, 4, 2], [0, 3, 3, 3, 3, 1], [0, 6, 7, 6, 6, 3]]); // 2 RV pixels
    const probs = probsFor(seg, 1); // one-hot...
    for (const p of [6 + 8 * 6, 7 + 8 * 6]) {
      // ...except the RV pixels: bg 0.3, RV 0.6, LV/MYO 0.05 → bg+RV 0.9, right.
      [0.3, 0.05, 0.05, 0.6].forEach((v, c) => (probs[c * 64 + p] = v));
    }
    const b = evaluateCase({
      id: 'caseB',
      dims,
      spacing: [1, 1, 1],
      spacingKnown: false,
      target,
      labelled: NO_RV,
      segmentation: seg,
      probabilities: probs,
      entropy: new Float32Array(64).fill(0.1),
    });
    expect(b.unit).toBe('px');
    expect(b.labelled).toEqual(NO_RV);
    const unlabelled = { value: null, reason: 'unlabelled' };
    expect(b.structures.RV).toEqual({ labelled: false, dice: unlabelled, hd95: unlabelled, assd: unlabelled });
    expect(b.structures.LV.dice.value).toBe(1);
    expect(b.structures.MYO.dice.value).toBe(1);
    expect(b.meanDice.value).toBe(1);
    expect(b.slices[0].dice.RV).toEqual(unlabelled);
    expect(b.uncertainty!.entropy).toMatchObject({ errors: 0, auroc: { value: null, reason: 'single-class' } });
    const cal = b.calibration!.all;
    const conf = Math.fround(0.3) + Math.fround(0.6);
    expect(cal.bins.correct.reduce((s, v) => s + v)).toBe(64);
    expect(cal.ece.value).toBeCloseTo((2 / 64) * (1 - conf), 7);
    expect(cal.nll.value).toBeCloseTo((-2 * Math.log(conf)) / 64, 7);
  });

  it('one prediction: calibration scores the segmentation, also where merging RV into background would change the arg-max', () => {
    const dims: [number, number, number] = [8, 8, 1];
    const target = labels(dims, [[0, 2, 4, 2, 4, 2]]);
    // Pixel (6, 6) is background in the ground truth; its arg-max over all classes is LV (0.4),
    // while background + RV (unlabelled) hold 0.6: the prediction is LV for every metric.
    const px = 6 + 8 * 6;
    const seg = target.slice();
    seg[px] = 1;
    const probs = probsFor(seg, 1);
    [0.3, 0.4, 0, 0.3].forEach((v, c) => (probs[c * 64 + px] = v));
    const b = evaluateCase({ id: 'caseM', dims, spacing: [1, 1, 1], spacingKnown: false, target, labelled: NO_RV, segmentation: seg, probabilities: probs });
    expect(b.structures.LV.dice).toEqual({ value: 0 });
    const cal = b.calibration!.all;
    expect(cal.bins.correct.reduce((a, v) => a + v)).toBe(63);
    // 63 pixels certain and right, one at confidence 0.4 and wrong (float32 0.4 is a hair above
    // 6/15, so in the 7th of the 15 bins).
    const bin = Math.ceil(Math.fround(0.4) * 15) - 1;
    expect(bin).toBe(6);
    expect(cal.bins.count[bin]).toBe(1);
    expect(cal.bins.confidenceSum[bin]).toBeCloseTo(0.4, 7);
    expect(cal.ece.value).toBeCloseTo((1 / 64) * 0.4, 7);
    // NLL and Brier score the merged probabilities: background 0.6 at the pixel.
    expect(cal.nll.value).toBeCloseTo(-Math.log(Math.fround(0.3) + Math.fround(0.3)) / 64, 6);
  });

  it('empty structures: one empty → Dice 0 and distance missing; all empty → mean null both-empty, failure null', () => {
    const c = evaluateCase(caseC);
    expect(c.structures.LV.dice.value).toBe(1);
    expect(c.structures.MYO).toEqual({ labelled: true, dice: { value: 0 }, hd95: { value: null, reason: 'missing' }, assd: { value: null, reason: 'missing' } });
    expect(c.structures.RV.dice.value).toBe(0);
    expect(c.structures.RV.hd95).toEqual({ value: null, reason: 'missing' });
    expect(c.meanDice.value).toBeCloseTo(1 / 3, 12);
    expect(c.calibration).toBeUndefined();
    expect(c.uncertainty).toBeUndefined();
    const d = evaluateCase(caseD);
    expect(d.meanDice).toEqual({ value: null, reason: 'both-empty' });
    expect(d.failed).toBeNull();
    expect(d.slices[0].failed).toBeNull();
  });

  it('is plain JSON: a round trip through JSON.stringify keeps every value', () => {
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it('BAD CALL: arrays that do not fit dims name the case and the array', () => {
    expect(() => evaluateCase({ ...caseA, entropy: new Float32Array(10) })).toThrow(/caseA: entropy has 10 values, dims 8×8×2 need 128/);
    expect(() => evaluateCase({ ...caseA, sliceScores: [{ score: 1 }] })).toThrow(/caseA: sliceScores has 1 entries/);
    expect(() => evaluateCase({ ...caseA, labelled: [true, true] })).toThrow(/labelled must hold 4 flags/);
    expect(() => evaluateCase({ ...caseA, segmentation: predA.map((v) => (v === 2 ? 7 : v)) })).toThrow(/pred\[\d+\] = 7/);
  });
});

describe('summarize', () => {
  const cases = [caseA, caseC, caseD].map(evaluateCase);
  const s = summarize(cases);

  it('mean ± std per structure, NaNs counted by reason', () => {
    expect(s.cases).toBe(3);
    expect(s.unit).toBe('mm');
    expect(s.all.structures.LV.dice).toEqual({ mean: 1, std: 0, n: 2, nan: 1, nanByReason: { 'both-empty': 1 } });
    expect(s.all.structures.MYO.dice.mean).toBeCloseTo(0.25, 12);
    expect(s.all.structures.MYO.dice.std).toBeCloseTo(Math.SQRT1_2 / 2, 12);
    expect(s.all.structures.MYO.hd95).toMatchObject({ n: 1, nan: 2, nanByReason: { missing: 1, 'both-empty': 1 } });
    expect(s.all.structures.MYO.hd95.mean).toBeCloseTo(1.5, 12);
    expect(s.all.structures.RV.dice).toEqual({ mean: 0, std: null, n: 1, nan: 2, nanByReason: { 'both-empty': 2 } });
    expect(s.all.meanDice.mean).toBeCloseTo((0.75 + 1 / 3) / 2, 12);
  });

  it('per phase and per group, for the cases that have one', () => {
    expect(Object.keys(s.byPhase!)).toEqual(['ED', 'ES']);
    expect(s.byPhase!.ED.cases).toBe(1);
    expect(s.byPhase!.ES.structures.MYO.dice.mean).toBe(0);
    expect(Object.keys(s.byGroup!)).toEqual(['NOR']);
    expect(s.byGroup!.NOR.structures.MYO.dice.mean).toBe(0.5);
  });

  it('failure detection at slice and volume level on constructed scores', () => {
    // Slices (score, mean Dice): A0 (0.7, 0.75) fail, A1 (0.2, 1), C0 (0.1, 1/3) fail, D0 (0.4, null) excluded.
    // AUROC: failed scores {0.7, 0.1} vs {0.2} → 1/2. Spearman of (0.7, 0.2, 0.1) and (0.75, 1, 1/3): ranks
    // (3, 2, 1) and (2, 3, 1) → 0.5.
    expect(s.failure.slice).toMatchObject({ n: 3, excluded: 1, unscored: 0, failures: 2, threshold: 0.8 });
    expect(s.failure.slice.auroc.value).toBeCloseTo(0.5, 12);
    expect(s.failure.slice.spearman.value).toBeCloseTo(0.5, 12);
    // Volumes: A (0.5, 0.75), C (0.3, 1/3), both fail; D excluded.
    expect(s.failure.volume).toMatchObject({ n: 2, excluded: 1, failures: 2, auroc: { value: null, reason: 'single-class' } });
    expect(s.failure.volume.spearman.value).toBeCloseTo(1, 12);
    // A lower threshold: only C0 fails among the slices, and it has the lowest score.
    const low = summarize(cases, { failureThreshold: 0.5 });
    expect(low.failure.slice).toMatchObject({ failures: 1, auroc: { value: 0 } });
  });

  it('saves the risk–coverage curve of the warning score (lowest scores kept first), at the summary threshold', () => {
    // Scored slices by ascending score: C0 0.1 fail, A1 0.2 ok, A0 0.7 fail (D0 has no Dice).
    const close = (c: { coverage: readonly number[]; risk: readonly number[] }, coverage: number[], risk: number[]) => {
      expect(c.coverage.length).toBe(coverage.length);
      coverage.forEach((v, i) => expect(c.coverage[i]).toBeCloseTo(v, 12));
      risk.forEach((v, i) => expect(c.risk[i]).toBeCloseTo(v, 12));
    };
    close(s.failure.slice.riskCoverage, [1 / 3, 2 / 3, 1], [1, 1 / 2, 2 / 3]);
    // Volumes C (0.3) and A (0.5), both failed.
    close(s.failure.volume.riskCoverage, [1 / 2, 1], [1, 1]);
    // At 0.5 only C0 fails.
    close(summarize(cases, { failureThreshold: 0.5 }).failure.slice.riskCoverage, [1 / 3, 2 / 3, 1], [1, 1 / 2, 1 / 3]);
  });

  it('every named score: AUROC, AURC and e-AURC (risk = 1 − Dice); the warning score chosen by the stated rule', () => {
    // Slices (mean Dice → risk): A0 0.75 → 0.25 (fails), A1 1 → 0, C0 1/3 → 2/3 (fails); D0 no Dice.
    const named = [
      { ...caseA,
        sliceScores: [
          { score: 0.7, entropyRegion: 0.7, pairwiseDice: 0.9, volumeCV: 0.5, entropyForeground: null },
          { score: 0.2, entropyRegion: 0.2, pairwiseDice: 0.1, volumeCV: 0.1, entropyForeground: 0.3 },
        ],
        volumeScores: { entropyRegion: 0.5, pairwiseDice: 0.6 } },
      { ...caseC, sliceScores: [{ score: 0.1, entropyRegion: 0.1, pairwiseDice: 0.8, volumeCV: 0.6, entropyForeground: 0.5 }], volumeScores: { entropyRegion: 0.3, pairwiseDice: 0.7 } },
      { ...caseD, sliceScores: [{ score: 0.4, entropyRegion: 0.4, pairwiseDice: 0.2, volumeCV: 0.2, entropyForeground: 0.6 }], volumeScores: { entropyRegion: 0.1, pairwiseDice: 0.2 } },
    ].map(evaluateCase);
    const n = summarize(named);
    expect(Object.keys(n.failure.scores!)).toEqual(['entropyRegion', 'entropyForeground', 'pairwiseDice', 'volumeCV']);
    // Oracle: risks ascending 0, 0.25, 2/3 → running means 0, 0.125, 11/36; optimal AURC = (0.125 + 11/36)/3.
    const optimal = (0.125 + 11 / 36) / 3;
    // entropyRegion covers C0, A1, A0: running means 2/3, 1/3, 11/36.
    const byEntropy = (2 / 3 + 1 / 3 + 11 / 36) / 3;
    // pairwiseDice covers A1, C0, A0: 0, 1/3, 11/36. volumeCV covers A1, A0, C0: the oracle's order.
    const byPairs = (1 / 3 + 11 / 36) / 3;
    const table: [string, number, number][] = [
      ['entropyRegion', 0.5, byEntropy],
      ['pairwiseDice', 1, byPairs],
      ['volumeCV', 1, optimal],
    ];
    for (const [name, auroc, aurc] of table) {
      const f = n.failure.scores![name as 'pairwiseDice']!.slice;
      expect(f, name).toMatchObject({ n: 3, excluded: 1, unscored: 0, failures: 2 });
      expect(f.auroc.value, name).toBeCloseTo(auroc, 12);
      expect(f.aurc.value, name).toBeCloseTo(aurc, 12);
      expect(f.eAurc.value, name).toBeCloseTo(aurc - optimal, 12);
    }
    // The warning score `score` is entropyRegion here: the same numbers.
    expect(n.failure.slice.aurc.value).toBeCloseTo(byEntropy, 12);
    // entropyForeground is null on A0: that slice is unscored; D0 (no Dice) excluded; 1 of 2 left fails.
    expect(n.failure.scores!.entropyForeground!.slice).toMatchObject({ n: 2, excluded: 1, unscored: 1, failures: 1, auroc: { value: 1 } });
    expect(n.failure.scores!.entropyForeground!.volume).toMatchObject({ n: 0, unscored: 3 });
    // Volumes: A and C both fail (AUROC single-class); A (risk 0.25) at 0.6 after C (2/3) at 0.7 for pairwiseDice.
    const v = n.failure.scores!.pairwiseDice!.volume;
    expect(v).toMatchObject({ n: 2, failures: 2, auroc: { value: null, reason: 'single-class' } });
    expect(v.aurc.value).toBeCloseTo((0.25 + (0.25 + 2 / 3) / 2) / 2, 12);
    expect(v.eAurc.value).toBeCloseTo(0, 12);

    // The rule: highest slice AUROC among scores with no unscored slice (entropyForeground is out), ties by lower AURC.
    const choice = chooseWarningScore(n);
    expect(choice.score).toBe('volumeCV');
    expect(choice.candidates.map((c) => c.score)).toEqual(['entropyRegion', 'pairwiseDice', 'volumeCV']);
    expect(choice.fallback).toBeUndefined();
    // Files without named scores: nothing to choose from, the default stays, saying why.
    expect(s.failure.scores).toBeUndefined();
    expect(chooseWarningScore(s)).toMatchObject({ score: 'entropyRegion', fallback: expect.stringMatching(/no named scores/) });
  });

  it('mean pixel AUROC/AUPR/AURC over the cases that have maps', () => {
    expect(s.uncertainty!.entropy).toMatchObject({ cases: 1, auroc: { mean: 1, n: 1 }, aupr: { mean: 1 } });
    expect(s.uncertainty!.mutualInformation!.auroc.mean).toBeCloseTo(120 / 124, 12);
  });

  it('pooled ECE/MCE/NLL/Brier equal the metrics on the concatenated pixels (bins add up)', () => {
    const rng = new Rng(7);
    const dims: [number, number, number] = [6, 5, 1];
    const P = 30;
    const make = (id: string): { input: CaseInput; probs: Float32Array } => {
      const probs = new Float32Array(4 * P);
      const target = new Uint8Array(P);
      for (let p = 0; p < P; p++) {
        const w = [0, 1, 2, 3].map(() => rng.uniform() ** 3);
        const sum = w.reduce((x, y) => x + y);
        w.forEach((v, c) => (probs[c * P + p] = v / sum));
        target[p] = rng.int(4);
      }
      const seg = new Uint8Array(P);
      for (let p = 0; p < P; p++) seg[p] = [0, 1, 2, 3].reduce((best, c) => (probs[c * P + p] > probs[best * P + p] ? c : best), 0);
      return { input: { id, dims, spacing: [1, 1, 1], spacingKnown: false, target, labelled: ALL, segmentation: seg, probabilities: probs }, probs };
    };
    const parts = [make('r1'), make('r2'), make('r3')];
    const pooled = summarize(parts.map((p) => evaluateCase(p.input))).calibration!;
    const all = new Float32Array(4 * 3 * P);
    for (let c = 0; c < 4; c++) parts.forEach((part, k) => all.set(part.probs.subarray(c * P, (c + 1) * P), c * 3 * P + k * P));
    const target = Uint8Array.from(parts.flatMap((p) => [...p.input.target]));
    const ref = calibrationError(all, target);
    expect(pooled.cases).toBe(3);
    expect(pooled.all.pixels).toBe(90);
    expect(pooled.all.ece.value).toBeCloseTo(ref.ece.value, 10);
    expect(pooled.all.mce.value).toBeCloseTo(ref.mce.value, 10);
    expect(pooled.all.nll.value).toBeCloseTo(negativeLogLikelihood(all, target).value, 10);
    expect(pooled.all.brier.value).toBeCloseTo(brierScore(all, target).value, 10);
    expect(ref.ece.value).toBeGreaterThan(0.05); // not a trivially calibrated example
  });

  it('BAD CALL: no case; cases mixing mm and px', () => {
    expect(() => summarize([])).toThrow(/no case/);
    const px = evaluateCase({ ...caseC, id: 'caseCpx', spacingKnown: false });
    expect(() => summarize([cases[0], px])).toThrow(/mix distance units.*caseA has mm, caseCpx has px/);
  });
});

describe('evaluateDirectory and the CLI', () => {
  const affine = [1.5, 0, 0, 10, 0, 2, 0, -4, 0, 0, 10, 3, 0, 0, 0, 1];
  function vol<T extends Uint8Array | Float32Array>(dims: readonly [number, number, number], data: T, spacing = [1.5, 2, 10], aff = affine): Volume<T> {
    return { dims, spacing: spacing as [number, number, number], affine: aff, data };
  }
  /** Writes CASE/CASE.nii.gz and CASE/CASE_gt.nii.gz. */
  function writeGt(root: string, name: string, target: Uint8Array, dims: readonly [number, number, number], spacing?: number[]): void {
    mkdirSync(join(root, name), { recursive: true });
    writeNifti(join(root, name, `${name}.nii.gz`), vol(dims, new Float32Array(target.length), spacing, spacing ? diag(spacing) : affine));
    writeNifti(join(root, name, `${name}_gt.nii.gz`), vol(dims, target, spacing, spacing ? diag(spacing) : affine));
  }
  const diag = (s: number[]): number[] => [s[0], 0, 0, 0, 0, s[1], 0, 0, 0, 0, s[2], 0, 0, 0, 0, 1];
  /** The files `hmcseg predict` writes for one case. */
  function writePrediction(dir: string, name: string, c: CaseInput): void {
    mkdirSync(dir, { recursive: true });
    writeNifti(join(dir, `${name}_seg.nii.gz`), vol(c.dims, c.segmentation), { datatype: 2 });
    if (c.entropy) writeNifti(join(dir, `${name}_entropy.nii.gz`), vol(c.dims, c.entropy));
    if (c.mutualInformation) writeNifti(join(dir, `${name}_mi.nii.gz`), vol(c.dims, c.mutualInformation));
    if (c.probabilities) {
      const n = c.segmentation.length;
      ['background', 'LV', 'MYO', 'RV'].forEach((cls, k) => {
        writeNifti(join(dir, `${name}_prob_${cls}.nii.gz`), vol(c.dims, c.probabilities!.slice(k * n, (k + 1) * n)));
      });
    }
    const region = (score: number) => ({ foregroundPixels: 4, entropyForeground: null, score });
    const json = { case: name, input: `/x/${name}.nii.gz`, method: 'hmc', samples: 2, passes: 2, slices: c.sliceScores!.map((s) => region(s.score)), volume: region(c.volumeScore!) };
    writeFileSync(join(dir, `${name}_uncertainty.json`), JSON.stringify(json));
  }

  const gt = join(tmp, 'gt');
  const pred = join(tmp, 'pred');
  writeGt(gt, 'caseA', targetA, dimsA);
  writeGt(gt, 'caseC', caseC.target, dimsC);
  writeGt(gt, 'caseM', new Uint8Array(64), dimsC); // no prediction
  writeFileSync(join(gt, 'labels.json'), JSON.stringify({ name: 'proj', map: { 0: 0, 1: 1, 2: 2, 3: 3 } }));
  writePrediction(pred, 'caseA', caseA);
  writePrediction(pred, 'caseC', caseC);

  it('matches NAME_seg per ground-truth case, reads every map and score, lists the missing', () => {
    const r = evaluateDirectory({ pred, gt });
    expect(r.labels).toBe('proj');
    expect(r.cases.map((c) => c.id)).toEqual(['caseA', 'caseC']);
    expect(r.missing).toEqual([{ id: 'caseM', expected: join(pred, 'caseM_seg.nii.gz') }]);
    // The folder layout has no phase or group; otherwise identical to the in-memory evaluation.
    const strip = ({ phase: _p, group: _g, patient: _pt, ...rest }: CaseInput): CaseInput => rest;
    expect(r.cases[0]).toEqual(evaluateCase({ ...strip(caseA), patient: 'caseA' }));
    expect(r.cases[1]).toEqual(evaluateCase({ ...strip(caseC), patient: 'caseC' }));
    expect(r.cases[0].structures.MYO.hd95.value).toBeCloseTo(1.5, 6);
    expect(r.summary.failure.slice.n).toBe(3);
  });

  it('EMIDEC labels and pixdim 1: distances in px, RV unlabelled', () => {
    const gtE = join(tmp, 'gtE');
    const predE = join(tmp, 'predE');
    const dims: [number, number, number] = [8, 8, 1];
    // EMIDEC values: 1 LV, 2 MYO, 3 infarct (→ MYO).
    writeGt(gtE, 'Case_N001', labels(dims, [[0, 2, 4, 2, 4, 2], [0, 3, 3, 3, 3, 1], [0, 4, 4, 4, 4, 3]]), dims, [1, 1, 1]);
    mkdirSync(predE);
    const seg = labels(dims, [[0, 2, 4, 2, 4, 2], [0, 3, 3, 3, 3, 1], [0, 6, 7, 6, 6, 3]]);
    writeNifti(join(predE, 'Case_N001_seg.nii.gz'), vol(dims, seg, [1, 1, 1], diag([1, 1, 1])), { datatype: 2 });
    const r = evaluateDirectory({ pred: predE, gt: gtE, labels: 'emidec' });
    expect(r.cases[0].unit).toBe('px');
    expect(r.summary.unit).toBe('px');
    expect(r.cases[0].structures.RV.dice).toEqual({ value: null, reason: 'unlabelled' });
    expect(r.cases[0].structures.MYO.dice.value).toBe(1);
    expect(r.cases[0].slices[0].score).toBeUndefined();
    expect(r.summary.failure.slice).toMatchObject({ n: 0, unscored: 1 });
  });

  it('CLI: writes JSON and both CSVs and prints mean ± std per structure', async () => {
    const out = join(tmp, 'results', 'eval.json');
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (lines.push(String(s)), true));
    try {
      const program = new Command().exitOverride();
      registerEvaluateCommand(program);
      await program.parseAsync(['evaluate', '--pred', pred, '--gt', gt, '--out', out, '--failure-threshold', '0.7'], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    const printed = lines.join('');
    expect(printed).toMatch(/2 cases evaluated, 1 without a prediction; labels proj; distances in mm/);
    expect(printed).toMatch(/MYO\s+0\.250 ± 0\.354 \(n=2\)/);
    expect(printed).toMatch(/LV\s+1\.000 ± 0\.000 \(n=2\)/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { summary: { failureThreshold: number }; cases: CaseEvaluation[]; missing: unknown[] };
    expect(json.summary.failureThreshold).toBe(0.7);
    expect(json.cases[0].failureThreshold).toBe(0.7);
    expect(json.missing).toHaveLength(1);
    const casesCsv = readFileSync(join(tmp, 'results', 'eval.cases.csv'), 'utf8').trim().split('\n');
    expect(casesCsv[0]).toBe(
      'id,patient,group,phase,LV_dice,LV_hd95,LV_assd,MYO_dice,MYO_hd95,MYO_assd,RV_dice,RV_hd95,RV_assd,mean_dice,failed,unit,ece,ece_roi,nll,brier,score',
    );
    const rowA = casesCsv[1].split(',');
    expect(rowA.slice(0, 8)).toEqual(['caseA', 'caseA', '', '', '1', '0', '0', '0.5']);
    expect(rowA.slice(10, 16)).toEqual(['', '', '', '0.75', '0', 'mm']);
    expect(Number(rowA[16])).toBeCloseTo(124 / 128 - Math.fround(0.9), 6);
    expect(rowA[20]).toBe('0.5');
    const slicesCsv = readFileSync(join(tmp, 'results', 'eval.slices.csv'), 'utf8').trim().split('\n');
    expect(slicesCsv).toEqual([
      'case,z,LV_dice,MYO_dice,RV_dice,mean_dice,score,failure',
      'caseA,0,1,0.5,,0.75,0.7,0',
      'caseA,1,1,,,1,0.2,0',
      `caseC,0,1,0,0,${1 / 3},0.1,1`,
    ]);
  });

  it('runEvaluate rejects a bad threshold through the CLI parser', async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    registerEvaluateCommand(program);
    await expect(
      program.parseAsync(['evaluate', '--pred', pred, '--gt', gt, '--out', join(tmp, 'x.json'), '--failure-threshold', '1.5'], { from: 'user' }),
    ).rejects.toThrow(/must be a number in \[0, 1\], got "1.5"/);
    expect(existsSync(join(tmp, 'x.json'))).toBe(false);
  });

  describe('BAD CALL', () => {
    function badPred(name: string, write: (dir: string) => void): string {
      const dir = join(tmp, name);
      mkdirSync(dir);
      write(dir);
      return dir;
    }

    it('a prediction on another grid: the error names both files and both shapes', () => {
      const dir = badPred('pred-dims', (d) => writeNifti(join(d, 'caseA_seg.nii.gz'), vol(dimsC, new Uint8Array(64)), { datatype: 2 }));
      expect(() => evaluateDirectory({ pred: dir, gt })).toThrow(
        /caseA_seg\.nii\.gz: prediction grid \(dims 8×8×1.*does not match the ground truth .*caseA_gt\.nii\.gz \(dims 8×8×2/,
      );
      const shifted = affine.map((v, i) => (i === 3 ? v + 0.5 : v));
      const dir2 = badPred('pred-affine', (d) => writeNifti(join(d, 'caseA_seg.nii.gz'), vol(dimsA, predA, [1.5, 2, 10], shifted), { datatype: 2 }));
      expect(() => evaluateDirectory({ pred: dir2, gt })).toThrow(/affine \[1\.5, 0, 0, 10\.5,.*caseA_gt\.nii\.gz \(dims 8×8×2, affine \[1\.5, 0, 0, 10,/);
    });

    it('a label outside 0..3 names the file and the value', () => {
      const dir = badPred('pred-label', (d) => writeNifti(join(d, 'caseA_seg.nii.gz'), vol(dimsA, predA.map((v) => (v === 2 ? 7 : v))), { datatype: 2 }));
      expect(() => evaluateDirectory({ pred: dir, gt })).toThrow(/caseA_seg\.nii\.gz: label 7 at voxel 22 is not a project class/);
    });

    it('no prediction matches: the error names both directories', () => {
      const dir = badPred('pred-empty', (d) => writeFileSync(join(d, 'other_seg.nii.gz'), ''));
      expect(() => evaluateDirectory({ pred: dir, gt })).toThrow(new RegExp(`${dir}: no prediction matches a case of ${gt}`));
      expect(() => runEvaluate({ pred: dir, gt, failureThreshold: 0.8, out: join(tmp, 'none.json') })).toThrow(/no prediction matches/);
      expect(existsSync(join(tmp, 'none.json'))).toBe(false);
    });

    it('an incomplete set of probability maps, or an uncertainty file for another case', () => {
      const dir = badPred('pred-probs', (d) => {
        writePrediction(d, 'caseA', caseA);
        rmSync(join(d, 'caseA_prob_RV.nii.gz'));
      });
      expect(() => evaluateDirectory({ pred: dir, gt })).toThrow(/caseA_prob_\*\.nii\.gz: probability maps for RV are missing/);
      const dir2 = badPred('pred-json', (d) => {
        writePrediction(d, 'caseC', caseC);
        writeFileSync(join(d, 'caseC_uncertainty.json'), JSON.stringify({ case: 'caseC', slices: [], volume: { score: 1 } }));
      });
      expect(() => evaluateDirectory({ pred: dir2, gt })).toThrow(/caseC_uncertainty\.json: has scores for 0 slices, the volume has 1/);
    });
  });
});
