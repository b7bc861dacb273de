import { appendFileSync, closeSync, fsyncSync, openSync, renameSync, writeSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/**
 * `err` (a failed file-system call) as an error whose message starts with `path`: Node's errors
 * from writes on a descriptor (ENOSPC, EIO) name no file. The `code` (ENOSPC, EROFS, EACCES, ...)
 * and the original error (`cause`) are kept.
 */
function namingPath(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  return Object.assign(new Error(`cannot write ${path}: ${e.message}`, { cause: err }), { code: e.code });
}

/**
 * Writes a file atomically: a temporary file in the same directory, fsync, rename over the target,
 * then fsync of the directory. A reader sees the old file or the new one, never a torn one, also
 * after kill -9, a power cut, a full disk or a read-only file system (the old file stays).
 *
 * @throws Error `cannot write PATH: ...` keeping the system error's `code` (ENOSPC, EROFS, ...).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(tmp, 'w');
    try {
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(tmp);
      throw err;
    }
    closeSync(fd);
    renameSync(tmp, path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (err) {
    throw namingPath(path, err);
  }
}

/**
 * Appends `text` to the file at `path` (created when missing).
 *
 * @throws Error `cannot write PATH: ...` keeping the system error's `code`.
 */
export function appendFileNamed(path: string, text: string): void {
  try {
    appendFileSync(path, text);
  } catch (err) {
    throw namingPath(path, err);
  }
}
