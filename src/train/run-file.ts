/**
 * `run.json` in a training output directory: the method, config, data and splits of the run, what
 * `--resume` needs. Written once when a run starts; a later call on the same directory must give
 * the same method and config.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Method } from '../bayes/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { parseTrainConfig, type TrainConfig } from './config.js';

export interface RunFile {
  readonly method: Method;
  readonly config: TrainConfig;
  /** Data set directory. */
  readonly data: string;
  /** Splits file. */
  readonly splits: string;
}

const RUN = 'run.json';

/** The method, config, data and splits of the run in `out` (for `--resume`). */
export function readRunFile(out: string): RunFile {
  const path = join(out, RUN);
  if (!existsSync(path)) throw new Error(`${out}: no ${RUN}; this is not a training output directory`);
  let raw: { method: Method; config: unknown; data: string; splits: string };
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return { method: raw.method, config: parseTrainConfig(raw.config, path), data: raw.data, splits: raw.splits };
}

/** The hash of a method and config that checkpoints and the sample store carry. */
export function configHash(method: Method, config: TrainConfig): string {
  return createHash('sha256').update(JSON.stringify({ method, config })).digest('hex').slice(0, 16);
}

/**
 * Writes `run.json` into `out` for a new run, or checks that the run already there has the same
 * method and config. Returns the config hash.
 *
 * @throws Error naming `out` when it holds a run with another method or config.
 */
export function openRunFile(out: string, run: RunFile): string {
  const hash = configHash(run.method, run.config);
  if (existsSync(join(out, RUN))) {
    const prev = readRunFile(out);
    if (prev.method !== run.method || configHash(prev.method, prev.config) !== hash) {
      throw new Error(`${out}: holds a run with another method or config (${prev.method}); choose another --out`);
    }
  } else {
    const { method, config } = run;
    writeFileAtomic(join(out, RUN), JSON.stringify({ method, config, data: resolve(run.data), splits: resolve(run.splits) }, null, 2));
  }
  return hash;
}
