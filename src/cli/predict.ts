/**
 * `hmcseg predict`: segmentation and uncertainty maps for NIfTI volumes, from a sample store.
 *
 *   hmcseg predict --model STORE --input FILE_OR_DIR --out DIR [--samples K] [--passes N] [--save-probs] [--probs-dtype float32|uint8]
 *                  [--layout hmcseg|nnunet [--nnunet-dataset DIR]]
 *                  [--warning-score NAME] [--postprocess none|largest-component]
 *
 * For each input NAME.nii(.gz), on the input's own grid and affine: NAME_seg.nii.gz (project classes
 * 0 bg, 1 LV, 2 MYO, 3 RV), NAME_entropy.nii.gz, NAME_mi.nii.gz, NAME_uncertainty.json (slice- and
 * volume-level scores) and, with --save-probs, NAME_prob_<class>.nii.gz (the format and its
 * reader: src/predict/files.ts). The JSON holds every score by name; its `score` is the warning
 * score, entropyRegion unless --warning-score names another (e.g. the one an experiment chose on
 * validation, results.json `warningScores`). `--postprocess largest-component` keeps only the largest
 * connected component of the heart in NAME_seg; the maps and every score (the passes' disagreement
 * included) read the network's arg-max (src/predict/postprocess.ts).
 *
 * With --layout nnunet the inputs are nnU-Net images `CASE_0000.nii(.gz)` (one channel; a
 * `CASE_0001` is an error), and the output is what nnUNetv2_predict writes: `CASE.nii.gz` in the
 * label values of the data set's dataset.json (from --nnunet-dataset, default the nearest directory
 * holding a dataset.json from the input up: the input itself, its parent or its grandparent), and
 * the other files in `hmcseg/`; with --save-probs also `CASE.npz` (key `probabilities`, as
 * nnUNetv2_predict --save_probabilities writes it).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { nnunetCaseName, nnunetLabelMap, projectToNnunetValues, readNnunetDatasetJson } from '../data/nnunet.js';
import { readNiftiImage } from '../data/nifti.js';
import {
  findInputs,
  niftiStem,
  POSTPROCESS_MODES,
  Predictor,
  writePrediction,
  type Postprocess,
  type PredictionLayout,
  type ProbabilityStorage,
} from '../predict/index.js';
import { deviceOption, integerIn } from './args.js';
import { DEFAULT_WARNING_SCORE, SCORE_NAMES, type ScoreName } from '../uncertainty/index.js';
import { formatSeconds, progressBar } from './progress.js';

/** The case name an input is written under. */
function caseName(file: string, layout: PredictionLayout['kind']): string {
  return layout === 'nnunet' ? (nnunetCaseName(basename(file)) as string) : niftiStem(file);
}

/** The nnU-Net data set directory whose dataset.json gives the output label values. */
function findNnunetDataset(input: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const start = resolve(input);
  for (let dir = start, up = 0; up < 3; dir = dirname(dir), up++) {
    if (existsSync(join(dir, 'dataset.json'))) return dir;
  }
  throw new Error(`${input}: no dataset.json in it or the two directories above; --layout nnunet needs one for the label values: pass --nnunet-dataset DIR`);
}

interface PredictCliOptions {
  readonly model: string;
  readonly input: string;
  readonly out: string;
  readonly samples?: number;
  readonly passes?: number;
  readonly saveProbs?: boolean;
  readonly probsDtype: ProbabilityStorage;
  readonly layout: PredictionLayout['kind'];
  readonly nnunetDataset?: string;
  readonly device: string;
  readonly warningScore: ScoreName;
  readonly postprocess: Postprocess;
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
      new Option('--layout <layout>', 'output layout: hmcseg (NAME_seg.nii.gz, …) or nnunet (CASE.nii.gz in dataset.json label values, the rest in hmcseg/)')
        .choices(['hmcseg', 'nnunet'])
        .default('hmcseg'),
    )
    .option('--nnunet-dataset <dir>', 'with --layout nnunet: the nnU-Net raw data set whose dataset.json gives the label values (default: found from --input up)')
    .addOption(deviceOption())
    .addOption(
      new Option('--warning-score <name>', 'the score copied into `score` (disagreement scores need ≥ 2 samples or passes)')
        .choices(SCORE_NAMES)
        .default(DEFAULT_WARNING_SCORE),
    )
    .addOption(
      new Option('--postprocess <mode>', 'largest-component: keep only the largest connected component of the heart (every foreground class together)')
        .choices(POSTPROCESS_MODES)
        .default('none'),
    )
    .action((o: PredictCliOptions) => {
      if (o.nnunetDataset !== undefined && o.layout !== 'nnunet') throw new Error('--nnunet-dataset needs --layout nnunet');
      const inputs = findInputs(o.input, o.layout);
      let layout: PredictionLayout = { kind: 'hmcseg' };
      if (o.layout === 'nnunet') {
        const dir = findNnunetDataset(o.input, o.nnunetDataset);
        const labelMap = nnunetLabelMap(readNnunetDatasetJson(dir), dir);
        projectToNnunetValues(labelMap, join(dir, 'dataset.json')); // fails before any prediction when the values cannot be written
        layout = { kind: 'nnunet', labelMap };
      }
      const predictor = new Predictor(o.model, { samples: o.samples, passes: o.passes, device: o.device, warningScore: o.warningScore, postprocess: o.postprocess });
      const bar = progressBar('predict');
      const started = performance.now();
      try {
        inputs.forEach((file, i) => {
          const image = readNiftiImage(file);
          const name = caseName(file, o.layout);
          writePrediction(
            o.out,
            name,
            image,
            predictor.predict(image, file),
            { input: file, method: predictor.store.manifest.method, samples: predictor.sampleCount },
            o.saveProbs ? o.probsDtype : undefined,
            layout,
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
