import Foundation
import Testing
@testable import Weigh

/// The cache's item compute times: one item at a time, each is its own latency; with items in
/// flight together, each counts from the previous store, so a run's times add up to its wall time.
@Suite struct EvalCacheTests {
    static func item(_ id: String) -> ItemResult { ItemResult(id: id, prompt: "p", target: "0", metrics: ["acc": 1]) }

    @Test func overlappedItemsAddUpToTheWallTime() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = (dir as NSString).appendingPathComponent("cache.jsonl")
        let cache = try EvalCache(path: path)
        let start = Date()
        // Three items miss together (a batch), then finish one after another.
        for id in ["a", "b", "c"] { #expect(await cache.lookup(id) == nil) }
        for id in ["a", "b", "c"] {
            try await Task.sleep(nanoseconds: 50_000_000)
            try await cache.store(id, task: "t", Self.item(id))
        }
        let wall = Date().timeIntervalSince(start)
        let (total, timed) = await cache.computeSeconds(task: "t", ids: ["a", "b", "c"])
        #expect(timed == 3)
        // Latencies would sum to ~0.3 s (0.05 + 0.10 + 0.15); the shares sum to the ~0.15 s wall time.
        #expect(total <= wall + 1e-6)
        #expect(total >= 0.15)
        // One at a time, an item's time is its own latency (bounded by the time around it: under a
        // loaded test run the sleep itself may take much longer than asked).
        try await Task.sleep(nanoseconds: 20_000_000)
        let before = Date()
        #expect(await cache.lookup("d") == nil)
        try await Task.sleep(nanoseconds: 30_000_000)
        try await cache.store("d", task: "t", Self.item("d"))
        let around = Date().timeIntervalSince(before)
        let (d, _) = await cache.computeSeconds(task: "t", ids: ["d"])
        #expect(d >= 0.03 && d <= around)
        // The times are kept in the file for a later run.
        await cache.close()
        let reopened = try EvalCache(path: path)
        let (again, timedAgain) = await reopened.computeSeconds(task: "t", ids: ["a", "b", "c", "d"])
        #expect(timedAgain == 4)
        #expect(abs(again - (total + d)) < 1e-9)
    }

    /// A second run on the same cache is refused with a clear error while the first has it open
    /// (two runs on one output directory overwrote each other's lines), and allowed after.
    @Test func oneRunAtATimePerCache() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = (dir as NSString).appendingPathComponent("cache.jsonl")
        let first = try EvalCache(path: path)
        #expect(await first.lookup("a") == nil)
        try await first.store("a", task: "t", Self.item("a"))
        #expect {
            _ = try EvalCache(path: path)
        } throws: { error in
            "\(error)".contains("in use by another feather eval")
        }
        await first.close()
        let second = try EvalCache(path: path)
        #expect(await second.lookup("a") != nil)
        await second.close()
    }
}
