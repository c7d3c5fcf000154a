import Foundation

/// Errors of `feather bench`, each one line for the user.
public enum BenchError: Error, CustomStringConvertible, Equatable {
    case badList(option: String, value: String)
    case badOption(String)
    case spawnFailed(String, String)
    case llamaBenchFailed(status: Int32, message: String)
    case llamaBenchOutput(String)
    case badEndpoint(String)
    case dataset(String)

    public var description: String {
        switch self {
        case .badList(let o, let v): "\(o): '\(v)' is not a comma-separated list of non-negative integers"
        case .badOption(let m): m
        case .spawnFailed(let exe, let why): "cannot run \(exe): \(why)"
        case .llamaBenchFailed(let s, let m): "llama-bench exited with status \(s): \(m)"
        case .llamaBenchOutput(let m): "cannot read llama-bench's JSON output: \(m)"
        case .badEndpoint(let u): "bad endpoint URL '\(u)' (expected http://host:port[/v1])"
        case .dataset(let m): m
        }
    }
}

/// Set by Ctrl-C (SIGINT): long loops check it and stop, keeping what they measured.
public final class Interruption: @unchecked Sendable {
    public static let shared = Interruption()
    private let lock = NSLock()
    private var flag = false
    private var source: DispatchSourceSignal?

    public var isRequested: Bool { lock.withLock { flag } }
    public func request() { lock.withLock { flag = true } }

    /// Catches SIGINT: the first one sets the flag (and calls `onFirst`), a second one exits at once.
    public func install(onFirst: @escaping @Sendable () -> Void = {}) {
        lock.withLock {
            guard source == nil else { return }
            signal(SIGINT, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            s.setEventHandler { [unowned self] in
                let second = self.lock.withLock { () -> Bool in
                    defer { self.flag = true }
                    return self.flag
                }
                if second { _exit(130) }
                FileHandle.standardError.write(Data("\ninterrupted: finishing with what was measured so far (Ctrl-C again to quit now)\n".utf8))
                onFirst()
            }
            s.resume()
            source = s
        }
    }
}

/// Parses "512", "1,2,4" into integers.
public func parseIntList(_ value: String, option: String, allowZero: Bool = true) throws(BenchError) -> [Int] {
    let parts = value.split(separator: ",", omittingEmptySubsequences: false)
    var out: [Int] = []
    for p in parts {
        guard let n = Int(p.trimmingCharacters(in: .whitespaces)), n >= (allowZero ? 0 : 1) else {
            throw .badList(option: option, value: value)
        }
        out.append(n)
    }
    guard !out.isEmpty else { throw .badList(option: option, value: value) }
    return out
}
