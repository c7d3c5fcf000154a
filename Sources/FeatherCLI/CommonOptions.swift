import ArgumentParser
import Backends
import Foundation

/// The sampler's options of `run` and `chat`, as llama.cpp's CLI names them; checked before a model loads.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy.") var temp: Float = 0.8
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @Option(name: .customLong("top-k")) var topK = 40
    @Option(name: .customLong("top-p")) var topP: Float = 0.95
    @Option(name: .customLong("min-p")) var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty")) var repeatPenalty: Float = 1

    var sampling: Sampling {
        Sampling(temperature: temp, topK: topK, topP: topP, minP: minP, repetitionPenalty: repeatPenalty, seed: seed)
    }

    func validate() throws {
        do { try sampling.validate() } catch { throw ValidationError("\(error)") }
    }
}

/// Checks shared by the commands' `validate()`: values no command can run with are refused
/// before a model is loaded, with the option's name.
enum CommonOptions {
    /// The CPUs this process may use: more threads than these only take turns (and a spinning
    /// pool oversubscribed crawls: -t 1000 on 2 cores took minutes for 4 tokens).
    static var cpus: Int { ProcessInfo.processInfo.activeProcessorCount }

    static func checkThreads(_ t: Int?, option: String = "-t") throws {
        guard let t else { return }
        guard t >= 1 else { throw ValidationError("\(option) must be at least 1 (got \(t))") }
        guard t <= cpus else { throw ValidationError("\(option) \(t): this machine has \(cpus) CPUs; use at most \(cpus) threads") }
    }

    static func threads(_ t: Int?) -> Int { LocalModelOptions(threads: t).resolvedThreads }

    static func checkContext(_ ctx: Int) throws {
        guard ctx >= 8 else { throw ValidationError("--ctx must be at least 8 (got \(ctx))") }
    }

    static func checkMaxTokens(_ n: Int) throws {
        guard n >= 0 else { throw ValidationError("-n must be at least 0 (got \(n))") }
    }

    /// A UTF-8 text file's contents, or one line saying why not (Foundation's errors print as raw NSError dumps on Linux).
    static func readText(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("\(path): no such file")
        }
        if isDirectory.boolValue { throw ValidationError("\(path) is a directory, not a text file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(path): cannot be read (permission?)") }
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("\(path) is not UTF-8 text") }
        return text
    }

    /// Writes a warning line on stderr.
    static func warn(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
