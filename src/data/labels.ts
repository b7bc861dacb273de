import { readFileSync } from 'node:fs';
import * as z from 'zod';

/** The project's segmentation classes, in channel order. */
export const CLASSES = ['background', 'LV', 'MYO', 'RV'] as const;
export type ClassName = (typeof CLASSES)[number];
export const NUM_CLASSES = 4;

/**
 * How a data set's label values map to the project's classes, and which classes it labels.
 * A class is labelled when some source value maps to it; evaluation and the loss skip the others
 * (EMIDEC does not label the RV, so its RV tissue sits in "background").
 */
export interface LabelMap {
  readonly name: string;
  /** Source label value → project class index. */
  readonly map: Readonly<Record<number, number>>;
  /** Per project class: does this data set label it? */
  readonly labelled: readonly boolean[];
}

/**
 * Builds a label map from source value → class (index or name).
 *
 * @throws {RangeError} on a source value outside 0..255 or an unknown class.
 */
export function defineLabelMap(name: string, map: Readonly<Record<number, number | ClassName>>): LabelMap {
  const out: Record<number, number> = {};
  const labelled = CLASSES.map(() => false);
  for (const [key, target] of Object.entries(map)) {
    const source = Number(key);
    if (!Number.isInteger(source) || source < 0 || source > 255) {
      throw new RangeError(`label map ${name}: source label ${key} is not an integer in 0..255`);
    }
    const cls = typeof target === 'number' ? target : CLASSES.indexOf(target);
    if (!Number.isInteger(cls) || cls < 0 || cls >= NUM_CLASSES) {
      throw new RangeError(`label map ${name}: label ${key} maps to ${target}, not one of ${CLASSES.join(', ')}`);
    }
    out[source] = cls;
    labelled[cls] = true;
  }
  return { name, map: out, labelled };
}

/** ACDC: 0 background, 1 RV cavity, 2 LV myocardium, 3 LV cavity. */
export const ACDC_LABELS = defineLabelMap('acdc', { 0: 'background', 1: 'RV', 2: 'MYO', 3: 'LV' });

/** EMIDEC: 0 background, 1 LV cavity, 2 normal myocardium, 3 infarct, 4 MVO; RV not labelled. */
export const EMIDEC_LABELS = defineLabelMap('emidec', { 0: 'background', 1: 'LV', 2: 'MYO', 3: 'MYO', 4: 'MYO' });

/** Files already in project classes (predictions, the phantom). */
export const PROJECT_LABELS = defineLabelMap('project', { 0: 0, 1: 1, 2: 2, 3: 3 });

/**
 * Maps source labels to project classes.
 *
 * @param file named in the error when a value is not in the map.
 * @throws {RangeError} on a label value the map does not know.
 */
export function applyLabelMap(labels: Uint8Array, map: LabelMap, file: string): Uint8Array {
  const lut = new Int16Array(256).fill(-1);
  for (const [source, cls] of Object.entries(map.map)) lut[Number(source)] = cls;
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const cls = lut[labels[i]];
    if (cls < 0) {
      throw new RangeError(
        `${file}: label ${labels[i]} at voxel ${i} is not in label map ${map.name} (known: ${Object.keys(map.map).join(', ')})`,
      );
    }
    out[i] = cls;
  }
  return out;
}

const LabelMapFile = z.strictObject({
  name: z.string().min(1).optional(),
  map: z.record(
    z.string().regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/, 'source labels are integers 0..255'),
    z.union([z.enum(CLASSES), z.int().min(0).max(NUM_CLASSES - 1)], {
      error: `a class name (${CLASSES.join(', ')}) or index 0..${NUM_CLASSES - 1}`,
    }),
  ),
});

const BUILT_IN: Readonly<Record<string, LabelMap>> = {
  acdc: ACDC_LABELS,
  emidec: EMIDEC_LABELS,
  project: PROJECT_LABELS,
};

/**
 * A built-in label map by name (`acdc`, `emidec`, `project`), or one read from a JSON file:
 * `{"name": "mydata", "map": {"0": "background", "1": "LV", "2": "MYO"}}` (classes by name or index).
 *
 * @throws {Error} naming the file when it cannot be read or is not a valid label map.
 */
export function loadLabelMap(nameOrPath: string): LabelMap {
  const builtIn = BUILT_IN[nameOrPath];
  if (builtIn) return builtIn;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(nameOrPath, 'utf8'));
  } catch (err) {
    throw new Error(
      `label map ${nameOrPath}: not a built-in name (${Object.keys(BUILT_IN).join(', ')}) and not a readable JSON file (${(err as Error).message})`,
    );
  }
  const parsed = LabelMapFile.safeParse(json);
  if (!parsed.success) throw new Error(`label map ${nameOrPath}: invalid\n${z.prettifyError(parsed.error)}`);
  return defineLabelMap(parsed.data.name ?? nameOrPath, parsed.data.map);
}
