import ArgumentParser
import Foundation
import Tokenizers

/// CPU time of the calling thread: tokenizing is single-threaded, and wall time on a busy machine is not.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

struct Tokenize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text, as llama.cpp's llama-tokenize does.")
    @Argument(help: "A .gguf path or a model short name.") var model: String
    @Argument(help: "The text; '-' reads standard input.") var text: String
    @Flag(name: .customLong("no-bos"), help: "Do not add the BOS/EOS tokens the model asks for.") var noBOS = false
    @Flag(name: .customLong("no-special"), help: "Treat control-token text such as <end_of_turn> as plain text.")
    var noSpecial = false
    @Flag(help: "Print one 'id<TAB>piece' line per token instead of a JSON array.") var pieces = false
    @Flag(help: "Print only the token count and the tokenization speed.") var stats = false

    func run() async throws {
        let tokenizer = try Tokenizer(path: try resolveModelPath(model))
        let input: String
        if text == "-" {
            input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            input = text
        }
        var ids = tokenizer.tokenize(input, addSpecial: !noBOS, parseSpecial: !noSpecial)
        if stats {
            // Best of three runs, wall and thread CPU time.
            let clock = ContinuousClock()
            var wall = Double.infinity, cpu = Double.infinity
            for _ in 0..<3 {
                let start = clock.now, cpuStart = threadCPUSeconds()
                ids = tokenizer.tokenize(input, addSpecial: !noBOS, parseSpecial: !noSpecial)
                let elapsed = clock.now - start
                cpu = min(cpu, threadCPUSeconds() - cpuStart)
                wall = min(wall, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            }
            let megabytes = Double(input.utf8.count) / 1e6
            print(String(format: "%d tokens, %.3f MB, %.3f s wall (%.2f MB/s), %.3f s CPU (%.2f MB/s)",
                         ids.count, megabytes, wall, megabytes / wall, cpu, megabytes / cpu))
        } else if pieces {
            for id in ids {
                let piece = String(decoding: tokenizer.pieceBytes(id, special: true), as: UTF8.self)
                print("\(id)\t\(piece)")
            }
        } else {
            print("[" + ids.map(String.init).joined(separator: ", ") + "]")
        }
    }
}

struct Detokenize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the text of token ids.")
    @Argument(help: "A .gguf path or a model short name.") var model: String
    @Argument(help: "Token ids.") var ids: [Int32]
    @Flag(help: "Render control tokens such as <end_of_turn> as text.") var special = false

    func run() async throws {
        let tokenizer = try Tokenizer(path: try resolveModelPath(model))
        guard let bad = ids.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) else {
            let bytes = tokenizer.detokenizeBytes(ids, removeSpecial: false, unparseSpecial: special)
            FileHandle.standardOutput.write(Data(bytes))
            FileHandle.standardOutput.write(Data("\n".utf8))
            return
        }
        throw TokenIDError(id: bad, vocabularySize: tokenizer.vocabularySize)
    }
}

struct TokenIDError: Error, CustomStringConvertible {
    let id: Int32
    let vocabularySize: Int
    var description: String { "token id \(id) is outside the vocabulary (0..<\(vocabularySize))" }
}
