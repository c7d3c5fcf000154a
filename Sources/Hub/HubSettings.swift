import Foundation
import ModelStores

/// What `feather pull` reads from the environment, named as huggingface_hub names it (constants.py).
public struct HubSettings: Sendable {
    /// `$HF_ENDPOINT` (a mirror), else https://huggingface.co.
    public var endpoint: String
    /// `$HF_TOKEN`, else the token `hf auth login` saved in `$HF_HOME/token`.
    public var token: String?
    /// `$HF_HUB_OFFLINE`: use the cache only.
    public var offline: Bool
    public var cache: HuggingFaceCache

    public init(endpoint: String = "https://huggingface.co", token: String? = nil, offline: Bool = false, cache: HuggingFaceCache) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        (self.token, self.offline, self.cache) = (token, offline, cache)
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment,
                                       home: String = NSHomeDirectory()) -> HubSettings {
        let hfHome = environment["HF_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "\(environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(home)/.cache")/huggingface"
        let saved = (try? String(contentsOfFile: environment["HF_TOKEN_PATH"] ?? "\(hfHome)/token", encoding: .utf8))
        let token = [environment["HF_TOKEN"], environment["HUGGING_FACE_HUB_TOKEN"], saved]
            .compactMap { $0?.trimmingCharacters(in: .whitespacesAndNewlines) }.first { !$0.isEmpty }
        // huggingface_hub's _is_true: "1", "ON", "YES", "TRUE" in any case.
        let offline = ["1", "ON", "YES", "TRUE"].contains((environment["HF_HUB_OFFLINE"] ?? "").uppercased())
        return HubSettings(endpoint: environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co",
                           token: token, offline: offline,
                           cache: HuggingFaceCache(root: HuggingFaceCache.root(environment: environment, home: home)))
    }
}
