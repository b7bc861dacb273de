/**
 * Evaluation of a prediction directory (as written by `hmcseg predict`) against a ground-truth
 * data set on disk.
 *
 * For each ground-truth case whose image file is `NAME.nii.gz` (or `.nii`), the prediction
 * directory holds `NAME_seg.nii.gz` (required; project classes 0..3) and optionally
 * `NAME_entropy.nii.gz`, `NAME_mi.nii.gz`, `NAME_prob_{background,LV,MYO,RV}.nii.gz` (all four or
 * none) and `NAME_uncertainty.json` (per-slice and volume warning scores). Every file must be on
 * the ground truth's grid.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as z from 'zod';
import { loadCase, openDataset, type CaseRef, type Dataset } from '../data/datasets.js';
import { CLASSES, NUM_CLASSES, type LabelMap } from '../data/labels.js';
import { readNiftiImage, readNiftiLabels } from '../data/nifti.js';
import type { Volume } from '../data/volume.js';
import { evaluateCase, type CaseEvaluation } from './case.js';
import { summarize, type EvaluationSummary } from './summary.js';
import { readJsonFile } from '../util/json.js';

export interface EvaluateDirectoryOptions {
  /** Prediction directory. */
  readonly pred: string;
  /** Ground-truth data set directory (ACDC or folder layout, see {@link openDataset}). */
  readonly gt: string;
  /** Label map of the ground truth; default as {@link openDataset} (ACDC's, or the folder's labels.json). */
  readonly labels?: LabelMap | string;
  /** A slice or case fails when its mean Dice is below this. Default 0.8. */
  readonly failureThreshold?: number;
  /** ECE bins (default 15) and calibration ROI margin in pixels (default 5). */
  readonly eceBins?: number;
  readonly roiMargin?: number;
}

/** A ground-truth case without a prediction. */
export interface MissingPrediction {
  readonly id: string;
  /** The segmentation file that was looked for. */
  readonly expected: string;
}

export interface DirectoryEvaluation {
  /** Absolute paths. */
  readonly pred: string;
  readonly gt: string;
  /** Name of the ground truth's label map. */
  readonly labels: string;
  readonly cases: CaseEvaluation[];
  readonly summary: EvaluationSummary;
  readonly missing: MissingPrediction[];
}

/** Affine entries may differ by this much (float32 headers). */
const AFFINE_TOLERANCE = 1e-4;

/** The case name of a NIfTI file: its base name without `.nii.gz` or `.nii`. */
export function niftiStem(path: string): string {
  return basename(path).replace(/\.nii(\.gz)?$/, '');
}

/**
 * Whether a volume's spacing is real: the shared ACDC/EMIDEC copies write pixdim 1 for "not
 * kept", so an in-plane spacing of exactly 1 × 1 counts as unknown (the rule of
 * `unitSpacingIsUnknown` in `src/data/preprocess.ts`); distances are then in pixels.
 */
export function spacingIsKnown(spacing: readonly number[]): boolean {
  return !(spacing[0] === 1 && spacing[1] === 1);
}

/** The first existing of `NAME.nii.gz` and `NAME.nii` in `dir`. */
function findPrediction(dir: string, name: string): string | undefined {
  return [`${name}.nii.gz`, `${name}.nii`].map((f) => join(dir, f)).find((p) => existsSync(p));
}

function formatGrid(v: Volume): string {
  return `dims ${v.dims.join('×')}, affine [${v.affine.map((a) => Number(a.toPrecision(6))).join(', ')}]`;
}

/** @throws {RangeError} naming both files, shapes and affines when `v` is not on `ref`'s grid. */
function checkGrid(v: Volume, file: string, ref: Volume, refFile: string): void {
  const same =
    v.dims.every((d, i) => d === ref.dims[i]) &&
    v.affine.length === ref.affine.length &&
    v.affine.every((a, i) => Math.abs(a - ref.affine[i]) <= AFFINE_TOLERANCE);
  if (!same) {
    throw new RangeError(
      `${file}: prediction grid (${formatGrid(v)}) does not match the ground truth ${refFile} (${formatGrid(ref)})`,
    );
  }
}

const RegionScoresJson = z.looseObject({ score: z.number() });
const UncertaintyJson = z.looseObject({
  case: z.string(),
  slices: z.array(RegionScoresJson),
  volume: RegionScoresJson,
});
type UncertaintyFile = z.infer<typeof UncertaintyJson>;

function readUncertaintyJson(path: string, name: string, nz: number): UncertaintyFile {
  const u = readJsonFile(path, UncertaintyJson, 'uncertainty file');
  if (u.case !== name) throw new Error(`${path}: is for case ${JSON.stringify(u.case)}, expected ${JSON.stringify(name)}`);
  if (u.slices.length !== nz) throw new Error(`${path}: has scores for ${u.slices.length} slices, the volume has ${nz}`);
  return u;
}

/** Reads the four probability maps into the [slice][class][y][x] layout, or undefined when none exists. */
function readProbabilities(dir: string, name: string, ref: Volume, refFile: string): Float32Array | undefined {
  const files = CLASSES.map((c) => findPrediction(dir, `${name}_prob_${c}`));
  if (files.every((f) => f === undefined)) return undefined;
  const absent = CLASSES.filter((_, c) => files[c] === undefined);
  if (absent.length > 0) {
    throw new Error(
      `${join(dir, `${name}_prob_*.nii.gz`)}: probability maps for ${absent.join(', ')} are missing (all ${NUM_CLASSES} or none)`,
    );
  }
  const [nx, ny, nz] = ref.dims;
  const plane = nx * ny;
  const out = new Float32Array(NUM_CLASSES * nz * plane);
  files.forEach((file, c) => {
    const v = readNiftiImage(file as string);
    checkGrid(v, file as string, ref, refFile);
    for (let zi = 0; zi < nz; zi++) out.set(v.data.subarray(zi * plane, (zi + 1) * plane), (zi * NUM_CLASSES + c) * plane);
  });
  return out;
}

function readMap(dir: string, name: string, ref: Volume, refFile: string): Float32Array | undefined {
  const file = findPrediction(dir, name);
  if (file === undefined) return undefined;
  const v = readNiftiImage(file);
  checkGrid(v, file, ref, refFile);
  return v.data;
}

function evaluateOne(dataset: Dataset, ref: CaseRef, segFile: string, opts: EvaluateDirectoryOptions, dir: string): CaseEvaluation {
  const name = niftiStem(ref.image);
  const gtCase = loadCase(dataset, ref);
  const gtFile = ref.labels as string;
  const gt = gtCase.labels as Volume<Uint8Array>;
  const seg = readNiftiLabels(segFile);
  checkGrid(seg, segFile, gt, gtFile);
  const bad = seg.data.findIndex((v) => v >= NUM_CLASSES);
  if (bad >= 0) {
    throw new RangeError(
      `${segFile}: label ${seg.data[bad]} at voxel ${bad} is not a project class (${CLASSES.map((c, i) => `${i} ${c}`).join(', ')})`,
    );
  }
  const uncertaintyFile = join(dir, `${name}_uncertainty.json`);
  const scores = existsSync(uncertaintyFile) ? readUncertaintyJson(uncertaintyFile, name, gt.dims[2]) : undefined;
  return evaluateCase({
    id: ref.id,
    patient: ref.patient,
    phase: ref.phase,
    group: ref.group,
    dims: gt.dims,
    spacing: gt.spacing,
    spacingKnown: spacingIsKnown(gt.spacing),
    target: gt.data,
    labelled: gtCase.labelled,
    segmentation: seg.data,
    probabilities: readProbabilities(dir, name, gt, gtFile),
    entropy: readMap(dir, `${name}_entropy`, gt, gtFile),
    mutualInformation: readMap(dir, `${name}_mi`, gt, gtFile),
    sliceScores: scores?.slices,
    volumeScore: scores?.volume.score,
    failureThreshold: opts.failureThreshold,
    eceBins: opts.eceBins,
    roiMargin: opts.roiMargin,
  });
}

/**
 * Evaluates every ground-truth case that has a prediction and summarises them. Cases without a
 * `NAME_seg` file are listed in `missing`; files in the prediction directory that match no case
 * are ignored.
 *
 * @example
 * const { summary, missing } = evaluateDirectory({ pred: 'runs/hmc/pred-emidec', gt: '../shared/data/emidec', labels: 'emidec' });
 * @throws {Error} naming the files: no prediction matches any case (both directories named), a
 *   prediction off the ground truth's grid (both files, shapes and affines), a label outside 0..3,
 *   an incomplete set of probability maps, an invalid uncertainty JSON
 */
export function evaluateDirectory(opts: EvaluateDirectoryOptions): DirectoryEvaluation {
  const dir = resolve(opts.pred);
  if (!existsSync(dir)) throw new Error(`${dir}: prediction directory does not exist`);
  const dataset = openDataset(opts.gt, { requireLabels: true, ...(opts.labels === undefined ? {} : { labels: opts.labels }) });
  const cases: CaseEvaluation[] = [];
  const missing: MissingPrediction[] = [];
  for (const ref of dataset.cases) {
    const name = niftiStem(ref.image);
    const segFile = findPrediction(dir, `${name}_seg`);
    if (segFile === undefined) {
      missing.push({ id: ref.id, expected: join(dir, `${name}_seg.nii.gz`) });
      continue;
    }
    cases.push(evaluateOne(dataset, ref, segFile, opts, dir));
  }
  if (cases.length === 0) {
    throw new Error(
      `${dir}: no prediction matches a case of ${dataset.dir} (looked for NAME_seg.nii.gz per image, e.g. ${missing[0].expected})`,
    );
  }
  const summary = summarize(cases, opts.failureThreshold === undefined ? {} : { failureThreshold: opts.failureThreshold });
  return { pred: dir, gt: dataset.dir, labels: dataset.labelMap.name, cases, summary, missing };
}
