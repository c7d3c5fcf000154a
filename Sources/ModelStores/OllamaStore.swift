import Foundation

/// Ollama's model store: `manifests/HOST/NAMESPACE/NAME/TAG` (a JSON image manifest) and `blobs/sha256-<hex>`. The
/// layer with media type `application/vnd.ollama.image.model` is the GGUF; `...image.projector` its projector.
public struct OllamaStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    static let modelLayer = "application/vnd.ollama.image.model"
    static let projectorLayer = "application/vnd.ollama.image.projector"
    static let defaultHost = "registry.ollama.ai"

    struct Manifest: Decodable {
        struct Layer: Decodable { var mediaType: String; var digest: String }
        var layers: [Layer]
    }

    /// A digest `sha256:<hex>` is stored as `blobs/sha256-<hex>`.
    public func blobPath(digest: String) -> String { "\(root)/blobs/" + digest.replacingOccurrences(of: ":", with: "-") }

    /// Every model with a GGUF layer whose blob is present, named as `ollama list` names it: `NAME:TAG` for the
    /// default registry's library, `NAMESPACE/NAME:TAG` for its other namespaces, `HOST/NAMESPACE/NAME:TAG` otherwise.
    public func models() -> [StoredModel] {
        let manifests = "\(root)/manifests"
        var found: [StoredModel] = []
        for host in Listing.entries(manifests) {
            for namespace in Listing.entries("\(manifests)/\(host)") {
                for name in Listing.entries("\(manifests)/\(host)/\(namespace)") {
                    for tag in Listing.entries("\(manifests)/\(host)/\(namespace)/\(name)") {
                        let file = "\(manifests)/\(host)/\(namespace)/\(name)/\(tag)"
                        guard let data = FileManager.default.contents(atPath: file),
                              let manifest = try? JSONDecoder().decode(Manifest.self, from: data),
                              let layer = manifest.layers.first(where: { $0.mediaType == Self.modelLayer }) else { continue }
                        let blob = blobPath(digest: layer.digest)
                        guard Listing.isFile(blob) else { continue }
                        let base = host == Self.defaultHost ? (namespace == "library" ? name : "\(namespace)/\(name)")
                                                            : "\(host)/\(namespace)/\(name)"
                        let projector = manifest.layers.first { $0.mediaType == Self.projectorLayer }.map { blobPath(digest: $0.digest) }
                        found.append(StoredModel(name: "\(base):\(tag)", aliases: tag == "latest" ? [base] : [], path: blob,
                                                 kind: .ollama, store: root, file: "\(name):\(tag)", projector: projector))
                    }
                }
            }
        }
        return found
    }
}
