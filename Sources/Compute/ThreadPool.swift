import CKernels
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of worker threads, started once and reused for every parallel op. The calling
/// thread takes part as worker 0. Workers wait for work by spinning briefly, then sleeping on a
/// condition variable; the caller waits for them the same way. Calls from several threads at once
/// take turns; a `run` body must not call `run` on the same pool (it would wait on itself).
public final class ThreadPool: @unchecked Sendable {
    /// Threads that run a `parallelFor`, the caller included.
    public let threads: Int
    private let shared: PoolShared
    private var workers: [pthread_t] = []

    /// `threads` defaults to the number of physical cores. Throws when the system refuses a thread
    /// (the workers already started are stopped and joined by deinit).
    public convenience init(threads: Int = ThreadPool.physicalCores) throws(ComputeError) {
        try self.init(threads: threads, spawn: ThreadPool.spawn)
    }

    /// A started worker thread, or pthread_create's error code.
    typealias Spawn = (_ context: UnsafeMutableRawPointer) -> Result<pthread_t, SpawnError>
    struct SpawnError: Error { let code: Int32 }

    /// `spawn` starts one worker with its context (tests pass one that fails).
    init(threads: Int, spawn: Spawn) throws(ComputeError) {
        self.threads = max(1, threads)
        shared = PoolShared()
        for index in 1..<self.threads {
            let context = Unmanaged.passRetained(WorkerContext(shared: shared, index: index)).toOpaque()
            switch spawn(context) {
            case .success(let handle): workers.append(handle)
            case .failure(let e):
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                throw .threadStart(requested: self.threads, started: index, code: e.code)
            }
        }
    }

    static func spawn(_ context: UnsafeMutableRawPointer) -> Result<pthread_t, SpawnError> {
        #if canImport(Darwin)
        var handle: pthread_t?  // an optional pointer on Darwin, an integer on Linux
        #else
        var handle = pthread_t()
        #endif
        let rc = pthread_create(&handle, nil, { raw in
            #if canImport(Darwin)
            let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
            #else
            let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
            #endif
            context.shared.workerLoop(index: context.index)
            return nil
        }, context)
        guard rc == 0 else { return .failure(SpawnError(code: rc)) }
        #if canImport(Darwin)
        return .success(handle!)
        #else
        return .success(handle)
        #endif
    }

    deinit {
        shared.shutdown()
        for tid in workers { pthread_join(tid, nil) }
    }

    /// Runs `body(worker)` once on every thread of the pool (worker in 0..<threads) and returns
    /// when all have finished.
    public func run(_ body: (Int) -> Void) {
        if threads == 1 {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { job in
            shared.dispatch(job, workers: threads - 1)
        }
    }

    /// Splits 0..<count into one contiguous range per thread (multiples of `granularity`, except
    /// the last) and runs `body` on each. Small counts run on the caller alone.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let g = max(1, granularity)
        let units = (count + g - 1) / g
        let n = min(threads, units)
        if n <= 1 {
            body(0..<count)
            return
        }
        let per = units / n, extra = units % n
        run { worker in
            guard worker < n else { return }
            let startUnit = worker * per + min(worker, extra)
            let endUnit = startUnit + per + (worker < extra ? 1 : 0)
            let range = min(count, startUnit * g)..<min(count, endUnit * g)
            if !range.isEmpty { body(range) }
        }
    }

    /// 0..<count in chunks of `chunk` for work whose speed differs between threads: thread t starts
    /// on share t (a contiguous 1/threads of the chunks) and takes its chunks in order; a thread done
    /// with its own share takes what is left of the others', so the threads finish together.
    /// body(range, shareEnd): shareEnd is where the range's share ends (the rows the same thread
    /// most likely takes next: worth prefetching).
    public func parallelForChunks(_ count: Int, chunk: Int, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let c = max(1, chunk)
        let chunks = (count + c - 1) / c
        let n = min(threads, chunks)
        if n <= 1 {
            body(0..<count, count)
            return
        }
        // One counter per share (the next chunk to take), 64 bytes apart.
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: n * 8) { buf in
            let next = buf.baseAddress!
            for t in 0..<n { next[t * 8] = Int64(t * chunks / n) }
            run { worker in
                guard worker < n else { return }
                for k in 0..<n {
                    let t = (worker + k) % n
                    let end = (t + 1) * chunks / n
                    let shareEnd = min(count, end * c)
                    while true {
                        let i = Int(fw_atomic_add(next + t * 8, 1)) - 1
                        if i >= end { break }
                        body(i * c ..< min(count, (i + 1) * c), shareEnd)
                    }
                }
            }
        }
    }

    /// Physical cores: distinct core sibling sets in sysfs on Linux, else the active processor count.
    public static var physicalCores: Int {
        #if os(Linux)
        var seen = Set<String>()
        let fm = FileManager.default
        if let cpus = try? fm.contentsOfDirectory(atPath: "/sys/devices/system/cpu") {
            for cpu in cpus where cpu.hasPrefix("cpu") && cpu.dropFirst(3).allSatisfy(\.isNumber) {
                let path = "/sys/devices/system/cpu/\(cpu)/topology/thread_siblings_list"
                if let s = try? String(contentsOfFile: path, encoding: .utf8) {
                    seen.insert(s.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
        }
        let online = ProcessInfo.processInfo.activeProcessorCount
        return seen.isEmpty ? online : min(seen.count, online)
        #else
        var n: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if sysctlbyname("hw.physicalcpu", &n, &size, nil, 0) == 0, n > 0 { return Int(n) }
        return ProcessInfo.processInfo.activeProcessorCount
        #endif
    }
}

private final class WorkerContext {
    let shared: PoolShared
    let index: Int
    init(shared: PoolShared, index: Int) {
        self.shared = shared
        self.index = index
    }
}

/// The state workers and the caller share. Counters are updated with C atomics; the job closure
/// is published under the mutex.
private final class PoolShared: @unchecked Sendable {
    /// Pause instructions a waiting thread spins before it sleeps: 8000 × ~10-65 cycles is roughly
    /// 25-150 µs, longer than the gap between the ops of one decode step.
    static let spinLimit = 8_000

    // counters[0]: generation (bumped per dispatch), [1]: workers still running, [2]: shutdown flag
    private let counters = UnsafeMutablePointer<Int64>.allocate(capacity: 3)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let callers = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workReady = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let workDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var job: ((Int) -> Void)?

    init() {
        counters.initialize(repeating: 0, count: 3)
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(callers, nil)
        pthread_cond_init(workReady, nil)
        pthread_cond_init(workDone, nil)
    }

    deinit {
        pthread_cond_destroy(workDone)
        pthread_cond_destroy(workReady)
        pthread_mutex_destroy(mutex)
        pthread_mutex_destroy(callers)
        callers.deallocate()
        workDone.deallocate()
        workReady.deallocate()
        mutex.deallocate()
        counters.deallocate()
    }

    func dispatch(_ body: @escaping (Int) -> Void, workers: Int) {
        // One dispatch at a time: concurrent callers queue here.
        pthread_mutex_lock(callers)
        defer { pthread_mutex_unlock(callers) }
        pthread_mutex_lock(mutex)
        job = body
        fw_atomic_store(counters + 1, Int64(workers))
        _ = fw_atomic_add(counters, 1)
        pthread_cond_broadcast(workReady)
        pthread_mutex_unlock(mutex)

        body(0)

        var spins = 0
        while fw_atomic_load(counters + 1) > 0 && spins < Self.spinLimit {
            fw_cpu_relax()
            spins += 1
        }
        pthread_mutex_lock(mutex)
        while fw_atomic_load(counters + 1) > 0 { pthread_cond_wait(workDone, mutex) }
        job = nil
        pthread_mutex_unlock(mutex)
    }

    func shutdown() {
        pthread_mutex_lock(mutex)
        fw_atomic_store(counters + 2, 1)
        _ = fw_atomic_add(counters, 1)
        pthread_cond_broadcast(workReady)
        pthread_mutex_unlock(mutex)
    }

    func workerLoop(index: Int) {
        var seen: Int64 = 0
        while true {
            var spins = 0
            while fw_atomic_load(counters) == seen && spins < Self.spinLimit {
                fw_cpu_relax()
                spins += 1
            }
            pthread_mutex_lock(mutex)
            while fw_atomic_load(counters) == seen { pthread_cond_wait(workReady, mutex) }
            seen = fw_atomic_load(counters)
            var work = job
            pthread_mutex_unlock(mutex)
            if fw_atomic_load(counters + 2) != 0 { return }
            work?(index)
            // Drop the closure before reporting done: run() checks it did not escape.
            work = nil
            if fw_atomic_add(counters + 1, -1) == 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_signal(workDone)
                pthread_mutex_unlock(mutex)
            }
        }
    }
}
