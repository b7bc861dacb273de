#!/usr/bin/env bash
# Sets up hmcseg on Debian/Ubuntu: system packages (libtorch, OpenBLAS), npm packages, native addon, TypeScript.
# Idempotent: installs only what is missing. Not root and packages missing: prints the command and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have_libtorch() {
  [ -n "${LIBTORCH:-}" ] && return 0
  node scripts/find-libtorch.cjs include >/dev/null 2>&1
}
if ! have_libtorch; then need+=(libtorch-dev); fi
# OpenBLAS makes libtorch's convolutions 1.6-1.7x faster than the reference BLAS Debian picks otherwise.
if command -v dpkg-query >/dev/null && ! dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q 'ok installed'; then
  need+=(libopenblas0-pthread)
fi
for tool in g++ make python3; do
  command -v "$tool" >/dev/null || need+=("$([ "$tool" = g++ ] && echo g++ || echo "$tool")")
done

if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "hmcseg setup: missing ${need[*]}; install libtorch (or set LIBTORCH=/path/to/libtorch) and a C++ compiler." >&2
    exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "hmcseg setup: missing system packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "hmcseg setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
