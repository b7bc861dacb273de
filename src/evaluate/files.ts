/**
 * Evaluation of a prediction directory (as written by `hmcseg predict`) against a ground-truth
 * data set on disk.
 *
 * For each ground-truth case whose image file is `NAME.nii.gz` (or `.nii`), the prediction
 * directory holds the files of `src/predict/files.ts` ({@link readPrediction}): `NAME_seg.nii.gz`
 * (required) and optionally the uncertainty maps, the probabilities and the scores, every file on
 * the ground truth's grid.
 *
 * An nnU-Net raw data set as ground truth (`labelsTr/CASE.nii.gz`, see src/data/nnunet.ts) is
 * scored against either layout of src/predict/files.ts: nnU-Net's (`CASE.nii.gz` in the data set's
 * label values, the other files in `hmcseg/`), used when some case has a `CASE.nii.gz` in the
 * prediction directory, else hmcseg's (`CASE_0000_seg.nii.gz`, … as `hmcseg predict` names them).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadCase, openDataset, spacingIsKnown, type CaseRef, type Dataset, type LabelMap, type Volume } from '../data/index.js';
import { hasPrediction, niftiStem, readPrediction, segmentationPath, type PredictionLayout } from '../predict/index.js';
import { evaluateCase, type CaseEvaluation } from './case.js';
import { summarize, type EvaluationSummary } from './summary.js';

export interface EvaluateDirectoryOptions {
  /** Prediction directory. */
  readonly pred: string;
  /** Ground-truth data set directory (ACDC, folder or nnU-Net layout, see {@link openDataset}). */
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

/** The prediction name of a case: its image's stem, or its nnU-Net case id in the nnunet layout. */
function predictionName(ref: CaseRef, layout: PredictionLayout): string {
  return layout.kind === 'nnunet' ? ref.id : niftiStem(ref.image);
}

/** nnU-Net's prediction layout when the ground truth is an nnU-Net data set and some `CASE.nii.gz` is in `dir`. */
function predictionLayout(dataset: Dataset, dir: string): PredictionLayout {
  if (dataset.layout !== 'nnunet') return { kind: 'hmcseg' };
  const nnunet: PredictionLayout = { kind: 'nnunet', labelMap: dataset.labelMap };
  return dataset.cases.some((c) => hasPrediction(dir, c.id, nnunet)) ? nnunet : { kind: 'hmcseg' };
}

function evaluateOne(dataset: Dataset, ref: CaseRef, opts: EvaluateDirectoryOptions, dir: string, layout: PredictionLayout): CaseEvaluation {
  const gtCase = loadCase(dataset, ref);
  const gt = gtCase.labels as Volume<Uint8Array>;
  const p = readPrediction(dir, predictionName(ref, layout), gt, ref.labels as string, layout);
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
    segmentation: p.segmentation,
    probabilities: p.probabilities,
    entropy: p.entropy,
    mutualInformation: p.mutualInformation,
    sliceScores: p.scores?.slices,
    volumeScore: p.scores?.volume.score,
    volumeScores: p.scores?.volume,
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
  const layout = predictionLayout(dataset, dir);
  const cases: CaseEvaluation[] = [];
  const missing: MissingPrediction[] = [];
  for (const ref of dataset.cases) {
    const name = predictionName(ref, layout);
    if (hasPrediction(dir, name, layout)) cases.push(evaluateOne(dataset, ref, opts, dir, layout));
    else missing.push({ id: ref.id, expected: segmentationPath(dir, name, layout) });
  }
  if (cases.length === 0) {
    throw new Error(
      `${dir}: no prediction matches a case of ${dataset.dir} (looked for NAME_seg.nii.gz per image${dataset.layout === 'nnunet' ? ', or CASE.nii.gz for an nnU-Net data set' : ''}, e.g. ${missing[0].expected})`,
    );
  }
  const summary = summarize(cases, opts.failureThreshold === undefined ? {} : { failureThreshold: opts.failureThreshold });
  return { pred: dir, gt: dataset.dir, labels: dataset.labelMap.name, cases, summary, missing };
}
