#!/usr/bin/env bash
# Chapter 2's runs on a lent GPU (the H200 of 2026-12-04): Table 1's uniform-noise models at the paper's width
# (N = 128) and the 2D Student-t bank at the paper's batch (4096), side by side on one GPU, each stopped by a
# wall-clock budget of training (the learning rates are constant, so a run stopped at step k is the run of k steps;
# each record says k). Then the cost of the pretrained-model cell at the paper's scale on this GPU
# (benchmarks/ch2_pretrained_cost.py, under a minute). A smoke pass of the scripts runs first, so that a broken
# environment fails in seconds.
#
# Usage: benchmarks/ch2_gpu_runs.sh OUT_DIR      (CH2_GPU_MINUTES: training budget per model, default 5)
# Writes OUT_DIR/ch2_entropy_limited_gpu.{json,md,log}, OUT_DIR/ch2_study2d_gpu.{json,md,log} and
# OUT_DIR/ch2_pretrained_cost_gpu.{json,md}; the committed copies are benchmarks/results/ch2_*_gpu.{json,md}.
set -euo pipefail
out=${1:?usage: benchmarks/ch2_gpu_runs.sh OUT_DIR}
minutes=${CH2_GPU_MINUTES:-5}
py=${PYTHON:-python3}
cd "$(dirname "$0")/.."
mkdir -p "$out"
"$py" -c "import os, torch; assert torch.cuda.is_available() or os.environ.get('CH2_ALLOW_CPU'), 'no CUDA device'"
"$py" -c "import torch; print('device:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"

echo "== smoke"
smoke=$(mktemp -d)
"$py" benchmarks/ch2_study2d.py --steps 3 --n-eval 500 --out "$smoke/s2d" > "$smoke/s2d.log" 2>&1 \
  || { tail -30 "$smoke/s2d.log"; exit 1; }
"$py" benchmarks/ch2_entropy_limited.py --n 16 --patch-size 48 --steps 3 --jobs 3 --eval-images 1 --eval-size 192 \
  --out "$smoke/el" > "$smoke/el.log" 2>&1 || { tail -30 "$smoke/el.log"; exit 1; }
"$py" benchmarks/ch2_pretrained_cost.py --scale small --repeat 1 --out "$smoke/cost" > "$smoke/cost.log" 2>&1 \
  || { tail -30 "$smoke/cost.log"; exit 1; }
echo "smoke passed"
[ -z "${CH2_SMOKE_ONLY:-}" ] || exit 0

echo "== runs ($minutes min of training per model)"
"$py" benchmarks/ch2_study2d.py --steps 500000 --batch-size 4096 --max-train-minutes "$minutes" --checkpoint-every 5000 \
  --threads 4 --out "$out/ch2_study2d_gpu" > "$out/ch2_study2d_gpu.log" 2>&1 &
s2d=$!
"$py" benchmarks/ch2_entropy_limited.py --n 128 --patch-size 128 --batch-size 16 --steps 200000 \
  --max-train-minutes "$minutes" --checkpoint-every 2000 --jobs 3 --threads 3 --out "$out/ch2_entropy_limited_gpu" \
  > "$out/ch2_entropy_limited_gpu.log" 2>&1 || { tail -40 "$out/ch2_entropy_limited_gpu.log"; }
wait $s2d || tail -40 "$out/ch2_study2d_gpu.log"
"$py" benchmarks/ch2_pretrained_cost.py --out "$out/ch2_pretrained_cost_gpu" > /dev/null 2>&1 || echo "cost estimate failed"
tail -12 "$out/ch2_entropy_limited_gpu.md" "$out/ch2_study2d_gpu.md" "$out/ch2_pretrained_cost_gpu.md" 2>/dev/null \
  | cut -c1-400
