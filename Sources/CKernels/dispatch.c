// Runtime ISA selection from CPUID. Nothing is cached here: callers keep the choice.
#include "fw_internal.h"
#include <stdlib.h>
#include <string.h>

int fw_isa_supported(fw_isa isa) {
    switch (isa) {
    case FW_ISA_SCALAR: return 1;
#if defined(__x86_64__) || defined(__i386__)
    case FW_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case FW_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
#if defined(__aarch64__)
    case FW_ISA_NEON: return 1;
#endif
    default: return 0;
    }
}

fw_isa fw_isa_best(void) {
    if (fw_isa_supported(FW_ISA_AVX512)) return FW_ISA_AVX512;
    if (fw_isa_supported(FW_ISA_AVX2)) return FW_ISA_AVX2;
    if (fw_isa_supported(FW_ISA_NEON)) return FW_ISA_NEON;
    return FW_ISA_SCALAR;
}

const char *fw_isa_name(fw_isa isa) {
    switch (isa) {
    case FW_ISA_SCALAR: return "scalar";
    case FW_ISA_AVX2: return "avx2";
    case FW_ISA_AVX512: return "avx512";
    case FW_ISA_NEON: return "neon";
    default: return "unknown";
    }
}

int fw_isa_select(const char *name, fw_isa *out) {
    if (name == NULL) name = getenv("FEATHER_ISA");
    if (name == NULL || name[0] == '\0') {
        *out = fw_isa_best();
        return FW_OK;
    }
    static const fw_isa all[] = {FW_ISA_SCALAR, FW_ISA_AVX2, FW_ISA_AVX512, FW_ISA_NEON};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, fw_isa_name(all[i])) == 0) {
            if (!fw_isa_supported(all[i])) return FW_ERR_ISA_UNSUPPORTED;
            *out = all[i];
            return FW_OK;
        }
    }
    return FW_ERR_UNKNOWN_ISA;
}

static fw_vec_dot_fn scalar_vec_dot(int t) {
    switch (t) {
    case FW_TYPE_F32: return fw_vec_dot_f32_f32_scalar;
    case FW_TYPE_F16: return fw_vec_dot_f16_f32_scalar;
    case FW_TYPE_BF16: return fw_vec_dot_bf16_f32_scalar;
    case FW_TYPE_Q4_0: return fw_vec_dot_q4_0_q8_0_scalar;
    case FW_TYPE_Q4_1: return fw_vec_dot_q4_1_q8_1_scalar;
    case FW_TYPE_Q5_0: return fw_vec_dot_q5_0_q8_0_scalar;
    case FW_TYPE_Q5_1: return fw_vec_dot_q5_1_q8_1_scalar;
    case FW_TYPE_Q8_0: return fw_vec_dot_q8_0_q8_0_scalar;
    case FW_TYPE_Q2_K: return fw_vec_dot_q2_K_q8_K_scalar;
    case FW_TYPE_Q3_K: return fw_vec_dot_q3_K_q8_K_scalar;
    case FW_TYPE_Q4_K: return fw_vec_dot_q4_K_q8_K_scalar;
    case FW_TYPE_Q5_K: return fw_vec_dot_q5_K_q8_K_scalar;
    case FW_TYPE_Q6_K: return fw_vec_dot_q6_K_q8_K_scalar;
    default: return NULL;
    }
}

// An ISA's table may lack a type: the next-best ISA's kernel, and finally the scalar one, serves.
fw_vec_dot_fn fw_get_vec_dot(fw_isa isa, int weight_type) {
    if (!fw_isa_supported(isa)) return NULL;  // never hand out code this CPU cannot run
    fw_vec_dot_fn f = NULL;
    switch (isa) {
    case FW_ISA_AVX512:
        f = fw_vec_dot_avx512(weight_type);
        if (!f) f = fw_vec_dot_avx2(weight_type);
        break;
    case FW_ISA_AVX2: f = fw_vec_dot_avx2(weight_type); break;
    case FW_ISA_NEON: f = fw_vec_dot_neon(weight_type); break;
    default: break;
    }
    return f ? f : scalar_vec_dot(weight_type);
}

int64_t fw_atomic_load(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void fw_atomic_store(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
int64_t fw_atomic_add(int64_t *p, int64_t delta) { return __atomic_add_fetch(p, delta, __ATOMIC_ACQ_REL); }

void fw_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
