import Foundation

/// LM Studio's models folder: `PUBLISHER/REPO/*.gguf`, mirroring Hugging Face repos.
public struct LMStudioStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func models() -> [StoredModel] {
        var found: [StoredModel] = []
        for publisher in Listing.entries(root) where Listing.isDirectory("\(root)/\(publisher)") {
            for repoName in Listing.entries("\(root)/\(publisher)") where Listing.isDirectory("\(root)/\(publisher)/\(repoName)") {
                let dir = "\(root)/\(publisher)/\(repoName)"
                let repo = "\(publisher)/\(repoName)"
                let files = Listing.files(under: dir)
                let groups = GGUFSelection.models(in: files)
                for parts in groups {
                    let names = StoredModel.repoNames(repo: repo, parts: parts, soleModel: groups.count == 1)
                    found.append(StoredModel(name: names.name, aliases: names.aliases, path: "\(dir)/\(parts[0])", kind: .lmStudio,
                                             store: root, repo: repo, file: parts[0], parts: GGUFName.split(parts[0])?.count ?? 1,
                                             projector: GGUFSelection.projector(in: files, for: parts[0]).map { "\(dir)/\($0)" }))
                }
            }
        }
        return found
    }
}
