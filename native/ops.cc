// Math ops: each a thin call of one ATen function. Argument order is documented in src/engine/binding.ts.
#include "engine.h"

namespace hmcseg {

using Fn2 = at::Tensor (*)(const at::Tensor&, const at::Tensor&);

// The second operand of a binary op: a tensor, or a number wrapped as PyTorch wraps a Python
// scalar (a "wrapped number"), so type promotion is PyTorch's: int tensor * 2 stays int,
// int tensor * 2.5 becomes float, float32 tensor * 2.0 stays float32.
static at::Tensor operand(const Args& a, size_t i, const at::Tensor& like) {
  (void)like;
  if (a.isTensor(i)) return a.t(i);
  at::Scalar s = a.scalar(i);
  // Args::scalar already gives integer-valued numbers an integral Scalar.
  at::ScalarType st = s.isBoolean() ? at::kBool : s.isIntegral(false) ? at::kLong : at::kDouble;
  at::Tensor t = at::scalar_tensor(s, at::TensorOptions().dtype(st));
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

static std::vector<int64_t> dimsOr(const Args& a, size_t i, const at::Tensor& t) {
  if (a.has(i)) return a.ints(i);
  std::vector<int64_t> all(t.dim());
  for (int64_t k = 0; k < t.dim(); ++k) all[k] = k;
  return all;
}

static int64_t reduction(const Args& a, size_t i) {
  std::string r = a.has(i) ? a.s(i) : "mean";
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  a.fail(i, "must be 'mean', 'sum' or 'none', got '" + r + "'");
}

#define W(expr) return wrap(a.env(), (expr))
#define OP(name) static Napi::Value op_##name(Args& a)

// ---- elementwise arithmetic (second operand: tensor or number)
OP(add) { const auto& x = a.t(0); W(a.has(2) ? at::add(x, operand(a, 1, x), a.scalar(2)) : at::add(x, operand(a, 1, x))); }
OP(sub) { const auto& x = a.t(0); W(at::sub(x, operand(a, 1, x))); }
OP(mul) { const auto& x = a.t(0); W(at::mul(x, operand(a, 1, x))); }
OP(div) { const auto& x = a.t(0); W(at::div(x, operand(a, 1, x))); }
OP(pow) { const auto& x = a.t(0); W(a.isTensor(1) ? at::pow(x, a.t(1)) : at::pow(x, a.scalar(1))); }
OP(maximum) { W(at::maximum(a.t(0), a.t(1))); }
OP(minimum) { W(at::minimum(a.t(0), a.t(1))); }
OP(eq) { const auto& x = a.t(0); W(at::eq(x, operand(a, 1, x))); }
OP(ne) { const auto& x = a.t(0); W(at::ne(x, operand(a, 1, x))); }
OP(lt) { const auto& x = a.t(0); W(at::lt(x, operand(a, 1, x))); }
OP(le) { const auto& x = a.t(0); W(at::le(x, operand(a, 1, x))); }
OP(gt) { const auto& x = a.t(0); W(at::gt(x, operand(a, 1, x))); }
OP(ge) { const auto& x = a.t(0); W(at::ge(x, operand(a, 1, x))); }
OP(logicalAnd) { W(at::logical_and(a.t(0), a.t(1))); }
OP(logicalOr) { W(at::logical_or(a.t(0), a.t(1))); }
OP(logicalNot) { W(at::logical_not(a.t(0))); }
// where(cond, x, y): x and y tensors or numbers
OP(where) {
  const auto& c = a.t(0);
  if (a.isTensor(1)) {
    const auto& x = a.t(1);
    W(at::where(c, x, operand(a, 2, x)));
  }
  if (a.isTensor(2)) {
    const auto& y = a.t(2);
    W(at::where(c, operand(a, 1, y), y));
  }
  W(at::where(c, a.scalar(1), a.scalar(2)));
}
OP(clamp) {
  c10::optional<at::Scalar> lo, hi;
  if (a.has(1)) lo = a.scalar(1);
  if (a.has(2)) hi = a.scalar(2);
  if (!lo && !hi) a.fail(1, "clamp needs a minimum or a maximum");
  W(at::clamp(a.t(0), lo, hi));
}
OP(neg) { W(at::neg(a.t(0))); }
OP(abs) { W(at::abs(a.t(0))); }
OP(exp) { W(at::exp(a.t(0))); }
OP(log) { W(at::log(a.t(0))); }
OP(log1p) { W(at::log1p(a.t(0))); }
OP(sqrt) { W(at::sqrt(a.t(0))); }
OP(sigmoid) { W(at::sigmoid(a.t(0))); }
OP(tanh) { W(at::tanh(a.t(0))); }
OP(relu) { W(at::relu(a.t(0))); }
OP(leakyRelu) { W(at::leaky_relu(a.t(0), a.has(1) ? a.scalar(1) : at::Scalar(0.01))); }
OP(gelu) { W(at::gelu(a.t(0), a.has(1) ? a.s(1) : "none")); }
OP(isfinite) { W(at::isfinite(a.t(0))); }
OP(allFinite) { return Napi::Boolean::New(a.env(), at::isfinite(a.t(0)).all().item<bool>()); }

// ---- reductions: (t, dims?, keepdim?)
OP(sum) { const auto& x = a.t(0); W(a.has(1) ? at::sum(x, a.ints(1), a.has(2) && a.b(2)) : at::sum(x)); }
OP(mean) { const auto& x = a.t(0); W(a.has(1) ? at::mean(x, a.ints(1), a.has(2) && a.b(2)) : at::mean(x)); }
OP(std) {
  const auto& x = a.t(0);
  bool unbiased = a.has(3) ? a.b(3) : true;
  W(at::std(x, dimsOr(a, 1, x), unbiased, a.has(2) && a.b(2)));
}
OP(var) {
  const auto& x = a.t(0);
  bool unbiased = a.has(3) ? a.b(3) : true;
  W(at::var(x, dimsOr(a, 1, x), unbiased, a.has(2) && a.b(2)));
}
// max/min (t, dim?, keepdim?): values only; argmax (t, dim?, keepdim?)
OP(max) { const auto& x = a.t(0); W(a.has(1) ? std::get<0>(at::max(x, a.i64(1), a.has(2) && a.b(2))) : at::max(x)); }
OP(min) { const auto& x = a.t(0); W(a.has(1) ? std::get<0>(at::min(x, a.i64(1), a.has(2) && a.b(2))) : at::min(x)); }
OP(argmax) {
  const auto& x = a.t(0);
  W(at::argmax(x, a.has(1) ? c10::optional<int64_t>(a.i64(1)) : c10::nullopt, a.has(2) && a.b(2)));
}
OP(logsumexp) { W(at::logsumexp(a.t(0), a.ints(1), a.has(2) && a.b(2))); }
OP(softmax) { W(at::softmax(a.t(0), a.i64(1))); }
OP(logSoftmax) { W(at::log_softmax(a.t(0), a.i64(1))); }
OP(matmul) { W(at::matmul(a.t(0), a.t(1))); }

// ---- shape and indexing
OP(reshape) { W(at::reshape(a.t(0), a.ints(1))); }
OP(view) { W(a.t(0).view(a.ints(1))); }
OP(permute) { W(a.t(0).permute(a.ints(1))); }
OP(transpose) { W(a.t(0).transpose(a.i64(1), a.i64(2))); }
OP(contiguous) { W(a.t(0).contiguous()); }
OP(clone) { W(a.t(0).clone()); }
// slice(t, dim, start, end, step)
OP(slice) { W(a.t(0).slice(a.i64(1), a.i64(2), a.i64(3), a.has(4) ? a.i64(4) : 1)); }
OP(narrow) { W(a.t(0).narrow(a.i64(1), a.i64(2), a.i64(3))); }
OP(indexSelect) { W(at::index_select(a.t(0), a.i64(1), a.t(2))); }
OP(gather) { W(at::gather(a.t(0), a.i64(1), a.t(2))); }
OP(cat) { W(at::cat(a.tensors(0), a.has(1) ? a.i64(1) : 0)); }
OP(stack) { W(at::stack(a.tensors(0), a.has(1) ? a.i64(1) : 0)); }
OP(flip) { W(at::flip(a.t(0), a.ints(1))); }
OP(squeeze) { W(a.has(1) ? a.t(0).squeeze(a.i64(1)) : a.t(0).squeeze()); }
OP(unsqueeze) { W(a.t(0).unsqueeze(a.i64(1))); }
OP(expand) { W(a.t(0).expand(a.ints(1))); }
// pad(t, pads [left, right, top, bottom, ...], mode 'constant'|'reflect'|'replicate', value)
OP(pad) {
  const auto& x = a.t(0);
  auto pads = a.ints(1);
  std::string mode = a.has(2) ? a.s(2) : "constant";
  if (mode == "constant") W(at::constant_pad_nd(x, pads, a.has(3) ? a.scalar(3) : at::Scalar(0)));
  if (pads.size() != 4 || x.dim() != 4) a.fail(1, "reflect/replicate padding takes 4 pads of an N×C×H×W tensor");
  if (mode == "reflect") W(at::reflection_pad2d(x, pads));
  if (mode == "replicate") W(at::replication_pad2d(x, pads));
  a.fail(2, "must be 'constant', 'reflect' or 'replicate', got '" + mode + "'");
}
OP(to) {
  const auto& x = a.t(0);
  at::TensorOptions o = at::TensorOptions().dtype(a.has(1) ? a.dtype(1) : x.scalar_type());
  o = o.device(a.has(2) ? at::Device(a.s(2)) : x.device());
  W(x.to(o));
}
OP(oneHot) { W(at::one_hot(a.t(0), a.i64(1))); }

// ---- neural network ops
// conv2d(x, w, b?, stride, padding, dilation, groups)
OP(conv2d) { W(at::conv2d(a.t(0), a.t(1), a.optT(2), a.ints(3), a.ints(4), a.ints(5), a.i64(6))); }
// convTranspose2d(x, w, b?, stride, padding, outputPadding, groups, dilation)
OP(convTranspose2d) {
  W(at::conv_transpose2d(a.t(0), a.t(1), a.optT(2), a.ints(3), a.ints(4), a.ints(5), a.i64(6), a.ints(7)));
}
// maxPool2d(x, kernel, stride, padding, dilation, ceilMode)
OP(maxPool2d) { W(at::max_pool2d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.ints(4), a.b(5))); }
// avgPool2d(x, kernel, stride, padding, ceilMode, countIncludePad)
OP(avgPool2d) { W(at::avg_pool2d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.b(4), a.b(5))); }
// interpolate(x, [h, w], mode 'nearest'|'bilinear', alignCorners)
OP(interpolate) {
  auto size = a.ints(1);
  if (size.size() != 2) a.fail(1, "must be [height, width]");
  std::string mode = a.s(2);
  bool alignCorners = a.has(3) && a.b(3);  // checked for 'nearest' too, which ignores it
  if (mode == "nearest") W(at::upsample_nearest2d(a.t(0), size));
  if (mode == "bilinear") W(at::upsample_bilinear2d(a.t(0), size, alignCorners));
  a.fail(2, "must be 'nearest' or 'bilinear', got '" + mode + "'");
}
// batchNorm(x, weight?, bias?, runningMean?, runningVar?, training, momentum, eps)
OP(batchNorm) {
  W(at::batch_norm(a.t(0), a.optT(1), a.optT(2), a.optT(3), a.optT(4), a.b(5), a.d(6), a.d(7), true));
}
// instanceNorm(x, weight?, bias?, eps)
OP(instanceNorm) {
  W(at::instance_norm(a.t(0), a.optT(1), a.optT(2), c10::nullopt, c10::nullopt, true, 0.1, a.d(3), true));
}
// groupNorm(x, groups, weight?, bias?, eps)
OP(groupNorm) { W(at::group_norm(a.t(0), a.i64(1), a.optT(2), a.optT(3), a.d(4), true)); }
// crossEntropy(logits, target, weight?, reduction, ignoreIndex, labelSmoothing)
OP(crossEntropy) {
  W(at::cross_entropy_loss(a.t(0), a.t(1), a.optT(2), reduction(a, 3), a.has(4) ? a.i64(4) : -100,
                           a.has(5) ? a.d(5) : 0.0));
}

// ---- in place (optimizers and samplers)
OP(add_) {
  at::Tensor x = a.t(0);
  if (a.isTensor(1)) x.add_(a.t(1), a.has(2) ? a.scalar(2) : at::Scalar(1));
  else x.add_(a.scalar(1));
  return a.env().Undefined();
}
OP(mul_) {
  at::Tensor x = a.t(0);
  if (a.isTensor(1)) x.mul_(a.t(1));
  else x.mul_(a.scalar(1));
  return a.env().Undefined();
}
OP(addcmul_) {
  at::Tensor x = a.t(0);
  x.addcmul_(a.t(1), a.t(2), a.has(3) ? a.scalar(3) : at::Scalar(1));
  return a.env().Undefined();
}
OP(copy_) {
  at::Tensor x = a.t(0);
  x.copy_(a.t(1));
  return a.env().Undefined();
}
OP(zero_) {
  at::Tensor x = a.t(0);
  x.zero_();
  return a.env().Undefined();
}
OP(fill_) {
  at::Tensor x = a.t(0);
  x.fill_(a.scalar(1));
  return a.env().Undefined();
}

#undef OP
#undef W

#define E(name) {#name, op_##name}
const OpDef kMathOps[] = {
    E(add), E(sub), E(mul), E(div), E(pow), E(maximum), E(minimum), E(eq), E(ne), E(lt), E(le), E(gt), E(ge),
    E(logicalAnd), E(logicalOr), E(logicalNot), E(where), E(clamp), E(neg), E(abs), E(exp), E(log), E(log1p),
    E(sqrt), E(sigmoid), E(tanh), E(relu), E(leakyRelu), E(gelu), E(isfinite), E(allFinite), E(sum), E(mean),
    E(std), E(var), E(max), E(min), E(argmax), E(logsumexp), E(softmax), E(logSoftmax), E(matmul), E(reshape),
    E(view), E(permute), E(transpose), E(contiguous), E(clone), E(slice), E(narrow), E(indexSelect), E(gather),
    E(cat), E(stack), E(flip), E(squeeze), E(unsqueeze), E(expand), E(pad), E(to), E(oneHot), E(conv2d),
    E(convTranspose2d), E(maxPool2d), E(avgPool2d), E(interpolate), E(batchNorm), E(instanceNorm), E(groupNorm),
    E(crossEntropy), E(add_), E(mul_), E(addcmul_), E(copy_), E(zero_), E(fill_),
};
#undef E
const size_t kMathOpsCount = sizeof(kMathOps) / sizeof(kMathOps[0]);

}  // namespace hmcseg
