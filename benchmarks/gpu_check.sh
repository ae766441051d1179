#!/usr/bin/env bash
# The GPU check, on a machine with one GPU and PyTorch (run benchmarks/gpu_prepare.sh first, where pip works):
#   bash benchmarks/gpu_check.sh [OUT_DIR]
# Runs the GPU-marked tests, then benchmarks/gpu_check.py (every lesson alone, the bird job cold then warm under the
# profiler, a rehearsed worker's first bird job, the bird lesson 1/2/4/8 at once, the peers), writing gpu-check.md / .json to OUT_DIR (default: $OUT, else
# benchmarks/results/latest). About 7 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-benchmarks/results/latest}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 LESSON1_OFFLINE=1 TMPDIR=${TMPDIR:-/tmp}
for wheel in .whl/*.whl; do        # one by one: a wheel that does not fit this Python loses only itself
  [ -e "$wheel" ] || continue
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheel" \
    || echo "could not install $wheel"
done
export PYTHONPATH=/tmp/site:$PWD/.gpudata/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
echo "--- GPU-marked tests"
timeout ${GPU_TESTS_SECONDS:-110} python3 -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider -o addopts="-ra" \
  ${GPU_TESTS_K:+-k "$GPU_TESTS_K"} \
  2>&1 | tee "$out/gpu-tests.log"
echo "--- measurements"
python3 benchmarks/gpu_check.py --out "$out" --tests-log "$out/gpu-tests.log" --budget ${GPU_CHECK_SECONDS:-330} "${@:2}"
