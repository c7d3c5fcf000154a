import Foundation
import ModelStores

/// What can go wrong in `feather pull`; each is one line for the user.
public enum HubError: Error, Sendable, Equatable, CustomStringConvertible {
    case badReference(String)
    case fileAndRepo(name: String)
    case repoNotFound(repo: String, endpoint: String, hasToken: Bool)
    case gated(repo: String, endpoint: String, hasToken: Bool)
    case http(status: Int, url: String, message: String)
    case network(url: String, reason: String)
    case badResponse(url: String, reason: String)
    case choice(GGUFChoiceError)
    case checksum(file: String, expected: String, actual: String)
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    case diskFull(file: String, needed: Int64, available: Int64, directory: String)
    case interrupted(file: String, received: Int64, total: Int64, reason: String)
    case offlineNotCached(reference: String, cache: String)
    case fileSystem(path: String, reason: String)

    public var description: String {
        switch self {
        case .badReference(let s):
            "'\(s)' is not a Hugging Face repo: write OWNER/REPO[:QUANT] or hf.co/OWNER/REPO[:QUANT]"
        case .fileAndRepo(let name):
            "'\(name)' is both a file here and a repo name: write ./\(name) for the file or hf.co/\(name) for the repo"
        case .repoNotFound(let repo, let endpoint, let hasToken):
            "repo \(repo) not found on \(endpoint)" + (hasToken ? "" : " (a private repo needs HF_TOKEN)")
        case .gated(let repo, let endpoint, let hasToken):
            "\(repo) is gated: accept its licence at \(endpoint)/\(repo) and " +
                (hasToken ? "check that HF_TOKEN belongs to the account that accepted it" : "set HF_TOKEN to a token of that account")
        case .http(let status, let url, let message):
            "HTTP \(status) from \(url)" + (message.isEmpty ? "" : ": \(message)")
        case .network(let url, let reason): "cannot reach \(url): \(reason)"
        case .badResponse(let url, let reason): "unexpected answer from \(url): \(reason)"
        case .choice(let e): e.description
        case .checksum(let file, let expected, let actual):
            "\(file): SHA-256 \(actual) differs from the hub's \(expected); the download was deleted, run feather pull again"
        case .sizeMismatch(let file, let expected, let actual):
            "\(file): downloaded \(actual) bytes, the hub announced \(expected); the download was deleted, run feather pull again"
        case .diskFull(let file, let needed, let available, let directory):
            "not enough disk space for \(file): \(Self.bytes(needed)) needed, \(Self.bytes(available)) free in \(directory)"
        case .interrupted(let file, let received, let total, let reason):
            "download of \(file) stopped at \(Self.bytes(received)) of \(Self.bytes(total)) (\(reason)); run feather pull again to resume"
        case .offlineNotCached(let reference, let cache):
            "HF_HUB_OFFLINE is set and \(reference) is not in the cache \(cache)"
        case .fileSystem(let path, let reason): "\(path): \(reason)"
        }
    }

    /// The connection failed: worth another try.
    var isNetwork: Bool {
        if case .network = self { return true }
        return false
    }

    static func bytes(_ n: Int64) -> String { ProgressLine.bytes(n) }
}
