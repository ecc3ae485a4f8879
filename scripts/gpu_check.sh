#!/usr/bin/env bash
# One call on a lent GPU machine: the CUDA tests, then the GPU speed benchmark, each section
# saved as it finishes. Results land in $OUT (or ./gpu-out); render them here with
#   python benchmarks/lm_speed_gpu.py --render <dir>/lm_speed_gpu.json
# The GPU image has torch and transformers but not rouge-score/nltk: carry them in .gpu_site
# (copied from the project venv; pure Python).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/.gpu_site" PYTHONUNBUFFERED=1 TORCHINDUCTOR_COMPILE_THREADS=16
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
JSON="$OUT/lm_speed_gpu.json"
timeout "${T_EAGER:-150}" python3 benchmarks/lm_speed_gpu.py --json "$JSON" --sections train_eager,gen,attention 2>&1 \
  | grep -v "^W[0-9]" | tail -30
timeout "${T_TESTS:-150}" python3 -m pytest -m gpu -q -p no:cacheprovider tests/gpu 2>&1 | tee "$OUT/pytest_gpu.txt" | tail -25
timeout "${T_COMPILE:-240}" python3 benchmarks/lm_speed_gpu.py --json "$JSON" --sections train_compiled 2>&1 \
  | grep -v "^W[0-9]" | tail -8
