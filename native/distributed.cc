// Devices and torch.distributed (c10d) process groups: a TCPStore rendezvous and a Gloo (CPU) or,
// on CUDA builds with NCCL, an NCCL process group; allreduce (sum), broadcast and barrier on one
// tensor, each waited for with the group's timeout so that a dead peer is an error, never a hang.
// Groups are referred to by integer ids, like generators. What TypeScript does on top
// (torchrun's environment, the mean, naming the failed peer) is in src/engine/distributed.ts.
//
// The C++ keeps to what libtorch 1.13 (Debian) and 2.x share; where they differ, TORCH_VERSION_MAJOR
// guards it. Gloo needs its own headers (Debian: libgloo-dev; a pip torch ships them in
// torch/include): without them the addon builds without distributed support and says so.
#include "engine.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <chrono>
#include <map>

#if __has_include(<gloo/config.h>)
#define HMCSEG_GLOO 1
// 2.x compiles ProcessGroupGloo.hpp only under USE_C10D_GLOO; 1.13 ignores the macro.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#else
#define HMCSEG_GLOO 0
#endif

// USE_C10D_NCCL is defined by binding.gyp only for a CUDA libtorch with NCCL's header present.
#if HMCSEG_GLOO && defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define HMCSEG_NCCL 1
#else
#define HMCSEG_NCCL 0
#endif

namespace hmcseg {

// ---------------------------------------------------------------------------------------------
// Devices

// cudaBuilt() -> whether this libtorch has its CUDA part loaded (libtorch_cuda). The stub hooks of
// a CPU-only libtorch throw on every CUDA query; the real ones answer without a GPU present.
static Napi::Value cudaBuilt(Args& a) {
  bool built = false;
  try {
    built = at::detail::getCUDAHooks().versionCUDART() > 0;
  } catch (const c10::Error&) {
    built = false;
  }
  return Napi::Boolean::New(a.env(), built);
}

#if HMCSEG_GLOO

// ---------------------------------------------------------------------------------------------
// Process groups

// 1.13's backends derive from ProcessGroup, 2.x's from Backend; both declare the collectives.
#if TORCH_VERSION_MAJOR >= 2
using GroupBase = c10d::Backend;
#else
using GroupBase = c10d::ProcessGroup;
#endif

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<GroupBase> pg;
  std::chrono::milliseconds timeout;
};

static std::map<int64_t, Group>& groups() {
  static std::map<int64_t, Group> g;
  return g;
}

static Group& groupArg(const Args& a, size_t i) {
  int64_t id = a.i64(i);
  auto it = groups().find(id);
  if (it == groups().end()) a.fail(i, "is not a live process group id: " + std::to_string(id));
  return it->second;
}

// Waits for a collective with the group's timeout; a peer that died or timed out throws here.
// The ranks must call matching collectives on tensors of one size and dtype: Gloo aborts the
// process when sizes differ, so src/engine/distributed.ts agrees on them first.
static void waitFor(const c10::intrusive_ptr<c10d::Work>& work, const Group& g) {
  if (!work->wait(g.timeout)) throw std::runtime_error("timed out after " + std::to_string(g.timeout.count()) + " ms");
}

// distNewGroup(backend, host, port, rank, worldSize, timeoutMs, initTimeoutMs, bindHost, iface) -> id.
// Rank 0 serves the TCPStore on host:port and waits for the others to join; every rank then
// builds the process group over the store (the backends' own rendezvous), all within initTimeoutMs.
// timeoutMs bounds each collective. bindHost / iface pick
// the address Gloo listens on ('' for libtorch's default: this machine's hostname).
static Napi::Value distNewGroup(Args& a) {
  std::string backend = a.s(0);
  std::string host = a.s(1);
  int64_t port = a.i64(2);
  int64_t rank = a.i64(3);
  int64_t world = a.i64(4);
  int64_t timeoutMs = a.i64(5);
  int64_t initTimeoutMs = a.i64(6);
  std::string bindHost = a.s(7);
  std::string iface = a.s(8);
  if (port < 1 || port > 65535) a.fail(2, "must be a port in 1..65535, got " + std::to_string(port));
  if (world < 1) a.fail(4, "must be at least 1, got " + std::to_string(world));
  if (rank < 0 || rank >= world) a.fail(3, "must be in 0.." + std::to_string(world - 1) + ", got " + std::to_string(rank));
  if (timeoutMs < 1) a.fail(5, "must be a positive number of milliseconds");
  if (initTimeoutMs < 1) a.fail(6, "must be a positive number of milliseconds");
  if (backend != "gloo" && backend != "nccl") a.fail(0, "must be 'gloo' or 'nccl', got '" + backend + "'");
  if (backend == "nccl" && !HMCSEG_NCCL) {
    throw std::runtime_error("the nccl backend needs a CUDA libtorch with NCCL; this addon was built without it");
  }

  std::chrono::milliseconds timeout(timeoutMs);
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = rank == 0;
  so.numWorkers = static_cast<std::size_t>(world);
  so.waitWorkers = true;
  so.timeout = std::chrono::milliseconds(initTimeoutMs);
  auto store = c10::make_intrusive<c10d::TCPStore>(host, so);

  Group g{store, {}, timeout};
  if (backend == "gloo") {
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    if (!iface.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    else if (!bindHost.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(bindHost));
    else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 1;  // one collective at a time: the calls are synchronous
    g.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(rank), static_cast<int>(world), opts);
  }
#if HMCSEG_NCCL
  else {
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    g.pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(rank), static_cast<int>(world), opts);
  }
#endif
  static int64_t next = 0;
  groups().emplace(next, std::move(g));
  return Napi::Number::New(a.env(), static_cast<double>(next++));
}

// distAllreduce(id, t, op): t <- the sum ('sum') or the maximum ('max') of t over the ranks, in place.
static Napi::Value distAllreduce(Args& a) {
  Group& g = groupArg(a, 0);
  std::vector<at::Tensor> ts{a.t(1)};
  std::string op = a.s(2);
  if (op != "sum" && op != "max") a.fail(2, "must be 'sum' or 'max', got '" + op + "'");
  c10d::AllreduceOptions o;
  o.reduceOp = op == "sum" ? c10d::ReduceOp::SUM : c10d::ReduceOp::MAX;
  o.timeout = g.timeout;
  waitFor(g.pg->allreduce(ts, o), g);
  return a.env().Undefined();
}

// distBroadcast(id, t, root): t <- root's t, in place.
static Napi::Value distBroadcast(Args& a) {
  Group& g = groupArg(a, 0);
  std::vector<at::Tensor> ts{a.t(1)};
  int64_t root = a.i64(2);
  if (root < 0 || root >= g.pg->getSize()) a.fail(2, "must be a rank in 0.." + std::to_string(g.pg->getSize() - 1));
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.timeout = g.timeout;
  waitFor(g.pg->broadcast(ts, o), g);
  return a.env().Undefined();
}

static Napi::Value distBarrier(Args& a) {
  Group& g = groupArg(a, 0);
  c10d::BarrierOptions o;
  o.timeout = g.timeout;
  waitFor(g.pg->barrier(o), g);
  return a.env().Undefined();
}

// distFreeGroup(id): drops the group and its store (rank 0's ends the store's server).
static Napi::Value distFreeGroup(Args& a) {
  groups().erase(a.i64(0));
  return a.env().Undefined();
}

#endif  // HMCSEG_GLOO

// distBackends() -> the backends this addon was built with.
static Napi::Value distBackends(Args& a) {
  Napi::Array out = Napi::Array::New(a.env());
  uint32_t n = 0;
  if (HMCSEG_GLOO) out.Set(n++, Napi::String::New(a.env(), "gloo"));
  if (HMCSEG_NCCL) out.Set(n++, Napi::String::New(a.env(), "nccl"));
  return out;
}

const OpDef kDistOps[] = {
    {"cudaBuilt", cudaBuilt},
    {"distBackends", distBackends},
#if HMCSEG_GLOO
    {"distNewGroup", distNewGroup},
    {"distAllreduce", distAllreduce},
    {"distBroadcast", distBroadcast},
    {"distBarrier", distBarrier},
    {"distFreeGroup", distFreeGroup},
#endif
};
const size_t kDistOpsCount = sizeof(kDistOps) / sizeof(kDistOps[0]);

void registerDistributed(Napi::Env env, Napi::Object exports) {
  registerOps(env, exports, kDistOps, kDistOpsCount);
#if HMCSEG_GLOO
  // Close the groups (their threads and sockets) while libtorch is still whole, not in the static
  // destructors at exit.
  napi_add_env_cleanup_hook(env, [](void*) { groups().clear(); }, nullptr);
#endif
}

}  // namespace hmcseg
