import Foundation
import Testing
@testable import Weigh

/// report.html rendered by headless Chromium (installed by scripts/setup-chromium.sh from `make test`):
/// the DOM after parsing holds the tables and the SVG charts, and the page asks for nothing outside itself.
@Suite struct HTMLReportTests {
    static func chromium() -> String? {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["CHROMIUM"]].compactMap { $0 } + ["chromium", "chromium-browser", "google-chrome"]
        let path = (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for c in candidates {
            if c.hasPrefix("/") { if FileManager.default.isExecutableFile(atPath: c) { return c } else { continue } }
            if let dir = path.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/\(c)") }) { return "\(dir)/\(c)" }
        }
        return nil
    }

    /// Runs Chromium headless with a time limit; returns stdout.
    static func run(_ exe: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                       "--user-data-dir=\(NSTemporaryDirectory())feather-chromium-\(UUID().uuidString)"] + args
        // stdout goes to a file: no pipe to drain while waiting.
        let outURL = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("feather-chromium-\(UUID().uuidString).out")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL) }
        let out = try FileHandle(forWritingTo: outURL)
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(90)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        try out.close()
        let data = try Data(contentsOf: outURL)
        return String(decoding: data, as: UTF8.self)
    }

    static func count(_ s: String, _ needle: String) -> Int { s.components(separatedBy: needle).count - 1 }

    @Test func chromiumRendersTablesAndCharts() throws {
        guard let exe = Self.chromium() else {
            Issue.record("chromium not found; run scripts/setup-chromium.sh (make test does)")
            return
        }
        let result = ComparisonTests.build(ComparisonTests.measuredPair())
        let html = HTMLReport.render(result)
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("feather-html-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("report.html")
        try html.write(to: page, atomically: true, encoding: .utf8)

        let dom = try Self.run(exe, ["--dump-dom", page.absoluteString])
        #expect(dom.contains("<title>feather compare: Qwen2.5 0.5B vs SmolLM2 360M</title>"))
        // One table per section, in order, each with a row per comparison row.
        let sections = result.sections.filter { !$0.rows.isEmpty }
        #expect(Self.count(dom, "<table") == sections.count)
        #expect(Self.count(dom, "<tr class=\"") == sections.map(\.rows.count).reduce(0, +))
        // Charts: measured speed, speed of light, one score chart per metric kind, memory against context.
        for id in ["chart-speed-measured", "chart-speed-bound", "chart-scores-0", "chart-scores-1", "chart-memory"] {
            #expect(dom.contains("<figure id=\"\(id)\">"), "\(id)")
        }
        #expect(Self.count(dom, "<svg") == 5)
        #expect(Self.count(dom, "<polyline class=\"curve\"") == 2)
        // Both machines hold far more than these small models need: named under the chart instead of squashing it.
        #expect(Self.count(dom, "<line class=\"capacity\"") == 0)
        #expect(dom.contains("above the chart: rtx-4090 23.5 GiB, mac-16gb 10.4 GiB"))
        // Error bars for both models on both score charts (2 tasks × 2 models) and on the measured speed chart (2 × 2).
        #expect(Self.count(dom, "<path class=\"errorbar\"") == 8)
        #expect(dom.contains("A (p=0.039; detectable ≥ 18.3 points)"))
        // Self-contained: no scripts, stylesheets, images or fonts fetched from anywhere.
        for pattern in ["<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import", "http://", "https://"] {
            #expect(!dom.contains(pattern), "found \(pattern)")
        }

        let shot = dir.appendingPathComponent("shot.png")
        _ = try Self.run(exe, ["--hide-scrollbars", "--window-size=1280,2000", "--screenshot=\(shot.path)", page.absoluteString])
        let png = try Data(contentsOf: shot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(png.count > 20_000)
    }

    /// Large models on the same machines: the capacity lines are inside the chart.
    @Test func memoryChartDrawsMachinesInRange() async throws {
        let runner = CompareRunner(hardware: ComparisonTests.hardware + [HardwareCatalog.find("a100-40gb")!], quants: [.q4_k_m],
                                   context: 8192, kv: .f16, plan: .quick(tasks: nil, threads: 2), measurer: nil, unmeasuredReason: "unused")
        let html = HTMLReport.render(try await runner.run(["mistral-small-3.1-24b", "gemma-3-27b"], command: ["test"]) { _ in })
        #expect(Self.count(html, "<line class=\"capacity\"") == 3)
        #expect(!html.contains("above the chart"))
        #expect(!html.contains("chart-speed-measured") && html.contains("chart-speed-bound"))
    }

    /// The embedded models' memory (0.2–0.8 GiB) gives 0.2-GiB grid steps: labels are 0.2, 0.4, 0.6, never 0.6000000000000001.
    @Test func gridLabelsAreRounded() async throws {
        let runner = CompareRunner(hardware: ComparisonTests.hardware, quants: [.q4_k_m], context: 8192, kv: .f16,
                                   plan: .quick(tasks: nil, threads: 2), measurer: nil, unmeasuredReason: "unused")
        let html = HTMLReport.render(try await runner.run(["gemma-3-270m", "smollm2-135m"], command: ["test"]) { _ in })
        let labels = html.matches(of: /text-anchor="end">([0-9.]+)<\/text>/).map { String($0.output.1) }
        #expect(!labels.isEmpty)
        #expect(labels.allSatisfy { $0.count <= 4 }, "\(labels)")
    }

    @Test func textIsEscaped() {
        #expect(HTMLReport.esc("<b>\"x\" & y</b>") == "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;")
    }
}
