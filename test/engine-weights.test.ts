/**
 * saveTensors/loadTensors: round trips of every engine dtype, a file written from PyTorch tensors
 * (by hand, per the safetensors spec: the `safetensors` Python package is not installed) loads
 * with torch's values, and a file we save parses in Python (header by hand, numpy.frombuffer).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../src/engine/safetensors.js';
import { arange, liveTensors, loadTensors, saveTensors, tensor, zeros, type DType, type Tensor } from '../src/engine/index.js';
import { PYTHON, pytorch } from './helpers/optional.js';

const dir = mkdtempSync(join(tmpdir(), 'hmcseg-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Elements as strings (exact for int64), for comparing across dtypes and with Python. */
const strings = (t: Tensor) => Array.from(t.toArray() as ArrayLike<number | bigint>, (v) => String(v));

/** Python's values (floats as repr, integers as str) against a tensor's, exactly. */
function expectSameValues(python: string[], t: Tensor): void {
  if (t.dtype === 'float32' || t.dtype === 'float64') {
    expect(python.map(Number)).toEqual(Array.from(t.toArray() as Float32Array | Float64Array));
  } else {
    expect(python).toEqual(strings(t));
  }
}

/** One tensor of every engine dtype, including a scalar, an empty and a non-contiguous one. */
function sample(): Record<string, Tensor> {
  return {
    'conv.weight': tensor([0.5, -1.25, 3.0e-8, 1e30, -0, 7], [2, 1, 3]),
    'conv.bias': tensor([1 / 3, -2.5], undefined, { dtype: 'float64' }),
    step: tensor(BigInt64Array.from([-(2n ** 63n)]), []),
    big: tensor(BigInt64Array.from([2n ** 63n - 1n, 12345678901234n, -1n])),
    i32: tensor(Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, 5]), [2, 2]),
    i16: tensor(Int16Array.from([-32768, 32767, 1])),
    u8: tensor(Uint8Array.from([0, 255, 9])),
    mask: tensor([1, 0, 1, 1], [2, 2], { dtype: 'bool' }),
    empty: zeros([0, 3]),
    transposed: arange(6, undefined, 1, { dtype: 'float32' }).reshape([2, 3]).transpose(0, 1),
  };
}

describe('saveTensors / loadTensors', () => {
  it('round-trips every dtype, shape and value; metadata reaches the file', () => {
    const path = join(dir, 'round-trip.safetensors');
    const saved = sample();
    saveTensors(path, saved, { step: '42', note: 'round trip' });
    const loaded = loadTensors(path);
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(saved).sort());
    for (const [name, t] of Object.entries(saved)) {
      expect([name, loaded[name].dtype, loaded[name].shape]).toEqual([name, t.dtype, t.shape]);
      expect(strings(loaded[name])).toEqual(strings(t));
      expect(loaded[name].sharesStorageWith(t)).toBe(false);
    }
    expect(strings(loaded.transposed)).toEqual(['0', '3', '1', '4', '2', '5']);
    expect(readSafetensors(path).metadata).toEqual({ step: '42', note: 'round trip' });
    expect(readSafetensors(path).tensors.mask.dtype).toBe('BOOL');
    expect(loadTensors(path, { device: 'cpu' }).u8.device).toBe('cpu');
  });

  it('BAD CALL - values that are not live tensors', () => {
    const path = join(dir, 'bad.safetensors');
    expect(() => saveTensors(path, { w: [1, 2] as unknown as Tensor })).toThrow(/^saveTensors .*bad\.safetensors: "w" is not a Tensor$/);
    const t = zeros([2]);
    t.dispose();
    expect(() => saveTensors(path, { w: t })).toThrow(/^saveTensors .*: tensor "w" is disposed$/);
  });

  it('EXPECTED FAILURE - a dtype the engine lacks, without leaking the tensors read so far', () => {
    const path = join(dir, 'f16.safetensors');
    writeSafetensors(path, {
      a: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) },
      h: { dtype: 'F16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) },
    });
    const before = liveTensors();
    expect(() => loadTensors(path)).toThrow(/^loadTensors .*f16\.safetensors: tensor "h" has dtype F16, which the engine does not support \(supported: F32, F64, I64, I32, I16, U8, BOOL\)$/);
    expect(liveTensors()).toBe(before);
    expect(() => loadTensors(join(dir, 'missing.safetensors'))).toThrow(/^safetensors .*missing\.safetensors: cannot read file/);
  });
});

const torch = pytorch(['torch', 'numpy']);

/** Writes torch tensors of each engine dtype to argv[1] by hand (struct + json, per the spec). */
const WRITE_FROM_TORCH = `
import json, struct, sys, torch
g = torch.Generator().manual_seed(3)
tensors = {
    'w': torch.randn(2, 3, generator=g),
    'd': torch.randn(4, generator=g, dtype=torch.float64),
    'n': torch.tensor(9007199254740993, dtype=torch.int64),
    'i': torch.tensor([[-7, 2**31 - 1]], dtype=torch.int32),
    's': torch.tensor([-300, 300], dtype=torch.int16),
    'u': torch.tensor([200, 1], dtype=torch.uint8),
    'b': torch.tensor([[True], [False]]),
}
names = {torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64', torch.int32: 'I32',
         torch.int16: 'I16', torch.uint8: 'U8', torch.bool: 'BOOL'}
header, chunks, offset = {'__metadata__': {'format': 'pt'}}, [], 0
for name, t in tensors.items():
    raw = t.contiguous().numpy().tobytes()
    header[name] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
    offset += len(raw)
    chunks.append(raw)
hb = json.dumps(header).encode()
hb += b' ' * ((8 - len(hb) % 8) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(hb)) + hb + b''.join(chunks))
print(json.dumps({k: {'shape': list(t.shape), 'values': [repr(v) if isinstance(v, float) else str(int(v)) for v in t.flatten().tolist()]}
                  for k, t in tensors.items()}))
`;

/** Parses argv[1] by hand with numpy and prints each tensor's dtype, shape and values. */
const READ_WITH_NUMPY = `
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
kinds = {'F32': '<f4', 'F64': '<f8', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'U8': 'u1', 'BOOL': '?'}
out = {'__metadata__': header.pop('__metadata__', None)}
for name, info in header.items():
    begin, end = info['data_offsets']
    a = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=kinds[info['dtype']]).reshape(info['shape'])
    values = [str(int(v)) for v in a.flatten()] if a.dtype.kind in 'iub' else [repr(float(v)) for v in a.flatten()]
    out[name] = {'dtype': info['dtype'], 'shape': list(a.shape), 'values': values}
print(json.dumps(out))
`;

torch.describe('interchange with Python', () => {
  it('a file written from PyTorch tensors loads with torch’s values', () => {
    const path = join(dir, 'from-torch.safetensors');
    const expected = JSON.parse(execFileSync(PYTHON, ['-c', WRITE_FROM_TORCH, path], { encoding: 'utf8' })) as Record<string, { shape: number[]; values: string[] }>;
    const loaded = loadTensors(path);
    const dtypes: Record<string, DType> = { w: 'float32', d: 'float64', n: 'int64', i: 'int32', s: 'int16', u: 'uint8', b: 'bool' };
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(dtypes).sort());
    for (const [name, want] of Object.entries(expected)) {
      const t = loaded[name];
      expect([name, t.dtype, t.shape]).toEqual([name, dtypes[name], want.shape]);
      expectSameValues(want.values, t);
    }
    expect(strings(loaded.n)).toEqual(['9007199254740993']); // beyond 2^53: exact as int64
  });

  it('a file we save parses in Python with the same dtypes, shapes and values', () => {
    const path = join(dir, 'for-python.safetensors');
    const saved = sample();
    saveTensors(path, saved, { producer: 'hmcseg' });
    const read = JSON.parse(execFileSync(PYTHON, ['-c', READ_WITH_NUMPY, path], { encoding: 'utf8' })) as Record<
      string,
      { dtype: string; shape: number[]; values: string[] }
    >;
    expect(read.__metadata__).toEqual({ producer: 'hmcseg' });
    const fileDtype: Record<DType, string> = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', int16: 'I16', uint8: 'U8', bool: 'BOOL' };
    for (const [name, t] of Object.entries(saved)) {
      expect([name, read[name].dtype, read[name].shape]).toEqual([name, fileDtype[t.dtype], t.shape]);
      expectSameValues(read[name].values, t);
    }
  });
});
