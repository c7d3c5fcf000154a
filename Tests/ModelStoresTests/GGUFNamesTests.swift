import Testing
@testable import ModelStores

@Suite struct GGUFNamesTests {
    @Test func quantTagsFromFileNames() {
        #expect(GGUFName.quantTag("gemma-3-270m-it-Q4_K_M.gguf") == "Q4_K_M")
        #expect(GGUFName.quantTag("Qwen3-8B-UD-Q4_K_XL.gguf") == "UD-Q4_K_XL")
        #expect(GGUFName.quantTag("Llama-3.2-1B-Instruct-IQ2_XXS.gguf") == "IQ2_XXS")
        #expect(GGUFName.quantTag("model.Q8_0.gguf") == "Q8_0")
        #expect(GGUFName.quantTag("Q4_K_M/big-Q4_K_M-00002-of-00003.gguf") == "Q4_K_M")
        #expect(GGUFName.quantTag("smollm2-135m-instruct-bf16.gguf") == "bf16")
        #expect(GGUFName.quantTag("gemma3-270m.gguf") == nil)
        #expect(GGUFName.quantTag("qwen2.5-0.5b.gguf") == nil)
    }

    @Test func splitNamesAsLlamaCppWritesThem() {
        #expect(GGUFName.split("big-Q8_0-00002-of-00003.gguf")! == ("big-Q8_0", 2, 3))
        #expect(GGUFName.split("big-Q8_0.gguf") == nil)
        #expect(GGUFName.split("big-2-of-3.gguf") == nil)
        #expect(GGUFName.modelKey("big-Q8_0-00001-of-00003.gguf") == "big-Q8_0")
    }

    @Test func tagsMatchWholeWordsCaseInsensitively() {
        #expect(GGUFName.matches(tag: "q4_k_m", file: "m-Q4_K_M.gguf"))
        #expect(!GGUFName.matches(tag: "Q4_K", file: "m-Q4_K_M.gguf"))
        #expect(!GGUFName.matches(tag: "F16", file: "m-BF16.gguf"))
        #expect(GGUFName.matches(tag: "Q4_K_XL", file: "m-UD-Q4_K_XL.gguf"))
        #expect(GGUFName.matches(tag: "Q8_0", file: "m-Q8_0-00001-of-00002.gguf"))
    }

    let repo = ["README.md", "m-Q4_K_M.gguf", "m-Q8_0.gguf", "m-F16-00001-of-00002.gguf", "m-F16-00002-of-00002.gguf",
                "mmproj-m-f16.gguf", "mmproj-m-Q8_0.gguf"]

    @Test func choosesByTagDefaultQ4KMWithProjector() throws {
        #expect(try GGUFSelection.choose(files: repo, repo: "o/r") == GGUFChoice(model: ["m-Q4_K_M.gguf"], projector: "mmproj-m-f16.gguf"))
        #expect(try GGUFSelection.choose(files: repo, repo: "o/r", tag: "q8_0") == GGUFChoice(model: ["m-Q8_0.gguf"], projector: "mmproj-m-Q8_0.gguf"))
        #expect(try GGUFSelection.choose(files: repo, repo: "o/r", tag: "F16").model == ["m-F16-00001-of-00002.gguf", "m-F16-00002-of-00002.gguf"])
        #expect(try GGUFSelection.choose(files: repo, repo: "o/r", file: "m-Q8_0.gguf").model == ["m-Q8_0.gguf"])
        #expect(try GGUFSelection.choose(files: ["only.gguf"], repo: "o/r") == GGUFChoice(model: ["only.gguf"], projector: nil))
    }

    @Test func badChoicesAreErrors() {
        #expect(throws: GGUFChoiceError.noGGUF(repo: "o/r")) { try GGUFSelection.choose(files: ["model.safetensors"], repo: "o/r") }
        #expect(throws: GGUFChoiceError.noMatch(repo: "o/r", tag: "Q2_K", available: ["F16", "Q4_K_M", "Q8_0"])) {
            try GGUFSelection.choose(files: repo, repo: "o/r", tag: "Q2_K")
        }
        #expect(throws: GGUFChoiceError.ambiguous(repo: "o/r", tag: "Q4_K_XL", candidates: ["a-Q4_K_XL.gguf", "a-UD-Q4_K_XL.gguf"])) {
            try GGUFSelection.choose(files: ["a-Q4_K_XL.gguf", "a-UD-Q4_K_XL.gguf"], repo: "o/r", tag: "Q4_K_XL")
        }
        #expect(throws: GGUFChoiceError.needsTag(repo: "o/r", available: ["Q5_K_M", "Q8_0"])) {
            try GGUFSelection.choose(files: ["a-Q8_0.gguf", "a-Q5_K_M.gguf"], repo: "o/r")
        }
        #expect(throws: GGUFChoiceError.missingFile(repo: "o/r", file: "nope.gguf")) {
            try GGUFSelection.choose(files: repo, repo: "o/r", file: "nope.gguf")
        }
    }

    @Test func repoReferences() {
        #expect(RepoReference(parsing: "ggml-org/gemma-3-270m-GGUF") == RepoReference(repo: "ggml-org/gemma-3-270m-GGUF"))
        #expect(RepoReference(parsing: "hf.co/bartowski/Qwen2.5-0.5B-GGUF:Q8_0") == RepoReference(repo: "bartowski/Qwen2.5-0.5B-GGUF", tag: "Q8_0"))
        #expect(RepoReference(parsing: "https://huggingface.co/o/r") == RepoReference(repo: "o/r"))
        for bad in ["gemma3-270m", "o/r/x", "o/r:", "/abs/o", "o/r.gguf", "../x", "o /r"] {
            #expect(RepoReference(parsing: bad) == nil, "\(bad)")
        }
    }
}
