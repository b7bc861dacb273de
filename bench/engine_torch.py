#!/usr/bin/env python3
"""PyTorch twin of hmcseg's U-Net (src/models/unet.ts) and of bench/engine.ts.

Same architecture, same parameter names (state_dict keys), same initialisation scheme, so that
weights move between the two and timings compare the same work.

  python3 bench/engine_torch.py --threads 2 --json         # benchmark, one JSON object on stdout
  python3 bench/engine_torch.py --threads 2 --serve        # timing server for bench/engine.ts (interleaved runs)
  python3 bench/engine_torch.py --device cuda --json       # on a GPU (each timed call ends with a synchronize)
  python3 bench/engine_torch.py --param-count [--depth 4 --base-width 16 --norm batch]
  python3 bench/engine_torch.py --export-case OUT.json     # small model + input + logits for tests
"""
import argparse
import json
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """(conv3x3 -> norm -> ReLU) x 2, then optional dropout."""

    def __init__(self, cin, cout, norm, dropout):
        super().__init__()
        bias = norm == "none"
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=bias)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=bias)
        if norm == "batch":
            self.bn1 = nn.BatchNorm2d(cout)
            self.bn2 = nn.BatchNorm2d(cout)
        elif norm == "instance":
            self.norm1 = nn.InstanceNorm2d(cout, affine=True)
            self.norm2 = nn.InstanceNorm2d(cout, affine=True)
        self.norm = norm
        self.dropout = dropout

    def forward(self, x):
        n1 = {"batch": "bn1", "instance": "norm1"}.get(self.norm)
        n2 = {"batch": "bn2", "instance": "norm2"}.get(self.norm)
        x = self.conv1(x)
        if n1:
            x = getattr(self, n1)(x)
        x = F.relu(x)
        x = self.conv2(x)
        if n2:
            x = getattr(self, n2)(x)
        x = F.relu(x)
        if self.dropout > 0:
            x = F.dropout(x, self.dropout, self.training)
        return x


class UNet(nn.Module):
    """depth levels: depth-1 encoder blocks, a bottleneck block, depth-1 decoder blocks."""

    def __init__(self, in_channels=1, num_classes=4, depth=4, base_width=16, norm="batch", dropout=0.0, placement="bottleneck"):
        super().__init__()
        widths = [base_width * 2**i for i in range(depth)]
        drop = lambda where: dropout if placement == "all" or placement == where else 0.0
        c = in_channels
        for i in range(depth - 1):
            setattr(self, f"enc{i}", Block(c, widths[i], norm, drop("encoder")))
            c = widths[i]
        self.bottleneck = Block(c, widths[-1], norm, drop("bottleneck"))
        for i in reversed(range(depth - 1)):
            setattr(self, f"up{i}", nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2))
            setattr(self, f"dec{i}", Block(2 * widths[i], widths[i], norm, drop("decoder")))
        self.head = nn.Conv2d(widths[0], num_classes, 1)
        self.depth = depth
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        skips = []
        for i in range(self.depth - 1):
            x = getattr(self, f"enc{i}")(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for i in reversed(range(self.depth - 1)):
            x = getattr(self, f"up{i}")(x)
            x = torch.cat([skips[i], x], dim=1)
            x = getattr(self, f"dec{i}")(x)
        return self.head(x)


def forward_gflop(depth, base_width, batch, size, in_channels, num_classes):
    """Multiply-adds x 2 of all convolutions (norms, ReLU, pooling not counted)."""
    widths = [base_width * 2**i for i in range(depth)]
    macs, c, h = 0, in_channels, size
    for i, w in enumerate(widths):
        macs += h * h * 9 * (c * w + w * w)
        c = w
        if i < depth - 1:
            h //= 2
    for i in reversed(range(depth - 1)):
        h *= 2
        w = widths[i]
        macs += h * h * c * w  # 2x2 stride-2 transposed conv: one tap per output pixel and input channel
        macs += h * h * 9 * (2 * w * w + w * w)
        c = w
    macs += h * h * c * num_classes
    return 2 * macs * batch / 1e9


def workload(args):
    """The benchmark's model, data and the two timed operations (each sets its own mode)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = UNet(1, 4, args.depth, args.base_width, "batch").to(device)
    x = torch.randn(args.batch, 1, args.size, args.size).to(device)
    y = torch.randint(0, 4, (args.batch, args.size, args.size)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    # CUDA calls return before the kernels finish: a timed call waits for them.
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def forward():
        model.eval()
        with torch.no_grad():
            model(x)
        sync()

    def step():
        model.train()
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sync()

    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "params": sum(p.numel() for p in model.parameters()),
        "forward_gflop": forward_gflop(args.depth, args.base_width, args.batch, args.size, 1, 4),
    }
    return {"forward": forward, "step": step}, info


def timed_ms(fn):
    """Wall-clock and process CPU milliseconds of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def bench(args):
    ops, info = workload(args)
    for name in ("forward", "step"):
        for _ in range(args.warmup):
            ops[name]()
        runs = [timed_ms(ops[name])[0] for _ in range(args.runs)]
        info[f"{name}_ms"] = statistics.median(runs)
        info[f"{name}_runs_ms"] = runs
    return info


def serve(args):
    """Line protocol for interleaved timing: prints the info JSON, then for each stdin line
    'forward' or 'step' runs it once and prints the wall-clock and CPU milliseconds it took."""
    ops, info = workload(args)
    print(json.dumps(info), flush=True)
    for line in iter(sys.stdin.readline, ""):
        cmd = line.strip()
        if cmd not in ops:
            print(json.dumps({"error": f"unknown command {cmd!r}"}), flush=True)
            continue
        print("%r %r" % timed_ms(ops[cmd]), flush=True)


def export_case(path, seed=3):
    """A depth-2, base-8 U-Net with non-trivial BN statistics, an input, and its logits."""
    torch.manual_seed(seed)
    model = UNet(1, 4, 2, 8, "batch")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
                m.bias.normal_(0, 0.1)
    x = torch.randn(2, 1, 16, 16)
    enc = lambda t: {"shape": list(t.shape), "data": t.detach().double().flatten().tolist()}
    state = {k: enc(v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    with torch.no_grad():
        train_logits = model(x)
    with open(path, "w") as f:
        json.dump({"config": {"depth": 2, "baseWidth": 8, "norm": "batch"}, "state": state,
                   "input": enc(x), "evalLogits": enc(eval_logits), "trainLogits": enc(train_logits),
                   # running stats after the one train-mode forward (momentum 0.1)
                   "runningAfterTrain": {k: enc(v) for k, v in model.state_dict().items() if "running" in k}}, f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--json", action="store_true")
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--base-width", type=int, default=16)
    p.add_argument("--norm", default="batch")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--param-count", action="store_true")
    p.add_argument("--export-case")
    p.add_argument("--serve", action="store_true")
    args = p.parse_args()
    if args.param_count:
        print(sum(p.numel() for p in UNet(1, 4, args.depth, args.base_width, args.norm).parameters()))
    elif args.export_case:
        export_case(args.export_case)
    elif args.serve:
        serve(args)
    else:
        r = bench(args)
        if args.json:
            print(json.dumps(r))
        else:
            print(f"PyTorch {r['torch']} threads={r['threads']}: forward {r['forward_ms']:.1f} ms, step {r['step_ms']:.1f} ms")


if __name__ == "__main__":
    main()
