// A full disk (ENOSPC) or a read-only output directory (EROFS) stops training with an error that
// names the file it could not write, and leaves the store as it was: it opens, every listed sample's
// checksum is good, and once there is room (or write access) again the run resumes and ends
// bit-identical to an uninterrupted run with each step logged once. The output directory is a small
// tmpfs mounted for the test: as root (chmod does not stop root) and where mount is allowed;
// elsewhere the tests skip with the reason printed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { optional } from './helpers/optional.js';
import { checkStore, logHoldsEachStepOnce, prepareKillData, sampleBytes } from '../bench/kill9.js';
import { openSampleStore } from '../src/bayes/index.js';
import { parseTrainConfig, train } from '../src/train/index.js';
import { removeStaleTemps } from '../src/util/atomic.js';

const root = mkdtempSync(join(tmpdir(), 'hmcseg-output-'));
const mnt = join(root, 'mnt');
mkdirSync(mnt);

/** Mounts a tmpfs of `kib` KiB on `mnt`, or says why it cannot. */
function mountTmpfs(kib: number): string | null {
  if (process.getuid?.() !== 0) return 'not root (mounting a tmpfs needs root)';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', mnt], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

function umount(): void {
  execFileSync('umount', [mnt], { stdio: 'pipe' });
}

afterAll(() => rmSync(root, { recursive: true, force: true })); // also when the tests skip

const skipReason = mountTmpfs(1024);
const tmpfs = optional('a tmpfs mount (root)', skipReason);
if (skipReason === null) umount();

const K = 120;
const config = parseTrainConfig({
  seed: 3,
  threads: 1,
  data: { size: 32, batchSize: 2, workers: 0 },
  model: { depth: 2, baseWidth: 4 },
  optim: { steps: K },
});
let data: string;
let splits: string;
let reference: Buffer[];

/** Trains into `out`; with `stopAfter`, stops (checkpointing) after that many steps. */
function run(out: string, stopAfter?: number) {
  const abort = new AbortController();
  return train({
    method: 'hmc',
    config,
    data,
    splits,
    out,
    signal: abort.signal,
    onProgress: (p) => {
      if (p.step === stopAfter) abort.abort();
    },
  });
}

/** Fills the file system of `mnt` until `keepKiB` KiB are left free. */
function fill(keepKiB: number): void {
  const s = statfsSync(mnt);
  const free = s.bavail * s.bsize - keepKiB * 1024;
  if (free > 0) writeFileSync(join(mnt, 'filler'), Buffer.alloc(free));
}

tmpfs.describe('train: full or read-only output directory', () => {
  beforeAll(async () => {
    ({ data, splits } = prepareKillData(root));
    await run(join(root, 'reference'));
    reference = sampleBytes(join(root, 'reference'));
    expect(reference.length).toBe(3);
  }, 120_000);

  afterEach(() => {
    try {
      umount();
    } catch {
      // not mounted (a test failed before mounting)
    }
  });

  it.each([0, 12, 40])('ENOSPC with %i KiB left after 60 steps: error names the file, store intact, resume identical', async (keepKiB) => {
    expect(mountTmpfs(1024)).toBeNull();
    const out = join(mnt, 'store');
    expect((await run(out, 60)).interrupted).toBe(true);
    fill(keepKiB);
    const err: Error = await run(out).then(
      () => expect.fail('training on a full disk succeeded'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(new RegExp(`^cannot write ${mnt}/store/\\S+: ENOSPC`));
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    const listed = checkStore(out);
    rmSync(join(mnt, 'filler'), { force: true });
    expect((await run(out)).interrupted).toBe(false);
    expect(checkStore(out)).toBeGreaterThanOrEqual(listed);
    expect(sampleBytes(out)).toEqual(reference);
    expect(logHoldsEachStepOnce(out, 1, K)).toBe(true);
  }, 120_000);

  it('EROFS: a half-run store on a read-only file system is kept; a finished one still opens', async () => {
    expect(mountTmpfs(1024)).toBeNull();
    const out = join(mnt, 'store');
    await run(out, 70);
    const listed = checkStore(out);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const err: Error = await run(out).then(
      () => expect.fail('training on a read-only file system succeeded'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(new RegExp(`^cannot write ${mnt}/store/\\S+: EROFS`));
    expect(checkStore(out)).toBe(listed);
    execFileSync('mount', ['-o', 'remount,rw', mnt]);
    await run(out);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    // Finished: reopening it writes nothing, so a read-only copy serves as it is.
    const again = await run(out);
    expect(again.store.manifest.complete).toBe(true);
    expect(openSampleStore(out).manifest.samples.length).toBe(3);
    expect(sampleBytes(out)).toEqual(reference);
  }, 120_000);

  it('a file where the output directory should be: error names the path', async () => {
    const out = join(root, 'not-a-dir');
    writeFileSync(out, 'x');
    await expect(run(join(out, 'store'))).rejects.toThrow(out);
  });
});

describe('removeStaleTemps', () => {
  it("removes the temporary files of dead processes' atomic writes, keeps live ones and other files", () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmcseg-temps-'));
    try {
      mkdirSync(join(dir, 'checkpoints', 'member-0'), { recursive: true });
      const dead = [join(dir, '.manifest.json.999999999.1764590000000.tmp'), join(dir, 'checkpoints', 'member-0', '.checkpoint.json.999999998.1.tmp')];
      const kept = [join(dir, `.manifest.json.${process.pid}.1.tmp`), join(dir, 'manifest.json'), join(dir, 'notes.tmp')];
      for (const f of [...dead, ...kept]) writeFileSync(f, 'x');
      expect(removeStaleTemps(dir)).toBe(2);
      expect(dead.filter(existsSync)).toEqual([]);
      expect(kept.filter(existsSync)).toEqual(kept);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
