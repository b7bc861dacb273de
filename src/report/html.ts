/**
 * The report as one self-contained HTML file: inline CSS, inline SVG charts, PNG pictures as
 * `data:` URIs; no script, no external resource.
 */
import type { DomainSection, ExampleImage, Figure, ReportModel } from './build.js';
import { pngDataUri } from './png.js';
import { CLASS_COLOURS } from './slices.js';
import { bestRows, columnNotes, type Column, type Table } from './table.js';
import { WITHOUT_CURVE } from './load.js';
import { DEFAULT_WARNING_SCORE } from '../uncertainty/index.js';

/** Escapes text for HTML content and attribute values. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const STYLE = `
body { font-family: Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #f7f7f7; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 24px 48px; background: white; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
p.meta { color: #555; margin: 2px 0; font-size: 13px; }
nav { font-size: 13px; margin: 12px 0; }
nav a { margin-right: 12px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 14px; }
caption { text-align: left; font-weight: bold; font-size: 13px; padding: 4px 0; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; border-bottom: 2px solid #ccc; }
th.left, td.left { text-align: left; }
td.best { font-weight: bold; background: #eef6ee; }
figure { margin: 12px 0 20px; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 12.5px; color: #444; max-width: 900px; margin-top: 4px; }
.examples { display: flex; flex-wrap: wrap; gap: 14px; }
.example { border: 1px solid #ddd; padding: 6px; background: #fafafa; }
.example img { image-rendering: pixelated; display: block; }
.example .panels { display: flex; font-size: 11px; color: #555; }
.example .panels span { text-align: center; }
.example .info { font-size: 11.5px; margin-top: 4px; }
.kind-failure { color: #b00020; font-weight: bold; }
.kind-correct { color: #1b6e1b; font-weight: bold; }
.legend { font-size: 12px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin: 4px 0 10px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; border: 1px solid #888; }
.colourbar { display: inline-block; width: 120px; height: 12px; vertical-align: middle; margin: 0 4px; border: 1px solid #888; }
.note { font-size: 12.5px; color: #555; }
`;

function cellClass(col: Column | undefined, best: boolean): string {
  const classes = [...(col?.align === 'left' ? ['left'] : []), ...(best ? ['best'] : [])];
  return classes.length ? ` class="${classes.join(' ')}"` : '';
}

function tableHtml(t: Table): string {
  const best = bestRows(t);
  const head = t.columns
    .map((c) => `<th${c.note ? ` title="${escapeHtml(c.note)}"` : ''}${c.align === 'left' ? ' class="left"' : ''}>${escapeHtml(c.label)}</th>`)
    .join('');
  const body = t.rows
    .map(
      (row, i) =>
        `<tr>${row.map((cell, j) => `<td${cellClass(t.columns[j], best[j].has(i))}>${escapeHtml(cell.text)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<div class="table-wrap"><table>${t.title === undefined ? '' : `<caption>${escapeHtml(t.title)}</caption>`}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function figureHtml(f: Figure): string {
  return `<figure id="${escapeHtml(f.id)}">${f.svg}<figcaption>${escapeHtml(f.caption)}</figcaption></figure>`;
}

function exampleHtml(img: ExampleImage): string {
  const e = img.example;
  const panel = (img.width - 12) / 3;
  const dice = Number.isFinite(e.meanDice) ? e.meanDice.toFixed(3) : '–';
  const score = Number.isFinite(e.score) ? e.score.toFixed(3) : '–';
  return (
    `<div class="example"><div class="panels">` +
    ['truth', 'prediction', 'entropy'].map((p, i) => `<span style="width:${panel}px;margin-left:${i === 0 ? 0 : 6}px">${p}</span>`).join('') +
    `</div><img src="${pngDataUri(img.png)}" width="${img.width}" height="${img.height}" alt="${escapeHtml(`${e.case} slice ${e.z}`)}">` +
    `<div class="info"><span class="kind-${e.kind}">${e.kind}</span> · ${escapeHtml(e.case)} z=${e.z} · Dice ${dice} · score ${score}</div>` +
    `<div class="info note">crop ${img.crop.size}² px at (${img.crop.x0}, ${img.crop.y0}), ×${img.scale}</div></div>`
  );
}

const rgb = (c: readonly number[]) => `rgb(${c.join(',')})`;

function legendHtml(): string {
  const names = { 1: 'LV', 2: 'MYO', 3: 'RV' } as const;
  const classes = ([1, 2, 3] as const)
    .map((c) => `<span><span class="swatch" style="background:${rgb(CLASS_COLOURS[c])}"></span>${names[c]}</span>`)
    .join('');
  return (
    `<div class="legend">${classes}<span>entropy 0<span class="colourbar" style="background:linear-gradient(to right,#000004,#57106e,#bc3754,#f98e09,#fcffa4)"></span>ln 4</span></div>`
  );
}

function domainHtml(d: DomainSection): string {
  const id = `domain-${d.name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  const parts = [
    `<section id="${escapeHtml(id)}"><h2>${escapeHtml(d.name)} <small class="note">(${escapeHtml(d.kind)}${d.cases === null ? '' : `, ${d.cases} cases`})</small></h2>`,
    ...d.tables.map(tableHtml),
    ...d.figures.map(figureHtml),
  ];
  if (d.figures.length === 0) parts.push('<p class="note">No per-case evaluation files for this domain: no reliability, scatter or risk–coverage plots.</p>');
  if (d.examples.length > 0) {
    parts.push(
      `<h3>Example slices — ${escapeHtml(d.name)}</h3>`,
      `<p class="note">Per method: the most confident correct slices and the most uncertain failed slices (mean Dice below the threshold), by the ${DEFAULT_WARNING_SCORE} score that the evaluation predicts with, whatever the method's warning score. Left: ground truth; middle: prediction; right: predictive entropy; cropped around the structures (12-pixel margin) and upscaled by pixel repetition.</p>`,
      legendHtml(),
    );
    for (const m of d.examples) {
      parts.push(`<h3>${escapeHtml(m.method)}</h3><div class="examples">${m.images.map(exampleHtml).join('')}</div>`);
    }
  }
  parts.push('</section>');
  return parts.join('\n');
}

function glossary(m: ReportModel): string {
  const notes = columnNotes(m.domains.flatMap((d) => d.tables));
  if (notes.length === 0) return '';
  return (
    `<details class="note" open><summary>Columns</summary><p>${notes.map((n) => `<b>${escapeHtml(n.label)}</b>: ${escapeHtml(n.note)}`).join('; ')}. ` +
    'Bold cells: the best value in the column (ties all bold).</p></details>'
  );
}

/** The report as a self-contained HTML document. */
export function reportHtml(m: ReportModel): string {
  const nav = [
    ...m.domains.map((d) => `<a href="#domain-${escapeHtml(d.name.replace(/[^A-Za-z0-9_-]/g, '-'))}">${escapeHtml(d.name)}</a>`),
    '<a href="#studies">studies</a>',
  ].join('');
  const studies =
    m.studies.table === null
      ? '<p class="note">This run has no studies.</p>'
      : [...m.studies.figures.map(figureHtml), tableHtml(m.studies.table)].join('\n');
  const notes = [
    ...(m.missing.length ? [`<p class="note">Files named by results.json but not found (their figures are left out): ${m.missing.map(escapeHtml).join(', ')}.</p>`] : []),
    ...(m.withoutCurve.length ? [`<p class="note">${escapeHtml(WITHOUT_CURVE)}: ${m.withoutCurve.map(escapeHtml).join(', ')}.</p>`] : []),
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>hmcseg report — ${escapeHtml(m.preset)}</title><style>${STYLE}</style></head>
<body><main>
<h1>hmcseg experiment report — preset ${escapeHtml(m.preset)}</h1>
<p class="meta">${escapeHtml(m.description)}</p>
<p class="meta">Run ${escapeHtml(m.createdAt)}${m.machine ? ` on ${escapeHtml(m.machine)}` : ''}. Methods: ${m.methods.map(escapeHtml).join(', ')}.</p>
<p class="meta">Every number is read from the saved results (results.json and evaluations/); the report recomputes nothing. '–' marks a value that could not be computed (e.g. HD95 of a structure missing from the prediction).</p>
<nav>${nav}</nav>
${glossary(m)}
${notes}
${m.domains.map(domainHtml).join('\n')}
<section id="studies"><h2>Studies (validation split)</h2>
${studies}
</section>
</main></body></html>
`;
}
