// AVX2 attention kernels over an F16 KV cache; attention.c holds their scalar twins, the order
// they follow, and the dispatch. The prompt kernel computes the query heads that share one KV head
// together: a key row and a value row are loaded and converted once for all the heads of the group
// (up to 8 for scores, 4 for values), and the accumulators stay in registers.
#include "fw_internal.h"
#include <math.h>

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

FW_AVX2 float fw_dot_f16_lanes_avx2(const uint16_t *a, const uint16_t *b, int64_t n) {
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
    return hsum8(acc);
}

FW_AVX2 float fw_dot_f16_ggml_avx2(const uint16_t *a, const uint16_t *b, int64_t n) {
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

FW_AVX2 void fw_lane_fma_f16_avx2(float *acc, const uint16_t *v, float p, int64_t n) {
    const __m256 vp = _mm256_set1_ps(p);
    int64_t d = 0;
    for (; d + 8 <= n; d += 8)
        _mm256_storeu_ps(acc + d, _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + d))), vp,
                                                  _mm256_loadu_ps(acc + d)));
    for (; d < n; d++) acc[d] = fmaf(fw_h2f(v[d]), p, acc[d]);
}

FW_AVX2 void fw_lane_hsum_avx2(const float *acc, int64_t st, float *out, int64_t n) {
    int64_t d = 0;
    for (; d + 8 <= n; d += 8) {
        __m256 l[8];
        for (int k = 0; k < 8; k++) l[k] = _mm256_loadu_ps(acc + k * st + d);
        const __m256 t0 = _mm256_add_ps(l[0], l[4]), t1 = _mm256_add_ps(l[1], l[5]);
        const __m256 t2 = _mm256_add_ps(l[2], l[6]), t3 = _mm256_add_ps(l[3], l[7]);
        _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3)));
    }
    if (d < n) fw_lane_hsum_scalar(acc + d, st, out + d, n - d);
}

FW_AVX2 void fw_lane_hsum32_avx2(const float *acc, int64_t st, float *out, int64_t n) {
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
    if (d < n) fw_lane_hsum32_scalar(acc + d, st, out + d, n - d);
}

// One decode row's attention for one query head in llama.cpp's single-row order (fw_dot_f16_ggml
// per key, softmax, f16 probabilities, 32 lanes by position, fw_lane_hsum32) in one call.
FW_AVX2 void fw_attention_single_avx2(fw_isa isa, const float *q, int64_t hd, int64_t vd, const uint16_t *k,
                                               const uint16_t *v, int64_t k_stride, int64_t v_stride, int64_t slots,
                                               int64_t first, int64_t count, float scale, float *scores,
                                               uint16_t *q16, float *lanes, float *out) {
    fw_f32_to_f16_row(isa, q, q16, hd);
    int64_t slot = first % slots;
    for (int64_t j = 0; j < count; j++) {
        scores[j] = fw_dot_f16_ggml_avx2(k + slot * k_stride, q16, hd) * scale;
        if (++slot == slots) slot = 0;
    }
    fw_softmax_llamacpp(isa, scores, count, first);
    memset(lanes, 0, sizeof(float) * 32 * (size_t)vd);
    slot = first % slots;
    for (int64_t j = 0; j < count; j++) {
        const float prob = _cvtsh_ss(_cvtss_sh(scores[j], _MM_FROUND_TO_NEAREST_INT));
        fw_lane_fma_f16_avx2(lanes + ((first + j) % 32) * vd, v + slot * v_stride, prob, vd);
        if (++slot == slots) slot = 0;
    }
    fw_lane_hsum32_avx2(lanes, vd, out, vd);
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

// One lane's run: positions j, j + step, ... < end (slot: j's slot) of GB heads x CB chunks of 8
// value dims from c0, acc[h * CB + c] += prob[h][j] * v[d] in position order.
FW_AVX2 static FW_INLINE void lane_run(const int GB, const int CB, __m256 *acc, const float *prob, int64_t p_stride,
                                       const uint16_t *v, int64_t v_stride, int64_t slots, int64_t c0, int64_t j,
                                       int64_t end, int64_t slot, const int step) {
    for (; j < end; j += step) {
        __m256 p[4];
        for (int h = 0; h < GB; h++) p[h] = _mm256_broadcast_ss(prob + h * p_stride + j);
        const uint16_t *vr = v + slot * v_stride + c0;
        for (int c = 0; c < CB; c++) {
            const __m256 vc = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + 8 * c)));
            for (int h = 0; h < GB; h++) acc[h * CB + c] = _mm256_fmadd_ps(vc, p[h], acc[h * CB + c]);
        }
        slot += step;
        while (slot >= slots) slot -= slots;
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
        lane_run(GB, CB, acc, prob, p_stride, v, v_stride, slots, c0, j, count, slot, 8);
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

// Calls BLOCK(GB, CB) (which reads c0) over the 8-dim chunks from start to end of g (1...4) heads:
// blocks of CB chunks (4 for one or two heads, 2 for three or four: at most 8 accumulators), then
// single chunks.
#define FOR_VALUE_BLOCKS(g, start, end, BLOCK)                                                     \
    do {                                                                                           \
        const int cb_ = (g) <= 2 ? 4 : 2;                                                          \
        int64_t c0 = (start);                                                                      \
        for (; c0 + 8 * cb_ <= (end); c0 += 8 * cb_) switch (g) {                                  \
            case 1: BLOCK(1, 4); break; case 2: BLOCK(2, 4); break;                                \
            case 3: BLOCK(3, 2); break; default: BLOCK(4, 2); break;                               \
            }                                                                                      \
        for (; c0 < (end); c0 += 8) switch (g) {                                                   \
            case 1: BLOCK(1, 1); break; case 2: BLOCK(2, 1); break;                                \
            case 3: BLOCK(3, 1); break; default: BLOCK(4, 1); break;                               \
            }                                                                                      \
    } while (0)

// All value dims of GB (1...4) heads.
FW_AVX2 static void values_heads(int GB, const float *prob, int64_t p_stride, const uint16_t *v, int64_t v_stride,
                                 int64_t slots, int64_t first, int64_t count, int64_t vd, float *out) {
#define BLOCK(G_, C_) values_block(G_, C_, prob, p_stride, v, v_stride, slots, first, count, c0, vd, out)
    FOR_VALUE_BLOCKS(GB, 0, vd, BLOCK);
#undef BLOCK
}

FW_AVX2 void fw_attention_rows_avx2(const float *q, int64_t G, int64_t hd, int64_t vd, const uint16_t *k,
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

// ---- Decode: one query row in llama.cpp's single-row order, in three phases a pool can split ----
// (scores by key ranges, softmax by head, values by dim ranges), every head of a KV group at once.

// ggml_vec_dot_f16 (4 accumulators of 8 lanes, 32 values a step, then the REDUCE and a double
// tail) of GB (1...3) heads against key rows j0..<j1.
FW_AVX2 static FW_INLINE void decode_scores_g(const int GB, const float *qf, int64_t hd, const uint16_t *k,
                                              int64_t k_stride, int64_t slots, int64_t first, int64_t j0, int64_t j1,
                                              float scale, float *scores, int64_t s_stride) {
    const int64_t np = hd & ~(int64_t)31;
    int64_t slot = (first + j0) % slots;
    for (int64_t j = j0; j < j1; j++) {
        const uint16_t *kr = k + slot * k_stride;
        __m256 acc[3][4];
        for (int h = 0; h < GB; h++)
            for (int a = 0; a < 4; a++) acc[h][a] = _mm256_setzero_ps();
        for (int64_t i = 0; i < np; i += 32)
            for (int a = 0; a < 4; a++) {
                const __m256 kc = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kr + i + 8 * a)));
                for (int h = 0; h < GB; h++)
                    acc[h][a] = _mm256_fmadd_ps(kc, _mm256_loadu_ps(qf + h * hd + i + 8 * a), acc[h][a]);
            }
        for (int h = 0; h < GB; h++) {
            const __m256 s0 = _mm256_add_ps(_mm256_add_ps(acc[h][0], acc[h][2]), _mm256_add_ps(acc[h][1], acc[h][3]));
            const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
            const __m128 t1 = _mm_hadd_ps(t0, t0);
            double sum = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
            for (int64_t i = np; i < hd; i++) sum += (double)(fw_h2f(kr[i]) * qf[h * hd + i]);
            scores[h * s_stride + j] = (float)sum * scale;
        }
        if (++slot == slots) slot = 0;
    }
}

FW_AVX2 void fw_attention_decode_scores_avx2(const float *q, int64_t G, int64_t hd, const uint16_t *k, int64_t k_stride,
                                       int64_t slots, int64_t first, int64_t j0, int64_t j1, float scale, float *scores,
                                       int64_t s_stride) {
    float qf[3 * 1024];
    for (int64_t h0 = 0; h0 < G; h0 += 3) {
        const int g = G - h0 < 3 ? (int)(G - h0) : 3;
        // The query rounded to f16, as ggml converts the f32 operand of an F16 matmul.
        int64_t i = 0;
        for (; i + 8 <= g * hd; i += 8)
            _mm256_storeu_ps(qf + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + h0 * hd + i), _MM_FROUND_TO_NEAREST_INT)));
        for (; i < g * hd; i++) qf[i] = _cvtsh_ss(_cvtss_sh(q[h0 * hd + i], _MM_FROUND_TO_NEAREST_INT));
        switch (g) {
        case 1: decode_scores_g(1, qf, hd, k, k_stride, slots, first, j0, j1, scale, scores + h0 * s_stride, s_stride); break;
        case 2: decode_scores_g(2, qf, hd, k, k_stride, slots, first, j0, j1, scale, scores + h0 * s_stride, s_stride); break;
        default: decode_scores_g(3, qf, hd, k, k_stride, slots, first, j0, j1, scale, scores + h0 * s_stride, s_stride); break;
        }
    }
}

FW_AVX2 void fw_round_f16_avx2(float *x, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(x + j, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + j), _MM_FROUND_TO_NEAREST_INT)));
    for (; j < n; j++) x[j] = _cvtsh_ss(_cvtss_sh(x[j], _MM_FROUND_TO_NEAREST_INT));
}

// Values of GB heads, CB chunks of 8 dims from c0, 32 lanes by position (lane_fma_f16 into
// lanes[(first + j) % 32], then lane_hsum32): lane by lane within blocks of DECODE_BLOCK positions,
// the accumulators in registers within a lane's run and in `lanes` between blocks (each lane still
// sums its positions in order). The next block's value rows are prefetched while one is summed.
#define DECODE_BLOCK 256
FW_AVX2 static FW_INLINE void decode_values_block(const int GB, const int CB, const float *prob, int64_t p_stride,
                                                  const uint16_t *v, int64_t v_stride, int64_t slots, int64_t first,
                                                  int64_t count, int64_t c0, float *out, int64_t o_stride) {
    __m256 lanes[32][8];
    for (int L = 0; L < 32; L++)
        for (int a = 0; a < GB * CB; a++) lanes[L][a] = _mm256_setzero_ps();
    int64_t block_slot = first % slots;  // slot of position first + b0
    for (int64_t b0 = 0; b0 < count; b0 += DECODE_BLOCK) {
        const int64_t b1 = count - b0 < DECODE_BLOCK ? count : b0 + DECODE_BLOCK;
        int64_t next_slot = block_slot + (b1 - b0);
        while (next_slot >= slots) next_slot -= slots;
        for (int64_t j = b1, sl = next_slot; j < count && j < b1 + DECODE_BLOCK; j++) {
            const char *row = (const char *)(v + sl * v_stride + c0);
            __builtin_prefetch(row, 0, 3);
            __builtin_prefetch(row + 16 * CB - 1, 0, 3);
            if (++sl == slots) sl = 0;
        }
        for (int L = 0; L < 32; L++) {
            __m256 acc[8];
            for (int a = 0; a < GB * CB; a++) acc[a] = lanes[L][a];
            const int64_t off = (int64_t)(((uint64_t)L - (uint64_t)(first + b0)) & 31);  // (first + j) % 32 == L
            int64_t slot = block_slot + off;
            while (slot >= slots) slot -= slots;
            lane_run(GB, CB, acc, prob, p_stride, v, v_stride, slots, c0, b0 + off, b1, slot, 32);
            for (int a = 0; a < GB * CB; a++) lanes[L][a] = acc[a];
        }
        block_slot = next_slot;
    }
    for (int h = 0; h < GB; h++)
        for (int c = 0; c < CB; c++) {
            const int a = h * CB + c;
            __m256 x[8];
            for (int l = 0; l < 8; l++)
                x[l] = _mm256_add_ps(_mm256_add_ps(lanes[l][a], lanes[16 + l][a]), _mm256_add_ps(lanes[8 + l][a], lanes[24 + l][a]));
            const __m256 t0 = _mm256_add_ps(x[0], x[4]), t1 = _mm256_add_ps(x[1], x[5]);
            const __m256 t2 = _mm256_add_ps(x[2], x[6]), t3 = _mm256_add_ps(x[3], x[7]);
            _mm256_storeu_ps(out + h * o_stride + c0 + 8 * c, _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3)));
        }
}

FW_AVX2 void fw_attention_decode_values_avx2(const float *prob, int64_t G, int64_t p_stride, const uint16_t *v,
                                       int64_t v_stride, int64_t slots, int64_t first, int64_t count, int64_t d0,
                                       int64_t d1, float *out, int64_t o_stride) {
    for (int64_t h0 = 0; h0 < G; h0 += 4) {
        const int g = G - h0 < 4 ? (int)(G - h0) : 4;
        const float *pr = prob + h0 * p_stride;
        float *o = out + h0 * o_stride;
#define BLOCK(G_, C_) decode_values_block(G_, C_, pr, p_stride, v, v_stride, slots, first, count, c0, o, o_stride)
        FOR_VALUE_BLOCKS(g, d0, d1, BLOCK);
#undef BLOCK
    }
}

#endif
