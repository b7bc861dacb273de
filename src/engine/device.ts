/**
 * Devices: `'cpu'` (the default), `'cuda'` (the current CUDA device) or `'cuda:N'`. Every function
 * that creates or moves a tensor checks its device here first, so that asking for CUDA where there
 * is none is an error that says what is missing, not a libtorch dispatch message.
 */
import { binding } from './binding.js';

const B = binding();

let built: boolean | undefined;

/** Whether this libtorch has CUDA support (libtorch_cuda loaded), with or without a GPU. */
export function cudaBuilt(): boolean {
  built ??= B.cudaBuilt();
  return built;
}

/** The number of CUDA devices visible (0 without a CUDA libtorch or without a GPU). */
export function cudaDeviceCount(): number {
  return B.cudaDeviceCount();
}

/** Whether `'cuda'` can be used: a CUDA libtorch and at least one visible GPU. */
export function cudaAvailable(): boolean {
  return cudaDeviceCount() > 0;
}

/** 'cuda' when libtorch was built with CUDA and a GPU is present, else 'cpu'. */
export function defaultDevice(): 'cuda' | 'cpu' {
  return cudaAvailable() ? 'cuda' : 'cpu';
}

const CUDA = /^cuda(?::(0|[1-9][0-9]*))?$/;

/**
 * Checks a device string for `op` and returns it. A malformed name is a TypeError; `cuda` without
 * a CUDA libtorch, without a visible GPU or with an index past the last GPU is an Error naming
 * what is missing.
 */
export function checkDevice(device: string, op: string): string {
  if (device === 'cpu') return device;
  const m = typeof device === 'string' ? CUDA.exec(device) : null;
  if (!m) throw new TypeError(`${op}: device must be 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(device)}`);
  if (!cudaBuilt()) {
    throw new Error(
      `${op}: device '${device}' needs a CUDA build of libtorch, and this one has no CUDA support ` +
        '(libtorch_cuda is not linked; build the addon against a CUDA libtorch: LIBTORCH=... or a CUDA torch for Python)',
    );
  }
  const count = cudaDeviceCount();
  if (count === 0) {
    throw new Error(`${op}: device '${device}': libtorch has CUDA but no GPU is visible (check the driver and CUDA_VISIBLE_DEVICES)`);
  }
  const index = m[1] === undefined ? 0 : Number(m[1]);
  if (index >= count) {
    throw new Error(`${op}: device '${device}' does not exist: ${count} CUDA device${count === 1 ? '' : 's'} visible (cuda:0..cuda:${count - 1})`);
  }
  return device;
}
