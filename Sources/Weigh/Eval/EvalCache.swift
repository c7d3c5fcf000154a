import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Finished items, one JSON line each, appended and written through as each item ends, keyed by
/// the hash of the item's requests. A run killed at any moment loses at most the line being
/// written; a torn last line is ignored and overwritten on the next start. A second run on the same
/// file (another process, or another EvalCache in this one) is refused while this one is open.
public actor EvalCache {
    struct Entry: Codable {
        var key: String
        var task: String
        var result: ItemResult
        /// The item's compute time (absent in older caches): seconds from its cache miss, or from the
        /// previous store if that came later, to its store.
        var seconds: Double?
    }

    public let path: String
    private var entries: [String: ItemResult] = [:]
    /// Compute seconds by task and item id, of this run and every earlier one.
    private var seconds: [String: Double] = [:]
    /// When this run last stored an item.
    private var lastStore: Date?
    /// When each key missed, to time the item until it is stored.
    private var missedAt: [String: Date] = [:]
    private let handle: FileHandle

    public init(path: String) throws {
        self.path = path
        // Close-on-exec: a process started meanwhile (a sandboxed program, a server) would otherwise inherit
        // the descriptor and hold the lock after this cache is closed.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EvalError.badOption("cannot open cache \(path) for writing") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        // One run at a time per cache: two runs on one output directory each appended at their own
        // idea of the file's end and overwrote each other's lines. The lock goes with the handle.
        guard flock(handle.fileDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            throw EvalError.badOption("cache \(path) is in use by another feather eval; one run per output directory (-o)")
        }
        self.handle = handle
        let data = (try? handle.readToEnd()) ?? Data()
        var entries: [String: ItemResult] = [:]
        var seconds: [String: Double] = [:]
        var goodEnd = 0
        var start = 0
        let bytes = [UInt8](data)
        let decoder = JSONDecoder()
        while start < bytes.count {
            guard let nl = bytes[start...].firstIndex(of: 0x0A) else { break }
            if let e = try? decoder.decode(Entry.self, from: Data(bytes[start..<nl])) {
                entries[e.key] = e.result
                if let t = e.seconds { seconds[Self.itemKey(e.task, e.result.id)] = t }
            }
            start = nl + 1
            goodEnd = start
        }
        self.entries = entries
        self.seconds = seconds
        // Drop a torn last line (the process died while writing it).
        try handle.truncate(atOffset: UInt64(goodEnd))
        try handle.seekToEnd()
    }

    /// Closes the file (and gives up the lock): the cache takes no more items.
    public func close() {
        try? handle.close()
    }

    public func lookup(_ key: String) -> ItemResult? {
        if let hit = entries[key] { return hit }
        missedAt[key] = Date()
        return nil
    }

    static func itemKey(_ task: String, _ id: String) -> String { task + "\u{0}" + id }

    /// Summed compute seconds of these items (whichever run computed them) and how many have a time.
    public func computeSeconds(task: String, ids: [String]) -> (seconds: Double, timed: Int) {
        var total = 0.0, timed = 0
        for id in ids { if let t = seconds[Self.itemKey(task, id)] { total += t; timed += 1 } }
        return (total, timed)
    }

    public var count: Int { entries.count }

    /// Appends one finished item with a single write(2), so the line reaches the file at once.
    public func store(_ key: String, task: String, _ result: ItemResult) throws {
        entries[key] = result
        // With several items in flight (a batched or concurrent backend), an item's latency
        // overlaps the others'; its share is the time since the previous item was stored, so a
        // run's item times add up to its wall-clock time, not to the in-flight count times it.
        let now = Date()
        let t = missedAt.removeValue(forKey: key).map { missed in
            now.timeIntervalSince(lastStore.map { max($0, missed) } ?? missed)
        }
        lastStore = now
        if let t { seconds[Self.itemKey(task, result.id)] = t }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(Entry(key: key, task: task, result: result, seconds: t))
        line.append(0x0A)
        try handle.write(contentsOf: line)
    }
}
