// Kernel throughput benchmark: `swift run -c release kernel-bench [isa]`.
import Compute

let isa = try ISA.select(CommandLine.arguments.dropFirst().first)
print("isa \(isa.rawValue), physical cores \(ThreadPool.physicalCores)")
_ = try KernelBenchmark.run(isa: isa)
