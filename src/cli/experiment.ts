/**
 * `hmcseg experiment` and `hmcseg demo`.
 *
 *   hmcseg experiment --preset demo|cpu|full [--data ACDC_DIR] [--ood NAME=DIR[:LABELS] ...] [--studies a,b] [--steps K] [--device D] --out DIR
 *   hmcseg demo [--out DIR]
 */
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import * as z from 'zod';
import { InterruptedError, PRESETS, runExperiment, STUDIES, type ExperimentOptions, type ExperimentResults, type StudyName } from '../experiment/index.js';
import { fmt, num, tableText, textCell, writeReport, type Table } from '../report/index.js';
import { readJsonFile } from '../util/json.js';
import { deviceOption, integerIn } from './args.js';
import { formatSeconds, progressBar, type ProgressBar } from './progress.js';

const DEFAULT_DATA = () => process.env.HMCSEG_DATA ?? '../shared/data';

function parseOod(value: string, previous: ExperimentOptions['ood'] = []): NonNullable<ExperimentOptions['ood']> {
  const m = /^([\w-]+)=(.+?)(?::(acdc|emidec|project|[^:]+\.json))?$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected NAME=DIR[:LABELS] (LABELS: acdc, emidec, project or a JSON file), got "${value}".`);
  return [...previous, { name: m[1], dir: m[2], labels: m[3] ?? 'acdc' }];
}

function parseStudies(value: string): StudyName[] {
  if (value === 'none') return [];
  const names = value.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(STUDIES as readonly string[]).includes(n));
  if (bad.length > 0) throw new InvalidArgumentError(`unknown studies ${bad.join(', ')}; choose from ${STUDIES.join(', ')} or none.`);
  return names as StudyName[];
}

/** Runs an experiment with progress bars; SIGINT/SIGTERM stop it resumably (exit 130). */
export async function runWithProgress(opts: ExperimentOptions): Promise<ExperimentResults | undefined> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let bar: ProgressBar | undefined;
  let barLabel = '';
  const started = performance.now();
  try {
    return await runExperiment({
      ...opts,
      signal: controller.signal,
      log: (m) => {
        bar?.done();
        bar = undefined;
        process.stderr.write(`[${formatSeconds((performance.now() - started) / 1000)}] ${m}\n`);
      },
      onTrainProgress: (label, p) => {
        if (!bar || barLabel !== label) {
          bar?.done();
          bar = progressBar(`  ${label}`);
          barLabel = label;
        }
        const member = p.members > 1 ? `member ${p.member + 1}/${p.members} ` : '';
        bar.update(p.step, p.steps, `${member}loss ${p.loss.toFixed(3)} ${p.phase} ETA ${formatSeconds(p.eta)}`);
      },
    });
  } catch (err) {
    if (err instanceof InterruptedError) {
      process.stderr.write(`\n${err.message}\n`);
      process.exitCode = 130;
      return undefined;
    }
    throw err;
  } finally {
    bar?.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The short table printed at the end: Dice, ECE-ROI and the warning score's slice failure-detection AUROC per method and domain. */
function shortTable(r: ExperimentResults): Table {
  return {
    columns: [
      { label: 'method', align: 'left' },
      { label: 'domain', align: 'left' },
      { label: 'Dice LV/MYO/RV' },
      { label: 'ECE-ROI' },
      { label: 'warning score', align: 'left' },
      { label: 'fail-AUROC' },
    ],
    rows: r.rows.map((row) => {
      const st = row.summary.all.structures;
      return [
        textCell(row.method),
        textCell(row.domain),
        textCell([st.LV, st.MYO, st.RV].map((s) => fmt(s.dice.mean, 2)).join('/')),
        num(row.summary.calibration?.roi.ece.value, 4),
        textCell(row.warningScore),
        num(row.warningFailure?.slice.auroc.value, 2),
      ];
    }),
  };
}

async function finish(results: ExperimentResults | undefined, out: string): Promise<void> {
  if (!results) return;
  const report = await writeReport({ in: out });
  process.stdout.write(
    `${tableText(shortTable(results))}\n\nreport:  ${report.html}\nresults: ${join(out, 'results.md')} (JSON: ${join(out, 'results.json')})\n`,
  );
}

export function registerExperimentCommands(program: Command): void {
  program
    .command('experiment')
    .description('train every method, evaluate in and out of domain, run the studies (resumable)')
    .addOption(new Option('--preset <name>', 'demo, cpu or full').choices(Object.keys(PRESETS)).makeOptionMandatory())
    .option('--data <dir>', 'ACDC-layout training data (cpu, full)', undefined)
    .option('--ood <name=dir[:labels]>', 'an out-of-domain data set (repeatable; replaces the preset’s real ones)', parseOod)
    .option('--studies <list>', `studies to run: ${STUDIES.join(',')} or none (default: the preset's)`, parseStudies)
    .option('--steps <k>', 'override K, the steps per network', integerIn(1, 10_000_000, 'must be a positive integer'))
    .option('--config <file>', "training-config fields (JSON) to override the preset's")
    .requiredOption('--out <dir>', 'output directory (rerun the same command to resume)')
    .addOption(deviceOption())
    .action(async (o: { preset: 'demo' | 'cpu' | 'full'; data?: string; ood?: ExperimentOptions['ood']; studies?: StudyName[]; steps?: number; config?: string; out: string; device: string }) => {
      const data = o.preset === 'demo' ? undefined : resolve(o.data ?? join(DEFAULT_DATA(), 'acdc'));
      const config = o.config ? readJsonFile(o.config, z.record(z.string(), z.unknown()), 'config override') : undefined;
      const results = await runWithProgress({ preset: o.preset, out: o.out, data, ood: o.ood, studies: o.studies, steps: o.steps, config, device: o.device });
      await finish(results, o.out);
    });

  program
    .command('demo')
    .description('the demo: phantoms, every method, evaluation in and out of domain, the report')
    .option('--out <dir>', 'output directory', 'hmcseg-demo')
    .action(async (o: { out: string }) => {
      const started = performance.now();
      const results = await runWithProgress({ preset: 'demo', out: o.out });
      await finish(results, o.out);
      if (results) process.stdout.write(`demo finished in ${formatSeconds((performance.now() - started) / 1000)}\n`);
    });
}
