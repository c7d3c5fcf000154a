// AVX-512 (F/BW/VL + VNNI) dot products. vpdpbusd fuses vpmaddubsw + vpmaddwd + add. Types not
// here fall back to the AVX2 kernels (an AVX-512 CPU runs those too).
// No Q8_0 here: its AVX2 kernels compute the same bits and come with the 4- and 8-row kernels that
// fw_matmul gives up for a type with an AVX-512 one-row kernel.
#include "fw_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define FW_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

FW_AVX512 static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

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
#endif
