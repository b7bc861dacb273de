/** A small phantom training set on disk, with its splits and a training config, for the CLI tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSplits, openDataset, writePhantomDataset, writeSplits } from '../../src/data/index.js';

export interface PhantomSet {
  readonly root: string;
  readonly data: string;
  readonly splits: string;
  readonly configPath: string;
}

/** 4 bSSFP phantom cases of 32 × 32 × 3 under a new temporary `root` (`prefix`…), split 2/1/1, and `config` as config.json. */
export function phantomSet(prefix: string, config: object): PhantomSet {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const data = join(root, 'phantom');
  writePhantomDataset({ out: data, cases: 4, contrast: 'ssfp', seed: 2, size: 32, slices: 3 });
  const splits = join(root, 'splits.json');
  writeSplits(splits, makeSplits(openDataset(data), { seed: 0, fractions: { train: 0.5, val: 0.25, test: 0.25 } }));
  const configPath = join(root, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  return { root, data, splits, configPath };
}
