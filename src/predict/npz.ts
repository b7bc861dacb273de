/**
 * A minimal writer of NumPy `.npz` files (what `numpy.savez_compressed` writes: a zip archive of
 * deflated `.npy` files), for nnU-Net's `CASE.npz` probabilities. float32 arrays only; no zip64,
 * so each array and the archive stay under 4 GiB.
 *
 * Formats: the `.npy` format version 1.0 (numpy/lib/format.py: magic `\x93NUMPY`, version, a
 * little-endian uint16 header length, a Python dict literal padded with spaces to a multiple of
 * 64 bytes and ended by `\n`, then the C-order data) and the zip application note (local file
 * headers, central directory, end record).
 */
import { endianness } from 'node:os';
import { crc32, deflateRawSync } from 'node:zlib';
import { writeFileAtomic } from '../util/index.js';

/** The `.npy` bytes of a C-order little-endian float32 array. */
export function npyFloat32(data: Float32Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`npy: shape (${shape.join(', ')}) holds ${count} values, the data ${data.length}`);
  if (endianness() !== 'LE') throw new Error('npy: writing from a big-endian host is not supported');
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + dict.length + 1;
  const header = `${dict}${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** DOS date of 1980-01-01, time 00:00: fixed, so that equal arrays give equal files. */
const DOS_DATE = (1 << 5) | 1;
const ZIP32_MAX = 0xffffffff;

/**
 * Writes `arrays` (name → float32 data and shape) as a compressed `.npz` at `path`, atomically;
 * `numpy.load(path)[name]` gives each back.
 *
 * @throws {RangeError} on a shape that does not match its data, or an archive over 4 GiB.
 */
export function writeNpz(path: string, arrays: Readonly<Record<string, { readonly data: Float32Array; readonly shape: readonly number[] }>>): void {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [key, { data, shape }] of Object.entries(arrays)) {
    const name = Buffer.from(`${key}.npy`, 'utf8');
    const raw = npyFloat32(data, shape);
    const packed = deflateRawSync(raw);
    if (raw.length > ZIP32_MAX || offset + packed.length > ZIP32_MAX) throw new RangeError(`${path}: array ${key} is too large for an npz without zip64`);
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(8, 8); // method: deflate
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra length
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // made by
    central.writeUInt16LE(20, 6); // needed
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    // extra, comment, disk, internal and external attributes: 0
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name);
    offset += local.length + name.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  const entries = Object.keys(arrays).length;
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries, 8);
  end.writeUInt16LE(entries, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileAtomic(path, Buffer.concat([...locals, directory, end]));
}
