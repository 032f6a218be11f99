// Bit-packed binary convolution for CPU inference (rbonn_det/deploy/bitconv.py).
//
// out[n, co, p] = scale[co] * dot(sign(x) patch at p, sign(W[co])) + bias[co], with
// sign(v) = +1 for v >= 0 and -1 otherwise, and zero padding contributing 0: exactly
// what the float emulation conv2d(sign(x), scale * sign(W)) computes.
//
// Signs are bits (1 = negative), 64 channels per word. With a = the input word, w =
// the weight word and m = a validity mask (all ones for a tap inside the image, zero
// for a padded tap), each word contributes
//   sum over its valid bits of (+1 or -1) = popcount(m) - 2 * popcount((a ^ w) & m),
// so  dot = C * (valid taps of p) - 2 * sum_k popcount((a_k ^ w_k) & m_k).
// Channel padding bits (C not a multiple of 64) are 0 in both a and w: never counted.
//
// Layout: the input is packed once per call into word planes (N, H, Wd, W); for each
// output row the kernel gathers K = T * Wd rows of OW patch words (and T rows of
// masks), so consecutive output pixels are consecutive words. The popcount loop is
// vectorised over output pixels and register-blocked over 4 output channels: each
// vector of patch words loaded is used for 4 channels, each broadcast weight word for
// a block of pixels, and a finished block is converted, scaled and stored straight
// into the NCHW output. Three versions, chosen at run time by the CPU's features (or
// RBONN_BITCONV_ISA=scalar|avx2|avx512): AVX-512 (VPOPCNTQ, (a ^ w) & m in one ternary
// logic op, 32 pixels x 4 channels), AVX2 (nibble look-up popcount, byte counts summed
// over up to 31 words per 64-bit lane, 8 x 4) and portable scalar code (8 x 4). They
// compute the same integers and the same float operations (explicit fused
// multiply-add for the bias, no other contraction), so their outputs are bit-identical.
//
// Threads: packing (input rows) and the popcount blocks ((output row, 16-channel
// chunk) items) are split over torch's intra-op pool (at::parallel_for), so
// torch.set_num_threads governs the kernel like any torch CPU op.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* isa_name(Isa isa) {
  return isa == Isa::kAvx512 ? "avx512" : isa == Isa::kAvx2 ? "avx2" : "scalar";
}

Isa best_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vpopcntdq") &&
      __builtin_cpu_supports("fma"))
    return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2")) return Isa::kAvx2;
  return Isa::kScalar;
}

// the ISA of this call: RBONN_BITCONV_ISA (read each call, so tests can switch) or the best
Isa chosen_isa() {
  const Isa best = best_isa();
  const char* env = std::getenv("RBONN_BITCONV_ISA");
  if (env == nullptr || *env == '\0' || std::string(env) == "auto") return best;
  const std::string want(env);
  Isa isa;
  if (want == "scalar") {
    isa = Isa::kScalar;
  } else if (want == "avx2") {
    isa = Isa::kAvx2;
  } else if (want == "avx512") {
    isa = Isa::kAvx512;
  } else {
    TORCH_CHECK(false, "RBONN_BITCONV_ISA=", want,
                " is not one of auto, scalar, avx2, avx512; unset it to use the best");
  }
  TORCH_CHECK(static_cast<int>(isa) <= static_cast<int>(best), "RBONN_BITCONV_ISA=", want,
              ": this CPU does not have it (best here: ", isa_name(best), ")");
  return isa;
}

constexpr int64_t kPixelPad = 32;  // row buffers are padded to the widest pixel block
constexpr int64_t kChannels = 4;   // output channels per block

// One output row's operands. Rows of `stride` words: patch words P (K rows), masks M
// (T rows), and per pixel the number of valid input bits C * (valid taps).
struct RowView {
  const uint64_t* patches;
  const uint64_t* masks;
  const int64_t* valid;
  int64_t stride, K, Wd;
};

// Output of one block: channels [co0, co0 + cb), pixels [ow0, ow0 + px) of row `out`
// (plane stride plane), written as scale * float(dot) (+ bias).
struct OutView {
  float* out;
  int64_t plane, OW;
  const float* scale;
  const float* bias;
};

// scale * dot (+ bias as one fused multiply-add, rounded once): the same rounding in
// every kernel and as the first version of this kernel (built with -march=native,
// where the compiler fused it)
inline float finish(int64_t dot, float s, const float* bias, int64_t co) {
  const float v = static_cast<float>(dot);
  return bias != nullptr ? std::fma(s, v, bias[co]) : s * v;
}

// scalar: 8 pixels x 4 channels per block
void block_scalar(const RowView& r, const uint64_t* w, int64_t co0, int64_t cb, int64_t ow0,
                  int64_t px, const OutView& o) {
  int64_t acc[kChannels][8] = {};
  for (int64_t k = 0; k < r.K; ++k) {
    const uint64_t* a = r.patches + k * r.stride + ow0;
    const uint64_t* m = r.masks + (k / r.Wd) * r.stride + ow0;
    for (int64_t c = 0; c < cb; ++c) {
      const uint64_t wk = w[(co0 + c) * r.K + k];
      for (int64_t p = 0; p < 8; ++p) acc[c][p] += __builtin_popcountll((a[p] ^ wk) & m[p]);
    }
  }
  for (int64_t c = 0; c < cb; ++c) {
    const int64_t co = co0 + c;
    float* dst = o.out + co * o.plane + ow0;
    for (int64_t p = 0; p < px; ++p)
      dst[p] = finish(r.valid[ow0 + p] - 2 * acc[c][p], o.scale[co], o.bias, co);
  }
}

// AVX-512: NV vectors of 8 pixels x CB channels, NV * CB accumulators in registers
// (compile-time sizes: the loops unroll fully and nothing spills)
template <int NV, int CB>
__attribute__((target("avx512f,avx512vl,avx512dq,avx512vpopcntdq,fma"))) void block_avx512(
    const RowView& r, const uint64_t* w, int64_t co0, int64_t ow0, int64_t px,
    const OutView& o) {
  __m512i acc[CB][NV];
#pragma GCC unroll 4
  for (int c = 0; c < CB; ++c)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[c][v] = _mm512_setzero_si512();
  const uint64_t* wrow[CB];
#pragma GCC unroll 4
  for (int c = 0; c < CB; ++c) wrow[c] = w + (co0 + c) * r.K;
  for (int64_t t = 0, k = 0; k < r.K; ++t) {
    __m512i m[NV];
    const uint64_t* mrow = r.masks + t * r.stride + ow0;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) m[v] = _mm512_loadu_si512(mrow + 8 * v);
    for (int64_t d = 0; d < r.Wd; ++d, ++k) {
      const uint64_t* arow = r.patches + k * r.stride + ow0;
      __m512i a[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) a[v] = _mm512_loadu_si512(arow + 8 * v);
#pragma GCC unroll 4
      for (int c = 0; c < CB; ++c) {
        const __m512i wb = _mm512_set1_epi64(static_cast<long long>(wrow[c][k]));
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          // 0x28 = (A ^ B) & C for A = patch, B = weight, C = mask
          const __m512i x = _mm512_ternarylogic_epi64(a[v], wb, m[v], 0x28);
          acc[c][v] = _mm512_add_epi64(acc[c][v], _mm512_popcnt_epi64(x));
        }
      }
    }
  }
  for (int c = 0; c < CB; ++c) {
    const int64_t co = co0 + c;
    const __m256 s = _mm256_set1_ps(o.scale[co]);
    float* dst = o.out + co * o.plane + ow0;
    for (int v = 0; v < NV; ++v) {
      const __m512i valid = _mm512_loadu_si512(r.valid + ow0 + 8 * v);
      const __m512i dot = _mm512_sub_epi64(valid, _mm512_slli_epi64(acc[c][v], 1));
      const __m256 value = _mm512_cvtepi64_ps(dot);
      const __m256 y = o.bias != nullptr
                           ? _mm256_fmadd_ps(s, value, _mm256_set1_ps(o.bias[co]))
                           : _mm256_mul_ps(s, value);
      const int64_t lanes = std::min<int64_t>(8, px - 8 * v);
      _mm256_mask_storeu_ps(dst + 8 * v, static_cast<__mmask8>((1u << lanes) - 1), y);
    }
  }
}

template <int NV>
void block_avx512_channels(const RowView& r, const uint64_t* w, int64_t co0, int64_t cb,
                           int64_t ow0, int64_t px, const OutView& o) {
  switch (cb) {
    case 1: return block_avx512<NV, 1>(r, w, co0, ow0, px, o);
    case 2: return block_avx512<NV, 2>(r, w, co0, ow0, px, o);
    case 3: return block_avx512<NV, 3>(r, w, co0, ow0, px, o);
    default: return block_avx512<NV, 4>(r, w, co0, ow0, px, o);
  }
}

void block_avx512_any(const RowView& r, const uint64_t* w, int64_t co0, int64_t cb,
                      int64_t ow0, int64_t px, const OutView& o) {
  switch ((px + 7) / 8) {
    case 1: return block_avx512_channels<1>(r, w, co0, cb, ow0, px, o);
    case 2: return block_avx512_channels<2>(r, w, co0, cb, ow0, px, o);
    case 3: return block_avx512_channels<3>(r, w, co0, cb, ow0, px, o);
    default: return block_avx512_channels<4>(r, w, co0, cb, ow0, px, o);
  }
}

// AVX2: 8 pixels (2 vectors of 4) x 4 channels. Popcount per byte by nibble look-up;
// byte counts of up to 31 words are summed in bytes (<= 248) and then folded into
// 64-bit lanes by one sum of absolute differences.
__attribute__((target("avx2"))) void block_avx2(const RowView& r, const uint64_t* w,
                                                int64_t co0, int64_t cb, int64_t ow0,
                                                int64_t px, const OutView& o) {
  const __m256i lookup = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                          0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  alignas(32) int64_t acc[kChannels][8] = {};
  __m256i bytes[kChannels][2];
  int64_t pending = 0;  // words summed into `bytes` since the last fold
  for (int c = 0; c < kChannels; ++c) bytes[c][0] = bytes[c][1] = zero;
  for (int64_t t = 0, k = 0; k < r.K; ++t) {
    const uint64_t* mrow = r.masks + t * r.stride + ow0;
    const __m256i m0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mrow));
    const __m256i m1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mrow + 4));
    for (int64_t d = 0; d < r.Wd; ++d, ++k) {
      const uint64_t* arow = r.patches + k * r.stride + ow0;
      const __m256i a0 =
          _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(arow)), m0);
      const __m256i a1 =
          _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(arow + 4)), m1);
      for (int c = 0; c < kChannels; ++c) {
        if (c >= cb) break;
        const __m256i wb = _mm256_set1_epi64x(static_cast<long long>(w[(co0 + c) * r.K + k]));
        // (a & m) ^ (w & m) = (a ^ w) & m
        const __m256i x[2] = {_mm256_xor_si256(a0, _mm256_and_si256(wb, m0)),
                              _mm256_xor_si256(a1, _mm256_and_si256(wb, m1))};
        for (int v = 0; v < 2; ++v) {
          const __m256i lo = _mm256_shuffle_epi8(lookup, _mm256_and_si256(x[v], low));
          const __m256i hi =
              _mm256_shuffle_epi8(lookup, _mm256_and_si256(_mm256_srli_epi16(x[v], 4), low));
          bytes[c][v] = _mm256_add_epi8(bytes[c][v], _mm256_add_epi8(lo, hi));
        }
      }
      if (++pending == 31 || k + 1 == r.K) {  // fold the byte counts into acc
        for (int c = 0; c < kChannels; ++c)
          for (int v = 0; v < 2; ++v) {
            __m256i* dst = reinterpret_cast<__m256i*>(acc[c] + 4 * v);
            _mm256_store_si256(dst, _mm256_add_epi64(_mm256_load_si256(dst),
                                                     _mm256_sad_epu8(bytes[c][v], zero)));
            bytes[c][v] = zero;
          }
        pending = 0;
      }
    }
  }
  for (int64_t c = 0; c < cb; ++c) {
    const int64_t co = co0 + c;
    float* dst = o.out + co * o.plane + ow0;
    for (int64_t p = 0; p < px; ++p)
      dst[p] = finish(r.valid[ow0 + p] - 2 * acc[c][p], o.scale[co], o.bias, co);
  }
}

// x (N, C, H, W) float -> word planes (N, H, Wd, W) uint64: bit c%64 of word c/64 of
// pixel (h, w) = "not x >= 0" (NaN counts as -1, as binary_sign's where(x >= 0) does)
void pack_rows_scalar(const float* src, uint64_t* dst, int64_t C, int64_t H, int64_t W,
                      int64_t Wd, int64_t begin, int64_t end) {
  for (int64_t nh = begin; nh < end; ++nh) {
    const int64_t n = nh / H, h = nh % H;
    uint64_t* planes = dst + nh * Wd * W;
    for (int64_t c = 0; c < C; ++c) {
      const float* line = src + ((n * C + c) * H + h) * W;
      uint64_t* row = planes + (c >> 6) * W;
      const int64_t shift = c & 63;
      for (int64_t w = 0; w < W; ++w)  // branch-free: signs are random
        row[w] |= static_cast<uint64_t>(!(line[w] >= 0.f)) << shift;
    }
  }
}

// the same, 8 pixels x one word of 64 channels at a time, built in a register: per
// channel one load, one compare, one masked OR (the bit moves up one place per channel)
__attribute__((target("avx512f,avx512vl,avx512dq"))) void pack_rows_avx512(
    const float* src, uint64_t* dst, int64_t C, int64_t H, int64_t W, int64_t Wd,
    int64_t begin, int64_t end) {
  const int64_t plane = H * W;  // distance between two channels of one pixel
  for (int64_t nh = begin; nh < end; ++nh) {
    const int64_t n = nh / H, h = nh % H;
    uint64_t* planes = dst + nh * Wd * W;
    for (int64_t d = 0; d < Wd; ++d) {
      const int64_t c0 = 64 * d, c1 = std::min(C, c0 + 64);
      const float* first = src + ((n * C + c0) * H + h) * W;
      for (int64_t w = 0; w < W; w += 8) {
        const __mmask8 in = static_cast<__mmask8>((1u << std::min<int64_t>(8, W - w)) - 1);
        __m512i words = _mm512_setzero_si512();
        __m512i bit = _mm512_set1_epi64(1);
        const float* line = first + w;
        for (int64_t c = c0; c < c1; ++c, line += plane) {
          const __m256 f = _mm256_maskz_loadu_ps(in, line);
          // not (f >= 0), NaN included; lanes past the row end are stored by no one
          const __mmask8 negative = _mm256_cmp_ps_mask(f, _mm256_setzero_ps(), _CMP_NGE_UQ);
          words = _mm512_mask_or_epi64(words, negative, words, bit);
          bit = _mm512_slli_epi64(bit, 1);
        }
        _mm512_mask_storeu_epi64(planes + d * W + w, in, words);
      }
    }
  }
}

// The operands of output row (n, oh): K rows of patch words, T rows of masks and the
// valid bit counts, each row `stride` long; everything not written is zero (padded taps
// and pixels past OW then count nothing).
void gather_row(const uint64_t* xb, int64_t n, int64_t oh, int64_t C, int64_t H, int64_t W,
                int64_t Wd, int64_t kh, int64_t kw, int64_t stride_h, int64_t stride_w,
                int64_t pad_h, int64_t pad_w, int64_t dil_h, int64_t dil_w, int64_t OW,
                int64_t stride, uint64_t* patches, uint64_t* masks, int64_t* valid) {
  const int64_t T = kh * kw;
  std::fill(patches, patches + T * Wd * stride, 0ull);
  std::fill(masks, masks + T * stride, 0ull);
  std::fill(valid, valid + stride, 0);
  for (int64_t i = 0; i < kh; ++i) {
    const int64_t ih = oh * stride_h - pad_h + i * dil_h;
    if (ih < 0 || ih >= H) continue;  // a padded row of taps: zero words and masks
    for (int64_t j = 0; j < kw; ++j) {
      const int64_t t = i * kw + j;
      // output pixels whose tap (i, j) lands inside the input: ow in [lo, hi)
      const int64_t first = j * dil_w - pad_w;  // iw of ow = 0
      const int64_t lo = first >= 0 ? 0 : (-first + stride_w - 1) / stride_w;
      const int64_t hi =
          std::min(OW, W - 1 - first >= 0 ? (W - 1 - first) / stride_w + 1 : int64_t{0});
      if (lo >= hi) continue;
      std::fill(masks + t * stride + lo, masks + t * stride + hi, ~0ull);
      for (int64_t ow = lo; ow < hi; ++ow) valid[ow] += C;
      for (int64_t d = 0; d < Wd; ++d) {
        uint64_t* prow = patches + (t * Wd + d) * stride;
        const uint64_t* src = xb + ((n * H + ih) * Wd + d) * W + first;
        if (stride_w == 1) {
          std::copy(src + lo, src + hi, prow + lo);
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) prow[ow] = src[ow * stride_w];
        }
      }
    }
  }
}

}  // namespace

// weight_words: (Co, K) int64 sign bits of W, K = kh*kw*Wd (tap-major, then channel
// words); padding needs no weight-side term (the masks handle it).
torch::Tensor bitconv2d_forward(torch::Tensor x, torch::Tensor weight_words,
                                torch::Tensor scale, torch::Tensor bias, int64_t kh, int64_t kw,
                                int64_t stride_h, int64_t stride_w, int64_t pad_h,
                                int64_t pad_w, int64_t dil_h, int64_t dil_w) {
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == torch::kFloat32 && x.device().is_cpu(),
              "bitconv2d: x must be a 4-D float32 CPU tensor");
  x = x.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t T = kh * kw, Wd = (C + 63) / 64, K = T * Wd;
  TORCH_CHECK(weight_words.dim() == 2 && weight_words.size(1) == K &&
                  weight_words.scalar_type() == torch::kInt64,
              "bitconv2d: weight words do not match C=", C);
  const int64_t Co = weight_words.size(0);
  TORCH_CHECK(scale.scalar_type() == torch::kFloat32 && scale.device().is_cpu() &&
                  scale.numel() == Co,
              "bitconv2d: scale must be Co float32 CPU values");
  TORCH_CHECK(bias.numel() == 0 || (bias.scalar_type() == torch::kFloat32 &&
                                    bias.device().is_cpu() && bias.numel() == Co),
              "bitconv2d: bias must be empty or Co float32 CPU values");
  const int64_t span_h = H + 2 * pad_h - dil_h * (kh - 1) - 1;
  const int64_t span_w = W + 2 * pad_w - dil_w * (kw - 1) - 1;
  TORCH_CHECK(span_h >= 0 && span_w >= 0, "bitconv2d: the input (", H, "x", W,
              ", padded) is smaller than the kernel");
  const int64_t OH = span_h / stride_h + 1, OW = span_w / stride_w + 1;
  const Isa isa = chosen_isa();

  // the AVX-512 packer writes every word; the scalar one ORs bits into zeros
  auto xbits = isa == Isa::kAvx512 ? torch::empty({N, H, Wd, W}, x.options().dtype(torch::kInt64))
                                   : torch::zeros({N, H, Wd, W}, x.options().dtype(torch::kInt64));
  const float* xs = x.data_ptr<float>();
  uint64_t* xb = reinterpret_cast<uint64_t*>(xbits.data_ptr<int64_t>());
  at::parallel_for(0, N * H, 1, [&](int64_t begin, int64_t end) {
    if (isa == Isa::kAvx512) {
      pack_rows_avx512(xs, xb, C, H, W, Wd, begin, end);
    } else {
      pack_rows_scalar(xs, xb, C, H, W, Wd, begin, end);
    }
  });

  auto out = torch::empty({N, Co, OH, OW}, x.options());
  weight_words = weight_words.contiguous();
  const uint64_t* w = reinterpret_cast<const uint64_t*>(weight_words.data_ptr<int64_t>());
  scale = scale.contiguous();
  if (bias.numel() > 0) bias = bias.contiguous();
  const float* sc = scale.data_ptr<float>();
  const float* bi = bias.numel() > 0 ? bias.data_ptr<float>() : nullptr;
  float* o = out.data_ptr<float>();
  const int64_t stride = (OW + kPixelPad - 1) / kPixelPad * kPixelPad;
  const int64_t px_block = isa == Isa::kAvx512 ? 32 : 8;
  const int64_t rows = N * OH;
  // work items: (output row, chunk of 16 output channels), so small maps split evenly
  // too. A thread gathers a row's operands when its items reach a new row, into its
  // own buffers (kept between calls: no allocation or page faults per call).
  constexpr int64_t kChunk = 16;
  const int64_t chunks = (Co + kChunk - 1) / kChunk;
  at::parallel_for(0, rows * chunks, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint64_t> patches, masks;
    thread_local std::vector<int64_t> valid;
    patches.resize(std::max<size_t>(patches.size(), K * stride));
    masks.resize(std::max<size_t>(masks.size(), T * stride));
    valid.resize(std::max<size_t>(valid.size(), stride));
    int64_t gathered = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t row = item / chunks, n = row / OH, oh = row % OH;
      if (row != gathered) {
        gather_row(xb, n, oh, C, H, W, Wd, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h,
                   dil_w, OW, stride, patches.data(), masks.data(), valid.data());
        gathered = row;
      }
      const RowView r{patches.data(), masks.data(), valid.data(), stride, K, Wd};
      const OutView ov{o + (n * Co * OH + oh) * OW, OH * OW, OW, sc, bi};
      const int64_t co_end = std::min(Co, (item % chunks + 1) * kChunk);
      for (int64_t co0 = (item % chunks) * kChunk; co0 < co_end; co0 += kChannels) {
        const int64_t cb = std::min(kChannels, co_end - co0);
        for (int64_t ow0 = 0; ow0 < OW; ow0 += px_block) {
          const int64_t px = std::min(px_block, OW - ow0);
          if (isa == Isa::kAvx512) {
            block_avx512_any(r, w, co0, cb, ow0, px, ov);
          } else if (isa == Isa::kAvx2) {
            block_avx2(r, w, co0, cb, ow0, px, ov);
          } else {
            block_scalar(r, w, co0, cb, ow0, px, ov);
          }
        }
      }
    }
  });
  return out;
}

std::string bitconv_isa() { return isa_name(chosen_isa()); }

std::vector<std::string> bitconv_isas() {
  std::vector<std::string> names;
  for (int i = 0; i <= static_cast<int>(best_isa()); ++i)
    names.push_back(isa_name(static_cast<Isa>(i)));
  return names;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("bitconv2d_forward", &bitconv2d_forward, "bit-packed binary conv2d (CPU)");
  m.def("isa", &bitconv_isa, "the popcount kernel this call would use");
  m.def("isas", &bitconv_isas, "the kernels this CPU can run, slowest first");
}
