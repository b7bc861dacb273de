// Tensor handles, argument reading, error translation and the core ops: creation, conversion,
// metadata, autograd, random generators, threads and devices.
#include "engine.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <sstream>

namespace hmcseg {

static_assert(kF32 == 0 && kF64 == 1 && kI64 == 2 && kI32 == 3 && kU8 == 4 && kBool == 5 && kI16 == 6,
              "dtype codes are shared with src/engine/binding.ts");

std::atomic<int64_t> g_live{0};

at::ScalarType toScalarType(int32_t code) {
  switch (code) {
    case kF32: return at::kFloat;
    case kF64: return at::kDouble;
    case kI64: return at::kLong;
    case kI32: return at::kInt;
    case kU8: return at::kByte;
    case kBool: return at::kBool;
    case kI16: return at::kShort;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(code));
}

int32_t toDtypeCode(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return kF32;
    case at::kDouble: return kF64;
    case at::kLong: return kI64;
    case at::kInt: return kI32;
    case at::kByte: return kU8;
    case at::kBool: return kBool;
    case at::kShort: return kI16;
    default: throw std::invalid_argument(std::string("unsupported dtype ") + c10::toString(t));
  }
}

// ---------------------------------------------------------------------------------------------
// NTensor

// dispose() frees the tensor and removes the wrap, so no finalizer is left for the GC. Node runs
// napi finalizers from the event loop (setImmediate): in a synchronous loop the finalizer records
// of collected handles (~0.7 KB each) would pile up until it yields. A disposed handle is a plain
// object; dispose() and isDisposed() are therefore plain functions, not ObjectWrap methods.
static Napi::Value disposeHandle(const Napi::CallbackInfo& info) {
  void* native = nullptr;
  if (napi_remove_wrap(info.Env(), info.This(), &native) == napi_ok && native != nullptr) {
    delete static_cast<NTensor*>(native);
  }
  return info.Env().Undefined();
}

static Napi::Value isDisposedHandle(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), NTensor::of(info.Env(), info.This()) == nullptr);
}

Napi::Function NTensor::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeTensor", {});
  Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();
  proto.Set("dispose", Napi::Function::New(env, disposeHandle, "dispose"));
  proto.Set("isDisposed", Napi::Function::New(env, isDisposedHandle, "isDisposed"));
  return ctor;
}

NTensor* NTensor::of(napi_env env, napi_value handle) {
  void* native = nullptr;
  if (napi_unwrap(env, handle, &native) != napi_ok) return nullptr;
  return static_cast<NTensor*>(native);
}

NTensor::NTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NTensor>(info) {}

NTensor::~NTensor() { release(); }

void NTensor::release() {
  if (t_.defined()) {
    t_ = at::Tensor();
    g_live.fetch_sub(1);
  }
}

void NTensor::set(at::Tensor t) {
  release();
  t_ = std::move(t);
  g_live.fetch_add(1);
}

const at::Tensor& NTensor::get(const char* op, size_t index) const {
  if (!t_.defined()) {
    throw std::invalid_argument(std::string(op) + ": argument " + std::to_string(index) +
                                " is an empty tensor handle (made by new NativeTensor(), not by an op)");
  }
  return t_;
}


Napi::Value wrap(Napi::Env env, at::Tensor t) {
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object obj = data->tensorCtor.New({});
  NTensor::Unwrap(obj)->set(std::move(t));
  return obj;
}

// ---------------------------------------------------------------------------------------------
// Args

static std::string shapeString(const at::Tensor& t) {
  std::ostringstream os;
  os << "[";
  for (int64_t i = 0; i < t.dim(); ++i) os << (i ? "," : "") << t.size(i);
  os << "]";
  return os.str();
}

bool Args::isTensor(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsObject()) return false;
  auto* data = env().GetInstanceData<AddonData>();
  return info_[i].As<Napi::Object>().InstanceOf(data->tensorCtor.Value());
}

void Args::fail(size_t i, const std::string& what) const {
  throw std::invalid_argument(std::string(op_) + ": argument " + std::to_string(i) + " " + what);
}

const at::Tensor& Args::t(size_t i) const {
  if (!isTensor(i)) fail(i, "must be a Tensor");
  NTensor* nt = NTensor::of(env(), info_[i]);
  if (nt == nullptr) fail(i, "is a disposed tensor");
  return nt->get(op_, i);
}

c10::optional<at::Tensor> Args::optT(size_t i) const {
  if (!has(i)) return c10::nullopt;
  return t(i);
}

std::vector<at::Tensor> Args::tensors(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) fail(i, "must be an array of Tensors");
  Napi::Array arr = info_[i].As<Napi::Array>();
  auto* data = env().GetInstanceData<AddonData>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(data->tensorCtor.Value())) {
      fail(i, "element " + std::to_string(k) + " is not a Tensor");
    }
    NTensor* nt = NTensor::of(env(), v);
    if (nt == nullptr) fail(i, "element " + std::to_string(k) + " is a disposed tensor");
    out.push_back(nt->get(op_, i));
  }
  return out;
}

double Args::d(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) fail(i, "must be a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

// |v| < 2^63 (and finite) before the cast: casting NaN, ±Infinity or a larger value is undefined.
static bool isInt64(double v) { return std::trunc(v) == v && std::fabs(v) < 9223372036854775808.0; }

static std::string numberString(double v) {
  std::ostringstream os;
  os << v;  // 0.5, 1e+300, nan, inf: short, unlike std::to_string
  return os.str();
}

int64_t Args::i64(size_t i) const {
  double v = d(i);
  if (!isInt64(v)) fail(i, "must be an integer, got " + numberString(v));
  return static_cast<int64_t>(v);
}

bool Args::b(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsBoolean()) fail(i, "must be a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

std::string Args::s(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsString()) fail(i, "must be a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::ints(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) fail(i, "must be an array of integers");
  Napi::Array arr = info_[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) fail(i, "element " + std::to_string(k) + " is not a number");
    double x = v.As<Napi::Number>().DoubleValue();
    if (!isInt64(x)) fail(i, "element " + std::to_string(k) + " is not an integer");
    out[k] = static_cast<int64_t>(x);
  }
  return out;
}

at::Scalar Args::scalar(size_t i) const {
  if (i < info_.Length() && info_[i].IsBoolean()) return at::Scalar(info_[i].As<Napi::Boolean>().Value());
  // An integer-valued number is an integer Scalar, as a Python int is: int tensors then stay
  // int (clamp, pow, where) and accept it as add's alpha.
  double v = d(i);
  if (std::trunc(v) == v && std::fabs(v) <= 9007199254740992.0) return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

at::ScalarType Args::dtype(size_t i) const {
  try {
    return toScalarType(static_cast<int32_t>(i64(i)));
  } catch (const std::invalid_argument& e) {
    fail(i, e.what());
  }
}

std::string Args::describe() const {
  std::ostringstream os;
  bool first = true;
  auto* data = env().GetInstanceData<AddonData>();
  auto isTensorValue = [&](const Napi::Value& v) {
    return v.IsObject() && v.As<Napi::Object>().InstanceOf(data->tensorCtor.Value());
  };
  // Runs inside the error handler, so it must not throw: disposed and empty handles are named.
  auto one = [&](const Napi::Value& v) {
    NTensor* nt = NTensor::of(env(), v);
    const at::Tensor* t = nt == nullptr ? nullptr : nt->tryGet();
    if (nt == nullptr) os << "<disposed>";
    else if (t == nullptr) os << "<empty>";
    else os << shapeString(*t) << " " << c10::toString(t->scalar_type());
  };
  for (size_t i = 0; i < info_.Length(); ++i) {
    Napi::Value v = info_[i];
    if (isTensorValue(v)) {
      os << (first ? "" : ", ");
      first = false;
      one(v);
    } else if (v.IsArray()) {  // cat, stack: the list's tensors
      Napi::Array arr = v.As<Napi::Array>();
      if (arr.Length() == 0 || !isTensorValue(arr.Get(0u))) continue;
      os << (first ? "(" : ", (");
      first = false;
      for (uint32_t k = 0; k < arr.Length(); ++k) {
        Napi::Value e = arr.Get(k);
        os << (k ? ", " : "");
        if (isTensorValue(e)) one(e);
        else os << "<not a tensor>";
      }
      os << ")";
    }
  }
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Error translation

static std::string firstLines(const std::string& s) {
  // libtorch messages can carry long C++ backtraces; keep the message itself.
  std::string out;
  std::istringstream in(s);
  std::string line;
  int n = 0;
  while (std::getline(in, line) && n < 4) {
    if (line.rfind("Exception raised from", 0) == 0 || line.rfind("frame #", 0) == 0) break;
    out += (n ? " " : "") + line;
    ++n;
  }
  return out;
}

// "op failed for inputs [2,3] Float, ...: message". Only Napi::Error may leave an op: any other
// exception escaping the handler would reach std::terminate and abort the process.
static Napi::Error opError(const Args& args, const std::string& message) {
  std::string shapes;
  try {
    shapes = args.describe();
  } catch (const Napi::Error&) {
    throw;  // a JS exception is pending (e.g. a throwing getter): it is the error to report
  } catch (...) {
    shapes.clear();
  }
  return Napi::Error::New(args.env(), std::string(args.op()) + " failed" +
                                          (shapes.empty() ? "" : " for inputs " + shapes) + ": " + message);
}

static Napi::Value trampoline(const Napi::CallbackInfo& info) {
  const OpDef* def = static_cast<const OpDef*>(info.Data());
  Args args(info, def->name);
  try {
    return def->fn(args);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw opError(args, firstLines(e.what_without_backtrace()));
  } catch (const std::invalid_argument& e) {
    throw Napi::TypeError::New(info.Env(), e.what());
  } catch (const std::exception& e) {
    throw opError(args, firstLines(e.what()));
  } catch (...) {
    throw opError(args, "unknown native exception");
  }
}

void registerOps(Napi::Env env, Napi::Object exports, const OpDef* ops, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    exports.Set(ops[i].name, Napi::Function::New(env, trampoline, ops[i].name, const_cast<OpDef*>(&ops[i])));
  }
}

// ---------------------------------------------------------------------------------------------
// Generators: seedable random streams, referred to by integer ids (-1: the global generator).

static std::map<int64_t, at::Generator>& generators() {
  static std::map<int64_t, at::Generator> g;
  return g;
}

static c10::optional<at::Generator> generatorArg(const Args& a, size_t i) {
  if (!a.has(i)) return c10::nullopt;
  int64_t id = a.i64(i);
  if (id < 0) return c10::nullopt;
  auto it = generators().find(id);
  if (it == generators().end()) a.fail(i, "is not a live generator id: " + std::to_string(id));
  return it->second;
}

static at::Generator& generatorRef(const Args& a, size_t i) {
  int64_t id = a.has(i) ? a.i64(i) : -1;
  if (id < 0) {
    static at::Generator def = at::detail::getDefaultCPUGenerator();
    return def;
  }
  auto it = generators().find(id);
  if (it == generators().end()) a.fail(i, "is not a live generator id: " + std::to_string(id));
  return it->second;
}

static at::TensorOptions options(const Args& a, size_t dtypeIdx, size_t deviceIdx) {
  at::TensorOptions o = at::TensorOptions().dtype(a.has(dtypeIdx) ? a.dtype(dtypeIdx) : at::kFloat);
  if (a.has(deviceIdx)) o = o.device(at::Device(a.s(deviceIdx)));
  return o;
}

static void checkShape(const Args& a, size_t i, const std::vector<int64_t>& shape) {
  for (int64_t s : shape) {
    if (s < 0) a.fail(i, "has a negative dimension");
  }
}

// ---------------------------------------------------------------------------------------------
// Core ops

// fromBuffer(typedArray, shape, dtype, device?) -> a new tensor holding a copy of the bytes.
static Napi::Value fromBuffer(Args& a) {
  Napi::Value src = a.raw(0);
  if (!src.IsTypedArray()) a.fail(0, "must be a typed array");
  Napi::TypedArray ta = src.As<Napi::TypedArray>();
  auto shape = a.ints(1);
  checkShape(a, 1, shape);
  at::ScalarType st = a.dtype(2);
  int64_t numel = 1;
  for (int64_t s : shape) {
    if (s != 0 && numel > INT64_MAX / 8 / s) a.fail(1, "has more elements than memory can hold");
    numel *= s;
  }
  size_t bytes = static_cast<size_t>(numel) * c10::elementSize(st);
  if (ta.ByteLength() != bytes) {
    a.fail(0, "has " + std::to_string(ta.ByteLength()) + " bytes but shape and dtype need " + std::to_string(bytes));
  }
  uint8_t* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(st));
  if (bytes) std::memcpy(t.data_ptr(), base, bytes);
  if (a.has(3) && a.s(3) != "cpu") t = t.to(at::Device(a.s(3)));
  return wrap(a.env(), t);
}

// toBuffer(t) -> an ArrayBuffer with a copy of the elements, contiguous, in row-major order.
static Napi::Value toBuffer(Args& a) {
  at::Tensor t = a.t(0).detach().to(at::kCPU).contiguous();
  size_t bytes = static_cast<size_t>(t.numel()) * c10::elementSize(t.scalar_type());
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(a.env(), bytes);
  if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  return buf;
}

static Napi::Value item(Args& a) {
  const at::Tensor& t = a.t(0);
  if (t.numel() != 1) a.fail(0, "must have exactly one element, has " + std::to_string(t.numel()));
  return Napi::Number::New(a.env(), t.item<double>());
}

static Napi::Value shape(Args& a) {
  const at::Tensor& t = a.t(0);
  Napi::Array out = Napi::Array::New(a.env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(a.env(), t.size(i)));
  return out;
}

static Napi::Value dtype(Args& a) { return Napi::Number::New(a.env(), toDtypeCode(a.t(0).scalar_type())); }
static Napi::Value device(Args& a) { return Napi::String::New(a.env(), a.t(0).device().str()); }
static Napi::Value numel(Args& a) { return Napi::Number::New(a.env(), static_cast<double>(a.t(0).numel())); }
static Napi::Value isContiguous(Args& a) { return Napi::Boolean::New(a.env(), a.t(0).is_contiguous()); }
static Napi::Value sameStorage(Args& a) {
  return Napi::Boolean::New(a.env(), a.t(0).storage().is_alias_of(a.t(1).storage()));
}

static Napi::Value zeros(Args& a) { auto s = a.ints(0); checkShape(a, 0, s); return wrap(a.env(), at::zeros(s, options(a, 1, 2))); }
static Napi::Value ones(Args& a) { auto s = a.ints(0); checkShape(a, 0, s); return wrap(a.env(), at::ones(s, options(a, 1, 2))); }
static Napi::Value full(Args& a) {
  auto s = a.ints(0);
  checkShape(a, 0, s);
  return wrap(a.env(), at::full(s, a.scalar(1), options(a, 2, 3)));
}
static Napi::Value arange(Args& a) {
  return wrap(a.env(), at::arange(a.scalar(0), a.scalar(1), a.scalar(2), options(a, 3, 4)));
}
static Napi::Value rand(Args& a) {
  auto s = a.ints(0); checkShape(a, 0, s);
  return wrap(a.env(), at::rand(s, generatorArg(a, 3), options(a, 1, 2)));
}
static Napi::Value randn(Args& a) {
  auto s = a.ints(0); checkShape(a, 0, s);
  return wrap(a.env(), at::randn(s, generatorArg(a, 3), options(a, 1, 2)));
}
// randint(low, high, shape, dtype?, device?, gen?)
static Napi::Value randint(Args& a) {
  auto s = a.ints(2); checkShape(a, 2, s);
  at::TensorOptions o = at::TensorOptions().dtype(a.has(3) ? a.dtype(3) : at::kLong);
  if (a.has(4)) o = o.device(at::Device(a.s(4)));
  return wrap(a.env(), at::randint(a.i64(0), a.i64(1), s, generatorArg(a, 5), o));
}
// bernoulli(t, p, gen?) -> a tensor shaped like t with 1 with probability p.
static Napi::Value bernoulli(Args& a) {
  return wrap(a.env(), at::empty_like(a.t(0)).bernoulli_(a.d(1), generatorArg(a, 2)));
}
// normal_(t, mean, std, gen?) in place
static Napi::Value normal_(Args& a) {
  at::Tensor t = a.t(0);
  t.normal_(a.d(1), a.d(2), generatorArg(a, 3));
  return a.env().Undefined();
}

// ---- autograd
static Napi::Value requiresGrad(Args& a) { return Napi::Boolean::New(a.env(), a.t(0).requires_grad()); }
static Napi::Value setRequiresGrad(Args& a) {
  at::Tensor t = a.t(0);
  t.requires_grad_(a.b(1));
  return a.env().Undefined();
}
static Napi::Value grad(Args& a) {
  const at::Tensor& g = a.t(0).grad();
  if (!g.defined()) return a.env().Undefined();
  return wrap(a.env(), g);
}
// setGrad(t, g?) makes g (e.g. a view into a flat gradient buffer) the tensor's .grad; backward
// then accumulates into it in place.
static Napi::Value setGrad(Args& a) {
  at::Tensor t = a.t(0);
  if (a.has(1)) {
    const at::Tensor& g = a.t(1);
    if (g.sizes() != t.sizes() || g.scalar_type() != t.scalar_type() || g.device() != t.device()) {
      a.fail(1, "must match the tensor's shape, dtype and device");
    }
    t.mutable_grad() = g;
  } else {
    t.mutable_grad() = at::Tensor();
  }
  return a.env().Undefined();
}
static Napi::Value backward(Args& a) {
  const at::Tensor& t = a.t(0);
  if (!t.requires_grad()) a.fail(0, "does not require grad (no tensor in its graph has requiresGrad set)");
  if (!a.has(1) && t.numel() != 1) a.fail(0, "is not a scalar: pass a gradient of its shape");
  t.backward(a.optT(1).value_or(at::Tensor()), a.has(2) ? c10::optional<bool>(a.b(2)) : c10::nullopt);
  return a.env().Undefined();
}
static Napi::Value detach(Args& a) { return wrap(a.env(), a.t(0).detach()); }
static Napi::Value setGradEnabled(Args& a) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(a.b(0));
  return Napi::Boolean::New(a.env(), prev);
}
static Napi::Value isGradEnabled(Args& a) { return Napi::Boolean::New(a.env(), c10::GradMode::is_enabled()); }

// ---- runtime
static Napi::Value liveTensors(Args& a) { return Napi::Number::New(a.env(), static_cast<double>(g_live.load())); }
static Napi::Value setNumThreads(Args& a) {
  int64_t n = a.i64(0);
  if (n < 1) a.fail(0, "must be at least 1");
  at::set_num_threads(static_cast<int>(n));
  return a.env().Undefined();
}
static Napi::Value getNumThreads(Args& a) { return Napi::Number::New(a.env(), at::get_num_threads()); }
static Napi::Value setDeterministic(Args& a) {
  at::globalContext().setDeterministicAlgorithms(a.b(0), /*warn_only=*/false);
  return a.env().Undefined();
}
static Napi::Value manualSeed(Args& a) {
  uint64_t seed = static_cast<uint64_t>(a.i64(0));
  auto gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  if (at::detail::getCUDAHooks().hasCUDA()) {
    for (int i = 0; i < at::detail::getCUDAHooks().getNumGPUs(); ++i) {
      // Context::defaultGenerator: the same call in 1.13 and 2.x (the hook under it was renamed).
      auto cg = at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(i)));
      std::lock_guard<std::mutex> lock(cg.mutex());
      cg.set_current_seed(seed);
    }
  }
  return a.env().Undefined();
}
static Napi::Value cudaDeviceCount(Args& a) {
  int n = at::detail::getCUDAHooks().hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
  return Napi::Number::New(a.env(), n);
}
static Napi::Value generatorNew(Args& a) {
  static int64_t next = 0;
  at::Generator g = at::detail::createCPUGenerator(static_cast<uint64_t>(a.i64(0)));
  generators().emplace(next, g);
  return Napi::Number::New(a.env(), static_cast<double>(next++));
}
static Napi::Value generatorFree(Args& a) {
  generators().erase(a.i64(0));
  return a.env().Undefined();
}
// generatorGetState(id) -> uint8 tensor; generatorSetState(id, state)
static Napi::Value generatorGetState(Args& a) {
  at::Generator& g = generatorRef(a, 0);
  std::lock_guard<std::mutex> lock(g.mutex());
  return wrap(a.env(), g.get_state());
}
static Napi::Value generatorSetState(Args& a) {
  at::Generator& g = generatorRef(a, 0);
  const at::Tensor& st = a.t(1);
  if (st.scalar_type() != at::kByte) a.fail(1, "must be a uint8 tensor from generatorGetState");
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(st);
  return a.env().Undefined();
}

const OpDef kCoreOps[] = {
    {"fromBuffer", fromBuffer},
    {"toBuffer", toBuffer},
    {"item", item},
    {"shape", shape},
    {"dtype", dtype},
    {"device", device},
    {"numel", numel},
    {"isContiguous", isContiguous},
    {"sameStorage", sameStorage},
    {"zeros", zeros},
    {"ones", ones},
    {"full", full},
    {"arange", arange},
    {"rand", rand},
    {"randn", randn},
    {"randint", randint},
    {"bernoulli", bernoulli},
    {"normal_", normal_},
    {"requiresGrad", requiresGrad},
    {"setRequiresGrad", setRequiresGrad},
    {"grad", grad},
    {"setGrad", setGrad},
    {"backward", backward},
    {"detach", detach},
    {"setGradEnabled", setGradEnabled},
    {"isGradEnabled", isGradEnabled},
    {"liveTensors", liveTensors},
    {"setNumThreads", setNumThreads},
    {"getNumThreads", getNumThreads},
    {"setDeterministic", setDeterministic},
    {"manualSeed", manualSeed},
    {"cudaDeviceCount", cudaDeviceCount},
    {"generatorNew", generatorNew},
    {"generatorFree", generatorFree},
    {"generatorGetState", generatorGetState},
    {"generatorSetState", generatorSetState},
};
const size_t kCoreOpsCount = sizeof(kCoreOps) / sizeof(kCoreOps[0]);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->tensorCtor = Napi::Persistent(NTensor::Init(env));
  env.SetInstanceData<AddonData>(data);
  exports.Set("NativeTensor", data->tensorCtor.Value());
  registerOps(env, exports, kCoreOps, kCoreOpsCount);
  registerOps(env, exports, kMathOps, kMathOpsCount);
  registerDistributed(env, exports);
  return exports;
}

}  // namespace hmcseg

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return hmcseg::Init(env, exports); }

NODE_API_MODULE(hmcseg_native, InitAddon)
