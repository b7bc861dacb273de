/**
 * `hmcseg predict`: segmentation and uncertainty maps for NIfTI volumes, from a sample store.
 *
 *   hmcseg predict --model STORE --input FILE_OR_DIR --out DIR [--samples K] [--passes N] [--save-probs] [--probs-dtype float32|uint8]
 *                  [--warning-score NAME]
 *
 * For each input NAME.nii(.gz), on the input's own grid and affine: NAME_seg.nii.gz (project classes
 * 0 bg, 1 LV, 2 MYO, 3 RV), NAME_entropy.nii.gz, NAME_mi.nii.gz, NAME_uncertainty.json (slice- and
 * volume-level scores) and, with --save-probs, NAME_prob_<class>.nii.gz (the format and its
 * reader: src/predict/files.ts). The JSON holds every score by name; its `score` is the warning
 * score, entropyRegion unless --warning-score names another (e.g. the one an experiment chose on
 * validation, results.json `warningScores`).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { readNiftiImage } from '../data/nifti.js';
import { isPredictionFile, niftiStem, Predictor, writePrediction, type ProbabilityStorage } from '../predict/index.js';
import { DEFAULT_WARNING_SCORE, SCORE_NAMES, type ScoreName } from '../uncertainty/index.js';
import { integerIn } from './args.js';
import { formatSeconds, progressBar } from './progress.js';

const NIFTI = /\.nii(\.gz)?$/;
const NOT_INPUT = /_(gt|4d)\.nii(\.gz)?$/;

/** The NIfTI images under `input` (a file, or a directory searched recursively), skipping labels and our outputs. */
export function findInputs(input: string): string[] {
  const st = statSync(input, { throwIfNoEntry: false });
  if (!st) throw new Error(`${input}: no such file or directory`);
  if (st.isFile()) {
    if (!NIFTI.test(input)) throw new Error(`${input}: not a NIfTI file (.nii or .nii.gz)`);
    return [input];
  }
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (NIFTI.test(e.name) && !NOT_INPUT.test(e.name) && !isPredictionFile(e.name)) out.push(p);
    }
  };
  walk(input);
  if (out.length === 0) throw new Error(`${input}: no NIfTI images found (files ending in _gt, _4d or our own outputs are skipped)`);
  return out;
}

interface PredictCliOptions {
  readonly model: string;
  readonly input: string;
  readonly out: string;
  readonly samples?: number;
  readonly passes?: number;
  readonly saveProbs?: boolean;
  readonly probsDtype: ProbabilityStorage;
  readonly warningScore: ScoreName;
}

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('segment NIfTI volumes with a sample store: segmentation, uncertainty maps and scores')
    .requiredOption('--model <store>', 'sample store directory (hmcseg train --out)')
    .requiredOption('--input <path>', 'a NIfTI file, or a directory searched for them')
    .requiredOption('--out <dir>', 'output directory')
    .option('--samples <k>', 'use the last K weight samples (default: all)', integerIn(1, 100000, 'must be a positive integer'))
    .option('--passes <n>', 'dropout passes per sample (default: the store’s)', integerIn(1, 10000, 'must be a positive integer'))
    .option('--save-probs', 'also write the mean class probabilities')
    .addOption(new Option('--probs-dtype <type>', 'storage of the probabilities').choices(['float32', 'uint8']).default('float32'))
    .addOption(
      new Option('--warning-score <name>', 'the score copied into `score` (disagreement scores need ≥ 2 samples or passes)')
        .choices(SCORE_NAMES)
        .default(DEFAULT_WARNING_SCORE),
    )
    .action((o: PredictCliOptions) => {
      const inputs = findInputs(o.input);
      const predictor = new Predictor(o.model, { samples: o.samples, passes: o.passes, warningScore: o.warningScore });
      const bar = progressBar('predict');
      const started = performance.now();
      try {
        inputs.forEach((file, i) => {
          const image = readNiftiImage(file);
          const name = niftiStem(file);
          writePrediction(
            o.out,
            name,
            image,
            predictor.predict(image, file),
            { input: file, method: predictor.store.manifest.method, samples: predictor.sampleCount },
            o.saveProbs ? o.probsDtype : undefined,
          );
          const elapsed = (performance.now() - started) / 1000;
          bar.update(i + 1, inputs.length, `${name} ETA ${formatSeconds((elapsed / (i + 1)) * (inputs.length - i - 1))}`);
        });
      } finally {
        bar.done();
        predictor.dispose();
      }
      process.stdout.write(`${JSON.stringify({ out: o.out, volumes: inputs.length, method: predictor.store.manifest.method, samples: predictor.sampleCount, passes: predictor.passes })}\n`);
    });
}
