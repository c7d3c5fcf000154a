/// Runs a `Grammar` over bytes, one byte at a time, as a set of parse stacks (llama.cpp's grammar
/// runs the same way). Stacks share their tails and are interned, so a set of stacks is a small
/// sorted list of ids and equal sets are one `State`; each state's transitions are cached per byte.
/// The cache turns the matcher into a lazily built automaton: testing a whole vocabulary against
/// the current state (see Engine's `TokenConstraint`) costs a table lookup per trie edge.
///
/// Not thread-safe: one matcher per generation.
public final class GrammarMatcher {
    /// A set of parse stacks, by id.
    public typealias State = Int32
    /// No stack survives: the bytes so far cannot start a match.
    public static let dead: State = -2

    // The grammar flattened: every alternative's elements followed by an end marker.
    private let kinds: [UInt8]          // 0 bytes, 1 rule, 2 end of alternative
    private let args: [Int32]           // byte-set index or rule index
    private let sets: [ByteSet]
    private let alternatives: [[Int32]]  // per rule: where each alternative starts
    private let root: Int

    // Stack nodes: (position to continue at, parent node). Node 0 is the empty stack.
    private var nodePos: [Int32] = [-1]
    private var nodeParent: [Int32] = [-1]
    private var nodeIndex: [UInt64: Int32] = [:]
    // States: sorted node ids; whether the empty stack (a complete match) is among them.
    private var stateStacks: [[Int32]] = []
    private var stateAccepts: [Bool] = []
    private var stateIndex: [[Int32]: State] = [:]
    /// 256 per state: -1 not computed yet, `dead`, or the next state.
    private var transitions: [Int32] = []

    /// The state after the bytes accepted so far.
    public private(set) var current: State = 0
    /// Past this many states the tables are rebuilt from the current state alone (bounds memory).
    public var stateLimit = 50_000

    public init(_ grammar: Grammar) {
        var kinds: [UInt8] = [], args: [Int32] = [], sets: [ByteSet] = [], setIndex: [ByteSet: Int32] = [:]
        var alternatives: [[Int32]] = []
        for rule in grammar.rules {
            var starts: [Int32] = []
            for alt in rule {
                starts.append(Int32(kinds.count))
                for element in alt {
                    switch element {
                    case .bytes(let s):
                        let i = setIndex[s] ?? { sets.append(s); setIndex[s] = Int32(sets.count - 1); return Int32(sets.count - 1) }()
                        kinds.append(0)
                        args.append(i)
                    case .rule(let r):
                        kinds.append(1)
                        args.append(Int32(r))
                    }
                }
                kinds.append(2)
                args.append(0)
            }
            alternatives.append(starts)
        }
        self.kinds = kinds
        self.args = args
        self.sets = sets
        self.alternatives = alternatives
        self.root = grammar.root
        current = initialState()
    }

    private func initialState() -> State {
        var out: [Int32] = []
        var seen = Set<UInt64>()
        for start in alternatives[root] { expand(Int(start), parent: 0, into: &out, seen: &seen) }
        return intern(out)
    }

    /// Starts again from the beginning of the grammar.
    public func reset() {
        clearTables()
        current = initialState()
    }

    /// Whether the bytes accepted so far are a complete match.
    public var isAccepting: Bool { stateAccepts[Int(current)] }
    public func accepts(_ state: State) -> Bool { state >= 0 && stateAccepts[Int(state)] }
    /// Whether a match could continue from the current state (some byte is allowed).
    public var canContinue: Bool { stateStacks[Int(current)].contains { $0 != 0 } }

    /// The state after reading `byte` in `state` (`dead` when the byte is not allowed).
    @inline(__always)
    public func next(_ state: State, _ byte: UInt8) -> State {
        let slot = Int(state) &* 256 &+ Int(byte)
        let cached = transitions[slot]
        if cached != -1 { return cached }
        let computed = computeNext(state, byte)
        transitions[slot] = computed
        return computed
    }

    /// The state after `bytes` from `state`, or `dead`.
    public func next(_ state: State, bytes: some Sequence<UInt8>) -> State {
        var s = state
        for b in bytes {
            s = next(s, b)
            if s < 0 { return Self.dead }
        }
        return s
    }

    /// Reads `bytes` from the current state; false (and no change) when they are not allowed.
    @discardableResult
    public func accept(_ bytes: some Sequence<UInt8>) -> Bool {
        let s = next(current, bytes: bytes)
        guard s >= 0 else { return false }
        current = s
        if stateStacks.count > stateLimit { compact() }
        return true
    }

    private func computeNext(_ state: State, _ byte: UInt8) -> State {
        var out: [Int32] = []
        var seen = Set<UInt64>()
        for node in stateStacks[Int(state)] where node != 0 {
            let pos = Int(nodePos[Int(node)])
            guard sets[Int(args[pos])].contains(byte) else { continue }
            expand(pos + 1, parent: nodeParent[Int(node)], into: &out, seen: &seen)
        }
        return out.isEmpty ? Self.dead : intern(out)
    }

    /// Adds to `out` the stacks whose top reads a byte, reached from continuing at `pos` above `parent`.
    private func expand(_ pos: Int, parent: Int32, into out: inout [Int32], seen: inout Set<UInt64>) {
        let key = UInt64(UInt32(pos)) << 32 | UInt64(UInt32(bitPattern: parent))
        guard seen.insert(key).inserted else { return }
        switch kinds[pos] {
        case 0:
            out.append(node(pos: Int32(pos), parent: parent))
        case 1:
            // Tail call: when the reference ends its alternative, continue straight at the parent,
            // so right recursion (repetition) does not grow the stack.
            let cont = pos + 1
            let above = kinds[cont] == 2 ? parent : node(pos: Int32(cont), parent: parent)
            for start in alternatives[Int(args[pos])] { expand(Int(start), parent: above, into: &out, seen: &seen) }
        default:
            if parent == 0 {
                out.append(0)
            } else {
                expand(Int(nodePos[Int(parent)]), parent: nodeParent[Int(parent)], into: &out, seen: &seen)
            }
        }
    }

    private func node(pos: Int32, parent: Int32) -> Int32 {
        let key = UInt64(UInt32(bitPattern: pos)) << 32 | UInt64(UInt32(bitPattern: parent))
        if let n = nodeIndex[key] { return n }
        nodePos.append(pos)
        nodeParent.append(parent)
        let n = Int32(nodePos.count - 1)
        nodeIndex[key] = n
        return n
    }

    private func intern(_ stacks: [Int32]) -> State {
        let sorted = Array(Set(stacks)).sorted()
        if let s = stateIndex[sorted] { return s }
        stateStacks.append(sorted)
        stateAccepts.append(sorted.first == 0)
        transitions.append(contentsOf: repeatElement(-1, count: 256))
        let s = State(stateStacks.count - 1)
        stateIndex[sorted] = s
        return s
    }

    /// Changes whenever state ids are renumbered (`reset`, or the tables rebuilt past `stateLimit`):
    /// anything kept per state id is stale once it changes.
    public private(set) var epoch = 0

    private func clearTables() {
        epoch += 1
        nodePos = [-1]
        nodeParent = [-1]
        nodeIndex.removeAll(keepingCapacity: true)
        stateStacks.removeAll(keepingCapacity: true)
        stateAccepts.removeAll(keepingCapacity: true)
        stateIndex.removeAll(keepingCapacity: true)
        transitions.removeAll(keepingCapacity: true)
    }

    /// Rebuilds the tables holding only the current state's stacks.
    private func compact() {
        let chains = stateStacks[Int(current)].map { node -> [Int32] in
            var positions: [Int32] = []
            var n = node
            while n != 0 {
                positions.append(nodePos[Int(n)])
                n = nodeParent[Int(n)]
            }
            return positions
        }
        clearTables()
        let stacks = chains.map { positions -> Int32 in
            var n: Int32 = 0
            for pos in positions.reversed() { n = node(pos: pos, parent: n) }
            return n
        }
        current = intern(stacks)
    }

    /// How many states the tables hold (for tests and measurements).
    public var stateCount: Int { stateStacks.count }
}
