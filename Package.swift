// swift-tools-version:6.1

import PackageDescription

/// What every library test target links: the library, the demo, the client and the test support.
let testDependencies: [Target.Dependency] = [
    "AutoInterp", "AutoInterpDemo", "AutoInterpLLM", "AutoInterpTestSupport",
    .product(name: "Logging", package: "swift-log"),
    .product(name: "InMemoryLogging", package: "swift-log"),
]

let package = Package(
    name: "autointerp",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "autointerp", targets: ["autointerp"]),
        .executable(name: "autointerp-dev", targets: ["autointerp-dev"]),
        .library(name: "AutoInterp", targets: ["AutoInterp"]),
        .library(name: "AutoInterpLLM", targets: ["AutoInterpLLM"]),
        .library(name: "AutoInterpDemo", targets: ["AutoInterpDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // MARK: - C at the edge
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        /// `cpuid`/`xgetbv` reads (static inline, x86 only) for choosing the OpenBLAS kernel.
        .systemLibrary(name: "CCPUFeatures"),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),

        // MARK: - Library
        /// The LLM client: libcurl multi loop, chat completions, retries, limits, cache hooks.
        .target(
            name: "AutoInterpLLM",
            dependencies: [
                "CCurl",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// The core: formats, encoder, selection, scoring, store, pipeline stages, reports.
        .target(
            name: "AutoInterp",
            dependencies: [
                "AutoInterpLLM",
                "CCPUFeatures",
                "COpenBLAS",
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),

        /// `autointerp demo`: the model download (pip), the corpus from installed text, and the end-to-end run.
        .target(
            name: "AutoInterpDemo",
            dependencies: [
                "AutoInterp",
                "AutoInterpLLM",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: - Executable
        /// Command-line option groups both executables declare once (training flags, checked numbers).
        .target(
            name: "AutoInterpCLIOptions",
            dependencies: [
                "AutoInterp", "AutoInterpLLM",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "autointerp",
            dependencies: [
                "AutoInterp",
                "AutoInterpCLIOptions",
                "AutoInterpDemo",
                "AutoInterpLLM",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// Developer tools that do not ship in `autointerp`: benchmarks, fixture generators, the test endpoint.
        .executableTarget(
            name: "autointerp-dev",
            dependencies: [
                "AutoInterp",
                "AutoInterpCLIOptions",
                "AutoInterpTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: - Test support and tests
        /// Fixture writers and the local OpenAI-compatible test endpoint.
        .target(
            name: "AutoInterpTestSupport",
            dependencies: ["AutoInterp", "AutoInterpLLM"]
        ),
        /// Units: formats, tokenizers, models, maths, selection and the baseline, in memory and on
        /// small files; no endpoint, no run. The fast layer (`swift test --filter AutoInterpTests`).
        .testTarget(
            name: "AutoInterpTests",
            dependencies: testDependencies,
            // Read by #filePath: SAE files in publishers' layouts and their generator.
            exclude: ["Fixtures"]
        ),
        /// The store: the run database, its readers and writers, exports and reports from stored rows.
        .testTarget(name: "AutoInterpStoreTests", dependencies: testDependencies),
        /// The LLM client against the local test endpoint: retries, limits, pools, answers.
        .testTarget(name: "AutoInterpLLMTests", dependencies: testDependencies),
        /// End to end: runs in process (and a few spawned) against the scripted test endpoint.
        .testTarget(name: "AutoInterpRunTests", dependencies: testDependencies),
        /// The command line: option checks in process, and the built binaries spawned.
        .testTarget(
            name: "AutoInterpCLITests",
            dependencies: [
                "autointerp", "AutoInterp", "AutoInterpCLIOptions", "AutoInterpLLM", "AutoInterpTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
