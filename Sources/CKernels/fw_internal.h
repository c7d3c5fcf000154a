// Block layouts and helpers shared by the kernel files. Every struct mirrors ggml-common.h.
#ifndef FEATHERWEIGHT_FW_INTERNAL_H
#define FEATHERWEIGHT_FW_INTERNAL_H

#include "ckernels.h"
#include <string.h>

#define QK 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef uint16_t fw_half;

#if defined(__x86_64__) || defined(__i386__)
#define FW_X86 1
#endif

// Whether a kernel with an AVX2 version runs it for `isa` (AVX-512 runs the AVX2 versions of the
// kernels it has no version of its own for).
static inline int fw_use_avx2(fw_isa isa) {
#ifdef FW_X86
    return (isa == FW_ISA_AVX2 || isa == FW_ISA_AVX512) && fw_isa_supported(FW_ISA_AVX2);
#else
    (void)isa;
    return 0;
#endif
}

// Q4_0: 32 weights, 18 bytes (ggml-common.h block_q4_0). Low nibbles hold weights 0..15.
typedef struct { fw_half d; uint8_t qs[QK / 2]; } block_q4_0;
// Q4_1: 32 weights, 20 bytes (block_q4_1): value = d*q + m.
typedef struct { fw_half d, m; uint8_t qs[QK / 2]; } block_q4_1;
// Q5_0: 32 weights, 22 bytes (block_q5_0): bit j of qh is the fifth bit of weight j.
typedef struct { fw_half d; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_0;
// Q5_1: 32 weights, 24 bytes (block_q5_1).
typedef struct { fw_half d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_1;
// Q8_0: 32 weights, 34 bytes (block_q8_0).
typedef struct { fw_half d; int8_t qs[QK]; } block_q8_0;
// Q8_1: 32 weights, 36 bytes (block_q8_1): s = d * sum(qs).
typedef struct { fw_half d, s; int8_t qs[QK]; } block_q8_1;
// Q2_K: 256 weights, 84 bytes (block_q2_K): 16 scale bytes (low nibble scale, high nibble min).
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; fw_half d, dmin; } block_q2_K;
// Q3_K: 256 weights, 110 bytes (block_q3_K): 16 six-bit scales packed in 12 bytes.
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; fw_half d; } block_q3_K;
// Q4_K: 256 weights, 144 bytes (block_q4_K): 8 six-bit scales and mins packed in 12 bytes.
typedef struct { fw_half d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
// Q5_K: 256 weights, 176 bytes (block_q5_K).
typedef struct { fw_half d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
// Q6_K: 256 weights, 210 bytes (block_q6_K).
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; fw_half d; } block_q6_K;
// Q8_K: 256 weights, 292 bytes (block_q8_K): f32 d, bsums = sums of 16 consecutive quants.
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0");
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1");
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K");
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K");

// Exact fp16 -> fp32, subnormals included.
static inline float fw_h2f(fw_half h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1F;
    const uint32_t man = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        // Subnormal or zero: man * 2^-24 is exact in f32.
        float f = (float)man * 5.9604644775390625e-08f;
        memcpy(&bits, &f, 4);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

// fp32 -> fp16, round to nearest even; overflow gives inf, NaN stays NaN (quiet).
static inline fw_half fw_f2h(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000;
    const uint32_t ax = x & 0x7FFFFFFF;
    if (ax > 0x7F800000u) return (fw_half)(sign | 0x7E00 | ((ax >> 13) & 0x3FF));
    if (ax >= 0x477FF000u) return (fw_half)(sign | 0x7C00);  // rounds to >= 65520: inf
    if (ax < 0x38800000u) {
        // Result is subnormal (or zero): value / 2^-24, rounded to nearest even.
        if (ax < 0x33000000u) return (fw_half)sign;  // below half the smallest subnormal
        const uint32_t e = ax >> 23;
        const uint32_t m = (ax & 0x7FFFFF) | 0x800000;
        const uint32_t shift = 126 - e;  // m * 2^(e-150) / 2^-24 = m >> (126 - e)
        uint32_t q = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (fw_half)(sign | q);
    }
    // Normal: rebias and round the 13 dropped mantissa bits to nearest even.
    uint32_t h = ((ax >> 13) - (112u << 10));
    const uint32_t rem = ax & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (fw_half)(sign | h);
}

static inline float fw_bf2f(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

// Q4_K/Q5_K six-bit scale and min j of 8 (ggml-quants.c get_scale_min_k4).
static inline void fw_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// All eight Q4_K/Q5_K scales and mins at once (fw_scale_min_k4 for j = 0..7): sm[j] = scale j,
// sm[8 + j] = min j, unpacked with 32-bit masks as llama.cpp's x86 kernels do.
static inline void fw_q4_K_scales_mins(const uint8_t *q, uint8_t sm[16]) {
    uint32_t u[4];
    memcpy(u, q, 12);
    const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
    u[3] = ((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4);
    const uint32_t mins_lo = u[1] & k1;
    u[1] = (u[2] & k2) | (((u[0] >> 6) & k3) << 4);
    u[2] = mins_lo;
    u[0] &= k1;
    memcpy(sm, u, 16);
}

// Q3_K scale j of 16, as a signed value in [-32, 31].
static inline int fw_q3k_scale(const uint8_t *s, int j) {
    const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    const int hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    return (lo | (hi << 4)) - 32;
}

// Kernel tables per ISA; NULL entries fall back to scalar.
void fw_vec_dot_f32_f32_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_f16_f32_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_bf16_f32_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q4_0_q8_0_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q4_1_q8_1_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q5_0_q8_0_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q5_1_q8_1_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q8_0_q8_0_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q2_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q3_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q4_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q5_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x);
void fw_vec_dot_q6_K_q8_K_scalar(int64_t n, float *s, const void *w, const void *x);

fw_vec_dot_fn fw_vec_dot_avx2(int weight_type);
// s[r] = dot(w, activation row at x + r * x_stride) for r < 4; bit-identical to four vec_dot calls.
typedef void (*fw_vec_dot_x4_fn)(int64_t n, float *s, const void *w, const void *x, size_t x_stride);
fw_vec_dot_x4_fn fw_vec_dot_x4_avx2(int weight_type);
fw_vec_dot_fn fw_vec_dot_avx512(int weight_type);
// s[j] = dot(w, activation row at x + j * x_stride) for j < 8 * groups, bit-identical to vec_dot
// calls (matmul_avx2.c). scales: per group of eight rows, nb * 16 floats: the rows' block scales as
// f32, [block][8], then (Q8_1) their sums likewise.
typedef void (*fw_gemm_1x8_fn)(int64_t n, float *s, const void *w, const void *x, size_t x_stride,
                               const float *scales, int64_t groups);
fw_gemm_1x8_fn fw_gemm_1x8_avx2(int weight_type);
// One weight row against one activation row for the same types, the activation's block scales
// given as f32 (xd[block], and xsum[block] = s for Q8_1): decode's kernel. Bit-identical to the
// vec_dot kernel (the same operations; the scales' conversions leave the loop).
typedef void (*fw_gemv_fn)(int64_t n, float *s, const void *w, const void *x, const float *xd, const float *xsum);
fw_gemv_fn fw_gemv_avx2(int weight_type);
// Decode's kernel for the offset types (Q4_0: q - 8, Q5_0: q - 16) with the weights kept unsigned:
// the int32 sums are sum(q * x) - offset * sum(x), exactly the signed kernel's, for two fewer
// instructions a block. xc: per block, 8 int32 lanes of offset * (sum of 4 activation bytes), from
// fw_act_lane_sums_avx2. Bit-identical to fw_gemv_avx2's kernel.
typedef void (*fw_gemv_offset_fn)(int64_t n, float *s, const void *w, const void *x, const float *xd, const int32_t *xc);
fw_gemv_offset_fn fw_gemv_offset_avx2(int weight_type);
// xc[i * 8 + k] = offset * (sum of bytes 4k..4k+3 of Q8_0 block i's qs) for nb blocks; offset from
// the weight type (8 for Q4_0, 16 for Q5_0). xc must be 32-byte aligned.
void fw_act_lane_sums_avx2(int weight_type, const void *x, int64_t nb, int32_t *xc);
// Decode's kernels for four consecutive rows (row_bytes apart): s[0..3], each bit-identical to the
// one-row kernel's result. aux: Q4_1: the activation's (d, s) pairs as f32; Q4_0 / Q5_0: the lane
// sums xc (rows of at most 256 blocks). pf (or NULL): pf_bytes to prefetch, a few lines per block.
// Q4_0, Q4_1 and Q5_0 only (NULL for others).
typedef void (*fw_gemv4_fn)(int64_t n, float *s, const void *w, size_t row_bytes, const void *x, const float *xd,
                            const void *aux, const uint8_t *pf, size_t pf_bytes);
fw_gemv4_fn fw_gemv4_avx2(int weight_type);
// llama.cpp's repacked Q4_K (see dot_avx2.c): per64 = 1 with rows = 4 (gemm), per64 = 0 with rows = 1 (gemv).
fw_vec_dot_x4_fn fw_q4_K_repack_avx2(int rows, int per64);
fw_vec_dot_x4_fn fw_q4_K_repack_gemv_avx512(void);  // the one-row (gemv) order only
fw_vec_dot_x4_fn fw_q4_K_repack_gemm4_avx512(void); // four rows in the gemm order
// Two weight rows (wa, wb) against four activation rows in the gemm order: sa[0..3], sb[0..3].
typedef void (*fw_q4_K_gemm4x2_fn)(int64_t n, float *sa, float *sb, const void *wa, const void *wb, const void *x, size_t x_stride);
fw_q4_K_gemm4x2_fn fw_q4_K_repack_gemm4x2_avx512(void);
fw_vec_dot_x4_fn fw_q6_K_tiled4_avx512(void);       // four rows in the tiled order
// Q6_K's AVX2 vec_dot bits, faster; for matvec only (batches keep the AVX2 four-row kernels).
fw_vec_dot_fn fw_q6_K_matvec_avx512(void);
// llama.cpp's tiled Q6_K matmul order (see dot_avx2.c): rows = 4 or 1.
fw_vec_dot_x4_fn fw_q6_K_tiled_avx2(int rows);
void fw_q4_K_repack_scalar(int64_t n, float *s, const void *w, const void *x, int per64);
fw_vec_dot_fn fw_vec_dot_neon(int weight_type);

void fw_quantize_q8_0_scalar(const float *x, void *dst, int64_t n);
void fw_quantize_q8_1_scalar(const float *x, void *dst, int64_t n);
void fw_quantize_q8_K_scalar(const float *x, void *dst, int64_t n);
void fw_quantize_q8_0_avx2(const float *x, void *dst, int64_t n);
void fw_quantize_q8_1_avx2(const float *x, void *dst, int64_t n);
void fw_quantize_q8_K_avx2(const float *x, void *dst, int64_t n);

// Attention (attention.c: scalar; attention_avx2.c: AVX2).
void fw_lane_hsum_scalar(const float *acc, int64_t stride, float *out, int64_t n);
void fw_lane_hsum32_scalar(const float *acc, int64_t stride, float *out, int64_t n);
float fw_dot_f16_lanes_avx2(const uint16_t *a, const uint16_t *b, int64_t n);
float fw_dot_f16_ggml_avx2(const uint16_t *a, const uint16_t *b, int64_t n);
void fw_lane_fma_f16_avx2(float *acc, const uint16_t *v, float p, int64_t n);
void fw_lane_hsum_avx2(const float *acc, int64_t stride, float *out, int64_t n);
void fw_lane_hsum32_avx2(const float *acc, int64_t stride, float *out, int64_t n);
void fw_attention_single_avx2(fw_isa isa, const float *q, int64_t hd, int64_t vd, const uint16_t *k, const uint16_t *v,
                              int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first, int64_t count,
                              float scale, float *scores, uint16_t *q16, float *lanes, float *out);
void fw_attention_rows_avx2(const float *q, int64_t G, int64_t hd, int64_t vd, const uint16_t *k, const uint16_t *v,
                            int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first, int64_t count,
                            float scale, float *scores, float *qf, float *out);
void fw_attention_decode_scores_avx2(const float *q, int64_t G, int64_t hd, const uint16_t *k, int64_t k_stride,
                                     int64_t slots, int64_t first, int64_t j0, int64_t j1, float scale, float *scores,
                                     int64_t s_stride);
void fw_attention_decode_values_avx2(const float *prob, int64_t G, int64_t p_stride, const uint16_t *v,
                                     int64_t v_stride, int64_t slots, int64_t first, int64_t count, int64_t d0,
                                     int64_t d1, float *out, int64_t o_stride);
void fw_round_f16_avx2(float *x, int64_t n);
// ggml's softmax order (fw_softmax_llamacpp on AVX2) in scalar code.
void fw_softmax_ggml_scalar(float *x, int64_t n, int64_t first);

#endif
