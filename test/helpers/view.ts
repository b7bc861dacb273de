/**
 * A prediction directory for the viewer tests, made the way a user makes one: phantoms, a tiny
 * HMC store trained for a few steps, `hmcseg predict` and `hmcseg export` through the CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeSplits, openDataset, writePhantomDataset, writeSplits } from '../../src/data/index.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/trainer.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli/main.js');
export const cli = (...args: string[]): string =>
  execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export interface ViewFixture {
  readonly root: string;
  readonly data: string;
  readonly store: string;
  readonly pred: string;
  /** The exported ONNX model, when `withModel`. */
  readonly model?: string;
  readonly images: readonly string[];
}

export async function makeViewFixture(withModel: boolean): Promise<ViewFixture> {
  const root = mkdtempSync(join(tmpdir(), 'hmcseg-view-'));
  const data = join(root, 'phantom');
  writePhantomDataset({ out: data, cases: 3, contrast: 'ssfp', seed: 5, size: 40, slices: 4 });
  const dataset = openDataset(data);
  writeSplits(join(root, 'splits.json'), makeSplits(dataset, { seed: 0, fractions: { train: 0.34, val: 0.33, test: 0.33 } }));
  const store = join(root, 'store');
  await train({
    method: 'hmc',
    config: parseTrainConfig({
      seed: 3,
      threads: 1,
      data: { labels: 'acdc', size: 32, batchSize: 4, workers: 0 },
      model: { depth: 3, baseWidth: 4 },
      optim: { steps: 8, lr: 0.05 },
      hmc: { cycles: 2, samplesPerCycle: 1, beta: 0.5, sampleFromCycle: 0 },
    }),
    data,
    splits: join(root, 'splits.json'),
    out: store,
  });
  const pred = join(root, 'pred');
  cli('predict', '--model', store, '--input', data, '--out', pred);
  const model = withModel ? join(root, 'model.onnx') : undefined;
  if (model !== undefined) cli('export', '--model', store, '--out', model);
  return { root, data, store, pred, ...(model === undefined ? {} : { model }), images: dataset.cases.map((c) => c.image) };
}
