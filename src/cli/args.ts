/** Argument parsers shared by the subcommands. */
import { InvalidArgumentError, Option } from 'commander';

/** Parses an integer in [lo, hi]; `what` says what is expected ("must be an integer in 1..999"). */
export function integerIn(lo: number, hi: number, what: string): (value: string) => number {
  return (value: string) => {
    if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${what}, got "${value}".`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < lo || n > hi) throw new InvalidArgumentError(`${what}, got "${value}".`);
    return n;
  };
}

/** `--device`, shared by train, predict, experiment and smoke; the library checks it (checkDevice). */
export function deviceOption(): Option {
  return new Option('--device <device>', "where to compute: 'cpu', 'cuda' or 'cuda:N'").default('cpu');
}
