import CKernels
@testable import Compute
import Foundation
import Testing

struct ThreadPoolTests {
    @Test(arguments: [1, 2, 4])
    func parallelForCoversEveryIndexOnce(threads: Int) throws {
        let pool = try ThreadPool(threads: threads)
        for count in [0, 1, 5, 16, 17, 1000] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0, count: max(count, 1))
            pool.parallelFor(count, granularity: 4) { range in
                for i in range { hits[i] += 1 }
            }
            #expect((0..<count).allSatisfy { hits[$0] == 1 }, "count \(count), \(threads) threads")
            hits.deallocate()
        }
    }

    /// Many back-to-back dispatches (spinning and sleeping workers both) lose no work.
    /// Chunks cover every index once, and each chunk's share end is the end of the share holding it
    /// (share t = chunks t * chunks / n ..< (t + 1) * chunks / n), also when one thread is slow and
    /// the other takes over its chunks.
    @Test(arguments: [1, 2, 3])
    func parallelForChunksCoversEveryIndexOnce(threads: Int) throws {
        let pool = try ThreadPool(threads: threads)
        for (count, chunk) in [(0, 16), (1, 16), (17, 16), (100, 7), (1000, 64), (960, 64)] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0, count: max(count, 1))
            let ends = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            ends.initialize(repeating: -1, count: max(count, 1))
            let chunks = (count + chunk - 1) / chunk, n = min(threads, max(chunks, 1))
            pool.parallelForChunks(count, chunk: chunk) { range, shareEnd in
                if range.lowerBound == 0 { usleep(3000) }  // thread 0 slow: the others take its chunks
                for i in range {
                    hits[i] += 1
                    ends[i] = shareEnd
                }
            }
            for i in 0..<count {
                let share = (0..<n).first { t in i / chunk < (t + 1) * chunks / n }!
                #expect(hits[i] == 1, "count \(count), index \(i), \(threads) threads")
                #expect(ends[i] == min(count, (share + 1) * chunks / n * chunk), "share end of \(i)")
            }
            hits.deallocate()
            ends.deallocate()
        }
    }

    @Test func manyDispatchesComplete() throws {
        let pool = try ThreadPool(threads: 2)
        let counter = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        counter.initialize(to: 0)
        defer { counter.deallocate() }
        for round in 0..<2000 {
            pool.run { _ in _ = fw_atomic_add(counter, 1) }
            if round % 500 == 0 { usleep(2000) }  // let workers fall asleep now and then
        }
        #expect(fw_atomic_load(counter) == 4000)
    }

    /// A thread the system refuses is an error, not a crash: the workers already started stop and
    /// are joined, and the error names the thread and the cause.
    @Test func refusedThreadIsAnError() throws {
        var started = 0
        let error = #expect(throws: ComputeError.self) {
            _ = try ThreadPool(threads: 6) { context in
                if started == 3 { return .failure(.init(code: EAGAIN)) }
                started += 1
                return ThreadPool.spawn(context)
            }
        }
        #expect(error == .threadStart(requested: 6, started: 4, code: EAGAIN))
        #expect(error?.description.contains("could not start thread 5 of 6") == true)
        // The pool still works after a failure elsewhere.
        let pool = try ThreadPool(threads: 2)
        var hits = [0, 0]
        hits.withUnsafeMutableBufferPointer { h in pool.run { h[$0] += 1 } }
        #expect(hits == [1, 1])
    }

    @Test func defaultsToPhysicalCores() throws {
        #expect(ThreadPool.physicalCores >= 1)
        #expect(try ThreadPool().threads == ThreadPool.physicalCores)
    }
}

extension ThreadPoolTests {
    /// Callers on several threads share one pool: each run completes with its own work.
    @Test func concurrentCallersTakeTurns() async throws {
        let pool = try ThreadPool(threads: 2)
        let totals = await withTaskGroup(of: Int.self) { group in
            for caller in 0..<4 {
                group.addTask {
                    var total = 0
                    for _ in 0..<200 {
                        let sums = UnsafeMutablePointer<Int>.allocate(capacity: 2)
                        sums.initialize(repeating: 0, count: 2)
                        pool.run { worker in sums[worker] = caller + 1 }
                        total += sums[0] + sums[1]
                        sums.deallocate()
                    }
                    return total
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(totals.sorted() == [400, 800, 1200, 1600])
    }
}
