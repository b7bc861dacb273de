import * as z from 'zod';
import { writeFileAtomic } from '../util/atomic.js';
import { readJsonFile } from '../util/json.js';
import { Rng } from '../util/rng.js';
import { fingerprint, type CaseRef, type Dataset } from './datasets.js';

/** Fractions of patients per part; they must sum to 1. */
export interface SplitFractions {
  readonly train: number;
  readonly val: number;
  readonly test: number;
}

export type SplitPart = keyof SplitFractions;

/** Patient ids per part, with what made them: seed, fractions and the data set's fingerprint. */
export interface Splits {
  readonly version: 1;
  readonly seed: number;
  readonly fractions: SplitFractions;
  readonly datasetFingerprint: string;
  readonly train: readonly string[];
  readonly val: readonly string[];
  readonly test: readonly string[];
}

export const DEFAULT_FRACTIONS: SplitFractions = { train: 0.7, val: 0.1, test: 0.2 };

const PARTS: readonly SplitPart[] = ['train', 'val', 'test'];

export interface MakeSplitsOptions {
  readonly seed: number;
  /** Default {@link DEFAULT_FRACTIONS}. */
  readonly fractions?: SplitFractions;
}

/** Patients by stratum (ACDC group; one stratum '' when the data set has no groups), sorted. */
function strata(cases: readonly CaseRef[]): Map<string, string[]> {
  const groupOf = new Map<string, string>();
  for (const c of cases) {
    const g = c.group ?? '';
    const prev = groupOf.get(c.patient);
    if (prev !== undefined && prev !== g) {
      throw new Error(`patient ${c.patient} has cases in two groups (${prev || 'none'} and ${g || 'none'})`);
    }
    groupOf.set(c.patient, g);
  }
  const byGroup = new Map<string, string[]>();
  for (const [patient, g] of [...groupOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    byGroup.set(g, [...(byGroup.get(g) ?? []), patient]);
  }
  return new Map([...byGroup].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Splits a data set by patient (never by frame or slice), stratified by group: every group's
 * count in each part is its exact share rounded down or up, and the rounding goes to the part
 * furthest behind its overall share, so the totals also match the fractions as closely as whole
 * patients allow. Seeded and deterministic.
 *
 * @example
 * const splits = makeSplits(openDataset('../shared/data/acdc'), { seed: 0 });
 * writeSplits('runs/splits.json', splits);
 */
export function makeSplits(dataset: Dataset, options: MakeSplitsOptions): Splits {
  const { seed } = options;
  const fractions = options.fractions ?? DEFAULT_FRACTIONS;
  const f = PARTS.map((p) => fractions[p]);
  if (f.some((x) => !Number.isFinite(x) || x < 0) || Math.abs(f[0] + f[1] + f[2] - 1) > 1e-9) {
    throw new RangeError(`makeSplits: fractions must be non-negative and sum to 1, got ${JSON.stringify(fractions)}`);
  }
  if (!Number.isInteger(seed)) throw new RangeError(`makeSplits: seed must be an integer, got ${seed}`);
  const rng = new Rng(seed);
  const parts: string[][] = [[], [], []];
  const exactSoFar = [0, 0, 0];
  const givenSoFar = [0, 0, 0];
  for (const patients of strata(dataset.cases).values()) {
    const n = patients.length;
    const exact = f.map((x) => x * n);
    const counts = exact.map((e) => Math.floor(e + 1e-9));
    for (let p = 0; p < 3; p++) {
      exactSoFar[p] += exact[p];
      givenSoFar[p] += counts[p];
    }
    for (let left = n - counts[0] - counts[1] - counts[2]; left > 0; left--) {
      let best = -1;
      for (let p = 0; p < 3; p++) {
        if (counts[p] >= exact[p] - 1e-9) continue; // already at its ceiling
        if (best < 0 || exactSoFar[p] - givenSoFar[p] > exactSoFar[best] - givenSoFar[best] + 1e-9) best = p;
      }
      counts[best]++;
      givenSoFar[best]++;
    }
    const order = rng.shuffle([...patients]);
    parts[0].push(...order.slice(0, counts[0]));
    parts[1].push(...order.slice(counts[0], counts[0] + counts[1]));
    parts[2].push(...order.slice(counts[0] + counts[1]));
  }
  const [train, val, test] = parts.map((p) => p.sort());
  return { version: 1, seed, fractions, datasetFingerprint: fingerprint(dataset), train, val, test };
}

const SplitsFile = z.strictObject({
  version: z.literal(1),
  seed: z.int(),
  fractions: z.strictObject({ train: z.number().min(0).max(1), val: z.number().min(0).max(1), test: z.number().min(0).max(1) }),
  datasetFingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest'),
  train: z.array(z.string().min(1)),
  val: z.array(z.string().min(1)),
  test: z.array(z.string().min(1)),
});

/** Writes splits as JSON, atomically. */
export function writeSplits(path: string, splits: Splits): void {
  writeFileAtomic(path, `${JSON.stringify(splits, null, 2)}\n`);
}

/**
 * Reads and validates a splits file.
 *
 * @throws {Error} naming the file: unreadable, not JSON, wrong shape, or a patient in two parts.
 */
export function readSplits(path: string): Splits {
  const splits = readJsonFile(path, SplitsFile, 'splits file');
  const seen = new Map<string, SplitPart>();
  for (const part of PARTS) {
    for (const id of splits[part]) {
      const other = seen.get(id);
      if (other) throw new Error(`${path}: patient ${id} is in both ${other} and ${part}`);
      seen.set(id, part);
    }
  }
  return splits;
}

/**
 * The cases of one part (all frames of its patients).
 *
 * @throws {Error} when a patient in the splits is not in the data set.
 */
export function splitCases(dataset: Dataset, splits: Splits, part: SplitPart): CaseRef[] {
  const wanted = new Set(splits[part]);
  const cases = dataset.cases.filter((c) => wanted.has(c.patient));
  const found = new Set(cases.map((c) => c.patient));
  const missing = [...wanted].filter((p) => !found.has(p));
  if (missing.length > 0) {
    throw new Error(`splits ${part}: patients not in data set ${dataset.dir}: ${missing.join(', ')}`);
  }
  return cases;
}
