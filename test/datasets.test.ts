import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ACDC_LABELS,
  applyLabelMap,
  CLASSES,
  EMIDEC_LABELS,
  fingerprint,
  loadCase,
  loadLabelMap,
  makeSplits,
  NUM_CLASSES,
  openDataset,
  parseInfoCfg,
  PROJECT_LABELS,
  readSplits,
  splitCases,
  writeNifti,
  writeSplits,
  type Dataset,
  type Volume,
} from '../src/data/index.js';
import { realData } from './helpers/optional.js';

const data = realData();
const tmp = mkdtempSync(join(tmpdir(), 'hmcseg-datasets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
function vol<T extends Float32Array | Uint8Array>(data: T, dims: [number, number, number] = [2, 2, 1]): Volume<T> {
  return { dims, spacing: [1, 1, 1], affine: IDENTITY, data };
}

/** A tiny ACDC-layout data set; `cfg` overrides a patient's Info.cfg text. */
function makeAcdc(name: string, patients: Record<string, string>, options: { gt?: boolean } = {}): string {
  const root = join(tmp, name);
  for (const [patient, cfg] of Object.entries(patients)) {
    const dir = join(root, patient);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Info.cfg'), cfg);
    writeNifti(join(dir, `${patient}_4d.nii.gz`), vol(new Float32Array(8), [2, 2, 2]));
    for (const frame of [1, 2, 3, 12]) {
      const stem = join(dir, `${patient}_frame${String(frame).padStart(2, '0')}`);
      writeNifti(`${stem}.nii.gz`, vol(Float32Array.from([0, 0.25, 0.5, 1])));
      if (options.gt !== false) writeNifti(`${stem}_gt.nii.gz`, vol(Uint8Array.from([0, 1, 2, 3])));
    }
  }
  return root;
}

describe('label maps', () => {
  it('defines the project classes', () => {
    expect(CLASSES).toEqual(['background', 'LV', 'MYO', 'RV']);
    expect(NUM_CLASSES).toBe(CLASSES.length);
  });

  it('maps ACDC and EMIDEC labels to project classes and marks what each labels', () => {
    expect(Array.from(applyLabelMap(Uint8Array.from([0, 1, 2, 3]), ACDC_LABELS, 'a'))).toEqual([0, 3, 2, 1]);
    expect(Array.from(applyLabelMap(Uint8Array.from([0, 1, 2, 3, 4]), EMIDEC_LABELS, 'e'))).toEqual([0, 1, 2, 2, 2]);
    expect(Array.from(applyLabelMap(Uint8Array.from([3, 2, 1, 0]), PROJECT_LABELS, 'p'))).toEqual([3, 2, 1, 0]);
    expect(ACDC_LABELS.labelled).toEqual([true, true, true, true]);
    expect(EMIDEC_LABELS.labelled).toEqual([true, true, true, false]);
  });

  it('rejects a label the map does not know, naming the file and value', () => {
    expect(() => applyLabelMap(Uint8Array.from([0, 4]), ACDC_LABELS, '/x/p_gt.nii.gz')).toThrow(
      '/x/p_gt.nii.gz: label 4 at voxel 1 is not in label map acdc (known: 0, 1, 2, 3)',
    );
  });

  it('loads built-in maps by name and validated JSON files', () => {
    expect(loadLabelMap('emidec')).toBe(EMIDEC_LABELS);
    const good = join(tmp, 'labels-good.json');
    writeFileSync(good, JSON.stringify({ name: 'mine', map: { '0': 'background', '7': 'LV', '8': 2 } }));
    const m = loadLabelMap(good);
    expect(m.name).toBe('mine');
    expect(Array.from(applyLabelMap(Uint8Array.from([8, 7, 0]), m, good))).toEqual([2, 1, 0]);
    expect(m.labelled).toEqual([true, true, true, false]);

    const bad = join(tmp, 'labels-bad.json');
    writeFileSync(bad, JSON.stringify({ map: { '0': 'background', '256': 'LV', '1': 'aorta' } }));
    let message = '';
    try {
      loadLabelMap(bad);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^label map .*labels-bad\.json: invalid\n/);
    expect(message).toContain('a class name (background, LV, MYO, RV) or index 0..3\n  → at map.1');
    expect(message).toContain('at map.256');
    writeFileSync(bad, '{"map": ');
    expect(() => loadLabelMap(bad)).toThrow(/labels-bad\.json: not a built-in name .* JSON/);
    expect(() => loadLabelMap('nonesuch')).toThrow(/nonesuch: not a built-in name \(acdc, emidec, project\)/);
  });
});

describe('Info.cfg', () => {
  it('reads ED, ES and Group and ignores other keys of the official files', () => {
    const text = 'ED: 1\nES: 12\nGroup: DCM\nHeight: 184.0\nNbFrame: 30\nWeight: 95.0\n';
    expect(parseInfoCfg(text, 'Info.cfg')).toEqual({ ED: 1, ES: 12, group: 'DCM' });
    expect(parseInfoCfg('ED: 3\r\nES: 9\r\n', 'f')).toEqual({ ED: 3, ES: 9, group: undefined });
  });
  it('names the file and what is wrong', () => {
    expect(() => parseInfoCfg('ED: 1\nGroup: NOR\n', '/d/Info.cfg')).toThrow('/d/Info.cfg: missing ES frame');
    expect(() => parseInfoCfg('ED: one\nES: 2\n', '/d/Info.cfg')).toThrow('/d/Info.cfg: ED frame "one" is not a positive integer');
    expect(() => parseInfoCfg('ED: 1\nES 2\n', '/d/Info.cfg')).toThrow('/d/Info.cfg:2: malformed line "ES 2"');
    expect(() => parseInfoCfg('ED: 4\nES: 4\n', '/d/Info.cfg')).toThrow('/d/Info.cfg: ED and ES are the same frame (4)');
  });
});

data.describe('the real data sets', () => {
  const acdc = openDataset(join(data.root, 'acdc'));
  const emidec = openDataset(join(data.root, 'emidec'), { labels: 'emidec', requireLabels: true });

  it('finds 90 ACDC patients × (ED, ES) with their groups', () => {
    expect(acdc.layout).toBe('acdc');
    expect(acdc.labelMap).toBe(ACDC_LABELS);
    expect(acdc.cases.length).toBe(180);
    expect(new Set(acdc.cases.map((c) => c.patient)).size).toBe(90);
    const groups: Record<string, number> = {};
    for (const c of acdc.cases) groups[c.group ?? '?'] = (groups[c.group ?? '?'] ?? 0) + 1;
    expect(groups).toEqual({ DCM: 36, HCM: 36, MINF: 36, NOR: 36, RV: 36 });
    expect(acdc.cases.slice(0, 2)).toEqual([
      {
        id: 'patient001_ED',
        patient: 'patient001',
        phase: 'ED',
        frame: 1,
        group: 'DCM',
        image: join(acdc.dir, 'patient001/patient001_frame01.nii.gz'),
        labels: join(acdc.dir, 'patient001/patient001_frame01_gt.nii.gz'),
      },
      expect.objectContaining({ id: 'patient001_ES', frame: 12, phase: 'ES' }),
    ]);
  });

  it('loads an ACDC case with labels mapped to project classes (counts from numpy)', () => {
    const c = loadCase(acdc, acdc.cases[0]);
    expect(c.image.dims).toEqual([216, 256, 10]);
    const counts = [0, 0, 0, 0];
    for (const v of c.labels!.data) counts[v]++;
    // ACDC file counts 0:528405 1(RV):5723 2(MYO):6728 3(LV):12104 → project order bg, LV, MYO, RV.
    expect(counts).toEqual([528405, 12104, 6728, 5723]);
    expect(c.labelled).toEqual([true, true, true, true]);
  });

  it('finds the 80 EMIDEC cases and maps 2, 3, 4 to MYO, RV unlabelled', () => {
    expect(emidec.layout).toBe('folder');
    expect(emidec.cases.length).toBe(80);
    const ref = emidec.cases.find((c) => c.id === 'Case_P001')!;
    const c = loadCase(emidec, ref);
    const counts = [0, 0, 0, 0];
    for (const v of c.labels!.data) counts[v]++;
    expect(counts).toEqual([632557, 11869, 5275 + 3648 + 2011, 0]);
    expect(c.labelled).toEqual([true, true, true, false]);
  });

  it('refuses EMIDEC without a label map, saying how to give one', () => {
    expect(() => openDataset(join(data.root, 'emidec'))).toThrow(/emidec: has label files but no label map: pass labels/);
  });

  it('splits ACDC by patient, stratified by group, reproducibly', () => {
    const s = makeSplits(acdc, { seed: 1 });
    expect([s.train.length, s.val.length, s.test.length]).toEqual([63, 9, 18]);
    const all = [...s.train, ...s.val, ...s.test];
    expect(new Set(all).size).toBe(90);
    expect(new Set(all)).toEqual(new Set(acdc.cases.map((c) => c.patient)));
    const groupOf = new Map(acdc.cases.map((c) => [c.patient, c.group]));
    for (const g of ['DCM', 'HCM', 'MINF', 'NOR', 'RV']) {
      const n = (ids: readonly string[]): number => ids.filter((p) => groupOf.get(p) === g).length;
      // 18 patients per group: exact shares 12.6 / 1.8 / 3.6 → floor or ceil.
      expect([12, 13]).toContain(n(s.train));
      expect([1, 2]).toContain(n(s.val));
      expect([3, 4]).toContain(n(s.test));
    }
    expect(makeSplits(acdc, { seed: 1 })).toEqual(s);
    expect(makeSplits(acdc, { seed: 2 }).test).not.toEqual(s.test);
    expect(s.datasetFingerprint).toBe(fingerprint(acdc));
    expect(splitCases(acdc, s, 'test').length).toBe(36);
    expect(splitCases(acdc, s, 'test').every((c) => s.test.includes(c.patient))).toBe(true);
  });
});

describe('openDataset on generated layouts', () => {
  const cfg = (ed: number, es: number, group = 'NOR'): string => `ED: ${ed}\nES: ${es}\nGroup: ${group}\nHeight: 170\nNbFrame: 12\n`;

  it('skips the 4d file and extra frames, and loads cases', () => {
    const dir = makeAcdc('acdc-ok', { patient101: cfg(1, 12), patient102: cfg(2, 3, 'RV') });
    const ds = openDataset(dir);
    expect(ds.name).toBe('acdc-ok');
    expect(ds.cases.map((c) => `${c.id}:${c.frame}:${c.group}`)).toEqual([
      'patient101_ED:1:NOR',
      'patient101_ES:12:NOR',
      'patient102_ED:2:RV',
      'patient102_ES:3:RV',
    ]);
    const c = loadCase(ds, ds.cases[3]);
    expect(Array.from(c.image.data)).toEqual([0, 0.25, 0.5, 1]);
    expect(Array.from(c.labels!.data)).toEqual([0, 3, 2, 1]);
  });

  it('names the file when Info.cfg lacks a frame or points to a missing image', () => {
    const dir = makeAcdc('acdc-noes', { patient101: cfg(1, 12), patient102: 'ED: 1\nGroup: NOR\n' });
    expect(() => openDataset(dir)).toThrow(`${join(dir, 'patient102/Info.cfg')}: missing ES frame`);
    const dir2 = makeAcdc('acdc-noframe', { patient101: cfg(1, 7) });
    expect(() => openDataset(dir2)).toThrow(`${join(dir2, 'patient101/patient101_frame07')}.nii.gz: missing ES image`);
  });

  it('makes missing labels an error only when required', () => {
    const dir = makeAcdc('acdc-nogt', { patient101: cfg(1, 12) }, { gt: false });
    expect(() => openDataset(dir, { requireLabels: true })).toThrow(
      `${join(dir, 'patient101/patient101_frame01')}_gt.nii.gz: missing labels for ED`,
    );
    const ds = openDataset(dir);
    const c = loadCase(ds, ds.cases[0]);
    expect(c.labels).toBeUndefined();
    expect(c.labelled).toEqual([false, false, false, false]);
  });

  it('reads the folder layout, with a labels.json beside the cases', () => {
    const dir = join(tmp, 'folder');
    for (const id of ['b', 'a']) {
      mkdirSync(join(dir, id), { recursive: true });
      writeNifti(join(dir, id, `${id}.nii`), vol(Float32Array.from([1, 0, 0, 0])));
    }
    writeNifti(join(dir, 'a', 'a_gt.nii.gz'), vol(Uint8Array.from([0, 5, 6, 0])));
    expect(() => openDataset(dir, { requireLabels: true })).toThrow(`${join(dir, 'b', 'b')}_gt.nii.gz: missing labels`);
    expect(() => openDataset(dir)).toThrow(/has label files but no label map/);
    writeFileSync(join(dir, 'labels.json'), JSON.stringify({ name: 'five-six', map: { '0': 0, '5': 'RV', '6': 'LV' } }));
    const ds = openDataset(dir);
    expect(ds.layout).toBe('folder');
    expect(ds.labelMap.name).toBe('five-six');
    expect(ds.cases.map((c) => c.id)).toEqual(['a', 'b']);
    expect(Array.from(loadCase(ds, ds.cases[0]).labels!.data)).toEqual([0, 3, 1, 0]);
    expect(loadCase(ds, ds.cases[1]).labels).toBeUndefined();
  });

  it('names both files and shapes when label and image dims differ', () => {
    const dir = join(tmp, 'mismatch');
    mkdirSync(join(dir, 'c'), { recursive: true });
    writeNifti(join(dir, 'c', 'c.nii.gz'), vol(new Float32Array(4)));
    writeNifti(join(dir, 'c', 'c_gt.nii.gz'), vol(new Uint8Array(6), [3, 2, 1]));
    const ds = openDataset(dir, { labels: 'project' });
    expect(() => loadCase(ds, ds.cases[0])).toThrow(
      `label dims 3×2×1 (${join(dir, 'c', 'c_gt.nii.gz')}) do not match image dims 2×2×1 (${join(dir, 'c', 'c.nii.gz')})`,
    );
  });

  it('rejects a missing or empty directory, and a case folder without its image', () => {
    expect(() => openDataset(join(tmp, 'nope'))).toThrow(`${join(tmp, 'nope')}: data set directory does not exist`);
    mkdirSync(join(tmp, 'empty'));
    writeFileSync(join(tmp, 'empty', 'README.md'), 'hi');
    expect(() => openDataset(join(tmp, 'empty'))).toThrow(`${join(tmp, 'empty')}: data set directory has no case subdirectories`);
    mkdirSync(join(tmp, 'noimg', 'x'), { recursive: true });
    expect(() => openDataset(join(tmp, 'noimg'))).toThrow(`${join(tmp, 'noimg', 'x', 'x')}.nii.gz: missing image`);
  });
});

describe('fingerprint', () => {
  it('depends on paths, sizes and leading bytes, not on where or when the files were copied', () => {
    const dir = makeAcdc('fp', { patient101: 'ED: 1\nES: 12\nGroup: NOR\n' });
    const a = fingerprint(openDataset(dir));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    const copy = join(tmp, 'fp-copy');
    cpSync(dir, copy, { recursive: true });
    utimesSync(join(copy, 'patient101', 'patient101_frame01.nii.gz'), 1000, 1000);
    expect(fingerprint(openDataset(copy))).toBe(a);

    const frame = join(copy, 'patient101', 'patient101_frame12_gt.nii.gz');
    const bytes = readFileSync(frame);
    writeFileSync(frame, Buffer.concat([bytes, Buffer.from([0])]));
    expect(fingerprint(openDataset(copy))).not.toBe(a);
    bytes[20] ^= 1;
    writeFileSync(frame, bytes);
    expect(fingerprint(openDataset(copy))).not.toBe(a);
    bytes[20] ^= 1;
    writeFileSync(frame, bytes);
    expect(fingerprint(openDataset(copy))).toBe(a);
    writeFileSync(join(copy, 'patient101', 'Info.cfg'), 'ED: 1\nES: 12\nGroup: DCM\n');
    expect(fingerprint(openDataset(copy))).not.toBe(a);
  });
});

describe('splits files', () => {
  /** A data set of refs only: splits never read images, only the fingerprint's files. */
  function fake(groups: Record<string, number>): Dataset {
    const dir = makeAcdc('split-src', { patient001: 'ED: 1\nES: 12\n' });
    const ref = openDataset(dir).cases[0];
    const cases = Object.entries(groups).flatMap(([g, n]) =>
      Array.from({ length: n }, (_, i) => ({ ...ref, id: `${g}${i}_ED`, patient: `${g}${i}`, group: g || undefined })),
    );
    return { name: 'fake', dir, layout: 'folder', labelMap: PROJECT_LABELS, cases };
  }

  it('keeps every group within floor/ceil of its share with uneven groups and fractions', () => {
    const ds = fake({ A: 7, B: 11, C: 3, D: 29 });
    const fractions = { train: 0.6, val: 0.15, test: 0.25 };
    const s = makeSplits(ds, { seed: 5, fractions });
    for (const [g, n] of [['A', 7], ['B', 11], ['C', 3], ['D', 29]] as const) {
      for (const part of ['train', 'val', 'test'] as const) {
        const k = s[part].filter((p) => p.startsWith(g)).length;
        expect(k, `${g} ${part}`).toBeGreaterThanOrEqual(Math.floor(fractions[part] * n));
        expect(k, `${g} ${part}`).toBeLessThanOrEqual(Math.ceil(fractions[part] * n));
      }
    }
    // Totals: 50 patients → 30 / 7.5 / 12.5; within one of the exact share.
    expect(Math.abs(s.train.length - 30)).toBeLessThanOrEqual(1);
    expect(Math.abs(s.val.length - 7.5)).toBeLessThanOrEqual(1);
    expect(s.train.length + s.val.length + s.test.length).toBe(50);
  });

  it('splits a data set without groups, and rejects fractions that do not sum to 1', () => {
    const s = makeSplits(fake({ '': 10 }), { seed: 0 });
    expect([s.train.length, s.val.length, s.test.length]).toEqual([7, 1, 2]);
    expect(() => makeSplits(fake({ '': 10 }), { seed: 0, fractions: { train: 0.7, val: 0.2, test: 0.2 } })).toThrow(/sum to 1/);
  });

  it('round-trips through JSON and rejects invalid files naming them', () => {
    const s = makeSplits(fake({ X: 10, Y: 10 }), { seed: 3 });
    const path = join(tmp, 'splits.json');
    writeSplits(path, s);
    expect(readSplits(path)).toEqual(s);

    const bad = join(tmp, 'bad-splits.json');
    writeFileSync(bad, JSON.stringify({ ...s, val: [...s.val, s.train[0]] }));
    expect(() => readSplits(bad)).toThrow(`${bad}: patient ${s.train[0]} is in both train and val`);
    writeFileSync(bad, JSON.stringify({ ...s, version: 2 }));
    expect(() => readSplits(bad)).toThrow(new RegExp(`${bad}: invalid splits file[\\s\\S]*version`));
    writeFileSync(bad, JSON.stringify({ ...s, datasetFingerprint: 'abc' }));
    expect(() => readSplits(bad)).toThrow(/sha256/);
    writeFileSync(bad, '{');
    expect(() => readSplits(bad)).toThrow(`${bad}: cannot read the splits file as JSON`);
  });

  it('says which split patients are missing from a data set', () => {
    const ds = fake({ X: 4 });
    const s = { ...makeSplits(ds, { seed: 0 }), test: ['X0', 'ghost'] };
    expect(() => splitCases(ds, s, 'test')).toThrow(/splits test: patients not in data set .*: ghost/);
  });
});
