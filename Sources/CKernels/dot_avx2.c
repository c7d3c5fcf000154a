// AVX2 + FMA + F16C dot products. Each mirrors its scalar twin in dot_scalar.c: the integer sum
// of every block is the same, only the float accumulation order differs.
#include "fw_internal.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "fw_avx2.h"

// F16C conversion, exact like the portable fw_h2f.
#define fw_h2f(h) _cvtsh_ss(h)

FW_AVX2 static inline __m256 load_bf16(const uint16_t *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

// Two 16-weight group scales for one 32-byte run of vpmaddubsw output (int16 lanes 0-7 | 8-15).
FW_AVX2 static inline __m256i scale_pair(int s0, int s1) {
    return _mm256_set_m128i(_mm_set1_epi16((short)s1), _mm_set1_epi16((short)s0));
}

// Kernels in "NR" form: one weight row against nr activation rows (x + r * xs), so matmul unpacks
// each weight block once for several activations. Each row's operations run in the same order
// as with nr = 1, so the single-row and multi-row results are bit-identical.
#define FW_NR_MAX 4
#define FW_INLINE __attribute__((always_inline)) inline

FW_AVX2 static FW_INLINE void dot_q4_0_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q4_0 *a = w;
    __m256 acc[FW_NR_MAX];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        const __m256i qa = _mm256_sub_epi8(unpack_nibbles16(a[i].qs), _mm256_set1_epi8(8));
        const __m256i ua = _mm256_sign_epi8(qa, qa);
        const __m256 vda = h2f8(a[i].d);
        for (int r = 0; r < nr; r++) {
            const block_q8_0 *b = (const block_q8_0 *)((const uint8_t *)x + r * xs) + i;
            const __m256i qb = _mm256_loadu_si256((const __m256i *)b->qs);
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ua, _mm256_sign_epi8(qb, qa)), _mm256_set1_epi16(1));
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(vda, h2f8(b->d)), _mm256_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) s[r] = hsum_ps(acc[r]);
}

FW_AVX2 static FW_INLINE void dot_q4_1_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q4_1 *a = w;
    __m256 acc[FW_NR_MAX];
    __m256 summ[FW_NR_MAX];  // m * s per block, kept in vectors (see h2f8)
    for (int r = 0; r < nr; r++) { acc[r] = _mm256_setzero_ps(); summ[r] = _mm256_setzero_ps(); }
    for (int64_t i = 0; i < n / QK; i++) {
        const __m256i qa = unpack_nibbles16(a[i].qs);
        const __m256 vda = h2f8(a[i].d);
        const __m256 vma = h2f8(a[i].m);
        for (int r = 0; r < nr; r++) {
            const block_q8_1 *b = (const block_q8_1 *)((const uint8_t *)x + r * xs) + i;
            const __m256i qb = _mm256_loadu_si256((const __m256i *)b->qs);
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(vda, h2f8(b->d)), _mm256_cvtepi32_ps(dot_u8_i8(qa, qb)), acc[r]);
            summ[r] = _mm256_add_ps(summ[r], _mm256_mul_ps(vma, h2f8(b->s)));
        }
    }
    for (int r = 0; r < nr; r++) s[r] = hsum_ps(acc[r]) + _mm256_cvtss_f32(summ[r]);
}

FW_AVX2 static FW_INLINE void dot_q5_0_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q5_0 *a = w;
    __m256 acc[FW_NR_MAX];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        const __m256i hi = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10));
        const __m256i qa = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles16(a[i].qs), hi), _mm256_set1_epi8(16));
        const __m256i ua = _mm256_sign_epi8(qa, qa);
        const __m256 vda = h2f8(a[i].d);
        for (int r = 0; r < nr; r++) {
            const block_q8_0 *b = (const block_q8_0 *)((const uint8_t *)x + r * xs) + i;
            const __m256i qb = _mm256_loadu_si256((const __m256i *)b->qs);
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ua, _mm256_sign_epi8(qb, qa)), _mm256_set1_epi16(1));
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(vda, h2f8(b->d)), _mm256_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) s[r] = hsum_ps(acc[r]);
}

FW_AVX2 static FW_INLINE void dot_q8_0_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q8_0 *a = w;
    __m256 acc[FW_NR_MAX];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        const __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        const __m256i ua = _mm256_sign_epi8(qa, qa);
        const __m256 vda = h2f8(a[i].d);
        for (int r = 0; r < nr; r++) {
            const block_q8_0 *b = (const block_q8_0 *)((const uint8_t *)x + r * xs) + i;
            const __m256i qb = _mm256_loadu_si256((const __m256i *)b->qs);
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ua, _mm256_sign_epi8(qb, qa)), _mm256_set1_epi16(1));
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(vda, h2f8(b->d)), _mm256_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) s[r] = hsum_ps(acc[r]);
}

FW_AVX2 static FW_INLINE void dot_q4_K_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q4_K *a = w;
    __m256 acc[FW_NR_MAX];
    __m128 accm[FW_NR_MAX];  // mins in 4 lanes, as ggml's AVX2 ggml_vec_dot_q4_K_q8_K sums them
    for (int r = 0; r < nr; r++) { acc[r] = _mm256_setzero_ps(); accm[r] = _mm_setzero_ps(); }
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) fw_scale_min_k4(j, a[i].scales, &sc[j], &mn[j]);
        __m256i sumi[FW_NR_MAX];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(a[i].qs + c * 32));
            const __m256i lo = _mm256_and_si256(q4, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            const __m256i s0 = _mm256_set1_epi16(sc[2 * c]), s1 = _mm256_set1_epi16(sc[2 * c + 1]);
            for (int r = 0; r < nr; r++) {
                const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
                const __m256i y0 = _mm256_loadu_si256((const __m256i *)(b->qs + c * 64));
                const __m256i y1 = _mm256_loadu_si256((const __m256i *)(b->qs + c * 64 + 32));
                const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), s0);
                const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), s1);
                sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(p0, p1));
            }
        }
        const float da = fw_h2f(a[i].d), dmina = fw_h2f(a[i].dmin);
        for (int r = 0; r < nr; r++) {
            const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
            int32_t prod[4];
            for (int l = 0; l < 4; l++)
                prod[l] = mn[2 * l] * (b->bsums[4 * l] + b->bsums[4 * l + 1]) + mn[2 * l + 1] * (b->bsums[4 * l + 2] + b->bsums[4 * l + 3]);
            const float dmin = -b->d * dmina;
            accm[r] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)prod)), accm[r]);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(b->d * da), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) {
        __m128 m = _mm_add_ps(accm[r], _mm_movehl_ps(accm[r], accm[r]));
        m = _mm_add_ss(m, _mm_movehdup_ps(m));
        s[r] = hsum_ps(acc[r]) + _mm_cvtss_f32(m);
    }
}

// Q4_K as llama.cpp's x86 CPU backend computes it after repacking the matrix (CPU_REPACK,
// ggml_gemv/gemm_q4_K_8x8_q8_K): per weight row and activation row the exact integer sums
// S = sum of scale * (q4 . q8) and M = sum of min * (32-value sum of q8) are taken either per
// 64 weights (per64 = 1, the gemm of four activation rows) or per 256-weight block (per64 = 0,
// the gemv of one row), and each goes into its own float accumulator with one FMA by
// (block d * activation d), resp. (block dmin * activation d); the result is acc - acc_min.
FW_AVX2 static FW_INLINE void dot_q4_K_repack_nr(int64_t n, float *s, const void *w, const void *x, size_t xs,
                                                 int nr, int per64) {
    const block_q4_K *a = w;
    float acc[FW_NR_MAX], accm[FW_NR_MAX];
    for (int r = 0; r < nr; r++) { acc[r] = 0; accm[r] = 0; }
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) fw_scale_min_k4(j, a[i].scales, &sc[j], &mn[j]);
        __m256i part[FW_NR_MAX][4];
        for (int c = 0; c < 4; c++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(a[i].qs + c * 32));
            const __m256i lo = _mm256_and_si256(q4, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            const __m256i s0 = _mm256_set1_epi16(sc[2 * c]), s1 = _mm256_set1_epi16(sc[2 * c + 1]);
            for (int r = 0; r < nr; r++) {
                const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
                const __m256i y0 = _mm256_loadu_si256((const __m256i *)(b->qs + c * 64));
                const __m256i y1 = _mm256_loadu_si256((const __m256i *)(b->qs + c * 64 + 32));
                const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), s0);
                const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), s1);
                part[r][c] = _mm256_add_epi32(p0, p1);
            }
        }
        const float da = fw_h2f(a[i].d), dmina = fw_h2f(a[i].dmin);
        for (int r = 0; r < nr; r++) {
            const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
            // Lane sums of the four 64-weight parts: [S0 S1 S2 S3].
            const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(part[r][0], part[r][1]),
                                                _mm256_hadd_epi32(part[r][2], part[r][3]));
            int32_t sum[4];
            _mm_storeu_si128((__m128i *)sum, _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
            int32_t mins[4];
            for (int c = 0; c < 4; c++)
                mins[c] = mn[2 * c] * (b->bsums[4 * c] + b->bsums[4 * c + 1]) + mn[2 * c + 1] * (b->bsums[4 * c + 2] + b->bsums[4 * c + 3]);
            const float d = da * b->d, dm = dmina * b->d;
            if (per64) {
                for (int c = 0; c < 4; c++) {
                    acc[r] = fmaf((float)sum[c], d, acc[r]);
                    accm[r] = fmaf((float)mins[c], dm, accm[r]);
                }
            } else {
                acc[r] = fmaf((float)(sum[0] + sum[1] + sum[2] + sum[3]), d, acc[r]);
                accm[r] = fmaf((float)(mins[0] + mins[1] + mins[2] + mins[3]), dm, accm[r]);
            }
        }
    }
    for (int r = 0; r < nr; r++) s[r] = acc[r] - accm[r];
}

// tiled = 1: as llama.cpp's tiled K-quant matmul (ggml-cpu/tiled, batches of 8 rows and more):
// per block the exact integer sum S, then acc = fma(d * (float)S, activation d, acc) in one float.
FW_AVX2 static FW_INLINE void dot_q6_K_mode_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr, int tiled) {
    float tacc[FW_NR_MAX];
    for (int r = 0; r < nr; r++) tacc[r] = 0;
    const block_q6_K *a = w;
    __m256 acc[FW_NR_MAX];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sumi[FW_NR_MAX];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + c * 64));
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + c * 64 + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + c * 32));
            for (int sh = 0; sh < 4; sh++) {
                const __m256i src = (sh & 1) ? ql1 : ql0;
                const __m256i lo = _mm256_and_si256((sh >> 1) ? _mm256_srli_epi16(src, 4) : src, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * sh), m3);
                const __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
                const int g = c * 8 + sh * 2;
                const __m256i scale = scale_pair(a[i].scales[g], a[i].scales[g + 1]);
                for (int r = 0; r < nr; r++) {
                    const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(b->qs + c * 128 + sh * 32));
                    // q y with q in 0...63; the -32 offset is taken off per block below.
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), scale));
                }
            }
        }
        const __m256 vda = h2f8(a[i].d);
        // As ggml's AVX2 ggml_vec_dot_q6_K_q8_K: lane k loses 32 (s[2k] bsum[2k] + s[2k+1] bsum[2k+1]),
        // so each lane's sum (and the float rounding of it) is llama.cpp's.
        const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        for (int r = 0; r < nr; r++) {
            const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
            const __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), scales16), 5);
            const __m256i total = _mm256_sub_epi32(sumi[r], bias);
            if (tiled) {
                __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
                t = _mm_add_epi32(t, _mm_unpackhi_epi64(t, t));
                t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 1));
                tacc[r] = fmaf(fw_h2f(a[i].d) * (float)_mm_cvtsi128_si32(t), b->d, tacc[r]);
            } else {
                acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(vda, _mm256_set1_ps(b->d)), _mm256_cvtepi32_ps(total), acc[r]);
            }
        }
    }
    for (int r = 0; r < nr; r++) s[r] = tiled ? tacc[r] : hsum_ps(acc[r]);
}

FW_AVX2 static FW_INLINE void dot_q6_K_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    dot_q6_K_mode_nr(n, s, w, x, xs, nr, 0);
}

FW_AVX2 static void dot_q6_K_tiled(int64_t n, float *s, const void *w, const void *x, size_t xs) {
    dot_q6_K_mode_nr(n, s, w, x, xs, 1, 1);
}
FW_AVX2 static void dot_q6_K_tiled_x4(int64_t n, float *s, const void *w, const void *x, size_t xs) {
    dot_q6_K_mode_nr(n, s, w, x, xs, 4, 1);
}
fw_vec_dot_x4_fn fw_q6_K_tiled_avx2(int rows) { return rows == 4 ? dot_q6_K_tiled_x4 : dot_q6_K_tiled; }

FW_AVX2 static FW_INLINE void dot_q5_1_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q5_1 *a = w;
    __m256 acc[FW_NR_MAX];
    __m256 summ[FW_NR_MAX];  // m * s per block, kept in vectors (see h2f8)
    for (int r = 0; r < nr; r++) { acc[r] = _mm256_setzero_ps(); summ[r] = _mm256_setzero_ps(); }
    for (int64_t i = 0; i < n / QK; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        const __m256i hi = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10));
        const __m256i qa = _mm256_or_si256(unpack_nibbles16(a[i].qs), hi);
        const __m256 vda = h2f8(a[i].d);
        const __m256 vma = h2f8(a[i].m);
        for (int r = 0; r < nr; r++) {
            const block_q8_1 *b = (const block_q8_1 *)((const uint8_t *)x + r * xs) + i;
            const __m256i qb = _mm256_loadu_si256((const __m256i *)b->qs);
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(vda, h2f8(b->d)), _mm256_cvtepi32_ps(dot_u8_i8(qa, qb)), acc[r]);
            summ[r] = _mm256_add_ps(summ[r], _mm256_mul_ps(vma, h2f8(b->s)));
        }
    }
    for (int r = 0; r < nr; r++) s[r] = hsum_ps(acc[r]) + _mm256_cvtss_f32(summ[r]);
}

FW_AVX2 static FW_INLINE void dot_q2_K_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q2_K *a = w;
    __m256 acc[FW_NR_MAX];
    float accm[FW_NR_MAX];
    for (int r = 0; r < nr; r++) { acc[r] = _mm256_setzero_ps(); accm[r] = 0; }
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sumi[FW_NR_MAX];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {
            const __m256i q2 = _mm256_loadu_si256((const __m256i *)(a[i].qs + c * 32));
            for (int sh = 0; sh < 4; sh++) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * sh), m3);
                const int g = c * 8 + sh * 2;
                const __m256i scale = scale_pair(a[i].scales[g] & 0xF, a[i].scales[g + 1] & 0xF);
                for (int r = 0; r < nr; r++) {
                    const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(b->qs + c * 128 + sh * 32));
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), scale));
                }
            }
        }
        const float da = fw_h2f(a[i].d), dmina = fw_h2f(a[i].dmin);
        for (int r = 0; r < nr; r++) {
            const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
            int summs = 0;
            for (int g = 0; g < 16; g++) summs += (a[i].scales[g] >> 4) * b->bsums[g];
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(b->d * da), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
            accm[r] += (b->d * dmina) * (float)summs;
        }
    }
    for (int r = 0; r < nr; r++) s[r] = hsum_ps(acc[r]) - accm[r];
}

FW_AVX2 static FW_INLINE void dot_q3_K_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q3_K *a = w;
    __m256 acc[FW_NR_MAX];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i four = _mm256_set1_epi8(4);
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sc[16];
        for (int g = 0; g < 16; g++) sc[g] = fw_q3k_scale(a[i].scales, g);
        const __m256i hm = _mm256_loadu_si256((const __m256i *)a[i].hmask);
        __m256i sumi[FW_NR_MAX];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {
            const __m256i q2 = _mm256_loadu_si256((const __m256i *)(a[i].qs + c * 32));
            for (int sh = 0; sh < 4; sh++) {
                const int bit = c * 4 + sh;
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * sh), m3);
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, bit), _mm256_set1_epi8(1));
                // Value = (lo | hbit << 2) - 4, as unsigned q times y minus 4 times y.
                const __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));
                const int g = c * 8 + sh * 2;
                const __m256i scale = scale_pair(sc[g], sc[g + 1]);
                for (int r = 0; r < nr; r++) {
                    const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(b->qs + c * 128 + sh * 32));
                    const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q, y), _mm256_maddubs_epi16(four, y));
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p16, scale));
                }
            }
        }
        const __m256 vda = h2f8(a[i].d);
        for (int r = 0; r < nr; r++) {
            const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(vda, _mm256_set1_ps(b->d)), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) s[r] = hsum_ps(acc[r]);
}

FW_AVX2 static FW_INLINE void dot_q5_K_nr(int64_t n, float *s, const void *w, const void *x, size_t xs, int nr) {
    const block_q5_K *a = w;
    __m256 acc[FW_NR_MAX];
    float accm[FW_NR_MAX];
    for (int r = 0; r < nr; r++) { acc[r] = _mm256_setzero_ps(); accm[r] = 0; }
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i b16 = _mm256_set1_epi8(0x10);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) fw_scale_min_k4(j, a[i].scales, &sc[j], &mn[j]);
        const __m256i qh = _mm256_loadu_si256((const __m256i *)a[i].qh);
        __m256i sumi[FW_NR_MAX];
        for (int r = 0; r < nr; r++) sumi[r] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(a[i].qs + c * 32));
            // Fifth bit of sub-block j is bit j of qh[l]: shift it to bit 4.
            const __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * c), 4), b16);
            const __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * c + 1), 4), b16);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q4, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4), h1);
            const __m256i s0 = _mm256_set1_epi16(sc[2 * c]), s1 = _mm256_set1_epi16(sc[2 * c + 1]);
            for (int r = 0; r < nr; r++) {
                const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
                const __m256i y0 = _mm256_loadu_si256((const __m256i *)(b->qs + c * 64));
                const __m256i y1 = _mm256_loadu_si256((const __m256i *)(b->qs + c * 64 + 32));
                const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), s0);
                const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), s1);
                sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(p0, p1));
            }
        }
        const float da = fw_h2f(a[i].d), dmina = fw_h2f(a[i].dmin);
        for (int r = 0; r < nr; r++) {
            const block_q8_K *b = (const block_q8_K *)((const uint8_t *)x + r * xs) + i;
            int summs = 0;
            for (int j = 0; j < 8; j++) summs += mn[j] * (b->bsums[2 * j] + b->bsums[2 * j + 1]);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(b->d * da), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
            accm[r] += (b->d * dmina) * (float)summs;
        }
    }
    for (int r = 0; r < nr; r++) s[r] = hsum_ps(acc[r]) - accm[r];
}

// Float weights (f32, f16, bf16) against f32 activations, in the same one-weight-row, nr-activation
// form as the quantized kernels: two accumulators per row, 16 values per step, scalar tail.
#define FW_FLOAT_KERNEL(name, wtype, LOAD8, LOAD1)                                                 \
    FW_AVX2 static FW_INLINE void dot_##name##_nr(int64_t n, float *s, const void *w, const void *x, \
                                                 size_t xs, int nr) {                              \
        const wtype *a = w;                                                                        \
        __m256 acc0[FW_NR_MAX], acc1[FW_NR_MAX];                                                   \
        for (int r = 0; r < nr; r++) acc0[r] = acc1[r] = _mm256_setzero_ps();                      \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= n; i += 16) {                                                             \
            const __m256 w0 = LOAD8(a + i), w1 = LOAD8(a + i + 8);                                 \
            for (int r = 0; r < nr; r++) {                                                         \
                const float *b = (const float *)((const uint8_t *)x + r * xs);                     \
                acc0[r] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(b + i), acc0[r]);                    \
                acc1[r] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(b + i + 8), acc1[r]);                \
            }                                                                                      \
        }                                                                                          \
        for (int r = 0; r < nr; r++) {                                                             \
            const float *b = (const float *)((const uint8_t *)x + r * xs);                         \
            float sum = hsum_ps(_mm256_add_ps(acc0[r], acc1[r]));                                  \
            for (int64_t k = i; k < n; k++) sum += LOAD1(a[k]) * b[k];                             \
            s[r] = sum;                                                                            \
        }                                                                                          \
    }

#define FW_LOAD_F32(p) _mm256_loadu_ps(p)
#define FW_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define FW_ID(v) (v)
FW_FLOAT_KERNEL(f32, float, FW_LOAD_F32, FW_ID)
FW_FLOAT_KERNEL(f16, fw_half, FW_LOAD_F16, fw_h2f)
FW_FLOAT_KERNEL(bf16, uint16_t, load_bf16, fw_bf2f)

#define FW_NR_WRAPPERS(name)                                                                       \
    FW_AVX2 static void dot_##name(int64_t n, float *s, const void *w, const void *x) {            \
        dot_##name##_nr(n, s, w, x, 0, 1);                                                         \
    }                                                                                              \
    FW_AVX2 static void dot_##name##_x4(int64_t n, float *s, const void *w, const void *x, size_t xs) { \
        dot_##name##_nr(n, s, w, x, xs, 4);                                                        \
    }
FW_NR_WRAPPERS(q4_0)
FW_NR_WRAPPERS(q4_1)
FW_NR_WRAPPERS(q5_0)
FW_NR_WRAPPERS(q8_0)
FW_NR_WRAPPERS(q4_K)
FW_NR_WRAPPERS(q6_K)
FW_NR_WRAPPERS(q5_1)
FW_NR_WRAPPERS(q2_K)
FW_NR_WRAPPERS(q3_K)
FW_NR_WRAPPERS(q5_K)
FW_NR_WRAPPERS(f32)
FW_NR_WRAPPERS(f16)
FW_NR_WRAPPERS(bf16)

// The gemv order of dot_q4_K_repack_nr (one activation row, per64 = 0) with each block's two
// integers taken at once: scales and mins unpacked with 32-bit masks (fw_q4_K_scales_mins), the
// mins' sum by one madd over the activation's 16-value sums, the scaled products in one vector
// and one horizontal sum per block. The integers are exact, so the result is bit for bit
// dot_q4_K_repack_nr's (RepackOrderTests); it reads the weights near the memory bound.
FW_AVX2 static void dot_q4_K_repack_gemv(int64_t n, float *s, const void *w, const void *x, size_t xs) {
    (void)xs;
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    float acc = 0, accm = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sm[16];  // sc[0..7], mn[0..7]
        fw_q4_K_scales_mins(a[i].scales, sm);
        const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)b[i].bsums),
                                             _mm_loadu_si128((const __m128i *)(b[i].bsums + 8)));
        __m128i mins = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sm + 8))), pairs);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(a[i].qs + c * 32));
            const __m256i lo = _mm256_and_si256(q4, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            const __m256i y0 = _mm256_loadu_si256((const __m256i *)(b[i].qs + c * 64));
            const __m256i y1 = _mm256_loadu_si256((const __m256i *)(b[i].qs + c * 64 + 32));
            const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), _mm256_set1_epi16(sm[2 * c]));
            const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), _mm256_set1_epi16(sm[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(sumi), _mm256_extracti128_si256(sumi, 1));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
        mins = _mm_add_epi32(mins, _mm_shuffle_epi32(mins, 0x4E));
        mins = _mm_add_epi32(mins, _mm_shuffle_epi32(mins, 0xB1));
        const float d = _cvtsh_ss(a[i].d) * b[i].d, dm = _cvtsh_ss(a[i].dmin) * b[i].d;
        acc = fmaf((float)_mm_cvtsi128_si32(t), d, acc);
        accm = fmaf((float)_mm_cvtsi128_si32(mins), dm, accm);
    }
    *s = acc - accm;
}
FW_AVX2 static void dot_q4_K_repack_gemm_x4(int64_t n, float *s, const void *w, const void *x, size_t xs) {
    dot_q4_K_repack_nr(n, s, w, x, xs, 4, 1);
}

fw_vec_dot_x4_fn fw_q4_K_repack_avx2(int rows, int per64) {
    if (per64) return rows == 4 ? dot_q4_K_repack_gemm_x4 : NULL;
    return rows == 1 ? dot_q4_K_repack_gemv : NULL;
}

fw_vec_dot_fn fw_vec_dot_avx2(int t) {
    switch (t) {
    case FW_TYPE_F32: return dot_f32;
    case FW_TYPE_F16: return dot_f16;
    case FW_TYPE_BF16: return dot_bf16;
    case FW_TYPE_Q4_0: return dot_q4_0;
    case FW_TYPE_Q4_1: return dot_q4_1;
    case FW_TYPE_Q5_0: return dot_q5_0;
    case FW_TYPE_Q5_1: return dot_q5_1;
    case FW_TYPE_Q8_0: return dot_q8_0;
    case FW_TYPE_Q2_K: return dot_q2_K;
    case FW_TYPE_Q3_K: return dot_q3_K;
    case FW_TYPE_Q4_K: return dot_q4_K;
    case FW_TYPE_Q5_K: return dot_q5_K;
    case FW_TYPE_Q6_K: return dot_q6_K;
    default: return NULL;
    }
}

fw_vec_dot_x4_fn fw_vec_dot_x4_avx2(int t) {
    switch (t) {
    case FW_TYPE_Q4_0: return dot_q4_0_x4;
    case FW_TYPE_Q4_1: return dot_q4_1_x4;
    case FW_TYPE_Q5_0: return dot_q5_0_x4;
    case FW_TYPE_Q8_0: return dot_q8_0_x4;
    case FW_TYPE_Q4_K: return dot_q4_K_x4;
    case FW_TYPE_Q6_K: return dot_q6_K_x4;
    case FW_TYPE_Q5_1: return dot_q5_1_x4;
    case FW_TYPE_Q2_K: return dot_q2_K_x4;
    case FW_TYPE_Q3_K: return dot_q3_K_x4;
    case FW_TYPE_Q5_K: return dot_q5_K_x4;
    case FW_TYPE_F32: return dot_f32_x4;
    case FW_TYPE_F16: return dot_f16_x4;
    case FW_TYPE_BF16: return dot_bf16_x4;
    default: return NULL;
    }
}

#else
fw_vec_dot_x4_fn fw_q6_K_tiled_avx2(int rows) { (void)rows; return NULL; }
fw_vec_dot_x4_fn fw_q4_K_repack_avx2(int rows, int per64) { (void)rows; (void)per64; return NULL; }
fw_vec_dot_fn fw_vec_dot_avx2(int t) { (void)t; return NULL; }
fw_vec_dot_x4_fn fw_vec_dot_x4_avx2(int t) { (void)t; return NULL; }
#endif
