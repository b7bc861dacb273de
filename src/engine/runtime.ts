/** Threads, determinism, seeds and seedable random generators. */
import { availableParallelism } from 'node:os';
import { binding } from './binding.js';
import { nativeOf, tensor, wrap, type GeneratorRef } from './tensor.js';

const B = binding();

/** Sets libtorch's intra-op threads (default: the number of cores). */
export function setNumThreads(n: number = availableParallelism()): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be a positive integer, got ${n}`);
  B.setNumThreads(n);
}

export function getNumThreads(): number {
  return B.getNumThreads();
}

/**
 * Deterministic mode: libtorch raises on ops without a deterministic implementation. Together
 * with a fixed seed and thread count, a run is bit-identical on the same machine.
 */
export function setDeterministic(on: boolean): void {
  B.setDeterministic(on);
}

/** Seeds the global generators (CPU and, when present, CUDA). */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`manualSeed: seed must be a non-negative integer, got ${seed}`);
  B.manualSeed(seed);
}

const registry = new FinalizationRegistry<number>((id) => B.generatorFree(id));

/** A seeded random stream for the engine's random ops, with a state that can be saved and restored. */
export class Generator implements GeneratorRef {
  readonly id: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`Generator: seed must be a non-negative integer, got ${seed}`);
    this.id = B.generatorNew(seed);
    registry.register(this, this.id, this);
  }

  /** The generator's state as bytes (for checkpoints). */
  getState(): Uint8Array {
    return getState(this.id);
  }

  setState(state: Uint8Array): void {
    setState(this.id, state);
  }

  dispose(): void {
    registry.unregister(this);
    B.generatorFree(this.id);
  }
}

function getState(id: number): Uint8Array {
  const t = wrap(B.generatorGetState(id));
  try {
    return t.toArray() as Uint8Array;
  } finally {
    t.dispose();
  }
}

function setState(id: number, state: Uint8Array): void {
  const t = tensor(state, [state.length], { dtype: 'uint8' });
  try {
    B.generatorSetState(id, nativeOf(t));
  } finally {
    t.dispose();
  }
}
