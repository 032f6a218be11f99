// Bit-packed binary convolution for CPU inference (rbonn_det/deploy/bitconv.py).
//
// out[n, co, p] = scale[co] * dot(sign(x) patch at p, sign(W[co])) + bias[co], with
// sign(v) = +1 for v >= 0 and -1 otherwise, and zero padding contributing 0: exactly
// what the float emulation conv2d(sign(x), scale * sign(W)) computes.
//
// Signs are bits (1 = negative), 64 channels per word. For one output pixel the
// input patch is gathered into a contiguous row of T * Wd words (T taps, Wd words per
// tap); a padded tap is left all-zero (= +1 everywhere) and its contribution
// sum_c sign(W[co, c, tap]) (precomputed: wsum) is subtracted afterwards. Channel
// padding bits are 0 in both operands, so they never count as a disagreement:
//   dot = T * C - 2 * popcount(patch XOR W[co]) - sum_{padded taps} wsum[co, tap]
//
// Single-threaded by design: rows are independent (the loops are written as
// row-range lambdas, ready for a thread pool), but an OpenMP build linked against
// torch's libgomp measured 2x slower on one thread and only ~1.1-1.6x faster on two
// (docs/benchmarks.md), so the serial build is what ships.
#include <torch/extension.h>

#include <cstdint>
#include <vector>

namespace {

// x (N, C, H, W) float -> bits (N, H, W, Wd) uint64, bit c%64 of word c/64 = (x < 0)
torch::Tensor pack_input(const torch::Tensor& x, int64_t words) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto bits = torch::zeros({N, H, W, words}, x.options().dtype(torch::kInt64));
  const float* src = x.data_ptr<float>();
  uint64_t* dst = reinterpret_cast<uint64_t*>(bits.data_ptr<int64_t>());
  auto pack_rows = [&](int64_t begin, int64_t end) {
    for (int64_t nh = begin; nh < end; ++nh) {
      const int64_t n = nh / H, h = nh % H;
      uint64_t* row = dst + nh * W * words;
      for (int64_t c = 0; c < C; ++c) {
        const float* line = src + ((n * C + c) * H + h) * W;
        const int64_t shift = c & 63, word = c >> 6;
        for (int64_t w = 0; w < W; ++w) {  // branch-free: signs are random
          // bit = "not >= 0": NaN counts as -1, as binary_sign's where(x >= 0) does
          row[w * words + word] |= static_cast<uint64_t>(!(line[w] >= 0.f)) << shift;
        }
      }
    }
  };
  pack_rows(0, N * H);
  return bits;
}

}  // namespace

// weight_words: (Co, T * Wd) int64 sign bits of W (tap-major, then channel words);
// wsum: (Co, T) int32, sum over channels of sign(W[co, :, tap]).
torch::Tensor bitconv2d_forward(torch::Tensor x, torch::Tensor weight_words,
                                torch::Tensor wsum, torch::Tensor scale,
                                torch::Tensor bias, int64_t kh, int64_t kw,
                                int64_t stride_h, int64_t stride_w, int64_t pad_h,
                                int64_t pad_w, int64_t dil_h, int64_t dil_w) {
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == torch::kFloat32 && x.device().is_cpu(),
              "bitconv2d: x must be a 4-D float32 CPU tensor");
  x = x.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Co = weight_words.size(0), T = kh * kw, Wd = (C + 63) / 64;
  TORCH_CHECK(weight_words.dim() == 2 && weight_words.size(1) == T * Wd &&
                  weight_words.scalar_type() == torch::kInt64,
              "bitconv2d: weight words do not match C=", C);
  TORCH_CHECK(wsum.scalar_type() == torch::kInt32 && wsum.numel() == Co * T,
              "bitconv2d: wsum must be (Co, kh*kw) int32");
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
  auto xbits = pack_input(x, Wd);
  auto out = torch::empty({N, Co, OH, OW}, x.options());
  const uint64_t* xb = reinterpret_cast<const uint64_t*>(xbits.data_ptr<int64_t>());
  auto weight_t = weight_words.t().contiguous();  // (K, Co)
  const uint64_t* wt = reinterpret_cast<const uint64_t*>(weight_t.data_ptr<int64_t>());
  const int32_t* ws = wsum.contiguous().data_ptr<int32_t>();
  const float* sc = scale.contiguous().data_ptr<float>();
  const bool has_bias = bias.numel() > 0;
  const float* bi = has_bias ? bias.contiguous().data_ptr<float>() : nullptr;
  float* o = out.data_ptr<float>();
  const int64_t K = T * Wd;
  // one output row (n, oh) at a time: dots for all (ow, co) first, then written out
  // channel by channel so the stores to the NCHW output are contiguous
  auto conv_rows = [&](int64_t begin, int64_t end) {
    std::vector<uint64_t> patch(K);
    std::vector<int64_t> acc(Co);
    std::vector<int64_t> dots(OW * Co);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / OH, oh = row % OH;
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t* dot = dots.data() + ow * Co;
        std::fill(acc.begin(), acc.end(), 0);
        for (int64_t i = 0; i < kh; ++i) {
          for (int64_t j = 0; j < kw; ++j) {
            const int64_t t = i * kw + j;
            const int64_t ih = oh * stride_h - pad_h + i * dil_h;
            const int64_t iw = ow * stride_w - pad_w + j * dil_w;
            uint64_t* dst = patch.data() + t * Wd;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
              std::fill(dst, dst + Wd, 0);  // all +1: corrected below
              for (int64_t co = 0; co < Co; ++co) acc[co] += ws[co * T + t];
            } else {
              const uint64_t* src = xb + ((n * H + ih) * W + iw) * Wd;
              std::copy(src, src + Wd, dst);
            }
          }
        }
        // acc holds the padded taps' sum_c sign(W); dot = T*C - 2*popcount - acc.
        // Weights are (K, Co): the inner loop runs over contiguous output channels.
        for (int64_t co = 0; co < Co; ++co) dot[co] = T * C - acc[co];
        for (int64_t k = 0; k < K; ++k) {
          const uint64_t a = patch[k];
          const uint64_t* wk = wt + k * Co;
          for (int64_t co = 0; co < Co; ++co) dot[co] -= 2 * __builtin_popcountll(a ^ wk[co]);
        }
      }
      for (int64_t co = 0; co < Co; ++co) {
        float* dst = o + ((n * Co + co) * OH + oh) * OW;
        const float s = sc[co], b = has_bias ? bi[co] : 0.f;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const float v = s * static_cast<float>(dots[ow * Co + co]);
          dst[ow] = has_bias ? v + b : v;
        }
      }
    }
  };
  conv_rows(0, N * OH);
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("bitconv2d_forward", &bitconv2d_forward, "bit-packed binary conv2d (CPU)");
}
