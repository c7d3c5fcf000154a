// swift-tools-version: 6.2
import PackageDescription

/// Hot code is compiled with optimization in every configuration, so `swift test` (debug) runs it at speed.
let optimized: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "Featherweight",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "feather", targets: ["FeatherCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        // Layers, bottom up; each calls only the ones below (README, Layout): GGUF, SeededRandom → CKernels →
        // Compute (the only door to CKernels) → Tokenizers, Templates → Grammar → Models (what is computed) → Engine
        // (one sequence runner) → OpenAIWire → Server → Backends (the one door to a model) → Weigh → FeatherCLI.
        // ModelStores (where models live on disk) sits under Models and Backends; Hub (`feather pull`) on it.
        // Optimized even in debug builds: tests parse 250 MB models thousands of times.
        .target(name: "GGUF", swiftSettings: optimized),
        .target(name: "SeededRandom", swiftSettings: optimized),
        // Numeric kernels in C; SIMD paths use per-function target attributes, never global -march.
        // Optimized in debug builds too, so tests that run models take seconds, not minutes.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "Compute", dependencies: ["CKernels", "GGUF", "SeededRandom"], swiftSettings: optimized),
        // Process start-up for the code-execution sandbox (rlimits, session, namespaces between fork and exec).
        .target(name: "CSandbox"),
        .target(name: "Tokenizers", dependencies: ["GGUF"], swiftSettings: optimized),
        .target(name: "ModelStores"),
        .target(name: "Models", dependencies: ["SeededRandom", "GGUF", "Compute", "ModelStores"], swiftSettings: optimized),
        .target(name: "Hub", dependencies: [
            "ModelStores",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Grammars over bytes (JSON, JSON Schema) that constrain decoding; Engine applies them per token.
        .target(name: "Grammar", dependencies: ["Templates"], swiftSettings: optimized),
        .target(name: "Engine", dependencies: ["SeededRandom", "Models", "Compute", "Tokenizers", "Templates", "Grammar"], swiftSettings: optimized),
        // The OpenAI API's request and response bodies, shared by Server, Backends (OpenAIBackend) and Weigh (LoadTest).
        // Arbitrary JSON in them (tool schemas and arguments) is Templates' Value, which keeps key order.
        .target(name: "OpenAIWire", dependencies: ["Templates"]),
        .target(
            name: "Server",
            dependencies: [
                "Engine", "Models", "Tokenizers", "OpenAIWire", "Templates", "Grammar",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "Weigh", dependencies: [
            "SeededRandom", "GGUF", "Models", "Compute", "Engine", "Backends", "CSandbox", "OpenAIWire", "Templates",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ], resources: [.copy("Tasks")]),
        // Over Engine and Server: BackendFactory builds every Engine, the served ones included.
        .target(
            name: "Backends",
            dependencies: [
                "Engine", "Models", "ModelStores", "Tokenizers", "OpenAIWire", "Server",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        .target(name: "Templates", swiftSettings: optimized),
        .executableTarget(
            name: "FeatherCLI",
            dependencies: [
                "Tokenizers", "Weigh", "Server", "Backends", "Hub", "ModelStores",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Members of modules a file does not import stay invisible: the CLI cannot reach below Backends and Weigh by inference.
            swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")]
        ),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"]),
        .testTarget(name: "ComputeTests", dependencies: ["CKernels", "Compute", "GGUF"]),
        .testTarget(name: "TokenizersTests", dependencies: ["GGUF", "Tokenizers"]),
        .testTarget(name: "ModelsTests", dependencies: ["GGUF", "Models", "Compute", "Tokenizers"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Models", "Tokenizers", "Templates", "GGUF", "Grammar", "SeededRandom"]),
        .testTarget(name: "WeighTests", dependencies: ["GGUF", "Models", "Engine", "Weigh", "Backends", "SeededRandom"]),
        .testTarget(name: "TemplatesTests", dependencies: ["Templates"]),
        .testTarget(name: "GrammarTests", dependencies: ["Grammar", "Templates", "SeededRandom"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Engine", "Models", "OpenAIWire", "Templates"]),
        .testTarget(name: "OpenAIWireTests", dependencies: ["OpenAIWire", "Templates"]),
        .testTarget(name: "BackendsTests", dependencies: ["Backends", "Engine", "Models"]),
        .testTarget(name: "ModelStoresTests", dependencies: ["ModelStores", "Models", "GGUF"]),
        .testTarget(name: "HubTests", dependencies: [
            "Hub", "ModelStores", "Models", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "EvalTests", dependencies: ["SeededRandom", "Weigh", "Backends", "Engine", "Models"]),
    ],
    swiftLanguageModes: [.v6]
)
