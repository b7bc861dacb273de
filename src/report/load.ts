/**
 * Reads an experiment's output directory as saved by `runExperiment`: `results.json`, the
 * per-method/domain evaluation files and the example slices. Missing evaluation or example files
 * are noted, not fatal (the report then leaves those figures out); a missing or malformed
 * `results.json` is an error naming the file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import type { CaseEvaluation, EvaluationSummary } from '../evaluate/index.js';
import type { ExampleSlice, ExperimentResults } from '../experiment/index.js';
import { readJsonFile } from '../util/json.js';

/** The parts of a case evaluation the report draws (per-slice scores and Dice, calibration bins). */
export type ReportCase = Pick<CaseEvaluation, 'id' | 'slices' | 'calibration'>;

/** A risk–coverage curve as the summary saves it (see `FailureSummary.riskCoverage`). */
export type RiskCoverageCurve = EvaluationSummary['failure']['slice']['riskCoverage'];

/** An `evaluations/METHOD__DOMAIN.json` file, as far as the report reads it. */
export interface SavedEvaluation {
  readonly cases: readonly ReportCase[];
  /** The summary's slice-level risk–coverage curve; null in files written before it was saved. */
  readonly sliceRiskCoverage: RiskCoverageCurve | null;
}

/** The report's note on saved evaluations that lack the slice risk–coverage curve. */
export const WITHOUT_CURVE =
  'Saved evaluations without the slice risk–coverage curve (written by an older hmcseg; their curves are left out; ' +
  'rerunning the same hmcseg experiment command evaluates them again)';

/** Everything the report renders. */
export interface ReportInput {
  readonly dir: string;
  readonly results: ExperimentResults;
  /** By `METHOD__DOMAIN`. */
  readonly evaluations: ReadonlyMap<string, SavedEvaluation>;
  /** By `METHOD__DOMAIN`. */
  readonly examples: ReadonlyMap<string, readonly ExampleSlice[]>;
  /** Files the results name that were not found (shown in the report). */
  readonly missing: readonly string[];
  /** Saved evaluations without the slice risk–coverage curve (shown in the report). */
  readonly withoutCurve: readonly string[];
}

/** The key of a method on a domain, as in the output file names. */
export const rowKey = (method: string, domain: string): string => `${method}__${domain}`;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkResults(v: unknown, path: string): ExperimentResults {
  if (!isObject(v)) throw new Error(`${path}: expected an object with the experiment results`);
  if (v.version !== 1) throw new Error(`${path}: unsupported results version ${JSON.stringify(v.version)} (expected 1)`);
  for (const key of ['domains', 'rows', 'studies'] as const) {
    if (!Array.isArray(v[key])) throw new Error(`${path}: '${key}' must be an array`);
  }
  (v.rows as unknown[]).forEach((r, i) => {
    if (!isObject(r) || typeof r.method !== 'string' || typeof r.domain !== 'string' || !isObject(r.summary)) {
      throw new Error(`${path}: rows[${i}] needs a method, a domain and a summary`);
    }
  });
  (v.studies as unknown[]).forEach((p, i) => {
    if (!isObject(p) || typeof p.study !== 'string' || !isObject(p.setting) || !isObject(p.summary)) {
      throw new Error(`${path}: studies[${i}] needs a study, a setting and a summary`);
    }
  });
  if (v.examples !== undefined && !isObject(v.examples)) throw new Error(`${path}: 'examples' must be an object`);
  return v as unknown as ExperimentResults;
}

const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

function checkEvaluation(v: unknown, path: string): SavedEvaluation {
  if (!isObject(v) || !isObject(v.summary) || !Array.isArray(v.cases)) {
    throw new Error(`${path}: expected an evaluation with 'summary' and 'cases'`);
  }
  (v.cases as unknown[]).forEach((c, i) => {
    if (!isObject(c) || !Array.isArray(c.slices)) throw new Error(`${path}: cases[${i}] has no 'slices' array`);
  });
  const failure = isObject(v.summary.failure) ? v.summary.failure : undefined;
  const curve = failure && isObject(failure.slice) ? failure.slice.riskCoverage : undefined;
  if (curve !== undefined && !(isObject(curve) && isNumbers(curve.coverage) && isNumbers(curve.risk) && curve.coverage.length === curve.risk.length)) {
    throw new Error(`${path}: summary.failure.slice.riskCoverage needs 'coverage' and 'risk' arrays of numbers of one length`);
  }
  return { cases: v.cases as ReportCase[], sliceRiskCoverage: (curve as RiskCoverageCurve | undefined) ?? null };
}

function checkExamples(v: unknown, path: string): ExampleSlice[] {
  if (!Array.isArray(v)) throw new Error(`${path}: expected an array of example slices`);
  v.forEach((e, i) => {
    const dims = isObject(e) ? e.dims : undefined;
    if (!isObject(e) || !Array.isArray(dims) || dims.length !== 2 || !dims.every((d) => Number.isInteger(d) && (d as number) > 0)) {
      throw new Error(`${path}: example ${i} needs dims [nx, ny] of positive integers`);
    }
    for (const key of ['image', 'target', 'segmentation', 'entropy'] as const) {
      if (typeof e[key] !== 'string') throw new Error(`${path}: example ${i} has no base64 '${key}'`);
    }
  });
  return v as ExampleSlice[];
}

/**
 * Loads an experiment output directory for the report.
 *
 * @throws {Error} naming the file when `results.json` is missing or malformed, or when an
 *   evaluation or example file exists but is malformed
 */
export function loadReportInput(dir: string): ReportInput {
  const resultsPath = join(dir, 'results.json');
  if (!existsSync(resultsPath)) throw new Error(`${resultsPath}: not found; is ${dir} an experiment output directory (hmcseg demo/experiment --out)?`);
  const results = checkResults(readJsonFile(resultsPath, z.unknown(), 'experiment results'), resultsPath);
  const evaluations = new Map<string, SavedEvaluation>();
  const examples = new Map<string, ExampleSlice[]>();
  const missing: string[] = [];
  const withoutCurve: string[] = [];
  for (const row of results.rows) {
    const key = rowKey(row.method, row.domain);
    const evRel = `evaluations/${key}.json`;
    const evPath = join(dir, evRel);
    if (existsSync(evPath)) {
      const ev = checkEvaluation(readJsonFile(evPath, z.unknown(), 'saved evaluation'), evPath);
      evaluations.set(key, ev);
      if (ev.sliceRiskCoverage === null) withoutCurve.push(evRel);
    } else missing.push(evRel);
    const exRel = results.examples?.[key];
    if (exRel === undefined) continue;
    const exPath = join(dir, exRel);
    if (existsSync(exPath)) examples.set(key, checkExamples(readJsonFile(exPath, z.unknown(), 'example slices'), exPath));
    else missing.push(exRel);
  }
  return { dir, results, evaluations, examples, missing, withoutCurve };
}
