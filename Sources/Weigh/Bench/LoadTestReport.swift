import Foundation

/// Renders a serving load test as tables, with the definition of every metric.
public enum LoadTestReport {
    public static let definitions = """
        Definitions (vLLM benchmark_serving's conventions; times from sending the request, one clock):
          TTFT  time to first token: until the first streamed chunk that carries generated text (vLLM counts
                the first chunk with a `choices` entry, which on some servers is an empty role-only delta).
          TPOT  time per output token, per request: (E2E latency - TTFT) / (output tokens - 1), requests with
                more than one output token; the table summarises it over requests.
          ITL   inter-token latency: every gap between consecutive chunks with text, pooled over all requests
                (a chunk holding several tokens is one gap).
          E2E   end-to-end latency of a request: until the last event before [DONE] (as vLLM; the usage chunk counts).
          Percentiles interpolate linearly between closest ranks (numpy's default, as vLLM).
          request throughput = completed requests / duration; output throughput = output tokens of completed
          requests / duration; total = (input + output tokens) / duration; duration runs from the first request
          sent to the last one finished. Goodput = completed requests meeting every SLO / duration (vLLM's
          request goodput; an `itl` SLO, not in vLLM, bounds a request's largest gap).
          Output tokens come from the final `usage` chunk (stream_options.include_usage) when the server sends it,
          else from the number of chunks with text; the table says which. Failed requests are left out of every
          latency figure and counted by kind: http_<status>, timeout, connection (no response), incomplete_stream
          (cut before [DONE]), malformed_stream (a data line that is not JSON), stream_error (an error object in
          the stream).
          Other tools differ: GuideLLM's "inter-token latency" is per request (last token - first token) / (tokens - 1),
          close to TPOT here, and its "time per output token" is (last token - start) / tokens, TTFT included;
          llmperf's "inter-token latency" is per request the sum of all gaps, TTFT included, / output tokens, with
          tokens counted by a Llama tokenizer on the text rather than taken from the server's usage.
        """

    static func ms(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "-" }

    public static func markdown(_ s: ServingBench, interrupted: Bool) -> String {
        var out = "endpoints: \(s.endpoints.joined(separator: ", ")); model \(s.model); /v1/\(s.api == .chat ? "chat/completions" : "completions"); "
        out += "prompts: \(s.dataset)"
        if let n = s.inputTokens { out += " (~\(n) tokens)" }
        out += ", max \(s.outputTokens) output tokens\(s.ignoreEOS ? " (ignore_eos)" : "")\n"
        for run in s.runs {
            out += "\n### concurrency \(run.concurrency), request rate \(run.requestRate.map { String(format: "%g/s", $0) } ?? "inf")\n\n"
            var rows: [[String]] = []
            for (name, m) in [("TTFT (ms)", run.ttftMilliseconds), ("TPOT (ms)", run.tpotMilliseconds),
                              ("ITL (ms)", run.itlMilliseconds), ("E2E latency (ms)", run.e2elMilliseconds)] {
                rows.append([name, ms(m.mean), ms(m.median), ms(m.p90), ms(m.p99), "\(m.count)"])
            }
            out += BenchReport.table(header: ["metric", "mean", "median", "p90", "p99", "n"], rows: rows, rightAligned: [1, 2, 3, 4, 5])
            out += String(format: "\nrequests: %d completed, %d failed, %d cancelled in %.2f s", run.completed, run.failed,
                          run.cancelled, run.durationSeconds)
            if run.completedPerEndpoint.count > 1 {
                out += " (completed per endpoint: \(run.completedPerEndpoint.map(String.init).joined(separator: ", ")))"
            }
            out += String(format: "\nrequest throughput %.3f req/s; output throughput %.2f tok/s; total token throughput %.2f tok/s",
                          run.requestThroughput, run.outputTokenThroughput, run.totalTokenThroughput)
            out += "\ntokens: \(run.totalInputTokens) input (\(run.inputTokenSource)), \(run.totalOutputTokens) output (\(run.tokenCountSource))"
            if let g = run.goodput, let n = run.goodRequests {
                let slo = s.sloMilliseconds.sorted { $0.key < $1.key }.map { "\($0.key) ≤ \(String(format: "%g", $0.value)) ms" }
                out += String(format: "\ngoodput %.3f req/s (%d requests met ", g, n) + slo.joined(separator: ", ") + ")"
            }
            if !run.errors.isEmpty {
                out += "\nerrors: " + run.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                for (k, m) in run.errorExamples.sorted(by: { $0.key < $1.key }) {
                    out += "\n  e.g. \(k): \(m.replacingOccurrences(of: "\n", with: " ").prefix(160))"
                }
            }
            out += "\n"
        }
        if interrupted { out += "\ninterrupted: the runs above hold the requests finished before Ctrl-C\n" }
        out += "\n" + definitions + "\n"
        return out
    }

    /// One line per run.
    public static func csv(_ s: ServingBench) -> String {
        var out = "concurrency,request_rate,completed,failed,duration_s,request_throughput,output_throughput,goodput,"
            + "ttft_mean_ms,ttft_median_ms,ttft_p99_ms,tpot_mean_ms,tpot_median_ms,tpot_p99_ms,itl_mean_ms,itl_median_ms,itl_p99_ms,"
            + "e2el_mean_ms,e2el_median_ms,e2el_p99_ms,token_count_source\n"
        for r in s.runs {
            var f: [String] = ["\(r.concurrency)", r.requestRate.map { "\($0)" } ?? "inf", "\(r.completed)", "\(r.failed)",
                               String(format: "%.4f", r.durationSeconds), String(format: "%.4f", r.requestThroughput),
                               String(format: "%.4f", r.outputTokenThroughput), r.goodput.map { String(format: "%.4f", $0) } ?? ""]
            for m in [r.ttftMilliseconds, r.tpotMilliseconds, r.itlMilliseconds, r.e2elMilliseconds] {
                f += [m.mean, m.median, m.p99].map { $0.map { String(format: "%.3f", $0) } ?? "" }
            }
            f.append(r.tokenCountSource)
            out += f.joined(separator: ",") + "\n"
        }
        return out
    }
}
