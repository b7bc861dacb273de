/**
 * `hmcseg predict`: segmentation and uncertainty maps for NIfTI volumes, from a sample store.
 *
 *   hmcseg predict --model STORE --input FILE_OR_DIR --out DIR [--samples K] [--passes N] [--save-probs] [--probs-dtype float32|uint8]
 *
 * For each input NAME.nii(.gz), on the input's own grid and affine: NAME_seg.nii.gz (project classes
 * 0 bg, 1 LV, 2 MYO, 3 RV), NAME_entropy.nii.gz, NAME_mi.nii.gz, NAME_uncertainty.json (slice- and
 * volume-level scores) and, with --save-probs, NAME_prob_<class>.nii.gz.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { CLASSES } from '../data/labels.js';
import { NIFTI_DATATYPES, readNiftiImage, writeNifti } from '../data/nifti.js';
import type { Volume } from '../data/volume.js';
import { niftiStem } from '../evaluate/files.js';
import { Predictor } from '../predict/predict.js';
import { writeFileAtomic } from '../util/atomic.js';
import { integerIn } from './args.js';
import { formatSeconds, progressBar } from './progress.js';

const NIFTI = /\.nii(\.gz)?$/;
const NOT_INPUT = /_(gt|4d|seg|entropy|mi|prob_[A-Za-z]+)\.nii(\.gz)?$/;

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
      else if (NIFTI.test(e.name) && !NOT_INPUT.test(e.name)) out.push(p);
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
  readonly probsDtype: 'float32' | 'uint8';
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
    .action((o: PredictCliOptions) => {
      const inputs = findInputs(o.input);
      const predictor = new Predictor(o.model, { samples: o.samples, passes: o.passes });
      const bar = progressBar('predict');
      const started = performance.now();
      try {
        inputs.forEach((file, i) => {
          const image = readNiftiImage(file);
          const p = predictor.predict(image, file);
          const name = niftiStem(file);
          const like = (data: Volume['data']): Volume => ({ dims: image.dims, spacing: image.spacing, affine: image.affine, header: image.header, data });
          const float = { datatype: NIFTI_DATATYPES.float32, sclSlope: 1, sclInter: 0 };
          writeNifti(join(o.out, `${name}_seg.nii.gz`), like(p.segmentation), { datatype: NIFTI_DATATYPES.uint8, sclSlope: 1, sclInter: 0 });
          writeNifti(join(o.out, `${name}_entropy.nii.gz`), like(p.entropy), float);
          writeNifti(join(o.out, `${name}_mi.nii.gz`), like(p.mutualInformation), float);
          if (o.saveProbs) writeProbabilities(o.out, name, p.probabilities, image, like, o.probsDtype);
          writeFileAtomic(
            join(o.out, `${name}_uncertainty.json`),
            JSON.stringify(
              {
                case: name,
                input: file,
                method: predictor.store.manifest.method,
                samples: predictor.sampleCount,
                passes: p.passes,
                slices: p.slices,
                volume: p.volume,
              },
              (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
              2,
            ),
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

/** One file per class: float32, or uint8 holding round(255·p) with scl_slope 1/255. */
function writeProbabilities(
  out: string,
  name: string,
  probs: Float32Array,
  image: Volume,
  like: (data: Volume['data']) => Volume,
  dtype: 'float32' | 'uint8',
): void {
  const [nx, ny, nz] = image.dims;
  const plane = nx * ny;
  CLASSES.forEach((cls, c) => {
    const data = new Float32Array(plane * nz);
    for (let z = 0; z < nz; z++) data.set(probs.subarray((z * CLASSES.length + c) * plane, (z * CLASSES.length + c + 1) * plane), z * plane);
    const path = join(out, `${name}_prob_${cls}.nii.gz`);
    if (dtype === 'float32') writeNifti(path, like(data), { datatype: NIFTI_DATATYPES.float32, sclSlope: 1, sclInter: 0 });
    else writeNifti(path, like(data), { datatype: NIFTI_DATATYPES.uint8, sclSlope: 1 / 255, sclInter: 0 });
  });
}
