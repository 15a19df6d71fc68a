// swift-tools-version: 6.1
import PackageDescription

// Layers, imports only downward:
//   RillFormat → RillKernels → RillModels → RillRuntime → rill
//   RillFormat → RillTokenizer → RillRuntime
//   RillFormat (+ RillTokenizer) → RillConvert → rill
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
        .executableTarget(
            name: "rill",
            dependencies: [
                "RillRuntime", "RillConvert", "RillModels", "RillKernels",
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
        .testTarget(name: "RillFuzzTests", dependencies: ["RillRuntime", "RillConvert", "RillFormat", "RillTokenizer", "RillModels"]),
    ],
    swiftLanguageModes: [.v5]
)
