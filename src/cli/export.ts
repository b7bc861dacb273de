/**
 * `hmcseg export`: a sample store's posterior predictive as one ONNX model.
 *
 *   hmcseg export --model STORE --out model.onnx [--samples K] [--passes N] [--seed S]
 *
 * Input `image` N×1×S×S (preprocessed as the metadata's `hmcseg.preprocess` says: centre crops or
 * sliding windows); outputs `branch_probs` N×K×C×S×S, `probs` N×C×S×S, `entropy` and
 * `mutual_information` N×S×S. See src/export/export.ts and, to consume it, src/export/recipe.ts.
 */
import type { Command } from 'commander';
import { writeOnnxExport } from '../export/index.js';
import { integerIn } from './args.js';

interface ExportCliOptions {
  readonly model: string;
  readonly out: string;
  readonly samples?: number;
  readonly passes?: number;
  readonly seed?: number;
}

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('write the posterior predictive (every branch’s softmax, their mean, entropy, mutual information) as one ONNX model')
    .requiredOption('--model <store>', 'sample store directory (hmcseg train --out)')
    .requiredOption('--out <file>', 'the .onnx file to write')
    .option('--samples <k>', 'use the last K weight samples (default: all)', integerIn(1, 100000, 'must be a positive integer'))
    .option('--passes <n>', 'fixed dropout masks per weight sample (default: the store’s)', integerIn(1, 10000, 'must be a positive integer'))
    .option('--seed <s>', 'seed of the dropout masks (default: the model’s, as hmcseg predict draws them)', integerIn(0, 2 ** 31 - 1, 'must be a non-negative integer'))
    .action((o: ExportCliOptions) => {
      const r = writeOnnxExport(o.model, o.out, { samples: o.samples, passes: o.passes, seed: o.seed });
      process.stdout.write(`${JSON.stringify({ out: o.out, bytes: r.bytes.length, branches: r.branches, size: r.size, window: r.window, classes: r.numClasses })}\n`);
    });
}
