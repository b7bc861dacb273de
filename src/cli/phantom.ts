/**
 * `hmcseg phantom`: writes a synthetic data set in the ACDC layout.
 *
 *   hmcseg phantom --out DIR --cases N --contrast ssfp|t1map|t2map --seed S [--size 128]
 */
import { Command, Option } from 'commander';
import { integerIn } from './args.js';
import { PHANTOM_CONTRASTS, writePhantomDataset, type PhantomContrast } from '../data/phantom/index.js';

interface PhantomCliOptions {
  readonly out: string;
  readonly cases: number;
  readonly contrast: PhantomContrast;
  readonly seed: number;
  readonly size: number;
  readonly slices?: number;
  readonly overwrite?: boolean;
}

/**
 * Adds the `phantom` subcommand to `program`. Prints the data set summary (without the per-case
 * list) as one JSON line on success.
 */
export function registerPhantomCommand(program: Command): void {
  program
    .command('phantom')
    .description('write a synthetic cardiac short-axis data set (ACDC layout, labels 1 RV, 2 MYO, 3 LV)')
    .requiredOption('--out <dir>', 'output directory (must not exist or be empty, unless --overwrite)')
    .requiredOption('--cases <n>', 'number of patients, each with an ED and an ES frame', integerIn(1, 999, 'must be an integer in 1..999'))
    .addOption(
      new Option('--contrast <name>', 'ssfp (bSSFP cine), t1map or t2map (values in ms)')
        .choices(PHANTOM_CONTRASTS)
        .makeOptionMandatory(),
    )
    .requiredOption('--seed <s>', 'random seed (integer)', integerIn(0, 2 ** 32 - 1, 'must be an integer in 0..4294967295'))
    .option('--size <px>', 'pixels per side', integerIn(16, 1024, 'must be an integer in 16..1024'), 128)
    .option('--slices <n>', 'slices per case (default: 6-10, drawn per case)', integerIn(1, 64, 'must be an integer in 1..64'))
    .option('--overwrite', 'replace a non-empty output directory')
    .action(function (this: Command, o: PhantomCliOptions) {
      let summary;
      try {
        summary = writePhantomDataset({
          out: o.out,
          cases: o.cases,
          contrast: o.contrast,
          seed: o.seed,
          size: o.size,
          slices: o.slices,
          overwrite: o.overwrite === true,
        });
      } catch (err) {
        if (err instanceof RangeError || err instanceof TypeError) this.error(`error: ${err.message}`);
        throw err;
      }
      const { cases: _perCase, ...rest } = summary;
      process.stdout.write(`${JSON.stringify({ out: o.out, ...rest })}\n`);
    });
}
