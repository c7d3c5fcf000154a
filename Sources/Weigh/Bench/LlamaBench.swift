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

/// Runs llama.cpp's `llama-bench` for single tests and reads its JSON output.
public struct LlamaBench: Sendable {
    public let executable: String
    public var repetitions: Int
    public var cacheType: String

    public init(executable: String, repetitions: Int, cacheType: String = "f16") throws(BenchError) {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw .badOption("--vs-llama-cpp: '\(executable)' is not an executable file (build it with scripts/oracle/build-llamacpp.sh)")
        }
        self.executable = executable
        self.repetitions = repetitions
        self.cacheType = cacheType
    }

    /// llama-bench's array of tests from its `-o json` output.
    public static func parse(_ data: Data) throws(BenchError) -> [LlamaBenchRecord] {
        do {
            return try JSONDecoder().decode([LlamaBenchRecord].self, from: data)
        } catch {
            throw .llamaBenchOutput("\(error)")
        }
    }

    /// Command-line arguments that make llama-bench run exactly `spec` (and nothing else).
    public func arguments(model: String, spec: BenchTestSpec) -> [String] {
        var args = ["-m", model, "-t", "\(spec.threads)", "-r", "\(repetitions)", "-d", "\(spec.depth)",
                    "-ctk", cacheType, "-ctv", cacheType, "-o", "json"]
        if spec.nPrompt > 0 && spec.nGen > 0 {
            args += ["-p", "0", "-n", "0", "-pg", "\(spec.nPrompt),\(spec.nGen)"]
        } else {
            args += ["-p", "\(spec.nPrompt)", "-n", "\(spec.nGen)"]
        }
        return args
    }

    /// Runs one test; the peak RSS is the llama-bench process's.
    public func run(model: String, spec: BenchTestSpec) throws -> (LlamaBenchRecord, peakResidentBytes: Int) {
        let outcome = try ChildProcess.run(executable, arguments(model: model, spec: spec))
        guard outcome.status == 0 else {
            let lines = String(decoding: outcome.stderr, as: UTF8.self).split(separator: "\n")
            throw BenchError.llamaBenchFailed(status: outcome.status, message: lines.last.map(String.init) ?? "")
        }
        let records = try Self.parse(outcome.stdout)
        guard let record = records.first(where: {
            $0.nPrompt == spec.nPrompt && $0.nGen == spec.nGen && ($0.nDepth ?? 0) == spec.depth
        }) else {
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
            peakResidentBytes: rss, ratio: r.avgTokensPerSecond > 0 ? test.meanTokensPerSecond / r.avgTokensPerSecond : 0)
    }
}
