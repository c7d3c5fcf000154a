// One weight row against groups of eight activation rows for the 32-weight block types (Q4_0,
// Q4_1, Q5_0, Q8_0): matmul's prompt-processing kernel. The row's blocks are unpacked once into a
// staging buffer (int8 weights and their magnitudes) for all the groups, the eight rows' block
// scales come pre-converted to f32, and every output keeps the single-row kernel's operations in
// its order (dot_avx2.c): per block acc = fma(d_w * d_x, float(int32 sums), acc), then
// hsum_ps(acc) (+ the Q4_1 m * s sum, added block by block). The results are bit-identical to
// single-row calls; matmul.c uses these where the activation batch has eight rows or more.
#include "fw_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "fw_avx2.h"

#define G 8

// Blocks staged at once: 16 KiB of unpacked weights, one pass for rows up to 8192 weights.
#define STAGE 256

// dd[(i - i0) * 8 + k] = d_w(block i) * xd[i * 8 + k] for blocks i0..<i1: one multiply per weight
// block and group instead of one per block and row (the same f32 products).
FW_AVX2 static inline void scale_products(float *dd, const void *w, size_t block_bytes, const float *xd,
                                          int64_t i0, int64_t i1) {
    const uint8_t *a = w;
    for (int64_t i = i0; i < i1; i++) {
        uint16_t d;
        memcpy(&d, a + (size_t)i * block_bytes, 2);  // d leads every 32-weight block
        _mm256_store_ps(dd + (i - i0) * G, _mm256_mul_ps(h2f8(d), _mm256_loadu_ps(xd + i * G)));
    }
}

// Weight blocks i0..<i1 are staged again only for a later group of a row longer than STAGE blocks.
#define RESTAGE(g, nb) ((g) == 0 || (nb) > STAGE)

// Signed weights (qa, 32 int8 in [-128, 127]) against groups of eight Q8_0 rows: group g's rows
// start at x + g * 8 * xs, its scales at scales + g * nb * 16 ([block][8] d; Q8_1 s after them).
// Staging also keeps the unpacking constants out of the row loop, where with 8 accumulators they
// did not fit the 16 registers.
#define SIGNED_1X8(name, block_t, UNPACK)                                                          \
    FW_AVX2 static void gemm_##name##_1x8(int64_t n, float *s, const void *w, const void *x,        \
                                          size_t xs, const float *scales, int64_t groups) {        \
        const block_t *a = w;                                                                      \
        const int64_t nb = n / QK;                                                                 \
        const __m256i ones = _mm256_set1_epi16(1);                                                 \
        __attribute__((aligned(32))) int8_t qs[STAGE][2][QK];                                      \
        __attribute__((aligned(32))) float dd[STAGE * G];                                          \
        for (int64_t g = 0; g < groups; g++) {                                                     \
            const uint8_t *xb = (const uint8_t *)x + (size_t)g * G * xs;                           \
            const float *xd = scales + g * nb * 16;                                                \
            __m256 acc[G];                                                                         \
            for (int k = 0; k < G; k++) acc[k] = _mm256_setzero_ps();                              \
            for (int64_t i0 = 0; i0 < nb; i0 += STAGE) {                                           \
                const int64_t i1 = i0 + STAGE < nb ? i0 + STAGE : nb;                              \
                if (RESTAGE(g, nb)) {                                                              \
                    for (int64_t i = i0; i < i1; i++) {                                            \
                        __m256i qa;                                                                \
                        UNPACK;                                                                    \
                        _mm256_store_si256((__m256i *)qs[i - i0][0], qa);                          \
                        _mm256_store_si256((__m256i *)qs[i - i0][1], _mm256_sign_epi8(qa, qa));    \
                    }                                                                              \
                }                                                                                  \
                scale_products(dd, w, sizeof(block_t), xd, i0, i1);                                \
                for (int64_t i = i0; i < i1; i++) {                                                \
                    const __m256i qa = _mm256_load_si256((const __m256i *)qs[i - i0][0]);          \
                    const __m256i ua = _mm256_load_si256((const __m256i *)qs[i - i0][1]);          \
                    const float *ddi = dd + (i - i0) * G;                                          \
                    for (int k = 0; k < G; k++) {                                                  \
                        const block_q8_0 *b = (const block_q8_0 *)(xb + k * xs) + i;               \
                        const __m256i qb = _mm256_loadu_si256((const __m256i *)b->qs);             \
                        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ua, _mm256_sign_epi8(qb, qa)), ones); \
                        acc[k] = _mm256_fmadd_ps(_mm256_broadcast_ss(ddi + k), _mm256_cvtepi32_ps(p), acc[k]); \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
            for (int k = 0; k < G; k++) s[g * G + k] = hsum_ps(acc[k]);                            \
        }                                                                                          \
    }

// Block i's 32 weights as signed bytes.
#define UNPACK_Q4_0 qa = _mm256_sub_epi8(unpack_nibbles16(a[i].qs), _mm256_set1_epi8(8))
#define UNPACK_Q8_0 qa = _mm256_loadu_si256((const __m256i *)a[i].qs)
#define UNPACK_Q5_0                                                                                \
    do {                                                                                           \
        uint32_t qh;                                                                               \
        memcpy(&qh, a[i].qh, 4);                                                                   \
        const __m256i hi = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10));            \
        qa = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles16(a[i].qs), hi), _mm256_set1_epi8(16)); \
    } while (0)

SIGNED_1X8(q4_0, block_q4_0, UNPACK_Q4_0)
SIGNED_1X8(q8_0, block_q8_0, UNPACK_Q8_0)
SIGNED_1X8(q5_0, block_q5_0, UNPACK_Q5_0)

// Q4_1 (unsigned nibbles, value d*q + m) against groups of eight Q8_1 rows; group g's s = d*sum(q)
// follow its d, [block][8].
FW_AVX2 static void gemm_q4_1_1x8(int64_t n, float *s, const void *w, const void *x, size_t xs,
                                  const float *scales, int64_t groups) {
    const block_q4_1 *a = w;
    const int64_t nb = n / QK;
    const __m256i ones = _mm256_set1_epi16(1);
    __attribute__((aligned(32))) uint8_t qs[STAGE][QK];
    __attribute__((aligned(32))) float dd[STAGE * G];
    for (int64_t g = 0; g < groups; g++) {
        const uint8_t *xb = (const uint8_t *)x + (size_t)g * G * xs;
        const float *xd = scales + g * nb * 16, *xsum = xd + nb * G;
        __m256 acc[G];
        for (int k = 0; k < G; k++) acc[k] = _mm256_setzero_ps();
        __m256 summ = _mm256_setzero_ps();  // lane k: row k's sum of m * s, block by block
        for (int64_t i0 = 0; i0 < nb; i0 += STAGE) {
            const int64_t i1 = i0 + STAGE < nb ? i0 + STAGE : nb;
            if (RESTAGE(g, nb)) {
                for (int64_t i = i0; i < i1; i++) _mm256_store_si256((__m256i *)qs[i - i0], unpack_nibbles16(a[i].qs));
            }
            scale_products(dd, w, sizeof(block_q4_1), xd, i0, i1);
            for (int64_t i = i0; i < i1; i++) {
                const __m256i qa = _mm256_load_si256((const __m256i *)qs[i - i0]);
                summ = _mm256_add_ps(summ, _mm256_mul_ps(h2f8(a[i].m), _mm256_loadu_ps(xsum + i * G)));
                const float *ddi = dd + (i - i0) * G;
                for (int k = 0; k < G; k++) {
                    const block_q8_1 *b = (const block_q8_1 *)(xb + k * xs) + i;
                    const __m256i qb = _mm256_loadu_si256((const __m256i *)b->qs);
                    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(qa, qb), ones);
                    acc[k] = _mm256_fmadd_ps(_mm256_broadcast_ss(ddi + k), _mm256_cvtepi32_ps(p), acc[k]);
                }
            }
        }
        __attribute__((aligned(32))) float sm[G];
        _mm256_store_ps(sm, summ);
        for (int k = 0; k < G; k++) s[g * G + k] = hsum_ps(acc[k]) + sm[k];
    }
}

// The single-row kernels of decode: dot_avx2.c's operations, with the activation's block scales
// read as f32 (broadcast loads) and, for Q4_1, the weight block's d and m converted by one
// instruction and the m * s sum kept in one lane (the lane the vec_dot kernel returns).
#define SIGNED_GEMV(name, block_t, UNPACK)                                                         \
    FW_AVX2 static void gemv_##name(int64_t n, float *s, const void *w, const void *x, const float *xd, \
                                    const float *xsum) {                                           \
        (void)xsum;                                                                                \
        const block_t *a = w;                                                                      \
        const block_q8_0 *b = x;                                                                   \
        __m256 acc = _mm256_setzero_ps();                                                          \
        for (int64_t i = 0; i < n / QK; i++) {                                                     \
            __m256i qa;                                                                            \
            UNPACK;                                                                                \
            const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);                       \
            const __m256i p = dot_u8_i8(_mm256_sign_epi8(qa, qa), _mm256_sign_epi8(qb, qa));        \
            acc = _mm256_fmadd_ps(_mm256_mul_ps(h2f8(a[i].d), _mm256_broadcast_ss(xd + i)), _mm256_cvtepi32_ps(p), acc); \
        }                                                                                          \
        *s = hsum_ps(acc);                                                                         \
    }

SIGNED_GEMV(q4_0, block_q4_0, UNPACK_Q4_0)
SIGNED_GEMV(q8_0, block_q8_0, UNPACK_Q8_0)
SIGNED_GEMV(q5_0, block_q5_0, UNPACK_Q5_0)

FW_AVX2 static void gemv_q4_1(int64_t n, float *s, const void *w, const void *x, const float *xd, const float *xsum) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    __m256 acc = _mm256_setzero_ps();
    __m128 summ = _mm_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        int32_t dm_bits;
        memcpy(&dm_bits, &a[i].d, 4);  // d and m, adjacent halves
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(dm_bits));
        const __m256i qa = nibbles_bcast(a[i].qs);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_broadcastss_ps(dm), _mm256_broadcast_ss(xd + i)),
                              _mm256_cvtepi32_ps(dot_u8_i8(qa, qb)), acc);
        summ = _mm_add_ss(summ, _mm_mul_ss(_mm_movehdup_ps(dm), _mm_load_ss(xsum + i)));
    }
    *s = hsum_ps(acc) + _mm_cvtss_f32(summ);
}

// Q4_0 and Q5_0 rows for decode with unsigned weights: vpmaddubsw takes the 4- or 5-bit codes as
// they are, and the offset's share (offset * the activation's 4-byte lane sums, the same for every
// row) comes off the int32 sums: the signed kernel's exact integers without its two vpsignb.
#define OFFSET_GEMV(name, block_t, UNSIGNED)                                                       \
    FW_AVX2 static void gemv_offset_##name(int64_t n, float *s, const void *w, const void *x, const float *xd, \
                                           const int32_t *xc) {                                    \
        const block_t *a = w;                                                                      \
        const block_q8_0 *b = x;                                                                   \
        __m256 acc = _mm256_setzero_ps();                                                          \
        for (int64_t i = 0; i < n / QK; i++) {                                                     \
            __m256i qu;                                                                            \
            UNSIGNED;                                                                              \
            const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);                       \
            const __m256i p = _mm256_sub_epi32(dot_u8_i8(qu, qb), _mm256_load_si256((const __m256i *)(xc + i * 8))); \
            acc = _mm256_fmadd_ps(_mm256_mul_ps(h2f8(a[i].d), _mm256_broadcast_ss(xd + i)), _mm256_cvtepi32_ps(p), acc); \
        }                                                                                          \
        *s = hsum_ps(acc);                                                                         \
    }

#define UNSIGNED_Q4_0 qu = nibbles_bcast(a[i].qs)
#define UNSIGNED_Q5_0                                                                              \
    do {                                                                                           \
        uint32_t qh;                                                                               \
        memcpy(&qh, a[i].qh, 4);                                                                   \
        qu = _mm256_or_si256(nibbles_bcast(a[i].qs), _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10))); \
    } while (0)

OFFSET_GEMV(q4_0, block_q4_0, UNSIGNED_Q4_0)
OFFSET_GEMV(q5_0, block_q5_0, UNSIGNED_Q5_0)

// Four rows at once for decode: each activation block is loaded once for the four rows, the four
// accumulator chains are independent, and one transposed horizontal sum finishes them. Every row's
// operations are the one-row kernel's, in its order (the transposed sum adds the same lanes in
// hsum_ps's order), so the results are bit-identical. They pay off only for short rows, where the
// per-row set-up weighs most, so matmul.c uses them for rows of at most 512 bytes and not for Q8_0.
// pf: the four rows PREFETCH_ROWS ahead (NULL: none), asked for a few lines per block as the loop
// goes, since a burst of prefetches before the call fills the miss buffers.

// [hsum_ps(a), hsum_ps(b), hsum_ps(c), hsum_ps(d)] with hsum_ps's additions: lanes j and j + 4,
// then (0 + 2) and (1 + 3), then those two.
FW_AVX2 static inline __m128 hsum4_ps(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    const __m256 cd = _mm256_add_ps(_mm256_permute2f128_ps(c, d, 0x20), _mm256_permute2f128_ps(c, d, 0x31));
    const __m256 r = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 h = _mm256_hadd_ps(r, r);  // [a c a c | b d b d]
    return _mm_unpacklo_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Two lines of the four rows ahead asked for per block (128 bytes: more than four blocks of
// these types, at most 4 * 22).
#define GEMV4_PREFETCH                                                                             \
    if (pf) {                                                                                      \
        for (int l = 0; l < 2; l++) {                                                              \
            const size_t o = ((size_t)i * 2 + l) * 64;                                             \
            if (o < pf_bytes) __builtin_prefetch(pf + o, 0, 0);                                    \
        }                                                                                          \
    }

#define GEMV4_ROWS(T, w, rb)                                                                       \
    const T *a0 = (const T *)(w), *a1 = (const T *)((const uint8_t *)(w) + (rb)),                 \
            *a2 = (const T *)((const uint8_t *)(w) + 2 * (rb)), *a3 = (const T *)((const uint8_t *)(w) + 3 * (rb)); \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0

// Q4_1: aux = the activation's (d, s) pairs as f32. One multiply gives d_w * d_x (lane 0, the
// block's scale) and m * s (lane 1, summed block by block as the one-row kernel's summ).
#define Q41_ROW4(k)                                                                                \
    {                                                                                              \
        int32_t dm_bits;                                                                           \
        memcpy(&dm_bits, &a##k[i].d, 4);                                                           \
        const __m128 t = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(dm_bits)), ds);                 \
        sm##k = _mm_add_ps(sm##k, t);                                                              \
        acc##k = _mm256_fmadd_ps(_mm256_broadcastss_ps(t),                                         \
                                 _mm256_cvtepi32_ps(dot_u8_i8(nibbles_bcast(a##k[i].qs), qb)), acc##k); \
    }

FW_AVX2 static void gemv4_q4_1(int64_t n, float *s, const void *w, size_t row_bytes, const void *x,
                               const float *xd, const void *aux, const uint8_t *pf, size_t pf_bytes) {
    (void)xd;
    const block_q8_1 *b = x;
    const float *pairs = aux;
    GEMV4_ROWS(block_q4_1, w, row_bytes);
    __m128 sm0 = _mm_setzero_ps(), sm1 = sm0, sm2 = sm0, sm3 = sm0;
    for (int64_t i = 0; i < n / QK; i++) {
        GEMV4_PREFETCH
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        const __m128 ds = _mm_castpd_ps(_mm_load_sd((const double *)(pairs + 2 * i)));
        Q41_ROW4(0) Q41_ROW4(1) Q41_ROW4(2) Q41_ROW4(3)
    }
    const __m128 summ = _mm_movehl_ps(_mm_unpacklo_ps(sm2, sm3), _mm_unpacklo_ps(sm0, sm1));
    _mm_storeu_ps(s, _mm_add_ps(hsum4_ps(acc0, acc1, acc2, acc3), summ));
}

// Q4_0 / Q5_0 with unsigned codes (the offset kernels above): aux = the lane sums xc.
#define OFFSET_ROW4(k, UNSIGNED)                                                                   \
    {                                                                                              \
        __m256i qu;                                                                                \
        const block_t *a = a##k;                                                                   \
        UNSIGNED;                                                                                  \
        const __m256i p = _mm256_sub_epi32(dot_u8_i8(qu, qb), xci);                                \
        acc##k = _mm256_fmadd_ps(_mm256_mul_ps(h2f8(a[i].d), xdi), _mm256_cvtepi32_ps(p), acc##k); \
    }

#define OFFSET_GEMV4(name, T, UNSIGNED)                                                            \
    FW_AVX2 static void gemv4_##name(int64_t n, float *s, const void *w, size_t row_bytes, const void *x, \
                                     const float *xd, const void *aux, const uint8_t *pf, size_t pf_bytes) { \
        typedef T block_t;                                                                         \
        const block_q8_0 *b = x;                                                                   \
        const int32_t *xc = aux;                                                                   \
        GEMV4_ROWS(T, w, row_bytes);                                                               \
        for (int64_t i = 0; i < n / QK; i++) {                                                     \
            GEMV4_PREFETCH                                                                         \
            const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);                       \
            const __m256i xci = _mm256_load_si256((const __m256i *)(xc + i * 8));                  \
            const __m256 xdi = _mm256_broadcast_ss(xd + i);                                        \
            OFFSET_ROW4(0, UNSIGNED) OFFSET_ROW4(1, UNSIGNED) OFFSET_ROW4(2, UNSIGNED) OFFSET_ROW4(3, UNSIGNED) \
        }                                                                                          \
        _mm_storeu_ps(s, hsum4_ps(acc0, acc1, acc2, acc3));                                        \
    }

OFFSET_GEMV4(q4_0, block_q4_0, UNSIGNED_Q4_0)
OFFSET_GEMV4(q5_0, block_q5_0, UNSIGNED_Q5_0)

fw_gemv4_fn fw_gemv4_avx2(int t) {
    switch (t) {
    case FW_TYPE_Q4_0: return gemv4_q4_0;
    case FW_TYPE_Q4_1: return gemv4_q4_1;
    case FW_TYPE_Q5_0: return gemv4_q5_0;
    default: return NULL;
    }
}

fw_gemv_offset_fn fw_gemv_offset_avx2(int t) {
    switch (t) {
    case FW_TYPE_Q4_0: return gemv_offset_q4_0;
    case FW_TYPE_Q5_0: return gemv_offset_q5_0;
    default: return NULL;
    }
}

FW_AVX2 void fw_act_lane_sums_avx2(int weight_type, const void *x, int64_t nb, int32_t *xc) {
    const block_q8_0 *b = x;
    const int shift = weight_type == FW_TYPE_Q5_0 ? 4 : 3;  // offset 16 or 8
    for (int64_t i = 0; i < nb; i++) {
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        const __m256i sums = dot_u8_i8(_mm256_set1_epi8(1), qb);
        _mm256_store_si256((__m256i *)(xc + i * 8), _mm256_slli_epi32(sums, shift));
    }
}

fw_gemv_fn fw_gemv_avx2(int t) {
    switch (t) {
    case FW_TYPE_Q4_0: return gemv_q4_0;
    case FW_TYPE_Q4_1: return gemv_q4_1;
    case FW_TYPE_Q5_0: return gemv_q5_0;
    case FW_TYPE_Q8_0: return gemv_q8_0;
    default: return NULL;
    }
}

fw_gemm_1x8_fn fw_gemm_1x8_avx2(int t) {
    switch (t) {
    case FW_TYPE_Q4_0: return gemm_q4_0_1x8;
    case FW_TYPE_Q4_1: return gemm_q4_1_1x8;
    case FW_TYPE_Q5_0: return gemm_q5_0_1x8;
    case FW_TYPE_Q8_0: return gemm_q8_0_1x8;
    default: return NULL;
    }
}

#else
fw_gemm_1x8_fn fw_gemm_1x8_avx2(int t) { (void)t; return NULL; }
fw_gemv_fn fw_gemv_avx2(int t) { (void)t; return NULL; }
fw_gemv_offset_fn fw_gemv_offset_avx2(int t) { (void)t; return NULL; }
fw_gemv4_fn fw_gemv4_avx2(int t) { (void)t; return NULL; }
void fw_act_lane_sums_avx2(int weight_type, const void *x, int64_t nb, int32_t *xc) {
    (void)weight_type; (void)x; (void)nb; (void)xc;
}
#endif

