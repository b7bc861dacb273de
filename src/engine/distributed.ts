/**
 * Data-parallel process groups on torch.distributed's c10d: a TCPStore rendezvous on rank 0 and a
 * Gloo group (CPU tensors) or, on a CUDA libtorch with NCCL, an NCCL group (CUDA tensors).
 *
 * Collectives are synchronous on the calling thread, like every engine op, and every one is waited
 * for with the group's timeout: a rank that dies (its sockets close) fails the others' next
 * collective at once, a rank that hangs fails it after `timeoutMs`; either way a
 * {@link DistributedError} names the op, this rank and the peer(s), and the group is then broken
 * (every later collective throws; `shutdown()` it). Before each collective the ranks agree on it
 * (which one, the dtype, the element count, the root) in one small allreduce: ranks that disagree
 * all get a DistributedError saying on what, and the group stays usable.
 *
 * @example
 * ```ts
 * const pg = initProcessGroup();            // torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
 * pg.broadcast(params.flat, 0);             // every rank starts from rank 0's weights
 * // ... backward into params.flatGrad ...
 * pg.allreduce(params.flatGrad, 'mean');    // the gradient averaged over the ranks
 * pg.shutdown();
 * ```
 */
import { createServer } from 'node:net';
import { binding, DTYPE_CODES, DTYPES } from './binding.js';
import { checkDevice } from './device.js';
import { nativeOf, tensor, type Tensor } from './tensor.js';

const B = binding();

export type DistributedBackend = 'gloo' | 'nccl';

/** Where a process sits in a job: what torchrun puts in the environment. */
export interface DistributedEnv {
  /** This process's rank, in 0..worldSize-1. */
  rank: number;
  /** The number of processes. */
  worldSize: number;
  /** The rank on this machine (picks the GPU for NCCL). */
  localRank: number;
  /** The host of rank 0's store. */
  masterAddr: string;
  /** The port of rank 0's store. */
  masterPort: number;
}

export interface ProcessGroupOptions extends Partial<DistributedEnv> {
  /** 'gloo' (default; CPU tensors) or 'nccl' (CUDA tensors, a CUDA libtorch with NCCL). */
  backend?: DistributedBackend;
  /** Limit of each collective, in ms (default 300,000: 5 minutes). */
  timeoutMs?: number;
  /**
   * Limit of the rendezvous (every rank started and connected), in ms (default: timeoutMs). A rank
   * that never comes fails the others after one to two of it (libtorch 1.13's store waits twice).
   */
  initTimeoutMs?: number;
  /** The environment to read what the options leave out from (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** A failed rendezvous or collective: which op, on which rank, and which peers it waited for. */
export class DistributedError extends Error {
  override readonly name = 'DistributedError';

  constructor(
    message: string,
    /** The op that failed: 'initProcessGroup', 'allreduce', 'broadcast' or 'barrier'. */
    readonly op: string,
    /** The rank that reports it. */
    readonly rank: number,
    readonly worldSize: number,
    /** The ranks it waited for: one of them died, hung or never came. */
    readonly peers: readonly number[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const DEFAULT_TIMEOUT_MS = 300_000;

const COLLECTIVES = ['allreduce', 'broadcast', 'barrier'] as const;
type Collective = (typeof COLLECTIVES)[number];

/** The backends this addon was built with ('gloo' needs Gloo's headers at build time). */
export function distributedBackends(): DistributedBackend[] {
  return B.distBackends() as DistributedBackend[];
}

type Env = Readonly<Record<string, string | undefined>>;

function intVar(env: Env, name: string, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    throw new Error(
      `initProcessGroup: environment variable ${name} is not set (torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, ` +
        'MASTER_ADDR and MASTER_PORT; or pass them as options)',
    );
  }
  const v = /^\s*[0-9]+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`initProcessGroup: ${name}=${JSON.stringify(raw)} must be an integer in ${min}..${max}`);
  }
  return v;
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`initProcessGroup: ${name} must be an integer in ${min}..${max}, got ${v}`);
  }
  return v;
}

const MAX_WORLD = 1 << 20;

/**
 * Where this process sits: each field from `given` when it is there, else from torchrun's
 * environment: `RANK`, `WORLD_SIZE`, `LOCAL_RANK` (default: the rank), `MASTER_ADDR`,
 * `MASTER_PORT`. A missing or malformed value throws, naming it.
 */
export function readTorchrunEnv(env: Env = process.env, given: Partial<DistributedEnv> = {}): DistributedEnv {
  const worldSize =
    given.worldSize === undefined ? intVar(env, 'WORLD_SIZE', 1, MAX_WORLD) : checkInt('worldSize', given.worldSize, 1, MAX_WORLD);
  const rank = given.rank === undefined ? intVar(env, 'RANK', 0, worldSize - 1) : checkInt('rank', given.rank, 0, worldSize - 1);
  const localRank =
    given.localRank !== undefined
      ? checkInt('localRank', given.localRank, 0, worldSize - 1)
      : env.LOCAL_RANK === undefined
        ? rank
        : intVar(env, 'LOCAL_RANK', 0, worldSize - 1);
  const masterAddr = given.masterAddr ?? env.MASTER_ADDR?.trim();
  if (typeof masterAddr !== 'string' || masterAddr === '') {
    throw new Error('initProcessGroup: environment variable MASTER_ADDR is not set (the host of rank 0, e.g. 127.0.0.1)');
  }
  const masterPort =
    given.masterPort === undefined ? intVar(env, 'MASTER_PORT', 1, 65535) : checkInt('masterPort', given.masterPort, 1, 65535);
  return { rank, worldSize, localRank, masterAddr, masterPort };
}

/**
 * A TCP port that is free on `host` now, for `MASTER_PORT` when this process launches the ranks
 * itself (another process may still take it before rank 0 listens).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error(`freePort: no port on ${host}`))));
    });
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Joins a process group: rank 0 serves the store at `masterAddr:masterPort` and every rank
 * connects, within `initTimeoutMs`. Options override the environment (torchrun's variables, see
 * {@link readTorchrunEnv}). Gloo listens on the loopback address when the master is local, on
 * `GLOO_SOCKET_IFNAME`'s interface when that is set, else on this machine's hostname.
 */
export function initProcessGroup(opts: ProcessGroupOptions = {}): ProcessGroup {
  const backend = opts.backend ?? 'gloo';
  if (backend !== 'gloo' && backend !== 'nccl') {
    throw new TypeError(`initProcessGroup: backend must be 'gloo' or 'nccl', got ${JSON.stringify(backend)}`);
  }
  const env = opts.env ?? process.env;
  const where = readTorchrunEnv(env, opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  checkInt('timeoutMs', timeoutMs, 1, 2 ** 31 - 1);
  const initTimeoutMs = opts.initTimeoutMs ?? timeoutMs;
  checkInt('initTimeoutMs', initTimeoutMs, 1, 2 ** 31 - 1);
  const built = distributedBackends();
  if (!built.includes(backend)) {
    throw new Error(
      `initProcessGroup: this addon was built without the ${backend} backend` +
        (backend === 'gloo'
          ? " (Gloo's headers were missing at build time: apt-get install libgloo-dev, then rebuild the addon)"
          : ' (it needs a CUDA libtorch with NCCL)'),
    );
  }
  if (backend === 'nccl') checkDevice(`cuda:${where.localRank}`, 'initProcessGroup');
  const iface = env.GLOO_SOCKET_IFNAME ?? '';
  const bindHost = iface === '' && isLoopback(where.masterAddr) ? '127.0.0.1' : '';
  const others = otherRanks(where.rank, where.worldSize);
  let id: number;
  try {
    id = B.distNewGroup(backend, where.masterAddr, where.masterPort, where.rank, where.worldSize, timeoutMs, initTimeoutMs, bindHost, iface);
  } catch (e) {
    throw new DistributedError(
      `initProcessGroup failed on rank ${where.rank} of ${where.worldSize} (store ${where.masterAddr}:${where.masterPort}, ` +
        `timeout ${initTimeoutMs} ms; ${peerText(others)}): ${(e as Error).message}`,
      'initProcessGroup',
      where.rank,
      where.worldSize,
      where.rank === 0 ? others : [0],
      { cause: e },
    );
  }
  return new ProcessGroup(id, backend, where, timeoutMs);
}

function otherRanks(rank: number, worldSize: number): number[] {
  return Array.from({ length: worldSize }, (_, r) => r).filter((r) => r !== rank);
}

function peerText(peers: readonly number[]): string {
  if (peers.length === 0) return 'no peers';
  return peers.length === 1 ? `peer rank ${peers[0]}` : `peer ranks ${peers.join(', ')}`;
}

/** One process's membership of a group; made by {@link initProcessGroup}. */
export class ProcessGroup {
  readonly backend: DistributedBackend;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly timeoutMs: number;
  /** The device of the group's tensors: 'cpu' for Gloo, `cuda:<localRank>` for NCCL. */
  readonly device: string;
  #id: number | undefined;
  #broken: string | undefined;

  /** @internal */
  constructor(id: number, backend: DistributedBackend, where: DistributedEnv, timeoutMs: number) {
    this.#id = id;
    this.backend = backend;
    this.rank = where.rank;
    this.worldSize = where.worldSize;
    this.localRank = where.localRank;
    this.timeoutMs = timeoutMs;
    this.device = backend === 'nccl' ? `cuda:${where.localRank}` : 'cpu';
  }

  /** Whether shutdown() was called. */
  get isShutdown(): boolean {
    return this.#id === undefined;
  }

  /**
   * In place: `t` becomes the sum (the mean, the elementwise maximum) of every rank's `t`. All ranks
   * call it with tensors of one element count and dtype (a mismatch throws on every rank),
   * contiguous, on {@link device}. Returns `t`.
   */
  allreduce(t: Tensor, op: 'sum' | 'mean' | 'max' = 'sum'): Tensor {
    if (op !== 'sum' && op !== 'mean' && op !== 'max') {
      throw new TypeError(`allreduce: op must be 'sum', 'mean' or 'max', got ${JSON.stringify(op)}`);
    }
    this.#run('allreduce', t, 0, (id) => B.distAllreduce(id, nativeOf(t), op === 'max' ? 'max' : 'sum'));
    if (op === 'mean' && this.worldSize > 1) t.mul_(1 / this.worldSize);
    return t;
  }

  /** In place: `t` becomes rank `root`'s `t` (default rank 0). Returns `t`. */
  broadcast(t: Tensor, root = 0): Tensor {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) {
      throw new RangeError(`broadcast: root must be a rank in 0..${this.worldSize - 1}, got ${root}`);
    }
    this.#run('broadcast', t, root, (id) => B.distBroadcast(id, nativeOf(t), root));
    return t;
  }

  /** Returns once every rank has called it. */
  barrier(): void {
    this.#run('barrier', undefined, 0, (id) => B.distBarrier(id));
  }

  /** Leaves the group and frees its sockets and threads (rank 0's ends the store). Idempotent. */
  shutdown(): void {
    if (this.#id === undefined) return;
    B.distFreeGroup(this.#id);
    this.#id = undefined;
  }

  #run(op: Collective, t: Tensor | undefined, root: number, fn: (id: number) => void): void {
    if (this.#id === undefined) throw new Error(`${op}: the process group is shut down`);
    if (this.#broken !== undefined) throw new Error(`${op}: the process group is broken since ${this.#broken}; shut it down`);
    if (t !== undefined) {
      if (t.device !== this.device) throw new TypeError(`${op}: the tensor is on ${t.device}, the ${this.backend} group needs ${this.device}`);
      if (!t.isContiguous()) throw new TypeError(`${op}: the tensor must be contiguous`);
    }
    const start = Date.now();
    let disagreement: string | undefined;
    try {
      disagreement = this.#agree(this.#id, op, t, root);
      if (disagreement === undefined) fn(this.#id);
    } catch (e) {
      if (e instanceof TypeError) throw e; // a bad argument: the group is still whole
      const peers = otherRanks(this.rank, this.worldSize);
      const what =
        `${op} failed on rank ${this.rank} of ${this.worldSize} after ${Date.now() - start} ms ` +
        `(timeout ${this.timeoutMs} ms; ${peerText(peers)} died, hung or left)`;
      this.#broken = what;
      throw new DistributedError(`${what}: ${(e as Error).message}`, op, this.rank, this.worldSize, peers, { cause: e });
    }
    // Every rank saw the same signatures, so every rank throws here and the group stays in step.
    if (disagreement !== undefined) {
      throw new DistributedError(`${op} on rank ${this.rank}: the ranks disagree on ${disagreement}`, op, this.rank, this.worldSize, otherRanks(this.rank, this.worldSize));
    }
  }

  /**
   * Agrees on the collective before running it: Gloo aborts the process when the ranks' sizes
   * differ, and a broadcast of another size or a different op would silently go wrong. One small
   * allreduce (max) of each rank's signature and its negation gives every rank the signatures'
   * maximum and minimum; they differ exactly when some rank differs. Returns what differs, if any.
   */
  #agree(id: number, op: Collective, t: Tensor | undefined, root: number): string | undefined {
    const sig = [COLLECTIVES.indexOf(op), t === undefined ? -1 : DTYPE_CODES[t.dtype], t?.numel ?? 0, root];
    const k = sig.length;
    const buf = new BigInt64Array(2 * k);
    sig.forEach((v, i) => {
      buf[i] = BigInt(v);
      buf[k + i] = BigInt(-v);
    });
    const h = tensor(buf, undefined, { device: this.device });
    let out: BigInt64Array;
    try {
      B.distAllreduce(id, nativeOf(h), 'max');
      out = h.toArray() as BigInt64Array;
    } finally {
      h.dispose();
    }
    const names = ['the collective', 'the dtype', 'the element count', 'the root'];
    const show = (i: number, v: number) => (i === 0 ? (COLLECTIVES[v] ?? '?') : i === 1 ? (DTYPES[v] ?? 'none') : String(v));
    for (let i = 0; i < k; i++) {
      const [max, min] = [Number(out[i]), -Number(out[k + i])];
      if (max !== min) return `${names[i]}: ${show(i, sig[i]!)} here, ${show(i, min)} to ${show(i, max)} across the ranks`;
    }
    return undefined;
  }
}
