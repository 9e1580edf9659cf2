#!/usr/bin/env bash
# Chapter 2's runs on a lent GPU (the H200 of 2026-12-04): Table 1's uniform-noise models at the paper's width
# (N = 128) and the 2D Student-t bank at the paper's batch (4096), side by side on one GPU, each stopped by a
# wall-clock budget of training (the learning rates are constant, so a run stopped at step k is the run of k steps;
# each record says k). Then the cost of the pretrained-model cell at the paper's scale on this GPU
# (benchmarks/ch2_pretrained_cost.py, under a minute). A smoke pass of the scripts runs first, so that a broken
# environment fails in seconds.
#
# CH2_CHAPTER=1 also runs the chapter's code cells at the small scale on the device after the smoke pass
# (benchmarks/run_chapter.py, no Jupyter needed; OUT_DIR/ch2_chapter_run.log): the chapter's own CUDA paths.
#
# Usage: benchmarks/ch2_gpu_runs.sh OUT_DIR      (CH2_GPU_MINUTES: training budget per model, default 5; at 5 the
# whole script takes about 8-9 min, so a lent machine with a 10-min limit per command wants CH2_GPU_MINUTES=3)
#
# The real runs score Table 1 on whole Kodak images, so Kodak must resolve there (the scikit-image fallback's
# sizes are not multiples of the model's stride 16); the script stops at once if it does not. A lent machine gets
# the repository only: copy Kodak into an ignored folder of the repository (for example `.device_data/kodak`,
# listed in .git/info/exclude and carried), set PERCEPTUAL_COMPRESSION_DATA to that folder and
# PERCEPTUAL_COMPRESSION_OFFLINE=1, and PYTHONPATH=lib where the package is not installed.
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

"$py" -c "
from perceptual_compression.datasets import natural_images
imgs = natural_images()
assert not imgs.is_fallback, 'Kodak does not resolve here (' + imgs.label + '): see the header of ch2_gpu_runs.sh'
print('test images:', imgs.label)"

echo "== smoke"
smoke=$(mktemp -d)
export PERCEPTUAL_COMPRESSION_CACHE_RUNS="${PERCEPTUAL_COMPRESSION_CACHE:-}"
export PERCEPTUAL_COMPRESSION_CACHE="$smoke/cache"  # a fresh cache: the smoke pass trains, whatever ran before
"$py" benchmarks/ch2_study2d.py --steps 3 --n-eval 500 --out "$smoke/s2d" > "$smoke/s2d.log" 2>&1 \
  || { tail -30 "$smoke/s2d.log"; exit 1; }
"$py" benchmarks/ch2_entropy_limited.py --n 16 --patch-size 48 --steps 3 --jobs 3 --eval-images 1 --eval-size 192 \
  --out "$smoke/el" > "$smoke/el.log" 2>&1 || { tail -30 "$smoke/el.log"; exit 1; }
"$py" benchmarks/ch2_pretrained_cost.py --scale small --repeat 1 --out "$smoke/cost" > "$smoke/cost.log" 2>&1 \
  || { tail -30 "$smoke/cost.log"; exit 1; }
echo "smoke passed"
if [ -n "${CH2_CHAPTER:-}" ]; then  # the chapter itself on this device (small scale), without Jupyter
  echo "== chapter 2 (benchmarks/run_chapter.py)"
  "$py" benchmarks/run_chapter.py book/ch2_likelihood.ipynb > "$out/ch2_chapter_run.log" 2>&1 \
    && tail -1 "$out/ch2_chapter_run.log" || { tail -40 "$out/ch2_chapter_run.log"; exit 1; }
fi
[ -z "${CH2_SMOKE_ONLY:-}" ] || exit 0
if [ -n "$PERCEPTUAL_COMPRESSION_CACHE_RUNS" ]; then export PERCEPTUAL_COMPRESSION_CACHE="$PERCEPTUAL_COMPRESSION_CACHE_RUNS"
else unset PERCEPTUAL_COMPRESSION_CACHE; fi  # the runs resume from the usual cache (a rerun continues them)

echo "== runs ($minutes min of training per model)"
"$py" benchmarks/ch2_study2d.py --steps 500000 --batch-size 4096 --max-train-minutes "$minutes" --checkpoint-every 5000 \
  --threads 4 --out "$out/ch2_study2d_gpu" > "$out/ch2_study2d_gpu.log" 2>&1 &
s2d=$!
"$py" benchmarks/ch2_entropy_limited.py --n 128 --patch-size 128 --batch-size 16 --steps 200000 \
  --max-train-minutes "$minutes" --checkpoint-every 2000 --jobs 3 --threads 3 --out "$out/ch2_entropy_limited_gpu" \
  > "$out/ch2_entropy_limited_gpu.log" 2>&1 || { tail -40 "$out/ch2_entropy_limited_gpu.log"; }
wait $s2d || tail -40 "$out/ch2_study2d_gpu.log"
"$py" benchmarks/ch2_pretrained_cost.py --out "$out/ch2_pretrained_cost_gpu" > "$out/ch2_pretrained_cost_gpu.log" 2>&1 \
  || { echo "cost estimate failed"; tail -20 "$out/ch2_pretrained_cost_gpu.log"; }
tail -12 "$out/ch2_entropy_limited_gpu.md" "$out/ch2_study2d_gpu.md" "$out/ch2_pretrained_cost_gpu.md" 2>/dev/null \
  | cut -c1-400
