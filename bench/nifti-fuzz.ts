/**
 * Seeded NIfTI fuzzing: mutations of real files, an independent reading of the mutated bytes (the
 * oracle), and the verdict on what the library's readers did with them. Used by
 * test/nifti-fuzz.test.ts (a seeded subset, in `npm test`) and bench/fuzz-nifti.ts (1,000 files,
 * through the CLI as well, with a tally).
 *
 * "Silently wrong" is defined against the oracle, a separate NIfTI-1 reader written from the
 * standard (nifti1.h) here, sharing no code with src/data/nifti.ts:
 * - a file the library loads must be one the oracle accepts, and the library's dims, spacing,
 *   affine and every voxel value must equal the oracle's (values bit for bit; the affine to 1e-9
 *   relative, as both compute the quaternion in double);
 * - the oracle accepts a file only when its values (after scl_slope/scl_inter) are all finite and
 *   its voxel-to-world affine is finite (and invertible when it comes from the sform or qform),
 *   so NaN/Inf voxels and a broken geometry
 *   can never be read as a volume;
 * - a file the library rejects must be rejected with an error whose message names the file and
 *   gives the problem (an issue code and message from the reader).
 * A rejection of a file the oracle accepts is not wrong output; it is counted ("stricter").
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { applyLabelMap, readNiftiImage, readNiftiLabels, type LabelMap, type Volume } from '../src/data/index.js';

// ---------------------------------------------------------------------------------------------
// Seeded random numbers

/** mulberry32: a small, seedable 32-bit generator; `next()` is uniform in [0, 1). */
export function rng(seed: number): { next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)] };
}

// ---------------------------------------------------------------------------------------------
// The oracle: NIfTI-1 single file, from nifti1.h

/** Header fields by byte offset and type (nifti1.h). */
const FIELDS = {
  sizeof_hdr: [0, 'i32'],
  dim: [40, 'i16', 8],
  datatype: [70, 'i16'],
  bitpix: [72, 'i16'],
  pixdim: [76, 'f32', 8],
  vox_offset: [108, 'f32'],
  scl_slope: [112, 'f32'],
  scl_inter: [116, 'f32'],
  xyzt_units: [123, 'u8'],
  qform_code: [252, 'i16'],
  sform_code: [254, 'i16'],
  quatern: [256, 'f32', 6],
  srow: [280, 'f32', 12],
  magic: [344, 'u8', 4],
} as const satisfies Record<string, readonly [number, 'i32' | 'i16' | 'f32' | 'u8', number?]>;

type FieldName = keyof typeof FIELDS;
const SIZE = { i32: 4, i16: 2, f32: 4, u8: 1 } as const;

/** Bytes per voxel of the datatypes the project reads. */
const VOXEL_BYTES: Readonly<Record<number, number>> = { 2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 512: 2 };

export interface OracleVolume {
  readonly dims: [number, number, number];
  readonly spacing: [number, number, number];
  readonly affine: number[];
  /** Voxel values after scaling, as float32 (what `float32` reading must give). */
  readonly values: Float32Array;
}

export type OracleReading = { readonly ok: true; readonly volume: OracleVolume } | { readonly ok: false; readonly reason: string };

function field(v: DataView, le: boolean, name: FieldName, k = 0): number {
  const [at, type] = FIELDS[name];
  const o = at + k * SIZE[type];
  if (type === 'i32') return v.getInt32(o, le);
  if (type === 'i16') return v.getInt16(o, le);
  if (type === 'f32') return v.getFloat32(o, le);
  return v.getUint8(o);
}

function voxel(v: DataView, o: number, datatype: number, le: boolean): number {
  switch (datatype) {
    case 2: return v.getUint8(o);
    case 4: return v.getInt16(o, le);
    case 8: return v.getInt32(o, le);
    case 16: return v.getFloat32(o, le);
    case 64: return v.getFloat64(o, le);
    default: return v.getUint16(o, le);
  }
}

/** Quaternion to rotation (nifti1_io's nifti_quatern_to_mat44), times the voxel sizes. */
function qformAffine(q: readonly number[], pixdim: readonly number[]): number[] {
  let [b, c, d] = q;
  const [x, y, z] = [q[3], q[4], q[5]];
  let a: number;
  const bcd = b * b + c * c + d * d;
  if (1 - bcd < 1e-7) {
    const n = 1 / Math.sqrt(bcd);
    [a, b, c, d] = [0, b * n, c * n, d * n];
  } else {
    a = Math.sqrt(1 - bcd);
  }
  const size = (p: number): number => (p > 0 ? p : 1);
  const [xd, yd] = [size(pixdim[1]), size(pixdim[2])];
  const zd = size(pixdim[3]) * (pixdim[0] < 0 ? -1 : 1);
  return [
    (a * a + b * b - c * c - d * d) * xd, 2 * (b * c - a * d) * yd, 2 * (b * d + a * c) * zd, x,
    2 * (b * c + a * d) * xd, (a * a + c * c - b * b - d * d) * yd, 2 * (c * d - a * b) * zd, y,
    2 * (b * d - a * c) * xd, 2 * (c * d + a * b) * yd, (a * a + d * d - c * c - b * b) * zd, z,
    0, 0, 0, 1,
  ];
}

function det3(m: readonly number[]): number {
  return (
    m[0] * (m[5] * m[10] - m[6] * m[9]) - m[1] * (m[4] * m[10] - m[6] * m[8]) + m[2] * (m[4] * m[9] - m[5] * m[8])
  );
}

/**
 * Reads NIfTI-1 bytes (gzip detected by its magic) the way the standard describes, accepting only
 * what can be read as a volume without guessing. `labels`: values must be integers in 0..255.
 */
export function oracleRead(input: Uint8Array, labels = false): OracleReading {
  const no = (reason: string): OracleReading => ({ ok: false, reason });
  let bytes = input;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch {
      return no('gzip');
    }
  }
  if (bytes.length < 348) return no('short');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = v.getInt32(0, true) === 348;
  if (!le && v.getInt32(0, false) !== 348) return no('sizeof_hdr');
  if (bytes[344] !== 0x6e || bytes[345] !== 0x2b || bytes[346] !== 0x31 || bytes[347] !== 0) return no('magic');
  const ndim = field(v, le, 'dim', 0);
  if (ndim < 1 || ndim > 7) return no('dim[0]');
  const dim = [1, 1, 1];
  for (let i = 1; i <= ndim; i++) {
    const n = field(v, le, 'dim', i);
    if (n < 1) return no(`dim[${i}]`);
    if (i <= 3) dim[i - 1] = n;
    else if (n !== 1) return no(`dim[${i}]`);
  }
  const datatype = field(v, le, 'datatype');
  const bytesPer = VOXEL_BYTES[datatype];
  if (bytesPer === undefined) return no('datatype');
  const pixdim = Array.from({ length: 8 }, (_, k) => field(v, le, 'pixdim', k));
  const spacing: [number, number, number] = [1, 1, 1];
  for (let i = 1; i <= Math.min(ndim, 3); i++) {
    if (!Number.isFinite(pixdim[i]) || pixdim[i] === 0) return no(`pixdim[${i}]`);
    spacing[i - 1] = Math.abs(pixdim[i]);
  }
  const offset = field(v, le, 'vox_offset');
  if (!Number.isInteger(offset) || offset < 348) return no('vox_offset');
  const count = dim[0] * dim[1] * dim[2];
  if (bytes.length - offset !== count * bytesPer) return no('size');
  let slope = field(v, le, 'scl_slope');
  let inter = field(v, le, 'scl_inter');
  if (slope === 0 || !Number.isFinite(slope)) [slope, inter] = [1, 0];
  if (!Number.isFinite(inter)) inter = 0;
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const x = voxel(v, offset + i * bytesPer, datatype, le) * slope + inter;
    if (labels ? !(Number.isInteger(x) && x >= 0 && x <= 255) : !Number.isFinite(Math.fround(x))) {
      return no(labels ? 'label value' : 'non-finite value (as float32)');
    }
    values[i] = x;
  }
  let affine: number[];
  const rotated = field(v, le, 'sform_code') > 0 || field(v, le, 'qform_code') > 0;
  if (field(v, le, 'sform_code') > 0) affine = [...Array.from({ length: 12 }, (_, k) => field(v, le, 'srow', k)), 0, 0, 0, 1];
  else if (field(v, le, 'qform_code') > 0) affine = qformAffine(Array.from({ length: 6 }, (_, k) => field(v, le, 'quatern', k)), pixdim);
  else affine = [pixdim[1], 0, 0, 0, 0, pixdim[2], 0, 0, 0, 0, pixdim[3], 0, 0, 0, 0, 1];
  if (!affine.every(Number.isFinite)) return no('affine not finite');
  // A singular sform/qform collapses an axis; method 1's pixdim beyond the volume's axes may be 0.
  const d = det3(affine);
  if (rotated && (!Number.isFinite(d) || d === 0)) return no('affine singular');
  return { ok: true, volume: { dims: dim as [number, number, number], spacing, affine, values } };
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** A seed file for mutations: its name and uncompressed NIfTI-1 bytes. */
export interface FuzzSeed {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** A label file (read with the labels reader). */
  readonly labels: boolean;
}

export interface Mutant {
  /** e.g. `bitflip dim[2] bit 13`: what was done, to report with a finding. */
  readonly description: string;
  readonly kind: string;
  readonly bytes: Uint8Array;
  /** Write as `.nii.gz` (true) or `.nii`. */
  readonly gz: boolean;
}

/** Seeds from real files (`.nii.gz` or `.nii` bytes). */
export function seedFrom(name: string, fileBytes: Uint8Array, labels: boolean): FuzzSeed {
  const bytes = fileBytes[0] === 0x1f && fileBytes[1] === 0x8b ? new Uint8Array(gunzipSync(fileBytes)) : fileBytes;
  return { name, bytes, labels };
}

const SPECIAL_FLOATS = [Number.NaN, Infinity, -Infinity, 0, -0, 1e38, -1e38, 1e-38, 3.4e38, 1e-45, -1, 0.5, 2];
const SPECIAL_INTS = [0, 1, -1, 2, 3, 4, 7, 8, 255, 256, 32767, -32768, 16384];
const DATATYPE_CODES = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, 12345, -1];

function writeField(v: DataView, name: FieldName, k: number, value: number, le: boolean): void {
  const [at, type] = FIELDS[name];
  const o = at + k * SIZE[type];
  if (type === 'i32') v.setInt32(o, value, le);
  else if (type === 'i16') v.setInt16(o, value, le);
  else if (type === 'f32') v.setFloat32(o, value, le);
  else v.setUint8(o, value);
}

/** The seed with float32 voxels (the scaled values), so that NaN/Inf can be planted. */
function asFloat32(seed: FuzzSeed): Uint8Array {
  const r = oracleRead(seed.bytes);
  if (!r.ok) throw new Error(`fuzz seed ${seed.name} is not readable: ${r.reason}`);
  const head = seed.bytes.slice(0, 352);
  const v = new DataView(head.buffer);
  writeField(v, 'datatype', 0, 16, true);
  writeField(v, 'bitpix', 0, 32, true);
  writeField(v, 'vox_offset', 0, 352, true);
  writeField(v, 'scl_slope', 0, 1, true);
  writeField(v, 'scl_inter', 0, 0, true);
  const out = new Uint8Array(352 + r.volume.values.byteLength);
  out.set(head);
  out.set(new Uint8Array(r.volume.values.buffer), 352);
  return out;
}

const HEADER_FIELDS = Object.keys(FIELDS) as FieldName[];

/**
 * One seeded mutation of a seed: truncation, bit flips in header fields, dims, datatype,
 * vox_offset, scl_slope/inter, qform/sform, broken gzip, huge dims, NaN/Inf voxels, flipped data
 * bytes, or two of these together.
 */
export function mutate(seed: FuzzSeed, seedValue: number): Mutant {
  const r = rng(seedValue);
  const kinds = ['truncate', 'bitflip', 'field', 'dims', 'datatype', 'vox_offset', 'scaling', 'geometry', 'gzip', 'nonfinite', 'data', 'combined'] as const;
  const kind = kinds[r.int(kinds.length)];
  const notes: string[] = [];
  let bytes: Uint8Array = seed.bytes.slice();
  let gz = r.next() < 0.5;
  let compressed = false; // the gzip mutations leave compressed bytes

  const one = (k: (typeof kinds)[number]): void => {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (k) {
      case 'truncate': {
        const at = r.next() < 0.4 ? r.int(352) : r.int(bytes.length);
        bytes = bytes.slice(0, at);
        notes.push(`truncate to ${at} bytes`);
        return;
      }
      case 'bitflip': {
        const name = r.pick(HEADER_FIELDS);
        const [at, type, n = 1] = FIELDS[name];
        const byte = at + r.int(SIZE[type] * n);
        const bit = r.int(8);
        bytes[byte] ^= 1 << bit;
        notes.push(`bitflip ${name} byte ${byte} bit ${bit}`);
        return;
      }
      case 'field': {
        const name = r.pick(HEADER_FIELDS.filter((f) => f !== 'magic'));
        const [, type, n = 1] = FIELDS[name];
        const k2 = r.int(n);
        const value = type === 'f32' ? r.pick(SPECIAL_FLOATS) : type === 'u8' ? r.int(256) : r.pick(SPECIAL_INTS);
        writeField(v, name, k2, value, true);
        notes.push(`set ${name}[${k2}] = ${value}`);
        return;
      }
      case 'dims': {
        const i = r.int(8);
        const value = r.pick([0, -1, -32768, 32767, 30000, 2, 1, 7, 8, 1000]);
        writeField(v, 'dim', i, value, true);
        notes.push(`set dim[${i}] = ${value}`);
        if (r.next() < 0.3) {
          const [a, b] = [1 + r.int(3), 1 + r.int(3)];
          const da = field(v, true, 'dim', a);
          writeField(v, 'dim', a, field(v, true, 'dim', b), true);
          writeField(v, 'dim', b, da, true);
          notes.push(`swap dim[${a}], dim[${b}]`);
        }
        return;
      }
      case 'datatype': {
        const code = r.next() < 0.8 ? r.pick(DATATYPE_CODES) : r.int(65536) - 32768;
        writeField(v, 'datatype', 0, code, true);
        notes.push(`set datatype = ${code}`);
        return;
      }
      case 'vox_offset': {
        const value = r.pick([0, 347, 348, 351, 353, 356, 4096, 1e9, -352, 352.5, Number.NaN, Infinity, bytes.length, bytes.length + 1]);
        writeField(v, 'vox_offset', 0, value, true);
        notes.push(`set vox_offset = ${value}`);
        return;
      }
      case 'scaling': {
        const name = r.pick(['scl_slope', 'scl_inter'] as const);
        const value = r.pick([...SPECIAL_FLOATS, 1e30, 1e35]);
        writeField(v, name, 0, value, true);
        notes.push(`set ${name} = ${value}`);
        return;
      }
      case 'geometry': {
        const code = r.pick(['qform_code', 'sform_code'] as const);
        writeField(v, code, 0, r.pick([0, 1, 2, 4, -1, 5]), true);
        const arr = r.pick(['quatern', 'srow', 'pixdim'] as const);
        const k2 = r.int(FIELDS[arr][2]);
        const value = r.pick([Number.NaN, Infinity, 0, 1, -1, 2, 1e20, 0.70710677]);
        writeField(v, arr, k2, value, true);
        if (r.next() < 0.3) for (let j = 0; j < 12; j++) writeField(v, 'srow', j, 0, true);
        notes.push(`set ${code}, ${arr}[${k2}] = ${value}`);
        return;
      }
      case 'gzip': {
        compressed = true;
        const z = new Uint8Array(gzipSync(bytes, { level: 1 }));
        const how = r.int(4);
        if (how === 0) {
          const at = 10 + r.int(z.length - 18);
          z[at] ^= 1 << r.int(8);
          notes.push(`gzip: bit flip in the deflate stream at ${at}`);
        } else if (how === 1) {
          const at = r.int(z.length);
          notes.push(`gzip: truncated to ${at} of ${z.length} bytes`);
          bytes = z.slice(0, at);
          return;
        } else if (how === 2) {
          z[z.length - 8 + r.int(8)] ^= 0xff;
          notes.push('gzip: corrupt CRC32/ISIZE trailer');
        } else {
          notes.push('gzip: trailing garbage after the stream');
          bytes = new Uint8Array([...z, 0x13, 0x37, 0x00, 0xff]);
          return;
        }
        bytes = z;
        return;
      }
      case 'nonfinite': {
        bytes = asFloat32(seed);
        const fv = new DataView(bytes.buffer);
        const count = (bytes.length - 352) / 4;
        const n = 1 + r.int(5);
        for (let j = 0; j < n; j++) {
          const at = r.int(count);
          const value = r.pick([Number.NaN, Infinity, -Infinity]);
          fv.setFloat32(352 + 4 * at, value, true);
          notes.push(`voxel ${at} = ${value}`);
        }
        return;
      }
      case 'data': {
        const n = 1 + r.int(16);
        for (let j = 0; j < n && bytes.length > 352; j++) bytes[352 + r.int(bytes.length - 352)] ^= 1 << r.int(8);
        notes.push(`${n} bit flips in the voxel data`);
        return;
      }
      case 'combined': {
        const pool = kinds.filter((x) => x !== 'combined' && x !== 'gzip' && x !== 'truncate');
        one(r.pick(pool));
        one(r.pick(pool));
        return;
      }
    }
  };
  one(kind);
  if (gz && !compressed) bytes = new Uint8Array(gzipSync(bytes, { level: 1 }));
  return { kind, description: `${seed.name} #${seedValue}: ${notes.join('; ')}`, bytes, gz: gz || compressed };
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/** What a reader did with a mutated file, as the fuzzer sees it. */
export type Outcome =
  | { readonly loaded: true; readonly dims: readonly number[]; readonly spacing: readonly number[]; readonly affine: readonly number[]; readonly values: ArrayLike<number> }
  | { readonly loaded: false; readonly message: string };

export type Verdict =
  | 'loaded' // loaded, equal to the oracle
  | 'rejected' // rejected, as the oracle does, with the file and problem named
  | 'stricter' // rejected, the oracle accepts (named)
  | 'wrong' // loaded but the oracle rejects, or the values differ: silently wrong output
  | 'unnamed' // rejected without naming the file or the problem
  | 'crash' // a CLI process ended by a signal, or with an exit status other than 0 or 1
  | 'hang'; // a CLI process ran past its timeout

export interface Judgement {
  readonly verdict: Verdict;
  /** Why, for 'wrong' and 'unnamed'. */
  readonly detail?: string;
}

/** What a reader did: the volume it returned, or the message it threw. */
export function outcomeOf(read: () => Volume): Outcome {
  try {
    const v = read();
    return { loaded: true, dims: v.dims, spacing: v.spacing, affine: v.affine, values: v.data };
  } catch (err) {
    return { loaded: false, message: String((err as Error).message) };
  }
}

/** The oracle's labels mapped to project classes, as loadCase returns them; a label the map lacks rejects. */
export function mappedLabels(r: OracleReading, map: LabelMap): OracleReading {
  if (!r.ok) return r;
  try {
    return { ok: true, volume: { ...r.volume, values: Float32Array.from(applyLabelMap(Uint8Array.from(r.volume.values), map, 'oracle')) } };
  } catch {
    return { ok: false, reason: 'label not in the label map' };
  }
}

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Compares what the library did with `path` to the oracle's reading of the same bytes. */
export function judge(outcome: Outcome, oracle: OracleReading, path: string): Judgement {
  if (!outcome.loaded) {
    const named = outcome.message.includes(path) && outcome.message.length > path.length + 8;
    if (!named) return { verdict: 'unnamed', detail: outcome.message };
    return { verdict: oracle.ok ? 'stricter' : 'rejected' };
  }
  if (!oracle.ok) return { verdict: 'wrong', detail: `loaded, but the oracle rejects it: ${oracle.reason}` };
  const o = oracle.volume;
  if (outcome.dims.join() !== o.dims.join()) return { verdict: 'wrong', detail: `dims ${outcome.dims} vs ${o.dims}` };
  if (outcome.spacing.join() !== o.spacing.join()) return { verdict: 'wrong', detail: `spacing ${outcome.spacing} vs ${o.spacing}` };
  if (!outcome.affine.every((x, i) => close(x, o.affine[i]))) return { verdict: 'wrong', detail: `affine ${outcome.affine} vs ${o.affine}` };
  if (outcome.values.length !== o.values.length) return { verdict: 'wrong', detail: 'voxel count' };
  for (let i = 0; i < o.values.length; i++) {
    if (outcome.values[i] !== o.values[i]) {
      return { verdict: 'wrong', detail: `voxel ${i}: ${outcome.values[i]} vs ${o.values[i]}` };
    }
  }
  return { verdict: 'loaded' };
}

// ---------------------------------------------------------------------------------------------
// Through the CLI

export interface CliRun {
  readonly status: number | null;
  readonly signal: string | null;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs `node CLI ...args` with a timeout (a hang is a finding, not a stuck run). */
export function runCli(cli: string, args: readonly string[], timeoutMs = 120_000): CliRun {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return { status: r.status, signal: timedOut ? null : r.signal, stderr: r.stderr ?? '', timedOut };
}

/**
 * A CLI run on a mutated file: exit 0 only for a file the oracle accepts, and then `check` (of
 * the outputs) must pass; exit 1 with the file named in stderr otherwise.
 */
export function judgeCli(run: CliRun, oracle: OracleReading, path: string, check: () => string | null): Judgement {
  if (run.timedOut) return { verdict: 'hang' };
  if (run.signal !== null || (run.status !== 0 && run.status !== 1)) {
    return { verdict: 'crash', detail: `signal ${run.signal}, status ${run.status}: ${run.stderr.slice(-300)}` };
  }
  if (run.status === 1) return judge({ loaded: false, message: run.stderr }, oracle, path);
  if (!oracle.ok) return { verdict: 'wrong', detail: `exit 0, but the oracle rejects the file: ${oracle.reason}` };
  const problem = check();
  return problem === null ? { verdict: 'loaded' } : { verdict: 'wrong', detail: problem };
}

/**
 * What `hmcseg predict` wrote for input `name` must lie on the oracle's grid: a segmentation of
 * project classes (0..3), finite entropy and MI maps (the reader rejects non-finite values) and
 * one score record per slice.
 */
export function checkPrediction(out: string, name: string, oracle: OracleVolume): string | null {
  try {
    const seg = readNiftiLabels(join(out, `${name}_seg.nii.gz`));
    if (seg.dims.join() !== oracle.dims.join()) return `segmentation dims ${seg.dims} vs input ${oracle.dims}`;
    if (!seg.affine.every((x, i) => close(x, oracle.affine[i]))) return `segmentation affine ${seg.affine} vs input ${oracle.affine}`;
    if (seg.data.some((c) => c > 3)) return 'segmentation has a class above 3';
    for (const map of ['entropy', 'mi']) {
      const v = readNiftiImage(join(out, `${name}_${map}.nii.gz`));
      if (v.dims.join() !== oracle.dims.join()) return `${map} dims ${v.dims}`;
    }
    // Scores are per slice; a NaN one (no predicted heart) is written as null.
    const scores = JSON.parse(readFileSync(join(out, `${name}_uncertainty.json`), 'utf8')) as { slices?: unknown[] };
    if (scores.slices?.length !== oracle.dims[2]) return `${scores.slices?.length} slice scores for ${oracle.dims[2]} slices`;
    return null;
  } catch (err) {
    return `outputs unreadable: ${(err as Error).message}`;
  }
}

/** A tiny deterministic sample store (phantoms 32 × 32, U-Net depth 2, 2 steps) for predict runs. */
export function tinyStore(cli: string, dir: string): string {
  const data = join(dir, 'phantom');
  const splits = join(dir, 'splits.json');
  const config = join(dir, 'config.json');
  const store = join(dir, 'store');
  mkdirSync(dir, { recursive: true });
  writeFileSync(config, JSON.stringify({ seed: 1, threads: 1, data: { size: 32, batchSize: 2, workers: 0 }, model: { depth: 2, baseWidth: 4 }, optim: { steps: 2 } }));
  for (const args of [
    ['phantom', '--out', data, '--cases', '4', '--contrast', 'ssfp', '--seed', '1', '--size', '32', '--slices', '2'],
    ['splits', '--data', data, '--out', splits],
    ['train', '--method', 'deterministic', '--data', data, '--splits', splits, '--out', store, '--config', config],
  ]) {
    const r = runCli(cli, args, 300_000);
    if (r.status !== 0) throw new Error(`hmcseg ${args.join(' ')} failed (${r.status}, ${r.signal}): ${r.stderr.slice(-500)}`);
  }
  return store;
}
