import Compute
import Foundation

/// A machine a model might run on: the memory a model may use and the bandwidth it streams weights at.
public struct Hardware: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case gpu, appleSilicon, cpu }

    public var id: String
    public var name: String
    public var kind: Kind
    /// Memory installed (VRAM, or unified / system RAM).
    public var totalBytes: Int
    /// What a model may use: all of VRAM; on a Mac only the GPU's share of unified memory (see `macGPUShare`).
    public var usableBytes: Int
    /// Memory bandwidth in bytes per second (vendor specification, or measured for `this-machine`).
    public var bandwidthBytesPerSecond: Double
    /// Driver / runtime memory outside the model's buffers (see `HardwareCatalog.runtimeOverhead`).
    public var runtimeOverheadBytes: Int
    /// Where the figures come from and what was assumed.
    public var source: String

    public init(id: String, name: String, kind: Kind, totalBytes: Int, usableBytes: Int, bandwidthBytesPerSecond: Double,
                runtimeOverheadBytes: Int, source: String) {
        self.id = id
        self.name = name
        self.kind = kind
        self.totalBytes = totalBytes
        self.usableBytes = usableBytes
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.runtimeOverheadBytes = runtimeOverheadBytes
        self.source = source
    }
}

public enum HardwareError: Error, CustomStringConvertible, Equatable {
    case unknown(String)
    case needsMeasurement

    public var description: String {
        switch self {
        case .unknown(let id): "unknown hardware '\(id)' (known: \(HardwareCatalog.ids.joined(separator: ", ")))"
        case .needsMeasurement: "this-machine needs a bandwidth measurement (the CLI measures it)"
        }
    }
}

/// Memory size and bandwidth of common GPUs and Macs (vendor specification sheets).
public enum HardwareCatalog {
    static let GiB = 1 << 30

    /// Memory a GPU runtime holds besides the model's buffers: CUDA context, cuBLAS workspaces, allocator slack
    /// (an assumption: llama.cpp's CUDA backend shows about 0.3-0.5 GiB in nvidia-smi before any model buffer).
    public static let gpuRuntimeOverhead = GiB / 2
    /// Metal keeps less outside the working set; the working-set cap itself is the big deduction on a Mac.
    public static let metalRuntimeOverhead = GiB / 4
    /// A CPU process: code, thread stacks, tokenizer tables.
    public static let cpuRuntimeOverhead = GiB / 4

    /// The GPU's share of a Mac's unified memory: Metal's default `recommendedMaxWorkingSetSize`, about 2/3 of
    /// RAM up to 36 GB and 3/4 above. Reported values: 16 GB → 10922.67 MB (abetlen/llama-cpp-python#687),
    /// 32 GB M2 Max → 21845.34 MB (ollama/ollama#434), 64 GB → loads fail above ~47-48 GB (ggml-org/llama.cpp#1870).
    /// macOS 26 reports more on 128 GB machines (107.5 GiB, antirez/ds4#890); raise it with `iogpu.wired_limit_mb`.
    public static func macGPUShare(ramBytes: Int) -> Int {
        ramBytes <= 36 * GiB ? ramBytes * 2 / 3 : ramBytes * 3 / 4
    }

    static func gpu(_ id: String, _ name: String, gib: Int, gbps: Double, _ source: String) -> Hardware {
        Hardware(id: id, name: name, kind: .gpu, totalBytes: gib * GiB, usableBytes: gib * GiB,
                 bandwidthBytesPerSecond: gbps * 1e9, runtimeOverheadBytes: gpuRuntimeOverhead, source: source)
    }

    static func mac(_ gib: Int, chip: String, gbps: Double) -> Hardware {
        Hardware(id: "mac-\(gib)gb", name: "Mac \(chip), \(gib) GB unified", kind: .appleSilicon, totalBytes: gib * GiB,
                 usableBytes: macGPUShare(ramBytes: gib * GiB), bandwidthBytesPerSecond: gbps * 1e9,
                 runtimeOverheadBytes: metalRuntimeOverhead,
                 source: "Apple \(chip) specification (\(Int(gbps)) GB/s); GPU share = \(gib <= 36 ? "2/3" : "3/4") of RAM (Metal recommendedMaxWorkingSetSize default)")
    }

    public static let entries: [Hardware] = [
        gpu("rtx-4090", "NVIDIA GeForce RTX 4090", gib: 24, gbps: 1008, "NVIDIA spec: 24 GB GDDR6X, 384-bit, 21 Gbps = 1008 GB/s"),
        gpu("rtx-3090", "NVIDIA GeForce RTX 3090", gib: 24, gbps: 936, "NVIDIA spec: 24 GB GDDR6X, 384-bit, 19.5 Gbps = 936 GB/s"),
        gpu("rtx-4060-ti-16gb", "NVIDIA GeForce RTX 4060 Ti 16 GB", gib: 16, gbps: 288, "NVIDIA spec: 16 GB GDDR6, 128-bit, 18 Gbps = 288 GB/s"),
        gpu("l4", "NVIDIA L4", gib: 24, gbps: 300, "NVIDIA L4 datasheet: 24 GB GDDR6, 300 GB/s"),
        gpu("a100-40gb", "NVIDIA A100 40 GB (SXM4)", gib: 40, gbps: 1555, "NVIDIA A100 datasheet: 40 GB HBM2, 1555 GB/s"),
        gpu("a100-80gb", "NVIDIA A100 80 GB (SXM4)", gib: 80, gbps: 2039, "NVIDIA A100 datasheet: 80 GB HBM2e SXM, 2039 GB/s (PCIe: 1935)"),
        gpu("h100-80gb", "NVIDIA H100 80 GB (SXM5)", gib: 80, gbps: 3350, "NVIDIA H100 datasheet: SXM5 80 GB HBM3, 3.35 TB/s (PCIe: 2.0 TB/s)"),
        // One chip per memory size, the usual one for that size.
        mac(16, chip: "M4", gbps: 120),
        mac(32, chip: "M2 Max", gbps: 400),
        mac(64, chip: "M2 Max", gbps: 400),
        mac(128, chip: "M4 Max", gbps: 546),
    ]

    public static let thisMachineID = "this-machine"
    public static var ids: [String] { entries.map(\.id) + [thisMachineID] }

    /// A catalog entry by id (case and spacing forgiven: "RTX-4090", "rtx4090").
    public static func find(_ id: String) -> Hardware? {
        let key = ModelCatalog.normalized(id)
        return entries.first { ModelCatalog.normalized($0.id) == key }
    }

    /// This computer: its memory (MemTotal / hw.memsize) and a memory-read bandwidth measured by the caller.
    /// This machine, its memory read bandwidth measured now with `threads` threads.
    public static func thisMachine(threads: Int) throws -> Hardware {
        thisMachine(measuredBandwidth: try KernelBenchmark.memoryReadBandwidth(threads: threads), threads: threads)
    }

    public static func thisMachine(measuredBandwidth bytesPerSecond: Double, threads: Int) -> Hardware {
        let total = Int(ProcessInfo.processInfo.physicalMemory)
        return Hardware(id: thisMachineID, name: "this machine (CPU, \(threads) threads)", kind: .cpu, totalBytes: total,
                        usableBytes: total, bandwidthBytesPerSecond: bytesPerSecond, runtimeOverheadBytes: cpuRuntimeOverhead,
                        source: "memory: physical RAM (MemTotal); bandwidth: measured here, f32 streaming read with \(threads) threads")
    }

    /// Parses a comma-separated list; `this-machine` is resolved by `thisMachine` (it needs a measurement).
    public static func resolve(_ list: String, thisMachine: () throws -> Hardware) throws -> [Hardware] {
        try list.split(separator: ",").map { raw in
            let id = raw.trimmingCharacters(in: .whitespaces)
            if ModelCatalog.normalized(id) == ModelCatalog.normalized(thisMachineID) { return try thisMachine() }
            guard let h = find(id) else { throw HardwareError.unknown(id) }
            return h
        }
    }
}
