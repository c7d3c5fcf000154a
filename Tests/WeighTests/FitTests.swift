import Foundation
import GGUF
import Testing
@testable import Weigh

/// Weights, KV cache and fit for catalog models, checked against arithmetic done by hand (in the comments).
@Suite struct FitTests {
    let gemma = ModelCatalog.find("gemma-3-27b")!
    let mistral = ModelCatalog.find("mistral-small-3.1-24b")!

    // Gemma 3 27B, Q4_K_M. GGUF tensors (vocabulary 262144, width 5376, 62 layers, FFN 21504, 32 heads and
    // 16 KV heads of 128); a K-quant block is 256 weights: Q4_K 144 bytes, Q6_K 210 bytes.
    // - token_embd, tied, quantized as the output matrix → Q6_K: 262144 × 5376 = 1,409,286,144 weights
    //   = 5,505,024 blocks × 210 = 1,156,055,040 B
    // - per layer, Q4_K: attn_q 5376 × 4096 = 86,016 blocks → 12,386,304; attn_k 5376 × 2048 = 43,008 blocks
    //   → 6,193,152; attn_v the same (Q6_K: 9,031,680); attn_output 4096 × 5376 → 12,386,304;
    //   ffn_gate, ffn_up, ffn_down 5376 × 21504 = 451,584 blocks → 65,028,096 each (ffn_down Q6_K: 94,832,640);
    //   six f32 vectors 4 × (4 × 5376 + 2 × 128) = 87,040.
    //   All-Q4_K layer: 12,386,304 + 6,193,152 + 6,193,152 + 12,386,304 + 3 × 65,028,096 + 87,040 = 232,330,240
    //   A "more bits" layer adds (9,031,680 − 6,193,152) + (94,832,640 − 65,028,096) = 32,643,072.
    // - more-bits layers of 62: i < 62/8 = 7 (7 layers), i ≥ 7·62/8 = 54 (8), and (i − 7) % 3 == 2 in between:
    //   9, 12, ..., 51 (15) → 30 layers.
    // - layers: 62 × 232,330,240 + 30 × 32,643,072 = 14,404,474,880 + 979,292,160 = 15,383,767,040
    // - output_norm f32: 5376 × 4 = 21,504
    // Total: 1,156,055,040 + 15,383,767,040 + 21,504 = 16,539,843,584 B (15.40 GiB).
    @Test func gemma3_27bWeightsQ4KM() {
        let w = WeightEstimate(facts: gemma, recipe: .q4_k_m)
        #expect(w.bytes == 16_539_843_584)
        #expect(w.entries.filter { $0.type == .q6_K }.count == 1 + 2 * 30)
        #expect(w.entries.first { $0.tensor.name == "token_embd.weight" }?.bytes == 1_156_055_040)
    }

    // Matrices hold 262144 × 5376 + 62 × (2 × 22,020,096 + 2 × 11,010,048 + 3 × 115,605,504)
    // = 1,409,286,144 + 62 × 412,876,800 = 27,007,647,744 weights; vectors 62 × 87,040 + 21,504 = 5,417,984 B.
    // Q8_0 (32 weights in 34 bytes): 27,007,647,744 / 32 × 34 = 28,695,625,728 + 5,417,984 = 28,701,043,712.
    // F16: 27,007,647,744 × 2 = 54,015,295,488 + 5,417,984 = 54,020,713,472.
    @Test func gemma3_27bWeightsQ8AndF16() {
        #expect(WeightEstimate(facts: gemma, recipe: .q8_0).bytes == 28_701_043_712)
        #expect(WeightEstimate(facts: gemma, recipe: .f16).bytes == 54_020_713_472)
    }

    // Mistral Small 3.1 24B, Q4_K_M (vocabulary 131072, width 5120, 40 layers, FFN 32768, 32 heads and 8 KV heads
    // of 128, untied output):
    // - token_embd Q4_K: 131072 × 5120 = 2,621,440 blocks × 144 = 377,487,360; output Q6_K: × 210 = 550,502,400
    // - per layer, Q4_K: attn_q 5120 × 4096 = 81,920 blocks → 11,796,480; attn_k, attn_v 5120 × 1024 = 20,480 blocks
    //   → 2,949,120 each (Q6_K: 4,300,800); attn_output 4096 × 5120 → 11,796,480; ffn_gate, ffn_up, ffn_down
    //   5120 × 32768 = 655,360 blocks → 94,371,840 each (Q6_K: 137,625,600); two f32 norms 2 × 5120 × 4 = 40,960.
    //   All-Q4_K layer: 29,491,200 + 283,115,520 + 40,960 = 312,647,680; more bits adds 1,351,680 + 43,253,760 = 44,605,440
    // - more-bits layers of 40: i < 5 (5), i ≥ 35 (5), (i − 5) % 3 == 2: 7, 10, ..., 34 (10) → 20 layers
    // - layers: 40 × 312,647,680 + 20 × 44,605,440 = 12,505,907,200 + 892,108,800 = 13,398,016,000
    // Total: 377,487,360 + 550,502,400 + 13,398,016,000 + 20,480 (output_norm) = 14,326,026,240 B (13.34 GiB).
    @Test func mistralSmall31WeightsQ4KM() {
        let w = WeightEstimate(facts: mistral, recipe: .q4_k_m)
        #expect(w.bytes == 14_326_026_240)
        // Decode reads one row of the untied embedding: 377,487,360 / 131072 = 2880 bytes.
        #expect(w.bytesReadPerToken == 14_326_026_240 - 377_487_360 + 2880)
    }

    // Matrices: 2 × 671,088,640 + 40 × (2 × 20,971,520 + 2 × 5,242,880 + 3 × 167,772,160) = 23,571,988,480 weights;
    // vectors 40 × 40,960 + 20,480 = 1,658,880 B. Q8_0: 23,571,988,480 / 32 × 34 = 25,045,237,760 + 1,658,880;
    // F16: 47,143,976,960 + 1,658,880.
    @Test func mistralSmall31WeightsQ8AndF16() {
        #expect(WeightEstimate(facts: mistral, recipe: .q8_0).bytes == 25_046_896_640)
        #expect(WeightEstimate(facts: mistral, recipe: .f16).bytes == 47_145_635_840)
    }

    // Gemma 3 27B KV cache at F16: 16 KV heads × 128 × 2 (K, V) × 2 bytes = 8192 B per token per layer.
    // Layer i is global iff i % 6 == 5: 5, 11, ..., 59 → 10 global, 52 sliding (window 1024).
    //   8k:   10 × 8192 × 8192 = 671,088,640 + 52 × 8192 × 1024 = 436,207,616 → 1,107,296,256
    //   32k:  10 × 8192 × 32768 = 2,684,354,560 + 436,207,616 → 3,120,562,176
    //   128k: 10 × 8192 × 131072 = 10,737,418,240 + 436,207,616 → 11,173,625,856
    //   naive 128k (every layer full): 62 × 8192 × 131072 = 66,571,993,088 (6× more)
    @Test func gemma3_27bKVCache() {
        #expect(gemma.slidingLayers.count == 52)
        #expect(gemma.kvCacheBytes(tokens: 8192) == 1_107_296_256)
        #expect(gemma.kvCacheBytes(tokens: 32768) == 3_120_562_176)
        #expect(gemma.kvCacheBytes(tokens: 131_072) == 11_173_625_856)
        #expect(gemma.naiveKVCacheBytes(tokens: 131_072) == 66_571_993_088)
        // Within the window every layer holds every token: 62 × 8192 × 512.
        #expect(gemma.kvCacheBytes(tokens: 512) == 62 * 8192 * 512)
    }

    // Mistral Small 3.1 KV at F16: 8 × 128 × 2 × 2 = 4096 B per token per layer × 40 = 163,840 B per token.
    //   8k: 1,342,177,280; 32k: 5,368,709,120; 128k: 21,474,836,480.
    // Q8_0 (34 bytes per 32 values): 40 × 8 × 128 × 2 × 34 / 32 = 87,040 B per token; 8k: 713,031,680.
    @Test func mistralSmall31KVCache() {
        #expect(mistral.kvCacheBytes(tokens: 8192) == 1_342_177_280)
        #expect(mistral.kvCacheBytes(tokens: 32768) == 5_368_709_120)
        #expect(mistral.kvCacheBytes(tokens: 131_072) == 21_474_836_480)
        #expect(mistral.kvCacheBytes(tokens: 8192, type: .q8_0) == 713_031_680)
    }

    // Mistral Q4_K_M on an RTX 4090 (24 GiB = 25,769,803,776 B) at 8k:
    //   weights 14,326,026,240 + KV 1,342,177,280 + compute 4 × 512 × (131072 + 2 × 32768 + 3 × 5120) = 434,110,464
    //   + mask 2 × 512 × 8192 = 8,388,608 + overhead 536,870,912 = 16,647,573,504 → fits.
    // Largest context: (25,769,803,776 − 14,326,026,240 − 434,110,464 − 536,870,912) / (163,840 + 1024) = 63,523.4 → 63,523.
    // Decode bound: 1008e9 / (14,326,026,240 − 377,487,360 + 2880 + 1,342,177,280) = 1008e9 / 15,290,719,040 = 65.92 tok/s.
    @Test func mistralOnRTX4090() {
        let hw = HardwareCatalog.find("rtx-4090")!
        let row = FitCalculator.fit(mistral, weights: WeightsSummary(estimate: WeightEstimate(facts: mistral, recipe: .q4_k_m)),
                                    hardware: hw, context: 8192)
        #expect(row.totalBytes == 16_647_573_504)
        #expect(row.fits)
        #expect(row.maxContextThatFits == 63_523)
        #expect(abs(row.decodeTokensPerSecondUpperBound - 1008e9 / 15_290_719_040) < 1e-9)
    }

    // Gemma 3 27B Q4_K_M on an RTX 4090 at 128k: 16,539,843,584 + 11,173,625,856 + 4 × 512 × (262144 + 43008 + 16128)
    // = 657,981,440 + 2 × 512 × 131072 = 134,217,728 + 536,870,912 = 29,042,539,520 > 25,769,803,776: does not fit.
    // Past the window the KV cache is 436,207,616 + 81,920 × n and the mask 1024 × n, so the largest context is
    // (25,769,803,776 − 16,539,843,584 − 657,981,440 − 536,870,912 − 436,207,616) / 82,944 = 91,614.6 → 91,614.
    @Test func gemma3_27bOnRTX4090() {
        let hw = HardwareCatalog.find("rtx-4090")!
        let w = WeightsSummary(estimate: WeightEstimate(facts: gemma, recipe: .q4_k_m))
        let row = FitCalculator.fit(gemma, weights: w, hardware: hw, context: 131_072)
        #expect(row.totalBytes == 29_042_539_520)
        #expect(!row.fits)
        #expect(row.maxContextThatFits == 91_614)
        #expect(FitCalculator.fit(gemma, weights: w, hardware: hw, context: 8192).fits)
    }

    @Test func weightsThatDoNotFitGiveNoContext() {
        let w = WeightsSummary(estimate: WeightEstimate(facts: gemma, recipe: .f16))
        let row = FitCalculator.fit(gemma, weights: w, hardware: HardwareCatalog.find("a100-40gb")!, context: 8192)
        #expect(!row.fits)
        #expect(row.maxContextThatFits == 0)
    }

    // macOS gives the GPU 2/3 of RAM up to 36 GB, 3/4 above: 16 GiB → 11,453,246,122; 64 GiB → 51,539,607,552.
    @Test func macGPUShare() {
        #expect(HardwareCatalog.find("mac-16gb")!.usableBytes == 11_453_246_122)
        #expect(HardwareCatalog.find("mac-32gb")!.usableBytes == 22_906_492_245)
        #expect(HardwareCatalog.find("mac-64gb")!.usableBytes == 51_539_607_552)
        #expect(HardwareCatalog.find("mac-128gb")!.usableBytes == 103_079_215_104)
        #expect(HardwareCatalog.find("RTX4090")?.id == "rtx-4090")
        #expect(throws: HardwareError.unknown("gtx-480")) {
            try HardwareCatalog.resolve("rtx-4090,gtx-480") { throw HardwareError.needsMeasurement }
        }
    }

    @Test func moreBitsLayersMatchLlamaCppPattern() {
        // The 18-layer Gemma 3 270M file from llama.cpp has Q6_K-class attn_v / ffn_down in layers 0, 1, 4, 7, 10, 13, 15, 16, 17.
        #expect((0..<18).filter { QuantRecipe.usesMoreBits(layer: $0, layers: 18) } == [0, 1, 4, 7, 10, 13, 15, 16, 17])
    }
}
