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
# linux/x64; the CPU runtime ships inside the package, so skip it.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# The addon is rebuilt only when what it is built from changed: its sources, binding.gyp, the
# libtorch found (and its library files), node's version and ABI, node-addon-api. The key of the
# last build is kept in build/hmcseg-build.key (build/ is removed by a rebuild, and by a clone).
addon=build/Release/hmcseg_native.node
key_file=build/hmcseg-build.key
libtorch_json=$(node scripts/find-libtorch.cjs json)
libdir=$(node -p 'JSON.parse(process.argv[1]).libdir' "$libtorch_json")
key=$(
  {
    for f in binding.gyp native/*; do echo "$f"; cat "$f"; done
    echo "$libtorch_json"
    stat -L -c '%n %s %Y' "$libdir"/libtorch*.so* "$libdir"/libc10*.so* 2>/dev/null || true
    node -p 'process.version + " " + process.versions.modules + " " + require("node-addon-api/package.json").version'
  } | sha256sum | cut -d' ' -f1
)
if [ -f "$addon" ] && [ -f "$key_file" ] && [ "$(cat "$key_file")" = "$key" ]; then
  echo "hmcseg setup: native addon up to date"
else
  npm run build:native --silent
  echo "$key" > "$key_file"
fi

# TypeScript and the viewer's page bundle (dist/web): built only when a source, or the compiler's or
# the bundler's configuration, is newer than the last build (dist/.hmcseg-compiled).
ts_stamp=dist/.hmcseg-compiled
if [ -f "$ts_stamp" ] && [ -z "$(find src bench web scripts/build-view.mjs tsconfig.json tsconfig.build.json package-lock.json -newer "$ts_stamp" -print -quit)" ]; then
  echo "hmcseg setup: dist/ up to date"
else
  touch_at=$(mktemp)
  npm run build:ts --silent
  npm run build:view --silent
  mkdir -p dist && mv "$touch_at" "$ts_stamp"  # stamped with the time the compile started
fi
