// Float ops the models need, each with a scalar twin and an AVX2 version.
#include "fw_internal.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FW_X86 1
#define FW_AVX2 __attribute__((target("avx2,fma,f16c")))
FW_AVX2 static void fw_rms_norm_avx2(const float *x, const float *w, float *y, int64_t n, float eps);
FW_AVX2 static void fw_rope_neox_avx2(float *v, const float *c, const float *s, int64_t half);
FW_AVX2 static void fw_rope_norm_avx2(float *v, const float *c, const float *s, int64_t half);
FW_AVX2 static void fw_softmax_avx2(float *x, int64_t n);
FW_AVX2 static void fw_gelu_tanh_avx2(const float *x, float *y, int64_t n);
FW_AVX2 static void fw_silu_avx2(const float *x, float *y, int64_t n);
FW_AVX2 static void fw_add_avx2(const float *a, const float *b, float *y, int64_t n);
FW_AVX2 static void fw_mul_avx2(const float *a, const float *b, float *y, int64_t n);
#endif

static int use_avx2(fw_isa isa) {
#ifdef FW_X86
    return (isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && fw_isa_supported(FW_ISA_AVX2);
#else
    (void)isa;
    return 0;
#endif
}

static inline float gelu_tanh1(float x) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

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

void fw_rms_norm(fw_isa isa, const float *x, const float *w, float *y, int64_t n, float eps) {
#ifdef FW_X86
    if (use_avx2(isa)) {
        fw_rms_norm_avx2(x, w, y, n, eps);
        return;
    }
#else
    (void)isa;
#endif
    double acc = 0;  // ggml_compute_forward_rms_norm sums in ggml_float (double)
    for (int64_t i = 0; i < n; i++) acc += (double)(x[i] * x[i]);
    const float sum = (float)acc;
    const float scale = 1.0f / sqrtf(sum / (float)n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

#ifdef FW_X86
FW_AVX2 static void fw_rms_norm_avx2(const float *x, const float *w, float *y, int64_t n, float eps) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    float sum = hsum(acc);
    for (; i < n; i++) sum += x[i] * x[i];
    const float scale = 1.0f / sqrtf(sum / (float)n + eps);
    const __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
    for (; i < n; i++) y[i] = x[i] * scale * w[i];
}
#endif

void fw_rope(fw_isa isa, float *x, int64_t heads, int64_t head_dim, int64_t rot_dims,
             int64_t position, float base, float freq_scale_factor, int neox) {
    const int64_t half = rot_dims / 2;
    float cosv[half > 0 ? half : 1], sinv[half > 0 ? half : 1];
    // theta_i = p * base^(-2i/rot_dims), computed by repeated multiplication as ggml-cpu's rope does.
    const float theta_scale = powf(base, -2.0f / (float)rot_dims);
    const float freq_scale = 1.0f / freq_scale_factor;
    float theta = (float)position;
    for (int64_t i = 0; i < half; i++) {
        const float t = theta * freq_scale;
        cosv[i] = cosf(t);
        sinv[i] = sinf(t);
        theta *= theta_scale;
    }
    const int vec = use_avx2(isa);
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        int64_t i = 0;
        if (neox) {
#ifdef FW_X86
            if (vec) {
                fw_rope_neox_avx2(v, cosv, sinv, half);
                i = half - half % 8;
            }
#endif
            for (; i < half; i++) {
                const float a = v[i], b = v[i + half];
                v[i] = a * cosv[i] - b * sinv[i];
                v[i + half] = a * sinv[i] + b * cosv[i];
            }
        } else {
#ifdef FW_X86
            if (vec) {
                fw_rope_norm_avx2(v, cosv, sinv, half);
                i = half - half % 4;
            }
#endif
            for (; i < half; i++) {
                const float a = v[2 * i], b = v[2 * i + 1];
                v[2 * i] = a * cosv[i] - b * sinv[i];
                v[2 * i + 1] = a * sinv[i] + b * cosv[i];
            }
        }
    }
    (void)vec;
}

#ifdef FW_X86
FW_AVX2 static void fw_rope_neox_avx2(float *v, const float *c, const float *s, int64_t half) {
    for (int64_t i = 0; i + 8 <= half; i += 8) {
        const __m256 a = _mm256_loadu_ps(v + i), b = _mm256_loadu_ps(v + i + half);
        const __m256 vc = _mm256_loadu_ps(c + i), vs = _mm256_loadu_ps(s + i);
        _mm256_storeu_ps(v + i, _mm256_fmsub_ps(a, vc, _mm256_mul_ps(b, vs)));
        _mm256_storeu_ps(v + i + half, _mm256_fmadd_ps(a, vs, _mm256_mul_ps(b, vc)));
    }
}

FW_AVX2 static void fw_rope_norm_avx2(float *v, const float *c, const float *s, int64_t half) {
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256 sign = _mm256_setr_ps(-1, 1, -1, 1, -1, 1, -1, 1);
    for (int64_t i = 0; i + 4 <= half; i += 4) {
        const __m256 vc = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(c + i)), dup);
        const __m256 vs = _mm256_mul_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + i)), dup), sign);
        const __m256 a = _mm256_loadu_ps(v + 2 * i);
        const __m256 swapped = _mm256_permute_ps(a, 0xB1);  // (x1, x0, x3, x2, ...)
        // even: x0 c - x1 s; odd: x1 c + x0 s
        _mm256_storeu_ps(v + 2 * i, _mm256_fmadd_ps(a, vc, _mm256_mul_ps(swapped, vs)));
    }
}
#endif

void fw_softmax(fw_isa isa, float *x, int64_t n) {
    if (n <= 0) return;
#ifdef FW_X86
    if (use_avx2(isa)) {
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

// tanh(u) = 1 - 2 / (exp(2u) + 1), exact enough at both ends once exp is clamped.
FW_AVX2 static inline __m256 tanh256(__m256 u) {
    const __m256 e = exp256(_mm256_add_ps(u, u));
    return _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

FW_AVX2 static void fw_gelu_tanh_avx2(const float *x, float *y, int64_t n) {
    const __m256 k = _mm256_set1_ps(0.7978845608028654f), c = _mm256_set1_ps(0.044715f), h = _mm256_set1_ps(0.5f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 inner = _mm256_mul_ps(k, _mm256_fmadd_ps(_mm256_mul_ps(c, v), _mm256_mul_ps(v, v), v));
        const __m256 t = tanh256(inner);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(h, v), _mm256_add_ps(_mm256_set1_ps(1.0f), t)));
    }
    for (; i < n; i++) y[i] = gelu_tanh1(x[i]);
}

FW_AVX2 static void fw_silu_avx2(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
    }
    for (; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

FW_AVX2 static void fw_add_avx2(const float *a, const float *b, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

FW_AVX2 static void fw_mul_avx2(const float *a, const float *b, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) y[i] = a[i] * b[i];
}
#endif

void fw_gelu_tanh(fw_isa isa, const float *x, float *y, int64_t n) {
#ifdef FW_X86
    if (use_avx2(isa)) { fw_gelu_tanh_avx2(x, y, n); return; }
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; i++) y[i] = gelu_tanh1(x[i]);
}

void fw_silu(fw_isa isa, const float *x, float *y, int64_t n) {
#ifdef FW_X86
    if (use_avx2(isa)) { fw_silu_avx2(x, y, n); return; }
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

void fw_add(fw_isa isa, const float *a, const float *b, float *y, int64_t n) {
#ifdef FW_X86
    if (use_avx2(isa)) { fw_add_avx2(a, b, y, n); return; }
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void fw_mul(fw_isa isa, const float *a, const float *b, float *y, int64_t n) {
#ifdef FW_X86
    if (use_avx2(isa)) { fw_mul_avx2(a, b, y, n); return; }
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
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
    if (use_avx2(isa)) {
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
    if (use_avx2(isa)) { scale_avx2(x, a, n); return; }
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; i++) x[i] *= a;
}

void fw_f32_to_f16_row(fw_isa isa, const float *x, uint16_t *y, int64_t n) {
#ifdef FW_X86
    if (use_avx2(isa)) { f32_to_f16_avx2(x, y, n); return; }
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
    if (use_avx2(isa)) i0 = geglu_f16_table_avx2(gate, up, table, n);
#else
    (void)isa;
#endif
    for (int64_t i = i0; i < n; i++) {
        const float x = gate[i];
        const float g = x <= -10.0f ? 0.0f : x >= 10.0f ? x : fw_h2f(table[fw_f2h(x)]);
        gate[i] = g * up[i];
    }
}
