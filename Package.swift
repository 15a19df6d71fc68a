// swift-tools-version: 6.1
import PackageDescription

// Layers, imports only downward:
//   RillFormat → RillKernels → RillModels → RillRuntime → rill
//   RillFormat → RillTokenizer → RillRuntime
//   RillFormat (+ RillTokenizer) → RillConvert → rill
//   RillRuntime (+ RillTokenizer) → RillServer (HTTP) → rill
// Kernels index raw buffers whose bounds are checked once before each loop. They are compiled
// for the building machine's CPU (AVX2/FMA on x86-64, NEON dot products on arm64): the default
// x86-64 target is SSE2 only and runs the mat-vec kernels 1.5–2× slower. Set
// RILL_TARGET_CPU (e.g. `x86-64`, `haswell`, `cortex-a76`) to build for another machine.
let targetCPU = Context.environment["RILL_TARGET_CPU"] ?? "native"
let releaseKernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked", "-target-cpu", targetCPU], .when(configuration: .release)),
]
// The C kernels (byte dot products) for the same CPU, in every configuration: their
// instruction set is chosen at compile time.
#if arch(x86_64)
let cKernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-march=\(targetCPU)"])]
#else
let cKernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-mcpu=\(targetCPU)"])]
#endif

let package = Package(
    name: "Rill",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Rill", targets: ["RillRuntime"]),
        .executable(name: "rill", targets: ["rill"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-numerics.git", from: "1.0.0"),
        // Microbenchmarks (Tests/Benchmarks). Only the malloc interposer trait: the runtime
        // interposer it enables by default on Swift 6.3 is not needed to count allocations.
        .package(url: "https://github.com/ordo-one/package-benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        // rill serve: HTTP on Hummingbird 2 (SwiftNIO), graceful shutdown, Prometheus metrics;
        // AsyncHTTPClient drives it in the tests.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.20.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CLZ4", pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]),
        .target(name: "RillFormat"),
        .target(name: "CRillKernels", cSettings: cKernelFlags),
        .target(
            name: "RillKernels",
            dependencies: [
                "RillFormat", "COpenBLAS", "CRillKernels",
                .product(name: "Numerics", package: "swift-numerics"),
            ],
            swiftSettings: releaseKernelFlags),
        .target(name: "RillTokenizer", dependencies: ["RillFormat"]),
        .target(name: "RillModels", dependencies: ["RillFormat", "RillKernels", "COpenBLAS"], swiftSettings: releaseKernelFlags),
        .target(
            name: "RillConvert",
            dependencies: ["RillFormat", "RillTokenizer", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "RillRuntime",
            dependencies: ["RillFormat", "RillKernels", "RillModels", "RillTokenizer", "CLZ4"]),
        .target(
            name: "RillServer",
            dependencies: [
                "RillRuntime", "RillTokenizer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "rill",
            dependencies: [
                "RillRuntime", "RillConvert", "RillModels", "RillKernels", "RillServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "RillFormatTests", dependencies: ["RillFormat", "RillConvert"], resources: []),
        .testTarget(name: "RillKernelsTests", dependencies: ["RillKernels", "RillFormat"]),
        .testTarget(name: "RillTokenizerTests", dependencies: ["RillTokenizer", "RillFormat"]),
        .testTarget(name: "RillModelsTests", dependencies: ["RillRuntime", "RillConvert", "RillModels", "RillFormat"]),
        .executableTarget(
            name: "RillKernelBenchmarks",
            dependencies: ["RillKernels", "RillModels", "RillFormat", .product(name: "Benchmark", package: "package-benchmark")],
            path: "Tests/Benchmarks/RillKernelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
        .testTarget(
            name: "RillServerTests",
            dependencies: [
                "RillServer", "RillRuntime", "RillConvert", "RillFormat",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .testTarget(name: "RillFuzzTests", dependencies: ["RillRuntime", "RillConvert", "RillFormat", "RillTokenizer", "RillModels"]),
    ],
    swiftLanguageModes: [.v5]
)
