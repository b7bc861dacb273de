// hmcseg native engine: a small, "dumb" binding of libtorch tensors, ops and autograd to Node.
// Every algorithm lives in TypeScript; this layer only moves tensors across and translates errors.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <atomic>
#include <string>
#include <vector>

namespace hmcseg {

// Dtype codes shared with src/engine/binding.ts (pinned: changing one breaks saved files and the TS side).
enum DtypeCode : int32_t { kF32 = 0, kF64 = 1, kI64 = 2, kI32 = 3, kU8 = 4, kBool = 5, kI16 = 6 };

at::ScalarType toScalarType(int32_t code);
int32_t toDtypeCode(at::ScalarType t);

// Count of native tensors alive (created and neither disposed nor garbage-collected).
extern std::atomic<int64_t> g_live;

// A JavaScript handle that owns one at::Tensor. dispose() frees it at once and unwraps the handle;
// otherwise the GC's finalizer does.
class NTensor : public Napi::ObjectWrap<NTensor> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit NTensor(const Napi::CallbackInfo& info);
  ~NTensor() override;

  // The NTensor of a handle object, or nullptr once the handle is disposed.
  static NTensor* of(napi_env env, napi_value handle);
  void set(at::Tensor t);
  const at::Tensor& get(const char* op, size_t index) const;
  // The tensor, or nullptr for an empty handle (made by `new NativeTensor()`); never throws.
  const at::Tensor* tryGet() const { return t_.defined() ? &t_ : nullptr; }

 private:
  void release();

  at::Tensor t_;
};

// Per-addon state: the constructor of NTensor, to make handles for results.
struct AddonData {
  Napi::FunctionReference tensorCtor;
};

// Reads arguments of one native call, with errors that name the op and the argument.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}
  Napi::Env env() const { return info_.Env(); }
  const char* op() const { return op_; }
  size_t size() const { return info_.Length(); }
  bool has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  bool isTensor(size_t i) const;
  Napi::Value raw(size_t i) const { return info_[i]; }

  const at::Tensor& t(size_t i) const;
  c10::optional<at::Tensor> optT(size_t i) const;
  std::vector<at::Tensor> tensors(size_t i) const;
  double d(size_t i) const;
  int64_t i64(size_t i) const;
  bool b(size_t i) const;
  std::string s(size_t i) const;
  std::vector<int64_t> ints(size_t i) const;
  at::Scalar scalar(size_t i) const;
  at::ScalarType dtype(size_t i) const;

  // The shapes and dtypes of the tensor arguments, for error messages.
  std::string describe() const;

  [[noreturn]] void fail(size_t i, const std::string& what) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
};

Napi::Value wrap(Napi::Env env, at::Tensor t);

using OpFn = Napi::Value (*)(Args&);
struct OpDef {
  const char* name;
  OpFn fn;
};

// Registers each op as a function on `exports`, wrapped so that libtorch errors become JS errors.
void registerOps(Napi::Env env, Napi::Object exports, const OpDef* ops, size_t count);

// Op tables defined in their own translation units.
extern const OpDef kMathOps[];
extern const size_t kMathOpsCount;
extern const OpDef kCoreOps[];
extern const size_t kCoreOpsCount;

// Devices and process groups (native/distributed.cc): registers its ops and an exit hook.
void registerDistributed(Napi::Env env, Napi::Object exports);

}  // namespace hmcseg
