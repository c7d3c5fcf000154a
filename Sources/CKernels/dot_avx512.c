// AVX-512 (F/BW/VL + VNNI) dot products. vpdpbusd fuses vpmaddubsw + vpmaddwd + add. Types not
// here fall back to the AVX2 kernels (an AVX-512 CPU runs those too).
// No Q8_0 here: its AVX2 kernels compute the same bits and come with the 4- and 8-row kernels that
// fw_matmul gives up for a type with an AVX-512 one-row kernel.
#include "fw_internal.h"
#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define FW_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

FW_AVX512 static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

// Q4_K: index vectors for vpermw that spread a block's eight 16-bit scales over part c (32 weights):
// scale 2c in lanes 0..15, scale 2c + 1 in lanes 16..31.
FW_AVX512 static inline void q4_K_scale_spread(__m512i spread[4]) {
    for (int c = 0; c < 4; c++)
        spread[c] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)(2 * c))), _mm256_set1_epi16((short)(2 * c + 1)), 1);
}

// The four parts' mins [M0 M1 M2 M3] of a Q4_K block (mins mn16) against activation block b:
// M_c = mn[2c] (bsums[4c] + bsums[4c + 1]) + mn[2c + 1] (bsums[4c + 2] + bsums[4c + 3]), exact.
FW_AVX512 static inline __m128 q4_K_part_mins(__m128i mn16, const block_q8_K *b) {
    return _mm_castsi128_ps(_mm_madd_epi16(mn16, _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)b->bsums),
                                                                 _mm_loadu_si128((const __m128i *)(b->bsums + 8)))));
}

// Q6_K: index vectors for vpermw, step m: int16 lane l takes scale 4m + l / 8.
FW_AVX512 static inline void q6_K_scale_spread(__m512i spread[4]) {
    for (int m = 0; m < 4; m++) {
        short idx[32];
        for (int l = 0; l < 32; l++) idx[l] = (short)(4 * m + l / 8);
        spread[m] = _mm512_loadu_si512((const void *)idx);
    }
}

// Q6_K: chunks sh = 2p and 2p + 1 of half c of block a as unsigned 6-bit values (0...63; the -32 is
// taken off per block): 64 contiguous bytes of ql, their qh bits shifted per half.
FW_AVX512 static inline __m512i q6_K_chunk_pair(const block_q6_K *a, int c, int p) {
    const __m512i ql = _mm512_loadu_si512((const void *)(a->ql + c * 64));
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(a->qh + c * 32)));
    const __m512i shift = p ? _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(4)), _mm256_set1_epi16(6), 1)
                            : _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i lo = _mm512_and_si512(p ? _mm512_srli_epi16(ql, 4) : ql, _mm512_set1_epi8(0x0F));
    const __m512i hi = _mm512_and_si512(_mm512_srlv_epi16(qh, shift), _mm512_set1_epi8(3));
    return _mm512_or_si512(lo, _mm512_slli_epi16(hi, 4));
}

FW_AVX512 static void dot_f32(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    float sum = hsum512(acc);
    for (; i < n; i++) sum += a[i] * b[i];
    *s = sum;
}

FW_AVX512 static void dot_f16(int64_t n, float *s, const void *w, const void *x) {
    const fw_half *a = w;
    const float *b = x;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        acc = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i))), _mm512_loadu_ps(b + i), acc);
    float sum = hsum512(acc);
    for (; i < n; i++) sum += fw_h2f(a[i]) * b[i];
    *s = sum;
}

FW_AVX512 static void dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        const __m128i raw = _mm_loadu_si128((const __m128i *)a[i].qs);
        const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        // (q - 8) y = q y - 8 y: two vpdpbusd with the unsigned nibbles and the constant 8.
        const __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), nib, qb),
                                           _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), qb));
        const __m256 d = _mm256_set1_ps(fw_h2f(a[i].d) * fw_h2f(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    *s = _mm_cvtss_f32(h);
}

// dot_q4_K_repack_gemv (dot_avx2.c) two 32-weight sub-blocks per step: a block's four 32 bytes
// of nibbles in both halves of a register, the upper half shifted by 4, against 64 activation
// bytes; the scales spread by vpermw. The same exact integers per block, so the same bits.
FW_AVX512 static void dot_q4_K_repack_gemv(int64_t n, float *s, const void *w, const void *x, size_t xs) {
    (void)xs;
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    float acc = 0, accm = 0;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    __m512i spread[4];
    q4_K_scale_spread(spread);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sm[16];  // sc[0..7], mn[0..7]
        fw_q4_K_scales_mins(a[i].scales, sm);
        const __m128i mins = _mm_castps_si128(q4_K_part_mins(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sm + 8))), b + i));
        const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sm)));
        __m512i sumi = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(a[i].qs + c * 32)));
            const __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(q, shift), m4);
            const __m512i y = _mm512_loadu_si512((const void *)(b[i].qs + c * 64));
            const __m512i p = _mm512_madd_epi16(_mm512_maddubs_epi16(nib, y), _mm512_permutexvar_epi16(spread[c], sc16));
            sumi = _mm512_add_epi32(sumi, p);
        }
        const float d = _cvtsh_ss(a[i].d) * b[i].d, dm = _cvtsh_ss(a[i].dmin) * b[i].d;
        acc = fmaf((float)_mm512_reduce_add_epi32(sumi), d, acc);
        __m128i m = _mm_add_epi32(mins, _mm_shuffle_epi32(mins, 0x4E));
        m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0xB1));
        accm = fmaf((float)_mm_cvtsi128_si32(m), dm, accm);
    }
    *s = acc - accm;
}

fw_vec_dot_x4_fn fw_q4_K_repack_gemv_avx512(void) { return dot_q4_K_repack_gemv; }

// Four vectors of 16 int32 lanes -> [sum of v0, sum of v1, sum of v2, sum of v3] (exact integers).
FW_AVX512 static inline __m128i sum4x16(__m512i v0, __m512i v1, __m512i v2, __m512i v3) {
    const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(v0, v1), _mm512_unpackhi_epi32(v0, v1));
    const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(v2, v3), _mm512_unpackhi_epi32(v2, v3));
    const __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// dot_q4_K_repack_nr (dot_avx2.c) for four activation rows in the gemm order (per64 = 1): each
// 64-weight part's exact integer for the four rows in one 4-lane vector, so the float work runs
// in lane r for row r in the same sequence (a lane's fma is fmaf): the same bits (RepackOrderTests).
FW_AVX512 static void dot_q4_K_repack_gemm4(int64_t n, float *s, const void *w, const void *x, size_t xs) {
    const block_q4_K *a = w;
    const block_q8_K *b0 = x, *b1 = (const block_q8_K *)((const uint8_t *)x + xs),
                     *b2 = (const block_q8_K *)((const uint8_t *)x + 2 * xs), *b3 = (const block_q8_K *)((const uint8_t *)x + 3 * xs);
    __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    __m512i spread[4];
    q4_K_scale_spread(spread);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sm[16];
        fw_q4_K_scales_mins(a[i].scales, sm);
        const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sm)));
        const __m128i mn16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sm + 8)));
        // Row r's four parts' mins [M0 M1 M2 M3], then transposed to one vector per part (lanes = rows).
        __m128 m0 = q4_K_part_mins(mn16, b0 + i), m1 = q4_K_part_mins(mn16, b1 + i);
        __m128 m2 = q4_K_part_mins(mn16, b2 + i), m3 = q4_K_part_mins(mn16, b3 + i);
        _MM_TRANSPOSE4_PS(m0, m1, m2, m3);
        const __m128 mins[4] = {m0, m1, m2, m3};
        const __m128 bd = _mm_set_ps(b3[i].d, b2[i].d, b1[i].d, b0[i].d);
        const __m128 d = _mm_mul_ps(_mm_set1_ps(_cvtsh_ss(a[i].d)), bd), dm = _mm_mul_ps(_mm_set1_ps(_cvtsh_ss(a[i].dmin)), bd);
        for (int c = 0; c < 4; c++) {
            const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(a[i].qs + c * 32)));
            const __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(q, shift), m4);
            const __m512i scale = _mm512_permutexvar_epi16(spread[c], sc16);
#define FW_PART(b) _mm512_madd_epi16(_mm512_maddubs_epi16(nib, _mm512_loadu_si512((const void *)((b)[i].qs + c * 64))), scale)
            const __m128i sum = sum4x16(FW_PART(b0), FW_PART(b1), FW_PART(b2), FW_PART(b3));
#undef FW_PART
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sum), d, acc);
            accm = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_castps_si128(mins[c])), dm, accm);
        }
    }
    _mm_storeu_ps(s, _mm_sub_ps(acc, accm));
}

fw_vec_dot_x4_fn fw_q4_K_repack_gemm4_avx512(void) { return dot_q4_K_repack_gemm4; }

// dot_q4_K_repack_gemm4 for two weight rows (A, B) at once: the activation bytes are loaded once
// for both, and the float work runs in 8 lanes (A's four rows, then B's), each lane the same
// sequence of operations as before, so the same bits (DecodeKernelAVX512Tests).
FW_AVX512 static void dot_q4_K_repack_gemm4x2(int64_t n, float *sa, float *sb, const void *wa, const void *wb,
                                             const void *x, size_t xs) {
    const block_q4_K *a[2] = {wa, wb};
    const block_q8_K *bq[4];
    for (int r = 0; r < 4; r++) bq[r] = (const block_q8_K *)((const uint8_t *)x + r * xs);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    __m512i spread[4];
    q4_K_scale_spread(spread);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m512i sc16[2];
        __m128 mins[2][4];
        for (int k = 0; k < 2; k++) {
            uint8_t sm[16];
            fw_q4_K_scales_mins(a[k][i].scales, sm);
            sc16[k] = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sm)));
            const __m128i mn16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sm + 8)));
            __m128 m0 = q4_K_part_mins(mn16, bq[0] + i), m1 = q4_K_part_mins(mn16, bq[1] + i);
            __m128 m2 = q4_K_part_mins(mn16, bq[2] + i), m3 = q4_K_part_mins(mn16, bq[3] + i);
            _MM_TRANSPOSE4_PS(m0, m1, m2, m3);
            mins[k][0] = m0; mins[k][1] = m1; mins[k][2] = m2; mins[k][3] = m3;
        }
        const __m128 bd4 = _mm_set_ps(bq[3][i].d, bq[2][i].d, bq[1][i].d, bq[0][i].d);
        const __m256 bd = _mm256_set_m128(bd4, bd4);
        const __m256 d = _mm256_mul_ps(_mm256_set_m128(_mm_set1_ps(_cvtsh_ss(a[1][i].d)), _mm_set1_ps(_cvtsh_ss(a[0][i].d))), bd);
        const __m256 dm = _mm256_mul_ps(_mm256_set_m128(_mm_set1_ps(_cvtsh_ss(a[1][i].dmin)), _mm_set1_ps(_cvtsh_ss(a[0][i].dmin))), bd);
        for (int c = 0; c < 4; c++) {
            __m512i nib[2], scale[2];
            for (int k = 0; k < 2; k++) {
                const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(a[k][i].qs + c * 32)));
                nib[k] = _mm512_and_si512(_mm512_srlv_epi16(q, shift), m4);
                scale[k] = _mm512_permutexvar_epi16(spread[c], sc16[k]);
            }
            __m512i pa[4], pb[4];
            for (int r = 0; r < 4; r++) {
                const __m512i y = _mm512_loadu_si512((const void *)(bq[r][i].qs + c * 64));
                pa[r] = _mm512_madd_epi16(_mm512_maddubs_epi16(nib[0], y), scale[0]);
                pb[r] = _mm512_madd_epi16(_mm512_maddubs_epi16(nib[1], y), scale[1]);
            }
            const __m256i sum = _mm256_set_m128i(sum4x16(pb[0], pb[1], pb[2], pb[3]), sum4x16(pa[0], pa[1], pa[2], pa[3]));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), d, acc);
            accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_castps_si256(_mm256_set_m128(mins[1][c], mins[0][c]))), dm, accm);
        }
    }
    const __m256 out = _mm256_sub_ps(acc, accm);
    _mm_storeu_ps(sa, _mm256_castps256_ps128(out));
    _mm_storeu_ps(sb, _mm256_extractf128_ps(out, 1));
}

fw_q4_K_gemm4x2_fn fw_q4_K_repack_gemm4x2_avx512(void) { return dot_q4_K_repack_gemm4x2; }

// dot_q6_K_mode_nr (dot_avx2.c) in the tiled order (tiled = 1) for four activation rows: each
// block's exact integer per row, then per row fma(d * (float)S, activation d, acc) in lane r.
FW_AVX512 static void dot_q6_K_tiled4(int64_t n, float *s, const void *w, const void *x, size_t xs) {
    const block_q6_K *a = w;
    const block_q8_K *bq[4];
    for (int r = 0; r < 4; r++) bq[r] = (const block_q8_K *)((const uint8_t *)x + r * xs);
    __m128 acc = _mm_setzero_ps();
    __m512i spread[4];
    q6_K_scale_spread(spread);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        const __m512i sc16 = _mm512_castsi256_si512(scales16);
        __m512i sumi[4];
        for (int r = 0; r < 4; r++) {
            const __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bq[r][i].bsums), scales16), 5);
            sumi[r] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(bias));
        }
        for (int c = 0; c < 2; c++) {
            for (int p = 0; p < 2; p++) {
                const __m512i q = q6_K_chunk_pair(a + i, c, p);
                const __m512i scale = _mm512_permutexvar_epi16(spread[2 * c + p], sc16);
                for (int r = 0; r < 4; r++) {
                    const __m512i y = _mm512_loadu_si512((const void *)(bq[r][i].qs + c * 128 + p * 64));
                    sumi[r] = _mm512_add_epi32(sumi[r], _mm512_madd_epi16(_mm512_maddubs_epi16(q, y), scale));
                }
            }
        }
        const __m128i t = sum4x16(sumi[0], sumi[1], sumi[2], sumi[3]);
        const __m128 bd = _mm_set_ps(bq[3][i].d, bq[2][i].d, bq[1][i].d, bq[0][i].d);
        acc = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(_cvtsh_ss(a[i].d)), _mm_cvtepi32_ps(t)), bd, acc);
    }
    _mm_storeu_ps(s, acc);
}

fw_vec_dot_x4_fn fw_q6_K_tiled4_avx512(void) { return dot_q6_K_tiled4; }

// Q6_K one row as dot_q6_K_mode_nr (dot_avx2.c, vec_dot order) computes it, two 32-weight chunks
// per step: 64 contiguous bytes of ql (chunks sh and sh + 1) with their qh bits shifted per half,
// against 64 contiguous activation bytes. Lane k of each half holds what lane k of the AVX2 sum
// holds for its chunk; the halves are added lane by lane at the end of the block, so every lane's
// integer, and so every float operation after it, is the AVX2 kernel's (Q6KAVX512Tests).
FW_AVX512 static void dot_q6_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    __m256 acc = _mm256_setzero_ps();
    __m512i spread[4];
    q6_K_scale_spread(spread);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales)));
        __m512i sumi = _mm512_setzero_si512();
        for (int c = 0; c < 2; c++) {
            for (int p = 0; p < 2; p++) {
                const __m512i q = q6_K_chunk_pair(a + i, c, p);
                const __m512i y = _mm512_loadu_si512((const void *)(b[i].qs + c * 128 + p * 64));
                const __m512i scale = _mm512_permutexvar_epi16(spread[2 * c + p], sc16);
                sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(q, y), scale));
            }
        }
        const __m256i sum8 = _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1));
        const __m256i scales16 = _mm512_castsi512_si256(sc16);
        const __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b[i].bsums), scales16), 5);
        const __m256 vda = _mm256_cvtph_ps(_mm_set1_epi16((short)a[i].d));
        acc = _mm256_fmadd_ps(_mm256_mul_ps(vda, _mm256_set1_ps(b[i].d)), _mm256_cvtepi32_ps(_mm256_sub_epi32(sum8, bias)), acc);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    *s = _mm_cvtss_f32(h);
}

fw_vec_dot_fn fw_q6_K_matvec_avx512(void) { return dot_q6_K; }

fw_vec_dot_fn fw_vec_dot_avx512(int t) {
    switch (t) {
    case FW_TYPE_F32: return dot_f32;
    case FW_TYPE_F16: return dot_f16;
    case FW_TYPE_Q4_0: return dot_q4_0;
    default: return NULL;
    }
}

#else
fw_vec_dot_fn fw_vec_dot_avx512(int t) { (void)t; return NULL; }
fw_vec_dot_x4_fn fw_q4_K_repack_gemv_avx512(void) { return NULL; }
fw_vec_dot_x4_fn fw_q4_K_repack_gemm4_avx512(void) { return NULL; }
fw_q4_K_gemm4x2_fn fw_q4_K_repack_gemm4x2_avx512(void) { return NULL; }
fw_vec_dot_x4_fn fw_q6_K_tiled4_avx512(void) { return NULL; }
fw_vec_dot_fn fw_q6_K_matvec_avx512(void) { return NULL; }
#endif
