/**
 * The training log, `train.jsonl` in the output directory: one JSON line after every step (the
 * progress: member, steps done, loss, η, T, phase, ...) and one per event (`{"event": "divergence",
 * member, step, ...}` before a roll-back, `step` the update that diverged).
 *
 * A resumed run first cuts the log back to its checkpoint ({@link truncateTrainLog}), so that after
 * any number of kills and resumes the log holds each step exactly once. The step's line is written
 * before its checkpoint: a kill between the two leaves a line that the resume cuts, never a
 * checkpointed step without its line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendFileNamed, writeFileAtomic } from '../util/atomic.js';

const TRAIN_LOG = 'train.jsonl';

/** A line of the log: a step's progress, or an event (`event` set). */
export interface TrainLogLine {
  readonly member: number;
  /** Progress: updates done. Event: the update it happened at (that many were done before it). */
  readonly step: number;
  readonly event?: string;
  readonly [field: string]: unknown;
}

/** Appends lines to the log in `out`. */
export function trainLog(out: string): (line: TrainLogLine) => void {
  const path = join(out, TRAIN_LOG);
  return (line) => appendFileNamed(path, `${JSON.stringify(line)}\n`);
}

/**
 * Cuts the log in `out` back to where `member` continues from: after `stepsDone` updates of it (0
 * without a checkpoint). Keeps the lines of earlier members, this member's steps up to `stepsDone`
 * and its events before it; drops the rest and a last line cut short by a kill. The file is
 * replaced atomically, so another kill leaves the old log or the new one.
 *
 * @throws Error naming the file and line when a line other than the last is not JSON.
 */
export function truncateTrainLog(out: string, member: number, stepsDone: number): void {
  const path = join(out, TRAIN_LOG);
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const raw = text.split('\n');
  const kept: string[] = [];
  raw.forEach((l, i) => {
    if (l === '') return;
    let line: TrainLogLine;
    try {
      line = JSON.parse(l) as TrainLogLine;
    } catch {
      if (i === raw.length - 1) return; // the last line, cut short by a kill
      throw new Error(`${path}: line ${i + 1} is not JSON; remove or repair it to resume`);
    }
    const done = line.event === undefined ? line.step <= stepsDone : line.step < stepsDone;
    if (line.member < member || (line.member === member && done)) kept.push(`${l}\n`);
  });
  const cut = kept.join('');
  if (cut !== text) writeFileAtomic(path, cut);
}
