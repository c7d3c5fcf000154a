// Activation quantization, bit-exact with ggml-quants.c quantize_row_q8_0_ref, _q8_1_ref and
// _q8_K_ref on every ISA (the AVX2 versions keep the reference's rounding and its 1/d).
#pragma STDC FP_CONTRACT OFF
#include "fw_internal.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FW_X86 1
#endif

// ggml nearest_int: round half to even through the f32 adder (|v| <= 2^22).
static inline int fw_nearest_int(float v) {
    float t = v + 12582912.f;
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007FFFFF) - 0x00400000;
}

void fw_quantize_q8_0_scalar(const float *x, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fw_f2h(d);
        for (int j = 0; j < QK; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

void fw_quantize_q8_1_scalar(const float *x, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fw_f2h(d);
        int sum = 0;
        for (int j = 0; j < QK; j++) {
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].s = fw_f2h((float)sum * d);
    }
}

void fw_quantize_q8_K_scalar(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            const int v = fw_nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y[i].qs[g * 16 + j];
            y[i].bsums[g] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

#ifdef FW_X86
#define FW_AVX2 __attribute__((target("avx2,fma,f16c")))

FW_AVX2 static inline float hmax_abs(const float *x, int n) {
    const __m256 mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + j), mask));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// roundf (ties away from zero): truncate, then step away from zero when the dropped part is >= 0.5.
FW_AVX2 static inline __m256i round_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 sign = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000)));
    const __m256 frac = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000)), _mm256_sub_ps(v, t));
    const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), _mm256_set1_ps(1.0f));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_or_ps(step, sign)));
}

// Packs 32 int32 (four vectors, in order) into 32 int8 in order.
FW_AVX2 static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b);  // lanes interleave: a0 b0 | a1 b1
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i r = _mm256_packs_epi16(ab, cd);  // a0 b0 c0 d0 | a1 b1 c1 d1 (4-byte groups)
    return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

FW_AVX2 static inline __m256i quantize32_away(const float *x, float id) {
    const __m256 vid = _mm256_set1_ps(id);
    return pack32(round_away(_mm256_mul_ps(_mm256_loadu_ps(x), vid)),
                  round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 8), vid)),
                  round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 16), vid)),
                  round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 24), vid)));
}

FW_AVX2 static inline int hsum_i8x32(__m256i q) {
    const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
    const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    return _mm_cvtsi128_si32(h);
}

FW_AVX2 void fw_quantize_q8_0_avx2(const float *x, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = hmax_abs(x, QK) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fw_f2h(d);
        _mm256_storeu_si256((__m256i *)y[i].qs, quantize32_away(x, id));
    }
}

FW_AVX2 void fw_quantize_q8_1_avx2(const float *x, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = hmax_abs(x, QK) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fw_f2h(d);
        const __m256i q = quantize32_away(x, id);
        _mm256_storeu_si256((__m256i *)y[i].qs, q);
        y[i].s = fw_f2h((float)hsum_i8x32(q) * d);
    }
}

// Q8_0 / Q8_1 as llama.cpp's CPU backend quantizes activations at run time on x86 with AVX
// (ggml-cpu/arch/x86/quants.c quantize_row_q8_0/_q8_1): id = 127/amax, not 1/d, and rounding
// half to even (_mm256_round_ps), not roundf. Elsewhere (and for Q8_K) it is the reference.
FW_AVX2 static void quantize_q8_llamacpp_avx2(const float *x, void *dst, int64_t n, int with_sum) {
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float amax = hmax_abs(x, QK);
        const float d = amax / 127.0f;
        const __m256 vid = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid);
            q[k] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        const __m256i p = pack32(q[0], q[1], q[2], q[3]);  // |q| <= 127: no saturation
        if (with_sum) {
            block_q8_1 *b = (block_q8_1 *)dst + i;
            _mm256_storeu_si256((__m256i *)b->qs, p);
            b->d = fw_f2h(d);
            b->s = fw_f2h(d * (float)hsum_i8x32(p));
        } else {
            block_q8_0 *b = (block_q8_0 *)dst + i;
            _mm256_storeu_si256((__m256i *)b->qs, p);
            b->d = fw_f2h(d);
        }
    }
}

FW_AVX2 void fw_quantize_q8_K_avx2(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        const float amax = hmax_abs(x, QK_K);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        // The signed value of the first element with the largest magnitude, as the reference picks it.
        int jmax = 0;
        while (fabsf(x[jmax]) != amax) jmax++;
        const float iscale = -127.0f / x[jmax];
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), vs);
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), lim);
            }
            const __m256i p = pack32(q[0], q[1], q[2], q[3]);
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), p);
            // Two bsums of 16 each.
            const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), p);
            const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
            __m128i lo = _mm256_castsi256_si128(s32), hi = _mm256_extracti128_si256(s32, 1);
            lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4E));
            lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xB1));
            hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0x4E));
            hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0xB1));
            y[i].bsums[j / 16] = (int16_t)_mm_cvtsi128_si32(lo);
            y[i].bsums[j / 16 + 1] = (int16_t)_mm_cvtsi128_si32(hi);
        }
        y[i].d = 1.0f / iscale;
    }
}
#endif

int fw_quantize_row(fw_isa isa, int type, const float *x, void *dst, int64_t n) {
    const int64_t bw = fw_type_block_weights(type);
    if (type != FW_TYPE_F32 && type != FW_TYPE_Q8_0 && type != FW_TYPE_Q8_1 && type != FW_TYPE_Q8_K)
        return FW_ERR_TYPE;
    if (n % bw != 0) return FW_ERR_SHAPE;
    if (!fw_isa_supported(isa)) return FW_ERR_ISA_UNSUPPORTED;
#ifdef FW_X86
    if (isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) {
        switch (type) {
        case FW_TYPE_Q8_0: fw_quantize_q8_0_avx2(x, dst, n); return FW_OK;
        case FW_TYPE_Q8_1: fw_quantize_q8_1_avx2(x, dst, n); return FW_OK;
        case FW_TYPE_Q8_K: fw_quantize_q8_K_avx2(x, dst, n); return FW_OK;
        default: break;
        }
    }
#endif
    switch (type) {
    case FW_TYPE_F32: memcpy(dst, x, (size_t)n * 4); break;
    case FW_TYPE_Q8_0: fw_quantize_q8_0_scalar(x, dst, n); break;
    case FW_TYPE_Q8_1: fw_quantize_q8_1_scalar(x, dst, n); break;
    case FW_TYPE_Q8_K: fw_quantize_q8_K_scalar(x, dst, n); break;
    }
    return FW_OK;
}

// Q8_K as llama.cpp's x86 builds (llama-cpp-python 0.3.36's libggml-base and the llama.cpp tools
// built here) run quantize_row_q8_K_ref: SSE code in which each product iscale * x is rounded to
// float before nearest_int's magic add rounds it to an integer (half to even); no FMA.
// gemm4x8 = 1: the repack gemm's ggml_quantize_mat_q8_K_4x8, the same numbers except for the
// sign of the scale when +amax and -amax both occur (-127/amax when some value is +amax; the
// reference takes the first value of largest magnitude).
static void quantize_q8_K_x86(const float *x, void *dst, int64_t n, int gemm4x8) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (!amax) {
            memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        if (gemm4x8) {
            max = -amax;
            for (int j = 0; j < QK_K; j++) if (x[j] == amax) max = amax;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
#pragma clang fp contract(off)
            const float val = iscale * x[j] + 12582912.f;  // the product is rounded, not fused
            int bits;
            memcpy(&bits, &val, sizeof(int));
            const int v = (bits & 0x007fffff) - 0x00400000;
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int ii = 0; ii < 16; ii++) sum += y[i].qs[j * 16 + ii];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

int fw_quantize_row_llamacpp_gemm(fw_isa isa, int type, const float *x, void *dst, int64_t n) {
#ifdef FW_X86
    if ((isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && type == FW_TYPE_Q8_K) {
        if (n % QK_K != 0) return FW_ERR_SHAPE;
        quantize_q8_K_x86(x, dst, n, 1);
        return FW_OK;
    }
#endif
    return fw_quantize_row_llamacpp(isa, type, x, dst, n);
}

int fw_quantize_row_llamacpp(fw_isa isa, int type, const float *x, void *dst, int64_t n) {
#ifdef FW_X86
    if ((isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && type == FW_TYPE_Q8_K) {
        if (n % QK_K != 0) return FW_ERR_SHAPE;
        quantize_q8_K_x86(x, dst, n, 0);
        return FW_OK;
    }
    if ((isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && (type == FW_TYPE_Q8_0 || type == FW_TYPE_Q8_1)) {
        if (n % QK != 0) return FW_ERR_SHAPE;
        if (!fw_isa_supported(isa)) return FW_ERR_ISA_UNSUPPORTED;
        quantize_q8_llamacpp_avx2(x, dst, n, type == FW_TYPE_Q8_1);
        return FW_OK;
    }
#endif
    return fw_quantize_row(isa, type, x, dst, n);
}
