/**
 * Seeded NIfTI fuzzing from real headers (bench/nifti-fuzz.ts defines the mutations, the oracle
 * and "silently wrong"): 200 mutated files through the image and label readers and the training
 * data loading (openDataset + loadCase), in process, and a handful through `hmcseg evaluate` and
 * `hmcseg predict` to check exit codes and signals. The full 1,000-file run with a tally is
 * `node dist/bench/fuzz-nifti.js`.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPrediction,
  judge,
  judgeCli,
  mappedLabels,
  mutate,
  oracleRead,
  outcomeOf,
  runCli,
  seedFrom,
  tinyStore,
  type FuzzSeed,
  type Judgement,
} from '../bench/nifti-fuzz.js';
import { ACDC_LABELS, applyLabelMap, loadCase, openDataset, readNiftiImage, readNiftiLabels, writeNifti, type Volume } from '../src/data/index.js';
import { realData } from './helpers/optional.js';

const CLI = resolve(import.meta.dirname, '../dist/src/cli/main.js');
/** Mutation seeds of the ACDC image (found by scanning 1..20): a geometry edit that loads, Inf voxels, a truncated gzip stream, a truncated file. */
const PREDICT_SEEDS = { loads: 1, nonfinite: 20, gzip: 2, truncate: 7 };
const data = realData();
const tmp = mkdtempSync(join(tmpdir(), 'hmcseg-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the oracle', () => {
  it('reads an unmodified file as the library does, and rejects what the library must not load', () => {
    const v = { dims: [3, 2, 2] as [number, number, number], spacing: [1, 1, 1] as [number, number, number], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], data: Float32Array.from({ length: 12 }, (_, i) => i / 4) };
    // A file written by the library and read by the oracle, then the same with a NaN voxel and a NaN srow.
    const path = join(tmp, 'oracle.nii');
    writeNifti(path, v);
    const bytes = new Uint8Array(readFileSync(path));
    const r = oracleRead(bytes);
    expect(r.ok && Array.from(r.volume.values)).toEqual(Array.from(v.data));
    expect(judge(outcomeOf(() => readNiftiImage(path)), r, path)).toEqual({ verdict: 'loaded' });
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat32(352 + 4 * 5, Number.NaN, true);
    expect(oracleRead(nan)).toEqual({ ok: false, reason: 'non-finite value (as float32)' });
    const srow = bytes.slice();
    new DataView(srow.buffer).setInt16(254, 1, true);
    new DataView(srow.buffer).setFloat32(280, Number.NaN, true);
    expect(oracleRead(srow)).toEqual({ ok: false, reason: 'affine not finite' });
  });
});

data.describe('fuzzing NIfTI files made from real headers (seeded)', () => {
  const acdc = join(data.root, 'acdc/patient001');
  const emidec = join(data.root, 'emidec/Case_N012');
  const seeds: FuzzSeed[] = [
    seedFrom('acdc patient001_frame01', readFileSync(join(acdc, 'patient001_frame01.nii.gz')), false),
    seedFrom('acdc patient001_frame01_gt', readFileSync(join(acdc, 'patient001_frame01_gt.nii.gz')), true),
    seedFrom('emidec Case_N012', readFileSync(join(emidec, 'Case_N012.nii.gz')), false),
    seedFrom('emidec Case_N012_gt', readFileSync(join(emidec, 'Case_N012_gt.nii.gz')), true),
  ];
  const N = 200;
  const verdicts: Record<string, Record<string, number>> = { image: {}, labels: {}, training: {} };
  const findings: string[] = [];
  const record = (path: string, description: string, j: Judgement): void => {
    verdicts[path][j.verdict] = (verdicts[path][j.verdict] ?? 0) + 1;
    if (j.verdict === 'wrong' || j.verdict === 'unnamed') findings.push(`${path}: ${description}: ${j.verdict}: ${j.detail}`);
  };

  beforeAll(() => {
    // The training path: a folder-layout data set of one ACDC case, whose image or labels are replaced.
    const ds = join(tmp, 'ds');
    mkdirSync(join(ds, 'case'), { recursive: true });
    const image = join(ds, 'case/case.nii.gz');
    const gt = join(ds, 'case/case_gt.nii.gz');
    const restore = (): void => {
      copyFileSync(join(acdc, 'patient001_frame01.nii.gz'), image);
      copyFileSync(join(acdc, 'patient001_frame01_gt.nii.gz'), gt);
    };
    restore();
    const dataset = openDataset(ds, { labels: 'acdc', requireLabels: true });
    for (let i = 0; i < N; i++) {
      const seed = seeds[i % seeds.length];
      const m = mutate(seed, 1000 + i);
      const path = join(tmp, `fuzz-${i}.nii${m.gz ? '.gz' : ''}`);
      writeFileSync(path, m.bytes);
      record('image', m.description, judge(outcomeOf(() => readNiftiImage(path)), oracleRead(m.bytes), path));
      const asLabels = oracleRead(m.bytes, true);
      record('labels', m.description, judge(outcomeOf(() => readNiftiLabels(path)), asLabels, path));
      rmSync(path);
      if (!seed.name.startsWith('acdc')) continue;
      restore();
      const target = seed.labels ? gt : image;
      writeFileSync(target, m.bytes);
      const loaded = outcomeOf(() => {
        const c = loadCase(dataset, dataset.cases[0]);
        return seed.labels ? c.labels! : c.image;
      });
      record('training', m.description, judge(loaded, seed.labels ? mappedLabels(asLabels, dataset.labelMap) : oracleRead(m.bytes), target));
    }
  }, 300_000);

  it(`${N} mutants: no silently wrong output, every rejection names the file and the problem`, () => {
    expect(findings).toEqual([]);
  });

  it('the mutants reach every outcome: loads (equal to the oracle) and rejections', () => {
    console.log(`nifti fuzz, ${N} mutants: ${JSON.stringify(verdicts)}`);
    for (const path of ['image', 'labels', 'training']) {
      expect(verdicts[path].loaded ?? 0, path).toBeGreaterThan(10);
      expect(verdicts[path].rejected ?? 0, path).toBeGreaterThan(50);
    }
  });

  describe('through the CLI (exit codes, no signals, no hangs)', () => {
    const truthInClasses = (): Volume<Uint8Array> => {
      const truth = readNiftiLabels(join(acdc, 'patient001_frame01_gt.nii.gz'));
      return { ...truth, data: applyLabelMap(truth.data, ACDC_LABELS, 'gt') };
    };

    it('hmcseg evaluate on mutated ground truth: exit 0 only for a readable file, else exit 1 naming it', () => {
      expect(existsSync(CLI), `${CLI}: build first (npm test does)`).toBe(true);
      const verdicts: string[] = [];
      for (const s of [23, 57]) {
        const m = mutate(seeds[1], s);
        const root = join(tmp, `eval-${s}`);
        mkdirSync(join(root, 'gt/case'), { recursive: true });
        copyFileSync(join(acdc, 'patient001_frame01.nii.gz'), join(root, 'gt/case/case.nii.gz'));
        const gtPath = join(root, 'gt/case/case_gt.nii.gz');
        writeFileSync(gtPath, m.bytes);
        writeNifti(join(root, 'pred/case_seg.nii.gz'), truthInClasses());
        const eval_ = join(root, 'eval.json');
        const run = runCli(CLI, ['evaluate', '--pred', join(root, 'pred'), '--gt', join(root, 'gt'), '--labels', 'acdc', '--out', eval_]);
        const j = judgeCli(run, mappedLabels(oracleRead(m.bytes, true), ACDC_LABELS), gtPath, () =>
          /"dice"/.test(readFileSync(eval_, 'utf8')) ? null : 'eval.json has no Dice',
        );
        expect(['loaded', 'rejected', 'stricter'], `${m.description}: ${j.detail}`).toContain(j.verdict);
        verdicts.push(`${s}:${j.verdict}`);
      }
      console.log(`hmcseg evaluate on mutated ground truth (seed:verdict): ${verdicts.join(' ')}`);
    }, 300_000);

    it('hmcseg predict on mutated images, NaN voxels among them: outputs on the input grid, or exit 1 naming the file', () => {
      const store = tinyStore(CLI, join(tmp, 'tiny'));
      const verdicts: string[] = [];
      // Seeds chosen to give a load, NaN/Inf voxels, a broken gzip stream and a truncation.
      for (const s of [PREDICT_SEEDS.loads, PREDICT_SEEDS.nonfinite, PREDICT_SEEDS.gzip, PREDICT_SEEDS.truncate]) {
        const m = mutate(seeds[0], s);
        const input = join(tmp, `predict-${s}.nii${m.gz ? '.gz' : ''}`);
        writeFileSync(input, m.bytes);
        const out = join(tmp, `predict-${s}`);
        const oracle = oracleRead(m.bytes);
        const run = runCli(CLI, ['predict', '--model', store, '--input', input, '--out', out]);
        const j = judgeCli(run, oracle, input, () => (oracle.ok ? checkPrediction(out, `predict-${s}`, oracle.volume) : 'oracle rejects'));
        expect(['loaded', 'rejected', 'stricter'], `${m.description}: ${j.detail}`).toContain(j.verdict);
        verdicts.push(`${m.kind}:${j.verdict}`);
      }
      console.log(`hmcseg predict on mutated images (kind:verdict): ${verdicts.join(' ')}`);
      expect(verdicts).toEqual(['geometry:loaded', 'nonfinite:rejected', 'gzip:rejected', 'truncate:rejected']);
    }, 300_000);
  });
});
