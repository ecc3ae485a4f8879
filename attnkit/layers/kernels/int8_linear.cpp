// attnkit's int8 linear for x86 CPUs with AVX512-VNNI: y = x · Wᵀ (+ b).
//
// W is int8 (N, K), symmetric, one fp32 scale per output row. Each row of x is quantized on the
// fly to int8 with its own scale (dynamic, symmetric), then shifted to uint8 (+128) because
// VNNI's vpdpbusd multiplies unsigned by signed bytes:
//     Σ_k (xq_k + 128)·w_k = Σ_k xq_k·w_k + 128·Σ_k w_k
// so the shift is removed with the precomputed row sums of W (`wsum`). Accumulation is exact in
// int32; y = acc · sx · sw (+ b) in fp32, in the order the PyTorch path uses (no FMA contraction). Batch-1 decoding reads each weight byte once per token,
// so the time is the weight bytes over the memory bandwidth: int8 is a quarter of fp32's.
#include <torch/library.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <immintrin.h>
#include <algorithm>
#include <cmath>

namespace {

// Quantize rows of x (M, K) fp32 to uint8 with a +128 shift; one scale per row.
void quantize_rows(const float* x, int64_t M, int64_t K, uint8_t* q, float* scale) {
  for (int64_t m = 0; m < M; ++m) {
    const float* row = x + m * K;
    float amax = 0.f;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(row[k]));
    const float s = amax > 0.f ? amax / 127.f : 1.f;
    const float inv = 1.f / s;
    scale[m] = s;
    for (int64_t k = 0; k < K; ++k) {
      const float v = std::nearbyint(row[k] * inv);  // in [-127, 127]: |row[k]| <= amax
      q[m * K + k] = static_cast<uint8_t>(static_cast<int32_t>(v) + 128);
    }
  }
}

// MB rows of x against NB rows of W: MB x NB int32 dot products over K, 64 bytes per step.
template <int MB, int NB>
inline void dots(const uint8_t* const* xr, const int8_t* const* wr, int64_t K, int32_t* out) {
  __m512i acc[MB][NB];
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_si512();
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    __m512i w[NB];
    for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(wr[j] + k);
    for (int i = 0; i < MB; ++i) {
      const __m512i a = _mm512_loadu_si512(xr[i] + k);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a, w[j]);
    }
  }
  if (k < K) {  // the last K - k bytes, with masked loads that fill zeros
    const __mmask64 m = _bzhi_u64(~0ULL, static_cast<unsigned>(K - k));
    __m512i w[NB];
    for (int j = 0; j < NB; ++j) w[j] = _mm512_maskz_loadu_epi8(m, wr[j] + k);
    for (int i = 0; i < MB; ++i) {
      const __m512i a = _mm512_maskz_loadu_epi8(m, xr[i] + k);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a, w[j]);
    }
  }
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NB; ++j) out[i * NB + j] = _mm512_reduce_add_epi32(acc[i][j]);
}

template <int MB, int NB>
inline void tile(const uint8_t* q, const float* sx, const int8_t* w, const float* sw,
                 const int32_t* wsum, const float* bias, float* y, int64_t m0, int64_t n0,
                 int64_t K, int64_t N) {
  const uint8_t* xr[MB];
  const int8_t* wr[NB];
  for (int i = 0; i < MB; ++i) xr[i] = q + (m0 + i) * K;
  for (int j = 0; j < NB; ++j) wr[j] = w + (n0 + j) * K;
  int32_t acc[MB * NB];
  dots<MB, NB>(xr, wr, K, acc);
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NB; ++j) {
      const int64_t n = n0 + j;
      const float v = static_cast<float>(acc[i * NB + j] - 128 * wsum[n]) * sx[m0 + i] * sw[n];
      y[(m0 + i) * N + n] = bias ? v + bias[n] : v;
    }
}

// Rows m0 .. m0+MB of the output, columns n0 .. n1, one column (one row of W) at a time: each W
// row is read once for MB rows of x. Blocking 2 or 4 W rows together measured 2x slower at batch
// 1 on this project's CPU (the hardware prefetcher follows one stream better than four).
template <int MB>
void row_block(const uint8_t* q, const float* sx, const int8_t* w, const float* sw,
               const int32_t* wsum, const float* bias, float* y, int64_t m0, int64_t n0,
               int64_t n1, int64_t K, int64_t N) {
  for (int64_t n = n0; n < n1; ++n) tile<MB, 1>(q, sx, w, sw, wsum, bias, y, m0, n, K, N);
}

}  // namespace

at::Tensor int8_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& scale,
                       const at::Tensor& wsum, const std::optional<at::Tensor>& bias) {
  TORCH_CHECK(w.scalar_type() == at::kChar && w.dim() == 2 && w.is_contiguous(), "w: int8 (N, K)");
  const int64_t N = w.size(0), K = w.size(1);
  TORCH_CHECK(x.size(-1) == K, "x's last dimension must equal W's K");
  auto x2 = x.reshape({-1, K}).to(at::kFloat).contiguous();  // (..., K) -> (M, K)
  const int64_t M = x2.size(0);
  auto q = at::empty({M, K}, at::kByte);
  auto sx = at::empty({M}, at::kFloat);
  quantize_rows(x2.data_ptr<float>(), M, K, q.data_ptr<uint8_t>(), sx.data_ptr<float>());
  auto y = at::empty({M, N}, at::kFloat);
  const float* bp = bias.has_value() ? bias->data_ptr<float>() : nullptr;
  const uint8_t* qp = q.data_ptr<uint8_t>();
  const float* sxp = sx.data_ptr<float>();
  const int8_t* wp = w.data_ptr<int8_t>();
  const float* swp = scale.data_ptr<float>();
  const int32_t* wsp = wsum.data_ptr<int32_t>();
  float* yp = y.data_ptr<float>();
  // Threads split the output columns, so each reads its own slice of W once per row block.
  at::parallel_for(0, N, 64, [&](int64_t n0, int64_t n1) {
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) row_block<4>(qp, sxp, wp, swp, wsp, bp, yp, m, n0, n1, K, N);
    for (; m < M; ++m) row_block<1>(qp, sxp, wp, swp, wsp, bp, yp, m, n0, n1, K, N);
  });
  auto shape = x.sizes().vec();
  shape.back() = N;
  return y.view(shape).to(x.scalar_type());  // (M, N) -> (..., N)
}

// A dispatcher op (torch.ops.attnkit.int8_linear), so torch.compile keeps it as one opaque call;
// its shape function is registered from Python (layers/kernels/__init__.py).
TORCH_LIBRARY(attnkit, m) {
  m.def("int8_linear(Tensor x, Tensor w, Tensor scale, Tensor wsum, Tensor? bias) -> Tensor");
}
TORCH_LIBRARY_IMPL(attnkit, CPU, m) { m.impl("int8_linear", &int8_linear); }
