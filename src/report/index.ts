/**
 * The report: renders an experiment's saved results (results.json, evaluations/, examples/) as a
 * self-contained HTML file and a Markdown summary with SVG figures beside it, and the results
 * tables as results.md. It reads and draws; it never recomputes a metric.
 */
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { buildReport } from './build.js';
import { reportHtml } from './html.js';
import { loadReportInput } from './load.js';
import { reportMarkdown, resultsMarkdown } from './markdown.js';

export { loadReportInput, type ReportCase, type ReportInput, type SavedEvaluation } from './load.js';
export { resultsMarkdown } from './markdown.js';
export { coveragePoints, pooledReliability, slicePoints, warningFailureOf, type CoveragePoint, type ReliabilityBin, type SlicePoint } from './derive.js';
export { encodePng, PNG_SIGNATURE, type RasterImage } from './png.js';
export { methodColour, prefixSvgIds } from './charts.js';
export { cropBox, renderExample, type CropBox, type ExampleRaster } from './slices.js';
export { fmt, num, tableMarkdown, tableText, textCell, type Cell, type Column, type Table } from './table.js';

export interface ReportOptions {
  /** The experiment output directory. */
  readonly in: string;
  /** The HTML file (default `IN/report.html`). The Markdown goes beside it (`.md`), figures in `report-figures/`. */
  readonly out?: string;
}

/** The files a report run wrote. */
export interface ReportFiles {
  readonly html: string;
  readonly markdown: string;
  /** `IN/results.md`: the results tables. */
  readonly results: string;
  readonly figures: readonly string[];
}

/**
 * Writes the report of an experiment output directory.
 *
 * @throws {Error} naming the file when results.json is missing or malformed (see {@link loadReportInput})
 * @example
 * const files = await writeReport({ in: 'hmcseg-demo' }); // hmcseg-demo/report.html, report.md, report-figures/*.svg, results.md
 */
export async function writeReport(opts: ReportOptions): Promise<ReportFiles> {
  const dir = resolve(opts.in);
  const html = resolve(opts.out ?? join(dir, 'report.html'));
  const markdown = join(dirname(html), `${basename(html, extname(html))}.md`);
  const figureDir = join(dirname(html), 'report-figures');
  const input = loadReportInput(dir);
  const model = await buildReport(input);
  const figures = [...model.domains.flatMap((d) => d.figures), ...model.studies.figures].map((f) => {
    const path = join(figureDir, `${f.id}.svg`);
    writeFileAtomic(path, f.svg);
    return path;
  });
  writeFileAtomic(html, reportHtml(model));
  writeFileAtomic(markdown, reportMarkdown(model, relative(dirname(markdown), figureDir) || '.', basename(html)));
  const results = join(dir, 'results.md');
  writeFileAtomic(results, resultsMarkdown(input.results));
  return { html, markdown, results, figures };
}
