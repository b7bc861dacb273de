/**
 * The Markdown renderings: the report's key tables with links to the figures written beside it
 * (report.md), and the results tables (results.md).
 */
import type { ExperimentResults } from '../experiment/index.js';
import type { ReportModel } from './build.js';
import { columnNotes, tableMarkdown } from './table.js';
import { WITHOUT_CURVE } from './load.js';
import { resultsDomainTable, resultsStudiesTable } from './tables.js';

/**
 * The report as Markdown.
 *
 * @param figureDir path of the figure files relative to the Markdown file (each figure is `ID.svg`)
 * @param htmlName the HTML report's file name, linked for the example slices
 */
export function reportMarkdown(m: ReportModel, figureDir: string, htmlName: string): string {
  const link = (id: string, title: string) => `![${title}](${figureDir}/${id}.svg)`;
  const out: string[] = [
    `# hmcseg experiment report — preset ${m.preset}`,
    '',
    m.description,
    '',
    `Run ${m.createdAt}${m.machine ? ` on ${m.machine}` : ''}. Every number is read from the saved results; '–' marks a value that could not be computed. ` +
      `Example slices with segmentation and uncertainty overlays are in [${htmlName}](${htmlName}).`,
    '',
  ];
  const notes = columnNotes(m.domains.flatMap((d) => d.tables));
  if (notes.length) out.push('Columns:', '', ...notes.map((n) => `- ${n.label}: ${n.note}`), '');
  if (m.missing.length) out.push(`Files named by results.json but not found: ${m.missing.join(', ')}.`, '');
  if (m.withoutCurve.length) out.push(`${WITHOUT_CURVE}: ${m.withoutCurve.join(', ')}.`, '');
  for (const d of m.domains) {
    out.push(`## ${d.name} (${d.kind}${d.cases === null ? '' : `, ${d.cases} cases`})`, '');
    for (const t of d.tables) out.push(tableMarkdown(t), '');
    for (const f of d.figures) out.push(link(f.id, f.title), '', `*${f.caption}*`, '');
  }
  out.push('## Studies (validation split)', '');
  if (m.studies.table === null) out.push('This run has no studies.', '');
  else {
    for (const f of m.studies.figures) out.push(link(f.id, f.title), '', `*${f.caption}*`, '');
    out.push(tableMarkdown(m.studies.table), '');
  }
  return `${out.join('\n')}\n`;
}

/** The results tables as Markdown (results.md): one per domain, then the study points. */
export function resultsMarkdown(r: ExperimentResults): string {
  const lines: string[] = [`# hmcseg experiment: preset ${r.preset}`, '', r.description, ''];
  for (const d of r.domains) {
    const rows = r.rows.filter((x) => x.domain === d.name);
    if (rows.length === 0) continue;
    lines.push(`## ${d.name} (${d.kind}, ${rows[0].summary.cases} cases)`, '', tableMarkdown(resultsDomainTable(rows), { aligned: false }), '');
  }
  if (r.studies.length > 0) lines.push('## Studies (validation split)', '', tableMarkdown(resultsStudiesTable(r.studies), { aligned: false }), '');
  return `${lines.join('\n')}\n`;
}
