// AArch64 NEON dot products (vmull_s8 + pairwise adds, no dotprod extension needed). Types not
// here use the scalar kernels.
#include "fw_internal.h"

#if defined(__aarch64__)
#include <arm_neon.h>

static inline int32_t dot32_s8(const int8_t *a, const int8_t *b) {
    const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
    const int8x16_t b0 = vld1q_s8(b), b1 = vld1q_s8(b + 16);
    int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
    acc = vpadalq_s16(acc, vmull_s8(vget_high_s8(a0), vget_high_s8(b0)));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
    acc = vpadalq_s16(acc, vmull_s8(vget_high_s8(a1), vget_high_s8(b1)));
    return vaddvq_s32(acc);
}

static void dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++)
        sum += (float)dot32_s8(a[i].qs, b[i].qs) * (fw_h2f(a[i].d) * fw_h2f(b[i].d));
    *s = sum;
}

static void dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0;
    int8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++) {
        const uint8x16_t raw = vld1q_u8(a[i].qs);
        vst1q_s8(q, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F))), vdupq_n_s8(8)));
        vst1q_s8(q + 16, vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8)));
        sum += (float)dot32_s8(q, b[i].qs) * (fw_h2f(a[i].d) * fw_h2f(b[i].d));
    }
    *s = sum;
}

static void dot_f32(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    float32x4_t acc = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) acc = vfmaq_f32(acc, vld1q_f32(a + i), vld1q_f32(b + i));
    float sum = vaddvq_f32(acc);
    for (; i < n; i++) sum += a[i] * b[i];
    *s = sum;
}

fw_vec_dot_fn fw_vec_dot_neon(int t) {
    switch (t) {
    case FW_TYPE_F32: return dot_f32;
    case FW_TYPE_Q4_0: return dot_q4_0;
    case FW_TYPE_Q8_0: return dot_q8_0;
    default: return NULL;
    }
}

#else
fw_vec_dot_fn fw_vec_dot_neon(int t) { (void)t; return NULL; }
#endif
