// Kernel throughput benchmark: `swift run -c release kernel-bench [isa|best] [type ...]`.
import Compute
import GGUF

let args = Array(CommandLine.arguments.dropFirst())
let isa = try ISA.select(args.first.flatMap { $0 == "best" ? nil : $0 })
let types = args.dropFirst().compactMap { name in GGMLType.allCases.first { $0.name == name } }
print("isa \(isa.rawValue), physical cores \(ThreadPool.physicalCores)")
_ = try KernelBenchmark.run(types: types.isEmpty ? KernelBenchmark.defaultTypes : types, isa: isa)
