import Foundation
import Testing
@testable import Weigh

/// `feather eval` killed with SIGKILL mid-run and started again gives the same items and numbers
/// as a run that was never interrupted, without redoing finished items.
@Suite(.serialized) struct ResumeTests {
    static let ready = featherExecutable != nil && embeddedModel("smollm2-135m") != nil && dataFile("mmlu_test.jsonl") != nil

    static func eval(_ out: String) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: featherExecutable!)
        p.arguments = ["eval", embeddedModel("smollm2-135m")!, "--tasks", "mmlu", "--sample", "24", "--seed", "5", "--shots", "1",
                       "-t", "2", "--ctx", "2048", "--data-dir", dataDirectory, "-o", out, "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        return p
    }

    static func lines(_ path: String) -> [Substring] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
    }

    @Test(.enabled(if: Needs.runs(ready), "needs .build/debug/feather, the embedded models and .data")) func killAndResumeMatchesAnUninterruptedRun() throws {
        try #require(Self.ready, "needs .build/debug/feather (swift build), .models/smollm2-135m.gguf and .data/mmlu_test.jsonl")
        let whole = temporaryDirectory(), resumed = temporaryDirectory()
        let a = Self.eval(whole)
        try a.run()
        a.waitUntilExit()
        #expect(a.terminationStatus == 0)

        let b = Self.eval(resumed)
        try b.run()
        // Kill it once a few items are in the cache and before it ends.
        var cachedAtKill = 0
        for _ in 0..<6000 {
            cachedAtKill = Self.lines(resumed + "/cache.jsonl").count
            if cachedAtKill >= 5 || !b.isRunning { break }
            usleep(20_000)
        }
        kill(b.processIdentifier, SIGKILL)
        b.waitUntilExit()
        #expect(b.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        let kept = Self.lines(resumed + "/cache.jsonl").count
        #expect(kept >= 5 && kept < 24)

        let c = Self.eval(resumed)
        try c.run()
        c.waitUntilExit()
        #expect(c.terminationStatus == 0)
        // Every item once in the cache: finished ones were not redone.
        #expect(Self.lines(resumed + "/cache.jsonl").count == 24)
        #expect(Self.lines(whole + "/samples_mmlu.jsonl") == Self.lines(resumed + "/samples_mmlu.jsonl"))
        let r1 = try JSONDecoder().decode(EvalReport.self, from: Data(contentsOf: URL(fileURLWithPath: whole + "/results.json")))
        let r2 = try JSONDecoder().decode(EvalReport.self, from: Data(contentsOf: URL(fileURLWithPath: resumed + "/results.json")))
        #expect(r1.tasks[0].metrics == r2.tasks[0].metrics)
        #expect(r2.tasks[0].cachedItems == kept)
        // The time of the items computed before the kill still counts: every item has one.
        #expect(r1.tasks[0].timedItems == 24 && r2.tasks[0].timedItems == 24)
        #expect((r2.tasks[0].itemSeconds ?? 0) > 0 && r2.tasks[0].itemSeconds! > r2.tasks[0].wallSeconds * 0.5 - 1)
    }
}
