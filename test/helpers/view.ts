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

export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli/main.js');
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

/**
 * @param opts.model also export the store to ONNX
 * @param opts.trained train long enough (200 steps, ~10 s) that the network segments the LV, for
 *   tests whose assertions need a non-empty segmentation; otherwise 8 steps
 * @param opts.window `data.window`: one 32 × 32 centre crop of the 40 × 40 phantoms, or whole
 *   slices by 32 × 32 sliding windows
 * @param opts.predict more options of `hmcseg predict` (e.g. `--postprocess largest-component`)
 */
export async function makeViewFixture(opts: {
  model: boolean;
  trained: boolean;
  window: 'centre' | 'sliding';
  predict?: readonly string[];
}): Promise<ViewFixture> {
  const withModel = opts.model;
  const root = mkdtempSync(join(tmpdir(), 'hmcseg-view-'));
  const data = join(root, 'phantom');
  writePhantomDataset({ out: data, cases: 5, contrast: 'ssfp', seed: 5, size: 40, slices: 4 });
  const dataset = openDataset(data);
  writeSplits(join(root, 'splits.json'), makeSplits(dataset, { seed: 0, fractions: { train: 0.6, val: 0.2, test: 0.2 } }));
  const store = join(root, 'store');
  await train({
    method: 'hmc',
    config: parseTrainConfig({
      seed: 3,
      threads: 1,
      data: { labels: 'acdc', size: 32, batchSize: 4, workers: 0, window: opts.window },
      model: { depth: 3, baseWidth: 8 },
      optim: opts.trained ? { steps: 200, lr: 0.2 } : { steps: 8, lr: 0.05 },
      hmc: { cycles: 2, samplesPerCycle: 1, beta: 0.5, sampleFromCycle: 0 },
    }),
    data,
    splits: join(root, 'splits.json'),
    out: store,
  });
  const pred = join(root, 'pred');
  cli('predict', '--model', store, '--input', data, '--out', pred, ...(opts.predict ?? []));
  const model = withModel ? join(root, 'model.onnx') : undefined;
  if (model !== undefined) cli('export', '--model', store, '--out', model);
  return { root, data, store, pred, ...(model === undefined ? {} : { model }), images: dataset.cases.map((c) => c.image) };
}
