/**
 * Tests that need something optional — the real data sets (../shared/data, or $HMCSEG_DATA) or
 * PyTorch (`python3 -c 'import torch'`) — go through one gate: present, they run; absent, they
 * are skipped with the reason printed; absent under HMCSEG_REQUIRE_OPTIONAL=1 (as .ci/run sets),
 * they fail with that reason, so CI cannot pass by skipping them.
 *
 * @example
 * const data = realData();
 * data.describe('the real data sets', () => { it('…', () => openDataset(join(data.root, 'acdc'))); });
 * pytorch().it('matches PyTorch', () => { … });
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'vitest';

/** Set to 1 to make a missing optional dependency fail its tests instead of skipping them. */
export const REQUIRE_OPTIONAL_VAR = 'HMCSEG_REQUIRE_OPTIONAL';

export interface Optional {
  /** Whether the dependency is present. */
  readonly available: boolean;
  /** Why it is missing; '' when present. */
  readonly reason: string;
  /** `it` when present; otherwise a skipped test (reason printed), or a failing one when required. */
  it(name: string, fn: () => unknown, timeout?: number): void;
  /** `describe` when present; otherwise the body is not run (it may read the dependency). */
  describe(name: string, fn: () => void): void;
}

function required(): boolean {
  return process.env[REQUIRE_OPTIONAL_VAR] === '1';
}

/** The gate for one dependency: `missing` is null when it is present, else why it is not. */
export function optional(what: string, missing: string | null): Optional {
  if (missing === null) return { available: true, reason: '', it: (n, fn, t) => it(n, fn, t), describe: (n, fn) => describe(n, fn) };
  const reason = `${what} missing: ${missing}`;
  const fail = (): never => {
    throw new Error(`${reason} (${REQUIRE_OPTIONAL_VAR}=1: tests that need it must run)`);
  };
  const skip = (name: string): void => {
    console.warn(`SKIPPED "${name}": ${reason} (set ${REQUIRE_OPTIONAL_VAR}=1 to fail instead)`);
    it.skip(`${name} [skipped: ${reason}]`, () => {});
  };
  return {
    available: false,
    reason,
    it: (name) => (required() ? it(name, fail) : skip(name)),
    describe: (name) => describe(name, () => (required() ? it(`needs ${what}`, fail) : skip(name))),
  };
}

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** The real data sets: $HMCSEG_DATA, else ../shared/data beside the checkout; `root` is that folder. */
export function realData(): Optional & { readonly root: string } {
  const root = process.env.HMCSEG_DATA ?? resolve(repoRoot, '../shared/data');
  const absent = ['acdc', 'emidec'].filter((d) => !existsSync(join(root, d)));
  const missing = absent.length === 0 ? null : `${root} has no ${absent.join('/, ')}/ (set HMCSEG_DATA to the folder that holds acdc/ and emidec/)`;
  return { ...optional('real data', missing), root };
}

/** The Python used for PyTorch comparisons (the system one, whose torch shares libtorch). */
export const PYTHON = '/usr/bin/python3';

const importable = new Map<string, string | null>();

/** PyTorch (and any other `modules`) importable by {@link PYTHON}. */
export function pytorch(modules: readonly string[] = ['torch']): Optional {
  const key = modules.join(', ');
  if (!importable.has(key)) {
    const r = existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', `import ${key}`], { encoding: 'utf8' }) : null;
    const lastLine = (r?.stderr ?? '').trim().split('\n').pop();
    importable.set(key, r === null ? `${PYTHON} not found` : r.status === 0 ? null : `${PYTHON} -c 'import ${key}' failed (${lastLine})`);
  }
  return optional(`Python ${key}`, importable.get(key)!);
}
