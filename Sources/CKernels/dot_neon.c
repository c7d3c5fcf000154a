// AArch64 NEON dot products with base ARMv8 instructions only (vmull_s8 + pairwise adds; no
// dotprod extension needed). Integer sums per block are exact; scales are applied in f32 as in
// the scalar twins. Checked under qemu-aarch64 by scripts/check-neon.sh.
#include "fw_internal.h"

#if defined(__aarch64__)
#include <arm_neon.h>

// Sum of 16 products of signed bytes (each |product| < 2^14, so int16 lanes cannot overflow).
static inline int32_t dot16(int8x16_t a, int8x16_t b) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    const int16x8_t p1 = vmull_s8(vget_high_s8(a), vget_high_s8(b));
    return vaddvq_s32(vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1)));
}

static inline int32_t dot32(int8x16_t a0, int8x16_t a1, const int8_t *y) {
    return dot16(a0, vld1q_s8(y)) + dot16(a1, vld1q_s8(y + 16));
}

// Bits 0..15 of `bits` as 16 bytes, 0xFF where set.
static inline uint8x16_t bits16(uint32_t bits) {
    static const uint8_t m[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t b = vcombine_u8(vdup_n_u8((uint8_t)(bits & 0xFF)), vdup_n_u8((uint8_t)((bits >> 8) & 0xFF)));
    return vtstq_u8(b, vld1q_u8(m));
}

static void dot_f32(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) sum += a[i] * b[i];
    *s = sum;
}

static void dot_f16(int64_t n, float *s, const void *w, const void *x) {
    const fw_half *a = w;
    const float *b = x;
    float32x4_t acc = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t wf = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(a + i)));
        acc = vfmaq_f32(acc, wf, vld1q_f32(b + i));
    }
    float sum = vaddvq_f32(acc);
    for (; i < n; i++) sum += fw_h2f(a[i]) * b[i];
    *s = sum;
}

static void dot_bf16(int64_t n, float *s, const void *w, const void *x) {
    const uint16_t *a = w;
    const float *b = x;
    float32x4_t acc = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t wf = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(a + i), 16));
        acc = vfmaq_f32(acc, wf, vld1q_f32(b + i));
    }
    float sum = vaddvq_f32(acc);
    for (; i < n; i++) sum += fw_bf2f(a[i]) * b[i];
    *s = sum;
}

static void dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        const int32_t sumi = dot32(vld1q_s8(a[i].qs), vld1q_s8(a[i].qs + 16), b[i].qs);
        sum += (float)sumi * (fw_h2f(a[i].d) * fw_h2f(b[i].d));
    }
    *s = sum;
}

static void dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        const uint8x16_t raw = vld1q_u8(a[i].qs);
        const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F))), vdupq_n_s8(8));
        const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8));
        sum += (float)dot32(lo, hi, b[i].qs) * (fw_h2f(a[i].d) * fw_h2f(b[i].d));
    }
    *s = sum;
}

static void dot_q4_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        const uint8x16_t raw = vld1q_u8(a[i].qs);
        const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F)));
        const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
        const int32_t sumi = dot32(lo, hi, b[i].qs);
        sum += (fw_h2f(a[i].d) * fw_h2f(b[i].d)) * (float)sumi + fw_h2f(a[i].m) * fw_h2f(b[i].s);
    }
    *s = sum;
}

// Q5_0/Q5_1 weights 0..31 as bytes: nibbles plus bit j of qh as bit 4.
static inline void q5_unpack(const uint8_t *qs, const uint8_t *qhp, uint8x16_t *lo, uint8x16_t *hi) {
    uint32_t qh;
    memcpy(&qh, qhp, 4);
    const uint8x16_t raw = vld1q_u8(qs);
    *lo = vorrq_u8(vandq_u8(raw, vdupq_n_u8(0x0F)), vandq_u8(bits16(qh), vdupq_n_u8(0x10)));
    *hi = vorrq_u8(vshrq_n_u8(raw, 4), vandq_u8(bits16(qh >> 16), vdupq_n_u8(0x10)));
}

static void dot_q5_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        uint8x16_t lo, hi;
        q5_unpack(a[i].qs, a[i].qh, &lo, &hi);
        const int8x16_t l = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(16));
        const int8x16_t h = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(16));
        sum += (float)dot32(l, h, b[i].qs) * (fw_h2f(a[i].d) * fw_h2f(b[i].d));
    }
    *s = sum;
}

static void dot_q5_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        uint8x16_t lo, hi;
        q5_unpack(a[i].qs, a[i].qh, &lo, &hi);
        const int32_t sumi = dot32(vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi), b[i].qs);
        sum += (fw_h2f(a[i].d) * fw_h2f(b[i].d)) * (float)sumi + fw_h2f(a[i].m) * fw_h2f(b[i].s);
    }
    *s = sum;
}

static void dot_q2_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int summs = 0;
        for (int g = 0; g < 16; g++) summs += (a[i].scales[g] >> 4) * b[i].bsums[g];
        int isum = 0;
        for (int c = 0; c < 2; c++) {
            const uint8x16_t q0 = vld1q_u8(a[i].qs + c * 32), q1 = vld1q_u8(a[i].qs + c * 32 + 16);
            for (int sh = 0; sh < 4; sh++) {
                const int8x16_t v0 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, vdupq_n_s8((int8_t)(-2 * sh))), vdupq_n_u8(3)));
                const int8x16_t v1 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, vdupq_n_s8((int8_t)(-2 * sh))), vdupq_n_u8(3)));
                const int8_t *y = b[i].qs + c * 128 + sh * 32;
                const int g = c * 8 + sh * 2;
                isum += (a[i].scales[g] & 0xF) * dot16(v0, vld1q_s8(y)) + (a[i].scales[g + 1] & 0xF) * dot16(v1, vld1q_s8(y + 16));
            }
        }
        const float dall = b[i].d * fw_h2f(a[i].d);
        const float dmin = b[i].d * fw_h2f(a[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

static void dot_q3_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8x16_t hm0 = vld1q_u8(a[i].hmask), hm1 = vld1q_u8(a[i].hmask + 16);
        int isum = 0;
        for (int c = 0; c < 2; c++) {
            const uint8x16_t q0 = vld1q_u8(a[i].qs + c * 32), q1 = vld1q_u8(a[i].qs + c * 32 + 16);
            for (int sh = 0; sh < 4; sh++) {
                const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << (c * 4 + sh)));
                const int8x16_t shift = vdupq_n_s8((int8_t)(-2 * sh));
                // Value = low 2 bits - 4, plus 4 where the hmask bit is set.
                const uint8x16_t u0 = vorrq_u8(vandq_u8(vshlq_u8(q0, shift), vdupq_n_u8(3)), vandq_u8(vtstq_u8(hm0, bit), vdupq_n_u8(4)));
                const uint8x16_t u1 = vorrq_u8(vandq_u8(vshlq_u8(q1, shift), vdupq_n_u8(3)), vandq_u8(vtstq_u8(hm1, bit), vdupq_n_u8(4)));
                const int8x16_t v0 = vsubq_s8(vreinterpretq_s8_u8(u0), vdupq_n_s8(4));
                const int8x16_t v1 = vsubq_s8(vreinterpretq_s8_u8(u1), vdupq_n_s8(4));
                const int8_t *y = b[i].qs + c * 128 + sh * 32;
                const int g = c * 8 + sh * 2;
                isum += fw_q3k_scale(a[i].scales, g) * dot16(v0, vld1q_s8(y)) +
                        fw_q3k_scale(a[i].scales, g + 1) * dot16(v1, vld1q_s8(y + 16));
            }
        }
        sum += (fw_h2f(a[i].d) * b[i].d) * (float)isum;
    }
    *s = sum;
}

static void dot_q4_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) fw_scale_min_k4(j, a[i].scales, &sc[j], &mn[j]);
        int summs = 0;
        for (int j = 0; j < 8; j++) summs += mn[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        int isum = 0;
        for (int c = 0; c < 4; c++) {
            const uint8x16_t r0 = vld1q_u8(a[i].qs + c * 32), r1 = vld1q_u8(a[i].qs + c * 32 + 16);
            const int8x16_t l0 = vreinterpretq_s8_u8(vandq_u8(r0, vdupq_n_u8(0x0F)));
            const int8x16_t l1 = vreinterpretq_s8_u8(vandq_u8(r1, vdupq_n_u8(0x0F)));
            const int8x16_t h0 = vreinterpretq_s8_u8(vshrq_n_u8(r0, 4));
            const int8x16_t h1 = vreinterpretq_s8_u8(vshrq_n_u8(r1, 4));
            isum += sc[2 * c] * dot32(l0, l1, b[i].qs + c * 64) + sc[2 * c + 1] * dot32(h0, h1, b[i].qs + c * 64 + 32);
        }
        const float d = b[i].d * fw_h2f(a[i].d);
        const float dmin = b[i].d * fw_h2f(a[i].dmin);
        sum += d * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

static void dot_q5_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) fw_scale_min_k4(j, a[i].scales, &sc[j], &mn[j]);
        int summs = 0;
        for (int j = 0; j < 8; j++) summs += mn[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        const uint8x16_t qh0 = vld1q_u8(a[i].qh), qh1 = vld1q_u8(a[i].qh + 16);
        int isum = 0;
        for (int c = 0; c < 4; c++) {
            const uint8x16_t r0 = vld1q_u8(a[i].qs + c * 32), r1 = vld1q_u8(a[i].qs + c * 32 + 16);
            // Fifth bit of sub-block j is bit j of qh[l].
            const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * c))), bh = vdupq_n_u8((uint8_t)(1u << (2 * c + 1)));
            const uint8x16_t b16 = vdupq_n_u8(0x10);
            const int8x16_t l0 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(r0, vdupq_n_u8(0x0F)), vandq_u8(vtstq_u8(qh0, bl), b16)));
            const int8x16_t l1 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(r1, vdupq_n_u8(0x0F)), vandq_u8(vtstq_u8(qh1, bl), b16)));
            const int8x16_t h0 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(r0, 4), vandq_u8(vtstq_u8(qh0, bh), b16)));
            const int8x16_t h1 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(r1, 4), vandq_u8(vtstq_u8(qh1, bh), b16)));
            isum += sc[2 * c] * dot32(l0, l1, b[i].qs + c * 64) + sc[2 * c + 1] * dot32(h0, h1, b[i].qs + c * 64 + 32);
        }
        const float d = b[i].d * fw_h2f(a[i].d);
        const float dmin = b[i].d * fw_h2f(a[i].dmin);
        sum += d * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

static void dot_q6_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int isum = 0;
        for (int c = 0; c < 2; c++) {
            for (int sh = 0; sh < 4; sh++) {
                const uint8_t *ql = a[i].ql + c * 64 + (sh & 1) * 32;
                const uint8_t *qh = a[i].qh + c * 32;
                const int8x16_t shift_h = vdupq_n_s8((int8_t)(-2 * sh));
                uint8x16_t lo0 = vld1q_u8(ql), lo1 = vld1q_u8(ql + 16);
                if (sh >> 1) { lo0 = vshrq_n_u8(lo0, 4); lo1 = vshrq_n_u8(lo1, 4); }
                lo0 = vandq_u8(lo0, vdupq_n_u8(0x0F));
                lo1 = vandq_u8(lo1, vdupq_n_u8(0x0F));
                const uint8x16_t hi0 = vandq_u8(vshlq_u8(vld1q_u8(qh), shift_h), vdupq_n_u8(3));
                const uint8x16_t hi1 = vandq_u8(vshlq_u8(vld1q_u8(qh + 16), shift_h), vdupq_n_u8(3));
                const int8x16_t v0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo0, vshlq_n_u8(hi0, 4))), vdupq_n_s8(32));
                const int8x16_t v1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo1, vshlq_n_u8(hi1, 4))), vdupq_n_s8(32));
                const int8_t *y = b[i].qs + c * 128 + sh * 32;
                const int g = c * 8 + sh * 2;
                isum += a[i].scales[g] * dot16(v0, vld1q_s8(y)) + a[i].scales[g + 1] * dot16(v1, vld1q_s8(y + 16));
            }
        }
        sum += (fw_h2f(a[i].d) * b[i].d) * (float)isum;
    }
    *s = sum;
}

fw_vec_dot_fn fw_vec_dot_neon(int t) {
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

#else
fw_vec_dot_fn fw_vec_dot_neon(int t) { (void)t; return NULL; }
#endif
