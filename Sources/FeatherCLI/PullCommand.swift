import ArgumentParser
import Foundation
import Hub
import ModelStores

struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a GGUF model from Hugging Face into the shared Hugging Face cache.",
        discussion: """
            MODEL is OWNER/REPO[:QUANT] or hf.co/OWNER/REPO[:QUANT]; QUANT (default Q4_K_M, or the repo's only model) \
            picks the file as llama.cpp's -hf does, and the repo's mmproj file comes along. Files go to $HF_HOME/hub \
            (default ~/.cache/huggingface/hub), verified against the hub's SHA-256; an interrupted download resumes. \
            HF_TOKEN (gated repos), HF_ENDPOINT (mirrors) and HF_HUB_OFFLINE are honoured.
            """)
    @Argument(help: "OWNER/REPO[:QUANT] or hf.co/OWNER/REPO[:QUANT].") var model: String
    @Option(help: "Take this file of the repo instead of choosing by QUANT.") var file: String?
    @Flag(help: "No progress bar on stderr.") var quiet = false

    func run() async throws {
        let reference = try Puller.reference(model)
        let settings = HubSettings.fromEnvironment()
        let terminal = isatty(STDERR_FILENO) != 0
        let quiet = self.quiet
        let result = try await Puller(settings: settings).pull(reference, file: file) { p in
            guard !quiet else { return }
            let line = ProgressLine.render(p)
            // On a terminal the bar redraws in place; otherwise one line per finished file.
            if terminal { FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (p.done ? "\n" : "")).utf8)) }
            else if p.done { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
        let fetched = result.downloadedBytes
        FileHandle.standardError.write(Data((fetched > 0 ? "downloaded \(ProgressLine.bytes(fetched))\n"
                                                          : "already in the cache, nothing downloaded\n").utf8))
        print("\(result.name)\t\(result.modelPath)")
        if let projector = result.projector { print("mmproj\t\(projector.path)") }
        if result.model.count > 1 {
            FileHandle.standardError.write(Data(("note: the model is split into \(result.model.count) files; Featherweight cannot load split GGUFs yet " +
                "(merge them with llama-gguf-split --merge)\n").utf8))
        }
    }
}
