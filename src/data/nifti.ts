import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../util/atomic.js';
import type { NiftiHeader, Volume, VoxelArray } from './volume.js';

/**
 * NIfTI-1 and NIfTI-2 single-file (`.nii`, `.nii.gz`) reading and NIfTI-1 writing.
 *
 * Reference: the NIfTI-1 header `nifti1.h` and the NIfTI-2 header `nifti2.h`
 * (https://nifti.nimh.nih.gov/nifti-1, https://nifti.nimh.nih.gov/nifti-2).
 */

/** Why a file could not be read. */
export type NiftiIssueCode =
  | 'io'
  | 'bad-gzip'
  | 'truncated'
  | 'bad-magic'
  | 'unsupported'
  | 'bad-datatype'
  | 'bad-dim'
  | 'empty'
  | 'bad-pixdim'
  | 'bad-offset'
  | 'bad-affine'
  | 'size-mismatch'
  | 'non-finite'
  | 'bad-label';

/** One problem found in a NIfTI file; `expected`/`received` where a value was compared. */
export interface NiftiIssue {
  readonly code: NiftiIssueCode;
  readonly message: string;
  readonly expected?: number | string;
  readonly received?: number | string;
}

/** A NIfTI file that could not be read; the message names the file and every issue. */
export class NiftiError extends Error {
  override readonly name = 'NiftiError';
  constructor(
    readonly path: string,
    readonly issues: readonly NiftiIssue[],
  ) {
    super(`${path}: ${issues.map((i) => i.message).join('; ')}`);
  }
}

/**
 * How voxel values come back: `float32` applies scl_slope/scl_inter; `raw` keeps the stored type
 * and values; `labels` applies the scaling and requires integers in 0..255.
 */
export type NiftiReadAs = 'float32' | 'raw' | 'labels';

interface ReadAsArray {
  float32: Float32Array;
  raw: VoxelArray;
  labels: Uint8Array;
}

export interface NiftiReadOptions<A extends NiftiReadAs = NiftiReadAs> {
  /** Default `float32`. */
  readonly as?: A;
}

export type NiftiResult<T extends VoxelArray = VoxelArray> =
  | { readonly ok: true; readonly volume: Volume<T> }
  | { readonly ok: false; readonly issues: readonly NiftiIssue[] };

/** NIfTI datatype codes this module reads and writes. */
export const NIFTI_DATATYPES = {
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  float64: 64,
  uint16: 512,
} as const;

export type NiftiDatatype = (typeof NIFTI_DATATYPES)[keyof typeof NIFTI_DATATYPES];

interface DatatypeInfo {
  readonly name: string;
  readonly bytes: number;
  readonly float: boolean;
  readonly min: number;
  readonly max: number;
  readonly make: (n: number) => VoxelArray;
}

const DATATYPES: ReadonlyMap<number, DatatypeInfo> = new Map<number, DatatypeInfo>([
  [2, { name: 'uint8', bytes: 1, float: false, min: 0, max: 255, make: (n) => new Uint8Array(n) }],
  [4, { name: 'int16', bytes: 2, float: false, min: -32768, max: 32767, make: (n) => new Int16Array(n) }],
  [8, { name: 'int32', bytes: 4, float: false, min: -2147483648, max: 2147483647, make: (n) => new Int32Array(n) }],
  [16, { name: 'float32', bytes: 4, float: true, min: -Infinity, max: Infinity, make: (n) => new Float32Array(n) }],
  [64, { name: 'float64', bytes: 8, float: true, min: -Infinity, max: Infinity, make: (n) => new Float64Array(n) }],
  [512, { name: 'uint16', bytes: 2, float: false, min: 0, max: 65535, make: (n) => new Uint16Array(n) }],
]);

/** Names of NIfTI datatypes we do not read, for clearer errors. */
const OTHER_DATATYPES: Readonly<Record<number, string>> = {
  0: 'unknown',
  1: 'binary',
  32: 'complex64',
  128: 'rgb24',
  256: 'int8',
  768: 'uint32',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'rgba32',
};

function datatypeOf(data: VoxelArray): NiftiDatatype {
  if (data instanceof Uint8Array) return 2;
  if (data instanceof Int16Array) return 4;
  if (data instanceof Int32Array) return 8;
  if (data instanceof Float32Array) return 16;
  if (data instanceof Float64Array) return 64;
  return 512;
}

const NIFTI1_SIZE = 348;
const NIFTI2_SIZE = 540;
const NIFTI2_MAGIC = [0x6e, 0x2b, 0x32, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]; // "n+2\0\r\n\032\n"

class IssueFound extends Error {
  constructor(readonly issue: NiftiIssue) {
    super(issue.message);
  }
}

function fail(issue: NiftiIssue): never {
  throw new IssueFound(issue);
}

/** Header fields needed to locate and decode the voxel data, beyond {@link NiftiHeader}. */
interface ParsedHeader {
  readonly header: NiftiHeader;
  readonly littleEndian: boolean;
  readonly voxOffset: number;
}

function parseHeader(bytes: Uint8Array): ParsedHeader {
  if (bytes.byteLength < 4) {
    fail({ code: 'truncated', message: `file is ${bytes.byteLength} bytes, too short for a NIfTI header` });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = view.getInt32(0, true);
  const be = view.getInt32(0, false);
  const littleEndian = le === NIFTI1_SIZE || le === NIFTI2_SIZE;
  const size = littleEndian ? le : be;
  if (size !== NIFTI1_SIZE && size !== NIFTI2_SIZE) {
    fail({
      code: 'bad-magic',
      message: `not a NIfTI file: sizeof_hdr is ${le} (expected 348 for NIfTI-1 or 540 for NIfTI-2)`,
      expected: '348 | 540',
      received: le,
    });
  }
  if (bytes.byteLength < size) {
    fail({
      code: 'truncated',
      message: `file is ${bytes.byteLength} bytes, shorter than its ${size}-byte NIfTI-${size === NIFTI1_SIZE ? 1 : 2} header`,
      expected: size,
      received: bytes.byteLength,
    });
  }
  return size === NIFTI1_SIZE ? parseNifti1(bytes, view, littleEndian) : parseNifti2(bytes, view, littleEndian);
}

/** Bytes as Latin-1 text (no Buffer: the viewer page bundles this module). */
function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function cString(bytes: Uint8Array, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  const end = field.indexOf(0);
  return latin1(field.subarray(0, end < 0 ? length : end));
}

function checkMagic(bytes: Uint8Array, at: number, version: 1 | 2): void {
  const m = bytes.subarray(at, at + (version === 1 ? 4 : 8));
  const shown = JSON.stringify(latin1(m));
  const twoFile = m[0] === 0x6e && m[1] === 0x69 && m[2] === (version === 1 ? 0x31 : 0x32); // "ni1" / "ni2"
  if (twoFile) {
    fail({
      code: 'unsupported',
      message: `two-file NIfTI (.hdr/.img, magic ${shown}) is not supported; convert it to a single .nii file`,
    });
  }
  const ok =
    version === 1
      ? m[0] === 0x6e && m[1] === 0x2b && m[2] === 0x31 && m[3] === 0x00
      : NIFTI2_MAGIC.every((b, i) => m[i] === b);
  if (!ok) {
    fail({
      code: 'bad-magic',
      message: `bad NIfTI-${version} magic ${shown} (expected ${version === 1 ? '"n+1\\u0000"' : '"n+2\\u0000\\r\\n\\u001a\\n"'})`,
      expected: version === 1 ? 'n+1' : 'n+2',
      received: shown,
    });
  }
}

function parseNifti1(bytes: Uint8Array, v: DataView, le: boolean): ParsedHeader {
  checkMagic(bytes, 344, 1);
  const f32 = (o: number): number => v.getFloat32(o, le);
  const header: NiftiHeader = {
    version: 1,
    dim: Array.from({ length: 8 }, (_, i) => v.getInt16(40 + 2 * i, le)),
    pixdim: Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i)),
    datatype: v.getInt16(70, le),
    sclSlope: f32(112),
    sclInter: f32(116),
    qformCode: v.getInt16(252, le),
    sformCode: v.getInt16(254, le),
    quatern: Array.from({ length: 6 }, (_, i) => f32(256 + 4 * i)),
    srow: Array.from({ length: 12 }, (_, i) => f32(280 + 4 * i)),
    xyztUnits: v.getUint8(123),
    descrip: cString(bytes, 148, 80),
  };
  return { header, littleEndian: le, voxOffset: f32(108) };
}

function parseNifti2(bytes: Uint8Array, v: DataView, le: boolean): ParsedHeader {
  checkMagic(bytes, 4, 2);
  const f64 = (o: number): number => v.getFloat64(o, le);
  const i64 = (o: number): number => Number(v.getBigInt64(o, le));
  const header: NiftiHeader = {
    version: 2,
    dim: Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i)),
    pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
    datatype: v.getInt16(12, le),
    sclSlope: f64(176),
    sclInter: f64(184),
    qformCode: v.getInt32(344, le),
    sformCode: v.getInt32(348, le),
    quatern: Array.from({ length: 6 }, (_, i) => f64(352 + 8 * i)),
    srow: Array.from({ length: 12 }, (_, i) => f64(400 + 8 * i)),
    xyztUnits: v.getInt32(500, le),
    descrip: cString(bytes, 240, 80),
  };
  return { header, littleEndian: le, voxOffset: i64(168) };
}

/** Checks dim and returns [nx, ny, nz]; only 1- to 3-D volumes, or 4-D+ with singleton extra axes. */
function volumeDims(dim: readonly number[]): [number, number, number] {
  const n = dim[0];
  if (!Number.isInteger(n) || n < 1 || n > 7) {
    fail({ code: 'bad-dim', message: `dim[0] is ${n} (expected 1..7)`, expected: '1..7', received: n });
  }
  for (let i = 1; i <= n; i++) {
    if (dim[i] === 0) {
      fail({ code: 'empty', message: `empty volume: dim[${i}] is 0`, received: 0 });
    }
    if (!Number.isSafeInteger(dim[i]) || dim[i] < 0) {
      fail({ code: 'bad-dim', message: `dim[${i}] is ${dim[i]} (expected a positive integer)`, received: dim[i] });
    }
  }
  for (let i = 4; i <= n; i++) {
    if (dim[i] !== 1) {
      fail({
        code: 'bad-dim',
        message: `dim[${i}] is ${dim[i]}: only 3-D volumes (or 4-D with a single frame) are supported; store one frame per file`,
        expected: 1,
        received: dim[i],
      });
    }
  }
  return [n >= 1 ? dim[1] : 1, n >= 2 ? dim[2] : 1, n >= 3 ? dim[3] : 1];
}

function volumeSpacing(pixdim: readonly number[], ndim: number): [number, number, number] {
  const s: [number, number, number] = [1, 1, 1];
  for (let i = 1; i <= Math.min(ndim, 3); i++) {
    const p = pixdim[i];
    if (!Number.isFinite(p) || p === 0) {
      fail({ code: 'bad-pixdim', message: `pixdim[${i}] is ${p} (expected a non-zero voxel size)`, received: p });
    }
    s[i - 1] = Math.abs(p);
  }
  return s;
}

/**
 * The voxel-to-world affine (4×4, row-major) per the NIfTI-1 standard: method 3 (sform) when
 * sform_code > 0, else method 2 (qform quaternion, qfac = pixdim[0]) when qform_code > 0, else
 * method 1 (voxel indices scaled by pixdim, no rotation or offset).
 */
export function niftiAffine(h: NiftiHeader): number[] {
  if (h.sformCode > 0) return [...h.srow, 0, 0, 0, 1];
  const [dx, dy, dz] = [h.pixdim[1], h.pixdim[2], h.pixdim[3]];
  if (h.qformCode > 0) {
    let [b, c, d] = h.quatern;
    const [qx, qy, qz] = h.quatern.slice(3);
    let a = 1 - (b * b + c * c + d * d);
    if (a < 1e-7) {
      // Not a unit quaternion: nifti1_io normalises (b, c, d) and takes a = 0 (a 180° rotation).
      const norm = 1 / Math.sqrt(b * b + c * c + d * d);
      b *= norm;
      c *= norm;
      d *= norm;
      a = 0;
    } else {
      a = Math.sqrt(a);
    }
    const qfac = h.pixdim[0] < 0 ? -1 : 1;
    const sx = dx > 0 ? dx : 1;
    const sy = dy > 0 ? dy : 1;
    const sz = (dz > 0 ? dz : 1) * qfac;
    const r = [
      [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
      [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
      [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
    ];
    const m = [
      r[0][0] * sx, r[0][1] * sy, r[0][2] * sz, qx,
      r[1][0] * sx, r[1][1] * sy, r[1][2] * sz, qy,
      r[2][0] * sx, r[2][1] * sy, r[2][2] * sz, qz,
      0, 0, 0, 1,
    ];
    return m.map((x) => x + 0); // −0 → 0
  }
  return [dx, 0, 0, 0, 0, dy, 0, 0, 0, 0, dz, 0, 0, 0, 0, 1];
}

/**
 * The affine, which must be finite (and, from an sform or qform, invertible): outputs are written
 * on it, and a NaN or a collapsed axis in it would be copied into them silently.
 */
function checkedAffine(h: NiftiHeader): number[] {
  const m = niftiAffine(h);
  const from = h.sformCode > 0 ? 'sform (srow_x/y/z)' : h.qformCode > 0 ? 'qform (quatern_b/c/d, qoffset, pixdim)' : 'pixdim';
  const bad = m.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    fail({
      code: 'bad-affine',
      message: `the voxel-to-world affine from the ${from} is not finite (row ${Math.floor(bad / 4)}, column ${bad % 4} is ${m[bad]})`,
      received: String(m[bad]),
    });
  }
  const det =
    m[0] * (m[5] * m[10] - m[6] * m[9]) - m[1] * (m[4] * m[10] - m[6] * m[8]) + m[2] * (m[4] * m[9] - m[5] * m[8]);
  // Method 1 is diagonal in pixdim, checked non-zero on the volume's axes; beyond them (a 2-D
  // file's pixdim[3]) a 0 is legitimate.
  if (from !== 'pixdim' && (!Number.isFinite(det) || det === 0)) {
    fail({ code: 'bad-affine', message: `the voxel-to-world affine from the ${from} is singular (determinant ${det})`, received: det });
  }
  return m;
}

/** True when scl_slope/scl_inter change values: slope 0 (or NaN) means no scaling, per the standard. */
function scaling(h: NiftiHeader): { slope: number; inter: number } | null {
  const slope = h.sclSlope;
  if (slope === 0 || !Number.isFinite(slope)) return null;
  const inter = Number.isFinite(h.sclInter) ? h.sclInter : 0;
  return slope === 1 && inter === 0 ? null : { slope, inter };
}

function decodeVoxels(bytes: Uint8Array, offset: number, count: number, info: DatatypeInfo, le: boolean): VoxelArray {
  const out = info.make(count);
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  outBytes.set(bytes.subarray(offset, offset + out.byteLength));
  if (!le && info.bytes > 1) {
    const k = info.bytes;
    for (let i = 0; i < outBytes.length; i += k) outBytes.subarray(i, i + k).reverse();
  }
  return out;
}

function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

function nonFiniteIssue(data: ArrayLike<number>, what: string): NiftiIssue | null {
  const at = firstNonFinite(data);
  if (at < 0) return null;
  let count = 0;
  for (let i = at; i < data.length; i++) if (!Number.isFinite(data[i])) count++;
  return {
    code: 'non-finite',
    message: `${count} non-finite ${what} (first ${data[at]} at voxel ${at})`,
    received: String(data[at]),
  };
}

function convert(raw: VoxelArray, h: NiftiHeader, as: NiftiReadAs, info: DatatypeInfo): VoxelArray {
  const s = scaling(h);
  if (as === 'raw') {
    const issue = info.float ? nonFiniteIssue(raw, 'stored values') : null;
    if (issue) fail(issue);
    return raw;
  }
  if (as === 'float32') {
    const out = new Float32Array(raw.length);
    if (s) for (let i = 0; i < raw.length; i++) out[i] = raw[i] * s.slope + s.inter;
    else out.set(raw);
    const issue = nonFiniteIssue(out, 'intensities');
    if (issue) fail(issue);
    return out;
  }
  if (raw instanceof Uint8Array && !s) return raw;
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const value = s ? raw[i] * s.slope + s.inter : raw[i];
    if (!Number.isInteger(value) || value < 0 || value > 255) {
      fail({
        code: 'bad-label',
        message: `label value ${value} at voxel ${i} is not an integer in 0..255`,
        expected: '0..255',
        received: value,
      });
    }
    out[i] = value;
  }
  return out;
}

function decode(bytes: Uint8Array, as: NiftiReadAs): Volume {
  if (bytes.byteLength >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      fail({ code: 'bad-gzip', message: `corrupt or truncated gzip data (${(err as Error).message})` });
    }
  }
  const { header, littleEndian, voxOffset } = parseHeader(bytes);
  const info = DATATYPES.get(header.datatype);
  if (!info) {
    const name = OTHER_DATATYPES[header.datatype];
    fail({
      code: 'bad-datatype',
      message: `unsupported datatype ${header.datatype}${name ? ` (${name})` : ''}; supported: ${[...DATATYPES]
        .map(([code, d]) => `${d.name} (${code})`)
        .join(', ')}`,
      received: header.datatype,
    });
  }
  const dims = volumeDims(header.dim);
  const spacing = volumeSpacing(header.pixdim, header.dim[0]);
  const headerSize = header.version === 1 ? NIFTI1_SIZE : NIFTI2_SIZE;
  if (!Number.isInteger(voxOffset) || voxOffset < headerSize) {
    fail({
      code: 'bad-offset',
      message: `vox_offset is ${voxOffset} (expected an integer >= ${headerSize})`,
      received: voxOffset,
    });
  }
  const count = dims[0] * dims[1] * dims[2];
  const expected = count * info.bytes;
  const available = bytes.byteLength - voxOffset;
  if (available !== expected) {
    fail({
      code: available < expected ? 'truncated' : 'size-mismatch',
      message: `header declares ${dims.join('×')} ${info.name} voxels = ${expected} bytes after offset ${voxOffset}, but the file has ${Math.max(available, 0)}`,
      expected,
      received: Math.max(available, 0),
    });
  }
  const affine = checkedAffine(header);
  const raw = decodeVoxels(bytes, voxOffset, count, info, littleEndian);
  return { dims, spacing, affine, data: convert(raw, header, as, info), header };
}

/**
 * Decodes NIfTI bytes (gzip detected by its magic bytes) without throwing.
 *
 * @example
 * const r = safeDecodeNifti(bytes);
 * if (!r.ok) console.error(r.issues.map((i) => i.code));
 */
export function safeDecodeNifti<A extends NiftiReadAs = 'float32'>(
  bytes: Uint8Array,
  options: NiftiReadOptions<A> = {},
): NiftiResult<ReadAsArray[A]> {
  try {
    const volume = decode(bytes, options.as ?? 'float32') as Volume<ReadAsArray[A]>;
    return { ok: true, volume };
  } catch (err) {
    if (err instanceof IssueFound) return { ok: false, issues: [err.issue] };
    throw err;
  }
}

/** Reads a `.nii` or `.nii.gz` file without throwing; I/O errors come back as an `io` issue. */
export function safeReadNifti<A extends NiftiReadAs = 'float32'>(
  path: string,
  options: NiftiReadOptions<A> = {},
): NiftiResult<ReadAsArray[A]> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    return { ok: false, issues: [{ code: 'io', message: `cannot read file (${(err as Error).message})` }] };
  }
  return safeDecodeNifti(bytes, options);
}

/**
 * Reads a NIfTI-1 or NIfTI-2 file (`.nii` or `.nii.gz`, either byte order). By default the voxels
 * come back as float32 with scl_slope/scl_inter applied.
 *
 * @throws {NiftiError} naming the file and each problem (bad gzip, magic, datatype, dims, size,
 *   non-finite intensities, bad labels).
 */
export function readNifti<A extends NiftiReadAs = 'float32'>(
  path: string,
  options: NiftiReadOptions<A> = {},
): Volume<ReadAsArray[A]> {
  const r = safeReadNifti(path, options);
  if (!r.ok) throw new NiftiError(path, r.issues);
  return r.volume;
}

/** Reads an image: float32 intensities with scaling applied; NaN or ±Inf is an error. */
export function readNiftiImage(path: string): Volume<Float32Array> {
  return readNifti(path, { as: 'float32' });
}

/** Reads a label map: values after scaling must be integers in 0..255. */
export function readNiftiLabels(path: string): Volume<Uint8Array> {
  return readNifti(path, { as: 'labels' });
}

export interface NiftiWriteOptions {
  /** Stored datatype code; default follows the array type (Float32Array → float32, …). */
  readonly datatype?: NiftiDatatype;
  /** Stored value = (value − sclInter) / sclSlope, rounded for integer datatypes. Default 1. */
  readonly sclSlope?: number;
  /** Default 0. */
  readonly sclInter?: number;
  /** Header whose geometry (pixdim, qform, sform, units) to write; default `volume.header`. */
  readonly like?: NiftiHeader;
}

function writeError(path: string, message: string): never {
  throw new RangeError(`writeNifti ${path}: ${message}`);
}

/** Geometry to write: from `like`/`volume.header`, or built from the volume's spacing and affine. */
function geometry(path: string, volume: Volume, like: NiftiHeader | undefined): Omit<NiftiHeader, 'datatype' | 'sclSlope' | 'sclInter' | 'version'> {
  const dim = [3, ...volume.dims, 1, 1, 1, 1];
  if (!like) {
    if (volume.affine.length !== 16) writeError(path, `affine has ${volume.affine.length} numbers (expected 16)`);
    return {
      dim,
      pixdim: [1, ...volume.spacing, 0, 0, 0, 0],
      qformCode: 0,
      sformCode: 2,
      quatern: [0, 0, 0, 0, 0, 0],
      srow: volume.affine.slice(0, 12),
      xyztUnits: 2,
      descrip: '',
    };
  }
  const n = like.dim[0];
  const likeDims = [1, 2, 3].map((i) => (i <= n ? like.dim[i] : 1));
  if (likeDims.some((d, i) => d !== volume.dims[i])) {
    writeError(path, `volume dims ${volume.dims.join('×')} do not match its header's ${likeDims.join('×')}`);
  }
  return { ...like, dim, pixdim: [...like.pixdim] };
}

/**
 * Encodes a volume as NIfTI-1 bytes (`.nii` layout, vox_offset 352, little-endian). Geometry comes
 * from `options.like` or `volume.header`, so a prediction written for an input overlays it exactly.
 */
export function encodeNifti(volume: Volume, options: NiftiWriteOptions = {}, path = '<memory>'): Uint8Array {
  const datatype = options.datatype ?? datatypeOf(volume.data);
  const info = DATATYPES.get(datatype);
  if (!info) writeError(path, `unsupported datatype ${datatype}`);
  const slope = options.sclSlope ?? 1;
  const inter = options.sclInter ?? 0;
  if (!Number.isFinite(slope) || slope === 0 || !Number.isFinite(inter)) {
    writeError(path, `scaling must be finite with a non-zero slope (got slope ${slope}, inter ${inter})`);
  }
  const { dims } = volume;
  if (dims.some((d) => !Number.isInteger(d) || d < 1 || d > 32767)) {
    writeError(path, `dims ${dims.join('×')} must be integers in 1..32767 for NIfTI-1`);
  }
  const count = dims[0] * dims[1] * dims[2];
  if (volume.data.length !== count) {
    writeError(path, `data has ${volume.data.length} voxels, dims ${dims.join('×')} need ${count}`);
  }
  const g = geometry(path, volume, options.like ?? volume.header);

  const out = new Uint8Array(352 + count * info.bytes);
  const v = new DataView(out.buffer);
  v.setInt32(0, NIFTI1_SIZE, true);
  out[38] = 0x72; // regular = 'r'
  g.dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, true));
  v.setInt16(70, datatype, true);
  v.setInt16(72, info.bytes * 8, true);
  g.pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, true));
  v.setFloat32(108, 352, true);
  v.setFloat32(112, slope, true);
  v.setFloat32(116, inter, true);
  out[123] = g.xyztUnits & 0xff;
  out.set(Uint8Array.from(g.descrip.slice(0, 79), (ch) => ch.charCodeAt(0) & 0xff), 148);
  v.setInt16(252, g.qformCode, true);
  v.setInt16(254, g.sformCode, true);
  g.quatern.forEach((q, i) => v.setFloat32(256 + 4 * i, q, true));
  g.srow.forEach((s, i) => v.setFloat32(280 + 4 * i, s, true));
  out.set([0x6e, 0x2b, 0x31, 0x00], 344);

  const stored = info.make(count);
  const src = volume.data;
  const identity = slope === 1 && inter === 0;
  for (let i = 0; i < count; i++) {
    let x = identity ? src[i] : (src[i] - inter) / slope;
    if (!Number.isFinite(x)) writeError(path, `voxel ${i} is ${src[i]}; NIfTI images must be finite`);
    if (!info.float) {
      x = Math.round(x);
      if (x < info.min || x > info.max) {
        writeError(path, `voxel ${i} = ${src[i]} stores as ${x}, outside ${info.name} range ${info.min}..${info.max}`);
      }
    }
    stored[i] = x;
  }
  out.set(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength), 352);
  return out;
}

/**
 * Writes a volume as NIfTI-1, atomically; gzip-compressed when the path ends in `.gz`.
 *
 * @example
 * const img = readNiftiImage('patient001_frame01.nii.gz');
 * writeNifti('pred.nii.gz', { ...img, data: labels }, { datatype: 2 });
 */
export function writeNifti(path: string, volume: Volume, options: NiftiWriteOptions = {}): void {
  const bytes = encodeNifti(volume, options, path);
  writeFileAtomic(path, path.endsWith('.gz') ? gzipSync(bytes) : bytes);
}
