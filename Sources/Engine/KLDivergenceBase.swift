import Foundation
import Tokenizers

/// Why a KL-divergence base file cannot be read, written, or scored with this model.
public enum KLDivergenceBaseError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case notABase(path: String)
    case badHeader(path: String, reason: String)
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    case vocabularyMismatch(path: String, base: Int, model: Int)
    case tokenOutOfRange(path: String, token: Int32, vocabularySize: Int)
    case firstTokenIsNotBOS(path: String, token: Int32, bos: Int32)
    case tokensDiffer(path: String, text: String, position: Int)
    case contextTooShort(contextLength: Int)

    public var description: String {
        switch self {
        case .missing(let path): "\(path): no such file"
        case .unreadable(let path, let reason): "\(path): cannot be read (\(reason))"
        case .notABase(let path): "\(path) is not a KL-divergence base file (it does not start with \"_logits_\")"
        case .badHeader(let path, let reason): "\(path): bad KL-divergence base header: \(reason)"
        case .truncated(let path, let expected, let actual):
            "\(path) is truncated: its header promises \(expected) bytes, the file has \(actual)"
        case .vocabularyMismatch(let path, let base, let model):
            "\(path) was made with a vocabulary of \(base) tokens, this model has \(model): a base only weighs models that share its tokenizer"
        case .tokenOutOfRange(let path, let token, let n):
            "\(path) holds token \(token), outside this model's vocabulary of \(n): it was made with another tokenizer"
        case .firstTokenIsNotBOS(let path, let token, let bos):
            "\(path) starts with token \(token), this model's tokenizer starts with BOS \(bos): it was made with another tokenizer"
        case .tokensDiffer(let path, let text, let position):
            "\(path) and this model's tokens of \(text) differ at token \(position): the base was made from another text or with another tokenizer"
        case .contextTooShort(let n): "a KL-divergence base needs a context of at least 4 tokens (got \(n))"
        }
    }
}

/// One scored position of a base: every token's log-probability, quantized to 16 bits between
/// `minLogProb` and the most likely token's log-probability (llama-perplexity's `log_softmax`).
public struct BaseLogProbs {
    public let scale: Float
    public let minLogProb: Float
    public let quantized: UnsafeBufferPointer<UInt16>

    @inline(__always) public func logProb(_ token: Int) -> Float { scale * Float(quantized[token]) + minLogProb }
}

/// llama-perplexity's KL-divergence base file (llama.cpp tools/perplexity/perplexity.cpp, written by
/// `--kl-divergence-base` without `--kl-divergence`, read with it), little-endian throughout:
/// "_logits_", n_ctx (u32), n_vocab (i32), n_chunk (i32), the n_chunk·n_ctx tokens of the text (i32,
/// BOS not substituted), then for each chunk its n_ctx - 1 - n_ctx/2 scored positions, each a record of
/// `recordLength` u16: scale and minimum log-prob as two f32, then one u16 per token (padded to even).
public struct KLDivergenceBase: Sendable {
    public static let magic = Array("_logits_".utf8)
    public let path: String
    public let contextLength: Int
    public let vocabularySize: Int
    public let chunks: Int
    /// The text's tokens, `chunks` × `contextLength`.
    public let tokens: [TokenID]
    private let data: Data
    private let recordsOffset: Int

    /// u16 per record: 4 for the two floats, the vocabulary rounded up to even (perplexity.cpp `nv`).
    public static func recordLength(vocabularySize n: Int) -> Int { 2 * ((n + 1) / 2) + 4 }
    /// Positions scored per chunk: n_ctx/2 ... n_ctx-2 predict the token after them.
    public static func scoredPerChunk(contextLength n: Int) -> Int { n - 1 - n / 2 }
    public static func headerBytes(contextLength: Int, chunks: Int) -> Int { 8 + 3 * 4 + 4 * contextLength * chunks }
    public static func fileBytes(contextLength: Int, vocabularySize: Int, chunks: Int) -> Int {
        headerBytes(contextLength: contextLength, chunks: chunks)
            + chunks * scoredPerChunk(contextLength: contextLength) * recordLength(vocabularySize: vocabularySize) * 2
    }

    public var scoredPerChunk: Int { Self.scoredPerChunk(contextLength: contextLength) }
    public var recordLength: Int { Self.recordLength(vocabularySize: vocabularySize) }

    /// Maps the file and checks its header and length.
    public init(path: String) throws(KLDivergenceBaseError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .missing(path: path) }
        if isDirectory.boolValue { throw .unreadable(path: path, reason: "it is a directory") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw .unreadable(path: path, reason: FileManager.default.isReadableFile(atPath: path) ? "read error" : "permission denied")
        }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws(KLDivergenceBaseError) {
        guard data.count >= 8, Array(data.prefix(8)) == Self.magic else { throw .notABase(path: path) }
        guard data.count >= 20 else { throw .truncated(path: path, expectedBytes: 20, actualBytes: data.count) }
        let (ctx, vocab, chunks) = data.withUnsafeBytes { raw in
            (Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))),
             Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: Int32.self))),
             Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: Int32.self))))
        }
        // Bounds that keep the size arithmetic below from overflowing; real bases are far inside them.
        guard ctx >= 4, ctx <= 1 << 24 else { throw .badHeader(path: path, reason: "n_ctx \(ctx)") }
        guard vocab >= 1, vocab <= 1 << 24 else { throw .badHeader(path: path, reason: "n_vocab \(vocab)") }
        guard chunks >= 1, chunks <= 1 << 24 else { throw .badHeader(path: path, reason: "n_chunk \(chunks)") }
        let expected = Self.fileBytes(contextLength: ctx, vocabularySize: vocab, chunks: chunks)
        guard data.count >= expected else { throw .truncated(path: path, expectedBytes: expected, actualBytes: data.count) }
        self.path = path
        self.data = data
        contextLength = ctx
        vocabularySize = vocab
        self.chunks = chunks
        recordsOffset = Self.headerBytes(contextLength: ctx, chunks: chunks)
        tokens = data.withUnsafeBytes { raw in
            (0..<(ctx * chunks)).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 20 + 4 * $0, as: Int32.self)) }
        }
    }

    /// Scored position `position` (0 ..< scoredPerChunk) of chunk `chunk`.
    public func withRecord<R>(chunk: Int, position: Int, _ body: (BaseLogProbs) throws -> R) rethrows -> R {
        precondition(chunk >= 0 && chunk < chunks && position >= 0 && position < scoredPerChunk)
        let offset = recordsOffset + ((chunk * scoredPerChunk + position) * recordLength) * 2
        return try data.withUnsafeBytes { raw in
            let scale = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let minLogProb = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)))
            // Records start at even offsets (header and records are whole u16s), so the u16 view is aligned.
            let values = UnsafeRawBufferPointer(rebasing: raw[(offset + 8)..<(offset + 8 + 2 * vocabularySize)])
            return try body(BaseLogProbs(scale: scale, minLogProb: minLogProb, quantized: values.bindMemory(to: UInt16.self)))
        }
    }

    /// Throws unless this base can be scored by a model with `vocabularySize` logits and `tokenizer`:
    /// same vocabulary size, every token inside it, BOS first when the tokenizer adds one.
    public func checkCompatible(vocabularySize model: Int, tokenizer: Tokenizer) throws(KLDivergenceBaseError) {
        guard vocabularySize == model else { throw .vocabularyMismatch(path: path, base: vocabularySize, model: model) }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= model }) {
            throw .tokenOutOfRange(path: path, token: bad, vocabularySize: model)
        }
        if tokenizer.addBOS, let bos = tokenizer.bos, tokens[0] != bos {
            throw .firstTokenIsNotBOS(path: path, token: tokens[0], bos: bos)
        }
    }

    /// Throws unless `textTokens` (a text's tokens under this model) begin with the base's tokens.
    public func checkTokens(_ textTokens: [TokenID], text: String) throws(KLDivergenceBaseError) {
        for (i, t) in tokens.enumerated() where i >= textTokens.count || textTokens[i] != t {
            throw .tokensDiffer(path: path, text: text, position: i)
        }
    }
}

/// Writes a base as llama-perplexity does: header and tokens first, then one record per scored
/// position, chunk by chunk. It writes to `path.part` and renames on `finish`, so an interrupted run
/// leaves no truncated base behind.
public final class KLDivergenceBaseWriter {
    public let path: String
    public let vocabularySize: Int
    private let handle: FileHandle
    private var record: [UInt16]
    private var pending = Data()
    public private(set) var records = 0

    public init(path: String, contextLength: Int, vocabularySize: Int, tokens: ArraySlice<TokenID>) throws {
        guard contextLength >= 4 else { throw KLDivergenceBaseError.contextTooShort(contextLength: contextLength) }
        precondition(tokens.count % contextLength == 0 && !tokens.isEmpty)
        self.path = path
        self.vocabularySize = vocabularySize
        let part = path + ".part"
        guard FileManager.default.createFile(atPath: part, contents: nil), let handle = FileHandle(forWritingAtPath: part) else {
            throw KLDivergenceBaseError.unreadable(path: part, reason: "cannot be created")
        }
        self.handle = handle
        record = [UInt16](repeating: 0, count: KLDivergenceBase.recordLength(vocabularySize: vocabularySize))
        var header = Data(KLDivergenceBase.magic)
        Self.append(UInt32(contextLength), to: &header)
        Self.append(Int32(vocabularySize), to: &header)
        Self.append(Int32(tokens.count / contextLength), to: &header)
        for t in tokens { Self.append(t, to: &header) }
        try handle.write(contentsOf: header)
    }

    private static func append<T: FixedWidthInteger>(_ v: T, to data: inout Data) {
        withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }

    /// Quantizes one position's logits into a record; returns the negative log-likelihood of `target`.
    @discardableResult
    public func append(logits: UnsafeBufferPointer<Float>, target: TokenID) throws -> Double {
        precondition(logits.count == vocabularySize)
        let nll = record.withUnsafeMutableBufferPointer { Self.quantize(logits, target: Int(target), into: $0) }
        record.withUnsafeBytes { pending.append(contentsOf: $0) }
        records += 1
        if pending.count >= 1 << 22 { try flush() }
        return nll
    }

    private func flush() throws {
        try handle.write(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, closes the file and moves it to `path`.
    public func finish() throws {
        try flush()
        try handle.close()
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: path + ".part", toPath: path)
    }

    /// Drops the partial file (an interrupted or failed run).
    public func discard() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: path + ".part")
    }

    /// One record as perplexity.cpp's `log_softmax(n_vocab, logits, log_prob, tok)` makes it, in its
    /// float/double mix: log-probs below max - 16 clamp to the minimum; the scale spreads max - min over
    /// 65535 steps, rounded to nearest (its `nearest_int`). Returns -log p(target).
    static func quantize(_ logits: UnsafeBufferPointer<Float>, target: Int, into out: UnsafeMutableBufferPointer<UInt16>) -> Double {
        var maxLogit = logits[0], minLogit = logits[0]
        for v in logits.dropFirst() {
            maxLogit = max(maxLogit, v)
            minLogit = min(minLogit, v)
        }
        minLogit = max(minLogit, maxLogit - 16)
        var sumExp = 0.0
        for v in logits { sumExp += Double(expf(v - maxLogit)) }
        let logSumExp = Float(log(sumExp))
        let minLogProb = minLogit - maxLogit - logSumExp
        let scale = (maxLogit - minLogit) / 65535
        // The two floats over the first four u16 (little-endian hosts only, as the whole file).
        out[0] = UInt16(truncatingIfNeeded: scale.bitPattern)
        out[1] = UInt16(truncatingIfNeeded: scale.bitPattern >> 16)
        out[2] = UInt16(truncatingIfNeeded: minLogProb.bitPattern)
        out[3] = UInt16(truncatingIfNeeded: minLogProb.bitPattern >> 16)
        let n = logits.count
        if scale != 0 {
            let inverse = 1 / scale
            for i in 0..<n {
                out[4 + i] = logits[i] > minLogit ? UInt16(truncatingIfNeeded: nearestInt(inverse * (logits[i] - minLogit))) : 0
            }
        } else {
            for i in 0..<n { out[4 + i] = 0 }
        }
        for i in (4 + n)..<out.count { out[i] = 0 }
        return Double(maxLogit + logSumExp - logits[target])
    }

    /// Round to nearest, ties to even, by the float trick of ggml (adding 1.5·2^23 leaves the integer in the mantissa).
    @inline(__always) static func nearestInt(_ f: Float) -> Int32 {
        let v = f + 12582912
        return Int32(bitPattern: v.bitPattern & 0x007f_ffff) - 0x0040_0000
    }
}
