/** A one-line progress bar for long runs: redrawn in place on a terminal, a line per few percent otherwise. */

export interface ProgressBar {
  /** Draws `done` of `total` with a label and a status text. */
  update(done: number, total: number, status: string): void;
  /** Ends the line. */
  done(): void;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const tty = stream.isTTY === true;
  let lastPct = -1;
  let open = false;
  return {
    update(done, total, status) {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const width = 24;
      const filled = Math.round(frac * width);
      const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${status}`;
      if (tty) {
        stream.write(`\r\x1b[2K${line}`);
        open = true;
      } else {
        const pct = Math.floor(frac * 20);
        if (pct !== lastPct || done === total) {
          lastPct = pct;
          stream.write(`${line}\n`);
        }
      }
    },
    done() {
      if (tty && open) stream.write('\n');
      open = false;
    },
  };
}
