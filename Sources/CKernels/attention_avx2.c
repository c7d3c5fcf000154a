// Prompt attention over an F16 KV cache for the query heads that share one KV head, in the order
// of llama.cpp's multi-row path (tinyBLAS, see llamacpp_order.c): each score is one 8-lane FMA
// accumulator over the head dimension, reduced ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), times the
// scale; softmax as ggml; probabilities rounded to f16; each output value sums prob * v with lanes
// by position mod 8 and the same reduction. The results are bit-identical to the per-head lane
// kernels (fw_dot_f16_lanes, fw_lane_fma_f16, fw_lane_hsum); what changes is that a key row and a
// value row are loaded and converted once for all the heads of the group (up to 8 for scores, 4 for
// values), and the accumulators stay in registers.
#include "fw_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define FW_AVX2 __attribute__((target("avx2,fma,f16c")))
#define FW_INLINE __attribute__((always_inline)) inline

FW_AVX2 static inline float hsum8(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

// Scores of G heads (qf: G rows of hd f32 values, already rounded to f16) against count keys.
FW_AVX2 static FW_INLINE void scores_g(const int G, const float *qf, int64_t hd, const uint16_t *k, int64_t k_stride,
                                       int64_t slots, int64_t first, int64_t count, float scale,
                                       float *scores, int64_t s_stride) {
    int64_t slot = first % slots;
    for (int64_t j = 0; j < count; j++) {
        const uint16_t *kr = k + slot * k_stride;
        __m256 acc[8];
        for (int h = 0; h < G; h++) acc[h] = _mm256_setzero_ps();
        for (int64_t c = 0; c < hd; c += 8) {
            const __m256 kc = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kr + c)));
            for (int h = 0; h < G; h++) acc[h] = _mm256_fmadd_ps(kc, _mm256_loadu_ps(qf + h * hd + c), acc[h]);
        }
        for (int h = 0; h < G; h++) scores[h * s_stride + j] = hsum8(acc[h]) * scale;
        if (++slot == slots) slot = 0;
    }
}

FW_AVX2 static void scores_any(int G, const float *qf, int64_t hd, const uint16_t *k, int64_t k_stride, int64_t slots,
                               int64_t first, int64_t count, float scale, float *scores, int64_t s_stride) {
    switch (G) {
#define CASE(n) case n: scores_g(n, qf, hd, k, k_stride, slots, first, count, scale, scores, s_stride); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: break;
    }
}

// The value pass of GB heads at once, CB chunks of 8 value dims from c0: out[h][d] = sum over j of
// prob[h][j] * v_(first+j)[d] with one accumulator per lane (position mod 8), each summing its
// positions in order, then ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). Lane by lane, so that a value row
// is loaded and converted once for all GB heads and the GB x CB accumulators stay in registers.
FW_AVX2 static FW_INLINE void values_block(const int GB, const int CB, const float *prob, int64_t p_stride,
                                           const uint16_t *v, int64_t v_stride, int64_t slots, int64_t first,
                                           int64_t count, int64_t c0, int64_t vd, float *out) {
    __m256 lanes[8][8];
    for (int L = 0; L < 8; L++) {
        __m256 acc[8];
        for (int a = 0; a < GB * CB; a++) acc[a] = _mm256_setzero_ps();
        int64_t j = (int64_t)(((uint64_t)L - (uint64_t)first) & 7);  // first j with (first + j) % 8 == L
        int64_t slot = (first + j) % slots;
        for (; j < count; j += 8) {
            __m256 p[4];
            for (int h = 0; h < GB; h++) p[h] = _mm256_broadcast_ss(prob + h * p_stride + j);
            const uint16_t *vr = v + slot * v_stride + c0;
            for (int c = 0; c < CB; c++) {
                const __m256 vc = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + 8 * c)));
                for (int h = 0; h < GB; h++) acc[h * CB + c] = _mm256_fmadd_ps(vc, p[h], acc[h * CB + c]);
            }
            slot += 8;
            while (slot >= slots) slot -= slots;
        }
        for (int a = 0; a < GB * CB; a++) lanes[L][a] = acc[a];
    }
    for (int h = 0; h < GB; h++)
        for (int c = 0; c < CB; c++) {
            const int a = h * CB + c;
            const __m256 t0 = _mm256_add_ps(lanes[0][a], lanes[4][a]), t1 = _mm256_add_ps(lanes[1][a], lanes[5][a]);
            const __m256 t2 = _mm256_add_ps(lanes[2][a], lanes[6][a]), t3 = _mm256_add_ps(lanes[3][a], lanes[7][a]);
            _mm256_storeu_ps(out + h * vd + c0 + 8 * c, _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3)));
        }
}

// All value dims of GB (1...4) heads: blocks of CB chunks (4 for one or two heads, 2 for three or
// four: at most 8 accumulators), then single chunks.
FW_AVX2 static void values_heads(int GB, const float *prob, int64_t p_stride, const uint16_t *v, int64_t v_stride,
                                 int64_t slots, int64_t first, int64_t count, int64_t vd, float *out) {
    const int CB = GB <= 2 ? 4 : 2;
    int64_t c0 = 0;
    for (; c0 + 8 * CB <= vd; c0 += 8 * CB) {
        switch (GB) {
        case 1: values_block(1, 4, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out); break;
        case 2: values_block(2, 4, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out); break;
        case 3: values_block(3, 2, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out); break;
        default: values_block(4, 2, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out); break;
        }
    }
    for (; c0 < vd; c0 += 8) {
        switch (GB) {
        case 1: values_block(1, 1, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out); break;
        case 2: values_block(2, 1, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out); break;
        case 3: values_block(3, 1, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out); break;
        default: values_block(4, 1, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out); break;
        }
    }
}

FW_AVX2 static void attention_avx2(const float *q, int64_t G, int64_t hd, int64_t vd, const uint16_t *k,
                                   const uint16_t *v, int64_t k_stride, int64_t v_stride, int64_t slots,
                                   int64_t first, int64_t count, float scale, float *scores, float *qf,
                                   float *out) {
    // Queries rounded to f16, as ggml converts the f32 operand of an F16 matmul.
    for (int64_t i = 0; i < G * hd; i += 8)
        _mm256_storeu_ps(qf + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + i), _MM_FROUND_TO_NEAREST_INT)));
    for (int64_t h0 = 0; h0 < G; h0 += 8) {
        const int g = G - h0 < 8 ? (int)(G - h0) : 8;
        scores_any(g, qf + h0 * hd, hd, k, k_stride, slots, first, count, scale, scores + h0 * count, count);
    }
    for (int64_t h = 0; h < G; h++) {
        float *s = scores + h * count;
        fw_softmax_llamacpp(FW_ISA_AVX2, s, count, first);
        int64_t j = 0;
        for (; j + 8 <= count; j += 8)
            _mm256_storeu_ps(s + j, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(s + j), _MM_FROUND_TO_NEAREST_INT)));
        for (; j < count; j++) s[j] = _cvtsh_ss(_cvtss_sh(s[j], _MM_FROUND_TO_NEAREST_INT));
    }
    for (int64_t h0 = 0; h0 < G; h0 += 4) {
        const int g = G - h0 < 4 ? (int)(G - h0) : 4;
        values_heads(g, scores + h0 * count, count, v, v_stride, slots, first, count, vd, out + h0 * vd);
    }
}

int fw_attention_f16_rows(const float *q, int64_t G, int64_t hd, int64_t vd, const uint16_t *k, const uint16_t *v,
                          int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first, int64_t count, float scale,
                          float *scores, float *qf, float *out) {
    if (!fw_isa_supported(FW_ISA_AVX2) || hd % 8 != 0 || vd % 8 != 0 || G < 1 || count < 1) return FW_ERR_ISA_UNSUPPORTED;
    attention_avx2(q, G, hd, vd, k, v, k_stride, v_stride, slots, first, count, scale, scores, qf, out);
    return FW_OK;
}

#else
int fw_attention_f16_rows(const float *q, int64_t G, int64_t hd, int64_t vd, const uint16_t *k, const uint16_t *v,
                          int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first, int64_t count, float scale,
                          float *scores, float *qf, float *out) {
    (void)q; (void)G; (void)hd; (void)vd; (void)k; (void)v; (void)k_stride; (void)v_stride; (void)slots;
    (void)first; (void)count; (void)scale; (void)scores; (void)qf; (void)out;
    return FW_ERR_ISA_UNSUPPORTED;
}
#endif
