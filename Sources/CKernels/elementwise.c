// Float ops of the forward pass with a scalar twin and an AVX2 version of each, and the softmax and
// SwiGLU of llama.cpp's order.
#include "fw_internal.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FW_AVX2 __attribute__((target("avx2,fma,f16c")))
FW_AVX2 static void fw_softmax_avx2(float *x, int64_t n);
FW_AVX2 static void fw_add_avx2(const float *a, const float *b, float *y, int64_t n);
#endif

#ifdef FW_X86
FW_AVX2 static inline float hsum(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

FW_AVX2 static inline float hmax(__m256 v) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// exp(x) for x in about [-87, 88]: x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-6
// polynomial (Taylor coefficients), scaled by 2^n through the exponent bits. Max error ~2 ulp;
// inputs below -87 give 0.
FW_AVX2 static inline __m256 exp256(__m256 x) {
    // Below -87 the result is 0, so masked (-inf) attention scores get exactly zero weight.
    const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.4426950408889634f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 split in two for accuracy
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    // 2^n in two halves so n = 128 (x near 88) does not overflow the exponent field.
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i h1 = _mm256_srai_epi32(ni, 1);
    const __m256i h2 = _mm256_sub_epi32(ni, h1);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h1, _mm256_set1_epi32(127)), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h2, _mm256_set1_epi32(127)), 23));
    return _mm256_and_ps(_mm256_mul_ps(_mm256_mul_ps(p, s1), s2), keep);
}
#endif

void fw_softmax(fw_isa isa, float *x, int64_t n) {
    if (n <= 0) return;
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        fw_softmax_avx2(x, n);
        return;
    }
#else
    (void)isa;
#endif
    float max = x[0];
    for (int64_t i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

#ifdef FW_X86
FW_AVX2 static void fw_softmax_avx2(float *x, int64_t n) {
    int64_t i = 0;
    __m256 vm = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
    float max = hmax(vm);
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    const __m256 vmax = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= 1.0f / sum;
}

FW_AVX2 static void fw_add_avx2(const float *a, const float *b, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

#endif

void fw_add(fw_isa isa, const float *a, const float *b, float *y, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) { fw_add_avx2(a, b, y, n); return; }
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

#ifdef FW_X86
FW_AVX2 static void axpy_f32_avx2(float a, const float *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

FW_AVX2 static void axpy_f16_avx2(float a, const uint16_t *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, v, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * fw_h2f(x[i]);
}

FW_AVX2 static void scale_avx2(float *x, float a, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(va, _mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] *= a;
}

FW_AVX2 static void f32_to_f16_avx2(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) y[i] = fw_f2h(x[i]);
}
#endif

int fw_axpy(fw_isa isa, float a, int x_type, const void *x, float *y, int64_t n) {
    if (x_type != FW_TYPE_F32 && x_type != FW_TYPE_F16) return FW_ERR_TYPE;
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        if (x_type == FW_TYPE_F32) axpy_f32_avx2(a, x, y, n);
        else axpy_f16_avx2(a, x, y, n);
        return FW_OK;
    }
#else
    (void)isa;
#endif
    if (x_type == FW_TYPE_F32) {
        const float *xf = x;
        for (int64_t i = 0; i < n; i++) y[i] += a * xf[i];
    } else {
        const fw_half *xh = x;
        for (int64_t i = 0; i < n; i++) y[i] += a * fw_h2f(xh[i]);
    }
    return FW_OK;
}

void fw_scale(fw_isa isa, float *x, float a, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) { scale_avx2(x, a, n); return; }
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; i++) x[i] *= a;
}

void fw_f32_to_f16_row(fw_isa isa, const float *x, uint16_t *y, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) { f32_to_f16_avx2(x, y, n); return; }
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; i++) y[i] = fw_f2h(x[i]);
}

// gate = GELU(gate) * up through an fp16 GELU table (ggml's GGML_GELU_FP16 path): the input
// rounds to fp16 and indexes the table; at or below -10 the result is 0, at or above 10 it is x.
#ifdef FW_X86
// Eight at a time: fp16 indices by vcvtps2ph (round to nearest even, as fw_f2h), eight table loads,
// vcvtph2ps back, the +-10 cut-offs as blends.
FW_AVX2 static int64_t geglu_f16_table_avx2(float *gate, const float *up, const uint16_t *table, int64_t n) {
    const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(gate + i);
        __attribute__((aligned(16))) uint16_t idx[8], t[8];
        _mm_store_si128((__m128i *)idx, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
        for (int j = 0; j < 8; j++) t[j] = table[idx[j]];
        __m256 g = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)t));
        g = _mm256_blendv_ps(g, x, _mm256_cmp_ps(x, hi, _CMP_GE_OQ));
        g = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LE_OQ), g);
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(g, _mm256_loadu_ps(up + i)));
    }
    return i;
}
#endif

void fw_geglu_f16_table(fw_isa isa, float *gate, const float *up, const uint16_t *table, int64_t n) {
    int64_t i0 = 0;
#ifdef FW_X86
    if (fw_use_avx2(isa)) i0 = geglu_f16_table_avx2(gate, up, table, n);
#else
    (void)isa;
#endif
    for (int64_t i = i0; i < n; i++) {
        const float x = gate[i];
        const float g = x <= -10.0f ? 0.0f : x >= 10.0f ? x : fw_h2f(table[fw_f2h(x)]);
        gate[i] = g * up[i];
    }
}

// --- In llama.cpp's order: softmax and SwiGLU through ggml_v_expf (ggml-cpu vec.h) ---------------
#ifdef FW_X86

// ggml_v_expf (ggml-cpu vec.h, AVX2+FMA; adapted there from Arm's optimized routines): the same
// operations in the same order, so results are bit-identical to llama.cpp's softmax and SiLU.
FW_AVX2 static inline __m256 ggml_like_expf(__m256 x) {
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

FW_AVX2 static void softmax_ggml_avx2(float *x, int64_t n, int64_t first) {
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

FW_AVX2 static void swiglu_ggml_avx2(float *x, const float *g, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 s = _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1), ggml_like_expf(_mm256_sub_ps(_mm256_setzero_ps(), v))));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(s, _mm256_loadu_ps(g + i)));
    }
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i])) * g[i];
}
#endif

// ggml_v_expf of one lane: the operations of ggml_like_expf in the same order (its scalar twin).
static inline uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static float ggml_like_expf1(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const uint32_t e = f2u(z) << 23;
    const float k = u2f(e + f2u(1.0f));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         0x1.ffffecp-1f * b);
    if (!(fabsf(n) > 126.0f)) return fmaf(j, k, k);
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = u2f(g + 0x7f000000u), s2 = u2f(e - g);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

void fw_softmax_ggml_scalar(float *x, int64_t n, int64_t first) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0;
    for (int64_t p = first & ~(int64_t)7; p < first + n; p += 8) {
        float val[8];
        for (int l = 0; l < 8; l++) {
            const int64_t i = p + l - first;
            val[l] = ggml_like_expf1((i >= 0 && i < n) ? x[i] - max : -INFINITY);
            if (i >= 0 && i < n) x[i] = val[l];
        }
        sum += (double)(((val[4] + val[0]) + (val[6] + val[2])) + ((val[5] + val[1]) + (val[7] + val[3])));
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void fw_softmax_llamacpp(fw_isa isa, float *x, int64_t n, int64_t first) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        softmax_ggml_avx2(x, n, first);
        return;
    }
#endif
    (void)first;
    fw_softmax(isa, x, n);
}

void fw_swiglu_llamacpp(fw_isa isa, float *x, const float *g, int64_t n) {
#ifdef FW_X86
    if (fw_use_avx2(isa)) {
        swiglu_ggml_avx2(x, g, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i])) * g[i];
}
