// swift-tools-version:6.0
// hssk depends on system C libraries from Debian only: no SwiftPM package dependencies (a small
// supply chain for sensitive health data). Dependencies point one way:
// hssk → {Chaos (tooling)} → Services → {Linkage, RecordStore, Kafka} → HealthModel.
import PackageDescription

let package = Package(
    name: "hssk",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "hssk", targets: ["hssk"]),
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "HealthModel", targets: ["HealthModel"]),
        .library(name: "RecordStore", targets: ["RecordStore"]),
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
        // The dedicated threads that keep blocking C calls off Swift's cooperative pool.
        .target(name: "DedicatedThreads"),
        .target(name: "Kafka", dependencies: ["CRdKafka", "DedicatedThreads"]),
        // Seeded synthetic Vietnamese population and its sources' records, with ground truth.
        .target(name: "SyntheticPopulation", dependencies: ["HealthModel"]),
        // The person index: comparators, Fellegi–Sunter scoring, incremental linking, evaluation.
        .target(name: "Linkage", dependencies: ["HealthModel"]),
        // The health-record store: SQLite and PostgreSQL backends, encryption, audit, backup.
        .target(name: "RecordStore", dependencies: ["HealthModel", "DedicatedThreads", "CSQLite", "CPostgres", "COpenSSL"]),
        // A deliberately tiny, strict HTTP/1.1 responder (POSIX sockets): health, metrics, the feed's test receiver.
        .target(name: "HTTPResponder"),
        .target(name: "Services", dependencies: ["Kafka", "HealthModel", "Linkage", "RecordStore", "SyntheticPopulation", "CKafkaBaseline", "COpenSSL",
                                                 "HTTPResponder"]),
        // Tooling: `hssk chaos`, the standing proof of exactly-once; no production service imports it.
        .target(name: "Chaos", dependencies: ["Services", "Kafka", "RecordStore", "HealthModel", "SyntheticPopulation", "CSQLite", "CPostgres"]),
        .executableTarget(name: "hssk", dependencies: ["Services", "Chaos", "Kafka", "Linkage", "RecordStore"]),

        .target(name: "HSSKTesting", dependencies: ["Kafka", "Services", "RecordStore", "HealthModel", "SyntheticPopulation"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "HSSKTesting"]),
        .testTarget(name: "HealthModelTests", dependencies: ["HealthModel"]),
        .testTarget(name: "ChaosTests", dependencies: ["Chaos"]),
        .testTarget(name: "LinkageTests", dependencies: ["Linkage", "HealthModel"]),
        .testTarget(name: "SyntheticPopulationTests", dependencies: ["SyntheticPopulation", "HealthModel"]),
        // COpenSSL: the migration's tests write ciphertexts in the old (column-bound) format themselves.
        .testTarget(name: "RecordStoreTests", dependencies: ["RecordStore", "HealthModel", "COpenSSL"]),
        .testTarget(name: "HTTPResponderTests", dependencies: ["HTTPResponder", "HSSKTesting"]),
        // Fixtures (sample XML 130 files) are read through #filePath, not bundled as resources.
        .testTarget(name: "ServicesTests", dependencies: ["Services", "HSSKTesting", "Kafka", "HealthModel", "RecordStore", "HTTPResponder"],
                    exclude: ["Fixtures"]),
        // Runs the built `hssk` binary (and kcat) as an operator would.
        .testTarget(name: "hsskTests", dependencies: ["hssk", "RecordStore", "HealthModel", "Services", "HSSKTesting", "Kafka", "SyntheticPopulation"]),
    ],
    swiftLanguageModes: [.v6]
)
