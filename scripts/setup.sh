#!/usr/bin/env bash
# Sets up hmcseg on Debian/Ubuntu: system packages (libtorch, OpenBLAS; PyTorch for comparisons),
# npm packages, native addon, TypeScript. Idempotent: installs only what is missing.
# Not root and required packages missing: prints the command and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

installed() { command -v dpkg-query >/dev/null && dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

need=()
have_libtorch() {
  [ -n "${LIBTORCH:-}" ] && return 0
  node scripts/find-libtorch.cjs include >/dev/null 2>&1
}
if ! have_libtorch; then need+=(libtorch-dev); fi
# OpenBLAS makes libtorch's convolutions 1.6-1.7x faster than the reference BLAS Debian picks otherwise.
if command -v dpkg-query >/dev/null && ! installed libopenblas0-pthread; then need+=(libopenblas0-pthread); fi
for tool in g++ make python3; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
# Optional: PyTorch (the same libtorch) for the benchmarks' same-run comparisons and the
# interchange tests, which are skipped without it.
optional=()
if command -v dpkg-query >/dev/null && ! installed python3-torch; then optional+=(python3-torch); fi
# Optional: Gloo's headers, for the distributed process groups on Debian's libtorch (without them
# the addon builds without process groups and their tests are skipped).
if command -v dpkg-query >/dev/null && ! installed libgloo-dev && { installed libtorch-dev || [[ " ${need[*]} " == *" libtorch-dev "* ]]; }; then
  optional+=(libgloo-dev)
fi

if [ ${#need[@]} -gt 0 ] || { [ ${#optional[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; }; then
  if ! command -v apt-get >/dev/null; then
    echo "hmcseg setup: missing ${need[*]}; install libtorch (or set LIBTORCH=/path/to/libtorch) and a C++ compiler." >&2
    exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "hmcseg setup: missing system packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y ${need[*]} ${optional[*]}" >&2
    exit 1
  fi
  echo "hmcseg setup: installing ${need[*]} ${optional[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  if [ ${#optional[@]} -gt 0 ]; then
    apt-get install -y -qq "${optional[@]}" >/dev/null || echo "hmcseg setup: ${optional[*]} not installed; the tests that need them will be skipped" >&2
  fi
elif [ ${#optional[@]} -gt 0 ]; then
  echo "hmcseg setup: optional ${optional[*]} missing (as root: apt-get install -y ${optional[*]}); the tests that need them will be skipped" >&2
fi

# Optional: Debian's chromium for the browser tests of `hmcseg view` (skipped without it).
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ] && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "hmcseg setup: installing chromium (browser tests of hmcseg view)"
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
      echo "hmcseg setup: chromium not installed; the browser tests of hmcseg view will be skipped" >&2
  else
    echo "hmcseg setup: optional chromium missing (as root: apt-get install -y chromium); the browser tests of hmcseg view will be skipped" >&2
  fi
fi

# onnxruntime-node's install script would fetch CUDA libraries from outside the npm registry on
# linux/x64; the CPU runtime ships inside the package, so skip it (.npmrc says the same to npm).
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
