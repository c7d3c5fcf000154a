// AVX2 helpers shared by the x86 kernel files (include after <immintrin.h>, x86 only).
#ifndef FW_AVX2_H
#define FW_AVX2_H

#define FW_AVX2 __attribute__((target("avx2,fma,f16c")))


// A block scale in all eight lanes. Converting a broadcast keeps every lane in use: with
// _cvtsh_ss clang inserted the half into the live accumulator register (vpinsrw), a false
// dependency that tripled the per-block latency of the 32-weight kernels.
FW_AVX2 static inline __m256 h2f8(fw_half h) { return _mm256_cvtph_ps(_mm_set1_epi16((short)h)); }

FW_AVX2 static inline float hsum_ps(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// Signed int8 products use |a| * (b with a's sign) to fit vpmaddubsw's unsigned-times-signed form.

// Eight int32 sums of products of 32 unsigned bytes (< 128) with 32 signed bytes.
FW_AVX2 static inline __m256i dot_u8_i8(__m256i a, __m256i b) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles first, then high nibbles.
FW_AVX2 static inline __m256i unpack_nibbles16(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// The same 32 bytes from one 16-byte broadcast, the high half shifted by a per-lane vpsrlvd (three
// instructions, not four; decode's kernels).
FW_AVX2 static inline __m256i nibbles_bcast(const uint8_t *qs) {
    const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    return _mm256_and_si256(_mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0F));
}

// The 32 bits of qh -> 32 bytes, 0xFF where the bit is set.
FW_AVX2 static inline __m256i bits_to_bytes(uint32_t qh) {
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
        _mm256_setr_epi64x(0x0000000000000000LL, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

#endif
