#!/usr/bin/env node
/**
 * The `hmcseg` command line: a front-end over the library. Each subcommand lives in its own module.
 * Errors from the library (bad files, bad config) are printed as one line and exit with status 1.
 */
import { Command } from 'commander';
import { registerPhantomCommand } from './phantom.js';
import { registerTrainCommands } from './train.js';
import { registerPredictCommand } from './predict.js';
import { registerExperimentCommands } from './experiment.js';
import { registerEvaluateCommand } from './evaluate.js';
import { registerReportCommand } from './report.js';
import { registerSmokeCommand } from './smoke.js';
import { registerViewCommand } from './view.js';
import { registerExportCommand } from './export.js';

const program = new Command();
program
  .name('hmcseg')
  .description('Trustworthy cardiac MRI segmentation: Bayesian U-Nets (HMC-CP, MC Dropout, Deep Ensembles) on libtorch')
  .version('0.1.0')
  .showHelpAfterError();

registerPhantomCommand(program);
registerTrainCommands(program);
registerPredictCommand(program);
registerEvaluateCommand(program);
registerExperimentCommands(program);
registerReportCommand(program);
registerSmokeCommand(program);
registerViewCommand(program);
registerExportCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`hmcseg: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.HMCSEG_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}
