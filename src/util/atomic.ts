import { appendFileSync, closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync, mkdirSync, unlinkSync } from 'node:fs';
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
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`); // see TEMP below
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

/** The temporary files of {@link writeFileAtomic}: `.NAME.PID.MS.tmp`. */
const TEMP = /^\..+\.(\d+)\.\d+\.tmp$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes, under `dir` (recursively), the temporary files that {@link writeFileAtomic} calls of
 * processes no longer running left behind (a kill -9 or power cut mid-write). Returns how many.
 */
export function removeStaleTemps(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const m = e.isFile() ? TEMP.exec(e.name) : null;
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    rmSync(join(e.parentPath, e.name), { force: true });
    n++;
  }
  return n;
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
