import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerPredictCommand } from '../src/cli/predict.js';
import {
  EMIDEC_LABELS,
  fingerprint,
  generatePhantomCase,
  loadCase,
  makeSplits,
  NIFTI_DATATYPES,
  nnunetPatient,
  openDataset,
  projectToNnunetValues,
  readNiftiLabels,
  writeNifti,
  writeSplits,
  type Volume,
} from '../src/data/index.js';
import { evaluateDirectory } from '../src/evaluate/index.js';
import { NNUNET_EXTRAS_DIR, readPrediction, writePrediction, type VolumePrediction } from '../src/predict/index.js';
import { parseTrainConfig } from '../src/train/config.js';
import { train } from '../src/train/trainer.js';
import { PYTHON, pytorch } from './helpers/optional.js';

const tmp = mkdtempSync(join(tmpdir(), 'hmcseg-nnunet-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** nnU-Net label values of the phantom data set: deliberately neither the project's nor ACDC's. */
const LABELS = { background: 0, myocardium: 1, 'Right Ventricle': 2, LV_cavity: 3 } as const;
/** Project class (0 bg, 1 LV, 2 MYO, 3 RV) → the value above. */
const TO_NNUNET = [0, 3, 1, 2];
/** Cases: two ACDC-style frames of two patients, and one case that is its own patient. */
const CASES = [
  ['patient001_frame01', 1, 'ED'],
  ['patient001_frame12', 1, 'ES'],
  ['patient002_frame01', 2, 'ED'],
  ['patient002_frame12', 2, 'ES'],
  ['heart3', 3, 'ED'],
] as const;

function volume<T extends Float32Array | Uint8Array>(c: { dims: readonly [number, number, number]; spacing: readonly [number, number, number] }, data: T): Volume<T> {
  const [dx, dy, dz] = c.spacing;
  return { dims: c.dims, spacing: c.spacing, affine: [dx, 0, 0, 0, 0, dy, 0, 0, 0, 0, dz, 0, 0, 0, 0, 1], data };
}

/** Writes the phantom in nnU-Net's raw layout; returns the project-class labels by case id. */
function writeNnunetPhantom(dir: string, json: Record<string, unknown> = {}): Map<string, Uint8Array> {
  mkdirSync(join(dir, 'imagesTr'), { recursive: true });
  mkdirSync(join(dir, 'labelsTr'), { recursive: true });
  const truth = new Map<string, Uint8Array>();
  for (const [id, seed, phase] of CASES) {
    const c = generatePhantomCase({ seed, contrast: 'ssfp', size: 32, slices: 2, phase });
    writeNifti(join(dir, 'imagesTr', `${id}_0000.nii.gz`), volume(c, c.image), { datatype: NIFTI_DATATYPES.float32 });
    writeNifti(join(dir, 'labelsTr', `${id}.nii.gz`), volume(c, c.labels.map((l) => TO_NNUNET[l])), { datatype: NIFTI_DATATYPES.uint8 });
    truth.set(id, c.labels);
  }
  const datasetJson = { channel_names: { 0: 'cineMRI' }, labels: LABELS, numTraining: CASES.length, file_ending: '.nii.gz', ...json };
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify(datasetJson));
  return truth;
}

const root = join(tmp, 'Dataset501_Phantom');
let truth: Map<string, Uint8Array>;
beforeAll(() => {
  truth = writeNnunetPhantom(root);
});

/** A copy of the phantom with dataset.json fields replaced, or files changed by `edit`. */
function variant(name: string, json: Record<string, unknown>, edit?: (dir: string) => void): string {
  const dir = join(tmp, name);
  cpSync(root, dir, { recursive: true });
  const base = { channel_names: { 0: 'cineMRI' }, labels: LABELS, numTraining: CASES.length, file_ending: '.nii.gz' };
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ ...base, ...json }));
  edit?.(dir);
  return dir;
}

describe('nnU-Net raw data sets as input', () => {
  it('detects the layout, maps the label names to project classes and reads the cases', () => {
    const ds = openDataset(root, { requireLabels: true });
    expect(ds.layout).toBe('nnunet');
    expect(ds.cases.map((c) => c.id)).toEqual(['heart3', ...CASES.slice(0, 4).map(([id]) => id)]);
    expect(ds.labelMap.map).toEqual({ 0: 0, 1: 2, 2: 3, 3: 1 });
    expect(ds.labelMap.labelled).toEqual([true, true, true, true]);
    for (const ref of ds.cases) {
      const c = loadCase(ds, ref);
      expect(c.image.dims).toEqual([32, 32, 2]);
      expect(Array.from(c.labels?.data ?? [])).toEqual(Array.from(truth.get(ref.id) as Uint8Array));
    }
  });

  it('groups ACDC-style frames into one patient, so splits keep them together; other cases are their own patient', () => {
    expect(nnunetPatient('patient001_frame12')).toBe('patient001');
    expect(nnunetPatient('heart3')).toBe('heart3');
    const ds = openDataset(root);
    expect(ds.cases.map((c) => c.patient)).toEqual(['heart3', 'patient001', 'patient001', 'patient002', 'patient002']);
    const s = makeSplits(ds, { seed: 1, fractions: { train: 2 / 3, val: 0, test: 1 / 3 } });
    expect([...s.train, ...s.test].sort()).toEqual(['heart3', 'patient001', 'patient002']);
    expect(s.train).toHaveLength(2);
  });

  it('fingerprints dataset.json: renaming the labels changes the identity', () => {
    const renamed = variant('renamed', { labels: { background: 0, MYO: 1, RV: 2, LV: 3 } });
    expect(openDataset(renamed).labelMap.map).toEqual(openDataset(root).labelMap.map);
    expect(fingerprint(openDataset(renamed))).not.toBe(fingerprint(openDataset(root)));
  });

  it('an explicit label map overrides the names, and unknown names ask for one', () => {
    const odd = variant('odd-names', { labels: { background: 0, muscle: 1, 'Right Ventricle': 2, blood: 3 } });
    expect(() => openDataset(odd)).toThrow(/label names "muscle": 1, "blood": 3 are not project classes .*pass a label map JSON/);
    const mapFile = join(tmp, 'odd-map.json');
    writeFileSync(mapFile, JSON.stringify({ name: 'odd', map: { 0: 'background', 1: 'MYO', 2: 'RV', 3: 'LV' } }));
    expect(openDataset(odd, { labels: mapFile }).labelMap.map).toEqual({ 0: 0, 1: 2, 2: 3, 3: 1 });
  });

  it.each([
    ['two channels', { channel_names: { 0: 'T1', 1: 'T2' } }, /2 channels \(0 T1, 1 T2\); hmcseg segments one modality/],
    ['region-based labels', { labels: { background: 0, heart: [1, 2, 3], LV: 3 }, regions_class_order: [1, 2] }, /region-based labels \(heart\) are not supported/],
    ['an ignore label', { labels: { ...LABELS, ignore: 4 } }, /the "ignore" label .* is not supported/],
    ['no background 0', { labels: { background: 1, LV: 2 } }, /"background": 0/],
    ['a v1 file', { channel_names: undefined, modality: { 0: 'MRI' } }, /nnU-Net v1 dataset\.json .*nnUNetv2_convert_old_nnUNet_dataset/],
    ['another file ending', { file_ending: '.png' }, /file_ending "\.png" is not supported/],
    ['a wrong numTraining', { numTraining: 4 }, /imagesTr: 5 cases, but .*dataset\.json says numTraining 4/],
  ])('refuses %s with a clear error naming dataset.json', (name, json, message) => {
    const dir = variant(`bad-${name.replace(/\W/g, '-')}`, json);
    expect(() => openDataset(dir)).toThrow(message);
  });

  it('refuses an image of a second channel and a missing label file', () => {
    const twoChannel = variant('channel-file', {}, (d) => cpSync(join(d, 'imagesTr', 'heart3_0000.nii.gz'), join(d, 'imagesTr', 'heart3_0001.nii.gz')));
    expect(() => openDataset(twoChannel)).toThrow(/heart3_0001\.nii\.gz: channel 1, but .*dataset\.json declares one channel/);
    const noLabels = variant('no-label', {}, (d) => rmSync(join(d, 'labelsTr', 'heart3.nii.gz')));
    expect(openDataset(noLabels).cases.find((c) => c.id === 'heart3')?.labels).toBeUndefined();
    expect(() => openDataset(noLabels, { requireLabels: true })).toThrow(/labelsTr\/heart3\.nii\.gz: missing labels of case heart3/);
  });

  it('an ACDC phantom with its summary dataset.json (no imagesTr) is not taken for nnU-Net', () => {
    const dir = join(tmp, 'folder-with-json');
    mkdirSync(join(dir, 'c1'), { recursive: true });
    cpSync(join(root, 'imagesTr', 'heart3_0000.nii.gz'), join(dir, 'c1', 'c1.nii.gz'));
    writeFileSync(join(dir, 'dataset.json'), '{"generator": "hmcseg-phantom"}');
    expect(openDataset(dir).layout).toBe('folder');
  });
});

describe('predictions in the nnunet layout', () => {
  it('maps classes back to the data set values, and refuses a class with two values', () => {
    expect(projectToNnunetValues(openDataset(root).labelMap, 'x')).toEqual(TO_NNUNET);
    expect(() => projectToNnunetValues(EMIDEC_LABELS, 'emidec.json')).toThrow(
      /emidec\.json: class MYO has labels 2 and 3 and 4, so a prediction cannot be written in the data set's label values/,
    );
  });

  it('writes CASE.nii.gz in nnU-Net values and the maps in hmcseg/, which evaluation reads back against labelsTr', () => {
    const ds = openDataset(root, { requireLabels: true });
    const layout = { kind: 'nnunet', labelMap: ds.labelMap } as const;
    const out = join(tmp, 'pred-perfect');
    for (const ref of ds.cases) {
      const c = loadCase(ds, ref);
      const seg = c.labels?.data as Uint8Array;
      const n = seg.length;
      const probabilities = new Float32Array(4 * n);
      for (let i = 0; i < n; i++) probabilities[seg[i] * n + i] = 1;
      const p: VolumePrediction = {
        dims: c.image.dims,
        segmentation: seg,
        probabilities,
        entropy: new Float32Array(n),
        mutualInformation: new Float32Array(n),
        expectedEntropy: new Float32Array(n),
        passes: 1,
        warningScore: 'entropyRegion',
        postprocess: 'none',
        slices: [{ score: 0 }, { score: 0 }] as unknown as VolumePrediction['slices'],
        volume: { score: 0 } as unknown as VolumePrediction['volume'],
      };
      writePrediction(out, ref.id, c.image, p, { input: ref.image, method: 'test', samples: 1 }, 'uint8', layout);
      const raw = readNiftiLabels(join(out, `${ref.id}.nii.gz`)).data;
      expect(Array.from(raw)).toEqual(Array.from(readNiftiLabels(ref.labels as string).data));
      const back = readPrediction(out, ref.id, c.labels as Volume, ref.labels as string, layout);
      expect(Array.from(back.segmentation)).toEqual(Array.from(seg));
      expect(back.entropy).toBeDefined();
      expect(back.probabilities).toBeDefined();
    }
    expect(readdirSync(out).filter((f) => f.endsWith('.nii.gz')).sort()).toEqual(CASES.map(([id]) => `${id}.nii.gz`).sort());
    expect(readdirSync(out).filter((f) => f.endsWith('.npz')).sort()).toEqual(CASES.map(([id]) => `${id}.npz`).sort());
    expect(readdirSync(join(out, NNUNET_EXTRAS_DIR))).toContain('heart3_uncertainty.json');
    const ev = evaluateDirectory({ pred: out, gt: root });
    expect(ev.missing).toEqual([]);
    expect(ev.cases).toHaveLength(CASES.length);
    for (const c of ev.cases) {
      expect(c.meanDice.value).toBe(1);
      for (const s of ['LV', 'MYO', 'RV'] as const) expect(c.structures[s].dice.value).toBe(1);
    }
  });
});

pytorch(['numpy']).it('CASE.npz loads in NumPy: key probabilities, float32 (value, z, y, x), arg-max = the labelsTr values', () => {
  const out = join(tmp, 'pred-perfect');
  const script = [
    'import sys, numpy as np',
    'p = np.load(sys.argv[1])',
    'a = p["probabilities"]',
    'print(list(p.keys()), a.dtype, a.shape, float(abs(a.sum(0) - 1).max()))',
    'np.save(sys.argv[2], a.argmax(0).astype(np.uint8))',
  ].join('\n');
  const argmaxFile = join(tmp, 'argmax.npy');
  const r = spawnSync(PYTHON, ['-c', script, join(out, 'heart3.npz'), argmaxFile], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe("['probabilities'] float32 (4, 2, 32, 32) 0.0");
  const r2 = spawnSync(PYTHON, ['-c', `import numpy as np; print(" ".join(map(str, np.load("${argmaxFile}").ravel())))`], { encoding: 'utf8' });
  const expected = Array.from(readNiftiLabels(join(root, 'labelsTr', 'heart3.nii.gz')).data).join(' ');
  expect(r2.stdout.trim()).toBe(expected);
});

describe('training on an nnU-Net data set and predict --layout nnunet', () => {
  let store: string;
  beforeAll(async () => {
    const splits = join(tmp, 'splits.json');
    writeSplits(splits, makeSplits(openDataset(root), { seed: 0, fractions: { train: 2 / 3, val: 0, test: 1 / 3 } }));
    store = join(tmp, 'store');
    const config = parseTrainConfig({
      seed: 3,
      threads: 1,
      data: { size: 32, batchSize: 2, workers: 0, augment: 0 },
      model: { depth: 2, baseWidth: 4 },
      optim: { steps: 2 },
      hmc: { cycles: 1, samplesPerCycle: 1, beta: 1 },
      checkpointEvery: 1000,
    });
    expect(config.data.labels).toBe('auto');
    await train({ method: 'hmc', config, data: root, splits, out: store });
  }, 120_000);

  async function predictCli(args: string[]): Promise<void> {
    const program = new Command().exitOverride();
    registerPredictCommand(program);
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync(['predict', '--model', store, ...args], { from: 'user' });
    } finally {
      write.mockRestore();
      err.mockRestore();
    }
  }

  it('writes CASE.nii.gz per channel-0 image in dataset.json values, the rest in hmcseg/, and evaluation scores it', async () => {
    const out = join(tmp, 'pred-cli');
    await predictCli(['--input', join(root, 'imagesTr'), '--out', out, '--layout', 'nnunet', '--save-probs']);
    expect(readdirSync(out).sort()).toEqual([...CASES.flatMap(([id]) => [`${id}.nii.gz`, `${id}.npz`]), NNUNET_EXTRAS_DIR].sort());
    const extras = readdirSync(join(out, NNUNET_EXTRAS_DIR));
    for (const suffix of ['entropy.nii.gz', 'mi.nii.gz', 'uncertainty.json', 'prob_LV.nii.gz']) expect(extras).toContain(`heart3_${suffix}`);
    for (const [id] of CASES) {
      const values = new Set(readNiftiLabels(join(out, `${id}.nii.gz`)).data);
      for (const v of values) expect(Object.values(LABELS)).toContain(v);
    }
    const ev = evaluateDirectory({ pred: out, gt: root });
    expect(ev.missing).toEqual([]);
    expect(ev.cases.map((c) => c.id).sort()).toEqual(CASES.map(([id]) => id).sort());
  }, 120_000);

  it('refuses inputs with a second channel, and a missing dataset.json, before predicting', async () => {
    const two = variant('cli-two-channel', {}, (d) => cpSync(join(d, 'imagesTr', 'heart3_0000.nii.gz'), join(d, 'imagesTr', 'heart3_0001.nii.gz')));
    await expect(predictCli(['--input', join(two, 'imagesTr'), '--out', join(tmp, 'x'), '--layout', 'nnunet'])).rejects.toThrow(
      /heart3_0001\.nii\.gz: an image of channel 1; hmcseg segments one channel/,
    );
    const lone = join(tmp, 'lone', 'a', 'b');
    mkdirSync(lone, { recursive: true });
    cpSync(join(root, 'imagesTr', 'heart3_0000.nii.gz'), join(lone, 'heart3_0000.nii.gz'));
    await expect(predictCli(['--input', lone, '--out', join(tmp, 'y'), '--layout', 'nnunet'])).rejects.toThrow(/no dataset\.json .*pass --nnunet-dataset DIR/);
    expect(existsSync(join(tmp, 'y'))).toBe(false);
    await expect(predictCli(['--input', lone, '--out', join(tmp, 'z'), '--nnunet-dataset', root])).rejects.toThrow(/--nnunet-dataset needs --layout nnunet/);
  });
});
