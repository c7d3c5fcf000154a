// Float steps of the forward pass in the order and rounding llama.cpp's x86 CPU backend uses
// (llama-cpp-python 0.3.36 wheels, GCC, AVX2), so logits come out bit-identical and quantized
// activations round the same way downstream. Multi-row attention sums follow tinyBLAS
// (ggml-cpu/llamafile/sgemm.cpp: one 8-lane FMA accumulator per output, lanes by index mod 8,
// hsum ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))); single rows follow ggml_vec_dot_f16.
#include "fw_internal.h"
#include <math.h>

static inline float hsum8(const float a[8]) {
    const float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
    return (t0 + t2) + (t1 + t3);
}

static float dot_f16_lanes_scalar(const uint16_t *a, const uint16_t *b, int64_t n) {
    float acc[8] = {0};
    for (int64_t i = 0; i < n; i += 8)
        for (int l = 0; l < 8 && i + l < n; l++)
            acc[l] = fmaf(fw_h2f(a[i + l]), fw_h2f(b[i + l]), acc[l]);
    return hsum8(acc);
}

static void lane_fma_f16_scalar(float *acc, const uint16_t *v, float p, int64_t n) {
    for (int64_t d = 0; d < n; d++) acc[d] = fmaf(fw_h2f(v[d]), p, acc[d]);
}

void fw_lane_fma_f32(float *acc, const float *v, float p, int64_t n) {
    for (int64_t d = 0; d < n; d++) acc[d] = fmaf(v[d], p, acc[d]);
}

static void lane_hsum_scalar(const float *acc, int64_t stride, float *out, int64_t n) {
    for (int64_t d = 0; d < n; d++) {
        float a[8];
        for (int l = 0; l < 8; l++) a[l] = acc[l * stride + d];
        out[d] = hsum8(a);
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FW_AVX2_ATTR __attribute__((target("avx2,fma,f16c")))

// ggml_v_expf (ggml-cpu vec.h, AVX2+FMA; adapted there from Arm's optimized routines): the same
// operations in the same order, so results are bit-identical to llama.cpp's softmax and SiLU.
FW_AVX2_ATTR static inline __m256 ggml_like_expf(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256i c = _mm256_castps_si256(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n),
                                                        _mm256_set1_ps(126), _CMP_GT_OQ));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(c))) return _mm256_fmadd_ps(j, k, k);
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256i d = _mm256_castps_si256(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n),
                                                        _mm256_set1_ps(192), _CMP_GT_OQ));
    return _mm256_or_ps(
        _mm256_and_ps(_mm256_castsi256_ps(d), _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(_mm256_castsi256_ps(d),
                         _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(c), _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                                      _mm256_andnot_ps(_mm256_castsi256_ps(c), _mm256_fmadd_ps(k, j, k)))));
}

FW_AVX2_ATTR static void softmax_ggml_avx2(float *x, int64_t n, int64_t first) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    // Positions first..first+n-1 in llama.cpp's row of cells 0..; masked cells add exact zeros,
    // so the groups of 8 are aligned on the absolute position.
    float buf[8];
    double sum = 0;
    int64_t p = first & ~(int64_t)7;
    for (; p < first + n; p += 8) {
        for (int l = 0; l < 8; l++) {
            const int64_t i = p + l - first;
            buf[l] = (i >= 0 && i < n) ? x[i] - max : -INFINITY;
        }
        const __m256 val = ggml_like_expf(_mm256_loadu_ps(buf));
        _mm256_storeu_ps(buf, val);
        for (int l = 0; l < 8; l++) {
            const int64_t i = p + l - first;
            if (i >= 0 && i < n) x[i] = buf[l];
        }
        __m128 v2 = _mm_add_ps(_mm256_extractf128_ps(val, 1), _mm256_castps256_ps128(val));
        v2 = _mm_add_ps(v2, _mm_movehl_ps(v2, v2));
        v2 = _mm_add_ss(v2, _mm_movehdup_ps(v2));
        sum += (double)_mm_cvtss_f32(v2);
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

FW_AVX2_ATTR static void swiglu_ggml_avx2(float *x, const float *g, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 s = _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1), ggml_like_expf(_mm256_sub_ps(_mm256_setzero_ps(), v))));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(s, _mm256_loadu_ps(g + i)));
    }
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i])) * g[i];
}
#endif

void fw_softmax_llamacpp(fw_isa isa, float *x, int64_t n, int64_t first) {
#if defined(__x86_64__) || defined(__i386__)
    if ((isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && fw_isa_supported(FW_ISA_AVX2)) {
        softmax_ggml_avx2(x, n, first);
        return;
    }
#endif
    (void)first;
    fw_softmax(isa, x, n);
}

void fw_swiglu_llamacpp(fw_isa isa, float *x, const float *g, int64_t n) {
#if defined(__x86_64__) || defined(__i386__)
    if ((isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && fw_isa_supported(FW_ISA_AVX2)) {
        swiglu_ggml_avx2(x, g, n);
        return;
    }
#endif
    fw_silu(isa, x, x, n);
    fw_mul(isa, x, g, x, n);
}

// RoPE as llama.cpp's CPU build computes it: the angle cache by repeated multiplication
// (ggml_rope_cache_init), and each rotated pair as GCC contracts x0*c - x1*s into one FMA.
void fw_rope_llamacpp(float *x, int64_t heads, int64_t head_dim, int64_t rot_dims, int64_t position,
                      float base, float freq_scale_factor, int neox) {
    const int64_t half = rot_dims / 2;
    float cosv[half > 0 ? half : 1], sinv[half > 0 ? half : 1];
    const float theta_scale = powf(base, -2.0f / (float)rot_dims);
    const float freq_scale = 1.0f / freq_scale_factor;
    float theta = (float)position;
    for (int64_t i = 0; i < half; i++) {
        const float t = freq_scale * theta;
        cosv[i] = cosf(t);
        sinv[i] = sinf(t);
        theta *= theta_scale;
    }
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < half; i++) {
            const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = fmaf(x0, cosv[i], -(x1 * sinv[i]));
            v[b] = fmaf(x0, sinv[i], x1 * cosv[i]);
        }
    }
}

// RMSNorm as ggml_compute_forward_rms_norm_f32 then ggml_mul: squares summed in double in
// order, mean rounded to float, then (x * scale) * w.
void fw_rms_norm_llamacpp(const float *x, const float *w, float *y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

// ggml_vec_dot_f16's order (AVX2: 4 accumulators of 8 lanes over steps of 32, then
// GGML_F32x8_REDUCE; leftovers added in double), the path llama.cpp takes for one query row.
static inline float reduce32(const float s[32]) {
    float x[8], t[4];
    for (int l = 0; l < 8; l++) x[l] = (s[l] + s[16 + l]) + (s[8 + l] + s[24 + l]);
    for (int l = 0; l < 4; l++) t[l] = x[l] + x[l + 4];
    return (t[0] + t[1]) + (t[2] + t[3]);
}

static float dot_f16_ggml_scalar(const uint16_t *a, const uint16_t *b, int64_t n) {
    float acc[32] = {0};
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32)
        for (int l = 0; l < 32; l++) acc[l] = fmaf(fw_h2f(a[i + l]), fw_h2f(b[i + l]), acc[l]);
    double sum = reduce32(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(fw_h2f(a[i]) * fw_h2f(b[i]));
    return (float)sum;
}

static void lane_hsum32_scalar(const float *acc, int64_t stride, float *out, int64_t n) {
    for (int64_t d = 0; d < n; d++) {
        float a[32];
        for (int l = 0; l < 32; l++) a[l] = acc[l * stride + d];
        out[d] = reduce32(a);
    }
}

// AVX2 twins of the lane kernels above (same operations, same order), and the dispatch.
#if defined(__x86_64__) || defined(__i386__)
FW_AVX2_ATTR static inline float hsum8_avx2(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

FW_AVX2_ATTR static float dot_f16_lanes_avx2(const uint16_t *a, const uint16_t *b, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i))),
                              _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i))), acc);
    if (i < n) {
        float l[8];
        _mm256_storeu_ps(l, acc);
        for (int k = 0; i + k < n; k++) l[k] = fmaf(fw_h2f(a[i + k]), fw_h2f(b[i + k]), l[k]);
        acc = _mm256_loadu_ps(l);
    }
    return hsum8_avx2(acc);
}

FW_AVX2_ATTR static float dot_f16_ggml_avx2(const uint16_t *a, const uint16_t *b, int64_t n) {
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32)
        for (int j = 0; j < 4; j++)
            s[j] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8 * j))),
                                   _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8 * j))), s[j]);
    s[0] = _mm256_add_ps(s[0], s[2]);
    s[1] = _mm256_add_ps(s[1], s[3]);
    s[0] = _mm256_add_ps(s[0], s[1]);
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(s[0]), _mm256_extractf128_ps(s[0], 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    double sum = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    for (int64_t i = np; i < n; i++) sum += (double)(fw_h2f(a[i]) * fw_h2f(b[i]));
    return (float)sum;
}

FW_AVX2_ATTR static void lane_fma_f16_avx2(float *acc, const uint16_t *v, float p, int64_t n) {
    const __m256 vp = _mm256_set1_ps(p);
    int64_t d = 0;
    for (; d + 8 <= n; d += 8)
        _mm256_storeu_ps(acc + d, _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + d))), vp,
                                                  _mm256_loadu_ps(acc + d)));
    for (; d < n; d++) acc[d] = fmaf(fw_h2f(v[d]), p, acc[d]);
}

FW_AVX2_ATTR static void lane_hsum_avx2(const float *acc, int64_t st, float *out, int64_t n) {
    int64_t d = 0;
    for (; d + 8 <= n; d += 8) {
        __m256 l[8];
        for (int k = 0; k < 8; k++) l[k] = _mm256_loadu_ps(acc + k * st + d);
        const __m256 t0 = _mm256_add_ps(l[0], l[4]), t1 = _mm256_add_ps(l[1], l[5]);
        const __m256 t2 = _mm256_add_ps(l[2], l[6]), t3 = _mm256_add_ps(l[3], l[7]);
        _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3)));
    }
    if (d < n) lane_hsum_scalar(acc + d, st, out + d, n - d);
}

FW_AVX2_ATTR static void lane_hsum32_avx2(const float *acc, int64_t st, float *out, int64_t n) {
    int64_t d = 0;
    for (; d + 8 <= n; d += 8) {
        __m256 x[8];
        for (int l = 0; l < 8; l++) {
            const __m256 a0 = _mm256_add_ps(_mm256_loadu_ps(acc + l * st + d), _mm256_loadu_ps(acc + (16 + l) * st + d));
            const __m256 a1 = _mm256_add_ps(_mm256_loadu_ps(acc + (8 + l) * st + d), _mm256_loadu_ps(acc + (24 + l) * st + d));
            x[l] = _mm256_add_ps(a0, a1);
        }
        const __m256 t0 = _mm256_add_ps(x[0], x[4]), t1 = _mm256_add_ps(x[1], x[5]);
        const __m256 t2 = _mm256_add_ps(x[2], x[6]), t3 = _mm256_add_ps(x[3], x[7]);
        _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3)));
    }
    if (d < n) lane_hsum32_scalar(acc + d, st, out + d, n - d);
}

// One decode row's attention for one query head over an F16 cache, in llama.cpp's single-row
// order: the per-head loop of LanguageModel.attention (fw_dot_f16_ggml per key, softmax, f16
// probabilities, 32 lanes by position, fw_lane_hsum32) in one call.
FW_AVX2_ATTR static void attention_single_avx2(fw_isa isa, const float *q, int64_t hd, int64_t vd, const uint16_t *k,
                                               const uint16_t *v, int64_t k_stride, int64_t v_stride, int64_t slots,
                                               int64_t first, int64_t count, float scale, float *scores,
                                               uint16_t *q16, float *lanes, float *out) {
    fw_f32_to_f16_row(isa, q, q16, hd);
    int64_t slot = first % slots;
    for (int64_t j = 0; j < count; j++) {
        scores[j] = dot_f16_ggml_avx2(k + slot * k_stride, q16, hd) * scale;
        if (++slot == slots) slot = 0;
    }
    fw_softmax_llamacpp(isa, scores, count, first);
    memset(lanes, 0, sizeof(float) * 32 * (size_t)vd);
    slot = first % slots;
    for (int64_t j = 0; j < count; j++) {
        const float prob = _cvtsh_ss(_cvtss_sh(scores[j], _MM_FROUND_TO_NEAREST_INT));
        lane_fma_f16_avx2(lanes + ((first + j) % 32) * vd, v + slot * v_stride, prob, vd);
        if (++slot == slots) slot = 0;
    }
    lane_hsum32_avx2(lanes, vd, out, vd);
}

static int have_avx2(void) { return fw_isa_supported(FW_ISA_AVX2); }
#define FW_PICK(avx2, scalar) (have_avx2() ? (avx2) : (scalar))
#else
#define FW_PICK(avx2, scalar) (scalar)
#endif

float fw_dot_f16_lanes(const uint16_t *a, const uint16_t *b, int64_t n) {
    return FW_PICK(dot_f16_lanes_avx2(a, b, n), dot_f16_lanes_scalar(a, b, n));
}
float fw_dot_f16_ggml(const uint16_t *a, const uint16_t *b, int64_t n) {
    return FW_PICK(dot_f16_ggml_avx2(a, b, n), dot_f16_ggml_scalar(a, b, n));
}
void fw_lane_fma_f16(float *acc, const uint16_t *v, float p, int64_t n) {
    if (FW_PICK(1, 0)) { FW_PICK(lane_fma_f16_avx2(acc, v, p, n), (void)0); } else lane_fma_f16_scalar(acc, v, p, n);
}
void fw_lane_hsum(const float *acc, int64_t stride, float *out, int64_t n) {
    if (FW_PICK(1, 0)) { FW_PICK(lane_hsum_avx2(acc, stride, out, n), (void)0); } else lane_hsum_scalar(acc, stride, out, n);
}
void fw_lane_hsum32(const float *acc, int64_t stride, float *out, int64_t n) {
    if (FW_PICK(1, 0)) { FW_PICK(lane_hsum32_avx2(acc, stride, out, n), (void)0); } else lane_hsum32_scalar(acc, stride, out, n);
}

int fw_attention_f16_single(fw_isa isa, const float *q, int64_t hd, int64_t vd, const uint16_t *k, const uint16_t *v,
                            int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first, int64_t count,
                            float scale, float *scores, uint16_t *q16, float *lanes, float *out) {
#if defined(__x86_64__) || defined(__i386__)
    if (fw_isa_supported(FW_ISA_AVX2) && count > 0) {
        attention_single_avx2(isa, q, hd, vd, k, v, k_stride, v_stride, slots, first, count, scale, scores, q16, lanes, out);
        return FW_OK;
    }
#endif
    (void)isa; (void)q; (void)hd; (void)vd; (void)k; (void)v; (void)k_stride; (void)v_stride; (void)slots;
    (void)first; (void)count; (void)scale; (void)scores; (void)q16; (void)lanes; (void)out;
    return FW_ERR_ISA_UNSUPPORTED;
}
