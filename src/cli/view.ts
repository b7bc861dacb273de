/**
 * `hmcseg view`: a browser viewer for a prediction directory, served on 127.0.0.1.
 *
 *   hmcseg view --pred DIR [--gt DIR] [--labels MAP] [--images DIR] [--model model.onnx] [--threshold T] [--port P]
 *
 * Prints the URL and serves until Ctrl-C. The page shows each case's image with its segmentation,
 * entropy and mutual-information maps (NiiVue), the slices sorted by warning score (flagged above
 * the threshold; per-slice Dice with --gt), and segments a dropped NIfTI in the browser with the
 * ONNX model of `hmcseg export`, with the warning score and post-processing of the listed cases.
 */
import { Command, InvalidArgumentError } from 'commander';
import { startViewServer, type ViewServerOptions } from '../view/index.js';
import { integerIn } from './args.js';

function parseFinite(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`must be a number, got "${value}".`);
  return n;
}

export function registerViewCommand(program: Command): void {
  program
    .command('view')
    .description('browse predictions in a browser: image, segmentation, uncertainty maps, slices sorted by warning score')
    .requiredOption('--pred <dir>', 'prediction directory (hmcseg predict --out)')
    .option('--gt <dir>', 'ground-truth data set, for per-slice Dice')
    .option('--labels <map>', 'label map of the ground truth: acdc, emidec, project or a JSON file')
    .option('--images <dir>', 'directory of the input images (default: the input paths recorded by hmcseg predict)')
    .option('--model <file>', 'ONNX model (hmcseg export) for segmenting a dropped volume in the browser')
    .option('--threshold <score>', 'flag slices whose warning score exceeds this (default: the 90th percentile)', parseFinite)
    .option('--port <p>', 'port on 127.0.0.1 (0: any free one)', integerIn(0, 65535, 'must be an integer in 0..65535'), 0)
    .action(async (o: ViewServerOptions) => {
      const server = await startViewServer(o);
      const missing = server.cases.filter((c) => c.image === null);
      for (const c of missing) process.stderr.write(`hmcseg view: ${c.name}: no image (${c.imageMissing})\n`);
      process.stdout.write(`${JSON.stringify({ url: server.url, cases: server.cases.length })}\n`);
      await new Promise<void>((done) => {
        const stop = () => void server.close().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
