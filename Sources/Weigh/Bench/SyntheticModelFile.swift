import Models

/// `feather synthesize`: a small random-weight GGUF model with a real model's shape quirks (Models' `SyntheticModel`),
/// for oracle scripts and tests.
public enum SyntheticModelFile {
    /// Writes the model of architecture `name` (llama, mistral3, gemma3) to `path`; `headDim` nil is embeddingWidth / heads.
    public static func write(architecture name: String, to path: String, layers: Int, embeddingWidth: Int, heads: Int, kvHeads: Int,
                             headDim: Int?, ffnWidth: Int, contextLength: Int, ropeBase: Float, ropeScalingFactor: Float?,
                             slidingWindow: Int?, seed: UInt64) throws {
        guard let architecture = SyntheticModel.Architecture(rawValue: name) else { throw UnknownName.architecture(name) }
        var m = SyntheticModel(architecture)
        m.layers = layers
        m.embeddingWidth = embeddingWidth
        m.heads = heads
        m.kvHeads = kvHeads
        m.headDim = headDim
        m.ffnWidth = ffnWidth
        m.contextLength = contextLength
        m.ropeBase = ropeBase
        m.ropeScalingFactor = ropeScalingFactor
        m.slidingWindow = slidingWindow
        m.seed = seed
        try m.writer().write(to: path)
    }
}
