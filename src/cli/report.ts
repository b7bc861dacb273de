/**
 * `hmcseg report`: renders an experiment output directory as a self-contained HTML report and a
 * Markdown summary, from the saved results only.
 *
 *   hmcseg report --in DIR [--out FILE.html]
 */
import type { Command } from 'commander';
import { writeReport } from '../report/index.js';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('render an experiment output directory (results.json, evaluations/, examples/) as report.html and report.md')
    .requiredOption('--in <dir>', 'experiment output directory')
    .option('--out <file>', 'HTML file (default: DIR/report.html); the Markdown and report-figures/ go beside it')
    .action(async (o: { in: string; out?: string }) => {
      const files = await writeReport({ in: o.in, out: o.out });
      process.stdout.write(`report: ${files.html}\n        ${files.markdown} (${files.figures.length} figures)\n`);
    });
}
