import Foundation

/// Output formats of `feather bench`, as llama-bench's `-o`.
public enum BenchOutputFormat: String, Sendable, CaseIterable {
    case md, json, csv, jsonl
}

/// Renders a local `BenchResult` as llama-bench renders its tests.
public enum BenchReport {
    public static func render(_ result: BenchResult, format: BenchOutputFormat) throws -> String {
        switch format {
        case .md: markdown(result)
        case .json: try json(result, pretty: true)
        case .jsonl: try jsonLines(result)
        case .csv: csv(result)
        }
    }

    public static func json<T: Encodable>(_ value: T, pretty: Bool) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    struct Line: Encodable {
        let schemaVersion: Int
        let model: ModelIdentity
        let isa: String
        let test: BenchTest
    }

    static func jsonLines(_ r: BenchResult) throws -> String {
        var out = ""
        for m in r.models ?? [] {
            for t in m.tests {
                out += try json(Line(schemaVersion: r.schemaVersion, model: m.model, isa: r.host.isa, test: t), pretty: false)
            }
        }
        return out
    }

    static func mib(_ b: Int?) -> String { b.map { String(format: "%.2f MiB", Double($0) / 1_048_576) } ?? "-" }

    static func modelLabel(_ m: ModelIdentity) -> String {
        ([m.architecture, m.synthetic?.source ?? m.sizeLabel, m.fileType].compactMap { $0 } + (m.synthetic != nil ? ["(synthetic)"] : []))
            .joined(separator: " ")
    }

    static func params(_ n: Int) -> String {
        n >= 1_000_000_000 ? String(format: "%.2f B", Double(n) / 1e9) : String(format: "%.2f M", Double(n) / 1e6)
    }

    static func rate(_ mean: Double, _ sd: Double) -> String { String(format: "%.2f ± %.2f", mean, sd) }

    /// llama-bench's markdown table (model, size, params, backend, threads, test, t/s) plus KV cache
    /// and peak RSS, and llama.cpp's t/s and the ratio when it ran; load times under it.
    public static func markdown(_ r: BenchResult) -> String {
        let models = r.models ?? []
        let compared = models.contains { $0.tests.contains { $0.llamaCpp != nil } }
        let first = models.lazy.flatMap(\.tests).compactMap(\.llamaCpp).first
        let other = first?.implementation ?? "llama.cpp"  // or ik_llama.cpp
        var header = ["model", "size", "params", "backend", "threads", "test", "t/s", "KV cache", "peak RSS"]
        if compared { header += ["\(other) t/s", "ratio", "\(other) peak RSS"] }
        var rows: [[String]] = []
        for m in models {
            for t in m.tests {
                var row = [modelLabel(m.model), mib(m.model.fileSize), params(m.model.parameterCount), "CPU (\(t.isa))",
                           "\(t.threads)", t.name, rate(t.meanTokensPerSecond, t.sdTokensPerSecond), mib(t.kvCacheBytes),
                           mib(t.peakResidentBytes)]
                if compared {
                    if let l = t.llamaCpp {
                        row += [rate(l.meanTokensPerSecond, l.sdTokensPerSecond), String(format: "%.2f", l.ratio), mib(l.peakResidentBytes)]
                    } else {
                        row += ["-", "-", "-"]
                    }
                }
                rows.append(row)
            }
        }
        var out = table(header: header, rows: rows, rightAligned: Set(1..<header.count).subtracting([3, 5]))
        out += "\n"
        for m in models {
            out += "\(m.model.fileName): peak RSS \(mib(m.peakResidentBytes))"
            if let mark = m.model.synthetic { out += "; \(InspectionReport.syntheticText(mark))" }
            if let load = m.load {
                func lt(_ l: LoadTiming) -> String {
                    var s = String(format: "load %.1f ms + first forward %.1f ms", l.loadSeconds * 1e3, l.firstForwardSeconds * 1e3)
                    if let f = l.residentFractionBefore { s += String(format: " (%.0f%% in page cache before)", f * 100) }
                    return s
                }
                if let c = load.cold { out += "; cold: \(lt(c))" }
                out += "; warm: \(lt(load.warm))"
                if let note = load.coldNote { out += "; note: \(note)" }
            }
            out += "\n"
        }
        out += "\nisa \(r.host.isa) (\(r.host.cpuFeatures.joined(separator: " "))), \(r.host.physicalCores) physical cores, "
            + "\(r.host.cpuModel ?? "unknown CPU"); t/s is the mean of the per-repetition rates ± their sample standard deviation"
        if compared { out += "; ratio = Featherweight t/s / \(other) t/s" }
        if let extra = first?.extraArguments { out += "; \(other)'s llama-bench ran with \(extra.joined(separator: " "))" }
        out += "\n"
        if r.interrupted { out += "interrupted: the tests above are those finished before Ctrl-C\n" }
        return out
    }

    static func table(header: [String], rows: [[String]], rightAligned: Set<Int>) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func pad(_ s: String, _ i: Int) -> String {
            let fill = String(repeating: " ", count: widths[i] - s.count)
            return rightAligned.contains(i) ? fill + s : s + fill
        }
        var out = "| " + header.enumerated().map { pad($1, $0) }.joined(separator: " | ") + " |\n"
        out += "| " + widths.enumerated().map { i, w in
            rightAligned.contains(i) ? String(repeating: "-", count: w - 1) + ":" : String(repeating: "-", count: w)
        }.joined(separator: " | ") + " |\n"
        for row in rows { out += "| " + row.enumerated().map { pad($1, $0) }.joined(separator: " | ") + " |\n" }
        return out
    }

    static func csvField(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// One line per test; every field quoted, as llama-bench's csv.
    static func csv(_ r: BenchResult) -> String {
        let header = ["model_filename", "model_path", "model_size", "model_n_params", "isa", "n_threads", "test", "n_prompt",
                      "n_gen", "n_depth", "type_k", "kv_cache_bytes", "peak_rss_bytes", "avg_ts", "stddev_ts", "samples_ts",
                      "llamacpp_avg_ts", "llamacpp_stddev_ts", "ratio"]
        var out = header.map(csvField).joined(separator: ",") + "\n"
        for m in r.models ?? [] {
            for t in m.tests {
                let fields: [String] = [
                    m.model.fileName, m.model.path, "\(m.model.fileSize)", "\(m.model.parameterCount)", t.isa, "\(t.threads)",
                    t.name, "\(t.nPrompt)", "\(t.nGen)", "\(t.depth)", t.cacheType, "\(t.kvCacheBytes)",
                    t.peakResidentBytes.map(String.init) ?? "", String(format: "%.6f", t.meanTokensPerSecond),
                    String(format: "%.6f", t.sdTokensPerSecond),
                    t.samplesTokensPerSecond.map { String(format: "%.4f", $0) }.joined(separator: " "),
                    t.llamaCpp.map { String(format: "%.6f", $0.meanTokensPerSecond) } ?? "",
                    t.llamaCpp.map { String(format: "%.6f", $0.sdTokensPerSecond) } ?? "",
                    t.llamaCpp.map { String(format: "%.4f", $0.ratio) } ?? "",
                ]
                out += fields.map(csvField).joined(separator: ",") + "\n"
            }
        }
        return out
    }
}
