/**
 * What a consumer of an `hmcseg export` model needs beside onnxruntime: the metadata keys, the
 * preprocessing recipe (its type and a parser that names what is wrong), and the prediction of a
 * volume from the model's `branch_probs` by the fusion `hmcseg predict` uses
 * (src/predict/branches.ts), for centre-crop and sliding-window recipes alike. The viewer's page
 * (web/infer.ts) and the tests (onnxruntime-node and -web) run {@link predictWithExport}. Pure (no
 * engine, no files): the page bundles it.
 */
import * as z from 'zod';
import { preprocessVolume, type PreprocessOptions } from '../data/preprocess.js';
import type { Volume } from '../data/volume.js';
import { predictFromBranches } from '../predict/branches.js';
import type { Postprocess } from '../predict/postprocess.js';
import type { VolumePrediction } from '../predict/predict.js';
import { DEFAULT_WARNING_SCORE, type ScoreName } from '../uncertainty/scores.js';

/** What the model's metadata_props hold (values are strings; JSON where structured). */
export const METADATA_KEYS = {
  format: 'hmcseg.format',
  method: 'hmcseg.method',
  classes: 'hmcseg.classes',
  preprocess: 'hmcseg.preprocess',
  configHash: 'hmcseg.config_hash',
  model: 'hmcseg.model',
  samples: 'hmcseg.samples',
  dropout: 'hmcseg.dropout',
  outputs: 'hmcseg.outputs',
} as const;

/** The preprocessing recipe in `hmcseg.preprocess`: what a consumer repeats to make `image`. */
export interface PreprocessRecipe {
  /** Network input S×S: crop/pad about the image centre after resampling ('centre'), or the window size ('sliding'). */
  readonly size: number;
  /**
   * `'centre'`: one S×S crop/pad per slice. `'sliding'`: the whole resampled slice, padded (about
   * the centre) up to S where smaller and never cropped, tiled by S×S windows with `overlap`,
   * each branch's softmax fused with a Gaussian importance map of σ = `sigmaScale` × S (both null
   * for 'centre').
   */
  readonly window: 'centre' | 'sliding';
  readonly overlap: number | null;
  readonly sigmaScale: number | null;
  /** In-plane spacing (mm) the slice is resampled to (bilinear), or null to keep the grid. */
  readonly targetSpacing: number | null;
  /** A spacing of exactly 1 × 1 mm counts as unknown: no resampling. */
  readonly unitSpacingIsUnknown: true;
  /** Intensities clipped to these percentiles of the whole volume (numpy's linear interpolation)… */
  readonly clipPercentiles: readonly [number, number];
  /** …then z-scored with the mean and population std of the clipped volume. */
  readonly normalisation: 'zscore-clipped-volume';
  /** Padding takes the normalised lower clip value. */
  readonly pad: 'normalised-lower-clip';
  readonly centre: 'image';
  /** Slice layout: x fastest (`image[n][0][y][x]`, NIfTI order). */
  readonly layout: 'NCHW, H = y, W = x';
}

const Recipe = z
  .looseObject({
    size: z.number().int().positive(),
    window: z.enum(['centre', 'sliding']),
    overlap: z.number().min(0).lt(1).nullable(),
    sigmaScale: z.number().positive().nullable(),
    targetSpacing: z.number().positive().nullable(),
    unitSpacingIsUnknown: z.literal(true),
    clipPercentiles: z.tuple([z.number(), z.number()]),
    normalisation: z.literal('zscore-clipped-volume'),
    pad: z.literal('normalised-lower-clip'),
    centre: z.literal('image'),
    layout: z.literal('NCHW, H = y, W = x'),
  })
  .refine((r) => (r.window === 'sliding') === (r.overlap !== null && r.sigmaScale !== null), {
    message: "overlap and sigmaScale are numbers for window 'sliding' and null for 'centre'",
  }) satisfies z.ZodType<PreprocessRecipe>;

const Samples = z.looseObject({ count: z.number().int().positive(), passes: z.number().int().positive() });

/** What a consumer reads from an export's metadata. */
export interface ExportInfo {
  readonly recipe: PreprocessRecipe;
  readonly classes: readonly string[];
  readonly method: string;
  /** Branches of `branch_probs` (weight samples × dropout masks). */
  readonly branches: number;
}

function json(meta: Readonly<Record<string, string>>, key: string, where: string): unknown {
  const raw = meta[key];
  if (raw === undefined) throw new Error(`${where}: not an hmcseg export (no ${key} in its metadata)`);
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new Error(`${where}: ${key} is not JSON (${(e as Error).message})`);
  }
}

/**
 * The recipe, classes, method and branch count of an export's metadata (`readOnnxMetadata`).
 *
 * @param where names the model in errors (its file or URL)
 * @throws {Error} naming `where` and the key: missing, not JSON, or not a recipe this version knows
 */
export function readExportInfo(meta: Readonly<Record<string, string>>, where: string): ExportInfo {
  const recipe = Recipe.safeParse(json(meta, METADATA_KEYS.preprocess, where));
  if (!recipe.success) throw new Error(`${where}: ${METADATA_KEYS.preprocess} is not a recipe this version knows\n${z.prettifyError(recipe.error)}`);
  const classes = z.array(z.string()).safeParse(json(meta, METADATA_KEYS.classes, where));
  if (!classes.success || classes.data.length < 2) throw new Error(`${where}: ${METADATA_KEYS.classes} does not list at least 2 class names`);
  const samples = Samples.safeParse(json(meta, METADATA_KEYS.samples, where));
  if (!samples.success) throw new Error(`${where}: ${METADATA_KEYS.samples} has no positive integer count and passes\n${z.prettifyError(samples.error)}`);
  return { recipe: recipe.data, classes: classes.data, method: meta[METADATA_KEYS.method] ?? '?', branches: samples.data.count * samples.data.passes };
}

/** The {@link PreprocessOptions} that repeat `recipe` (`source` names the volume in errors). */
export function recipeOptions(recipe: PreprocessRecipe, source: string): PreprocessOptions {
  return {
    size: [recipe.size, recipe.size],
    targetSpacing: recipe.targetSpacing,
    unitSpacingIsUnknown: recipe.unitSpacingIsUnknown,
    clipPercentiles: recipe.clipPercentiles,
    centre: recipe.centre,
    fit: recipe.window === 'sliding' ? 'whole' : 'crop',
    source,
  };
}

/** `branch_probs` of the export for `b` windows (`b × S × S` values): b × branches × classes × S × S. */
export type ExportRun = (windows: Float32Array, b: number) => Promise<Float32Array>;

export interface ExportPredictOptions {
  /** Windows per model run, at most (default 16). */
  readonly batchSize?: number;
  /** Default {@link DEFAULT_WARNING_SCORE}, as `hmcseg predict`'s. */
  readonly warningScore?: ScoreName;
  /** Default `'none'`, as `hmcseg predict`'s. */
  readonly postprocess?: Postprocess;
  /** (slices done, slices). */
  readonly progress?: (done: number, total: number) => void;
}

/**
 * Segments `image` with an export run by `run`: the recipe's preprocessing, then
 * {@link predictFromBranches}; the same prediction, maps and scores as `hmcseg predict` with the
 * samples and passes exported.
 */
export function predictWithExport(info: ExportInfo, image: Volume<Float32Array>, source: string, run: ExportRun, o: ExportPredictOptions = {}): Promise<VolumePrediction> {
  const r = info.recipe;
  const pre = preprocessVolume(image, recipeOptions(r, source));
  return predictFromBranches(image, pre, run, {
    branches: info.branches,
    numClasses: info.classes.length,
    size: r.size,
    ...(r.overlap === null ? {} : { overlap: r.overlap }),
    ...(r.sigmaScale === null ? {} : { sigmaScale: r.sigmaScale }),
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
    ...(o.progress === undefined ? {} : { progress: o.progress }),
    warningScore: o.warningScore ?? DEFAULT_WARNING_SCORE,
    ...(o.postprocess === undefined ? {} : { postprocess: o.postprocess }),
  });
}
