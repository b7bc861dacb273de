#!/usr/bin/env python3
"""PyTorch side of bench/sampler.ts: optimizer/sampler update times for a given set of parameter shapes.

  /usr/bin/python3 bench/sampler_torch.py --shapes SHAPES.json [--threads 2 --runs 51 --warmup 5]

SHAPES.json is a list of parameter shapes (the U-Net's). Prints one JSON object with medians (ms) of:
- sgd_params: torch.optim.SGD(momentum=0.9, weight_decay) step over the per-parameter tensors
  (the usual PyTorch training loop);
- sgd_flat: the same optimizer over one flat tensor holding all parameters;
- sghmc_flat: the SGHMC update of src/bayes/sghmc.ts written with the same in-place torch ops on a
  flat tensor (mul_, add_ x3, normal_ from a seeded generator, add_);
- normal: the noise draw alone (normal_ from a seeded generator).
"""
import argparse
import json
import math
import platform
import statistics
import time

import torch


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=51)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.shapes) as f:
        shapes = json.load(f)
    lr, mu, wd = 1e-3, 0.9, 1e-4

    params = [torch.randn(s, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.SGD(params, lr=lr, momentum=mu, weight_decay=wd)
    sgd_params, sgd_params_runs = timed(opt.step, a.warmup, a.runs)

    n = sum(p.numel() for p in params)
    flat = torch.randn(n, requires_grad=True)
    flat.grad = torch.randn(n)
    opt_flat = torch.optim.SGD([flat], lr=lr, momentum=mu, weight_decay=wd)
    sgd_flat, sgd_flat_runs = timed(opt_flat.step, a.warmup, a.runs)

    theta, grad = torch.randn(n), torch.randn(n)
    v, noise = torch.zeros(n), torch.empty(n)
    gen = torch.Generator().manual_seed(0)
    num_data, temperature = 1902, 1.0
    noise_std = math.sqrt(2 * (1 - mu) * lr * temperature / num_data)

    def sghmc_step():
        v.mul_(mu)
        v.add_(grad, alpha=-lr)
        v.add_(theta, alpha=-lr * wd)
        noise.normal_(0, 1, generator=gen)
        v.add_(noise, alpha=noise_std)
        theta.add_(v)

    sghmc_flat, sghmc_flat_runs = timed(sghmc_step, a.warmup, a.runs)
    normal, _ = timed(lambda: noise.normal_(0, 1, generator=gen), a.warmup, a.runs)
    print(json.dumps({
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "params": n,
        "tensors": len(shapes),
        "sgd_params_ms": sgd_params,
        "sgd_params_runs_ms": sgd_params_runs,
        "sgd_flat_ms": sgd_flat,
        "sgd_flat_runs_ms": sgd_flat_runs,
        "sghmc_flat_ms": sghmc_flat,
        "sghmc_flat_runs_ms": sghmc_flat_runs,
        "normal_ms": normal,
    }))


if __name__ == "__main__":
    main()
