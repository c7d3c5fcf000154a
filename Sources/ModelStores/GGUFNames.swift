import Foundation

/// What a GGUF file name says: its quantization tag, whether it is one part of a split model, whether it is a
/// multimodal projector. Hugging Face repos name files `Model-Q4_K_M.gguf`, `Model-Q8_0-00001-of-00003.gguf`,
/// `mmproj-Model-f16.gguf`; llama.cpp's `-hf REPO:TAG` picks among them by the tag.
public enum GGUFName {
    /// `-00001-of-00003` before `.gguf` (llama.cpp's llama_split_path format `%s-%05d-of-%05d.gguf`).
    public static func split(_ file: String) -> (stem: String, part: Int, count: Int)? {
        guard file.lowercased().hasSuffix(".gguf") else { return nil }
        let base = String(file.dropLast(5))
        let pieces = base.split(separator: "-", omittingEmptySubsequences: false)
        guard pieces.count >= 4, pieces[pieces.count - 2] == "of",
              let part = Int(pieces[pieces.count - 3]), let count = Int(pieces[pieces.count - 1]),
              pieces[pieces.count - 3].count == 5, pieces[pieces.count - 1].count == 5, part >= 1, part <= count
        else { return nil }
        return (pieces.dropLast(3).joined(separator: "-"), part, count)
    }

    /// The file without `.gguf` and without a split suffix: what the parts of one model share.
    public static func modelKey(_ file: String) -> String {
        if let s = split(file) { return s.stem }
        return file.lowercased().hasSuffix(".gguf") ? String(file.dropLast(5)) : file
    }

    public static func isGGUF(_ file: String) -> Bool { file.lowercased().hasSuffix(".gguf") }

    /// Multimodal projectors (`mmproj-*.gguf`, `*-mmproj-f16.gguf`) are not language models of their own.
    public static func isProjector(_ file: String) -> Bool {
        (file as NSString).lastPathComponent.lowercased().contains("mmproj")
    }

    /// The quantization tag in a file name (`Q4_K_M`, `UD-Q4_K_XL`, `IQ2_XXS`, `F16`, `BF16`, `MXFP4_MOE`), if any.
    public static func quantTag(_ file: String) -> String? {
        let base = (modelKey(file) as NSString).lastPathComponent
        let tokens = base.split(whereSeparator: { $0 == "-" || $0 == "." }).map(String.init)
        for (i, token) in tokens.enumerated().reversed() where isQuantToken(token) {
            return i > 0 && tokens[i - 1].uppercased() == "UD" ? "UD-" + token : token
        }
        return nil
    }

    static func isQuantToken(_ token: String) -> Bool {
        let t = token.uppercased()
        if ["F16", "F32", "BF16", "FP16", "FP32", "MXFP4", "MXFP4_MOE"].contains(t) { return true }
        var rest = Substring(t)
        if rest.hasPrefix("IQ") || rest.hasPrefix("TQ") { rest = rest.dropFirst(2) } else if rest.hasPrefix("Q") { rest = rest.dropFirst() } else { return false }
        guard let first = rest.first, first.isNumber else { return false }
        return rest.allSatisfy { $0.isNumber || $0.isUppercase || $0 == "_" }
    }

    /// Whether `tag` names this file: a case-insensitive occurrence not inside a longer word (so `Q4_K` does not
    /// pick `Q4_K_M`, nor `F16` `BF16`), as llama.cpp's `-hf REPO:TAG` matches tags in file names.
    public static func matches(tag: String, file: String) -> Bool {
        let name = Array(modelKey(file).lowercased() + ".")
        let t = Array(tag.lowercased())
        guard !t.isEmpty, name.count >= t.count else { return false }
        for start in 0...(name.count - t.count) where Array(name[start..<(start + t.count)]) == t {
            let before = start == 0 ? nil : name[start - 1]
            let after = name[start + t.count]
            let startsWord = before.map { !($0.isLetter || $0.isNumber) } ?? true
            let endsWord = after == "." || after == "-" || after == "/"
            if startsWord && endsWord { return true }
        }
        return false
    }
}

/// The files `feather pull OWNER/REPO[:TAG]` takes from a repo: one model (every part of a split one) and its
/// projector when the repo has one.
public struct GGUFChoice: Sendable, Equatable {
    /// The model's files, part 1 first.
    public var model: [String]
    public var projector: String?
    public var files: [String] { model + (projector.map { [$0] } ?? []) }
}

public enum GGUFChoiceError: Error, Sendable, Equatable, CustomStringConvertible {
    case noGGUF(repo: String)
    case noMatch(repo: String, tag: String, available: [String])
    case ambiguous(repo: String, tag: String, candidates: [String])
    case needsTag(repo: String, available: [String])
    case missingFile(repo: String, file: String)

    public var description: String {
        switch self {
        case .noGGUF(let repo): "\(repo) has no .gguf file"
        case .noMatch(let repo, let tag, let available):
            "\(repo) has no GGUF tagged '\(tag)' (available: \(available.joined(separator: ", ")))"
        case .ambiguous(let repo, let tag, let candidates):
            "'\(tag)' matches several GGUFs in \(repo): \(candidates.joined(separator: ", ")); name one with --file"
        case .needsTag(let repo, let available):
            "\(repo) has several GGUFs and none is Q4_K_M: add a tag, \(repo):TAG (available: \(available.joined(separator: ", ")))"
        case .missingFile(let repo, let file): "\(repo) has no file \(file)"
        }
    }
}

public enum GGUFSelection {
    /// The tag chosen when none is given (llama.cpp's `-hf` default).
    public static let defaultTag = "Q4_K_M"

    /// The models of a repo's file list: each a list of parts (one for a whole file), sorted by name.
    public static func models(in files: [String]) -> [[String]] {
        let ggufs = files.filter { GGUFName.isGGUF($0) && !GGUFName.isProjector($0) }
        let groups = Dictionary(grouping: ggufs) { file -> String in
            let dir = (file as NSString).deletingLastPathComponent
            return (dir.isEmpty ? "" : dir + "/") + (GGUFName.modelKey((file as NSString).lastPathComponent))
        }
        return groups.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }
    }

    /// How a model is offered to the user: its tag, else its file name.
    public static func label(_ parts: [String]) -> String {
        GGUFName.quantTag(parts[0]) ?? (parts[0] as NSString).lastPathComponent
    }

    /// Picks a model by `tag` (default Q4_K_M, or the only model in the repo) or by exact `file`, and the projector.
    public static func choose(files: [String], repo: String, tag: String? = nil, file: String? = nil) throws(GGUFChoiceError) -> GGUFChoice {
        let models = models(in: files)
        let model: [String]
        if let file {
            guard let found = models.first(where: { $0.contains(file) }) ?? models.first(where: { $0.contains { ($0 as NSString).lastPathComponent == file } })
            else {
                if files.contains(file) { return GGUFChoice(model: [file], projector: nil) }
                throw .missingFile(repo: repo, file: file)
            }
            model = found
        } else {
            guard !models.isEmpty else { throw .noGGUF(repo: repo) }
            let available = models.map(label)
            if let tag {
                let hits = models.filter { GGUFName.matches(tag: tag, file: $0[0]) }
                if hits.count > 1 { throw .ambiguous(repo: repo, tag: tag, candidates: hits.map { GGUFName.modelKey($0[0]) + ".gguf" }) }
                guard let hit = hits.first else { throw .noMatch(repo: repo, tag: tag, available: available) }
                model = hit
            } else if models.count == 1 {
                model = models[0]
            } else {
                let hits = models.filter { GGUFName.matches(tag: defaultTag, file: $0[0]) }
                guard hits.count == 1 else { throw .needsTag(repo: repo, available: available) }
                model = hits[0]
            }
        }
        return GGUFChoice(model: model, projector: projector(in: files, for: model[0]))
    }

    /// The repo's projector: the one with the model's tag, else F16, BF16, F32, else the first by name.
    static func projector(in files: [String], for model: String) -> String? {
        let projectors = files.filter { GGUFName.isGGUF($0) && GGUFName.isProjector($0) }.sorted()
        guard projectors.count > 1 else { return projectors.first }
        let tags = [GGUFName.quantTag(model), "F16", "BF16", "F32"].compactMap { $0 }
        for tag in tags {
            if let p = projectors.first(where: { GGUFName.matches(tag: tag, file: $0) }) { return p }
        }
        return projectors.first
    }
}
