import Foundation

/// One test as llama-bench's `-o json` prints it (only the fields read here; others are ignored).
public struct LlamaBenchRecord: Decodable, Sendable, Equatable {
    public var buildCommit: String?
    public var buildNumber: Int?
    public var cpuInfo: String?
    public var modelFilename: String
    public var modelType: String?
    public var modelSize: Int?
    public var modelParams: Int?
    public var nThreads: Int
    public var nPrompt: Int
    public var nGen: Int
    public var nDepth: Int?
    public var typeK: String?
    public var avgTokensPerSecond: Double
    public var sdTokensPerSecond: Double
    public var samplesNanoseconds: [Int]
    public var samplesTokensPerSecond: [Double]

    enum CodingKeys: String, CodingKey {
        case buildCommit = "build_commit", buildNumber = "build_number", cpuInfo = "cpu_info"
        case modelFilename = "model_filename", modelType = "model_type", modelSize = "model_size"
        case modelParams = "model_n_params", nThreads = "n_threads", nPrompt = "n_prompt", nGen = "n_gen"
        case nDepth = "n_depth", typeK = "type_k", avgTokensPerSecond = "avg_ts", sdTokensPerSecond = "stddev_ts"
        case samplesNanoseconds = "samples_ns", samplesTokensPerSecond = "samples_ts"
    }

    /// The test name llama-bench's markdown table shows.
    public var testName: String {
        BenchTestSpec(nPrompt: nPrompt, nGen: nGen, depth: nDepth ?? 0, threads: nThreads).name
    }
}

/// Runs llama.cpp's `llama-bench` (or ik_llama.cpp's) for single tests and reads its JSON output.
public struct LlamaBench: Sendable {
    /// Whose llama-bench it is. ik_llama.cpp's has no `-d` (depth) and no `n_depth` in its JSON: a
    /// generation test at a depth is its `-gp DEPTH,N` test ("tgN@ppDEPTH": DEPTH prompt tokens
    /// untimed, then N timed generated tokens), reported with n_prompt = DEPTH.
    public enum Flavor: String, Codable, Sendable {
        case llamaCpp = "llama.cpp"
        case ikLlamaCpp = "ik_llama.cpp"

        /// From the binary's `--help` text: ik's lists its run-time repacking option, llama.cpp's has none.
        public static func detect(help: String) -> Flavor {
            help.contains("--run-time-repack") ? .ikLlamaCpp : .llamaCpp
        }
    }

    public let executable: String
    public var repetitions: Int
    public var cacheType: String
    public var flavor: Flavor
    /// Appended to every run (e.g. ik's `-rtr 1 -fa 1`).
    public var extraArguments: [String]

    /// `flavor` nil: detected from the binary's `--help` output.
    public init(executable: String, repetitions: Int, cacheType: String = "f16", extraArguments: [String] = [],
                flavor: Flavor? = nil) throws(BenchError) {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw .badOption("--vs-llama-cpp: '\(executable)' is not an executable file (build it with scripts/oracle/build-llamacpp.sh)")
        }
        self.executable = executable
        self.repetitions = repetitions
        self.cacheType = cacheType
        self.extraArguments = extraArguments
        if let flavor {
            self.flavor = flavor
        } else {
            let help = try? ChildProcess.run(executable, ["--help"])
            self.flavor = Flavor.detect(help: help.map {
                String(decoding: $0.stdout, as: UTF8.self) + String(decoding: $0.stderr, as: UTF8.self)
            } ?? "")
        }
    }

    /// llama-bench's array of tests from its `-o json` output.
    public static func parse(_ data: Data) throws(BenchError) -> [LlamaBenchRecord] {
        do {
            return try JSONDecoder().decode([LlamaBenchRecord].self, from: data)
        } catch {
            throw .llamaBenchOutput("\(error)")
        }
    }

    /// Whether this llama-bench can run `spec`: ik's has no prompt test at a depth.
    public func supports(_ spec: BenchTestSpec) -> Bool {
        !(flavor == .ikLlamaCpp && spec.depth > 0 && spec.nPrompt > 0)
    }

    /// Command-line arguments that make llama-bench run exactly `spec` (and nothing else).
    public func arguments(model: String, spec: BenchTestSpec) throws(BenchError) -> [String] {
        var args = ["-m", model, "-t", "\(spec.threads)", "-r", "\(repetitions)"]
        if flavor == .llamaCpp { args += ["-d", "\(spec.depth)"] }
        args += ["-ctk", cacheType, "-ctv", cacheType, "-o", "json"]
        if flavor == .ikLlamaCpp && spec.depth > 0 {
            guard supports(spec) else {
                throw .badOption("ik_llama.cpp's llama-bench has no depth for prompt tests (\(spec.name)); it times generation at a depth only")
            }
            args += ["-p", "0", "-n", "0", "-gp", "\(spec.depth),\(spec.nGen)"]
        } else if spec.nPrompt > 0 && spec.nGen > 0 {
            args += ["-p", "0", "-n", "0", "-pg", "\(spec.nPrompt),\(spec.nGen)"]
        } else {
            args += ["-p", "\(spec.nPrompt)", "-n", "\(spec.nGen)"]
        }
        return args + extraArguments
    }

    /// Whether `record` is `spec`'s result (ik reports a depth as the prompt of its `-gp` test).
    public func matches(_ record: LlamaBenchRecord, _ spec: BenchTestSpec) -> Bool {
        if flavor == .ikLlamaCpp && spec.depth > 0 {
            return record.nPrompt == spec.depth && record.nGen == spec.nGen && spec.nPrompt == 0
        }
        return record.nPrompt == spec.nPrompt && record.nGen == spec.nGen && (record.nDepth ?? 0) == spec.depth
    }

    /// Runs one test; the peak RSS is the llama-bench process's.
    public func run(model: String, spec: BenchTestSpec) throws -> (LlamaBenchRecord, peakResidentBytes: Int) {
        let outcome = try ChildProcess.run(executable, try arguments(model: model, spec: spec))
        guard outcome.status == 0 else {
            let lines = String(decoding: outcome.stderr, as: UTF8.self).split(separator: "\n")
            throw BenchError.llamaBenchFailed(status: outcome.status, message: lines.last.map(String.init) ?? "")
        }
        let records = try Self.parse(outcome.stdout)
        guard let record = records.first(where: { matches($0, spec) }) else {
            throw BenchError.llamaBenchOutput("no result for \(spec.name) in its output")
        }
        return (record, outcome.peakResidentBytes)
    }

    /// Fills `test.llamaCpp` with llama-bench's figures for the same test.
    public func compare(model: String, test: inout BenchTest) throws {
        let spec = BenchTestSpec(nPrompt: test.nPrompt, nGen: test.nGen, depth: test.depth, threads: test.threads)
        let (r, rss) = try run(model: model, spec: spec)
        test.llamaCpp = LlamaCppComparison(
            buildCommit: r.buildCommit, samplesTokensPerSecond: r.samplesTokensPerSecond,
            meanTokensPerSecond: r.avgTokensPerSecond, sdTokensPerSecond: r.sdTokensPerSecond,
            peakResidentBytes: rss, ratio: r.avgTokensPerSecond > 0 ? test.meanTokensPerSecond / r.avgTokensPerSecond : 0,
            implementation: flavor.rawValue, extraArguments: extraArguments.isEmpty ? nil : extraArguments)
    }
}
