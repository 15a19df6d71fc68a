// swift-tools-version: 6.0
// The manifest Swift 6.0 reads instead of Package.swift (Swift 6.1 and later read Package.swift).
// Swift 6.0 is the toolchain of Debian trixie's `swiftlang` package, which builds and tests Rill
// for arm64 (Tools/aarch64/).
//
// KEEP IT IN STEP WITH Package.swift: the same targets in the same order with the same
// settings, so that `diff Package.swift Package@swift-6.0.swift` shows only what is listed
// here. Tools/aarch64/check_manifest.sh (run by Tools/aarch64/build.sh and test.sh) fails when
// a target or package dependency of Package.swift is neither here nor on one of these lines.
// Each left-out package is one whose only version in /opt/swift-packages needs a newer
// swift-tools-version than 6.0:
// omitted-dependency: swift-log                1.16.2 needs tools 6.2 (imported by RillServer and ServeCommand.swift only)
// omitted-dependency: package-benchmark        1.38.1 needs tools 6.3 or 6.2; its 5.9 manifest wants swift-argument-parser < 1.6
// omitted-dependency: hummingbird              2.28.1 needs tools 6.2
// omitted-dependency: swift-service-lifecycle  2.13.0 needs tools 6.2
// omitted-dependency: swift-prometheus         2.4.1 needs tools 6.2
// omitted-dependency: swift-nio                2.101.3 needs tools 6.1
// omitted-dependency: swift-http-types         1.8.0 needs tools 6.1
// omitted-dependency: async-http-client        1.37.0 needs tools 6.2
// omitted-target: RillKernelBenchmarks  microbenchmarks, on package-benchmark
// omitted-target: RillServer            `rill serve`, on Hummingbird, SwiftNIO, ServiceLifecycle, Prometheus
// omitted-target: RillServerTests       on RillServer and AsyncHTTPClient
// Without RillServer, `rill` leaves out Sources/rill/ServeCommand.swift (`exclude:` below), and
// code that names `Serve` elsewhere must sit inside `#if canImport(RillServer)`. A new target on
// such a package is left out the same way, with an `omitted-target:` line.
// Tools/aarch64/swift60_check.sh builds this manifest natively with Swift 6.0.3 in minutes.
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
        .package(url: "https://github.com/apple/swift-numerics.git", from: "1.0.0"),
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
            dependencies: ["RillFormat", "RillTokenizer"]),
        .target(
            name: "RillRuntime",
            dependencies: ["RillFormat", "RillKernels", "RillModels", "RillTokenizer", "CLZ4"]),
        .executableTarget(
            name: "rill",
            dependencies: [
                "RillRuntime", "RillConvert", "RillModels", "RillKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["ServeCommand.swift"]),
        .testTarget(name: "RillFormatTests", dependencies: ["RillFormat", "RillConvert"], resources: []),
        .testTarget(name: "RillKernelsTests", dependencies: ["RillKernels", "RillFormat"]),
        .testTarget(name: "RillTokenizerTests", dependencies: ["RillTokenizer", "RillFormat"]),
        .testTarget(name: "RillModelsTests", dependencies: ["RillRuntime", "RillConvert", "RillModels", "RillFormat"]),
        .testTarget(name: "RillFuzzTests", dependencies: ["RillRuntime", "RillConvert", "RillFormat", "RillTokenizer", "RillModels"]),
    ],
    swiftLanguageModes: [.v5]
)
