/**
 * The prediction files, writer and reader side by side. For an input `NAME.nii(.gz)` a prediction
 * directory holds, all on the input's own grid and affine:
 *
 * - `NAME_seg.nii.gz`: uint8 project classes (0 bg, 1 LV, 2 MYO, 3 RV), the arg-max of the
 *   probabilities, post-processed as `postprocess` in the JSON says (required by the reader);
 * - `NAME_entropy.nii.gz`, `NAME_mi.nii.gz`: float32 predictive entropy and mutual information;
 * - `NAME_prob_<class>.nii.gz` for background, LV, MYO, RV (all four or none): float32, whose
 *   arg-max is exactly `NAME_seg` (outside the voxels that post-processing removed), or uint8 holding round(255·p) with scl_slope 1/255 (where two
 *   classes round to the same value their arg-max can differ from `NAME_seg`, which is the
 *   arg-max before rounding; evaluation scores `NAME_seg` either way);
 * - `NAME_uncertainty.json`: `{case, input, method, samples, passes, warningScore, postprocess, volumeUnit?,
 *   slices, volume}`, the slice- and volume-level scores by name ({@link SCORE_NAMES}; the
 *   disagreement ones only with ≥ 2 passes, `volumeUnit` then giving the unit of `volumeStd*`),
 *   and `score`, the warning score, a copy of the one named by `warningScore` (a non-finite
 *   number is null). Files written before the named scores (only `score`) still read.
 *
 * The reader also accepts `.nii` for every NIfTI file.
 *
 * In the `nnunet` layout ({@link PredictionLayout}) the segmentation is `NAME.nii.gz` in the data
 * set's own label values (what `nnUNetv2_predict` writes and `nnUNetv2_evaluate_folder` reads: every
 * file ending in the file ending, in the folder itself), and the other files, under the names
 * above, go to the subfolder `hmcseg/`, which nnU-Net's evaluation does not read. With the
 * probabilities, `NAME.npz` also holds them as `nnUNetv2_predict --save_probabilities` does: key
 * `probabilities`, float32 (label value, z, y, x), channel v the probability of label value v (of
 * 0 for the classes the data set does not label, as in the segmentation).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as z from 'zod';
import { applyLabelMap, CLASSES, NUM_CLASSES, type LabelMap } from '../data/labels.js';
import { NIFTI_DATATYPES, readNiftiImage, readNiftiLabels, writeNifti } from '../data/nifti.js';
import { nnunetCaseName, projectToNnunetValues } from '../data/nnunet.js';
import { writeNpz } from './npz.js';
import type { Volume } from '../data/volume.js';
import { SCORE_NAMES, type NamedScores, type ScoreName } from '../uncertainty/index.js';
import { readJsonFile, writeFileAtomic } from '../util/index.js';
import type { VolumePrediction } from './predict.js';

/** Storage of the probability files. */
export type ProbabilityStorage = 'float32' | 'uint8';

/**
 * How a prediction directory is laid out: `hmcseg` (every file in the directory, segmentation in
 * project classes) or `nnunet` (the segmentation `NAME.nii.gz` in the values of `labelMap`, an
 * nnU-Net data set's, the other files in `hmcseg/`; see the module comment).
 */
export type PredictionLayout = { readonly kind: 'hmcseg' } | { readonly kind: 'nnunet'; readonly labelMap: LabelMap };

const HMCSEG_LAYOUT: PredictionLayout = { kind: 'hmcseg' };

/** The subfolder of an nnunet-layout prediction directory that holds all but the segmentation. */
export const NNUNET_EXTRAS_DIR = 'hmcseg';

/** The directory of the files other than the segmentation. */
function extrasDir(dir: string, layout: PredictionLayout): string {
  return layout.kind === 'nnunet' ? join(dir, NNUNET_EXTRAS_DIR) : dir;
}

/** The segmentation file's name without extension. */
function segmentationStem(name: string, layout: PredictionLayout): string {
  return layout.kind === 'nnunet' ? name : `${name}_seg`;
}

/** The case name of a NIfTI file: its base name without `.nii.gz` or `.nii`. */
export function niftiStem(path: string): string {
  return basename(path).replace(/\.nii(\.gz)?$/, '');
}

const OUTPUT_NIFTI = /_(seg|entropy|mi|prob_[A-Za-z]+)\.nii(\.gz)?$/;

/** Whether a file name is one of the NIfTI files {@link writePrediction} writes (so not an input). */
export function isPredictionFile(fileName: string): boolean {
  return OUTPUT_NIFTI.test(fileName);
}

/** The path of the segmentation file written for case `name` in `dir`. */
export function segmentationPath(dir: string, name: string, layout: PredictionLayout = HMCSEG_LAYOUT): string {
  return join(dir, `${segmentationStem(name, layout)}.nii.gz`);
}

/** Whether `dir` holds a segmentation file of case `name` (`NAME_seg.nii.gz`, nnunet: `NAME.nii.gz`, or `.nii`). */
export function hasPrediction(dir: string, name: string, layout: PredictionLayout = HMCSEG_LAYOUT): boolean {
  return findNifti(dir, segmentationStem(name, layout)) !== undefined;
}

/** Where the prediction came from, for `NAME_uncertainty.json`. */
export interface PredictionSource {
  /** The input file. */
  readonly input: string;
  readonly method: string;
  /** Weight samples used. */
  readonly samples: number;
}

/**
 * Writes the prediction files of case `name` into `dir` (see the module comment), on `image`'s
 * grid, affine and header.
 *
 * @param probabilities whether and how to write the probability files (default: not)
 * @param layout default `hmcseg`
 * @throws {Error} in the nnunet layout, when a class has two label values in `layout.labelMap`
 *   (see {@link projectToNnunetValues}); nothing is written then.
 */
export function writePrediction(
  dir: string,
  name: string,
  image: Volume,
  p: VolumePrediction,
  source: PredictionSource,
  probabilities?: ProbabilityStorage,
  layout: PredictionLayout = HMCSEG_LAYOUT,
): void {
  const like = (data: Volume['data']): Volume => ({ dims: image.dims, spacing: image.spacing, affine: image.affine, header: image.header, data });
  const float = { datatype: NIFTI_DATATYPES.float32, sclSlope: 1, sclInter: 0 };
  const values = layout.kind === 'nnunet' ? projectToNnunetValues(layout.labelMap, layout.labelMap.name) : undefined;
  const segmentation = values === undefined ? p.segmentation : toLabelValues(p.segmentation, values);
  const extras = extrasDir(dir, layout);
  writeNifti(segmentationPath(dir, name, layout), like(segmentation), { datatype: NIFTI_DATATYPES.uint8, sclSlope: 1, sclInter: 0 });
  writeNifti(join(extras, `${name}_entropy.nii.gz`), like(p.entropy), float);
  writeNifti(join(extras, `${name}_mi.nii.gz`), like(p.mutualInformation), float);
  if (probabilities !== undefined) {
    const n = p.segmentation.length;
    const storage = probabilities === 'float32' ? float : { datatype: NIFTI_DATATYPES.uint8, sclSlope: 1 / 255, sclInter: 0 };
    CLASSES.forEach((cls, c) => {
      writeNifti(join(extras, `${name}_prob_${cls}.nii.gz`), like(p.probabilities.subarray(c * n, (c + 1) * n)), storage);
    });
    if (values !== undefined) {
      const channels = Math.max(...values) + 1;
      const byValue = new Float32Array(channels * n);
      values.forEach((v, c) => {
        for (let i = 0; i < n; i++) byValue[v * n + i] += p.probabilities[c * n + i];
      });
      const [nx, ny, nz] = image.dims;
      writeNpz(join(dir, `${name}.npz`), { probabilities: { data: byValue, shape: [channels, nz, ny, nx] } });
    }
  }
  const json = {
    case: name,
    input: source.input,
    method: source.method,
    samples: source.samples,
    passes: p.passes,
    warningScore: p.warningScore,
    postprocess: p.postprocess,
    ...(p.volumeUnit === undefined ? {} : { volumeUnit: p.volumeUnit }),
    slices: p.slices,
    volume: p.volume,
  };
  writeFileAtomic(
    join(extras, `${name}_uncertainty.json`),
    JSON.stringify(json, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2),
  );
}

/** Project classes → label values (`values[class]`). */
function toLabelValues(segmentation: Uint8Array, values: readonly number[]): Uint8Array {
  const out = new Uint8Array(segmentation.length);
  for (let i = 0; i < segmentation.length; i++) out[i] = values[segmentation[i]];
  return out;
}

/** What {@link readPrediction} found; every array is on the reference grid. */
export interface PredictionFiles {
  /** The segmentation file read. */
  readonly segmentationFile: string;
  /** Project classes, x fastest, then y, then z. */
  readonly segmentation: Uint8Array;
  /** Class-major [class][z][y][x], when the probability files exist. */
  readonly probabilities?: Float32Array;
  readonly entropy?: Float32Array;
  readonly mutualInformation?: Float32Array;
  /** Per-slice scores and the volume's, when `NAME_uncertainty.json` exists. */
  readonly scores?: {
    /** The score that `score` copies; absent in files written before the named scores. */
    readonly warningScore?: ScoreName;
    readonly slices: readonly NamedScores[];
    readonly volume: NamedScores;
  };
}


/** Affine entries may differ by this much (float32 headers). */
const AFFINE_TOLERANCE = 1e-4;

/** The first existing of `NAME.nii.gz` and `NAME.nii` in `dir`. */
function findNifti(dir: string, name: string): string | undefined {
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

const RegionScoresJson = z.looseObject({
  score: z.number(),
  ...(Object.fromEntries(SCORE_NAMES.map((n) => [n, z.number().nullable().optional()])) as Record<ScoreName, z.ZodOptional<z.ZodNullable<z.ZodNumber>>>),
});
const UncertaintyJson = z.looseObject({
  case: z.string(),
  warningScore: z.enum(SCORE_NAMES).optional(),
  slices: z.array(RegionScoresJson),
  volume: RegionScoresJson,
});

function readUncertaintyJson(path: string, name: string, nz: number): z.infer<typeof UncertaintyJson> {
  const u = readJsonFile(path, UncertaintyJson, 'uncertainty file');
  if (u.case !== name) throw new Error(`${path}: is for case ${JSON.stringify(u.case)}, expected ${JSON.stringify(name)}`);
  if (u.slices.length !== nz) throw new Error(`${path}: has scores for ${u.slices.length} slices, the volume has ${nz}`);
  return u;
}

function readMap(dir: string, name: string, ref: Volume, refFile: string): Float32Array | undefined {
  const file = findNifti(dir, name);
  if (file === undefined) return undefined;
  const v = readNiftiImage(file);
  checkGrid(v, file, ref, refFile);
  return v.data;
}

/** The four probability maps, class-major, or undefined when none exists. */
function readProbabilities(dir: string, name: string, ref: Volume, refFile: string): Float32Array | undefined {
  const files = CLASSES.map((c) => findNifti(dir, `${name}_prob_${c}`));
  if (files.every((f) => f === undefined)) return undefined;
  const absent = CLASSES.filter((_, c) => files[c] === undefined);
  if (absent.length > 0) {
    throw new Error(
      `${join(dir, `${name}_prob_*.nii.gz`)}: probability maps for ${absent.join(', ')} are missing (all ${NUM_CLASSES} or none)`,
    );
  }
  const n = ref.data.length;
  const out = new Float32Array(NUM_CLASSES * n);
  CLASSES.forEach((cls, c) => out.set(readMap(dir, `${name}_prob_${cls}`, ref, refFile) as Float32Array, c * n));
  return out;
}

/**
 * Reads the prediction files of case `name` from `dir`, checking each against the grid of `ref`
 * (read from `refFile`, which errors name). In the nnunet layout the segmentation's values are
 * mapped to project classes by `layout.labelMap`.
 *
 * @throws {Error} naming the file: no segmentation file (see {@link hasPrediction}), off the
 *   reference grid (both files, shapes and affines), a label outside 0..3 (nnunet: outside the
 *   label map), an incomplete set of probability maps, an invalid uncertainty JSON
 */
export function readPrediction(dir: string, name: string, ref: Volume, refFile: string, layout: PredictionLayout = HMCSEG_LAYOUT): PredictionFiles {
  const segmentationFile = findNifti(dir, segmentationStem(name, layout));
  if (segmentationFile === undefined) throw new Error(`${segmentationPath(dir, name, layout)}: no such segmentation file (nor .nii)`);
  const seg = readNiftiLabels(segmentationFile);
  checkGrid(seg, segmentationFile, ref, refFile);
  const segmentation = layout.kind === 'nnunet' ? applyLabelMap(seg.data, layout.labelMap, segmentationFile) : seg.data;
  const bad = segmentation.findIndex((v) => v >= NUM_CLASSES);
  if (bad >= 0) {
    throw new RangeError(
      `${segmentationFile}: label ${seg.data[bad]} at voxel ${bad} is not a project class (${CLASSES.map((c, i) => `${i} ${c}`).join(', ')})`,
    );
  }
  const extras = extrasDir(dir, layout);
  const uncertaintyFile = join(extras, `${name}_uncertainty.json`);
  const scores = existsSync(uncertaintyFile) ? readUncertaintyJson(uncertaintyFile, name, ref.dims[2]) : undefined;
  const probabilities = readProbabilities(extras, name, ref, refFile);
  const entropy = readMap(extras, `${name}_entropy`, ref, refFile);
  const mutualInformation = readMap(extras, `${name}_mi`, ref, refFile);
  return {
    segmentationFile,
    segmentation,
    ...(probabilities === undefined ? {} : { probabilities }),
    ...(entropy === undefined ? {} : { entropy }),
    ...(mutualInformation === undefined ? {} : { mutualInformation }),
    ...(scores === undefined ? {} : { scores }),
  };
}

const NIFTI = /\.nii(\.gz)?$/;
const NOT_INPUT = /_(gt|4d)\.nii(\.gz)?$/;

/**
 * The NIfTI images under `input` (a file, or a directory searched recursively), skipping labels
 * and our outputs; in the nnunet layout only channel-0 images `CASE_0000`.
 *
 * @throws {Error} naming the path: nothing found, not NIfTI, (nnunet) an image of another channel.
 */
export function findInputs(input: string, layout: PredictionLayout['kind'] = 'hmcseg'): string[] {
  if (layout === 'nnunet') return findNnunetInputs(input);
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

const NNUNET_CHANNEL = /_(\d{4})\.nii(\.gz)?$/;

function findNnunetInputs(input: string): string[] {
  const all = findInputs(input).filter((f) => NNUNET_CHANNEL.test(f));
  const other = all.find((f) => nnunetCaseName(basename(f)) === undefined);
  if (other !== undefined) throw new Error(`${other}: an image of channel ${Number(NNUNET_CHANNEL.exec(other)?.[1])}; hmcseg segments one channel (_0000)`);
  if (all.length === 0) throw new Error(`${input}: no nnU-Net images CASE_0000.nii(.gz) found`);
  return all;
}
