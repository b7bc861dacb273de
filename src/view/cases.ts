/**
 * What the viewer shows of a prediction directory (`hmcseg predict --out`): one entry per
 * `NAME_uncertainty.json`, with its slice scores, the files of its maps, the input image and, with a
 * ground truth, the per-slice Dice of `evaluateDirectory`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import * as z from 'zod';
import { openDataset } from '../data/datasets.js';
import { evaluateDirectory, STRUCTURES } from '../evaluate/index.js';
import { niftiStem } from '../predict/files.js';
import { findInputs } from '../predict/files.js';
import { POSTPROCESS_MODES, type Postprocess } from '../predict/postprocess.js';
import { DEFAULT_WARNING_SCORE, SCORE_NAMES, type ScoreName } from '../uncertainty/index.js';
import { readJsonFile } from '../util/json.js';

const UncertaintyJson = z.looseObject({
  case: z.string().min(1),
  input: z.string().optional(),
  method: z.string().optional(),
  samples: z.number().optional(),
  warningScore: z.enum(SCORE_NAMES).optional(),
  postprocess: z.enum(POSTPROCESS_MODES).optional(),
  slices: z.array(z.looseObject({ score: z.number().nullable() })),
  volume: z.looseObject({ score: z.number().nullable() }),
});

/**
 * A file the viewer serves: the root it lies under ('pred', 'gt', 'images') and its path relative
 * to it, or 'input' and `CASE/FILE` for the input that hmcseg predict recorded for a case.
 */
export interface ServedFile {
  readonly root: ViewRootName;
  readonly path: string;
}

export type ViewRootName = 'pred' | 'gt' | 'images' | 'input';

export interface SliceDice {
  /** Dice per structure (LV, MYO, RV); null where NaN (both empty, unlabelled). */
  readonly dice: Readonly<Record<(typeof STRUCTURES)[number], number | null>>;
  readonly meanDice: number | null;
}

export interface ViewCase {
  readonly name: string;
  readonly method?: string;
  /** How `hmcseg predict` made it: the warning score behind `scores`, the post-processing of the segmentation. */
  readonly prediction: BrowserPredictOptions;
  /** Warning score per slice (null where not a number) and of the volume. */
  readonly scores: readonly (number | null)[];
  readonly volumeScore: number | null;
  readonly image: ServedFile | null;
  /** Why there is no image, when there is none. */
  readonly imageMissing?: string;
  readonly segmentation: ServedFile;
  readonly entropy: ServedFile | null;
  readonly mutualInformation: ServedFile | null;
  /** Per slice, with `--gt`. */
  readonly dice?: readonly SliceDice[];
}

export interface ViewCasesOptions {
  readonly pred: string;
  /** Ground-truth data set (ACDC or folder layout) for per-slice Dice. */
  readonly gt?: string;
  /** Label map of the ground truth (as `hmcseg evaluate --labels`). */
  readonly labels?: string;
  /**
   * Where the input images are (searched recursively for NAME.nii(.gz)); by default the `input`
   * path that `hmcseg predict` recorded in NAME_uncertainty.json.
   */
  readonly images?: string;
}

/** The settings of `hmcseg predict` that the page repeats for a volume it segments. */
export interface BrowserPredictOptions {
  readonly warningScore: ScoreName;
  readonly postprocess: Postprocess;
}

/**
 * The settings with which the page segments a dropped volume: those of the listed cases, so that
 * its slices rank against theirs and its segmentation is made as theirs were. Files that predate
 * a setting in NAME_uncertainty.json count as its default (entropyRegion, no post-processing).
 *
 * @throws {Error} naming two cases, when the cases were predicted with different settings
 */
export function browserPredictOptions(cases: readonly ViewCase[]): BrowserPredictOptions {
  const first = cases[0];
  if (first === undefined) return { warningScore: DEFAULT_WARNING_SCORE, postprocess: 'none' };
  for (const c of cases) {
    for (const key of ['warningScore', 'postprocess'] as const) {
      if (c.prediction[key] !== first.prediction[key]) {
        throw new Error(
          `${first.name} and ${c.name} were predicted with ${key} ${first.prediction[key]} and ${c.prediction[key]}: ` +
            'a volume segmented in the browser could not be made and ranked as both (view them without --model, or split the directory)',
        );
      }
    }
  }
  return first.prediction;
}

/** The first existing `NAME.nii.gz` / `NAME.nii` in `dir`, relative to it. */
function niftiIn(dir: string, name: string): string | undefined {
  return [`${name}.nii.gz`, `${name}.nii`].find((f) => existsSync(join(dir, f)));
}

function under(root: string, file: string): string | undefined {
  const rel = relative(root, file);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel) ? rel : undefined;
}

/**
 * Lists the cases of a prediction directory, sorted by name.
 *
 * @throws {Error} naming the directory or file: no such directory, no NAME_uncertainty.json in it,
 *   an invalid one, a missing NAME_seg file; with `gt`, whatever `evaluateDirectory` refuses.
 */
export function listViewCases(opts: ViewCasesOptions): ViewCase[] {
  const pred = resolve(opts.pred);
  if (!existsSync(pred) || !statSync(pred).isDirectory()) throw new Error(`${pred}: prediction directory does not exist`);
  const jsons = readdirSync(pred)
    .filter((f) => f.endsWith('_uncertainty.json'))
    .sort();
  if (jsons.length === 0) throw new Error(`${pred}: no NAME_uncertainty.json files (write them with hmcseg predict --out ${opts.pred})`);
  const images = opts.images === undefined ? undefined : resolve(opts.images);
  const imageFiles = images === undefined ? undefined : new Map(findInputs(images).map((f) => [niftiStem(f), resolve(f)]));
  const diceByName = opts.gt === undefined ? undefined : sliceDice(pred, opts.gt, opts.labels);
  return jsons.map((file): ViewCase => {
    const u = readJsonFile(join(pred, file), UncertaintyJson, 'uncertainty file');
    const name = file.slice(0, -'_uncertainty.json'.length);
    if (u.case !== name) throw new Error(`${join(pred, file)}: is for case ${JSON.stringify(u.case)}, expected ${JSON.stringify(name)}`);
    const seg = niftiIn(pred, `${name}_seg`);
    if (seg === undefined) throw new Error(`${join(pred, `${name}_seg.nii.gz`)}: segmentation missing (the uncertainty file is there)`);
    const entropy = niftiIn(pred, `${name}_entropy`);
    const mi = niftiIn(pred, `${name}_mi`);
    let image: ServedFile | null = null;
    let imageMissing: string | undefined;
    if (images !== undefined) {
      const f = imageFiles?.get(name);
      const rel = f === undefined ? undefined : under(images, f);
      if (rel !== undefined) image = { root: 'images', path: rel };
      else imageMissing = `no ${name}.nii(.gz) under ${images}`;
    } else if (u.input === undefined) {
      imageMissing = `${file} records no input path; pass --images DIR`;
    } else if (!existsSync(resolve(u.input))) {
      imageMissing = `the recorded input ${u.input} does not exist (from ${process.cwd()}); pass --images DIR`;
    } else {
      image = { root: 'input', path: `${name}/${basename(u.input)}` };
    }
    const dice = diceByName?.get(name);
    return {
      name,
      ...(u.method === undefined ? {} : { method: u.method }),
      prediction: { warningScore: u.warningScore ?? DEFAULT_WARNING_SCORE, postprocess: u.postprocess ?? 'none' },
      scores: u.slices.map((s) => s.score),
      volumeScore: u.volume.score,
      image,
      ...(imageMissing === undefined ? {} : { imageMissing }),
      segmentation: { root: 'pred', path: seg },
      entropy: entropy === undefined ? null : { root: 'pred', path: entropy },
      mutualInformation: mi === undefined ? null : { root: 'pred', path: mi },
      ...(dice === undefined ? {} : { dice }),
    };
  });
}

/** The recorded input image of case `name` (resolved from the working directory), for the 'input' root. */
export function recordedInput(pred: string, name: string): string | undefined {
  const file = join(resolve(pred), `${name}_uncertainty.json`);
  if (!existsSync(file)) return undefined;
  const input = readJsonFile(file, UncertaintyJson, 'uncertainty file').input;
  return input === undefined ? undefined : resolve(input);
}

/** Per-slice Dice of every predicted case, keyed by its prediction name. */
function sliceDice(pred: string, gt: string, labels: string | undefined): Map<string, SliceDice[]> {
  const result = evaluateDirectory({ pred, gt, ...(labels === undefined ? {} : { labels }) });
  const dataset = openDataset(gt, { requireLabels: true, ...(labels === undefined ? {} : { labels }) });
  const nameOf = new Map(dataset.cases.map((c) => [c.id, niftiStem(c.image)]));
  const out = new Map<string, SliceDice[]>();
  for (const c of result.cases) {
    const name = nameOf.get(c.id) ?? c.id;
    out.set(
      name,
      c.slices.map((s) => ({
        dice: Object.fromEntries(STRUCTURES.map((k) => [k, s.dice[k].value])) as SliceDice['dice'],
        meanDice: s.meanDice.value,
      })),
    );
  }
  return out;
}
