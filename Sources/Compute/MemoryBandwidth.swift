/// A memory-read bandwidth figure for `this-machine` in `feather fit` and `feather compare`.
extension KernelBenchmark {
    /// Bytes per second of two 128 MiB f32 arrays streamed through the f32 dot kernel with `threads`
    /// threads (the `memory-read` probe of `feather bench --kernels`), best of three.
    public static func memoryReadBandwidth(threads: Int, isa: ISA = .preferred) throws(ComputeError) -> Double {
        memoryProbe(pools: [try ThreadPool(threads: threads)], isa: isa, report: { _ in }).first.map { $0.gigabytesPerSecond * 1e9 } ?? 0
    }
}
