// attnkit's int8 linear for x86 CPUs with AVX512-VNNI: y = x · Wᵀ (+ b).
//
// W is int8 (N, K), symmetric, one fp32 scale per output row. Each row of x is quantized on the
// fly to int8 in blocks of 64 values, each block with its own scale (as llama.cpp's Q8_0 does
// with blocks of 32): one scale per whole row let a few outlier features of a language model's
// activations flatten the rest, and SmolLM2's greedy tokens diverged from fp32 within 2 tokens;
// with 64-blocks they matched for 32. Per block b of a row:
//     dot_b = Σ_k∈b xq_k · w_k            (exact, int32)
//     y     = sw · Σ_b sx_b · dot_b (+ bias)
// VNNI's vpdpbusd multiplies unsigned by signed bytes, so the kernel feeds it |xq| and w with
// the sign of xq moved onto it (w negated where xq < 0), which leaves every product unchanged.
// Batch-1 decoding reads each weight byte once per token, so its time is the weight bytes over
// the memory bandwidth: int8 is a quarter of fp32's.
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <immintrin.h>
#include <algorithm>
#include <cmath>

namespace {

constexpr int64_t BLOCK = 64;  // one zmm register of bytes

// Rows of x (M, K) fp32 -> |xq| (M, K) uint8, negative-lane masks (M, nb) and scales (M, nb).
void quantize_blocks(const float* x, int64_t M, int64_t K, uint8_t* ax, uint64_t* neg, float* scale) {
  const int64_t nb = (K + BLOCK - 1) / BLOCK;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t k0 = b * BLOCK, k1 = std::min(K, k0 + BLOCK);
      const float* v = x + m * K;
      float amax = 0.f;
      for (int64_t k = k0; k < k1; ++k) amax = std::max(amax, std::fabs(v[k]));
      const float s = amax > 0.f ? amax / 127.f : 1.f;
      const float inv = 1.f / s;
      uint64_t mask = 0;
      for (int64_t k = k0; k < k1; ++k) {
        const int32_t q = static_cast<int32_t>(std::nearbyint(v[k] * inv));  // in [-127, 127]
        ax[m * K + k] = static_cast<uint8_t>(q < 0 ? -q : q);
        if (q < 0) mask |= 1ULL << (k - k0);
      }
      neg[m * nb + b] = mask;
      scale[m * nb + b] = s;
    }
  }
}

// MB rows of x against row n of W.
template <int MB>
inline void rows_dot(const uint8_t* ax, const uint64_t* neg, const float* sx, const int8_t* wr,
                     int64_t m0, int64_t K, int64_t nb, float* out) {
  __m512 acc[MB];
  for (int i = 0; i < MB; ++i) acc[i] = _mm512_setzero_ps();
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t k = b * BLOCK;
    // The last block reads only the K - k bytes that remain (masked loads fill zeros).
    const __mmask64 lanes = K - k >= BLOCK ? ~0ULL : _bzhi_u64(~0ULL, static_cast<unsigned>(K - k));
    const __m512i w = _mm512_maskz_loadu_epi8(lanes, wr + k);
    for (int i = 0; i < MB; ++i) {
      const int64_t row = m0 + i;
      const __m512i a = _mm512_maskz_loadu_epi8(lanes, ax + row * K + k);
      const __m512i ws = _mm512_mask_sub_epi8(w, neg[row * nb + b], zero, w);  // w · sign(xq)
      const __m512i dot = _mm512_dpbusd_epi32(zero, a, ws);  // 16 partial int32 sums
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_set1_ps(sx[row * nb + b]), acc[i]);
    }
  }
  for (int i = 0; i < MB; ++i) out[i] = _mm512_reduce_add_ps(acc[i]);
}

}  // namespace

at::Tensor int8_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& scale,
                       const std::optional<at::Tensor>& bias) {
  TORCH_CHECK(w.scalar_type() == at::kChar && w.dim() == 2 && w.is_contiguous(), "w: int8 (N, K)");
  const int64_t N = w.size(0), K = w.size(1), nb = (K + BLOCK - 1) / BLOCK;
  TORCH_CHECK(x.size(-1) == K, "x's last dimension must equal W's K");
  auto x2 = x.reshape({-1, K}).to(at::kFloat).contiguous();  // (..., K) -> (M, K)
  const int64_t M = x2.size(0);
  auto ax = at::empty({M, K}, at::kByte);
  auto neg = at::empty({M, nb}, at::kLong);
  auto sx = at::empty({M, nb}, at::kFloat);
  quantize_blocks(x2.data_ptr<float>(), M, K, ax.data_ptr<uint8_t>(),
                  reinterpret_cast<uint64_t*>(neg.data_ptr<int64_t>()), sx.data_ptr<float>());
  auto y = at::empty({M, N}, at::kFloat);
  const float* bp = bias.has_value() ? bias->data_ptr<float>() : nullptr;
  const uint8_t* axp = ax.data_ptr<uint8_t>();
  const uint64_t* negp = reinterpret_cast<const uint64_t*>(neg.data_ptr<int64_t>());
  const float* sxp = sx.data_ptr<float>();
  const int8_t* wp = w.data_ptr<int8_t>();
  const float* swp = scale.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  // Threads split the output columns, so each reads its own slice of W once per 4 rows of x.
  // One W row at a time: blocking 2 or 4 W rows together measured 2x slower at batch 1 here.
  at::parallel_for(0, N, 64, [&](int64_t n0, int64_t n1) {
    float out[4];
    for (int64_t n = n0; n < n1; ++n) {
      const int8_t* wr = wp + n * K;
      int64_t m = 0;
      for (; m + 4 <= M; m += 4) {
        rows_dot<4>(axp, negp, sxp, wr, m, K, nb, out);
        for (int i = 0; i < 4; ++i) yp[(m + i) * N + n] = out[i] * swp[n] + (bp ? bp[n] : 0.f);
      }
      for (; m < M; ++m) {
        rows_dot<1>(axp, negp, sxp, wr, m, K, nb, out);
        yp[m * N + n] = out[0] * swp[n] + (bp ? bp[n] : 0.f);
      }
    }
  });
  auto shape = x.sizes().vec();
  shape.back() = N;
  return y.view(shape).to(x.scalar_type());  // (M, N) -> (..., N)
}

// A dispatcher op (torch.ops.attnkit.int8_linear), so torch.compile keeps it as one opaque call;
// its shape function is registered from Python (layers/kernels/__init__.py).
TORCH_LIBRARY(attnkit, m) {
  m.def("int8_linear(Tensor x, Tensor w, Tensor scale, Tensor? bias) -> Tensor");
}
TORCH_LIBRARY_IMPL(attnkit, CPU, m) { m.impl("int8_linear", &int8_linear); }
