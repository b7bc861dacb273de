/**
 * The one table model (a title, columns, rows of formatted cells with the number behind each) and
 * its plain renderers: GitHub-flavoured Markdown and aligned plain text (the CLI). The HTML
 * renderer is the report's (`html.ts`). A missing, null or non-finite number shows as '–'.
 */

/** Shown for a value that is missing, null or not finite. */
export const MISSING = '–';

/** A formatted cell; `value` is what "best" is judged on (null: not comparable). */
export interface Cell {
  readonly text: string;
  readonly value: number | null;
}

export interface Column {
  readonly label: string;
  /** Which way is better, for highlighting the best row; absent: no highlight. */
  readonly better?: 'high' | 'low';
  /** A one-line explanation (HTML title, Markdown footnote). */
  readonly note?: string;
  /** Text columns are left-aligned; numbers (the default) right-aligned. */
  readonly align?: 'left' | 'right';
}

export interface Table {
  /** Shown above the table (HTML caption, bold Markdown line); absent where a heading names it. */
  readonly title?: string;
  readonly columns: readonly Column[];
  /** First cell of each row is the row label. */
  readonly rows: readonly (readonly Cell[])[];
}

/** A number that is not null, undefined, NaN or infinite. */
export const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** A number with fixed digits, or '–'. */
export function fmt(x: number | null | undefined, digits: number): string {
  return finite(x) ? x.toFixed(digits) : MISSING;
}

/** A number cell. */
export function num(x: number | null | undefined, digits: number): Cell {
  return { text: fmt(x, digits), value: finite(x) ? x : null };
}

/** A text cell (never "best"). */
export const textCell = (text: string): Cell => ({ text, value: null });

/** Rows holding the best value of each column (empty where the column has no direction, or fewer than 2 rows). */
export function bestRows(table: Table): Set<number>[] {
  return table.columns.map((col, j) => {
    const rows = new Set<number>();
    if (!col.better || table.rows.length < 2) return rows;
    const values = table.rows.map((row) => row[j]?.value ?? null).filter((v): v is number => v !== null);
    if (values.length === 0) return rows;
    const best = col.better === 'high' ? Math.max(...values) : Math.min(...values);
    table.rows.forEach((row, i) => {
      if (row[j]?.value === best) rows.add(i);
    });
    return rows;
  });
}

/** The explained columns of some tables, each label once, in order of appearance. */
export function columnNotes(tables: readonly Table[]): { readonly label: string; readonly note: string }[] {
  const seen = new Map<string, string>();
  for (const t of tables) for (const c of t.columns) if (c.note && !seen.has(c.label)) seen.set(c.label, c.note);
  return [...seen].map(([label, note]) => ({ label, note }));
}

const markdownCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * A table as GitHub-flavoured Markdown: the title in bold (when it has one), the header, and a
 * delimiter row that aligns text columns left and numbers right (`aligned: false`: plain `---`).
 */
export function tableMarkdown(t: Table, opts: { readonly aligned?: boolean } = {}): string {
  const delimiter = (c: Column) => (opts.aligned === false ? '---' : c.align === 'left' ? ':---' : '---:');
  const lines = [
    ...(t.title === undefined ? [] : [`**${markdownCell(t.title)}**`, '']),
    `| ${t.columns.map((c) => markdownCell(c.label)).join(' | ')} |`,
    `|${t.columns.map(delimiter).join('|')}|`,
    ...t.rows.map((row) => `| ${row.map((c) => markdownCell(c.text)).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/**
 * A table as plain text for a terminal: the title (when it has one), then columns padded to their
 * widest cell and two spaces apart, text left-aligned and numbers right-aligned.
 */
export function tableText(t: Table): string {
  const grid = [t.columns.map((c) => c.label), ...t.rows.map((row) => t.columns.map((_c, j) => row[j]?.text ?? ''))];
  const widths = t.columns.map((_c, j) => Math.max(...grid.map((line) => [...line[j]].length)));
  const pad = (s: string, j: number) => {
    const fill = ' '.repeat(widths[j] - [...s].length);
    return t.columns[j].align === 'left' ? s + fill : fill + s;
  };
  const lines = grid.map((line) => line.map(pad).join('  ').trimEnd());
  return [...(t.title === undefined ? [] : [t.title]), ...lines].join('\n');
}
