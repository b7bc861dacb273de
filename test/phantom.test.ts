import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerPhantomCommand } from '../src/cli/phantom.js';
import { loadCase, openDataset } from '../src/data/datasets.js';
import { readNiftiLabels } from '../src/data/nifti.js';
import {
  addRicianNoise,
  bssfpSignal,
  gaussianBlur2d,
  generatePhantomCase,
  lvRadii,
  MATERIALS,
  sampleAnatomy,
  Tissue,
  writePhantomDataset,
  type PhantomCase,
} from '../src/data/phantom/index.js';
import { Rng } from '../src/util/index.js';

const LV = 1;
const MYO = 2;
const RV = 3;

const tmpRoot = mkdtempSync(join(tmpdir(), 'hmcseg-phantom-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

function count(labels: Uint8Array, cls: number, from = 0, to = labels.length): number {
  let n = 0;
  for (let p = from; p < to; p++) if (labels[p] === cls) n++;
  return n;
}

/** Mask pixels whose four in-plane neighbours are also in the mask (one erosion). */
function erode(mask: Uint8Array, [nx, ny, nz]: readonly [number, number, number]): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let k = 0; k < nz; k++) {
    for (let j = 1; j < ny - 1; j++) {
      for (let i = 1; i < nx - 1; i++) {
        const p = i + nx * (j + ny * k);
        out[p] = mask[p] && mask[p - 1] && mask[p + 1] && mask[p - nx] && mask[p + nx] ? 1 : 0;
      }
    }
  }
  return out;
}

function maskMean(image: Float32Array, mask: Uint8Array): number {
  let s = 0;
  let n = 0;
  for (let p = 0; p < image.length; p++) {
    if (mask[p]) {
      s += image[p];
      n++;
    }
  }
  expect(n).toBeGreaterThan(50);
  return s / n;
}

/** Blood-pool ROI: eroded LV + RV blood from the tissue map (papillary muscles excluded, as a reader's ROI would). */
function bloodRoi(c: PhantomCase): Uint8Array {
  return erode(c.tissues.map((t) => (t === Tissue.lvBlood || t === Tissue.rvBlood ? 1 : 0)), c.dims);
}
function labelRoi(c: PhantomCase, cls: number): Uint8Array {
  return erode(c.labels.map((l) => (l === cls ? 1 : 0)), c.dims);
}
function tissueRoi(c: PhantomCase, t: number): Uint8Array {
  return erode(c.tissues.map((x) => (x === t ? 1 : 0)), c.dims);
}

describe('signal models and degradations', () => {
  it('bSSFP steady state matches hand-computed values', () => {
    // T1 = T2: denominator (1 + 1) − cos α · 0 = 2, so S = PD · sin α / 2.
    expect(bssfpSignal({ t1: 800, t2: 800, pd: 1 }, 90)).toBeCloseTo(0.5, 12);
    // T1/T2 = 10, α = 60°: 0.5 · sin 60° / (11 − 0.5 · 9) = 0.0666173387526…
    expect(bssfpSignal({ t1: 1000, t2: 100, pd: 0.5 }, 60)).toBeCloseTo(0.06661733875264914, 12);
    // The table's blood and myocardium at 55°: 0.17481 and 0.06705 (computed with numpy).
    expect(bssfpSignal(MATERIALS.blood, 55)).toBeCloseTo(0.1748082698878002, 10);
    expect(bssfpSignal(MATERIALS.myocardium, 55)).toBeCloseTo(0.0670472326522392, 10);
    expect(bssfpSignal(MATERIALS.air, 55)).toBe(0);
  });

  it('Rician noise of a zero signal is Rayleigh (mean σ√(π/2)); of a strong one ≈ √(S² + σ²)', () => {
    const n = 40000;
    const zero = new Float32Array(n);
    addRicianNoise(zero, 2, new Rng(5));
    expect(zero.reduce((a, b) => a + b, 0) / n).toBeCloseTo(2 * Math.sqrt(Math.PI / 2), 1);
    expect(Math.min(...zero)).toBeGreaterThanOrEqual(0);
    const strong = new Float32Array(n).fill(20);
    addRicianNoise(strong, 1, new Rng(6));
    expect(strong.reduce((a, b) => a + b, 0) / n).toBeCloseTo(Math.sqrt(401), 1);
  });

  it('Gaussian blur keeps a constant slice and spreads a delta symmetrically with unit mass', () => {
    const flat = new Float32Array(81).fill(3);
    gaussianBlur2d(flat, 9, 9, 0.8);
    for (const v of flat) expect(v).toBeCloseTo(3, 5);
    const delta = new Float32Array(81);
    delta[4 + 9 * 4] = 1;
    gaussianBlur2d(delta, 9, 9, 0.8);
    expect(delta.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(delta[3 + 9 * 4]).toBeCloseTo(delta[5 + 9 * 4], 7);
    expect(delta[4 + 9 * 3]).toBeCloseTo(delta[3 + 9 * 4], 7);
    expect(delta[4 + 9 * 4]).toBeGreaterThan(delta[3 + 9 * 4]);
  });
});

describe('generatePhantomCase: determinism and options', () => {
  it('same seed gives identical arrays; another seed gives different ones', () => {
    const a = generatePhantomCase({ seed: 3, contrast: 'ssfp', size: 64 });
    const b = generatePhantomCase({ seed: 3, contrast: 'ssfp', size: 64 });
    const c = generatePhantomCase({ seed: 4, contrast: 'ssfp', size: 64 });
    expect(sameBytes(a.image, b.image)).toBe(true);
    expect(sameBytes(a.labels, b.labels)).toBe(true);
    expect(a.dims).toEqual(b.dims);
    expect(sameBytes(a.labels, c.labels)).toBe(false);
    expect(a.image.length === c.image.length && sameBytes(a.image, c.image)).toBe(false);
  });

  it('the anatomy depends on the seed only, not on the contrast; ES differs from ED', () => {
    const ssfp = generatePhantomCase({ seed: 9, contrast: 'ssfp', size: 64 });
    const t1 = generatePhantomCase({ seed: 9, contrast: 't1map', size: 64 });
    const t2 = generatePhantomCase({ seed: 9, contrast: 't2map', size: 64 });
    expect(sameBytes(ssfp.labels, t1.labels)).toBe(true);
    expect(sameBytes(ssfp.labels, t2.labels)).toBe(true);
    const es = generatePhantomCase({ seed: 9, contrast: 'ssfp', size: 64, phase: 'ES' });
    expect(es.dims).toEqual(ssfp.dims);
    expect(sameBytes(es.labels, ssfp.labels)).toBe(false);
  });

  it('honours size and slices and reports mm spacing from a 220 mm field of view', () => {
    const c = generatePhantomCase({ seed: 1, contrast: 't2map', size: 40, slices: 3 });
    expect(c.dims).toEqual([40, 40, 3]);
    expect(c.image.length).toBe(40 * 40 * 3);
    expect(c.spacing[0]).toBeCloseTo(5.5, 12);
    expect(c.spacing[2]).toBeGreaterThan(10);
    expect(c.group).toBe('PHANTOM');
    for (let seed = 1; seed <= 10; seed++) {
      const nz = generatePhantomCase({ seed, contrast: 't2map', size: 16 }).dims[2];
      expect(nz).toBeGreaterThanOrEqual(6);
      expect(nz).toBeLessThanOrEqual(10);
    }
  });

  it('BAD CALL: rejects bad options with the option named', () => {
    const bad = (o: object) => () => generatePhantomCase({ seed: 1, contrast: 'ssfp', ...o } as never);
    expect(bad({ contrast: 'lge' })).toThrow(RangeError);
    expect(bad({ contrast: 'lge' })).toThrow(/'contrast' must be one of ssfp, t1map, t2map, got lge/);
    expect(bad({ seed: 1.5 })).toThrow(TypeError);
    expect(bad({ size: 8 })).toThrow(/'size' must be in \[16, 1024\], got 8/);
    expect(bad({ slices: 0 })).toThrow(/'slices'/);
    expect(bad({ phase: 'mid' })).toThrow(/'phase'/);
  });
});

describe('anatomy sanity', () => {
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  const size = 64;

  it('labels are 0..3; every LV pixel is enclosed by LV or MYO; the RV touches the MYO', () => {
    const problems: string[] = [];
    for (const seed of seeds) {
      for (const phase of ['ED', 'ES'] as const) {
        const c = generatePhantomCase({ seed, contrast: 't2map', size, phase });
        const [nx, ny, nz] = c.dims;
        if (c.labels.some((l) => l > 3)) problems.push(`seed ${seed} ${phase}: label above 3`);
        for (let k = 0; k < nz; k++) {
          let rvTouchesMyo = false;
          let rvPixels = 0;
          for (let j = 0; j < ny; j++) {
            for (let i = 0; i < nx; i++) {
              const p = i + nx * (j + ny * k);
              const l = c.labels[p];
              if (l !== LV && l !== RV) continue;
              if (i === 0 || j === 0 || i === nx - 1 || j === ny - 1) {
                problems.push(`seed ${seed} ${phase} slice ${k}: label ${l} on the image border`);
                continue;
              }
              const nb = [c.labels[p - 1], c.labels[p + 1], c.labels[p - nx], c.labels[p + nx]];
              if (l === LV && nb.some((n) => n !== LV && n !== MYO)) {
                problems.push(`seed ${seed} ${phase} slice ${k}: LV pixel (${i}, ${j}) next to ${nb.join(',')}`);
              }
              if (l === RV) {
                rvPixels++;
                if (nb.includes(MYO)) rvTouchesMyo = true;
              }
            }
          }
          if (rvPixels > 0 && !rvTouchesMyo) problems.push(`seed ${seed} ${phase} slice ${k}: RV does not touch MYO`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the basal slice has LV, MYO and RV; the RV shrinks towards the apex and is gone in the apical slice', () => {
    for (const seed of seeds) {
      const c = generatePhantomCase({ seed, contrast: 't2map', size });
      const npx = size * size;
      const nz = c.dims[2];
      const area = (cls: number, k: number) => count(c.labels, cls, k * npx, (k + 1) * npx);
      expect(area(LV, 0)).toBeGreaterThan(0);
      expect(area(MYO, 0)).toBeGreaterThan(0);
      expect(area(RV, 0)).toBeGreaterThan(0);
      expect(area(RV, nz - 1)).toBe(0);
      expect(area(RV, Math.floor(nz / 2))).toBeLessThan(area(RV, 0));
      expect(area(LV, nz - 1)).toBeLessThan(area(LV, 0));
      expect(area(MYO, nz - 1)).toBeGreaterThan(0);
    }
  });

  it('ES has a smaller LV cavity than ED for the same seed, and a thicker wall', () => {
    for (const seed of seeds) {
      const ed = generatePhantomCase({ seed, contrast: 'ssfp', size });
      const es = generatePhantomCase({ seed, contrast: 'ssfp', size, phase: 'ES' });
      // Dilated hearts (low ejection fraction) shrink least: ES/ED cavity area ≤ 0.86 over 300 seeds.
      expect(count(es.labels, LV)).toBeLessThan(0.9 * count(ed.labels, LV));
      expect(count(es.labels, RV)).toBeLessThan(count(ed.labels, RV));
      const a = sampleAnatomy(new Rng(seed), { fovMm: 220 });
      for (const z of a.sliceZ) {
        const rEd = lvRadii(a, z, 'ED');
        const rEs = lvRadii(a, z, 'ES');
        expect(rEs.endo).toBeLessThan(rEd.endo + 1e-9);
        expect(rEs.epi - rEs.endo).toBeGreaterThan(rEd.epi - rEd.endo);
      }
    }
  });
});

describe('contrast per sequence, measured over the masks (128 × 128)', () => {
  const seeds = [1, 2, 3];

  it('bSSFP: intensities in [0, 1]; blood is brighter than myocardium', () => {
    for (const seed of seeds) {
      for (const phase of ['ED', 'ES'] as const) {
        const c = generatePhantomCase({ seed, contrast: 'ssfp', phase });
        expect(c.image.reduce((a, b) => Math.min(a, b), Infinity)).toBe(0);
        expect(c.image.reduce((a, b) => Math.max(a, b), -Infinity)).toBe(1);
        const blood = maskMean(c.image, bloodRoi(c));
        const myo = maskMean(c.image, labelRoi(c, MYO));
        expect(blood).toBeGreaterThan(1.8 * myo);
        expect(maskMean(c.image, tissueRoi(c, Tissue.lung))).toBeLessThan(myo);
      }
    }
  });

  it('T1 map (MOLLI-like, ms): blood 1,500–1,600, myocardium 950–1,050, fat < liver < myocardium', () => {
    for (const seed of seeds) {
      for (const phase of ['ED', 'ES'] as const) {
        const c = generatePhantomCase({ seed, contrast: 't1map', phase });
        const blood = maskMean(c.image, bloodRoi(c));
        const myo = maskMean(c.image, labelRoi(c, MYO));
        expect(blood).toBeGreaterThan(1500);
        expect(blood).toBeLessThan(1600);
        expect(myo).toBeGreaterThan(950);
        expect(myo).toBeLessThan(1050);
        const liver = maskMean(c.image, tissueRoi(c, Tissue.liver));
        const fat = maskMean(c.image, tissueRoi(c, Tissue.subcutaneousFat));
        expect(fat).toBeLessThan(liver);
        expect(liver).toBeLessThan(myo);
      }
    }
  });

  it('T2 map (ms): blood T2 well above myocardium; myocardium 45–55 ms', () => {
    for (const seed of seeds) {
      const c = generatePhantomCase({ seed, contrast: 't2map' });
      const blood = maskMean(c.image, bloodRoi(c));
      const myo = maskMean(c.image, labelRoi(c, MYO));
      expect(blood).toBeGreaterThan(4 * myo);
      expect(myo).toBeGreaterThan(45);
      expect(myo).toBeLessThan(55);
    }
  });
});

describe('writePhantomDataset (ACDC layout) round trip', () => {
  it('writes patients, Info.cfg and dataset.json that the ACDC reader loads back exactly', () => {
    const out = join(tmpRoot, 'ds');
    const summary = writePhantomDataset({ out, cases: 2, contrast: 'ssfp', seed: 11, size: 48, slices: 4 });
    expect(readdirSync(out).sort()).toEqual(['dataset.json', 'patient001', 'patient002']);
    expect(readdirSync(tmpRoot)).toEqual(['ds']); // no temp directory left behind
    const json = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8'));
    expect(json).toMatchObject({ generator: 'hmcseg-phantom', version: 1, seed: 11, contrast: 'ssfp', caseCount: 2 });
    expect(json.cases).toHaveLength(2);

    const p1 = summary.cases[0];
    const es = String(p1.esFrame).padStart(2, '0');
    expect(readFileSync(join(out, 'patient001', 'Info.cfg'), 'utf8')).toBe(`ED: 1\nES: ${p1.esFrame}\nGroup: PHANTOM\n`);
    expect(readdirSync(join(out, 'patient001')).sort()).toEqual(
      ['Info.cfg', 'patient001_frame01.nii.gz', 'patient001_frame01_gt.nii.gz', `patient001_frame${es}.nii.gz`, `patient001_frame${es}_gt.nii.gz`].sort(),
    );

    const ds = openDataset(out);
    expect(ds.layout).toBe('acdc');
    expect(ds.cases.map((c) => c.id)).toEqual(['patient001_ED', 'patient001_ES', 'patient002_ED', 'patient002_ES']);
    for (const ref of ds.cases.slice(0, 2)) {
      const loaded = loadCase(ds, ref);
      const gen = generatePhantomCase({ seed: p1.seed, contrast: 'ssfp', size: 48, slices: 4, phase: ref.phase });
      expect(loaded.group).toBe('PHANTOM');
      expect(loaded.image.dims).toEqual([48, 48, 4]);
      expect(loaded.image.spacing[0]).toBeCloseTo(gen.spacing[0], 5);
      expect(loaded.image.spacing[2]).toBeCloseTo(gen.spacing[2], 4);
      expect(sameBytes(loaded.image.data, gen.image)).toBe(true);
      expect(sameBytes(loaded.labels!.data, gen.labels)).toBe(true);
    }
    // On disk the labels follow ACDC: project LV (1) is stored as 3, RV (3) as 1.
    const raw = readNiftiLabels(join(out, 'patient001', 'patient001_frame01_gt.nii.gz')).data;
    const gen = generatePhantomCase({ seed: p1.seed, contrast: 'ssfp', size: 48, slices: 4 });
    for (let p = 0; p < raw.length; p++) expect(raw[p]).toBe([0, 3, 2, 1][gen.labels[p]]);
  });

  it('patient i depends on (seed, i) only; refuses a non-empty directory unless overwrite', () => {
    const a = join(tmpRoot, 'one');
    const b = join(tmpRoot, 'three');
    const s1 = writePhantomDataset({ out: a, cases: 1, contrast: 't1map', seed: 5, size: 24, slices: 2 });
    const s3 = writePhantomDataset({ out: b, cases: 3, contrast: 't1map', seed: 5, size: 24, slices: 2 });
    expect(s3.cases[0]).toEqual(s1.cases[0]);
    const f = 'patient001/patient001_frame01.nii.gz';
    expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f)))).toBe(true);

    expect(() => writePhantomDataset({ out: b, cases: 1, contrast: 't1map', seed: 6, size: 24 })).toThrow(
      new RegExp(`${b} exists and is not empty`),
    );
    writeFileSync(join(b, 'stray.txt'), 'x');
    writePhantomDataset({ out: b, cases: 1, contrast: 't2map', seed: 6, size: 24, slices: 2, overwrite: true });
    expect(readdirSync(b).sort()).toEqual(['dataset.json', 'patient001']);
    expect(readdirSync(tmpRoot).filter((n) => n.startsWith('.'))).toEqual([]);

    const empty = join(tmpRoot, 'empty');
    mkdirSync(empty);
    writePhantomDataset({ out: empty, cases: 1, contrast: 'ssfp', seed: 1, size: 16, slices: 1 });
    expect(existsSync(join(empty, 'patient001', 'Info.cfg'))).toBe(true);
    expect(() => writePhantomDataset({ out: join(tmpRoot, 'x'), cases: 0, contrast: 'ssfp', seed: 1 })).toThrow(/'cases'/);
  });
});

describe('hmcseg phantom (CLI)', () => {
  function program(): { cmd: Command; errors: string[] } {
    const errors: string[] = [];
    const cmd = new Command('hmcseg').exitOverride().configureOutput({ writeErr: (s) => errors.push(s), writeOut: () => {} });
    registerPhantomCommand(cmd);
    return { cmd, errors };
  }
  const run = (args: string[]) => {
    const p = program();
    return { done: p.cmd.parseAsync(['phantom', ...args], { from: 'user' }), errors: p.errors };
  };

  it('writes a data set and prints its summary as JSON', async () => {
    const out = join(tmpRoot, 'cli');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await run(['--out', out, '--cases', '1', '--contrast', 't2map', '--seed', '3', '--size', '16', '--slices', '2']).done;
      expect(JSON.parse(String(write.mock.calls[0][0]))).toMatchObject({ out, caseCount: 1, contrast: 't2map', seed: 3, size: 16 });
    } finally {
      write.mockRestore();
    }
    expect(readdirSync(join(out, 'patient001'))).toContain('patient001_frame01_gt.nii.gz');
  });

  it('BAD CALL: rejects bad values with a message naming the option', async () => {
    const out = join(tmpRoot, 'cli-bad');
    const base = ['--out', out, '--contrast', 'ssfp', '--seed', '1'];
    let r = run([...base, '--cases', '0']);
    await expect(r.done).rejects.toThrow(/--cases <n>' argument '0' is invalid. must be an integer in 1..999/);
    r = run([...base, '--cases', '2.5']);
    await expect(r.done).rejects.toThrow(/--cases/);
    r = run(['--out', out, '--cases', '1', '--contrast', 'lge', '--seed', '1']);
    await expect(r.done).rejects.toThrow(/Allowed choices are ssfp, t1map, t2map/);
    r = run([...base, '--cases', '1', '--size', '8']);
    await expect(r.done).rejects.toThrow(/--size/);
    r = run(['--out', out, '--cases', '1', '--seed', '1']);
    await expect(r.done).rejects.toThrow(/--contrast/);
    expect(existsSync(out)).toBe(false);
    // A library refusal (non-empty output) becomes a CLI error too.
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    r = run([...base, '--cases', '1', '--size', '16']);
    await expect(r.done).rejects.toThrow(/exists and is not empty/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
  });
});
