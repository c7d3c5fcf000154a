import AsyncHTTPClient
import Foundation
import ModelStores
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A repo as the Hub's model-info endpoint describes it (`GET /api/models/REPO/revision/REV?blobs=true`,
/// huggingface_hub hf_api.py model_info / ModelInfo / RepoSibling).
public struct RepoInfo: Decodable, Sendable {
    public struct LFS: Decodable, Sendable {
        public var sha256: String
        public var size: Int64
    }
    public struct Sibling: Decodable, Sendable {
        public var rfilename: String
        public var size: Int64?
        public var blobId: String?
        public var lfs: LFS?

        /// The name of its blob in the cache: the LFS SHA-256 (the hub's X-Linked-Etag), else the git blob id.
        public var etag: String? { lfs?.sha256 ?? blobId }
        public var byteCount: Int64? { lfs?.size ?? size }
    }
    /// The commit the revision points to.
    public var sha: String
    public var siblings: [Sibling]
}

/// The Hub's HTTP API, as much of it as `feather pull` needs: repo info and file downloads.
public struct HubClient: Sendable {
    public let settings: HubSettings
    let http: HTTPClient

    public init(settings: HubSettings, http: HTTPClient) {
        (self.settings, self.http) = (settings, http)
    }

    /// A client for downloads: redirects followed by hand (the token is not sent to another host), no decompression.
    public static func makeHTTPClient() -> HTTPClient {
        var config = HTTPClient.Configuration()
        config.redirectConfiguration = .disallow
        config.decompression = .disabled
        config.timeout = .init(connect: .seconds(20), read: .seconds(60))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }

    /// `GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true`: files with sizes and LFS SHA-256s.
    public func repoInfo(_ repo: String, revision: String = "main") async throws(HubError) -> RepoInfo {
        let url = "\(settings.endpoint)/api/models/\(repo)/revision/\(Self.escape(revision))?blobs=true"
        let response = try await send(url: url, method: .GET, repo: repo)
        let body: ByteBuffer
        do { body = try await response.body.collect(upTo: 64 << 20) } catch {
            throw .network(url: url, reason: "\(error)")
        }
        do { return try JSONDecoder().decode(RepoInfo.self, from: Data(buffer: body)) } catch {
            throw .badResponse(url: url, reason: "not a model info JSON (\(error))")
        }
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}` (huggingface_hub hf_hub_url).
    public func resolveURL(repo: String, revision: String, file: String) -> String {
        "\(settings.endpoint)/\(repo)/resolve/\(Self.escape(revision))/" + file.split(separator: "/").map { Self.escape(String($0)) }.joined(separator: "/")
    }

    /// Sends a request, following up to 10 redirects (the token only to the endpoint's host), and turns error
    /// statuses into `HubError`s. The answer's status is 2xx.
    func send(url: String, method: HTTPMethod, repo: String, headers extra: [(String, String)] = []) async throws(HubError) -> HTTPClientResponse {
        var current = url
        let endpointHost = URL(string: settings.endpoint)?.host
        for _ in 0..<10 {
            var request = HTTPClientRequest(url: current)
            request.method = method
            request.headers.add(name: "User-Agent", value: "featherweight")
            request.headers.add(name: "Accept-Encoding", value: "identity")
            if let token = settings.token, URL(string: current)?.host == endpointHost {
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
            }
            for (name, value) in extra { request.headers.add(name: name, value: value) }
            let response: HTTPClientResponse
            do { response = try await http.execute(request, timeout: .seconds(60)) } catch {
                throw .network(url: current, reason: "\(error)")
            }
            let status = Int(response.status.code)
            if (300..<400).contains(status), let location = response.headers.first(name: "Location") {
                guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteString else {
                    throw .badResponse(url: current, reason: "bad redirect \(location)")
                }
                current = next
                continue
            }
            if (200..<300).contains(status) { return response }
            let code = response.headers.first(name: "X-Error-Code") ?? ""
            let message = response.headers.first(name: "X-Error-Message") ?? ""
            // huggingface_hub hf_raise_for_status: GatedRepo and RepoNotFound come as X-Error-Code; a 401 without
            // one is also "not found" (the hub hides private repos), a 403 is a licence not accepted.
            if code == "GatedRepo" || (status == 403 && code != "RepoNotFound") {
                throw .gated(repo: repo, endpoint: settings.endpoint, hasToken: settings.token != nil)
            }
            if code == "RepoNotFound" || status == 401 || (status == 404 && code != "EntryNotFound" && url.contains("/api/models/")) {
                throw .repoNotFound(repo: repo, endpoint: settings.endpoint, hasToken: settings.token != nil)
            }
            throw .http(status: status, url: current, message: message)
        }
        throw .badResponse(url: url, reason: "more than 10 redirects")
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? s
    }
}
