import Foundation
import Testing
@testable import Templates

/// Hostile templates end quickly with a clear error instead of exhausting time or memory.
struct SandboxTests {
    /// The default limits but for the wall-clock budget, which a loaded machine could reach before the
    /// limit a test is about (RenderBudgetTests covers it).
    static let limits: RenderLimits = {
        var limits = RenderLimits()
        limits.maxSeconds = 600
        return limits
    }()

    func renderError(_ source: String, _ context: [String: Value] = [:], limits: RenderLimits = limits) -> TemplateError? {
        let start = ContinuousClock.now
        // A bound against hangs, generous because tests run as a debug build on shared CPUs.
        defer { #expect(ContinuousClock.now - start < .seconds(60), "took too long: \(source)") }
        do {
            _ = try Template(source: source).render(context: context, options: RenderOptions(limits: limits))
            Issue.record("expected an error for \(source)")
            return nil
        } catch let error as TemplateError {
            return error
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    @Test func hugeRangeIsRefused() {
        let error = renderError("{% for i in range(10**9) %}x{% endfor %}")
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("MAX_RANGE") == true)
    }

    @Test func nestedLoopsHitTheIterationLimit() {
        let error = renderError("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("loop iterations") == true)
    }

    @Test func hugeStringMultiplicationIsRefused() {
        let error = renderError("{{ 'x' * 10**9 }}")
        #expect(error?.kind == .limit)
    }

    @Test func outputGrowthByConcatenationIsRefused() {
        let source = "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"
        let error = renderError(source)
        #expect(error?.kind == .limit)
    }

    @Test func repeatedLargeTemporaryStringsHitTheWorkLimit() {
        var limits = Self.limits
        limits.maxSteps = .max
        limits.maxBuiltBytes = 100 << 20
        let error = renderError("{% for i in range(100000) %}{{ ('x' * 10000000) | length }}{% endfor %}", limits: limits)
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("in total") == true)
    }

    @Test func outputLimitCountsPrintedText() {
        var limits = Self.limits
        limits.maxOutputBytes = 1000
        let error = renderError("{% for i in range(1000) %}{{ i }}{% endfor %}", limits: limits)
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("1000 bytes") == true)
    }

    @Test func deepMacroRecursionIsRefused() {
        let error = renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("nested") == true)
    }

    @Test func exponentialMacroFanOutHitsALimit() {
        // Macro calls count against the same budget as loop iterations (lowered here to keep the debug build fast).
        var limits = Self.limits
        limits.maxLoopIterations = 100_000
        let error = renderError("{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}", limits: limits)
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("macro calls") == true)
    }

    @Test func listGrowthByDoublingIsRefused() {
        let error = renderError("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}")
        #expect(error?.kind == .limit)
    }

    @Test func deeplyNestedValuesAreRefused() {
        let error = renderError("{% set ns = namespace(x=1) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}")
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("nested") == true)
    }

    @Test(arguments: ["{{ 'x' | indent(10**9) }}", "{{ 'x' | center(10**9) }}", "{{ [[1, 2], [3]] | tojson(indent=10**8) }}",
                      "{{ ('a' * 1000000) | replace('a', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb') }}"])
    func hugeFilterResultsAreRefused(_ source: String) {
        #expect(renderError(source)?.kind == .limit)
    }

    @Test func sortingAndUniqueOfLargeListsStayFast() throws {
        let template = try Template(source: "{{ (range(100000) | list | reverse | sort)[:3] }}{{ (range(100000) | unique | list | length) }}")
        let start = ContinuousClock.now
        #expect(try template.render(context: [:]) == "[0, 1, 2]100000")
        #expect(ContinuousClock.now - start < .seconds(60))
    }

    @Test(arguments: ["{{ range(-(2**62), 2**62) | list }}", "{{ range(-9223372036854775807, 9223372036854775807, 2) }}",
                      "{{ (-9223372036854775807 - 1) | abs }}", "{{ (-9223372036854775807 - 1) // -1 }}"])
    func extremeIntegersEndWithAnError(_ source: String) {
        #expect(renderError(source)?.kind == .limit)
    }

    @Test func extremeValuesDoNotTrap() throws {
        let source = "{{ [1, 2, 3][1::9223372036854775807] }}{{ [1, 2, 3][::-9223372036854775807] }}{{ 1e300 | int }}"
            + "{{ (-9223372036854775807 - 1) % -1 }}{{ '1e300' | int(5) }}"
        #expect(try Template(source: source).render(context: [:]) == "[2][3]005")
    }

    @Test func badIntBaseIsAnError() {
        #expect(renderError("{{ '12' | int(0, 1) }}")?.kind == .type)
    }

    @Test func integerOverflowIsAnError() {
        #expect(renderError("{{ 2 ** 100000 }}")?.kind == .limit)
    }

    @Test(arguments: ["{{ ''.__class__ }}", "{{ x.__class__.__mro__ }}", "{{ x.a._private }}", "{{ namespace().__init__ }}",
                      "{{ range.__globals__ }}", "{{ x.__dict__ }}", "{{ loop.__class__ }}"])
    func privateAttributesAreRefused(_ source: String) {
        let error = renderError(source, ["x": ["a": 1]])
        #expect(error?.kind == .security || error?.kind == .undefined)
    }

    @Test func underscoreKeysOfDataAreJustData() throws {
        let template = try Template(source: "[{{ x['__class__'] }}][{{ x._id }}][{{ x['_id'] }}]")
        #expect(try template.render(context: ["x": ["_id": 7]]) == "[][7][7]")
    }

    @Test func mutatingMethodsAreRefused() {
        let error = renderError("{% set xs = [] %}{{ xs.append(1) }}")
        #expect(error?.kind == .security)
        #expect(error?.message == "access to attribute 'append' of 'list' object is unsafe.")
    }

    @Test func deeplyNestedExpressionIsASyntaxError() {
        let source = "{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}"
        let error = renderError(source)
        #expect(error?.kind == .syntax)
    }

    @Test func unsupportedStatementsAreRefused() {
        #expect(renderError("{% include 'other.jinja' %}")?.kind == .unsupported)
        #expect(renderError("{% extends 'base' %}")?.kind == .unsupported)
    }
}

/// More hostile shapes: nested blocks, mutual recursion, output built by loops of macro calls.
struct HostileTemplateTests {
    func kind(_ source: String) -> TemplateError.Kind? {
        do { _ = try Template(source: source).render(context: [:]); return nil } catch let e as TemplateError { return e.kind } catch { return nil }
    }

    @Test func deeplyNestedBlocksAreASyntaxError() {
        let source = String(repeating: "{% if true %}", count: 5000) + "x" + String(repeating: "{% endif %}", count: 5000)
        #expect(kind(source) == .syntax)
    }

    @Test func mutualRecursionIsBounded() {
        #expect(kind("{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n) }}{% endmacro %}{{ a(0) }}") == .limit)
    }

    @Test func hugeOutputFromMacroLoopsIsBounded() {
        let source = "{% macro big() %}{{ 'x' * 1000000 }}{% endmacro %}{% for i in range(100) %}{{ big() }}{% endfor %}"
        #expect(kind(source) == .limit)
    }
}
