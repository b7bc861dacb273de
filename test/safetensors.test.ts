import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PYTHON, pytorch } from './helpers/optional.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  writeSafetensors,
  type SafetensorsEntry,
} from '../src/engine/safetensors.js';

const tmp = mkdtempSync(join(tmpdir(), 'hmcseg-safetensors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

/** Builds a file from a header object and data bytes, with no checks (for malformed cases). */
function raw(header: unknown, data: Uint8Array = new Uint8Array(0), headerText = JSON.stringify(header)): Uint8Array {
  const h = Buffer.from(headerText, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('the reference implementation’s own test vectors (safetensors/src/tensor.rs)', () => {
  it('test_serialization: one F32 tensor "attn.0" [1, 2, 3]', () => {
    const out = encodeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) } });
    expect(Array.from(out)).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51,
      50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
      115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0,
      128, 64, 0, 0, 160, 64,
    ]);
  });
  it('test_serialization_forced_alignement: the header is padded with spaces to 8 bytes', () => {
    const out = encodeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) } });
    expect(Array.from(out)).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50,
      34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102,
      102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });
  it('test_empty: no tensors, with and without metadata', () => {
    expect(Array.from(encodeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const out = encodeSafetensors({}, { framework: 'pt' });
    expect(Array.from(out)).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109,
      101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
    expect(decodeSafetensors(out)).toEqual({ tensors: {}, metadata: { framework: 'pt' } });
  });
});

describe('round trips', () => {
  const entries: Record<string, SafetensorsEntry> = {
    f64: { dtype: 'F64', shape: [2], data: Float64Array.from([Math.PI, -1e308]) },
    f32: { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1.5, -0, NaN, Infinity]) },
    f16: { dtype: 'F16', shape: [1], data: Uint16Array.from([0x3c00]) },
    bf16: { dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0xffff]) },
    i64: { dtype: 'I64', shape: [3], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n]) },
    u64: { dtype: 'U64', shape: [1], data: BigUint64Array.from([2n ** 64n - 1n]) },
    i32: { dtype: 'I32', shape: [1, 2], data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1]) },
    u32: { dtype: 'U32', shape: [1], data: Uint32Array.from([2 ** 32 - 1]) },
    i16: { dtype: 'I16', shape: [2], data: Int16Array.from([-32768, 32767]) },
    u16: { dtype: 'U16', shape: [2], data: Uint16Array.from([0, 65535]) },
    i8: { dtype: 'I8', shape: [3], data: Int8Array.from([-128, 127, 0]) },
    u8: { dtype: 'U8', shape: [1, 1, 1], data: Uint8Array.from([255]) },
    bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) },
    scalar: { dtype: 'F32', shape: [], data: Float32Array.from([42]) },
    empty: { dtype: 'I64', shape: [0, 5], data: new BigInt64Array(0) },
  };

  it('every dtype comes back with its type, shape and bytes, through a file', () => {
    const path = join(tmp, 'all.safetensors');
    writeSafetensors(path, entries, { step: '10', method: 'sghmc' });
    const back = readSafetensors(path);
    expect(back.metadata).toEqual({ method: 'sghmc', step: '10' });
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(entries).sort());
    for (const [name, e] of Object.entries(entries)) {
      const b = back.tensors[name];
      expect(b.dtype, name).toBe(e.dtype);
      expect(b.shape, name).toEqual(e.shape);
      expect(b.data.constructor, name).toBe(e.data.constructor);
      expect(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength)), name).toBe(true);
    }
  });

  it('lays tensors out by descending alignment then name, so every tensor is aligned', () => {
    const out = encodeSafetensors(entries);
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(Buffer.from(out.subarray(8, 8 + n)).toString());
    expect(Object.keys(header)).toEqual(['u64', 'empty', 'i64', 'f64', 'f32', 'scalar', 'u32', 'i32', 'bf16', 'f16', 'u16', 'i16', 'i8', 'u8', 'bool']);
    for (const name of Object.keys(header)) {
      const size = entries[name].data.BYTES_PER_ELEMENT;
      expect((8 + n + header[name].data_offsets[0]) % size, name).toBe(0);
    }
  });

  it('rejects arrays that do not fit the dtype or shape', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'I64', shape: [1], data: Int32Array.from([1]) } as unknown as SafetensorsEntry })).toThrow(
      'safetensors: tensor "a": dtype I64 needs a BigInt64Array, got Int32Array',
    );
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(/"a": 3 elements for shape \[2, 2\] \(4\)/);
    expect(() => encodeSafetensors({ a: { dtype: 'BOOL', shape: [1], data: Uint8Array.from([2]) } })).toThrow(/BOOL data must be 0 or 1/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(/reserved/);
  });
});

const torch = pytorch();

describe('a file written from torch tensors by a Python reference writer', () => {
  torch.it('decodes to torch’s values, and our encoder reproduces it byte for byte', () => {
    const script = fileURLToPath(new URL('./fixtures/safetensors_reference.py', import.meta.url));
    const file = join(tmp, 'ref.safetensors');
    const json = join(tmp, 'ref.json');
    execFileSync(PYTHON, [script, file, json]);
    const expected = JSON.parse(readFileSync(json, 'utf8')) as {
      tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
      metadata: Record<string, string>;
      order: string[];
    };
    const decoded = readSafetensors(file);
    expect(decoded.metadata).toEqual(expected.metadata);
    expect(Object.keys(decoded.tensors)).toEqual(expected.order);
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = decoded.tensors[name];
      expect(t.dtype, name).toBe(e.dtype);
      expect(t.shape, name).toEqual(e.shape);
      const got =
        t.dtype === 'I64'
          ? Array.from(t.data, String)
          : t.dtype === 'F16' || t.dtype === 'BF16'
            ? Array.from(new Int16Array(t.data.buffer)) // Python gave the bits as int16
            : Array.from(t.data as ArrayLike<number>);
      expect(got, name).toEqual(e.values);
    }
    expect(decoded.tensors['bn.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.from([7n]) });
    expect(decoded.tensors.half.data).toEqual(Uint16Array.from([0x3800, 0xbc00, 0x7bff])); // 0.5, -1, 65504
    const ours = encodeSafetensors(decoded.tensors, decoded.metadata);
    expect(Buffer.from(ours).equals(readFileSync(file))).toBe(true);
  });
});

describe('malformed files: a clear error naming the file', () => {
  const good = encodeSafetensors({
    a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) },
    b: { dtype: 'U8', shape: [4], data: Uint8Array.from([1, 2, 3, 4]) },
  });
  const withLength = (n: bigint, bytes = good): Uint8Array => {
    const b = Uint8Array.from(bytes);
    new DataView(b.buffer).setBigUint64(0, n, true);
    return b;
  };
  const A = (offsets: number[], extra: object = {}): object => ({ a: { dtype: 'F32', shape: [2], data_offsets: offsets }, ...extra });

  const table: [string, Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', good.subarray(0, 5), /file is 5 bytes, too short/],
    ['header length beyond the file', withLength(10_000n), /header length 10000 runs past the end of the \d+-byte file/],
    ['header length over 100 MB', withLength(100_000_001n), /header length 100000001 exceeds the 100 MB limit/],
    ['header length over 2^53', withLength(2n ** 63n), /exceeds the 100 MB limit/],
    ['truncated data', good.subarray(0, good.length - 1), /run past the 11-byte data buffer/],
    ['invalid JSON', raw(null, new Uint8Array(0), '{"a": {'), /header is not valid UTF-8 JSON/],
    ['invalid UTF-8', raw(null, new Uint8Array(0), '{"a": 1}').map((x, i) => (i === 10 ? 0xff : x)), /not valid UTF-8 JSON/],
    ['header not an object', raw([1, 2]), /header is not a JSON object/],
    ['unknown dtype', raw({ a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)), /tensor "a" has unknown dtype "F128"/],
    ['offsets disagree with shape × dtype', raw(A([0, 12]), new Uint8Array(12)), /F32 shape \[2\] needs 8 bytes, data_offsets \[0, 12\] give 12/],
    ['negative shape', raw({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }), /shape \[-1\], not a list of non-negative integers/],
    ['end before begin', raw(A([8, 0]), new Uint8Array(8)), /end before begin/],
    ['offsets out of bounds', raw(A([0, 8]), new Uint8Array(4)), /data_offsets \[0, 8\] run past the 4-byte data buffer/],
    ['overlapping ranges', raw(A([0, 8], { b: { dtype: 'U8', shape: [4], data_offsets: [4, 8] } }), new Uint8Array(8)), /tensor "b" data_offsets \[4, 8\] overlap the previous tensor \(ending at 8\)/],
    ['a hole between tensors', raw(A([0, 8], { b: { dtype: 'U8', shape: [4], data_offsets: [12, 16] } }), new Uint8Array(16)), /tensor "b" data_offsets start at 12, leaving a hole after byte 8/],
    ['a hole at the start', raw(A([4, 12]), new Uint8Array(12)), /start at 4, leaving a hole after byte 0/],
    ['unused bytes at the end', raw(A([0, 8]), new Uint8Array(9)), /tensors cover 8 bytes of the 9-byte data buffer/],
    ['missing data_offsets', raw({ a: { dtype: 'U8', shape: [0] } }), /data_offsets undefined, not \[begin, end\]/],
    ['an unknown field', raw({ a: { dtype: 'U8', shape: [0], data_offsets: [0, 0], stride: 1 } }), /unknown field\(s\) stride/],
    ['non-string metadata', raw({ __metadata__: { step: 3 } }), /__metadata__ must map strings to strings/],
    ['BOOL other than 0/1', raw({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, Uint8Array.from([1, 7])), /"m" is BOOL but holds values other than 0 and 1/],
  ];
  for (const [what, bytes, message] of table) {
    it(what, () => {
      const path = join(tmp, `bad-${what.replace(/\W+/g, '-')}.safetensors`);
      writeFileSync(path, bytes);
      expect(() => readSafetensors(path)).toThrow(message);
      expect(() => readSafetensors(path)).toThrow(`safetensors ${path}: `);
    });
  }

  it('accepts tensors listed in any order, as older writers produced', () => {
    const data = new Uint8Array([...f32([1, 2]), 9, 8, 7, 6]);
    const t = decodeSafetensors(raw({ b: { dtype: 'U8', shape: [4], data_offsets: [8, 12] }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data));
    expect(Object.keys(t.tensors)).toEqual(['a', 'b']);
    expect(Array.from(t.tensors.a.data as Float32Array)).toEqual([1, 2]);
    expect(Array.from(t.tensors.b.data as Uint8Array)).toEqual([9, 8, 7, 6]);
  });

  it('names a missing file', () => {
    expect(() => readSafetensors(join(tmp, 'nope.safetensors'))).toThrow(/safetensors .*nope\.safetensors: cannot read file/);
  });
});
