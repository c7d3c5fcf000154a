import ArgumentParser
import GGUF

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what is in a model file.")
    @Argument(help: "A .gguf path or a model short name.") var model: String
    @Flag(help: "Print a JSON object instead of text.") var json = false
    func run() async throws {
        let file = try GGUFFile(path: model)
        print(file.architecture ?? "?")
    }
}

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the models found locally.")
    func run() async throws {}
}
