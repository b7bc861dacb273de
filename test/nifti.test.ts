import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  encodeNifti,
  niftiAffine,
  NiftiError,
  readNifti,
  readNiftiImage,
  readNiftiLabels,
  safeDecodeNifti,
  safeReadNifti,
  writeNifti,
  type NiftiIssueCode,
} from '../src/data/index.js';
import type { NiftiHeader, Volume, VoxelArray } from '../src/data/volume.js';
import { realData } from './helpers/optional.js';

const data = realData();
const tmp = mkdtempSync(join(tmpdir(), 'hmcseg-nifti-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** A geometry with every field non-trivial and exactly representable in float32. */
const GEOMETRY: NiftiHeader = {
  version: 1,
  dim: [3, 3, 2, 2, 1, 1, 1, 1],
  pixdim: [-1, 1.5, 1.25, 8, 0, 0, 0, 0],
  datatype: 16,
  sclSlope: 1,
  sclInter: 0,
  qformCode: 1,
  sformCode: 2,
  quatern: [0, 0, 1, 10, -20.5, 30.25],
  srow: [1.5, 0, 0.5, -100, 0, 1.25, 0, 50.5, 0.25, 0, 8, -7],
  xyztUnits: 10,
  descrip: 'hmcseg test',
};

function volumeOf<T extends VoxelArray>(data: T, dims: [number, number, number], header?: NiftiHeader): Volume<T> {
  return { dims, spacing: [1, 1, 1], affine: IDENTITY, data, header };
}

function issueCode(bytes: Uint8Array, as: 'float32' | 'raw' | 'labels' = 'float32'): NiftiIssueCode | 'ok' {
  const r = safeDecodeNifti(bytes, { as });
  return r.ok ? 'ok' : r.issues[0].code;
}

data.describe('reading the real data sets', () => {
  it('pins values of ACDC patient001 frame01 computed with Python struct + numpy', () => {
    const dir = join(data.root, 'acdc/patient001');
    const img = readNiftiImage(join(dir, 'patient001_frame01.nii.gz'));
    expect(img.dims).toEqual([216, 256, 10]);
    expect(img.spacing).toEqual([1, 1, 1]);
    expect(img.affine).toEqual(IDENTITY); // sform_code 2, srow = identity
    expect(img.header?.datatype).toBe(4);
    expect(img.header?.sformCode).toBe(2);
    expect(img.header?.qformCode).toBe(0);
    expect(img.header?.sclSlope).toBe(3.0518509447574615e-5);
    const at = (x: number, y: number, z: number): number => img.data[x + 216 * (y + 256 * z)];
    expect(at(100, 120, 5)).toBe(0.9795831441879272); // raw 32098
    expect(at(108, 128, 0)).toBe(0.9183629751205444); // raw 30092
    expect(at(50, 200, 9)).toBe(0.014587847515940666); // raw 478
    expect(at(215, 255, 9)).toBe(0);

    const raw = readNifti(join(dir, 'patient001_frame01.nii.gz'), { as: 'raw' });
    expect(raw.data).toBeInstanceOf(Int16Array);
    let sum = 0;
    for (const v of raw.data) sum += v;
    expect(sum).toBe(4097430308);
    expect(raw.data[100 + 216 * (120 + 256 * 5)]).toBe(32098);

    const gt = readNiftiLabels(join(dir, 'patient001_frame01_gt.nii.gz'));
    const counts = [0, 0, 0, 0];
    for (const v of gt.data) counts[v]++;
    expect(counts).toEqual([528405, 5723, 6728, 12104]);
    expect(gt.data[70 + 216 * (107 + 256 * 1)]).toBe(1); // first RV voxel in numpy's (z, y, x) order
  });

  function checkAll(root: string, pairs: [string, string][], labelSet: number[]): void {
    const seen = new Set<number>();
    for (const [imagePath, gtPath] of pairs) {
      const img = readNiftiImage(imagePath);
      const gt = readNiftiLabels(gtPath);
      expect(gt.dims, gtPath).toEqual(img.dims);
      expect(img.spacing, imagePath).toEqual([1, 1, 1]);
      expect(img.header?.pixdim.slice(1, 4), imagePath).toEqual([1, 1, 1]);
      expect(gt.affine, gtPath).toEqual(img.affine);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of img.data) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      expect(lo, imagePath).toBeGreaterThanOrEqual(0);
      expect(hi, imagePath).toBeLessThanOrEqual(1);
      for (const v of gt.data) seen.add(v);
    }
    expect([...seen].sort(), root).toEqual(labelSet);
  }

  it('reads every ACDC image and label file: same dims, labels {0..3}, intensities in [0, 1]', () => {
    const root = join(data.root, 'acdc');
    const pairs: [string, string][] = [];
    for (const p of readdirSync(root)) {
      for (const f of readdirSync(join(root, p))) {
        if (/_frame\d+\.nii\.gz$/.test(f)) pairs.push([join(root, p, f), join(root, p, f.replace('.nii.gz', '_gt.nii.gz'))]);
      }
    }
    expect(pairs.length).toBe(180);
    checkAll(root, pairs, [0, 1, 2, 3]);
  });

  it('reads every EMIDEC image and label file: same dims, labels {0..4}, intensities in [0, 1]', () => {
    const root = join(data.root, 'emidec');
    const cases = readdirSync(root);
    expect(cases.length).toBe(80);
    const pairs = cases.map((c): [string, string] => [join(root, c, `${c}.nii.gz`), join(root, c, `${c}_gt.nii.gz`)]);
    checkAll(root, pairs, [0, 1, 2, 3, 4]);
  });

  it('writes a label file for a real image that carries the same geometry and data bytes', () => {
    const src = join(data.root, 'acdc/patient001/patient001_frame12_gt.nii.gz');
    const gt = readNifti(src, { as: 'raw' });
    const out = join(tmp, 'gt-copy.nii.gz');
    writeNifti(out, gt);
    const back = readNifti(out, { as: 'raw' });
    expect(back.header).toEqual({ ...gt.header, dim: [3, ...gt.dims, 1, 1, 1, 1] });
    expect(back.affine).toEqual(gt.affine);
    expect(Buffer.from(gunzipSync(readFileSync(out)).subarray(352)).equals(gunzipSync(readFileSync(src)).subarray(352))).toBe(true);
  });
});

describe('writing and reading back', () => {
  const cases: [string, VoxelArray][] = [
    ['uint8', Uint8Array.from([0, 1, 2, 127, 128, 254, 255, 7, 9, 10, 11, 12])],
    ['int16', Int16Array.from([-32768, -1, 0, 1, 32767, 1234, -1234, 5, 6, 7, 8, 9])],
    ['int32', Int32Array.from([-2147483648, -1, 0, 1, 2147483647, 123456789, 7, 8, 9, 10, 11, 12])],
    ['float32', Float32Array.from([-3.4e38, -1.5, 0, 1e-45, 0.1, 3.4e38, Math.PI, -0, 5, 6, 7, 8])],
    ['float64', Float64Array.from([-1.7e308, -1.5, 0, 5e-324, 0.1, 1.7e308, Math.PI, -0, 5, 6, 7, 8])],
    ['uint16', Uint16Array.from([0, 1, 2, 32767, 32768, 65535, 5, 6, 7, 8, 9, 10])],
  ];
  for (const [name, data] of cases) {
    for (const ext of ['.nii', '.nii.gz']) {
      it(`round-trips ${name} bit-exactly as ${ext}, keeping the header geometry`, () => {
        const path = join(tmp, `rt-${name}${ext}`);
        writeNifti(path, volumeOf(data, [3, 2, 2], GEOMETRY));
        const bytes = readFileSync(path);
        expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(ext === '.nii.gz');
        const back = readNifti(path, { as: 'raw' });
        expect(back.data.constructor).toBe(data.constructor);
        const a = new Uint8Array(back.data.buffer, back.data.byteOffset, back.data.byteLength);
        const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
        expect(back.header).toEqual({ ...GEOMETRY, datatype: back.header?.datatype });
        expect(back.dims).toEqual([3, 2, 2]);
        expect(back.spacing).toEqual([1.5, 1.25, 8]);
        expect(back.affine).toEqual([...GEOMETRY.srow, 0, 0, 0, 1]);
      });
    }
  }

  it('quantises float images with a given slope and reads them back scaled', () => {
    const path = join(tmp, 'scaled.nii.gz');
    const values = Float32Array.from([0, 0.25, 0.5, 1, 0.999, 0.001]);
    writeNifti(path, volumeOf(values, [6, 1, 1]), { datatype: 4, sclSlope: 1 / 32767 });
    const raw = readNifti(path, { as: 'raw' });
    expect(Array.from(raw.data)).toEqual([0, 8192, 16384, 32767, 32734, 33]);
    const img = readNiftiImage(path);
    for (let i = 0; i < values.length; i++) expect(Math.abs(img.data[i] - values[i])).toBeLessThan(1 / 65534 + 1e-7);
    // A volume without a header gets sform from its affine and pixdim from its spacing.
    expect(img.header?.sformCode).toBe(2);
    expect(img.affine).toEqual(IDENTITY);
  });

  it('applies scl_slope/scl_inter, and treats slope 0 as no scaling', () => {
    const bytes = encodeNifti(volumeOf(Int16Array.from([0, 1, 2, -3]), [4, 1, 1]));
    const v = new DataView(bytes.buffer);
    v.setFloat32(112, 2, true);
    v.setFloat32(116, 1, true);
    const r = safeDecodeNifti(bytes);
    expect(r.ok && Array.from(r.volume.data)).toEqual([1, 3, 5, -5]);
    v.setFloat32(112, 0, true);
    const r0 = safeDecodeNifti(bytes);
    expect(r0.ok && Array.from(r0.volume.data)).toEqual([0, 1, 2, -3]);
  });

  it('rejects values that the datatype cannot hold and dims that contradict the header', () => {
    expect(() => writeNifti(join(tmp, 'x.nii'), volumeOf(Float32Array.from([0, 300]), [2, 1, 1]), { datatype: 2 })).toThrow(
      /x\.nii.*voxel 1 = 300 .*uint8/,
    );
    expect(() => writeNifti(join(tmp, 'y.nii'), volumeOf(Float32Array.from([0, NaN]), [2, 1, 1]))).toThrow(/y\.nii.*finite/);
    expect(() => writeNifti(join(tmp, 'z.nii'), volumeOf(new Float32Array(12), [3, 2, 2]), { like: { ...GEOMETRY, dim: [3, 4, 3, 1, 1, 1, 1, 1] } })).toThrow(
      /z\.nii.*3×2×2 do not match .*4×3×1/,
    );
  });
});

/** Rewrites a little-endian NIfTI-1 file (as encodeNifti writes) in big-endian byte order. */
function toBigEndian1(le: Uint8Array, bytesPerVoxel: number): Uint8Array {
  const be = Uint8Array.from(le);
  const fields: [number, number, number][] = [
    [0, 4, 1], [32, 4, 1], [36, 2, 1], [40, 2, 8], [56, 4, 3], [68, 2, 4], [76, 4, 8], [108, 4, 3], [120, 2, 1],
    [124, 4, 4], [140, 4, 2], [252, 2, 2], [256, 4, 18],
  ];
  for (const [at, size, n] of fields) for (let i = 0; i < n; i++) be.subarray(at + i * size, at + (i + 1) * size).reverse();
  for (let i = 352; i < be.length; i += bytesPerVoxel) be.subarray(i, i + bytesPerVoxel).reverse();
  return be;
}

/** A NIfTI-2 file built field by field from nifti2.h, in either byte order. */
function nifti2(le: boolean, h: NiftiHeader, data: Uint8Array, bytesPerVoxel: number): Uint8Array {
  const out = new Uint8Array(544 + data.length);
  const v = new DataView(out.buffer);
  v.setInt32(0, 540, le);
  out.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
  v.setInt16(12, h.datatype, le);
  v.setInt16(14, bytesPerVoxel * 8, le);
  h.dim.forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), le));
  h.pixdim.forEach((p, i) => v.setFloat64(104 + 8 * i, p, le));
  v.setBigInt64(168, 544n, le);
  v.setFloat64(176, h.sclSlope, le);
  v.setFloat64(184, h.sclInter, le);
  v.setInt32(344, h.qformCode, le);
  v.setInt32(348, h.sformCode, le);
  h.quatern.forEach((q, i) => v.setFloat64(352 + 8 * i, q, le));
  h.srow.forEach((s, i) => v.setFloat64(400 + 8 * i, s, le));
  v.setInt32(500, h.xyztUnits, le);
  out.set(Buffer.from(h.descrip, 'latin1'), 240);
  const d = Uint8Array.from(data);
  if (!le) for (let i = 0; i < d.length; i += bytesPerVoxel) d.subarray(i, i + bytesPerVoxel).reverse();
  out.set(d, 544);
  return out;
}

describe('byte orders and NIfTI-2', () => {
  const values = Int16Array.from([-2, -1, 0, 1, 2, 300, -300, 32767, -32768, 5, 6, 7]);
  const leBytes = encodeNifti(volumeOf(values, [3, 2, 2], GEOMETRY));
  new DataView(leBytes.buffer).setFloat32(112, 0.5, true);
  new DataView(leBytes.buffer).setFloat32(116, 2, true);

  it('reads a big-endian NIfTI-1 file like its little-endian twin', () => {
    const le = safeDecodeNifti(leBytes);
    const be = safeDecodeNifti(toBigEndian1(leBytes, 2));
    expect(le.ok && be.ok).toBe(true);
    if (!le.ok || !be.ok) return;
    expect(Array.from(be.volume.data)).toEqual(Array.from(values, (x) => x * 0.5 + 2));
    expect(Array.from(le.volume.data)).toEqual(Array.from(values, (x) => x * 0.5 + 2));
    expect(be.volume.header).toEqual(le.volume.header);
    expect(be.volume.header?.sclSlope).toBe(0.5);
    expect(be.volume.affine).toEqual([...GEOMETRY.srow, 0, 0, 0, 1]);
  });

  for (const le of [true, false]) {
    it(`reads a ${le ? 'little' : 'big'}-endian NIfTI-2 file, scaling included`, () => {
      const h: NiftiHeader = { ...GEOMETRY, version: 2, datatype: 4, sclSlope: 0.5, sclInter: 2, descrip: 'two' };
      const raw = Int16Array.from([-2, -1, 0, 1, 2, 300, -300, 32767, -32768, 5, 6, 7]);
      const path = join(tmp, `n2-${le}.nii.gz`);
      writeFileSync(path, gzipSync(nifti2(le, h, new Uint8Array(raw.buffer), 2)));
      const img = readNiftiImage(path);
      expect(img.header).toEqual(h);
      expect(Array.from(img.data)).toEqual(Array.from(raw, (x) => x * 0.5 + 2));
      expect(img.affine).toEqual([...GEOMETRY.srow, 0, 0, 0, 1]);
      expect(img.spacing).toEqual([1.5, 1.25, 8]);
    });
  }
});

describe('affine', () => {
  const base: NiftiHeader = { ...GEOMETRY, sformCode: 0, qformCode: 0 };
  it('method 1: pixdim scaling when neither qform nor sform is set', () => {
    expect(niftiAffine(base)).toEqual([1.5, 0, 0, 0, 0, 1.25, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1]);
  });
  it('method 2: qform, 180° about z (b = c = 0, d = 1 → a = 0), qfac = −1 flips z', () => {
    // R = diag(−1, −1, 1); columns scaled by (1.5, 1.25, 8·qfac = −8).
    expect(niftiAffine({ ...base, qformCode: 1 })).toEqual([-1.5, 0, 0, 10, 0, -1.25, 0, -20.5, 0, 0, -8, 30.25, 0, 0, 0, 1]);
  });
  it('method 2: qform, 90° about z, qfac = +1', () => {
    const s = Math.SQRT1_2;
    const a = niftiAffine({ ...base, qformCode: 1, pixdim: [1, 2, 3, 4, 0, 0, 0, 0], quatern: [0, 0, s, 1, 2, 3] });
    const expected = [0, -3, 0, 1, 2, 0, 0, 2, 0, 0, 4, 3, 0, 0, 0, 1];
    a.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 12));
  });
  it('method 3: sform wins over qform', () => {
    expect(niftiAffine({ ...base, qformCode: 1, sformCode: 1 })).toEqual([...GEOMETRY.srow, 0, 0, 0, 1]);
  });
});

describe('bad input: a clear issue, and an error naming the file', () => {
  const good = encodeNifti(volumeOf(Float32Array.from([0, 0.5, 1, 0.25, 0, 0]), [3, 2, 1]));
  function edit(f: (v: DataView, b: Uint8Array) => void, bytes = good): Uint8Array {
    const b = Uint8Array.from(bytes);
    f(new DataView(b.buffer), b);
    return b;
  }
  const gz = gzipSync(good);
  const corrupt = Uint8Array.from(gz);
  corrupt.fill(0xff, 12, 40);

  const table: [string, Uint8Array, NiftiIssueCode, 'float32' | 'raw' | 'labels'][] = [
    ['truncated gzip', gz.subarray(0, gz.length - 20), 'bad-gzip', 'float32'],
    ['corrupt gzip', corrupt, 'bad-gzip', 'float32'],
    ['tiny file', good.subarray(0, 3), 'truncated', 'float32'],
    ['header cut short', good.subarray(0, 200), 'truncated', 'float32'],
    ['wrong sizeof_hdr', edit((v) => v.setInt32(0, 349, true)), 'bad-magic', 'float32'],
    ['wrong magic', edit((_, b) => b.set([0x78, 0x2b, 0x31, 0], 344)), 'bad-magic', 'float32'],
    ['two-file magic', edit((_, b) => b.set([0x6e, 0x69, 0x31, 0], 344)), 'unsupported', 'float32'],
    ['unsupported datatype (int8)', edit((v) => v.setInt16(70, 256, true)), 'bad-datatype', 'float32'],
    ['unsupported datatype (complex64)', edit((v) => v.setInt16(70, 32, true)), 'bad-datatype', 'float32'],
    ['dim[0] = 0', edit((v) => v.setInt16(40, 0, true)), 'bad-dim', 'float32'],
    ['dim[0] = 8', edit((v) => v.setInt16(40, 8, true)), 'bad-dim', 'float32'],
    ['negative dim', edit((v) => v.setInt16(44, -2, true)), 'bad-dim', 'float32'],
    ['zero voxels', edit((v) => v.setInt16(46, 0, true)), 'empty', 'float32'],
    ['4-D with 30 frames', edit((v) => (v.setInt16(40, 4, true), v.setInt16(48, 30, true))), 'bad-dim', 'float32'],
    ['pixdim 0', edit((v) => v.setFloat32(80, 0, true)), 'bad-pixdim', 'float32'],
    ['vox_offset inside the header', edit((v) => v.setFloat32(108, 100, true)), 'bad-offset', 'float32'],
    ['truncated data', good.subarray(0, good.length - 1), 'truncated', 'float32'],
    ['trailing bytes', Uint8Array.from([...good, 0, 0, 0, 0]), 'size-mismatch', 'float32'],
    ['NaN intensity', edit((v) => v.setFloat32(352 + 4, NaN, true)), 'non-finite', 'float32'],
    ['NaN stored, read raw', edit((v) => v.setFloat32(352 + 4, NaN, true)), 'non-finite', 'raw'],
    ['Inf after scaling', edit((v) => (v.setFloat32(112, 3e38, true), v.setFloat32(116, 3e38, true))), 'non-finite', 'float32'],
    ['NaN in the sform', edit((v) => (v.setInt16(254, 1, true), v.setFloat32(280 + 12, NaN, true))), 'bad-affine', 'float32'],
    ['singular sform (a zero row)', edit((v) => (v.setInt16(254, 1, true), [0, 1, 2, 3].forEach((k) => v.setFloat32(296 + 4 * k, 0, true)))), 'bad-affine', 'float32'],
    ['NaN quaternion (qform)', edit((v) => (v.setInt16(254, 0, true), v.setInt16(252, 1, true), v.setFloat32(256, NaN, true))), 'bad-affine', 'float32'],
    ['non-integer label', good, 'bad-label', 'labels'],
    ['label above 255', encodeNifti(volumeOf(Int16Array.from([0, 1, 300]), [3, 1, 1])), 'bad-label', 'labels'],
    ['negative label', encodeNifti(volumeOf(Int16Array.from([0, -1, 3]), [3, 1, 1])), 'bad-label', 'labels'],
  ];
  for (const [what, bytes, code, as] of table) {
    it(`${what} → ${code}`, () => {
      expect(issueCode(bytes, as)).toBe(code);
      const path = join(tmp, `bad-${what.replace(/\W+/g, '-')}.nii`);
      writeFileSync(path, bytes);
      let err: unknown;
      try {
        readNifti(path, { as });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NiftiError);
      expect((err as NiftiError).message.startsWith(`${path}: `)).toBe(true);
      expect((err as NiftiError).issues[0].code).toBe(code);
    });
  }

  it('names the bad value in messages', () => {
    const r = safeDecodeNifti(encodeNifti(volumeOf(Int16Array.from([0, 1, 300]), [3, 1, 1])), { as: 'labels' });
    expect(!r.ok && r.issues[0].message).toBe('label value 300 at voxel 2 is not an integer in 0..255');
    const d = safeDecodeNifti(edit((v) => v.setInt16(70, 256, true)));
    expect(!d.ok && d.issues[0].message).toMatch(/^unsupported datatype 256 \(int8\); supported: uint8 \(2\)/);
    const t = safeDecodeNifti(good.subarray(0, good.length - 1));
    expect(!t.ok && t.issues[0].message).toBe('header declares 3×2×1 float32 voxels = 24 bytes after offset 352, but the file has 23');
  });

  it('reports a missing file as an io issue', () => {
    const path = join(tmp, 'does-not-exist.nii.gz');
    expect(existsSync(path)).toBe(false);
    const r = safeReadNifti(path);
    expect(!r.ok && r.issues[0].code).toBe('io');
    expect(() => readNiftiImage(path)).toThrow(path);
  });

  it('accepts a 4-D file with a single frame as 3-D', () => {
    const b = edit((v) => (v.setInt16(40, 4, true), v.setInt16(48, 1, true)));
    const r = safeDecodeNifti(b);
    expect(r.ok && r.volume.dims).toEqual([3, 2, 1]);
  });
});
