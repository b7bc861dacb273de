// One rank of the distributed tests (test/distributed.test.ts): joins the group from torchrun-style
// environment variables, runs the scenario named by argv[2], prints one JSON line and exits.
// Plain JavaScript over the compiled engine, so that it runs as a child process (npm test builds dist/).
import { initProcessGroup, tensor } from '../../dist/src/engine/index.js';

const scenario = process.argv[2];
const timeoutMs = Number(process.env.HMCSEG_TEST_TIMEOUT_MS);
const initTimeoutMs = Number(process.env.HMCSEG_TEST_INIT_TIMEOUT_MS);
const out = { scenario };

function report(extra) {
  process.stdout.write(JSON.stringify({ ...out, ...extra }) + '\n');
}

function failure(e) {
  return { name: e.name, message: e.message, op: e.op, rank: e.rank, peers: e.peers };
}

let pg;
const initStart = Date.now();
try {
  pg = initProcessGroup({ timeoutMs, initTimeoutMs });
} catch (e) {
  report({ init: { ...failure(e), elapsedMs: Date.now() - initStart } });
  process.exit(0);
}
out.rank = pg.rank;
out.worldSize = pg.worldSize;
const r = pg.rank;

if (scenario === 'ops') {
  const a = tensor(new Float32Array([r + 1, 10 * (r + 1), -0.5 * r, 1e6]));
  pg.allreduce(a);
  const m = tensor(Float64Array.from([r, 2 * r + 1, 3]));
  pg.allreduce(m, 'mean');
  const i = tensor(new BigInt64Array([BigInt(r), 7n]));
  pg.allreduce(i);
  const mx = tensor(Float64Array.from([r, -r, 2.5]));
  pg.allreduce(mx, 'max');
  const b0 = tensor(new Float32Array([r * 100 + 1, r * 100 + 2, r * 100 + 3]));
  pg.broadcast(b0, 0);
  const b1 = tensor(new Float32Array([r * 100 + 1, r * 100 + 2]));
  pg.broadcast(b1, 1);
  const t0 = Date.now();
  // rank 1 reaches the barrier 400 ms late: rank 0 must wait for it
  if (r === 1) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
  pg.barrier();
  out.barrierWaitMs = Date.now() - t0;
  let afterShutdown;
  pg.shutdown();
  pg.shutdown();
  try {
    pg.barrier();
  } catch (e) {
    afterShutdown = e.message;
  }
  report({
    sum: Array.from(a.toArray()),
    mean: Array.from(m.toArray()),
    intSum: Array.from(i.toArray(), Number),
    max: Array.from(mx.toArray()),
    bcast0: Array.from(b0.toArray()),
    bcast1: Array.from(b1.toArray()),
    afterShutdown,
  });
} else if (scenario === 'mismatch') {
  const caught = [];
  const attempt = (fn) => {
    try {
      fn();
      caught.push(null);
    } catch (e) {
      caught.push(failure(e));
    }
  };
  attempt(() => pg.allreduce(tensor(new Float32Array(r === 0 ? 4 : 6))));
  attempt(() => pg.allreduce(tensor(r === 0 ? new Float32Array(3) : new Float64Array(3))));
  attempt(() => pg.broadcast(tensor(new Float32Array(2)), r));
  attempt(() => (r === 0 ? pg.barrier() : pg.broadcast(tensor(new Float32Array(2)))));
  // the group is still in step
  const t = tensor(new Float32Array([r, 1]));
  pg.allreduce(t);
  pg.shutdown();
  report({ caught, after: Array.from(t.toArray()) });
} else if (scenario === 'exit' || scenario === 'kill' || scenario === 'hang') {
  pg.barrier();
  const t = tensor(new Float32Array([1, 2, 3]));
  if (r === 1) {
    report({ ready: true });
    if (scenario === 'exit') process.exit(3);
    // 'kill': the test kills this process while it sleeps; 'hang': it sleeps past rank 0's timeout
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, scenario === 'hang' ? timeoutMs + 3000 : 30_000);
    process.exit(0);
  }
  const t0 = Date.now();
  let first;
  let second;
  try {
    pg.allreduce(t);
  } catch (e) {
    first = { ...failure(e), elapsedMs: Date.now() - t0 };
  }
  try {
    pg.allreduce(t);
  } catch (e) {
    second = e.message;
  }
  pg.shutdown();
  report({ first, second });
} else {
  report({ error: `unknown scenario ${scenario}` });
}
