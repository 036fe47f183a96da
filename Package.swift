// swift-tools-version:6.0
// hssk depends on system C libraries from Debian only: no SwiftPM package dependencies (a small
// supply chain for sensitive health data). Dependencies point one way:
// hssk → Services → {Linkage, RecordStore, Kafka} → HealthModel.
import PackageDescription

let package = Package(
    name: "hssk",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "hssk", targets: ["hssk"]),
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "HealthModel", targets: ["HealthModel"]),
    ],
    targets: [
        // System libraries (module.modulemap + shim.h, found through pkg-config).
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // The raw-C librdkafka loop that `hssk bench kafka` measures our Swift API against.
        .target(name: "CKafkaBaseline", dependencies: ["CRdKafka"]),

        .target(name: "HealthModel"),
        .target(name: "Kafka", dependencies: ["CRdKafka"]),
        .target(name: "Services", dependencies: ["Kafka", "HealthModel", "CKafkaBaseline", "COpenSSL"]),
        .executableTarget(name: "hssk", dependencies: ["Services", "Kafka"]),

        .target(name: "HSSKTesting", dependencies: ["Kafka", "Services"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "HSSKTesting"]),
        .testTarget(name: "HealthModelTests", dependencies: ["HealthModel"]),
        // Fixtures (sample XML 130 files) are read through #filePath, not bundled as resources.
        .testTarget(name: "ServicesTests", dependencies: ["Services", "HSSKTesting", "Kafka", "HealthModel"],
                    exclude: ["Fixtures"]),
        // Runs the built `hssk` binary (and kcat) as an operator would.
        .testTarget(name: "hsskTests", dependencies: ["hssk"]),
    ],
    swiftLanguageModes: [.v6]
)
