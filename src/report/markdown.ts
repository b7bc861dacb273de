/** The report's key tables as Markdown, with links to the figures written beside it. */
import type { ReportModel } from './build.js';
import { columnNotes, type Table } from './tables.js';

const cellText = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A table as GitHub-flavoured Markdown. */
export function tableMarkdown(t: Table): string {
  const lines = [
    `**${cellText(t.title)}**`,
    '',
    `| ${t.columns.map((c) => cellText(c.label)).join(' | ')} |`,
    `|${t.columns.map((c) => (c.align === 'left' ? ':---' : '---:')).join('|')}|`,
    ...t.rows.map((row) => `| ${row.map((c) => cellText(c.text)).join(' | ')} |`),
  ];
  return lines.join('\n');
}

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
