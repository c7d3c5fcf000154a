import Compute
import Foundation
import GGUF
import Models
import Tokenizers

/// Errors of `feather synthesize` and of the benchmarks that synthesize.
public enum SynthesisError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String, known: [String])
    case badLayers(Int, model: String, layers: Int)
    case noSpace(path: String, needed: Int, available: Int)
    case doesNotFit(model: String, needed: Int, usable: Int)
    case tokenizer(String)

    public var description: String {
        switch self {
        case .unknownModel(let name, let known):
            "'\(name)' is not a catalog id (known: \(known.joined(separator: ", ")))"
        case .badLayers(let n, let model, let layers):
            "--layers \(n): \(model) has \(layers) blocks; give 1...\(layers)"
        case .noSpace(let path, let needed, let available):
            "writing \(path) needs \(Format.bytes(needed)) of disk, only \(Format.bytes(available)) is free there"
        case .doesNotFit(let model, let needed, let usable):
            "\(model) needs \(Format.bytes(needed)) of memory (fit's figure: weights, KV cache, compute buffer, runtime), "
                + "more than this machine's \(Format.bytes(usable)): it cannot be measured here"
        case .tokenizer(let why): "tokenizer: \(why)"
        }
    }
}

/// A GGUF with a published configuration's exact tensor names, shapes, types (a llama.cpp quantization recipe) and
/// metadata, and random weights: what speed and memory depend on, without the weights' values. Marked
/// `general.synthetic = true` with the catalog id it came from, so every report can say "synthetic weights: speed and
/// memory only". Written a chunk at a time to `FILE.part`, renamed when complete.
public struct ModelSynthesizer: Sendable {
    /// Bumped when the bytes a seed gives change; part of the configuration hash that names cached files.
    public static let generatorVersion = 2
    public static let label = "synthetic weights: speed and memory only"

    /// The published configuration (all blocks) and the one written (`--layers` keeps the first N blocks).
    public let published: ModelFacts
    public let facts: ModelFacts
    public let recipe: QuantRecipe
    public let seed: UInt64
    /// The tensors in file order with the type the recipe gives each (decided on the whole model, as llama-quantize
    /// would, so a truncated file's blocks have the types they have in the full one).
    public let tensors: [(shape: TensorShape, type: GGMLType)]

    /// Where real tokenizers come from: the embedded models (`ModelLocator`) and the data folder (tekken JSON).
    public struct Sources: Sendable {
        public var locator: ModelLocator
        public var dataDirectory: String
        public init(locator: ModelLocator = ModelLocator(), dataDirectory: String? = nil) {
            self.locator = locator
            self.dataDirectory = dataDirectory ?? ProcessInfo.processInfo.environment["FEATHER_DATA"] ?? ".data"
        }
    }
    public var sources = Sources()

    public init(model: String, recipe: QuantRecipe = .q4_k_m, layers: Int? = nil, seed: UInt64 = 1) throws(SynthesisError) {
        guard let f = ModelCatalog.find(model) else { throw .unknownModel(model, known: ModelCatalog.ids) }
        if let n = layers, !(1...f.layers).contains(n) { throw .badLayers(n, model: f.id, layers: f.layers) }
        published = f
        self.recipe = recipe
        self.seed = seed
        var kept = f
        kept.layers = layers ?? f.layers
        kept.slidingLayers = f.slidingLayers.filter { $0 < kept.layers }
        facts = kept
        let all = WeightEstimate.tensors(f)
        tensors = all.filter { ($0.layer ?? 0) < kept.layers }.map { ($0, recipe.type(for: $0, layers: f.layers)) }
    }

    public var isTruncated: Bool { facts.layers < published.layers }

    /// The tensors as the writer takes them (ggml order of dimensions: row width first).
    public var tensorInfos: [GGUFWriter.TensorInfo] {
        tensors.map { t in
            GGUFWriter.TensorInfo(name: t.shape.name, shape: t.shape.role == .vector ? [t.shape.rowWidth]
                                    : [t.shape.rowWidth, t.shape.rows], type: t.type)
        }
    }

    /// Bytes of tensor data (what fit calls the weights).
    public var tensorBytes: Int { tensorInfos.reduce(0) { $0 + ($1.bytes ?? 0) } }

    /// A short hash of everything that decides the file's bytes: configuration, recipe, layers, seed, generator.
    public var configurationHash: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let key = "\(published.id)|\(facts.layers)|\(recipe.rawValue)|\(seed)|v\(Self.generatorVersion)|"
            + tensorInfos.map { "\($0.name):\($0.shape):\($0.type.rawValue)" }.joined(separator: ",")
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(format: "%016llx", h)
    }

    /// The cache file name under the models folder's `synthetic/`.
    public var cacheName: String {
        "\(published.id)-\(recipe.rawValue)\(isTruncated ? "-\(facts.layers)L" : "")-s\(seed)-\(configurationHash.prefix(8)).gguf"
    }

    static func fileTypeID(_ r: QuantRecipe) -> Int {
        switch r {  // llama.cpp's enum llama_ftype
        case .f16: 1
        case .q4_0: 2
        case .q8_0: 7
        case .q4_k_m: 15
        }
    }

    /// Header metadata: the architecture's hyperparameters as llama.cpp's converter writes them, the tokenizer, and
    /// the synthetic marks. Also says which tokenizer it used.
    public func metadata() throws -> (writer: GGUFWriter, tokenizer: String) {
        let f = facts, arch = f.architecture
        var w = GGUFWriter()
        w.set("general.architecture", arch)
        w.set("general.type", "model")
        w.set("general.name", "\(published.displayName) (synthetic weights)")
        w.set("general.synthetic", true)
        w.set("general.synthetic.source", published.id)
        w.set("general.synthetic.seed", .uint64(seed))
        w.set("general.synthetic.configuration", configurationHash)
        if isTruncated { w.set("general.synthetic.layers_of", uint32: published.layers) }
        if let l = published.licence { w.set("general.license", l) }
        w.set("general.file_type", uint32: Self.fileTypeID(recipe))
        w.set("general.quantization_version", uint32: 2)
        w.set("\(arch).context_length", uint32: f.contextLength)
        w.set("\(arch).embedding_length", uint32: f.embeddingWidth)
        w.set("\(arch).block_count", uint32: f.layers)
        w.set("\(arch).feed_forward_length", uint32: f.ffnWidth)
        w.set("\(arch).attention.head_count", uint32: f.heads)
        w.set("\(arch).attention.head_count_kv", uint32: f.kvHeads)
        w.set("\(arch).rope.freq_base", float32: Float(f.ropeBase ?? 10_000))
        w.set("\(arch).attention.layer_norm_rms_epsilon", float32: Float(f.normEpsilon ?? 1e-5))
        if arch == "gemma3" || arch == "mistral3" || f.headDim != f.embeddingWidth / f.heads {
            w.set("\(arch).attention.key_length", uint32: f.headDim)
            w.set("\(arch).attention.value_length", uint32: f.headDim)
        }
        if arch != "gemma3" {
            w.set("\(arch).rope.dimension_count", uint32: f.headDim)
            w.set("\(arch).vocab_size", uint32: f.vocabSize)
        }
        if f.ropeScalingType == "linear", let factor = f.ropeScalingFactor {
            w.set("\(arch).rope.scaling.type", "linear")
            w.set("\(arch).rope.scaling.factor", float32: Float(factor))
        }
        if let window = f.slidingWindow { w.set("\(arch).attention.sliding_window", uint32: window) }
        let tokenizer = try addTokenizer(&w)
        w.set("general.synthetic.tokenizer", tokenizer)
        return (w, tokenizer)
    }

    /// The real tokenizer where one is at hand: Gemma 3's from the embedded gemma3-270m (every Gemma 3 size shares
    /// it), SmolLM2's from the embedded smollm2-135m, Mistral's tekken from the data folder; otherwise an SPM
    /// vocabulary of the right size whose pieces are placeholders.
    func addTokenizer(_ w: inout GGUFWriter) throws -> String {
        func copy(from shortName: String) throws -> String? {
            guard let path = try? sources.locator.resolveIfPresent(shortName) else { return nil }
            let file = try GGUFFile(path: path)
            guard let tokens = file.array("tokenizer.ggml.tokens"), tokens.count == facts.vocabSize else {
                throw SynthesisError.tokenizer("\(path) has \(file.array("tokenizer.ggml.tokens")?.count ?? 0) tokens, \(facts.id) needs \(facts.vocabSize)")
            }
            for (key, value) in file.metadata where key.hasPrefix("tokenizer.") { w.set(key, value) }
            return "\(shortName) (\((path as NSString).lastPathComponent))"
        }
        switch published.id {
        case let id where id.hasPrefix("gemma-3-"):
            if let t = try copy(from: "gemma3-270m") { return t }
        case let id where id.hasPrefix("smollm2-"):
            if let t = try copy(from: "smollm2-135m") { return t }
        case "mistral-small-3.1-24b":
            let json = (sources.dataDirectory as NSString).appendingPathComponent("tekken_240911.json")
            if let data = FileManager.default.contents(atPath: json) {
                let entries = try TekkenVocabulary.metadata(json: data)
                for (k, v) in entries { w.set(k, v) }
                if let tokens = w.metadata.first(where: { $0.key == "tokenizer.ggml.tokens" })?.value, case .array(let a) = tokens,
                   a.count != facts.vocabSize {
                    throw SynthesisError.tokenizer("\(json) gives \(a.count) tokens, \(facts.id) needs \(facts.vocabSize)")
                }
                return "tekken (\(json))"
            }
        default:
            break
        }
        let vocab = Self.placeholderVocabulary(facts.vocabSize)
        w.set("tokenizer.ggml.model", "llama")
        w.set("tokenizer.ggml.pre", "default")
        w.set("tokenizer.ggml.tokens", .array(.string(vocab)))
        w.set("tokenizer.ggml.scores", .array(.float32(vocab.indices.map { -Float($0) })))
        w.set("tokenizer.ggml.token_type", .array(.int32(vocab.indices.map { i in i == 1 ? 2 : i < 4 ? 3 : i < 260 ? 6 : 1 })))
        w.set("tokenizer.ggml.bos_token_id", uint32: 2)
        w.set("tokenizer.ggml.eos_token_id", uint32: 3)
        w.set("tokenizer.ggml.unknown_token_id", uint32: 1)
        w.set("tokenizer.ggml.padding_token_id", uint32: 0)
        return "placeholder SPM vocabulary of \(facts.vocabSize) pieces (no real tokenizer at hand)"
    }

    /// <pad>, <unk>, <s>, </s>, the 256 byte tokens, then "▁t<i>" pieces up to `count`.
    static func placeholderVocabulary(_ count: Int) -> [String] {
        var tokens = ["<pad>", "<unk>", "<s>", "</s>"]
        tokens += (0..<256).map { String(format: "<0x%02X>", $0) }
        tokens += (tokens.count..<max(count, tokens.count)).map { "▁t\($0)" }
        return Array(tokens.prefix(count))
    }

    /// Llama 3's RoPE frequency divisors (rope_freqs.weight) as convert_hf_to_gguf.py derives them from rope_scaling
    /// (low_freq_factor 1, high_freq_factor 4, original context 8192).
    static func llama3RopeFactors(_ f: ModelFacts) -> [Float] {
        let base = f.ropeBase ?? 500_000, factor = f.ropeScalingFactor ?? 8
        let low = 1.0, high = 4.0, original = 8192.0
        return stride(from: 0, to: f.headDim, by: 2).map { i in
            let freq = 1 / pow(base, Double(i) / Double(f.headDim))
            let wavelength = 2 * Double.pi / freq
            if wavelength < original / high { return 1 }
            if wavelength > original / low { return Float(factor) }
            let smooth = (original / wavelength - low) / (high - low)
            return Float(1 / ((1 - smooth) / factor + smooth))
        }
    }

    /// Standard deviation of a matrix's weights: 1/sqrt(input width), so every projection keeps activations O(1).
    static func sigma(_ t: TensorShape) -> Float { 1 / Float(t.rowWidth).squareRoot() }

    /// A per-tensor seed from the file's seed and the tensor's name: a truncated file's blocks are the full file's.
    func tensorSeed(_ name: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Progress of a write: tensors and bytes done of the total.
    public struct Progress: Sendable {
        public var tensor: Int
        public var tensors: Int
        public var bytesWritten: Int
        public var totalBytes: Int
    }

    /// Free bytes for an unprivileged writer on the file system holding `directory`.
    public static func freeBytes(_ directory: String) -> Int? {
        var s = statvfs()
        guard statvfs(directory, &s) == 0 else { return nil }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }

    /// Writes the model to `path` (through `path.part`, renamed when whole; removed on any error), after checking that
    /// the file system has room for it (and 64 MiB more). `progress` is called after every chunk; throwing from it
    /// stops the write. Returns the tokenizer used.
    @discardableResult
    public func write(to path: String, freeBytes: (String) -> Int? = ModelSynthesizer.freeBytes,
                      progress: (Progress) throws -> Void = { _ in }) throws -> String {
        let (w, tokenizer) = try metadata()
        let infos = tensorInfos
        let size = w.fileSize(streaming: infos)
        let dir = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let free = freeBytes(dir), free < size + (64 << 20) {
            throw SynthesisError.noSpace(path: path, needed: size, available: free)
        }
        let part = path + ".part"
        var generators: [SyntheticWeights?] = Array(repeating: nil, count: infos.count)
        var written = 0
        let ropeFactors = facts.ropeScalingType == "llama3" ? Self.llama3RopeFactors(facts) : []
        do {
            try w.writeStreaming(to: part, tensors: infos) { i, offset, buffer in
                let t = tensors[i].shape
                if t.name == "rope_freqs.weight" {
                    let floats = buffer.bindMemory(to: Float.self)
                    for k in floats.indices { floats[k] = ropeFactors[offset / 4 + k] }
                } else {
                    if generators[i] == nil {
                        let vector = t.role == .vector
                        generators[i] = try SyntheticWeights(type: tensors[i].type, sigma: vector ? 0.02 : Self.sigma(t), seed: tensorSeed(t.name))
                    }
                    // Norm weights around 1 (Gemma's GGUF stores 1 + w), biases around 0.
                    generators[i]!.fill(buffer, center: t.role == .vector && !t.name.hasSuffix(".bias") ? 1 : 0)
                }
                written += buffer.count
                try progress(Progress(tensor: i, tensors: infos.count, bytesWritten: written, totalBytes: size))
            }
            try FileManager.default.moveItem(atPath: part, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: part)
            throw error
        }
        return tokenizer
    }
}

/// What a GGUF file says about being synthetic (`general.synthetic`).
public struct SyntheticMark: Codable, Sendable, Equatable {
    public var source: String?
    public var seed: UInt64?
    public var configuration: String?
    public var tokenizer: String?
    /// Blocks of the published model when the file keeps fewer.
    public var layersOf: Int?

    public init?(file: GGUFFile) {
        guard file.bool("general.synthetic") == true else { return nil }
        source = file.string("general.synthetic.source")
        if case .uint64(let s)? = file["general.synthetic.seed"] { seed = s }
        configuration = file.string("general.synthetic.configuration")
        tokenizer = file.string("general.synthetic.tokenizer")
        layersOf = file.int("general.synthetic.layers_of")
    }
}
