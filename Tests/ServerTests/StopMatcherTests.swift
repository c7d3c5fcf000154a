import Engine
@testable import Server
import Testing

/// Stop sequences cut the text where they start, even when a token boundary splits them,
/// and text that might begin one is held back only until it cannot.
struct StopMatcherTests {
    func run(_ pieces: [String], stops: [String]) -> (String, Bool) {
        var m = StopMatcher(stops)
        var out = ""
        for p in pieces {
            out += m.feed(p)
            if m.stopped { return (out, true) }
        }
        return (out + m.flush(), m.stopped)
    }

    @Test func stopsAcrossTokenBoundaries() {
        #expect(run(["Hel", "lo wo", "rld"], stops: ["o w"]) == ("Hell", true))
        #expect(run(["a", "b", "c", "d"], stops: ["bc", "cd"]) == ("a", true))
        #expect(run(["abc"], stops: ["x"]) == ("abc", false))
        #expect(run(["ab", "c"], stops: []) == ("abc", false))
    }

    @Test func holdsBackOnlyPossibleStarts() {
        var m = StopMatcher(["END"])
        #expect(m.feed("the E") == "the ")
        #expect(m.feed("N") == "")
        #expect(m.feed("x") == "ENx")
        #expect(m.flush() == "")
        #expect(!m.stopped)
    }

    @Test func errorParametersUseTheAPIsSnakeCaseNames() {
        #expect(APIServer.snake("maxCompletionTokens") == "max_completion_tokens")
    }
}
