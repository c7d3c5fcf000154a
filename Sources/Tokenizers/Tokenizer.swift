import GGUF

/// A tokenizer built from a GGUF file's `tokenizer.ggml.*` metadata that gives the same token ids
/// as llama.cpp (src/llama-vocab.cpp) for SPM ("llama") and byte-level BPE ("gpt2") vocabularies.
///
///     let tokenizer = try Tokenizer(gguf: file)                      // or Tokenizer(path:)
///     let prompt = tokenizer.tokenize(renderedTemplate, parseSpecial: true)   // BOS added if the model asks
///     var stream = StreamingDetokenizer(tokenizer: tokenizer)
///     for id in generated {
///         if tokenizer.isEndOfGeneration(id) { break }
///         print(stream.append(id), terminator: "")           // never half a UTF-8 character
///     }
///
/// Immutable and `Sendable`: one instance serves every sequence; each call keeps its own scratch state.
public final class Tokenizer: Sendable {
    public let kind: TokenizerKind
    /// The BPE pre-tokenizer; nil for SPM.
    public let preTokenizer: PreTokenizer?
    /// `tokenizer.ggml.pre` as written in the file.
    public let preTokenizerName: String

    public let bos: TokenID?
    public let eos: TokenID?
    public let eot: TokenID?
    public let eom: TokenID?
    public let unknown: TokenID?
    public let separator: TokenID?
    public let padding: TokenID?
    /// Ids that end generation: EOS, EOT, EOM and tokens such as <end_of_turn>, <|im_end|>
    /// (llama.cpp `special_eog_ids`).
    public let endOfGeneration: Set<TokenID>

    public let addBOS: Bool
    public let addEOS: Bool
    public let addSpacePrefix: Bool
    /// BPE: a word that is already a token skips the merges (llama3, tekken).
    public let ignoreMerges: Bool
    /// BPE detokenization: drop the space before ?!., and some contractions (clean_up_tokenization_spaces).
    public let cleanSpaces: Bool

    let tokens: ByteTable
    let scores: [Float]
    let attributes: [TokenAttributes]
    /// `token_to_piece(id, special: true)` for every id.
    let pieces: [[UInt8]]
    /// Control, user-defined and unknown tokens, longest first: matched in text before tokenizing.
    let specialTokens: [TokenID]
    let specialMatcher: SpecialMatcher
    /// SPM byte fallback: the <0xNN> token of each byte.
    let byteTokens: [TokenID]
    let merges: MergeTable?
    /// SPM: character pairs that occur inside tokens; text is cut between other pairs.
    let spmAdjacentPairs: PairTable?

    public var vocabularySize: Int { scores.count }

    public convenience init(path: String) throws {
        try self.init(gguf: GGUFFile(path: path))
    }

    public init(gguf f: GGUFFile) throws(TokenizerError) {
        guard let model = f.string("tokenizer.ggml.model") else { throw .missingKey("tokenizer.ggml.model") }
        let pre = f.string("tokenizer.ggml.pre") ?? ""
        preTokenizerName = pre
        guard let texts = f.array("tokenizer.ggml.tokens")?.strings else { throw .missingKey("tokenizer.ggml.tokens") }
        let n = texts.count

        // Defaults per model, as llama_vocab::impl::load sets them before reading the keys.
        var bos: TokenID?, eos: TokenID?, unk: TokenID?
        let scores: [Float]
        var addSpacePrefix: Bool, addBOS: Bool, addEOS = false, cleanSpaces: Bool, ignoreMerges = false
        switch model {
        case "llama":
            kind = .spm
            preTokenizer = nil
            bos = 1; eos = 2; unk = 0
            addSpacePrefix = true; addBOS = true; cleanSpaces = false
        case "gpt2":
            kind = .bpe
            guard let p = PreTokenizer(ggufName: pre) else { throw .unsupportedPreTokenizer(pre) }
            preTokenizer = p
            bos = 11; eos = 11; unk = nil
            addSpacePrefix = false; addBOS = false; cleanSpaces = true
            let llama3Names: Set = ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"]
            if llama3Names.contains(pre) || pre == "tekken" { ignoreMerges = true; addBOS = true }
            let keepSpaces: Set = ["qwen2", "deepseek-r1-qwen", "kormo", "tekken", "smollm", "command-r", "hunyuan"]
            if keepSpaces.contains(pre) { cleanSpaces = false }
        default:
            throw .unsupportedModel(model)
        }
        if let v = f.bool("tokenizer.ggml.add_space_prefix") { addSpacePrefix = v }

        // Vocabulary, scores, attributes.
        var table = ByteTable(capacity: n)
        for (i, t) in texts.enumerated() {
            let bytes = t.isEmpty ? Array("[EMPTY_\(i)]".utf8) : Array(t.utf8)
            let stored = table.insert(bytes, value: Int32(i))
            if stored != Int32(i) { throw .duplicateToken(t, Int(stored), i) }
        }
        tokens = table
        if let a = f.array("tokenizer.ggml.scores") {
            guard let s = a.floats ?? a.ints?.map(Float.init), s.count >= n else {
                throw .badMetadata(key: "tokenizer.ggml.scores", reason: "must be \(n) numbers")
            }
            scores = Array(s.prefix(n))
        } else {
            scores = [Float](repeating: 0, count: n)
        }
        var attrs = [TokenAttributes](repeating: .normal, count: n)
        if let a = f.array("tokenizer.ggml.token_type") {
            guard let types = a.ints, types.count >= n else {
                throw .badMetadata(key: "tokenizer.ggml.token_type", reason: "must be \(n) integers")
            }
            for i in 0..<n { attrs[i] = TokenAttributes(ggufTokenType: types[i]) }
        }

        // Special ids: defaults out of range are dropped; keys in range replace them.
        func special(_ key: String, _ fallback: TokenID?) -> TokenID? {
            var id = fallback.flatMap { $0 >= 0 && Int($0) < n ? $0 : nil }
            if let v = f.int("tokenizer.ggml.\(key)"), v >= 0, v < n { id = TokenID(v) }
            return id
        }
        bos = special("bos_token_id", bos)
        eos = special("eos_token_id", eos)
        var eot = special("eot_token_id", nil)
        var eom = special("eom_token_id", nil)
        unk = special("unknown_token_id", unk)
        separator = special("seperator_token_id", nil) ?? special("separator_token_id", nil)
        padding = special("padding_token_id", nil)
        var fimPre = special("fim_pre_token_id", nil) ?? special("prefix_token_id", nil)
        var fimSuf = special("fim_suf_token_id", nil) ?? special("suffix_token_id", nil)
        var fimMid = special("fim_mid_token_id", nil) ?? special("middle_token_id", nil)
        var fimPad = special("fim_pad_token_id", nil)
        var fimRep = special("fim_rep_token_id", nil)
        var fimSep = special("fim_sep_token_id", nil)
        if let v = f.bool("tokenizer.ggml.add_bos_token") { addBOS = v }
        if let v = f.bool("tokenizer.ggml.add_eos_token") { addEOS = v }
        if addBOS && bos == nil { throw .badMetadata(key: "tokenizer.ggml.add_bos_token", reason: "true, but no BOS token") }
        if addEOS && eos == nil { throw .badMetadata(key: "tokenizer.ggml.add_eos_token", reason: "true, but no EOS token") }

        // Tokens found by their text, as llama.cpp does; each found one becomes a control token.
        func lookup(_ s: String) -> Int? { let v = table.lookup(Array(s.utf8)); return v >= 0 ? Int(v) : nil }
        func detect(_ slot: inout TokenID?, _ names: [String]) {
            guard slot == nil else { return }
            let found = names.compactMap(lookup).min()
            if let id = found {
                slot = TokenID(id)
                attrs[id].insert(.control)
            }
        }
        detect(&eot, ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                      "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"])
        detect(&eom, ["<|eom_id|>"])
        detect(&fimPre, ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                         "<|code_prefix|>", "<|prefix|>"])
        detect(&fimSuf, ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                         "<|code_suffix|>", "<|suffix|>"])
        detect(&fimMid, ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
                         "<|code_middle|>", "<|middle|>"])
        detect(&fimPad, ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"])
        detect(&fimRep, ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"])
        detect(&fimSep, ["<|file_sep|>"])
        self.eot = eot
        self.eom = eom

        // Control tokens named "unused" are unused.
        for i in 0..<n where attrs[i].contains(.control) && texts[i].utf8.contains(0x75) && texts[i].contains("unused") {
            attrs[i].insert(.unused)
        }

        // End-of-generation set (special_eog_ids).
        var eog = Set<TokenID>([fimPad, fimRep, fimSep].compactMap { $0 })
        for name in ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
                     "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                     "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
                     "<｜end▁of▁sentence｜>", "[e~["] {
            if let id = lookup(name) {
                eog.insert(TokenID(id))
                attrs[id].insert(.control)
            }
        }
        for name in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let id = lookup(name) { attrs[id] = .userDefined }
        }
        for id in [eos, eot, eom].compactMap({ $0 }) { eog.insert(id) }
        let text = { (id: TokenID) in texts[Int(id)] }
        if let end = eog.first(where: { text($0) == "<|end|>" }),
           (eog.contains { text($0) == "<|return|>" } && eog.contains { text($0) == "<|call|>" || text($0) == "<|calls|>" })
            || (eog.contains { text($0) == "<|call|>" || text($0) == "<|calls|>" } && eog.contains { text($0) == "<|flush|>" }) {
            eog.remove(end)
            attrs[Int(end)] = .userDefined
        }
        if eog.contains(where: { text($0) == "<|tool_response>" }), let s = eog.first(where: { text($0) == "</s>" }) {
            eog.remove(s)
            attrs[Int(s)] = .normal
        }
        endOfGeneration = eog

        // Special tokens, longest first (ties by id: llama.cpp's std::sort leaves them unspecified).
        let specialSet: TokenAttributes = [.control, .userDefined, .unknown]
        let specials = (0..<n).filter { !attrs[$0].isDisjoint(with: specialSet) }
        specialTokens = specials.sorted { a, b in
            let la = table.key(at: a).count, lb = table.key(at: b).count
            return la != lb ? la > lb : a < b
        }.map { TokenID($0) }
        specialMatcher = SpecialMatcher(tokens: specialTokens.map { Array(table.key(at: Int($0))) }, ids: specialTokens)

        // SPM byte fallback tokens.
        var byteTokens = [TokenID](repeating: -1, count: 256)
        if kind == .spm {
            for b in 0..<256 {
                let hex = "<0x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2) + ">"
                var id = table.lookup(Array(hex.utf8))
                if id < 0 { id = table.lookup([UInt8(b)]) }
                byteTokens[b] = id >= 0 ? id : (unk ?? 0)
            }
        }
        self.byteTokens = byteTokens
        spmAdjacentPairs = kind == .spm ? adjacentCharacterPairs(table) : nil

        // BPE merges.
        if kind == .bpe {
            guard let lines = f.array("tokenizer.ggml.merges")?.strings else { throw .missingKey("tokenizer.ggml.merges") }
            merges = MergeTable(merges: lines)
        } else {
            merges = nil
        }

        // Pieces (token_to_piece with special = true).
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(n)
        for i in 0..<n {
            let t = Array(table.key(at: i))
            let a = attrs[i]
            if !a.isDisjoint(with: [.unknown, .control, .userDefined]) {
                pieces.append(t)
            } else if a.contains(.normal) {
                pieces.append(kind == .spm ? unescapeWhitespace(t) : ByteLevel.decode(t))
            } else if a.contains(.byte) {
                pieces.append([byteValue(of: t)])
            } else {
                pieces.append([])
            }
        }
        self.pieces = pieces

        self.unknown = unk
        self.bos = bos
        self.eos = eos
        self.scores = scores
        self.attributes = attrs
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.ignoreMerges = ignoreMerges
        self.cleanSpaces = cleanSpaces
    }

    // MARK: Vocabulary access

    /// The token's text as stored in the vocabulary (byte-level or ▁-escaped form).
    public func text(of id: TokenID) -> String { String(decoding: tokens.key(at: Int(id)), as: UTF8.self) }
    public func attributes(of id: TokenID) -> TokenAttributes { attributes[Int(id)] }
    public func score(of id: TokenID) -> Float { scores[Int(id)] }
    public func isEndOfGeneration(_ id: TokenID) -> Bool { endOfGeneration.contains(id) }
    public func isControl(_ id: TokenID) -> Bool { attributes[Int(id)].contains(.control) }
    /// The id of a token with exactly this text, if any.
    public func id(of text: String) -> TokenID? { let v = tokens.lookup(Array(text.utf8)); return v >= 0 ? v : nil }

    // MARK: Tokenize

    /// Token ids for `text`, as llama.cpp's `llama_tokenize`. `addSpecial` adds BOS/EOS where the model
    /// asks for them; `parseSpecial` turns the text of control tokens (e.g. "<end_of_turn>") into those
    /// tokens; user-defined tokens are always matched.
    public func tokenize(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = false) -> [TokenID] {
        let bytes = Array(text.utf8)
        let fragments = partition(bytes, parseSpecial: parseSpecial)
        var out: [TokenID] = []
        out.reserveCapacity(bytes.count / 3 + 2)
        if addSpecial && addBOS, let bos { out.append(bos) }
        switch kind {
        case .spm:
            var previousWasSpecial = true
            var spm = SPMSession(tokenizer: self)
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                    previousWasSpecial = true
                case .text(let range):
                    var escaped: [UInt8] = []
                    escaped.reserveCapacity(range.count + 8)
                    if addSpacePrefix && previousWasSpecial { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) }
                    for b in bytes[range] {
                        if b == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(b) }
                    }
                    spm.tokenize(escaped, into: &out)
                    previousWasSpecial = false
                }
            }
        case .bpe:
            var bpe = BPESession(tokenizer: self)
            for fragment in fragments {
                switch fragment {
                case .token(let id): out.append(id)
                case .text(let range): bpe.tokenize(bytes[range], into: &out)
                }
            }
        }
        if addSpecial && addEOS, let eos { out.append(eos) }
        return out
    }

    // MARK: Detokenize

    /// The bytes of one token (llama.cpp `token_to_piece` with lstrip 0). Control and unknown tokens
    /// are empty unless `special`.
    public func pieceBytes(_ id: TokenID, special: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < pieces.count else { return [] }
        if !special && !attributes[Int(id)].isDisjoint(with: [.unknown, .control]) { return [] }
        return pieces[Int(id)]
    }

    /// One token as text; a token that holds part of a UTF-8 character decodes with U+FFFD.
    public func piece(_ id: TokenID, special: Bool = false) -> String {
        String(decoding: pieceBytes(id, special: special), as: UTF8.self)
    }

    /// The bytes of a token sequence (llama.cpp `llama_detokenize`): the leading space SPM added is
    /// removed, BOS/EOS dropped when `removeSpecial`, control tokens rendered when `unparseSpecial`.
    public func detokenizeBytes(_ ids: [TokenID], removeSpecial: Bool = false, unparseSpecial: Bool = false) -> [UInt8] {
        var ids = ids[...]
        var removeSpace = addSpacePrefix
        if removeSpecial && addBOS, let first = ids.first, first == bos {
            removeSpace = false
            ids = ids.dropFirst()
        }
        if removeSpecial && addEOS, let last = ids.last, last == eos { ids = ids.dropLast() }
        var text: [UInt8] = []
        for id in ids {
            var p = pieceBytes(id, special: unparseSpecial)[...]
            if removeSpace, p.first == 0x20 { p = p.dropFirst() }
            removeSpace = false
            text.append(contentsOf: p)
        }
        return cleanSpaces ? Self.cleanUpSpaces(text) : text
    }

    public func detokenize(_ ids: [TokenID], removeSpecial: Bool = false, unparseSpecial: Bool = false) -> String {
        String(decoding: detokenizeBytes(ids, removeSpecial: removeSpecial, unparseSpecial: unparseSpecial), as: UTF8.self)
    }

    /// llama.cpp's three clean-up passes (llama_vocab::impl::detokenize, clean_spaces).
    static func cleanUpSpaces(_ input: [UInt8]) -> [UInt8] {
        let sp: UInt8 = 0x20, apos: UInt8 = 0x27
        // " ?", " !", " .", " ," lose the space.
        var a: [UInt8] = []
        a.reserveCapacity(input.count)
        for (i, x) in input.enumerated() {
            if i > 0, input[i - 1] == sp, x == 0x3F || x == 0x21 || x == 0x2E || x == 0x2C { a.removeLast() }
            a.append(x)
        }
        // " ' " becomes "'".
        var b: [UInt8] = []
        b.reserveCapacity(a.count)
        var i = 0
        var skipped = -1  // llama.cpp overwrites the dropped space with NUL, which the next test reads
        while i < a.count {
            let x = a[i]
            if i > 0, x == apos, i + 1 < a.count, a[i - 1] == sp, i - 1 != skipped, a[i + 1] == sp {
                b.removeLast()
                b.append(x)
                skipped = i + 1
                i += 2
                continue
            }
            b.append(x)
            i += 1
        }
        // " 's", " 'm", " 're", " 've" lose the space.
        var c: [UInt8] = []
        c.reserveCapacity(b.count)
        for (i, x) in b.enumerated() {
            if i > 0, b[i - 1] == sp, x == apos, i + 1 < b.count {
                let x1 = b[i + 1]
                if x1 == 0x73 || x1 == 0x6D {
                    c.removeLast()
                } else if x1 != 0x74 && x1 != 0x64 && i + 2 < b.count {
                    let x2 = b[i + 2]
                    if (x1 == 0x72 && x2 == 0x65) || (x1 == 0x76 && x2 == 0x65) { c.removeLast() }
                }
            }
            c.append(x)
        }
        return c
    }
}

func unescapeWhitespace(_ t: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(t.count)
    var i = 0
    while i < t.count {
        if i + 2 < t.count, t[i] == 0xE2, t[i + 1] == 0x96, t[i + 2] == 0x81 {
            out.append(0x20); i += 3
        } else {
            out.append(t[i]); i += 1
        }
    }
    return out
}

/// The byte of a "<0xNN>" token (strtol of the two hex digits, as llama.cpp).
func byteValue(of t: [UInt8]) -> UInt8 {
    guard t.count >= 5 else { return 0 }
    let hex = String(decoding: t[3..<5], as: UTF8.self)
    return UInt8(hex, radix: 16) ?? UInt8(String(hex.prefix(1)), radix: 16) ?? 0
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
