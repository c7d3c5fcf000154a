import Foundation
import Testing
@testable import Templates

/// String methods run in linear time, and every render ends within its budget of steps and wall-clock
/// time, or when its task is cancelled. Time bounds are loose (shared CPUs); the work they guard
/// against takes minutes to hours.
struct RenderBudgetTests {
    /// Limits that leave only the string limits in force, so a timing test measures the method itself.
    static let unhurried: RenderLimits = {
        var limits = RenderLimits()
        limits.maxSteps = .max
        limits.maxSeconds = 600
        return limits
    }()

    func render(_ source: String, limits: RenderLimits = unhurried, within bound: Duration) throws -> String {
        let start = ContinuousClock.now
        defer { #expect(ContinuousClock.now - start < bound, "took too long: \(source)") }
        return try Template(source: source).render(context: [:], options: RenderOptions(limits: limits))
    }

    /// The error a render ends with, and how long it took.
    func failure(_ source: String, limits: RenderLimits = RenderLimits()) -> (TemplateError?, Duration) {
        let start = ContinuousClock.now
        do {
            _ = try Template(source: source).render(context: [:], options: RenderOptions(limits: limits))
            Issue.record("expected an error for \(source)")
            return (nil, ContinuousClock.now - start)
        } catch let error as TemplateError {
            return (error, ContinuousClock.now - start)
        } catch {
            Issue.record("unexpected error \(error)")
            return (nil, ContinuousClock.now - start)
        }
    }

    @Test func replaceMethodIsLinear() throws {
        #expect(try render("{{ ('x' * 1048576).replace('x', 'y') | length }}", within: .seconds(15)) == "1048576")
    }

    @Test func replaceFilterIsLinear() throws {
        #expect(try render("{{ ('x' * 1048576) | replace('x', 'yz') | length }}", within: .seconds(15)) == "2097152")
    }

    @Test func findIsLinear() throws {
        #expect(try render("{{ ('a' * 1000000).find('a' * 500000 ~ 'b') }}", within: .seconds(15)) == "-1")
        #expect(try render("{{ ('a' * 1000000 ~ 'b').find('a' * 500000 ~ 'b') }}", within: .seconds(15)) == "500000")
    }

    @Test func otherSearchesAreLinear() throws {
        let source = "{{ ('a' * 1000000).rfind('b' ~ 'a' * 500000) }}|{{ ('a' * 500000 ~ 'b') in ('a' * 1000000) }}"
            + "|{{ ('a' * 1000000).count('a' * 500000 ~ 'b') }}|{{ ('a' * 1000000).split('a' * 500000 ~ 'b') | length }}"
            + "|{{ ('ab' * 500000).split('b') | length }}|{{ ('ab' * 500000).rsplit('a', 3) | length }}"
        #expect(try render(source, within: .seconds(15)) == "-1|False|0|1|500001|4")
    }

    @Test func loopsOfLinearWorkRunOutOfBudget() {
        // 10^10 list comparisons without the budget; the loops alone stay under the 10^6 iteration limit.
        let (error, took) = failure("""
            {% set big = range(100000) | list %}{% for i in range(1000) %}{% for j in range(1000) %}\
            {% if -1 in big %}{% endif %}{% endfor %}{% endfor %}
            """)
        #expect(error?.kind == .limit)
        #expect(error?.message == "template exceeded its render budget (20000000 steps / 2 s)")
        #expect(error?.line == 1)
        #expect(took < .seconds(10))
    }

    @Test func theStepBudgetIsCounted() {
        var limits = RenderLimits()
        limits.maxSteps = 100_000
        limits.maxSeconds = 600
        let (error, took) = failure("{% for i in range(1000) %}{% for j in range(1000) %}{{ i + j }}{% endfor %}{% endfor %}", limits: limits)
        #expect(error?.message == "template exceeded its render budget (100000 steps / 600 s)")
        #expect(took < .seconds(10))
    }

    @Test func theWallClockBudgetIsChecked() {
        var limits = RenderLimits()
        limits.maxSteps = .max
        limits.maxSeconds = 0.5
        let (error, took) = failure("{% set big = range(100000) | list %}{% for i in range(1000) %}{% for j in range(1000) %}{{ -1 in big }}{% endfor %}{% endfor %}", limits: limits)
        #expect(error?.message == "template exceeded its render budget (\(Int.max) steps / 0.5 s)")
        #expect(took >= .milliseconds(500))
        #expect(took < .seconds(10))
    }

    @Test func theBudgetLeavesRoomForLargeConversations() throws {
        // 400 messages of 10 KB each through a ChatML-style template: far below the budget.
        let message: Value = ["role": "user", "content": .string(String(repeating: "word ", count: 2000))]
        let template = try ChatTemplate(source: """
            {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>\\n' }}\
            {% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
            """)
        let text = try template.render(messages: Array(repeating: message, count: 400), addGenerationPrompt: true)
        #expect(text.utf8.count > 4_000_000)
    }

    @Test func cancellingTheTaskStopsTheRender() async throws {
        let template = try Template(source: "{% set big = range(100000) | list %}{% for i in range(1000) %}{% for j in range(1000) %}{{ -1 in big }}{% endfor %}{% endfor %}")
        let render = Task { try template.render(context: [:]) }
        // Cancelled from a Dispatch thread, which a cooperative pool busy with other tests cannot delay.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { render.cancel() }
        // Not the budget error that ends the render after 2 s: the cancellation reached the render.
        await #expect(throws: CancellationError.self) { try await render.value }
    }

    @Test func isCancelledStopsARenderOutsideAnyTask() throws {
        let template = try Template(source: "{% set big = range(100000) | list %}{% for i in range(1000) %}{% for j in range(1000) %}{{ -1 in big }}{% endfor %}{% endfor %}")
        let deadline = ContinuousClock.now + .milliseconds(200)
        let options = RenderOptions(limits: Self.unhurried, isCancelled: { ContinuousClock.now > deadline })
        #expect(throws: CancellationError.self) { try template.render(context: [:], options: options) }
        #expect(ContinuousClock.now - deadline < .seconds(10))
    }

    // MARK: The byte-level searches give Python's answers

    /// Python's leftmost non-overlapping matches, on scalars, the obvious way.
    static func reference(_ hay: [Unicode.Scalar], _ pin: [Unicode.Scalar], fromRight: Bool = false) -> [Int] {
        var result: [Int] = []
        if fromRight {
            var i = hay.count - pin.count
            while i >= 0 {
                if Array(hay[i..<i + pin.count]) == pin { result.insert(i, at: 0); i -= pin.count } else { i -= 1 }
            }
        } else {
            var i = 0
            while i + pin.count <= hay.count {
                if Array(hay[i..<i + pin.count]) == pin { result.append(i); i += pin.count } else { i += 1 }
            }
        }
        return result
    }

    @Test func searchesMatchAReferenceOnRandomText() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [Unicode.Scalar] = ["a", "b", "é", "😀"]
        for _ in 0..<500 {
            let hay = (0..<Int.random(in: 0...30, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let pin = (0..<Int.random(in: 1...4, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let s = String(scalars: hay), p = String(scalars: pin)
            let left = Self.reference(hay, pin), right = Self.reference(hay, pin, fromRight: true)
            let context: [String: Value] = ["s": .string(s), "p": .string(p)]
            let rendered = try Template(source: "{{ s.find(p) }}|{{ s.rfind(p) }}|{{ s.count(p) }}|{{ p in s }}|{{ s.replace(p, '-') }}|{{ s.split(p) | join('/') }}|{{ s.rsplit(p) | join('/') }}|{{ s.rsplit(p, 1) | join('/') }}")
                .render(context: context)
            func pieces(_ cuts: [Int]) -> String {
                var parts: [String] = [], start = 0
                for cut in cuts { parts.append(String(scalars: hay[start..<cut])); start = cut + pin.count }
                return (parts + [String(scalars: hay[start...])]).joined(separator: "/")
            }
            let expected = "\(left.first ?? -1)|\(right.last ?? -1)|\(left.count)|\(left.isEmpty ? "False" : "True")|"
                + pieces(left).replacingOccurrences(of: "/", with: "-") + "|" + pieces(left) + "|" + pieces(right) + "|"
                + pieces(Array(right.suffix(1)))
            #expect(rendered == expected, "\(s) / \(p)")
        }
    }
}
