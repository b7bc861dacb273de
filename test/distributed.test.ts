// Process groups on Gloo with two real ranks: child processes with torchrun's environment on
// 127.0.0.1 and a free port. Known sums, means and broadcasts; a barrier that waits; ranks that
// call different collectives or pass different tensors get an error, not Gloo's abort; a rank that
// exits, is killed or hangs makes the other fail within its timeout with the op and the peer named,
// never hang; bad environments give clear errors. The ranks run the compiled engine (npm test builds
// dist/). Every child is killed at a hard limit, so no test can hang.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optional } from './helpers/optional.js';
import { distributedBackends, freePort, initProcessGroup, readTorchrunEnv, zeros } from '../src/engine/index.js';

const RANK_SCRIPT = resolve(__dirname, 'helpers/dist-rank.mjs');
const COMPILED = resolve(__dirname, '../dist/src/engine/index.js');
const HARD_LIMIT_MS = 40_000;

const missing = !distributedBackends().includes('gloo')
  ? 'the addon was built without Gloo (apt-get install libgloo-dev, then rebuild it)'
  : !existsSync(COMPILED)
    ? `${COMPILED} is missing (npm run build:ts; npm test does it)`
    : undefined;
const gloo = optional('Gloo process groups', missing ?? null);

interface RankResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Record<string, unknown>[];
  stderr: string;
}

interface Launch {
  ranks: number[];
  worldSize?: number;
  timeoutMs?: number;
  initTimeoutMs?: number;
  /** Called with each rank's child and each line it prints. */
  onLine?: (rank: number, line: Record<string, unknown>, kill: (rank: number) => void) => void;
}

/** Starts `ranks` of a world of `worldSize` running `scenario`; resolves with each rank's result. */
async function launch(scenario: string, opts: Launch): Promise<RankResult[]> {
  const port = await freePort();
  const worldSize = opts.worldSize ?? opts.ranks.length;
  const children = new Map<number, ReturnType<typeof spawn>>();
  const kill = (rank: number) => children.get(rank)?.kill('SIGKILL');
  const runs = opts.ranks.map(
    (rank) =>
      new Promise<RankResult>((res) => {
        const env = {
          ...process.env,
          RANK: String(rank),
          LOCAL_RANK: String(rank),
          WORLD_SIZE: String(worldSize),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          HMCSEG_TEST_TIMEOUT_MS: String(opts.timeoutMs ?? 10_000),
          // starting node and libtorch takes seconds on a loaded machine
          HMCSEG_TEST_INIT_TIMEOUT_MS: String(opts.initTimeoutMs ?? 20_000),
        };
        const child = spawn(process.execPath, [RANK_SCRIPT, scenario], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        children.set(rank, child);
        const result: RankResult = { code: null, signal: null, lines: [], stderr: '' };
        const limit = setTimeout(() => child.kill('SIGKILL'), HARD_LIMIT_MS);
        let buf = '';
        child.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
            buf = buf.slice(nl + 1);
            result.lines.push(line);
            opts.onLine?.(rank, line, kill);
          }
        });
        child.stderr!.on('data', (d: Buffer) => (result.stderr += d.toString()));
        child.on('exit', (code, signal) => {
          clearTimeout(limit);
          res({ ...result, code, signal });
        });
      }),
  );
  return Promise.all(runs);
}

function last(r: RankResult): Record<string, unknown> {
  expect(r.lines.length, `no output; stderr: ${r.stderr}`).toBeGreaterThan(0);
  return r.lines[r.lines.length - 1]!;
}

gloo.describe('process groups on Gloo, 2 ranks', () => {
  it('allreduce gives the known sum, mean and max, broadcast the root\'s tensor, the barrier waits', async () => {
    const [r0, r1] = await launch('ops', { ranks: [0, 1] });
    for (const [rank, r] of [r0!, r1!].entries()) {
      expect(r.code, r.stderr).toBe(0);
      const o = last(r);
      expect(o.rank).toBe(rank);
      expect(o.worldSize).toBe(2);
      // rank r holds [r+1, 10(r+1), -r/2, 1e6]
      expect(o.sum).toEqual([3, 30, -0.5, 2e6]);
      // [r, 2r+1, 3] averaged over r = 0, 1
      expect(o.mean).toEqual([0.5, 2, 3]);
      expect(o.intSum).toEqual([1, 14]);
      // [r, −r, 2.5]: the elementwise maximum over r = 0, 1
      expect(o.max).toEqual([1, 0, 2.5]);
      expect(o.bcast0).toEqual([1, 2, 3]);
      expect(o.bcast1).toEqual([101, 102]);
      expect(o.afterShutdown).toMatch(/^barrier: the process group is shut down/);
    }
    // rank 1 came 400 ms late to the barrier
    expect(last(r0!).barrierWaitMs).toBeGreaterThanOrEqual(200);
  });

  it('ranks that disagree on the collective or the tensor: every rank gets the same error and the group stays in step', async () => {
    const results = await launch('mismatch', { ranks: [0, 1] });
    for (const [rank, r] of results.entries()) {
      expect(r.code, r.stderr).toBe(0);
      const o = last(r) as { caught: Record<string, unknown>[]; after: number[] };
      const messages = o.caught.map((c) => c.message);
      expect(o.caught.every((c) => c.name === 'DistributedError')).toBe(true);
      expect(messages[0]).toBe(`allreduce on rank ${rank}: the ranks disagree on the element count: ${rank === 0 ? 4 : 6} here, 4 to 6 across the ranks`);
      expect(messages[1]).toBe(`allreduce on rank ${rank}: the ranks disagree on the dtype: ${rank === 0 ? 'float32' : 'float64'} here, float32 to float64 across the ranks`);
      expect(messages[2]).toBe(`broadcast on rank ${rank}: the ranks disagree on the root: ${rank} here, 0 to 1 across the ranks`);
      expect(messages[3]).toBe(`${rank === 0 ? 'barrier' : 'broadcast'} on rank ${rank}: the ranks disagree on the collective: ${rank === 0 ? 'barrier' : 'broadcast'} here, broadcast to barrier across the ranks`);
      expect(o.after).toEqual([1, 2]);
    }
  });

  it('a rank that exits: the other\'s allreduce fails at once naming the op and the peer, then the group is broken', async () => {
    const [r0, r1] = await launch('exit', { ranks: [0, 1] });
    expect(r1!.code).toBe(3);
    expect(r0!.code, r0!.stderr).toBe(0);
    const o = last(r0!) as { first: Record<string, unknown>; second: string };
    expect(o.first.name).toBe('DistributedError');
    expect(o.first.op).toBe('allreduce');
    expect(o.first.peers).toEqual([1]);
    expect(o.first.message).toMatch(/^allreduce failed on rank 0 of 2 after \d+ ms \(timeout 10000 ms; peer rank 1 died, hung or left\): /);
    expect(o.first.elapsedMs as number).toBeLessThan(10_000);
    expect(o.second).toMatch(/^allreduce: the process group is broken since allreduce failed on rank 0 of 2/);
  });

  it('a rank that is killed (SIGKILL) while the other waits in allreduce', async () => {
    const [r0, r1] = await launch('kill', {
      ranks: [0, 1],
      onLine: (rank, line, kill) => {
        if (rank === 1 && line.ready) setTimeout(() => kill(1), 300);
      },
    });
    expect(r1!.signal).toBe('SIGKILL');
    const o = last(r0!) as { first: Record<string, unknown> };
    expect(o.first.name).toBe('DistributedError');
    expect(o.first.message).toMatch(/^allreduce failed on rank 0 of 2 .*peer rank 1/);
    expect(o.first.elapsedMs as number).toBeLessThan(10_000);
  });

  it('a rank that hangs: the other\'s allreduce times out after the group\'s timeout', async () => {
    const [r0] = await launch('hang', { ranks: [0, 1], timeoutMs: 1500 });
    const o = last(r0!) as { first: Record<string, unknown> };
    expect(o.first.name).toBe('DistributedError');
    expect(o.first.message).toMatch(/^allreduce failed on rank 0 of 2 after \d+ ms \(timeout 1500 ms; peer rank 1/);
    expect(o.first.elapsedMs as number).toBeGreaterThanOrEqual(1400);
    expect(o.first.elapsedMs as number).toBeLessThan(8000);
  });

  it('a rank that never comes: rendezvous fails within the timeout on the rank that waits', async () => {
    const [r0] = await launch('ops', { ranks: [0], worldSize: 2, initTimeoutMs: 1500 });
    const o = last(r0!) as { init: Record<string, unknown> };
    expect(o.init.name).toBe('DistributedError');
    expect(o.init.op).toBe('initProcessGroup');
    expect(o.init.message).toMatch(/^initProcessGroup failed on rank 0 of 2 \(store 127\.0\.0\.1:\d+, timeout 1500 ms; peer rank 1\): /);
    expect(o.init.elapsedMs as number).toBeGreaterThanOrEqual(1400);
    // libtorch 1.13's store gives up after one to two timeouts; the margin is for a loaded machine
    expect(o.init.elapsedMs as number).toBeLessThan(25_000);
  });
});

describe('process groups: bad environments and arguments', () => {
  const good = { RANK: '1', WORLD_SIZE: '2', LOCAL_RANK: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' };
  const without = (k: keyof typeof good) => Object.fromEntries(Object.entries(good).filter(([n]) => n !== k));

  it('reads torchrun\'s environment, LOCAL_RANK defaulting to RANK, options overriding it', () => {
    expect(readTorchrunEnv(good)).toEqual({ rank: 1, worldSize: 2, localRank: 1, masterAddr: '127.0.0.1', masterPort: 29500 });
    expect(readTorchrunEnv(without('LOCAL_RANK')).localRank).toBe(1);
    expect(readTorchrunEnv({}, { rank: 0, worldSize: 1, masterAddr: 'h', masterPort: 1 })).toEqual({
      rank: 0,
      worldSize: 1,
      localRank: 0,
      masterAddr: 'h',
      masterPort: 1,
    });
    expect(readTorchrunEnv(good, { rank: 0 }).rank).toBe(0);
  });

  it('a missing variable is named', () => {
    for (const k of ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'] as const) {
      expect(() => readTorchrunEnv(without(k))).toThrow(new RegExp(`^initProcessGroup: environment variable ${k} is not set`));
    }
    expect(() => initProcessGroup({ env: {} })).toThrow(/^initProcessGroup: environment variable WORLD_SIZE is not set/);
  });

  it('a malformed or out-of-range value is named with its value', () => {
    expect(() => readTorchrunEnv({ ...good, RANK: 'one' })).toThrow(/^initProcessGroup: RANK="one" must be an integer in 0\.\.1/);
    expect(() => readTorchrunEnv({ ...good, RANK: '2' })).toThrow(/^initProcessGroup: RANK="2" must be an integer in 0\.\.1/);
    expect(() => readTorchrunEnv({ ...good, RANK: '-1' })).toThrow(/RANK="-1"/);
    expect(() => readTorchrunEnv({ ...good, WORLD_SIZE: '0' })).toThrow(/^initProcessGroup: WORLD_SIZE="0" must be an integer in 1\.\./);
    expect(() => readTorchrunEnv({ ...good, WORLD_SIZE: '1.5' })).toThrow(/WORLD_SIZE="1\.5"/);
    expect(() => readTorchrunEnv({ ...good, LOCAL_RANK: 'x' })).toThrow(/^initProcessGroup: LOCAL_RANK="x"/);
    expect(() => readTorchrunEnv({ ...good, MASTER_PORT: '70000' })).toThrow(/^initProcessGroup: MASTER_PORT="70000" must be an integer in 1\.\.65535/);
    expect(() => readTorchrunEnv({ ...good, MASTER_ADDR: '  ' })).toThrow(/MASTER_ADDR is not set/);
    expect(() => readTorchrunEnv(good, { rank: 5 })).toThrow(/^initProcessGroup: rank must be an integer in 0\.\.1, got 5/);
    expect(() => initProcessGroup({ env: good, timeoutMs: 0 })).toThrow(/^initProcessGroup: timeoutMs must be an integer in 1\.\./);
    expect(() => initProcessGroup({ env: good, initTimeoutMs: 1.5 })).toThrow(/^initProcessGroup: initTimeoutMs must be an integer in 1\.\.2147483647, got 1\.5/);
    expect(() => initProcessGroup({ env: good, backend: 'mpi' as 'gloo' })).toThrow(/^initProcessGroup: backend must be 'gloo' or 'nccl', got "mpi"/);
  });

  gloo.it('a group of one: collectives are the identity; bad tensors and roots are refused, the group stays usable', async () => {
    const pg = initProcessGroup({ env: { ...good, RANK: '0', LOCAL_RANK: '0', WORLD_SIZE: '1', MASTER_PORT: String(await freePort()) }, timeoutMs: 5000 });
    try {
      expect([pg.rank, pg.worldSize, pg.localRank, pg.device]).toEqual([0, 1, 0, 'cpu']);
      const t = zeros([2, 3]).add(2);
      expect(Array.from(pg.allreduce(t, 'mean').toArray() as Float32Array)).toEqual([2, 2, 2, 2, 2, 2]);
      expect(() => pg.broadcast(t, 1)).toThrow(/^broadcast: root must be a rank in 0\.\.0, got 1/);
      expect(() => pg.allreduce(t.transpose(0, 1))).toThrow(/^allreduce: the tensor must be contiguous/);
      expect(() => pg.allreduce(t, 'min' as 'sum')).toThrow(/^allreduce: op must be 'sum', 'mean' or 'max', got "min"/);
      pg.barrier();
    } finally {
      pg.shutdown();
    }
    expect(pg.isShutdown).toBe(true);
    expect(() => pg.allreduce(zeros([1]))).toThrow(/^allreduce: the process group is shut down/);
  });
});
