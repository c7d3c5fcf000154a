import Testing
@testable import Templates

/// Random token soup must end in a render or a `TemplateError`, never a crash or a hang.
struct FuzzTests {
    /// SplitMix64, so the corpus is the same on every run.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let pieces = [
        "{{", "}}", "{%", "%}", "{#", "#}", "-", "+", " ", "\n", "if", "elif", "else", "endif", "for", "in", "endfor",
        "set", "=", "macro", "endmacro", "raw", "endraw", "x", "xs", "d", "ns", "loop", ".", "index", "[", "]", "(", ")",
        "{", "}", ",", ":", "|", "length", "tojson", "upper", "join", "items", "is", "not", "defined", "none", "and", "or",
        "'s'", "\"q\"", "1", "0", "-1", "2.5", "9223372036854775807", "~", "*", "**", "/", "//", "%", "==", "<", "namespace",
        "range", "raise_exception", "strftime_now", "'%Y'", "split", "strip", "[::-1]", "[1:]", "break", "continue",
        "filter", "endfilter", "__class__", "_x", "é", "\\", "'", "\"",
    ]

    @Test func randomTemplatesNeverCrash() {
        var rng = SeededGenerator(state: 42)
        var limits = RenderLimits()
        limits.maxLoopIterations = 10_000
        limits.maxOutputBytes = 100_000
        let options = RenderOptions(limits: limits)
        let context: [String: Value] = ["x": "abc", "xs": [1, "two", 3.5, ["k": "v"]], "d": ["a": 1, "b": [true, .none]]]
        var rendered = 0, failed = 0
        for _ in 0..<4000 {
            let count = Int.random(in: 1...24, using: &rng)
            var source = (0..<count).map { _ in Self.pieces.randomElement(using: &rng)! }.joined(separator: Bool.random(using: &rng) ? " " : "")
            // Half of the cases are a single expression, to get past the tag structure more often.
            if Bool.random(using: &rng) { source = "{{ " + source + " }}" }
            do {
                _ = try Template(source: source).render(context: context, options: options)
                rendered += 1
            } catch is TemplateError {
                failed += 1
            } catch {
                Issue.record("non-template error \(error) for \(source)")
            }
        }
        #expect(rendered + failed == 4000)
        #expect(rendered > 0)
    }
}
