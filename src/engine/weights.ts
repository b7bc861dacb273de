/**
 * Tensors to and from safetensors files (the typed-array codec is ./safetensors.ts). Dtypes map
 * one to one: float32 F32, float64 F64, int64 I64, int32 I32, int16 I16, uint8 U8, bool BOOL.
 */
import { readSafetensors, writeSafetensors, type SafetensorsDtype, type SafetensorsEntry } from './safetensors.js';
import { Tensor, tensor, type DType, type TypedArray } from './tensor.js';

const FILE_DTYPE: Readonly<Record<DType, SafetensorsDtype>> = {
  float32: 'F32',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  uint8: 'U8',
  bool: 'BOOL',
};

const ENGINE_DTYPE = new Map(Object.entries(FILE_DTYPE).map(([engine, file]) => [file, engine as DType]));

/**
 * Writes `tensors` (any layout; contiguous row-major in the file) and string `metadata` to a
 * safetensors file, atomically.
 *
 * @throws {TypeError} naming the file and the entry when a value is not a live Tensor.
 * @example
 * saveTensors('model.safetensors', { 'conv1.weight': w, 'conv1.bias': b }, { step: '1200' });
 */
export function saveTensors(path: string, tensors: Readonly<Record<string, Tensor>>, metadata?: Readonly<Record<string, string>>): void {
  const entries: Record<string, SafetensorsEntry> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) throw new TypeError(`saveTensors ${path}: "${name}" is not a Tensor`);
    if (t.isDisposed) throw new TypeError(`saveTensors ${path}: tensor "${name}" is disposed`);
    entries[name] = { dtype: FILE_DTYPE[t.dtype], shape: t.shape, data: t.toArray() } as SafetensorsEntry;
  }
  writeSafetensors(path, entries, metadata);
}

export interface LoadTensorsOptions {
  /** Device of the new tensors (default 'cpu'). */
  device?: string;
}

/**
 * Reads every tensor of a safetensors file. The tensors are new (registered with the current
 * `tidy` scope, if any); the file's metadata is left out (read it with `readSafetensors`).
 *
 * @throws {Error} naming the file: unreadable or malformed (see `decodeSafetensors`), or a tensor
 *   whose dtype the engine lacks (F16, BF16, I8, U16, U32, U64).
 */
export function loadTensors(path: string, opts: LoadTensorsOptions = {}): Record<string, Tensor> {
  const file = readSafetensors(path);
  const entries = Object.entries(file.tensors);
  for (const [name, e] of entries) {
    if (!ENGINE_DTYPE.has(e.dtype)) {
      throw new Error(`loadTensors ${path}: tensor "${name}" has dtype ${e.dtype}, which the engine does not support (supported: ${[...ENGINE_DTYPE.keys()].join(', ')})`);
    }
  }
  // Object.fromEntries defines own properties, so even a tensor named "__proto__" survives.
  return Object.fromEntries(
    entries.map(([name, e]) => [name, tensor(e.data as TypedArray, e.shape, { dtype: ENGINE_DTYPE.get(e.dtype), device: opts.device })]),
  );
}
