import GGUF
import Models

extension ModelFacts {
    /// Facts read from a GGUF file: hyperparameters from its metadata, licence and modalities as `inspect`
    /// reports them, tied embeddings when it has no `output.weight`.
    public init(file: GGUFFile, id: String) throws(ModelError) {
        let c = try ModelConfig(gguf: file)
        let inspection = ModelInspection(file: file)
        let names = Set(file.tensors.map(\.name))
        self.init(id: id, displayName: inspection.name ?? id, architecture: c.architecture, layers: c.layers,
                  embeddingWidth: c.embeddingWidth, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
                  ffnWidth: c.ffnWidth, vocabSize: c.vocabSize, contextLength: c.contextLength, slidingWindow: c.slidingWindow,
                  slidingLayers: c.slidingLayerIndices, tiedEmbeddings: !names.contains("output.weight"),
                  attentionBias: names.contains("blk.0.attn_q.bias"), modalities: inspection.modalities,
                  licence: inspection.license, publishedParameters: inspection.parameterCount, source: file.path)
        if let mark = inspection.synthetic { notes.append(InspectionReport.syntheticText(mark)) }
        if c.valueHeadDim != c.headDim {
            notes.append("value head dim \(c.valueHeadDim) differs from key head dim \(c.headDim); KV estimates use the key dim")
        }
    }
}
