#!/usr/bin/env node
// Locates libtorch for node-gyp. Order: $LIBTORCH (a directory with include/ and lib/: an official
// libtorch zip, either ABI, or a pip torch's package directory), then the `torch` of python3 on
// PATH (1.13 or 2.x, CPU or CUDA), then Debian's libtorch-dev (1.13). Prints one field for binding.gyp:
//   include | libdir | abi | libs | defines | json (all of them, for scripts/setup.sh's build stamp)
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function fromEnv() {
  const root = process.env.LIBTORCH;
  if (!root) return null;
  const inc = path.join(root, 'include');
  const lib = path.join(root, 'lib');
  if (!fs.existsSync(path.join(inc, 'torch')) || !fs.existsSync(lib)) {
    throw new Error(`LIBTORCH=${root} has no include/torch or lib/ directory`);
  }
  return {
    include: [inc, path.join(inc, 'torch/csrc/api/include')],
    libdir: lib,
    abi: abiOf(lib),
  };
}

// The C++ ABI libc10 was built with: its mangled names name std::__cxx11 types only under the new
// ABI. This holds for the official libtorch zips (both ABIs unpack to libtorch/), for pip's torch
// (pre-cxx11 up to 2.6, cxx11 from 2.7) and for Debian's.
function abiOf(lib) {
  const c10 = path.join(lib, 'libc10.so');
  if (!fs.existsSync(c10)) throw new Error(`${lib} has no libc10.so; is this a libtorch lib/ directory?`);
  return fs.readFileSync(c10).includes('St7__cxx11') ? 1 : 0;
}

function fromPython() {
  for (const py of ['python3', 'python']) {
    try {
      const out = execFileSync(
        py,
        ['-c', 'import torch, os; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'],
        { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' },
      ).trim().split('\n');
      const root = out[0];
      const inc = path.join(root, 'include');
      if (!fs.existsSync(path.join(inc, 'torch'))) continue;
      return {
        include: [inc, path.join(inc, 'torch/csrc/api/include')],
        libdir: path.join(root, 'lib'),
        abi: Number(out[1]),
      };
    } catch {
      // no torch in this interpreter
    }
  }
  return null;
}

function fromDebian() {
  const inc = '/usr/include';
  const libdir = '/usr/lib/x86_64-linux-gnu';
  if (!fs.existsSync(path.join(inc, 'torch/csrc/api/include/torch/torch.h'))) return null;
  return { include: [path.join(inc, 'torch/csrc/api/include')], libdir, abi: 1 };
}

const found = fromEnv() ?? fromPython() ?? fromDebian();
if (!found) {
  console.error(
    'hmcseg: libtorch not found. Install it (Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-pthread), ' +
      'or set LIBTORCH to a directory with include/ and lib/, or install the Python torch package.',
  );
  process.exit(1);
}
// NCCL (native/distributed.cc): a CUDA libtorch, with NCCL's and CUDA's headers, which
// ProcessGroupNCCL.hpp includes (a CUDA toolkit's, or a pip install's nvidia/*/include).
function ncclIncludes() {
  if (!fs.existsSync(path.join(found.libdir, 'libtorch_cuda.so'))) return null;
  const cudaHome = process.env.CUDA_HOME ?? process.env.CUDA_PATH ?? '/usr/local/cuda';
  const pip = path.join(found.libdir, '..', '..', 'nvidia');
  const dirs = [path.join(cudaHome, 'include'), '/usr/include', path.join(pip, 'nccl/include'), path.join(pip, 'cuda_runtime/include')];
  const holding = (header) => dirs.find((d) => fs.existsSync(path.join(d, header)));
  const nccl = holding('nccl.h');
  const cuda = holding('cuda_runtime_api.h');
  return nccl && cuda ? [...new Set([nccl, cuda])] : null;
}

const nccl = ncclIncludes();
const what = process.argv[2];
if (what === 'include') console.log([...found.include, ...(nccl ?? [])].join(' '));
else if (what === 'defines') console.log(nccl ? 'USE_C10D_NCCL' : '');
else if (what === 'libdir') console.log(found.libdir);
else if (what === 'abi') console.log(String(found.abi));
else if (what === 'json') console.log(JSON.stringify({ ...found, nccl }));
else if (what === 'libs') {
  const libs = ['-L' + found.libdir, '-Wl,-rpath,' + found.libdir, '-ltorch', '-ltorch_cpu', '-lc10'];
  // A CUDA build: keep libtorch_cuda linked although no symbol of it is named, so `cuda` works.
  if (fs.existsSync(path.join(found.libdir, 'libtorch_cuda.so'))) {
    libs.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  }
  console.log(libs.join(' '));
}
else {
  console.error('usage: find-libtorch.cjs include|libdir|abi|libs|defines|json');
  process.exit(2);
}
