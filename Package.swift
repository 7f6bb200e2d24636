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
        .library(name: "Analyser", targets: ["Analyser"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // System libraries (see ../shared/swift-build-notes.md).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        .target(
            name: "KrakenAPI",
            dependencies: ["COpenSSL", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "AuditStore",
            dependencies: ["CLibPQ", "COpenSSL", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "AuditConfig",
            dependencies: ["KrakenAPI", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        .target(
            name: "Operations",
            dependencies: [
                "KrakenAPI", "AuditStore", "AuditConfig",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Analyser",
            dependencies: ["AuditStore", "AuditConfig", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "kraken-audit",
            dependencies: [
                "Operations", "KrakenAPI", "AuditStore", "AuditConfig", "Analyser",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Shared test helpers: throw-away databases in the cluster `scripts/test` starts.
        .target(name: "TestSupport", dependencies: ["AuditStore", .product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        .testTarget(name: "KrakenAPITests", dependencies: ["KrakenAPI"]),
        .testTarget(name: "AuditStoreTests", dependencies: ["AuditStore", "KrakenAPI", "TestSupport"]),
        .testTarget(name: "AuditConfigTests", dependencies: ["AuditConfig", "KrakenAPI"]),
        .testTarget(name: "AnalyserTests", dependencies: ["Analyser", "AuditStore", "AuditConfig", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "OperationsTests", dependencies: ["Operations", "AuditConfig", "AuditStore", "KrakenAPI", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
