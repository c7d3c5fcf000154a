/// Published configurations of well-known open models, so `fit` and `compare` work without the
/// weights. Each entry's numbers are its `config.json` on Hugging Face (URL in `source`); the
/// vocabulary is the row count of the token-embedding matrix as the GGUF conversion keeps it.
/// Parameter counts are the publisher's (model card / safetensors metadata), vision encoder included.
public enum ModelCatalog {
    static func hf(_ repo: String) -> String { "https://huggingface.co/\(repo)/blob/main/config.json" }

    static let gemmaLicence = "Gemma Terms of Use"
    static let gemmaNote = "vocabulary 262144 = GGUF token count (HF text_config says 262208: 64 padding rows the GGUF conversion drops)"
    /// SigLIP encoder (27 layers, width 1152, MLP 4304, 896 px / 14 px patches: 416,866,032 parameters; the Gemma 3
    /// technical report's "417M") plus the projector to the text width (1152 × width + 1152 norm weights).
    static func gemmaVision(width: Int) -> Int { 416_866_032 + 1152 * width + 1152 }

    public static let models: [ModelFacts] = [
        ModelFacts(id: "gemma-3-270m", displayName: "Gemma 3 270M", architecture: "gemma3", layers: 18, embeddingWidth: 640,
                   heads: 4, kvHeads: 1, headDim: 256, ffnWidth: 2048, vocabSize: 262_144, contextLength: 32_768,
                   slidingWindow: 512, slidingLayers: ModelFacts.gemma3SlidingLayers(18), tiedEmbeddings: true,
                   licence: gemmaLicence, publishedParameters: 268_098_176, source: hf("google/gemma-3-270m"),
                   ropeBase: 1_000_000, normEpsilon: 1e-6),
        ModelFacts(id: "gemma-3-1b", displayName: "Gemma 3 1B", architecture: "gemma3", layers: 26, embeddingWidth: 1152,
                   heads: 4, kvHeads: 1, headDim: 256, ffnWidth: 6912, vocabSize: 262_144, contextLength: 32_768,
                   slidingWindow: 512, slidingLayers: ModelFacts.gemma3SlidingLayers(26), tiedEmbeddings: true,
                   licence: gemmaLicence, publishedParameters: 999_885_952, source: hf("google/gemma-3-1b-it"),
                   ropeBase: 1_000_000, normEpsilon: 1e-6),
        ModelFacts(id: "gemma-3-4b", displayName: "Gemma 3 4B", architecture: "gemma3", layers: 34, embeddingWidth: 2560,
                   heads: 8, kvHeads: 4, headDim: 256, ffnWidth: 10_240, vocabSize: 262_144, contextLength: 131_072,
                   slidingWindow: 1024, slidingLayers: ModelFacts.gemma3SlidingLayers(34), tiedEmbeddings: true,
                   modalities: ["text", "image"], licence: gemmaLicence, publishedParameters: 4_300_079_472,
                   visionParameters: gemmaVision(width: 2560), checkpointVocabSize: 262_208, source: hf("google/gemma-3-4b-it"), notes: [gemmaNote],
                   ropeBase: 1_000_000, ropeScalingType: "linear", ropeScalingFactor: 8, normEpsilon: 1e-6),
        ModelFacts(id: "gemma-3-12b", displayName: "Gemma 3 12B", architecture: "gemma3", layers: 48, embeddingWidth: 3840,
                   heads: 16, kvHeads: 8, headDim: 256, ffnWidth: 15_360, vocabSize: 262_144, contextLength: 131_072,
                   slidingWindow: 1024, slidingLayers: ModelFacts.gemma3SlidingLayers(48), tiedEmbeddings: true,
                   modalities: ["text", "image"], licence: gemmaLicence, publishedParameters: 12_187_325_040,
                   visionParameters: gemmaVision(width: 3840), checkpointVocabSize: 262_208, source: hf("google/gemma-3-12b-it"), notes: [gemmaNote],
                   ropeBase: 1_000_000, ropeScalingType: "linear", ropeScalingFactor: 8, normEpsilon: 1e-6),
        // head_dim 128 with query_pre_attn_scalar 168 (the only Gemma 3 size where they differ).
        ModelFacts(id: "gemma-3-27b", displayName: "Gemma 3 27B", architecture: "gemma3", layers: 62, embeddingWidth: 5376,
                   heads: 32, kvHeads: 16, headDim: 128, ffnWidth: 21_504, vocabSize: 262_144, contextLength: 131_072,
                   slidingWindow: 1024, slidingLayers: ModelFacts.gemma3SlidingLayers(62), tiedEmbeddings: true,
                   modalities: ["text", "image"], licence: gemmaLicence, publishedParameters: 27_432_406_640,
                   visionParameters: gemmaVision(width: 5376), checkpointVocabSize: 262_208, source: hf("google/gemma-3-27b-it"),
                   notes: [gemmaNote, "query_pre_attn_scalar 168 (attention scale 1/sqrt(168), not 1/sqrt(head_dim))"],
                   ropeBase: 1_000_000, ropeScalingType: "linear", ropeScalingFactor: 8, normEpsilon: 1e-6),
        // head_dim 128 although hidden 5120 / 32 heads = 160; rope_theta 1e9. Vision: Pixtral encoder, 24 layers ×
        // (4·1024² attention + 3·1024·4096 MLP + 2·1024 norms), 14 px patch conv, and a projector (norm, 2×2 patch merger,
        // 1024→5120→5120): 438,958,080 parameters.
        ModelFacts(id: "mistral-small-3.1-24b", displayName: "Mistral Small 3.1 24B", architecture: "mistral3", layers: 40,
                   embeddingWidth: 5120, heads: 32, kvHeads: 8, headDim: 128, ffnWidth: 32_768, vocabSize: 131_072,
                   contextLength: 131_072, tiedEmbeddings: false, modalities: ["text", "image"], licence: "Apache-2.0",
                   publishedParameters: 24_011_361_280, visionParameters: 438_958_080,
                   source: hf("mistralai/Mistral-Small-3.1-24B-Instruct-2503"),
                   notes: ["vision: Pixtral encoder (24 layers, width 1024, MLP 4096) and projector to width 5120"],
                   ropeBase: 1_000_000_000, normEpsilon: 1e-5),
        ModelFacts(id: "smollm2-135m", displayName: "SmolLM2 135M", architecture: "llama", layers: 30, embeddingWidth: 576,
                   heads: 9, kvHeads: 3, headDim: 64, ffnWidth: 1536, vocabSize: 49_152, contextLength: 8192,
                   tiedEmbeddings: true, licence: "Apache-2.0", publishedParameters: 134_515_008,
                   source: hf("HuggingFaceTB/SmolLM2-135M-Instruct"),
                   ropeBase: 100_000, normEpsilon: 1e-5),
        ModelFacts(id: "smollm2-360m", displayName: "SmolLM2 360M", architecture: "llama", layers: 32, embeddingWidth: 960,
                   heads: 15, kvHeads: 5, headDim: 64, ffnWidth: 2560, vocabSize: 49_152, contextLength: 8192,
                   tiedEmbeddings: true, licence: "Apache-2.0", publishedParameters: 361_821_120,
                   source: hf("HuggingFaceTB/SmolLM2-360M-Instruct"),
                   ropeBase: 100_000, normEpsilon: 1e-5),
        ModelFacts(id: "smollm2-1.7b", displayName: "SmolLM2 1.7B", architecture: "llama", layers: 24, embeddingWidth: 2048,
                   heads: 32, kvHeads: 32, headDim: 64, ffnWidth: 8192, vocabSize: 49_152, contextLength: 8192,
                   tiedEmbeddings: true, licence: "Apache-2.0", publishedParameters: 1_711_376_384,
                   source: hf("HuggingFaceTB/SmolLM2-1.7B-Instruct"),
                   ropeBase: 130_000, normEpsilon: 1e-5),
        ModelFacts(id: "llama-3.1-8b", displayName: "Llama 3.1 8B", architecture: "llama", layers: 32, embeddingWidth: 4096,
                   heads: 32, kvHeads: 8, headDim: 128, ffnWidth: 14_336, vocabSize: 128_256, contextLength: 131_072,
                   tiedEmbeddings: false, licence: "Llama 3.1 Community License", publishedParameters: 8_030_261_248,
                   source: hf("meta-llama/Llama-3.1-8B-Instruct"),
                   ropeBase: 500_000, ropeScalingType: "llama3", ropeScalingFactor: 8, normEpsilon: 1e-5),
        ModelFacts(id: "llama-3.2-1b", displayName: "Llama 3.2 1B", architecture: "llama", layers: 16, embeddingWidth: 2048,
                   heads: 32, kvHeads: 8, headDim: 64, ffnWidth: 8192, vocabSize: 128_256, contextLength: 131_072,
                   tiedEmbeddings: true, licence: "Llama 3.2 Community License", publishedParameters: 1_235_814_400,
                   source: hf("meta-llama/Llama-3.2-1B-Instruct"),
                   ropeBase: 500_000, ropeScalingType: "llama3", ropeScalingFactor: 32, normEpsilon: 1e-5),
        ModelFacts(id: "llama-3.2-3b", displayName: "Llama 3.2 3B", architecture: "llama", layers: 28, embeddingWidth: 3072,
                   heads: 24, kvHeads: 8, headDim: 128, ffnWidth: 8192, vocabSize: 128_256, contextLength: 131_072,
                   tiedEmbeddings: true, licence: "Llama 3.2 Community License", publishedParameters: 3_212_749_824,
                   source: hf("meta-llama/Llama-3.2-3B-Instruct"),
                   ropeBase: 500_000, ropeScalingType: "llama3", ropeScalingFactor: 32, normEpsilon: 1e-5),
        ModelFacts(id: "qwen2.5-0.5b", displayName: "Qwen2.5 0.5B", architecture: "qwen2", layers: 24, embeddingWidth: 896,
                   heads: 14, kvHeads: 2, headDim: 64, ffnWidth: 4864, vocabSize: 151_936, contextLength: 32_768,
                   tiedEmbeddings: true, attentionBias: true, licence: "Apache-2.0", publishedParameters: 494_032_768,
                   source: hf("Qwen/Qwen2.5-0.5B-Instruct"),
                   ropeBase: 1_000_000, normEpsilon: 1e-6),
        ModelFacts(id: "qwen2.5-1.5b", displayName: "Qwen2.5 1.5B", architecture: "qwen2", layers: 28, embeddingWidth: 1536,
                   heads: 12, kvHeads: 2, headDim: 128, ffnWidth: 8960, vocabSize: 151_936, contextLength: 32_768,
                   tiedEmbeddings: true, attentionBias: true, licence: "Apache-2.0", publishedParameters: 1_543_714_304,
                   source: hf("Qwen/Qwen2.5-1.5B-Instruct"),
                   ropeBase: 1_000_000, normEpsilon: 1e-6),
        ModelFacts(id: "qwen2.5-3b", displayName: "Qwen2.5 3B", architecture: "qwen2", layers: 36, embeddingWidth: 2048,
                   heads: 16, kvHeads: 2, headDim: 128, ffnWidth: 11_008, vocabSize: 151_936, contextLength: 32_768,
                   tiedEmbeddings: true, attentionBias: true, licence: "Qwen Research License", publishedParameters: 3_085_938_688,
                   source: hf("Qwen/Qwen2.5-3B-Instruct"),
                   ropeBase: 1_000_000, normEpsilon: 1e-6),
        ModelFacts(id: "qwen2.5-7b", displayName: "Qwen2.5 7B", architecture: "qwen2", layers: 28, embeddingWidth: 3584,
                   heads: 28, kvHeads: 4, headDim: 128, ffnWidth: 18_944, vocabSize: 152_064, contextLength: 131_072,
                   tiedEmbeddings: false, attentionBias: true, licence: "Apache-2.0", publishedParameters: 7_615_616_512,
                   source: hf("Qwen/Qwen2.5-7B-Instruct"),
                   notes: ["context 131072 with YaRN rope scaling as the model card describes; config.json's native window is 32768"],
                   ropeBase: 1_000_000, normEpsilon: 1e-6),
    ]

    /// "gemma3-270m", "Gemma-3-270M" and "gemma_3_270m" all name "gemma-3-270m".
    static func normalized(_ s: String) -> String {
        String(s.lowercased().filter { $0 != "-" && $0 != "_" && $0 != " " })
    }

    public static func find(_ name: String) -> ModelFacts? {
        let key = normalized(name)
        return models.first { normalized($0.id) == key }
    }

    public static var ids: [String] { models.map(\.id) }
}
