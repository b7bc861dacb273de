#!/usr/bin/python3
"""Reference values for the engine's conv/pool/interpolate/norm/cross-entropy ops, from PyTorch.

Run with Debian's python (torch 1.13, the same libtorch as the addon):
    /usr/bin/python3 scripts/reference-ops.py > test/fixtures/engine-reference.json

Inputs are multiples of 1/16 (exact in float32 and short in JSON); outputs are computed in float32
and written with 9 significant digits. Each case: {op, args (JSON options), inputs: {name: {shape,
data, dtype?}}, outputs: {name: {shape, data}}}; `random` holds seeded draws (rand, randn, randint,
dropout, a Generator's stream). test/engine-ops.test.ts replays them.
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(20240611)


def grid(*shape, lo=-32, hi=32):
    """A float32 tensor of multiples of 1/16 in [lo/16, hi/16)."""
    return torch.randint(lo, hi, shape).float() / 16


def enc(t):
    t = t.detach()
    if t.dtype == torch.int64:
        return {"shape": list(t.shape), "dtype": "int64", "data": t.flatten().tolist()}
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.flatten().tolist()]}


cases = []


def case(name, op, args, inputs, outputs):
    cases.append({
        "name": name,
        "op": op,
        "args": args,
        "inputs": {k: enc(v) for k, v in inputs.items()},
        "outputs": {k: enc(v) for k, v in outputs.items()},
    })


# ---- conv2d
x, w, b = grid(2, 3, 5, 5), grid(4, 3, 3, 3), grid(4)
case("conv2d padding 1", "conv2d", {"padding": 1}, {"x": x, "w": w, "b": b}, {"y": F.conv2d(x, w, b, padding=1)})
x, w = grid(1, 4, 7, 6), grid(6, 2, 3, 2)
args = {"stride": [2, 1], "padding": [1, 0], "dilation": [2, 1], "groups": 2}
case("conv2d stride/dilation/groups, no bias", "conv2d", args, {"x": x, "w": w},
     {"y": F.conv2d(x, w, None, stride=(2, 1), padding=(1, 0), dilation=(2, 1), groups=2)})

# ---- convTranspose2d
x, w, b = grid(1, 3, 4, 4), grid(3, 2, 3, 3), grid(2)
case("convTranspose2d stride 2 padding 1 outputPadding 1", "convTranspose2d",
     {"stride": 2, "padding": 1, "outputPadding": 1}, {"x": x, "w": w, "b": b},
     {"y": F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)})
x, w = grid(2, 4, 3, 3), grid(4, 1, 2, 2)
case("convTranspose2d groups 2", "convTranspose2d", {"stride": 2, "groups": 2}, {"x": x, "w": w},
     {"y": F.conv_transpose2d(x, w, None, stride=2, groups=2)})

# ---- pools
x = grid(1, 2, 5, 5)
case("maxPool2d 2 ceil", "maxPool2d", {"kernel": 2, "ceilMode": True}, {"x": x},
     {"y": F.max_pool2d(x, 2, ceil_mode=True)})
case("maxPool2d 3 stride 2 padding 1", "maxPool2d", {"kernel": 3, "stride": 2, "padding": 1}, {"x": x},
     {"y": F.max_pool2d(x, 3, stride=2, padding=1)})
case("avgPool2d 3 stride 2 padding 1", "avgPool2d", {"kernel": 3, "stride": 2, "padding": 1}, {"x": x},
     {"y": F.avg_pool2d(x, 3, stride=2, padding=1)})
case("avgPool2d 3 stride 2 padding 1 excluding pad", "avgPool2d",
     {"kernel": 3, "stride": 2, "padding": 1, "countIncludePad": False}, {"x": x},
     {"y": F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)})
case("avgPool2d 2 ceil", "avgPool2d", {"kernel": 2, "ceilMode": True}, {"x": x},
     {"y": F.avg_pool2d(x, 2, ceil_mode=True)})

# ---- interpolate
x = grid(1, 2, 3, 4)
case("interpolate nearest up", "interpolate", {"size": [5, 7], "mode": "nearest"}, {"x": x},
     {"y": F.interpolate(x, size=(5, 7), mode="nearest")})
case("interpolate bilinear up", "interpolate", {"size": [5, 7], "mode": "bilinear", "alignCorners": False},
     {"x": x}, {"y": F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False)})
case("interpolate bilinear up align corners", "interpolate",
     {"size": [5, 7], "mode": "bilinear", "alignCorners": True}, {"x": x},
     {"y": F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True)})
x = grid(1, 1, 6, 8)
case("interpolate bilinear down", "interpolate", {"size": [3, 5], "mode": "bilinear", "alignCorners": False},
     {"x": x}, {"y": F.interpolate(x, size=(3, 5), mode="bilinear", align_corners=False)})
case("interpolate nearest down", "interpolate", {"size": [4, 3], "mode": "nearest"}, {"x": x},
     {"y": F.interpolate(x, size=(4, 3), mode="nearest")})

# ---- batchNorm: training updates the running statistics in place; eval uses them
x, w, b = grid(4, 3, 2, 2), grid(3), grid(3)
rm, rv = grid(3), grid(3, lo=8, hi=40)
rm1, rv1 = rm.clone(), rv.clone()
y = F.batch_norm(x, rm1, rv1, w, b, training=True, momentum=0.2, eps=1e-5)
case("batchNorm training", "batchNorm", {"training": True, "momentum": 0.2},
     {"x": x, "weight": w, "bias": b, "runningMean": rm, "runningVar": rv},
     {"y": y, "runningMean": rm1, "runningVar": rv1})
case("batchNorm eval", "batchNorm", {"training": False},
     {"x": x, "weight": w, "bias": b, "runningMean": rm, "runningVar": rv},
     {"y": F.batch_norm(x, rm, rv, w, b, training=False), "runningMean": rm, "runningVar": rv})
case("batchNorm training without affine or running stats", "batchNorm", {"training": True}, {"x": x},
     {"y": F.batch_norm(x, None, None, training=True)})

# ---- instanceNorm, groupNorm
x, w, b = grid(2, 3, 4, 4), grid(3), grid(3)
case("instanceNorm affine", "instanceNorm", {}, {"x": x, "weight": w, "bias": b},
     {"y": F.instance_norm(x, weight=w, bias=b)})
case("instanceNorm plain eps 1e-3", "instanceNorm", {"eps": 1e-3}, {"x": x}, {"y": F.instance_norm(x, eps=1e-3)})
x, w, b = grid(2, 6, 3, 3), grid(6), grid(6)
case("groupNorm 3 groups affine", "groupNorm", {"groups": 3}, {"x": x, "weight": w, "bias": b},
     {"y": F.group_norm(x, 3, w, b)})
case("groupNorm 2 groups plain", "groupNorm", {"groups": 2}, {"x": x}, {"y": F.group_norm(x, 2)})

# ---- crossEntropy
logits = grid(5, 4)
target = torch.tensor([0, 3, 2, 1, 2])
weight = torch.tensor([0.5, 1.0, 2.0, 0.25])
for reduction in ["mean", "sum", "none"]:
    case(f"crossEntropy weights ignoreIndex 2 {reduction}", "crossEntropy",
         {"reduction": reduction, "ignoreIndex": 2}, {"logits": logits, "target": target, "weight": weight},
         {"y": F.cross_entropy(logits, target, weight=weight, ignore_index=2, reduction=reduction)})
case("crossEntropy label smoothing", "crossEntropy", {"labelSmoothing": 0.1}, {"logits": logits, "target": target},
     {"y": F.cross_entropy(logits, target, label_smoothing=0.1)})
logits = grid(2, 3, 4, 4)
target = torch.randint(0, 3, (2, 4, 4))
target[0, 0, :] = 255
weight = torch.tensor([0.2, 1.0, 3.0])
case("crossEntropy 2-D weights ignoreIndex 255", "crossEntropy", {"ignoreIndex": 255},
     {"logits": logits, "target": target, "weight": weight},
     {"y": F.cross_entropy(logits, target, weight=weight, ignore_index=255)})

# ---- random streams: the same libtorch draws the same numbers for the same seed
torch.manual_seed(7)
rand, randn, randint = torch.rand(20), torch.randn(20), torch.randint(3, 9, (12,))
torch.manual_seed(7)
x = torch.arange(1, 17, dtype=torch.float32).reshape(2, 8)
dropped = F.dropout(x, p=0.25, training=True)
g = torch.Generator().manual_seed(11)
gen_rand = torch.rand(6, generator=g)
gen_normal = torch.empty(6).normal_(2.0, 0.5, generator=g)
random = {
    "seed": 7,
    "rand": enc(rand), "randn": enc(randn), "randint": enc(randint),
    "dropout": {"p": 0.25, "x": enc(x), "y": enc(dropped)},
    "generator": {"seed": 11, "rand": enc(gen_rand), "normal": {"mean": 2.0, "std": 0.5, "y": enc(gen_normal)}},
}

print(json.dumps({"torch": torch.__version__, "cases": cases, "random": random}, separators=(",", ":")))
