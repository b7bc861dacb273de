/**
 * Divergence: a NaN or infinite loss, gradient or weight stops the run with the step named
 * ({@link DivergenceError}), or, with `optim.onDivergence: "rollback"`, goes back to the last
 * checkpoint with η halved, at most {@link MAX_ROLLBACKS} times ({@link withRollback}).
 */

/** A NaN or infinite loss, gradient or weight. */
export class DivergenceError extends Error {
  constructor(
    readonly step: number,
    readonly what: string,
    readonly checkpointStep: number | null,
    /** The factor on the configured η of the run that diverged (1 before any roll-back). */
    readonly lrScale = 1,
  ) {
    super(
      `training diverged at step ${step}: ${what} is not finite` +
        (checkpointStep === null ? ' (no checkpoint was written yet)' : `; the last good checkpoint (step ${checkpointStep}) is kept`),
    );
    this.name = 'DivergenceError';
  }
}

/** Roll-backs per network before a divergence stops the run. */
export const MAX_ROLLBACKS = 3;

/**
 * Runs `attempt` and, when `rollback` is on and it throws a {@link DivergenceError}, runs it again
 * with half the η scale of the attempt that diverged (each divergence halves η once), at most
 * {@link MAX_ROLLBACKS} times; `onRollback` hears of each. `attempt` gets the η scale to use
 * (undefined the first time: the scale kept in its checkpoint, 1 without one) and whether it is
 * the first attempt. Anything else it throws, and the last divergence, propagate.
 */
export async function withRollback<T>(
  attempt: (lrScale: number | undefined, first: boolean) => Promise<T>,
  rollback: boolean,
  onRollback: (err: DivergenceError, rollbacks: number, lrScale: number) => void,
): Promise<T> {
  let lrScale: number | undefined;
  for (let rollbacks = 0; ; rollbacks++) {
    try {
      return await attempt(lrScale, rollbacks === 0);
    } catch (err) {
      if (!(err instanceof DivergenceError) || !rollback || rollbacks >= MAX_ROLLBACKS) throw err;
      lrScale = err.lrScale / 2;
      onRollback(err, rollbacks + 1, lrScale);
    }
  }
}
