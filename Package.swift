// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Featherweight",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "feather", targets: ["FeatherCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Layers, bottom up (see DESIGN.md): GGUF → CKernels → Compute → Tokenizers → Models → Weigh → FeatherCLI.
        .target(name: "GGUF"),
        .target(name: "Models", dependencies: ["GGUF"]),
        .target(name: "Weigh", dependencies: ["GGUF", "Models"]),
        .target(name: "Templates"),
        .executableTarget(
            name: "FeatherCLI",
            dependencies: [
                "GGUF", "Models", "Weigh",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"], resources: []),
        .testTarget(name: "ModelsTests", dependencies: ["GGUF", "Models"]),
        .testTarget(name: "WeighTests", dependencies: ["GGUF", "Models", "Weigh"]),
        .testTarget(name: "TemplatesTests", dependencies: ["Templates"]),
    ],
    swiftLanguageModes: [.v6]
)
