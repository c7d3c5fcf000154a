import Foundation

/// Counters and latency histograms for GET /metrics (Prometheus text format 0.0.4).
final class Metrics: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]
    private var ttft = Histogram()
    private var duration = Histogram()

    struct Histogram {
        /// Upper bounds in seconds.
        static let bounds: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
        var counts = [Int](repeating: 0, count: bounds.count)
        var count = 0
        var sum = 0.0
        mutating func observe(_ v: Double) {
            for (i, b) in Self.bounds.enumerated() where v <= b { counts[i] += 1 }
            count += 1
            sum += v
        }
        func lines(_ name: String) -> [String] {
            var out = ["# TYPE \(name) histogram"]
            for (b, c) in zip(Self.bounds, counts) { out.append("\(name)_bucket{le=\"\(b)\"} \(c)") }
            out += ["\(name)_bucket{le=\"+Inf\"} \(count)", "\(name)_sum \(sum)", "\(name)_count \(count)"]
            return out
        }
    }

    func request(endpoint: String, status: Int) {
        lock.withLock { requests["endpoint=\"\(endpoint)\",status=\"\(status)\"", default: 0] += 1 }
    }
    func firstToken(after seconds: Double) { lock.withLock { ttft.observe(seconds) } }
    func finished(after seconds: Double) { lock.withLock { duration.observe(seconds) } }

    func render(models: [ServedModel]) -> String {
        var lines: [String] = []
        lock.withLock {
            lines.append("# HELP feather_requests_total HTTP requests by endpoint and status.")
            lines.append("# TYPE feather_requests_total counter")
            for (labels, n) in requests.sorted(by: { $0.key < $1.key }) { lines.append("feather_requests_total{\(labels)} \(n)") }
            lines.append("# HELP feather_time_to_first_token_seconds From request arrival to the first generated token.")
            lines += ttft.lines("feather_time_to_first_token_seconds")
            lines.append("# HELP feather_request_duration_seconds From request arrival to the last generated token.")
            lines += duration.lines("feather_request_duration_seconds")
        }
        let perModel: [(String, String, String, (ServedModel) -> Int)] = [
            ("feather_queue_depth", "gauge", "Requests waiting for a slot.", { $0.scheduler.currentStats.queued }),
            ("feather_active_sequences", "gauge", "Sequences decoding.", { $0.scheduler.currentStats.active }),
            ("feather_prompt_tokens_total", "counter", "Prompt tokens evaluated.", { $0.scheduler.currentStats.promptTokens }),
            ("feather_generated_tokens_total", "counter", "Tokens generated.", { $0.scheduler.currentStats.generatedTokens }),
            ("feather_decode_steps_total", "counter", "Batched decode steps.", { $0.scheduler.currentStats.decodeSteps }),
            ("feather_decode_rows_total", "counter", "Sequences decoded, summed over steps.", { $0.scheduler.currentStats.decodeRows }),
            ("feather_slots", "gauge", "Sequences that can decode together.", { $0.scheduler.slots }),
        ]
        for (name, type, help, value) in perModel {
            lines += ["# HELP \(name) \(help)", "# TYPE \(name) \(type)"]
            for m in models { lines.append("\(name){model=\"\(m.id)\"} \(value(m))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
