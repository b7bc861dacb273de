/** The shape of an experiment's `results.json`: what the report renders. */
import type { SplitPart } from '../data/index.js';
import type { EvaluationSummary, ScoreFailure, WarningScoreChoice } from '../evaluate/index.js';
import type { ScoreName } from '../uncertainty/index.js';
import type { TrainConfig } from '../train/config.js';
import type { Preset, StudyName } from './presets.js';

/** A data set the methods are evaluated on. */
export interface DomainSpec {
  readonly name: string;
  readonly dir: string;
  readonly labels: string;
  /** A split part of the training data set, or every case. */
  readonly part: SplitPart | 'all';
  readonly kind: 'in-domain' | 'out-of-domain';
}

/** One row of the results table: a method on a domain. */
export interface ResultRow {
  /** The method, or the name of a preset's variant. */
  readonly method: string;
  readonly domain: string;
  readonly kind: DomainSpec['kind'];
  readonly summary: EvaluationSummary;
  readonly trainSeconds: number;
  readonly trainRatio: number | null;
  readonly predictMsPerSlice: number;
  readonly samples: number;
  readonly passes: number;
  /** The method's warning score, chosen on the validation split ({@link ExperimentResults.warningScores}). */
  readonly warningScore: ScoreName;
  /** That score's failure detection on this domain (absent when the predictions carry no such score). */
  readonly warningFailure?: ScoreFailure;
}

/** One point of a study, evaluated on the validation split. */
export interface StudyPoint {
  readonly study: StudyName;
  /** What varied, e.g. { temperature: 0.01, augment: true }. */
  readonly setting: Readonly<Record<string, number | boolean | string>>;
  /** The method, or the name of a preset's variant. */
  readonly method: string;
  readonly domain: string;
  readonly summary: EvaluationSummary;
  readonly trainSeconds: number;
}

export interface ExperimentResults {
  readonly version: 1;
  readonly preset: Preset['name'];
  readonly description: string;
  readonly createdAt: string;
  /** `device`: where training and prediction ran (absent in results written before it was recorded). */
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly device?: string };
  readonly config: TrainConfig;
  readonly data: { readonly train: string; readonly fingerprint: string; readonly splits: string };
  readonly domains: readonly DomainSpec[];
  readonly rows: readonly ResultRow[];
  readonly studies: readonly StudyPoint[];
  /**
   * Per method: the warning score chosen on the in-domain validation split by the rule of
   * `chooseWarningScore` (never on test), the candidates' validation figures, and the file.
   */
  readonly warningScores: Readonly<Record<string, WarningScoreChoice & { readonly evaluation?: string }>>;
  /** Files of example slices per method and domain, relative to the output directory. */
  readonly examples: Readonly<Record<string, string>>;
}
