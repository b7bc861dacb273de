import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPredictCommand } from '../src/cli/predict.js';
import { loadCase, makeSplits, openDataset, planSliceTransform, preprocessOptions, voxelsOutsideWindow, writePhantomDataset, writeSplits } from '../src/data/index.js';
import { evaluateDirectory } from '../src/evaluate/index.js';
import { argmax } from '../src/metrics/index.js';
import {
  hasPrediction,
  isPredictionFile,
  niftiStem,
  postprocessSegmentation,
  Predictor,
  readPrediction,
  writePrediction,
  type VolumePrediction,
} from '../src/predict/index.js';
import { parseTrainConfig } from '../src/train/config.js';
import { SCORE_NAMES } from '../src/uncertainty/index.js';
import { train } from '../src/train/trainer.js';

let root: string;
let testData: string;
let store: string;
const TARGET_SPACING = 6;

// Training phantoms of 32 px (6.875 mm) and test phantoms of 24 px (9.17 mm), both resampled to 6 mm.
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hmcseg-predict-'));
  const data = join(root, 'train');
  writePhantomDataset({ out: data, cases: 2, contrast: 'ssfp', seed: 5, size: 32, slices: 2 });
  testData = join(root, 'test');
  writePhantomDataset({ out: testData, cases: 2, contrast: 'ssfp', seed: 9, size: 24, slices: 2 });
  const splits = join(root, 'splits.json');
  writeSplits(splits, makeSplits(openDataset(data), { seed: 0, fractions: { train: 0.5, val: 0, test: 0.5 } }));
  store = join(root, 'store');
  const config = parseTrainConfig({
    seed: 2,
    threads: 1,
    data: { labels: 'acdc', size: 32, targetSpacing: TARGET_SPACING, window: 'sliding', batchSize: 2, workers: 0, augment: 0 },
    model: { depth: 2, baseWidth: 4 },
    optim: { steps: 3 },
    hmc: { cycles: 1, samplesPerCycle: 2, beta: 1 },
    checkpointEvery: 1000,
  });
  await train({ method: 'hmc', config, data, splits, out: store });
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Predicts every test case into `out` with the given probability storage; returns the in-memory predictions by case name. */
function predictAll(out: string, storage: 'float32' | 'uint8'): Map<string, VolumePrediction> {
  const predictor = new Predictor(store);
  const ds = openDataset(testData);
  const byName = new Map<string, VolumePrediction>();
  try {
    for (const ref of ds.cases) {
      const image = loadCase(ds, ref).image;
      const p = predictor.predict(image, ref.image);
      writePrediction(out, niftiStem(ref.image), image, p, { input: ref.image, method: 'hmc', samples: predictor.sampleCount }, storage);
      byName.set(niftiStem(ref.image), p);
    }
  } finally {
    predictor.dispose();
  }
  return byName;
}

describe('one prediction on a resampled volume', () => {
  it('the saved segmentation is the arg-max of the saved probabilities on the input grid', () => {
    const ds = openDataset(testData);
    const image = loadCase(ds, ds.cases[0]).image;
    const t = planSliceTransform(image.dims[0], image.dims[1], [image.spacing[0], image.spacing[1]], preprocessOptions({ size: 32, targetSpacing: TARGET_SPACING }, 'test'));
    expect(t.resampledDims).not.toEqual(t.originalDims); // preprocessing resamples these phantoms

    const out = join(root, 'pred-float');
    const preds = predictAll(out, 'float32');
    for (const ref of ds.cases) {
      const name = niftiStem(ref.image);
      const c = loadCase(ds, ref);
      const { segmentation, probabilities, entropy, scores } = readPrediction(out, name, c.image, ref.image);
      expect(probabilities).toBeDefined();
      expect(segmentation).toEqual(argmax(probabilities!, 4));
      const p = preds.get(name)!;
      expect(segmentation).toEqual(p.segmentation);
      expect(probabilities).toEqual(p.probabilities);
      expect(entropy).toEqual(p.entropy);
      expect(scores!.volume.score).toBeCloseTo(p.volume.score, 5);
      // Every named score round-trips through NAME_uncertainty.json (null where not finite).
      expect(scores!.warningScore).toBe('entropyRegion');
      for (const [got, want] of [[scores!.volume, p.volume], ...p.slices.map((s, z) => [scores!.slices[z], s] as const)] as const) {
        for (const n of SCORE_NAMES) {
          const v = want[n];
          expect(v, n).toBeDefined(); // 2 HMC samples: the disagreement scores exist
          if (Number.isFinite(v)) expect(got[n], n).toBeCloseTo(v!, 5);
          else expect(got[n], n).toBeNull();
        }
        expect(got.score).toBeCloseTo(want.entropyRegion, 5);
      }
      expect(p.volumeUnit).toBe('ml'); // the phantoms keep their spacing
      expect(p.volume.pairwiseDice).toBeGreaterThanOrEqual(0);
      expect(p.volume.pairwiseDice).toBeLessThanOrEqual(1);
      // Probabilities on the input grid sum to 1 per voxel, also where they were interpolated.
      const n = segmentation.length;
      for (let i = 0; i < n; i += 7) {
        const sum = probabilities![i] + probabilities![n + i] + probabilities![2 * n + i] + probabilities![3 * n + i];
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      }
    }
    // The untrained network predicts more than one class somewhere, so the check above is not vacuous.
    const classes = new Set([...preds.values()].flatMap((p) => [...new Set(p.segmentation)]));
    expect(classes.size).toBeGreaterThan(1);
    expect(readdirSync(out).filter((f) => !f.endsWith('.json')).every((f) => isPredictionFile(f))).toBe(true);
    expect(hasPrediction(out, niftiStem(ds.cases[0].image))).toBe(true);
    expect(hasPrediction(out, 'patient099_frame01')).toBe(false);
    expect(() => readPrediction(out, 'patient099_frame01', image, 'gt.nii.gz')).toThrow(/patient099_frame01_seg\.nii\.gz: no such segmentation file/);
  });

  it('one pass has no disagreement scores; the warning score can be chosen by name', () => {
    const ds = openDataset(testData);
    const image = loadCase(ds, ds.cases[0]).image;
    const one = new Predictor(store, { samples: 1 });
    const two = new Predictor(store, { warningScore: 'pairwiseDice' });
    const bad = new Predictor(store, { samples: 1, warningScore: 'pairwiseDice' });
    try {
      const p = one.predict(image, 'x');
      expect(p.passes).toBe(1);
      expect(p.volumeUnit).toBeUndefined();
      expect(p.volume.pairwiseDice).toBeUndefined();
      expect(p.volume.score).toBe(p.volume.entropyRegion);
      const q = two.predict(image, 'x');
      expect(q.warningScore).toBe('pairwiseDice');
      expect(q.slices.map((s) => s.score)).toEqual(q.slices.map((s) => s.pairwiseDice));
      expect(() => bad.predict(image, 'x')).toThrow(/warning score pairwiseDice needs at least 2 samples or passes/);
    } finally {
      for (const x of [one, two, bad]) x.dispose();
    }
  });

  it('hmcseg predict --warning-score: `score` copies the named score, every score is written', async () => {
    const out = join(root, 'pred-cli');
    const program = new Command().exitOverride();
    registerPredictCommand(program);
    await program.parseAsync(['predict', '--model', store, '--input', testData, '--out', out, '--warning-score', 'volumeCV'], { from: 'user' });
    const name = niftiStem(openDataset(testData).cases[0].image);
    const u = JSON.parse(readFileSync(join(out, `${name}_uncertainty.json`), 'utf8'));
    expect(u.warningScore).toBe('volumeCV');
    expect(u.volumeUnit).toBe('ml');
    for (const s of [u.volume, ...u.slices]) {
      expect(s.score).toBe(s.volumeCV);
      for (const n of SCORE_NAMES) expect(n in s, n).toBe(true);
    }
    const bad = new Command().exitOverride();
    bad.configureOutput({ writeErr: () => undefined });
    registerPredictCommand(bad);
    await expect(bad.parseAsync(['predict', '--model', store, '--input', testData, '--out', out, '--warning-score', 'nope'], { from: 'user' })).rejects.toThrow(/nope.*Allowed choices/s);
  });

  it('hmcseg predict --postprocess largest-component: the arg-max without islands, the probabilities as without', async () => {
    const out = join(root, 'pred-lcc');
    const program = new Command().exitOverride();
    registerPredictCommand(program);
    await program.parseAsync(['predict', '--model', store, '--input', testData, '--out', out, '--save-probs', '--postprocess', 'largest-component'], { from: 'user' });
    const ds = openDataset(testData);
    const predictor = new Predictor(store);
    let removed = 0;
    try {
      for (const ref of ds.cases) {
        const c = loadCase(ds, ref);
        const raw = predictor.predict(c.image, ref.image);
        const name = niftiStem(ref.image);
        const got = readPrediction(out, name, c.image, ref.image);
        const want = postprocessSegmentation(raw.segmentation.slice(), c.image.dims, 'largest-component');
        expect(Array.from(got.segmentation)).toEqual(Array.from(want));
        expect(got.probabilities).toEqual(raw.probabilities);
        expect(JSON.parse(readFileSync(join(out, `${name}_uncertainty.json`), 'utf8')).postprocess).toBe('largest-component');
        removed += raw.segmentation.filter((v, i) => v !== want[i]).length;
      }
    } finally {
      predictor.dispose();
    }
    // The untrained network predicts islands, so the comparison above is not vacuous.
    expect(removed).toBeGreaterThan(0);
  });

  it('uint8 probabilities round to 1/255 and leave the segmentation as it is', () => {
    const floatDir = join(root, 'pred-float');
    const out = join(root, 'pred-u8');
    predictAll(out, 'uint8');
    const ds = openDataset(testData);
    for (const ref of ds.cases) {
      const name = niftiStem(ref.image);
      const c = loadCase(ds, ref);
      const a = readPrediction(floatDir, name, c.image, ref.image);
      const b = readPrediction(out, name, c.image, ref.image);
      expect(b.segmentation).toEqual(a.segmentation);
      let maxDiff = 0;
      for (let i = 0; i < a.probabilities!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.probabilities![i] - b.probabilities![i]));
      expect(maxDiff).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    }
  });

  it.each([
    ['acdc', undefined],
    ['without RV', { name: 'acdc-no-rv', map: { 0: 'background', 1: 'background', 2: 'MYO', 3: 'LV' } }],
  ])('every metric scores that prediction (%s): calibration correctness = the voxels Dice counts as right', (_name, map) => {
    let labels: string | undefined;
    if (map !== undefined) {
      labels = join(root, 'no-rv.json');
      writeFileSync(labels, JSON.stringify(map));
    }
    for (const dir of ['pred-float', 'pred-u8']) {
      const r = evaluateDirectory({ pred: join(root, dir), gt: testData, ...(labels === undefined ? {} : { labels }) });
      expect(r.cases.length).toBe(4); // 2 patients, ED and ES
      const ds = openDataset(testData, { ...(labels === undefined ? {} : { labels }) });
      for (const ev of r.cases) {
        const ref = ds.cases.find((c) => c.id === ev.id)!;
        const c = loadCase(ds, ref);
        const seg = readPrediction(join(root, dir), niftiStem(ref.image), c.image, ref.image).segmentation;
        const target = c.labels!.data;
        // The prediction with unlabelled classes as background, against the ground truth.
        let right = 0;
        for (let i = 0; i < seg.length; i++) right += (c.labelled[seg[i]] ? seg[i] : 0) === target[i] ? 1 : 0;
        const cal = ev.calibration!.all;
        expect(cal.pixels).toBe(seg.length);
        expect(cal.bins.correct.reduce((a, v) => a + v, 0)).toBe(right);
        expect(ev.uncertainty!.entropy!.errors).toBe(seg.length - right);
      }
    }
  });
});

describe('whole-image prediction', () => {
  it("stores trained with window 'sliding' record it and see every voxel; a store without it predicts the centre crop as before", () => {
    const manifest = JSON.parse(readFileSync(join(store, 'manifest.json'), 'utf8'));
    expect(manifest.preprocess).toEqual({ size: 32, targetSpacing: TARGET_SPACING, window: 'sliding' });
    // The same samples, as a store made before whole-image prediction records them.
    const old = join(root, 'store-centre');
    cpSync(store, old, { recursive: true });
    delete manifest.preprocess.window;
    writeFileSync(join(old, 'manifest.json'), JSON.stringify(manifest));

    const ds = openDataset(testData);
    const ref = ds.cases[0];
    const c = loadCase(ds, ref);
    // These test phantoms resample to 37 × 37 px: a 32 px centre crop leaves a border unseen.
    const crop = planSliceTransform(c.image.dims[0], c.image.dims[1], [c.image.spacing[0], c.image.spacing[1]], preprocessOptions(manifest.preprocess, 'test'));
    const oneVoxel = (i: number): Uint8Array => {
      const l = new Uint8Array(c.image.data.length);
      l[i] = 1;
      return l;
    };
    // Every 7th voxel that the crop leaves out (counted by the same check as bench/coverage.ts).
    const outside = Array.from({ length: c.image.data.length }, (_, i) => i).filter((i) => i % 7 === 0 && voxelsOutsideWindow(oneVoxel(i), crop) === 1);
    expect(outside.length).toBeGreaterThan(0);

    const predictors = [new Predictor(store), new Predictor(old)];
    try {
      const [sliding, centre] = predictors.map((p) => p.predict(c.image, ref.image));
      for (const i of outside) {
        // Outside the crop: background and entropy 0 for the old store, a real prediction for the new one.
        expect(centre.segmentation[i]).toBe(0);
        expect(centre.entropy[i]).toBe(0);
        expect(sliding.entropy[i]).toBeGreaterThan(0);
      }
      const n = sliding.segmentation.length;
      for (let i = 0; i < n; i += 5) {
        const sum = sliding.probabilities[i] + sliding.probabilities[n + i] + sliding.probabilities[2 * n + i] + sliding.probabilities[3 * n + i];
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      }
    } finally {
      for (const p of predictors) p.dispose();
    }
  });
});
