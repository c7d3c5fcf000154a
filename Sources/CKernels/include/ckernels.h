// CKernels: dequantization, activation quantization, quantized dot products, matrix-vector and
// matrix-matrix tiles, and float ops, with a scalar twin for every SIMD kernel and runtime ISA
// dispatch. No global mutable state: callers pick an ISA once (fw_isa_select) and pass it along.
#ifndef FEATHERWEIGHT_CKERNELS_H
#define FEATHERWEIGHT_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Tensor types by ggml id (ggml.h enum ggml_type).
enum {
    FW_TYPE_F32 = 0, FW_TYPE_F16 = 1, FW_TYPE_Q4_0 = 2, FW_TYPE_Q4_1 = 3,
    FW_TYPE_Q5_0 = 6, FW_TYPE_Q5_1 = 7, FW_TYPE_Q8_0 = 8, FW_TYPE_Q8_1 = 9,
    FW_TYPE_Q2_K = 10, FW_TYPE_Q3_K = 11, FW_TYPE_Q4_K = 12, FW_TYPE_Q5_K = 13,
    FW_TYPE_Q6_K = 14, FW_TYPE_Q8_K = 15, FW_TYPE_BF16 = 30,
};

// Instruction sets a kernel can be built for.
typedef enum {
    FW_ISA_SCALAR = 0,
    FW_ISA_AVX2 = 1,    // AVX2 + FMA + F16C
    FW_ISA_AVX512 = 2,  // AVX-512 F/BW/VL + VNNI
    FW_ISA_NEON = 3,    // AArch64 Advanced SIMD (+ dotprod where present)
} fw_isa;

enum {
    FW_OK = 0,
    FW_ERR_UNKNOWN_ISA = -1,      // FEATHER_ISA names no ISA
    FW_ERR_ISA_UNSUPPORTED = -2,  // the CPU lacks the ISA that was asked for
    FW_ERR_TYPE = -3,             // a type this library cannot compute with
    FW_ERR_SHAPE = -4,            // a length that is not a whole number of blocks
};

// --- ISA selection -------------------------------------------------------------------------
// 1 when this CPU can run kernels built for `isa` (CPUID on x86-64).
int fw_isa_supported(fw_isa isa);
// The best ISA this CPU supports.
fw_isa fw_isa_best(void);
// Chooses the ISA: `name` ("scalar", "avx2", "avx512", "neon"), or when name is NULL the
// environment variable FEATHER_ISA, or when that is unset or empty the best one.
// Returns FW_OK, FW_ERR_UNKNOWN_ISA or FW_ERR_ISA_UNSUPPORTED (out is then left unchanged).
int fw_isa_select(const char *name, fw_isa *out);
const char *fw_isa_name(fw_isa isa);

// --- Types ---------------------------------------------------------------------------------
// Weights per block and bytes per block; 0 for a type this library does not handle.
int64_t fw_type_block_weights(int type);
int64_t fw_type_block_bytes(int type);
// Bytes of a row of n values (n a multiple of the block size), or 0 when it is not.
size_t fw_row_size(int type, int64_t n);
// The activation type a weight type's dot product takes: Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for
// Q4_1/Q5_1, Q8_K for Q2_K..Q6_K, F32 for F32/F16/BF16; -1 for anything else.
int fw_vec_dot_type(int weight_type);

// --- Dequantization (bit-exact with gguf.quants.dequantize) --------------------------------
// n must be a multiple of the type's block size; unsupported types leave dst untouched.
void fw_dequantize_row(int type, const void *src, float *dst, int64_t n);

// --- Activation quantization (bit-exact with ggml quantize_row_q8_{0,1,K}_ref) -------------
// type is FW_TYPE_Q8_0, FW_TYPE_Q8_1, FW_TYPE_Q8_K or FW_TYPE_F32 (a plain copy).
int fw_quantize_row(fw_isa isa, int type, const float *x, void *dst, int64_t n);
// As llama.cpp's CPU backend quantizes activations at run time on this ISA: on x86 AVX2/AVX-512,
// Q8_0 and Q8_1 with id = 127/amax and round-half-even (ggml-cpu/arch/x86/quants.c); otherwise
// the reference. Used by the forward pass so its numbers match llama.cpp's.
int fw_quantize_row_llamacpp(fw_isa isa, int type, const float *x, void *dst, int64_t n);
// As llama.cpp's x86 repacked gemm quantizes its groups of four activation rows (Q8_K: products
// rounded to float before rounding to integers); for other ISAs and types as above.
int fw_quantize_row_llamacpp_gemm(fw_isa isa, int type, const float *x, void *dst, int64_t n);

// --- Dot products ---------------------------------------------------------------------------
// *s = dot(weight row w of type weight_type, activation row x of type fw_vec_dot_type(weight_type)).
typedef void (*fw_vec_dot_fn)(int64_t n, float *s, const void *w, const void *x);
// The kernel for (isa, weight type), or NULL when there is none or the CPU lacks the ISA.
fw_vec_dot_fn fw_get_vec_dot(fw_isa isa, int weight_type);

// --- Matrix products over a row range ------------------------------------------------------
// Which kernels, in which summation order, a matrix product runs; each expects its activations
// quantized as named.
typedef enum {
    // Activations by fw_quantize_row. One row: the matvec kernels; more: tiles of 16 weight rows
    // that stay in cache while every activation row passes over them.
    FW_SUM_REFERENCE = 0,
    // llama.cpp's x86 CPU backend (AVX2 and up) for a batch of nx rows; activations by
    // fw_quantize_row_llamacpp, or fw_quantize_row_llamacpp_gemm for rows j < nx - nx % 4 of a
    // matrix that fw_llamacpp_repacks. It repacks Q4_K (gemm order for whole groups of four rows,
    // gemv for the rest), sums Q6_K in batches of 8 rows and more as its tiled K-quant matmul (one
    // FMA per 256-weight block), and otherwise uses its vec_dot: a row's result can depend on nx.
    FW_SUM_LLAMACPP_BATCH = 1,
    // Every activation row as llama.cpp computes a batch of one (activations by
    // fw_quantize_row_llamacpp): a row's result does not depend on the rows beside it, as batched
    // decode of independent sequences needs.
    FW_SUM_LLAMACPP_ROWS_ALONE = 2,
    // llama.cpp's repacked Q4_K order on any ISA (the scalar twin where there is no AVX2).
    FW_SUM_LLAMACPP_REPACKED = 3,
} fw_sum_order;

typedef struct {
    fw_isa isa;
    int weight_type;
    fw_sum_order order;
    // Weight rows of the whole matrix (llama.cpp picks its order by them).
    int64_t rows;
    // One activation row: rows past r1 up to here (at most `rows`) are prefetched, the rows this
    // thread takes next, so that a range split in chunks streams as one. 0: none.
    int64_t prefetch_end;
} fw_matmul_plan;

// Y[j * y_stride + r] = dot(W row r, X row j) for r in [r0, r1), j in [0, nx). W rows are
// `row_bytes` apart; X rows are activations quantized to fw_vec_dot_type(weight_type), `x_bytes` apart.
int fw_matmul(const fw_matmul_plan *plan, const void *w, size_t row_bytes, int64_t cols, const void *xq,
              size_t x_bytes, int64_t nx, float *y, int64_t y_stride, int64_t r0, int64_t r1);
// Whether llama.cpp's x86 CPU backend repacks this matrix at load time (CPU_REPACK: Q4_K with a
// multiple of 8 rows, as q4_K_8x8_q8_K), and so sums it in the repacked order.
int fw_llamacpp_repacks(fw_isa isa, int weight_type, int64_t rows);

// --- Float ops (scalar twin + AVX2) ---------------------------------------------------------
// In place: x = exp(x - max) / sum.
void fw_softmax(fw_isa isa, float *x, int64_t n);
void fw_add(fw_isa isa, const float *a, const float *b, float *y, int64_t n);
// y[i] += a * x[i], x of type FW_TYPE_F32 or FW_TYPE_F16; returns FW_ERR_TYPE for others.
int fw_axpy(fw_isa isa, float a, int x_type, const void *x, float *y, int64_t n);
// x[i] *= a.
void fw_scale(fw_isa isa, float *x, float a, int64_t n);
// f32 -> f16 with round to nearest even (same bits on every ISA).
void fw_f32_to_f16_row(fw_isa isa, const float *x, uint16_t *y, int64_t n);
// gate[i] = GELU(gate[i]) * up[i] with GELU from a 65536-entry fp16 table indexed by fp16(gate[i]);
// 0 at or below -10, the input at or above 10 (ggml's GELU_FP16 path). AVX2 converts with F16C,
// 8 at a time (the same roundings: bit-identical to the scalar twin).
void fw_geglu_f16_table(fw_isa isa, float *gate, const float *up, const uint16_t *table, int64_t n);
// Softmax of scores for positions first..first+n-1 as llama.cpp sums it on this ISA (on AVX2:
// ggml_v_expf, groups of 8 aligned on the position, sum in double); elsewhere fw_softmax.
void fw_softmax_llamacpp(fw_isa isa, float *x, int64_t n, int64_t first);
// x = silu(x) * g as llama.cpp's swiglu computes it on this ISA.
void fw_swiglu_llamacpp(fw_isa isa, float *x, const float *g, int64_t n);

// --- Norm and RoPE (llama.cpp's CPU order; scalar only) -------------------------------------
// Rotates `heads` heads of head_dim values each (x is heads*head_dim, in place) at `position`.
// Only the first rot_dims values of each head rotate (rot_dims <= head_dim, even).
// theta_i = (position / freq_scale_factor) * base^(-2i/rot_dims), angles by repeated
// multiplication, pairs with FMA. neox = 0: pairs (x[2i], x[2i+1]) (ggml ROPE_TYPE_NORM);
// neox = 1: pairs (x[i], x[i+rot_dims/2]).
void fw_rope_llamacpp(float *x, int64_t heads, int64_t head_dim, int64_t rot_dims, int64_t position,
                      float base, float freq_scale_factor, int neox);
// y = x / sqrt(mean(x^2) + eps) * w as llama.cpp's CPU backend computes it (double sum in order,
// then (x*scale)*w); y may equal x.
void fw_rms_norm_llamacpp(const float *x, const float *w, float *y, int64_t n, float eps);

// --- Attention over an F16 KV cache, in llama.cpp's order (attention.c) ---------------------
// Multi-row sums follow tinyBLAS: 8 FMA lanes by index mod 8, then a fixed hsum.
// dot of two fp16 rows (n a multiple of 8 or not; a partial last group leaves lanes alone).
float fw_dot_f16_lanes(fw_isa isa, const uint16_t *a, const uint16_t *b, int64_t n);
// ggml_vec_dot_f16's order (32 lanes: 4 accumulators of 8, then GGML_F32x8_REDUCE), which
// llama.cpp uses for a single query row.
float fw_dot_f16_ggml(fw_isa isa, const uint16_t *a, const uint16_t *b, int64_t n);
// acc[d] = fma(v[d], p, acc[d]): one lane's accumulator row for a weighted sum of value rows.
void fw_lane_fma_f16(fw_isa isa, float *acc, const uint16_t *v, float p, int64_t n);
// out[d] = hsum of the 8 lane rows acc[l * stride + d].
void fw_lane_hsum(fw_isa isa, const float *acc, int64_t stride, float *out, int64_t n);
// out[d] = fw_dot_f16_ggml's reduction of the 32 lane rows acc[l * stride + d].
void fw_lane_hsum32(fw_isa isa, const float *acc, int64_t stride, float *out, int64_t n);
// One decode row's attention for one query head (q: hd f32) over an F16 cache in llama.cpp's
// single-row order, bit-identical to fw_dot_f16_ggml / fw_softmax_llamacpp / fw_lane_fma_f16 with
// 32 lanes / fw_lane_hsum32. Scratch: scores count floats, q16 hd halves, lanes 32 * vd floats.
// Returns FW_ERR_SHAPE, having done nothing, when count < 1.
int fw_attention_f16_single(fw_isa isa, const float *q, int64_t hd, int64_t vd, const uint16_t *k, const uint16_t *v,
                            int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first, int64_t count,
                            float scale, float *scores, uint16_t *q16, float *lanes, float *out);
// Attention of one prompt row's G query heads that share one KV head (q: G x hd f32; out: G x vd)
// over an F16 cache (slot s of the head at k + s * k_stride, v + s * v_stride; positions first ..<
// first + count, slot = position % slots), in llama.cpp's multi-row order (its AVX2 softmax on
// every ISA), bit-identical to fw_dot_f16_lanes / fw_softmax_llamacpp / fw_lane_fma_f16 /
// fw_lane_hsum per head. Scratch: scores G * count floats, qf G * hd floats. Returns FW_ERR_SHAPE,
// having done nothing, when hd or vd is not a multiple of 8.
int fw_attention_f16_rows(fw_isa isa, const float *q, int64_t G, int64_t hd, int64_t vd, const uint16_t *k,
                          const uint16_t *v, int64_t k_stride, int64_t v_stride, int64_t slots, int64_t first,
                          int64_t count, float scale, float *scores, float *qf, float *out);
// One decode row's attention in llama.cpp's single-row order (bit-identical to
// fw_attention_f16_single per head), in three phases that a thread pool can split: scores of the G
// query heads of one KV head (q: G rows of hd f32, hd <= 1024) for keys j0..<j1 (positions
// first + j) into scores[h * s_stride + j]; then per head fw_attention_decode_softmax (softmax,
// probabilities rounded to f16) over the count scores; then output dims d0..<d1 (multiples of 8) of
// the G heads into out[h * o_stride + d]. The scores and values calls return FW_ERR_SHAPE, having
// done nothing, for shapes outside these.
int fw_attention_decode_scores(fw_isa isa, const float *q, int64_t G, int64_t hd, const uint16_t *k, int64_t k_stride,
                               int64_t slots, int64_t first, int64_t j0, int64_t j1, float scale, float *scores,
                               int64_t s_stride);
void fw_attention_decode_softmax(fw_isa isa, float *scores, int64_t count, int64_t first);
int fw_attention_decode_values(fw_isa isa, const float *prob, int64_t G, int64_t p_stride, const uint16_t *v,
                               int64_t v_stride, int64_t slots, int64_t first, int64_t count, int64_t d0, int64_t d1,
                               float *out, int64_t o_stride);

// --- fp16 / bf16 helpers --------------------------------------------------------------------
float fw_fp16_to_fp32(uint16_t h);
uint16_t fw_fp32_to_fp16(float f);  // round to nearest even, like _cvtss_sh and numpy

// --- Atomics and spinning for the Swift thread pool (no state of their own) -----------------
int64_t fw_atomic_load(const int64_t *p);               // acquire
void fw_atomic_store(int64_t *p, int64_t v);            // release
int64_t fw_atomic_add(int64_t *p, int64_t delta);       // acq_rel; returns the new value
void fw_cpu_relax(void);                                // pause / yield hint in spin loops

#ifdef __cplusplus
}
#endif

#endif
