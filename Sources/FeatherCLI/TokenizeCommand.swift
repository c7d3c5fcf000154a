import ArgumentParser
import Foundation
import Tokenizers

/// A model argument as a file path: the path itself when it exists, else NAME.gguf in the models
/// folder (`$FEATHER_MODELS`, else `.models/`).
func resolveModelPath(_ model: String) -> String {
    if FileManager.default.fileExists(atPath: model) { return model }
    let folder = ProcessInfo.processInfo.environment["FEATHER_MODELS"] ?? ".models"
    return (folder as NSString).appendingPathComponent(model.hasSuffix(".gguf") ? model : model + ".gguf")
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

    func run() async throws {
        let tokenizer = try Tokenizer(path: resolveModelPath(model))
        let input: String
        if text == "-" {
            input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            input = text
        }
        let ids = tokenizer.tokenize(input, addSpecial: !noBOS, parseSpecial: !noSpecial)
        if pieces {
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
        let tokenizer = try Tokenizer(path: resolveModelPath(model))
        guard let bad = ids.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) else {
            let bytes = tokenizer.detokenizeBytes(ids, removeSpecial: false, unparseSpecial: special)
            FileHandle.standardOutput.write(Data(bytes))
            FileHandle.standardOutput.write(Data("\n".utf8))
            return
        }
        throw ValidationError("token id \(bad) is outside the vocabulary (0..<\(tokenizer.vocabularySize))")
    }
}
