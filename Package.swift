// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "kraken-audit",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kraken-audit", targets: ["kraken-audit"]),
        .library(name: "KrakenAPI", targets: ["KrakenAPI"]),
        .library(name: "AuditStore", targets: ["AuditStore"]),
        .library(name: "AuditConfig", targets: ["AuditConfig"]),
        .executable(name: "kraken-simulator", targets: ["kraken-simulator"]),
        .library(name: "KrakenSimulator", targets: ["KrakenSimulator"]),
        .library(name: "Analyser", targets: ["Analyser"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
        // Real-time watch (issue 20): the WebSocket v2 server of the simulator and the client of `watch`.
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        // Kraken's data export (issue 10): zip archives and CSV headers are read by maintained code.
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
        .package(url: "https://github.com/yaslab/CSV.swift", exact: "2.5.2"),
    ],
    targets: [
        // System libraries (see ../shared/swift-build-notes.md).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Child processes without Foundation's Process (alert hooks, secret commands, tests).
        .target(name: "ChildProcesses"),
        // The shared kernel: exact JSON, secrets, civil dates and the version, used by every layer above.
        .target(name: "AuditKernel", dependencies: ["COpenSSL"]),
        .target(
            name: "KrakenAPI",
            dependencies: ["AuditKernel", "COpenSSL", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "AuditStore",
            dependencies: ["AuditKernel", "CLibPQ", "COpenSSL", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "AuditConfig",
            dependencies: ["AuditKernel", "KrakenAPI", "ChildProcesses", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        .target(
            name: "Collector",
            dependencies: [
                "AuditKernel", "KrakenAPI", "AuditStore", "AuditConfig", .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"), .product(name: "CSV", package: "CSV.swift"),
            ]
        ),
        .target(
            name: "Reports",
            dependencies: ["AuditKernel", "AuditStore", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Alerts",
            dependencies: ["AuditKernel", "AuditStore", "AuditConfig", "KrakenAPI", "ChildProcesses", .product(name: "Logging", package: "swift-log")]
        ),
        // Tamper evidence (issue 17): Ed25519 keys, canonical JSON, signed digests, the digest archive and hook.
        .target(
            name: "Integrity",
            dependencies: [
                "AuditKernel", "AuditStore", "COpenSSL", "KrakenAPI", "AuditConfig", "ChildProcesses",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Operations",
            dependencies: [
                "AuditKernel", "KrakenAPI", "AuditStore", "AuditConfig", "Collector", "Reports", "Alerts", "Analyser", "Integrity", "Watch",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Analyser",
            dependencies: ["AuditStore", "AuditConfig", .product(name: "Logging", package: "swift-log")]
        ),
        // Real-time watch (issue 20): the WebSocket v2 client, stream storage through the Collector, rules on arrival.
        .target(
            name: "Watch",
            dependencies: [
                "AuditKernel", "KrakenAPI", "AuditStore", "AuditConfig", "Collector", "Analyser", "Alerts",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "kraken-audit",
            dependencies: [
                "Operations", "AuditKernel", "AuditConfig", "Analyser", "Reports", "Integrity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The Kraken simulator (issue 4): library for in-process tests, executable wrapper.
        .target(
            name: "KrakenSimulator",
            dependencies: [
                "AuditKernel", "KrakenAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            exclude: ["README.md"]
        ),
        .executableTarget(
            name: "kraken-simulator",
            dependencies: [
                "KrakenSimulator", "AuditKernel", "KrakenAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "KrakenSimulatorTests",
            dependencies: [
                "KrakenSimulator", "AuditKernel", "KrakenAPI", "ChildProcesses", "TestSupport",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ]),

        // Benchmarks (print figures; see README "Performance").
        .executableTarget(
            name: "collector-bench",
            dependencies: ["Collector", "AuditKernel", "AuditStore", "AuditConfig", "KrakenAPI", "ChildProcesses", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/CollectorBench"
        ),
        .executableTarget(
            name: "integrity-bench",
            dependencies: ["Integrity", "AuditStore", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/IntegrityBench"
        ),
        .executableTarget(
            name: "scale-bench",
            dependencies: ["Collector", "AuditKernel", "AuditStore", "AuditConfig", "KrakenAPI", "ChildProcesses", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/ScaleBench"
        ),

        .executableTarget(
            name: "watch-bench",
            dependencies: ["KrakenSimulator", "AuditKernel", "AuditStore", "ChildProcesses", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/WatchBench"
        ),

        // Shared test helpers: throw-away databases in the cluster `scripts/test` starts, and the simulated-collection
        // harness (`withSimulatedCollection`).
        .target(
            name: "TestSupport",
            dependencies: ["AuditKernel", "AuditStore", "AuditConfig", "KrakenAPI", "KrakenSimulator", "Collector", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "AuditKernelTests", dependencies: ["AuditKernel"]),
        .testTarget(name: "KrakenAPITests", dependencies: ["AuditKernel", "KrakenAPI", "TestSupport"]),
        .testTarget(name: "AuditStoreTests", dependencies: ["AuditStore", "KrakenAPI", "TestSupport"]),
        .testTarget(name: "AuditConfigTests", dependencies: ["AuditConfig", "KrakenAPI", "TestSupport"]),
        .testTarget(name: "CollectorTests", dependencies: ["AuditKernel", "ChildProcesses", "Collector", "AuditStore", "AuditConfig", "KrakenAPI", "KrakenSimulator", "TestSupport"]),
        .testTarget(name: "ExportTests", dependencies: ["AuditKernel", "ChildProcesses", "Collector", "AuditStore", "AuditConfig", "KrakenAPI", "KrakenSimulator", "TestSupport", .product(name: "ZIPFoundation", package: "ZIPFoundation"), .product(name: "CSV", package: "CSV.swift")]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "AuditKernel", "AuditStore", "TestSupport"]),
        .testTarget(name: "AlertsTests", dependencies: ["AuditKernel", "ChildProcesses", "Alerts", "AuditStore", "AuditConfig", "KrakenAPI", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ChildProcessesTests", dependencies: ["ChildProcesses"]),
        .testTarget(
            name: "IntegrityTests",
            dependencies: [
                "Integrity", "AuditKernel", "AuditConfig", "AuditStore", "Analyser", "ChildProcesses", "Operations", "KrakenAPI", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "AnalyserTests", dependencies: ["Analyser", "Alerts", "AuditStore", "AuditConfig", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "PipelineTests", dependencies: ["AuditKernel", "Collector", "Analyser", "KrakenSimulator", "AuditStore", "AuditConfig", "KrakenAPI", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "OperationsTests", dependencies: ["AuditKernel", "ChildProcesses", "Operations", "Reports", "AuditConfig", "AuditStore", "KrakenAPI", "KrakenSimulator", "Analyser", "Alerts", "Collector", "TestSupport"]),
        .testTarget(
            name: "WatchTests",
            dependencies: [
                "Watch", "AuditKernel", "AuditStore", "AuditConfig", "Collector", "KrakenAPI", "KrakenSimulator", "Operations", "Analyser",
                "Alerts", "ChildProcesses", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "OperatorTests", dependencies: ["AuditKernel", "AuditStore", "AuditConfig", "ChildProcesses", "KrakenSimulator", "Analyser", "Reports", "TestSupport", .product(name: "Logging", package: "swift-log")], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
