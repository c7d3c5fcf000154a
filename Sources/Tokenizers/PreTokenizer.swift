/// The pre-tokenizer of a BPE vocabulary (`tokenizer.ggml.pre`): splits text into words before
/// merges. Each case reproduces the list of regular expressions llama.cpp applies for that type
/// (src/llama-vocab.cpp, `llm_tokenizer_bpe`), as hand-written scanners over code points that
/// follow llama.cpp's own matchers (src/unicode.cpp: `unicode_regex_split_custom_gpt2`,
/// `..._llama3`, and std::regex over "collapsed" category bytes for the rest).
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// "[\p{P}\$\+<=>\^~\|]+", then GPT-2, then "\p{N}+", then "[0-9][0-9][0-9]".
    case `default`
    /// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    case gpt2
    /// "\p{N}" (every digit alone), then GPT-2. Also starcoder, refact, command-r, ...
    case smollm
    /// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    case llama3
    /// As llama3 with \p{N} instead of \p{N}{1,3}.
    case qwen2
    /// [^\r\n\p{L}\p{N}]?[\p{Lu}...]*[\p{Ll}...]+|[^\r\n\p{L}\p{N}]?[\p{Lu}...]+[\p{Ll}...]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
    /// llama.cpp's form: upper = letter but not a-z, lower = letter but not A-Z, marks not letters.
    case tekken

    /// The pre-tokenizer for a `tokenizer.ggml.pre` value, as llama.cpp maps names to types.
    public init?(ggufName name: String) {
        switch name {
        case "", "default": self = .default
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
             "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "trillion",
             "granite-docling", "exaone4":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            self = .smollm
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "dbrx",
             "smaug-bpe", "chatglm-bpe", "glm4":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan", "kormo":
            self = .qwen2
        case "tekken":
            self = .tekken
        default:
            return nil
        }
    }

    /// Word boundaries for `cps`: the lengths, in code points, of consecutive words.
    func split(_ cps: UnsafeBufferPointer<UInt32>, _ cls: UnsafeBufferPointer<UInt8>) -> [Int] {
        let s = Scanner(cps: cps, cls: cls)
        let all = [cps.count]
        switch self {
        case .gpt2:
            return s.gpt2(all)
        case .smollm:
            return s.gpt2(s.matches(all, Scanner.isolated { $0.contains(.number) }))
        case .llama3:
            return s.llama3(all, digitGroup: 3)
        case .qwen2:
            return s.llama3(all, digitGroup: 1)
        case .tekken:
            return s.tekken(all)
        case .default:
            let punct = s.matches(all, Scanner.runs { c, cp in
                c.contains(.punctuation) || cp == 0x24 || cp == 0x2B || cp == 0x3C || cp == 0x3D || cp == 0x3E
                    || cp == 0x5E || cp == 0x7E || cp == 0x7C
            })
            let words = s.gpt2(punct)
            let numbers = s.matches(words, Scanner.runs { c, _ in c.contains(.number) })
            return s.matches(numbers, Scanner.asciiDigitTriples)
        }
    }
}

/// Matchers over one chunk [start, end) of code points; `chunks` are lengths, as llama.cpp's offsets.
struct Scanner {
    let cps: UnsafeBufferPointer<UInt32>
    let cls: UnsafeBufferPointer<UInt8>

    /// A matcher: given the chunk and a start position, the end of a match there, or nil.
    typealias Matcher = @Sendable (Scanner, Int, Int, Int) -> Int?

    @inline(__always) func cp(_ i: Int, _ end: Int) -> UInt32 { i < end ? cps[i] : 0xFFFF_FFFF }
    @inline(__always) func cl(_ i: Int, _ end: Int) -> UnicodeClass {
        i < end ? UnicodeClass(rawValue: cls[i]) : []
    }

    static func isolated(_ p: @escaping @Sendable (UnicodeClass) -> Bool) -> Matcher {
        { s, pos, _, _ in p(UnicodeClass(rawValue: s.cls[pos])) ? pos + 1 : nil }
    }

    static func runs(_ p: @escaping @Sendable (UnicodeClass, UInt32) -> Bool) -> Matcher {
        { s, pos, _, end in
            var i = pos
            while i < end, p(UnicodeClass(rawValue: s.cls[i]), s.cps[i]) { i += 1 }
            return i > pos ? i : nil
        }
    }

    static let asciiDigitTriples: Matcher = { s, pos, _, end in
        guard pos + 3 <= end else { return nil }
        for i in pos..<(pos + 3) where !(0x30...0x39).contains(s.cps[i]) { return nil }
        return pos + 3
    }

    /// std::regex_iterator semantics: every match is a word, and so is each gap between matches.
    func matches(_ chunks: [Int], _ match: Matcher) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(chunks.count)
        var start = 0
        for n in chunks {
            let end = start + n
            var gap = start, pos = start
            while pos < end {
                if let e = match(self, pos, start, end) {
                    if pos > gap { out.append(pos - gap) }
                    out.append(e - pos)
                    pos = e
                    gap = e
                } else {
                    pos += 1
                }
            }
            if end > gap { out.append(end - gap) }
            start = end
        }
        return out
    }

    // MARK: GPT-2 (unicode_regex_split_custom_gpt2)

    func gpt2(_ chunks: [Int]) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(chunks.count * 2)
        var start = 0
        for n in chunks {
            let end = start + n
            var pos = start
            while pos < end {
                let c = cps[pos]
                // 's|'t|'re|'ve|'m|'ll|'d
                if c == 0x27, pos + 1 < end {
                    let n1 = cps[pos + 1]
                    if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {
                        out.append(2); pos += 2; continue
                    }
                    if pos + 2 < end {
                        let n2 = cps[pos + 2]
                        if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                            out.append(3); pos += 3; continue
                        }
                    }
                }
                let first = pos
                var f2 = c == 0x20 ? cl(pos + 1, end) : UnicodeClass(rawValue: cls[pos])
                // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
                if f2.contains(.letter) || f2.contains(.number) || (pos + (c == 0x20 ? 1 : 0) < end && f2.isDisjoint(with: [.whitespace, .letter, .number])) {
                    let kind: UnicodeClass = f2.contains(.letter) ? .letter : f2.contains(.number) ? .number : []
                    if c == 0x20 { pos += 1 }
                    while pos < end {
                        f2 = UnicodeClass(rawValue: cls[pos])
                        let ok = kind.isEmpty ? f2.isDisjoint(with: [.whitespace, .letter, .number]) : f2.contains(kind)
                        if !ok { break }
                        pos += 1
                    }
                    out.append(pos - first)
                    continue
                }
                var ws = 0
                while pos + ws < end, cls[pos + ws] & UnicodeClass.whitespace.rawValue != 0 { ws += 1 }
                // \s+(?!\S)
                if ws > 1, pos + ws < end {
                    pos += ws - 1
                    out.append(pos - first)
                    continue
                }
                // \s+
                if ws > 0 {
                    pos += ws
                    out.append(ws)
                    continue
                }
                pos += 1
                out.append(1)
            }
            start = end
        }
        return out
    }

    // MARK: Llama 3 (unicode_regex_split_custom_llama3); Qwen 2 with single digits

    func llama3(_ chunks: [Int], digitGroup: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(chunks.count * 2)
        var start = 0
        for n in chunks {
            let end = start + n
            var pos = start
            while pos < end {
                let c = cps[pos]
                let f = UnicodeClass(rawValue: cls[pos])
                // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                if c == 0x27, pos + 1 < end {
                    let n1 = asciiLower(cps[pos + 1])
                    if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {
                        out.append(2); pos += 2; continue
                    }
                    if pos + 2 < end {
                        let n2 = asciiLower(cps[pos + 2])
                        if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                            out.append(3); pos += 3; continue
                        }
                    }
                }
                let first = pos
                // [^\r\n\p{L}\p{N}]?\p{L}+
                if !(c == 0x0D || c == 0x0A || f.contains(.number)) {
                    if f.contains(.letter) || cl(pos + 1, end).contains(.letter) {
                        pos += 1
                        while pos < end, cls[pos] & UnicodeClass.letter.rawValue != 0 { pos += 1 }
                        out.append(pos - first)
                        continue
                    }
                }
                // \p{N}{1,3} (or \p{N})
                if f.contains(.number) {
                    var run = 0
                    while pos < end, cls[pos] & UnicodeClass.number.rawValue != 0 {
                        pos += 1; run += 1
                        if run == digitGroup { out.append(run); run = 0 }
                    }
                    if run > 0 { out.append(run) }
                    continue
                }
                // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
                if let e = punctuationRun(pos, end, trailing: { $0 == 0x0D || $0 == 0x0A }) {
                    out.append(e - first); pos = e; continue
                }
                if let e = whitespaceRun(pos, end) {
                    out.append(e - first); pos = e; continue
                }
                pos += 1
                out.append(1)
            }
            start = end
        }
        return out
    }

    @inline(__always) private func asciiLower(_ c: UInt32) -> UInt32 {
        (0x41...0x5A).contains(c) ? c + 0x20 : c
    }

    /// ` ?[^\s\p{L}\p{N}]+` followed by any number of `trailing` code points.
    @inline(__always)
    private func punctuationRun(_ pos: Int, _ end: Int, trailing: (UInt32) -> Bool) -> Int? {
        var p = pos
        if cps[p] == 0x20 { p += 1 }
        guard p < end, cl(p, end).isDisjoint(with: [.whitespace, .letter, .number]) else { return nil }
        while p < end, cl(p, end).isDisjoint(with: [.whitespace, .letter, .number]) { p += 1 }
        while p < end, trailing(cps[p]) { p += 1 }
        return p
    }

    /// `\s*[\r\n]+|\s+(?!\S)|\s+`
    @inline(__always)
    private func whitespaceRun(_ pos: Int, _ end: Int) -> Int? {
        var ws = 0
        var lastNewline = -1
        while pos + ws < end, cls[pos + ws] & UnicodeClass.whitespace.rawValue != 0 {
            let c = cps[pos + ws]
            if c == 0x0D || c == 0x0A { lastNewline = pos + ws + 1 }
            ws += 1
        }
        if lastNewline > 0 { return lastNewline }
        if ws > 1, pos + ws < end { return pos + ws - 1 }
        if ws > 0 { return pos + ws }
        return nil
    }

    // MARK: Tekken (std::regex over llama.cpp's collapsed text)

    func tekken(_ chunks: [Int]) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(chunks.count * 2)
        var start = 0
        for n in chunks {
            let end = start + n
            var pos = start
            while pos < end {
                let e = tekkenMatch(pos, end)
                out.append(e - pos)
                pos = e
            }
            start = end
        }
        return out
    }

    @inline(__always) private func isLetter(_ i: Int, _ end: Int) -> Bool {
        i < end && cls[i] & UnicodeClass.letter.rawValue != 0
    }
    /// (?=[\p{L}])([^a-z])
    @inline(__always) private func isUpperish(_ i: Int, _ end: Int) -> Bool {
        isLetter(i, end) && !(0x61...0x7A).contains(cps[i])
    }
    /// (?=[\p{L}])([^A-Z])
    @inline(__always) private func isLowerish(_ i: Int, _ end: Int) -> Bool {
        isLetter(i, end) && !(0x41...0x5A).contains(cps[i])
    }

    private func tekkenMatch(_ pos: Int, _ end: Int) -> Int {
        let c = cps[pos]
        let f = UnicodeClass(rawValue: cls[pos])
        let canPrefix = !(c == 0x0D || c == 0x0A || f.contains(.letter) || f.contains(.number))
        let starts = canPrefix ? [pos + 1, pos] : [pos]
        // Alternative 1: prefix? upper* lower+
        for s in starts {
            var u = s
            while isUpperish(u, end) { u += 1 }
            // Greedy upper*, then backtrack until lower+ can start.
            var j = u
            while j >= s {
                if isLowerish(j, end) {
                    var e = j
                    while isLowerish(e, end) { e += 1 }
                    return e
                }
                j -= 1
            }
        }
        // Alternative 2: prefix? upper+ lower*
        for s in starts where isUpperish(s, end) {
            var e = s
            while isUpperish(e, end) { e += 1 }
            while isLowerish(e, end) { e += 1 }
            return e
        }
        // \p{N}
        if f.contains(.number) { return pos + 1 }
        // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
        if let e = punctuationRun(pos, end, trailing: { $0 == 0x0D || $0 == 0x0A || $0 == 0x2F }) { return e }
        if let e = whitespaceRun(pos, end) { return e }
        return pos + 1
    }
}

extension PreTokenizer {
    /// The words of `text` (for tests and inspection).
    public func words(_ text: String) -> [String] {
        var cps: [UInt32] = []
        decodeUTF8(Array(text.utf8)[...], into: &cps)
        let cls = cps.map { UnicodeClass.of($0).rawValue }
        let lengths = cps.withUnsafeBufferPointer { c in cls.withUnsafeBufferPointer { k in split(c, k) } }
        var out: [String] = []
        var at = 0
        for n in lengths {
            var s = String.UnicodeScalarView()
            for cp in cps[at..<(at + n)] { s.append(Unicode.Scalar(cp)!) }
            out.append(String(s))
            at += n
        }
        return out
    }
}
