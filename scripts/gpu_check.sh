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
# attnkit's Triton attention kernel against cuDNN SDPA (bf16, causal): D=64 and D=128 at T=4k/16k,
# forward and forward+backward, printed as a table (issue 21's targets: >= 0.9x cuDNN forward at
# D=128, T=16k; >= 0.8x forward+backward at T=4k).
timeout "${T_TRITON:-120}" python3 - <<'PY' 2>&1 | tee "$OUT/triton_attention.txt"
import torch, triton
from attnkit.attention import get_backend
from torch.nn.attention import SDPBackend, sdpa_kernel
ours = get_backend("triton")
for d in (64, 128):
    h = 2048 // d
    for t in (4096, 16384):
        q, k, v = (torch.randn(1, h, t, d, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
        ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        got, _ = ours(q, k, v, is_causal=True)
        err = ((got - ref).abs().max() / ref.abs().max()).item()
        flops = 4 * h * t * t * d / 2
        def f_ours(): ours(q, k, v, is_causal=True)
        def f_cudnn():
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        def b_ours(): ours(q, k, v, is_causal=True)[0].sum().backward()
        def b_cudnn():
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
        with torch.no_grad():
            a, c = triton.testing.do_bench(f_ours), triton.testing.do_bench(f_cudnn)
        ab, cb = triton.testing.do_bench(b_ours), triton.testing.do_bench(b_cudnn)
        print(f"D={d} T={t}: fwd triton {a:.2f} ms ({flops / a / 1e9:.0f} TFLOP/s) cuDNN {c:.2f} ms -> {c / a:.2f}x; "
              f"fwd+bwd triton {ab:.2f} ms cuDNN {cb:.2f} ms -> {cb / ab:.2f}x; max rel err {err:.1e}")
PY
