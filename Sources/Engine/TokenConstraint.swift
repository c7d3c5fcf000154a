import Foundation
import Grammar
import Tokenizers

/// The vocabulary's tokens as a byte trie (the bytes each token adds to the output), laid out in
/// preorder: node i's subtree is i..<end[i], its first child i + 1, a child's next sibling end[child].
/// Testing every token against a grammar state is then one walk that drops a whole subtree at the
/// first byte the grammar refuses. Built once per tokenizer (`shared(for:)`).
public final class VocabularyTrie: Sendable {
    let byte: [UInt8]
    let end: [Int32]
    /// Tokens whose bytes end at node i: sortedTokens[tokenStart[i] ..< tokenStart[i] + tokenCount[i]].
    let tokenStart: [Int32]
    let tokenCount: [UInt16]
    let sortedTokens: [TokenID]
    public let vocabularySize: Int

    /// Every token with text of its own: end-of-generation tokens and tokens that decode to nothing
    /// are left out (a constrained generation may end with an end-of-generation token when the grammar
    /// is complete), and control tokens unless `special` (the generation writes their texts, as for
    /// tool-call markers such as Mistral's `[TOOL_CALLS]`).
    public init(tokenizer: Tokenizer, special: Bool = false) {
        vocabularySize = tokenizer.vocabularySize
        var entries: [(bytes: [UInt8], id: TokenID)] = []
        entries.reserveCapacity(vocabularySize)
        for i in 0..<vocabularySize {
            let id = TokenID(i)
            if tokenizer.isEndOfGeneration(id) { continue }
            let bytes = tokenizer.pieceBytes(id, special: special)  // empty for control tokens unless `special`
            if bytes.isEmpty { continue }
            entries.append((bytes, id))
        }
        entries.sort { $0.bytes.lexicographicallyPrecedes($1.bytes) || ($0.bytes == $1.bytes && $0.id < $1.id) }
        var byte: [UInt8] = [0], end: [Int32] = [0], tokenStart: [Int32] = [0], tokenCount: [UInt16] = [0]
        var path: [Int32] = [0]  // node at each depth of the previous token's bytes
        var previous: [UInt8] = []
        var sorted: [TokenID] = []
        sorted.reserveCapacity(entries.count)
        for (bytes, id) in entries {
            var common = 0
            while common < min(bytes.count, previous.count) && bytes[common] == previous[common] { common += 1 }
            // Close the nodes below the shared prefix: their subtrees end here.
            while path.count > common + 1 {
                end[Int(path.removeLast())] = Int32(byte.count)
            }
            for k in common..<bytes.count {
                byte.append(bytes[k])
                end.append(0)
                tokenStart.append(Int32(sorted.count))
                tokenCount.append(0)
                path.append(Int32(byte.count - 1))
            }
            let leaf = Int(path.last!)
            if tokenCount[leaf] == 0 { tokenStart[leaf] = Int32(sorted.count) }
            tokenCount[leaf] += 1
            sorted.append(id)
            previous = bytes
        }
        for node in path { end[Int(node)] = Int32(byte.count) }
        self.byte = byte
        self.end = end
        self.tokenStart = tokenStart
        self.tokenCount = tokenCount
        self.sortedTokens = sorted
    }

    public var nodeCount: Int { byte.count }

    /// Sets `allowed[t]` for every token whose bytes the matcher accepts from `state`; returns how many.
    func mark(_ matcher: GrammarMatcher, from state: GrammarMatcher.State, into allowed: UnsafeMutablePointer<Bool>) -> Int {
        var count = 0
        // Explicit stack of (node, state); children are visited by following sibling links.
        var stack: [(node: Int32, state: GrammarMatcher.State)] = [(0, state)]
        stack.reserveCapacity(128)
        byte.withUnsafeBufferPointer { byte in
            end.withUnsafeBufferPointer { end in
                while let (parent, s) = stack.popLast() {
                    var child = parent + 1
                    let stop = end[Int(parent)]
                    while child < stop {
                        let next = matcher.next(s, byte[Int(child)])
                        if next >= 0 {
                            let n = Int(tokenCount[Int(child)])
                            if n > 0 {
                                let start = Int(tokenStart[Int(child)])
                                for k in start..<(start + n) { allowed[Int(sortedTokens[k])] = true }
                                count += n
                            }
                            if end[Int(child)] > child + 1 { stack.append((child, next)) }
                        }
                        child = end[Int(child)]
                    }
                }
            }
        }
        return count
    }

    private struct Key: Hashable { let tokenizer: ObjectIdentifier; let special: Bool }
    /// An entry remembers its tokenizer weakly: an identifier is an address, which a tokenizer loaded
    /// after this one was freed may reuse, so a hit counts only while the same tokenizer is alive.
    private struct Entry { weak var tokenizer: Tokenizer?; let trie: VocabularyTrie }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [Key: Entry] = [:]  // under `lock`

    /// The trie of `tokenizer`'s vocabulary, built on first use and kept while the tokenizer lives.
    public static func shared(for tokenizer: Tokenizer, special: Bool = false) -> VocabularyTrie {
        let key = Key(tokenizer: ObjectIdentifier(tokenizer), special: special)
        if let entry = lock.withLock({ cache[key] }), entry.tokenizer === tokenizer { return entry.trie }
        let trie = VocabularyTrie(tokenizer: tokenizer, special: special)
        return lock.withLock {
            if let entry = cache[key], entry.tokenizer === tokenizer { return entry.trie }
            cache = cache.filter { $0.value.tokenizer != nil }
            cache[key] = Entry(tokenizer: tokenizer, trie: trie)
            return trie
        }
    }
}

/// One generation's grammar constraint: which tokens may come next, and the state after the chosen
/// one. Tokens outside the grammar get probability zero before sampling (as llama.cpp's grammar
/// sampler does); end-of-generation tokens are allowed exactly when the output so far is complete.
final class TokenConstraint {
    let matcher: GrammarMatcher
    let trie: VocabularyTrie
    let tokenizer: Tokenizer
    /// Whether control tokens are written as their texts (and so may be chosen when the grammar allows them).
    let special: Bool
    private var allowed: [Bool]
    private var masked: [Float]
    /// Allowed tokens per grammar state, as bits (end-of-generation tokens not included): inside a
    /// JSON string or at a recurring place in the structure the state repeats, and its mask with it.
    private var masksByState: [GrammarMatcher.State: [UInt64]] = [:]
    private var masksEpoch = -1
    /// Time spent on the grammar (token checks, masks; not the sampler), masks used and masks built.
    private(set) var seconds = 0.0
    private(set) var masks = 0
    private(set) var masksBuilt = 0

    init(grammar: Grammar, tokenizer: Tokenizer, special: Bool = false) {
        matcher = GrammarMatcher(grammar)
        trie = VocabularyTrie.shared(for: tokenizer, special: special)
        self.tokenizer = tokenizer
        self.special = special
        allowed = [Bool](repeating: false, count: tokenizer.vocabularySize)
        masked = [Float](repeating: 0, count: tokenizer.vocabularySize)
    }

    /// Whether `token` may come next.
    func allows(_ token: TokenID) -> Bool {
        if tokenizer.isEndOfGeneration(token) { return matcher.isAccepting }
        let bytes = tokenizer.pieceBytes(token, special: special)  // empty for control tokens unless `special`
        return !bytes.isEmpty && matcher.next(matcher.current, bytes: bytes) >= 0
    }

    /// The current state's allowed tokens as bits, from the cache or one walk of the trie.
    private func mask() -> [UInt64] {
        if masksEpoch != matcher.epoch || masksByState.count > 256 {
            masksByState.removeAll(keepingCapacity: true)
            masksEpoch = matcher.epoch
        }
        let state = matcher.current
        if let bits = masksByState[state] { return bits }
        masksBuilt += 1
        let bits = allowed.withUnsafeMutableBufferPointer { allowed in
            allowed.update(repeating: false)
            _ = trie.mark(matcher, from: state, into: allowed.baseAddress!)
            var bits = [UInt64](repeating: 0, count: (allowed.count + 63) / 64)
            for i in 0..<allowed.count where allowed[i] { bits[i >> 6] |= 1 << UInt64(i & 63) }
            return bits
        }
        // Building the mask may have grown the tables past their limit; ids stay valid until `accept`.
        masksByState[state] = bits
        return bits
    }

    /// The token to emit: greedy choice (without penalties) keeps the model's argmax when the grammar
    /// allows it, which is the argmax of the masked logits too; otherwise the sampler runs on the
    /// logits with every token the grammar refuses at -inf. Nil when no token is allowed.
    func choose(_ logits: UnsafeBufferPointer<Float>, sampler: inout Sampler, history: [TokenID]) -> TokenID? {
        var start = Date()
        let p = sampler.parameters
        if p.temperature <= 0 && !p.penalizes {
            let best = Sampler.argmax(logits)
            if allows(best) {
                seconds += Date().timeIntervalSince(start)
                return best
            }
        }
        masks += 1
        let bits = mask()
        let n = logits.count
        var count = 0
        for i in 0..<n {
            let on = bits[i >> 6] & (1 << UInt64(i & 63)) != 0
            masked[i] = on ? logits[i] : -.infinity
            if on { count += 1 }
        }
        if matcher.isAccepting {
            for t in tokenizer.endOfGeneration where Int(t) < n { masked[Int(t)] = logits[Int(t)]; count += 1 }
        }
        seconds += Date().timeIntervalSince(start)
        guard count > 0 else { return nil }
        let chosen = masked.withUnsafeBufferPointer { sampler.sample($0, history: history) }
        start = Date()
        defer { seconds += Date().timeIntervalSince(start) }
        // The sampler's last-candidate fallback (rounding in its cumulative sum) could land on a
        // refused token: take the best allowed one instead.
        if masked[Int(chosen)] > -.infinity { return chosen }
        return masked.withUnsafeBufferPointer { Sampler.argmax($0) }
    }

    /// Moves past `token` (which `choose` allowed).
    func accept(_ token: TokenID) {
        if tokenizer.isEndOfGeneration(token) { return }
        matcher.accept(tokenizer.pieceBytes(token, special: special))
    }
}
