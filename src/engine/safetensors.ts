import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * The safetensors format over typed arrays: an 8-byte little-endian header length N, N bytes of
 * JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {…}}`, then the
 * little-endian tensor bytes, covered by the offsets without holes or overlaps.
 * Follows the reference implementation (huggingface/safetensors, `safetensors/src/tensor.rs`).
 */

/** Element types; F16 and BF16 travel as their raw 16-bit patterns in a Uint16Array. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

interface DtypeArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U64: BigUint64Array;
  U32: Uint32Array;
  U16: Uint16Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

export type SafetensorsArray = DtypeArrays[SafetensorsDtype];

/** One tensor: C-order data of length product(shape). */
export type SafetensorsEntry = {
  [D in SafetensorsDtype]: { readonly dtype: D; readonly shape: readonly number[]; readonly data: DtypeArrays[D] };
}[SafetensorsDtype];

export interface SafetensorsFile {
  /** Tensors in file (offset) order. */
  readonly tensors: Record<string, SafetensorsEntry>;
  readonly metadata?: Record<string, string>;
}

type ArrayCtor = { new (n: number): SafetensorsArray; readonly BYTES_PER_ELEMENT: number };

/**
 * Per dtype: the typed array and its rank in the reference's `Dtype` enum, which is ordered by
 * alignment; the writer lays tensors out by descending rank, then by name.
 */
const DTYPES: Readonly<Record<SafetensorsDtype, { readonly array: ArrayCtor; readonly rank: number }>> = {
  BOOL: { array: Uint8Array, rank: 0 },
  U8: { array: Uint8Array, rank: 1 },
  I8: { array: Int8Array, rank: 2 },
  I16: { array: Int16Array, rank: 5 },
  U16: { array: Uint16Array, rank: 6 },
  F16: { array: Uint16Array, rank: 7 },
  BF16: { array: Uint16Array, rank: 8 },
  I32: { array: Int32Array, rank: 9 },
  U32: { array: Uint32Array, rank: 10 },
  F32: { array: Float32Array, rank: 11 },
  F64: { array: Float64Array, rank: 12 },
  I64: { array: BigInt64Array as unknown as ArrayCtor, rank: 13 },
  U64: { array: BigUint64Array as unknown as ArrayCtor, rank: 14 },
};

const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

function isDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === 'string' && Object.hasOwn(DTYPES, x);
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function bytesOf(data: SafetensorsArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Serialises tensors exactly as the reference does: tensors ordered by descending dtype alignment
 * then name, compact JSON with `__metadata__` first, header padded with spaces to a multiple of 8.
 *
 * @throws {TypeError} when a tensor's array does not fit its dtype; {@link RangeError} on a bad
 *   shape or data length.
 */
export function encodeSafetensors(entries: Readonly<Record<string, SafetensorsEntry>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const names = Object.keys(entries);
  for (const name of names) {
    const { dtype, shape, data } = entries[name];
    if (name === METADATA_KEY) throw new RangeError(`safetensors: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (!isDtype(dtype)) throw new TypeError(`safetensors: tensor "${name}": unknown dtype ${JSON.stringify(dtype)}`);
    const want = DTYPES[dtype].array;
    if (!(data instanceof want)) {
      throw new TypeError(`safetensors: tensor "${name}": dtype ${dtype} needs a ${want.name}, got ${data?.constructor?.name}`);
    }
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new RangeError(`safetensors: tensor "${name}": shape [${shape.join(', ')}] must hold non-negative integers`);
    }
    if (data.length !== numel(shape)) {
      throw new RangeError(`safetensors: tensor "${name}": ${data.length} elements for shape [${shape.join(', ')}] (${numel(shape)})`);
    }
    if (dtype === 'BOOL' && (data as Uint8Array).some((v) => v > 1)) {
      throw new RangeError(`safetensors: tensor "${name}": BOOL data must be 0 or 1`);
    }
  }
  names.sort((a, b) => DTYPES[entries[b].dtype].rank - DTYPES[entries[a].dtype].rank || (a < b ? -1 : a > b ? 1 : 0));

  // Object.fromEntries defines own properties, so even a tensor named "__proto__" survives.
  const header: [string, unknown][] = [];
  if (metadata) {
    const keys = Object.keys(metadata).sort();
    for (const key of keys) {
      if (typeof metadata[key] !== 'string') throw new TypeError(`safetensors: metadata "${key}" must be a string`);
    }
    header.push([METADATA_KEY, Object.fromEntries(keys.map((k) => [k, metadata[k]]))]);
  }
  let offset = 0;
  for (const name of names) {
    const { dtype, shape, data } = entries[name];
    header.push([name, { dtype, shape: [...shape], data_offsets: [offset, offset + data.byteLength] }]);
    offset += data.byteLength;
  }
  let json = Buffer.from(JSON.stringify(Object.fromEntries(header)), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);

  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const b = bytesOf(entries[name].data);
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function bad(source: string, message: string): never {
  throw new Error(`safetensors ${source}: ${message}`);
}

interface Info {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

function parseInfo(source: string, name: string, value: unknown): Info {
  const where = `tensor "${name}"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(source, `${where} is not an object`);
  const { dtype, shape, data_offsets: offsets, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) bad(source, `${where} has unknown field(s) ${extra.join(', ')}`);
  if (!isDtype(dtype)) bad(source, `${where} has unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPES).join(', ')})`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    bad(source, `${where} has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    bad(source, `${where} has data_offsets ${JSON.stringify(offsets)}, not [begin, end]`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) bad(source, `${where} has data_offsets [${begin}, ${end}] with end before begin`);
  const size = numel(shape as number[]) * DTYPES[dtype].array.BYTES_PER_ELEMENT;
  if (end - begin !== size) {
    bad(source, `${where}: ${dtype} shape [${(shape as number[]).join(', ')}] needs ${size} bytes, data_offsets [${begin}, ${end}] give ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/**
 * Parses a safetensors byte buffer, copying each tensor into its own (aligned) typed array.
 *
 * @param source names the file in errors.
 * @throws {Error} naming the source: truncated file, header length beyond the file or over 100 MB,
 *   invalid JSON, unknown dtype, offsets that disagree with shape×dtype, are out of bounds,
 *   overlap, or leave holes in the byte buffer.
 */
export function decodeSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  if (bytes.byteLength < 8) bad(source, `file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) bad(source, `header length ${n} exceeds the 100 MB limit`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.byteLength) {
    bad(source, `header length ${headerLen} runs past the end of the ${bytes.byteLength}-byte file (truncated?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    bad(source, `header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad(source, 'header is not a JSON object');

  let metadata: Record<string, string> | undefined;
  const infos: Info[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        bad(source, `${METADATA_KEY} must map strings to strings`);
      }
      metadata = Object.fromEntries(Object.entries(value as Record<string, string>));
    } else {
      infos.push(parseInfo(source, name, value));
    }
  }
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const bufferLen = bytes.byteLength - 8 - headerLen;
  let expected = 0;
  for (const info of infos) {
    if (info.end > bufferLen) {
      bad(source, `tensor "${info.name}" data_offsets [${info.begin}, ${info.end}] run past the ${bufferLen}-byte data buffer (truncated?)`);
    }
    if (info.begin !== expected) {
      bad(
        source,
        info.begin < expected
          ? `tensor "${info.name}" data_offsets [${info.begin}, ${info.end}] overlap the previous tensor (ending at ${expected})`
          : `tensor "${info.name}" data_offsets start at ${info.begin}, leaving a hole after byte ${expected}`,
      );
    }
    expected = info.end;
  }
  if (expected !== bufferLen) bad(source, `tensors cover ${expected} bytes of the ${bufferLen}-byte data buffer; the rest is unaccounted for`);

  const base = 8 + headerLen;
  const tensors = infos.map(({ name, dtype, shape, begin, end }): [string, SafetensorsEntry] => {
    const data = new DTYPES[dtype].array(numel(shape));
    bytesOf(data).set(bytes.subarray(base + begin, base + end));
    if (dtype === 'BOOL' && (data as Uint8Array).some((v) => v > 1)) bad(source, `tensor "${name}" is BOOL but holds values other than 0 and 1`);
    return [name, { dtype, shape, data } as SafetensorsEntry];
  });
  return metadata ? { tensors: Object.fromEntries(tensors), metadata } : { tensors: Object.fromEntries(tensors) };
}

/** Writes a safetensors file atomically. */
export function writeSafetensors(path: string, entries: Readonly<Record<string, SafetensorsEntry>>, metadata?: Readonly<Record<string, string>>): void {
  writeFileAtomic(path, encodeSafetensors(entries, metadata));
}

/** Reads and validates a safetensors file; errors name the file. */
export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`safetensors ${path}: cannot read file (${(err as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}
