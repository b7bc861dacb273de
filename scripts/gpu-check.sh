#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and a Python torch with CUDA: builds the addon
# against that torch, runs the CUDA tests, and times a training step and a forward pass (the
# prediction pass) against PyTorch on the same GPU (bench/engine.ts --device), then the whole
# prediction pipeline (bench/predict.ts --device). Writes OUT/gpu-check.json (a summary naming
# every step's outcome) beside the logs and each benchmark's JSON.
#
#   bash scripts/gpu-check.sh [OUT]        # default OUT: ./gpu-check
#   env: PYTHON (the interpreter with torch; default python3), DEVICE (default cuda), THREADS (default 4)
#
# Runs from the tarball of scripts/gpu-pack.sh (its node/ is used; nothing is downloaded) or from
# a checkout with Node 20, node_modules and dist/. Without a GPU it stops at the first check,
# saying what is missing (exit 2), before building anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(realpath -m "${1:-gpu-check}")
mkdir -p "$out"
py=${PYTHON:-python3}
device=${DEVICE:-cuda}
threads=${THREADS:-4}
summary="$out/gpu-check.json"
steps=()

# Writes the summary (ok, the reason when not, each step) and exits with `code`.
finish() {
  local code=$1 reason=$2
  local list
  list=$(IFS=,; echo "${steps[*]:-}")
  printf '{\n  "ok": %s,\n  "reason": %s,\n  "device": "%s",\n  "date": "%s",\n  "steps": [%s]\n}\n' \
    "$([ "$code" = 0 ] && echo true || echo false)" "$(json_str "$reason")" "$device" "$(date -u +%FT%TZ)" "$list" >"$summary"
  [ "$code" = 0 ] || echo "gpu-check: $reason" >&2
  echo "gpu-check: wrote $summary"
  exit "$code"
}
json_str() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/' | tr -d '\n'; }
step() { steps+=("{\"step\": \"$1\", \"ok\": $2, \"seconds\": $3, \"log\": \"$4\"}"); }
# Runs a named step with its output in OUT/NAME.log; on failure, finishes with the log's tail.
run_step() {
  local name=$1
  shift
  local t0=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then
    step "$name" true $((SECONDS - t0)) "$name.log"
  else
    step "$name" false $((SECONDS - t0)) "$name.log"
    finish 1 "$name failed: $(tail -n 3 "$out/$name.log" | tr '\n' ' ')"
  fi
}

# 1. What the check needs: Node, a torch with CUDA and a visible GPU, a C++ toolchain.
if [ -x "$root/node/bin/node" ]; then
  export PATH="$root/node/bin:$PATH"
  nodedir="$root/node"
elif command -v node >/dev/null; then
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  [ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
else
  finish 2 "no Node: run from the scripts/gpu-pack.sh tarball (it carries node/), or install Node 20"
fi
command -v "$py" >/dev/null || finish 2 "no $py (set PYTHON to the interpreter with torch)"
torch_info=$("$py" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.device_count())' 2>/dev/null) ||
  finish 2 "$py has no torch (pip install torch, a CUDA build)"
read -r torch_version torch_cuda gpus <<<"$torch_info"
[ "$torch_cuda" != None ] || finish 2 "torch $torch_version of $py is a CPU-only build: no CUDA"
[ "$gpus" -gt 0 ] || finish 2 "torch $torch_version (CUDA $torch_cuda) sees no GPU (driver? CUDA_VISIBLE_DEVICES?)"
for tool in g++ make; do command -v "$tool" >/dev/null || finish 2 "no $tool: node-gyp needs a C++ toolchain"; done
gpu=$("$py" -c 'import torch; print(torch.cuda.get_device_name(0))')
step environment true 0 "torch $torch_version CUDA $torch_cuda, $gpus GPU(s): $gpu; node $(node --version)"

# 2. The addon, against that torch (find-libtorch.cjs reads include/, lib/ and the ABI from LIBTORCH).
LIBTORCH=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
export LIBTORCH
run_step build node node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir="$nodedir"
run_step addon-sees-gpu node --input-type=module -e "
  const e = await import('$root/dist/src/engine/index.js');
  console.log('cudaBuilt', e.cudaBuilt(), 'devices', e.cudaDeviceCount());
  if (!e.cudaAvailable()) { console.error('the addon built against $LIBTORCH sees no CUDA device'); process.exit(1); }"

# 3. The CUDA tests (device creation, the generators' CPU streams, cross-device stores), and the smoke run on the GPU.
run_step tests node node_modules/vitest/vitest.mjs run test/engine-device.test.ts test/device-run.test.ts \
  --reporter=default --reporter=json --outputFile="$out/tests.json"
run_step smoke node dist/src/cli/main.js smoke --device "$device"

# 4. Timings against PyTorch on the same GPU, and the prediction pipeline.
run_step bench-engine node dist/bench/engine.js --device "$device" --python "$(command -v "$py")" --threads "$threads" \
  --runs 21 --warmup 5 --out "$out/engine-$device.json"
run_step bench-predict node dist/bench/predict.js --device "$device" --threads "$threads" --out "$out/predict-$device.json"
finish 0 ""
