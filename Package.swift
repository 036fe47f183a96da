// swift-tools-version:6.0
// hssk depends on system C libraries from Debian only: no SwiftPM package dependencies (a small
// supply chain for sensitive health data). Dependencies point one way (docs/architecture.md draws it):
// hssk → services {Ingest, CitizenFeed, InsuranceSync, SourceAdapters, Administration} → {PersonIndex,
// ServiceRuntime} → {Kafka, RecordStore, Linkage, HTTPResponder} → HealthModel. Tooling (bench, demo,
// broker, reference receiver, synthetic sources, linkage evaluation) and Chaos sit beside hssk: no
// service imports them, and only they link the benchmark baselines and the synthetic population.
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

        // Domain: records, identifiers, validation, Vietnamese text, the person index's vocabulary. Foundation only.
        .target(name: "HealthModel"),
        // The dedicated threads that keep blocking C calls off Swift's cooperative pool.
        .target(name: "DedicatedThreads"),
        // Swift API over librdkafka: config, producer, consumer, admin, embedded cluster.
        .target(name: "Kafka", dependencies: ["CRdKafka", "DedicatedThreads"]),
        // Pure linkage algorithms: comparators, Fellegi–Sunter scoring, EM, the in-memory linker, metrics.
        .target(name: "Linkage", dependencies: ["HealthModel"]),
        // The health-record store: role protocols, SQLite and PostgreSQL backends, encryption, audit, backup.
        .target(name: "RecordStore", dependencies: ["HealthModel", "DedicatedThreads", "CSQLite", "CPostgres", "COpenSSL"]),
        // A deliberately tiny, strict HTTP/1.1 responder (POSIX sockets): health, metrics, the feed's test receiver.
        .target(name: "HTTPResponder"),

        // What every service shares: lifecycle, event log, health and metrics, retry, dead letters, topic
        // catalogue, CloudEvents headers, record signatures and the sender directory, consumer triage.
        .target(name: "ServiceRuntime", dependencies: ["Kafka", "HealthModel", "RecordStore", "HTTPResponder", "COpenSSL"]),
        // The person index ingest runs: resolver, review desk, duplicate sweep, match-model estimation.
        .target(name: "PersonIndex", dependencies: ["ServiceRuntime", "Linkage", "RecordStore", "HealthModel"]),
        // One target per service.
        .target(name: "Ingest", dependencies: ["PersonIndex", "ServiceRuntime", "Kafka", "RecordStore", "HealthModel"]),
        .target(name: "CitizenFeed", dependencies: ["ServiceRuntime", "Kafka", "RecordStore", "HealthModel"]),
        .target(name: "InsuranceSync", dependencies: ["ServiceRuntime", "Kafka", "RecordStore", "HealthModel"]),
        // Producers for the sources: validate, sign, publish; XML 130 files to visit records.
        .target(name: "SourceAdapters", dependencies: ["ServiceRuntime", "Kafka", "HealthModel"]),
        // Operators' jobs on the store and the cluster: accounts, backup/verify/rotate, consumer offsets.
        .target(name: "Administration", dependencies: ["ServiceRuntime", "Kafka", "RecordStore", "HealthModel", "COpenSSL"]),

        // Tooling, never imported by a service: benchmarks (with their raw baselines), the demo, the
        // embedded broker, the reference feed receiver, synthetic sources, linkage evaluation.
        .target(name: "CKafkaBaseline", dependencies: ["CRdKafka"]),
        .target(name: "SyntheticPopulation", dependencies: ["HealthModel"]),
        .target(name: "Tooling", dependencies: ["Ingest", "CitizenFeed", "InsuranceSync", "SourceAdapters", "PersonIndex", "ServiceRuntime",
                                                "Kafka", "RecordStore", "Linkage", "HealthModel", "HTTPResponder", "SyntheticPopulation",
                                                "CKafkaBaseline", "CSQLite", "CPostgres", "COpenSSL"]),
        // `hssk chaos`, the standing proof of exactly-once.
        .target(name: "Chaos", dependencies: ["Tooling", "CitizenFeed", "SourceAdapters", "ServiceRuntime", "Kafka", "RecordStore", "HealthModel",
                                              "SyntheticPopulation", "CSQLite", "CPostgres"]),
        // The command-line tool: parses arguments, calls the targets above.
        .executableTarget(name: "hssk", dependencies: ["Ingest", "CitizenFeed", "InsuranceSync", "SourceAdapters", "Administration", "PersonIndex",
                                                      "ServiceRuntime", "Tooling", "Chaos", "Kafka", "Linkage", "RecordStore", "HealthModel"]),

        // Test helpers shared by the test targets: embedded cluster, PostgreSQL and store fixtures, ingest scenarios.
        .target(name: "HSSKTesting", dependencies: ["Kafka", "Ingest", "ServiceRuntime", "Tooling", "RecordStore", "HealthModel", "SyntheticPopulation"]),
        .testTarget(name: "HealthModelTests", dependencies: ["HealthModel"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "HSSKTesting"]),
        .testTarget(name: "LinkageTests", dependencies: ["Linkage", "HealthModel"]),
        // COpenSSL: the migration's tests write ciphertexts in the old (column-bound) format themselves.
        .testTarget(name: "RecordStoreTests", dependencies: ["RecordStore", "HealthModel", "COpenSSL"]),
        .testTarget(name: "HTTPResponderTests", dependencies: ["HTTPResponder", "HSSKTesting"]),
        .testTarget(name: "ServiceRuntimeTests", dependencies: ["ServiceRuntime", "HSSKTesting", "Kafka", "RecordStore", "HealthModel", "HTTPResponder"]),
        .testTarget(name: "PersonIndexTests", dependencies: ["PersonIndex", "Ingest", "HSSKTesting", "Linkage", "RecordStore", "HealthModel",
                                                             "SyntheticPopulation", "ServiceRuntime"]),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "PersonIndex", "ServiceRuntime", "SourceAdapters", "Tooling", "HSSKTesting", "Kafka",
                                                        "RecordStore", "HealthModel", "SyntheticPopulation"]),
        .testTarget(name: "CitizenFeedTests", dependencies: ["CitizenFeed", "Ingest", "PersonIndex", "ServiceRuntime", "Tooling", "HSSKTesting", "Kafka",
                                                             "RecordStore", "HealthModel", "HTTPResponder"]),
        .testTarget(name: "InsuranceSyncTests", dependencies: ["InsuranceSync", "Ingest", "ServiceRuntime", "Tooling", "HSSKTesting", "Kafka",
                                                               "RecordStore", "HealthModel"]),
        // Fixtures (sample XML 130 files) are read through #filePath, not bundled as resources.
        .testTarget(name: "SourceAdaptersTests", dependencies: ["SourceAdapters", "Ingest", "ServiceRuntime", "HSSKTesting", "Kafka", "RecordStore",
                                                                "HealthModel"], exclude: ["Fixtures"]),
        .testTarget(name: "AdministrationTests", dependencies: ["Administration", "ServiceRuntime", "HSSKTesting", "RecordStore", "HealthModel"]),
        .testTarget(name: "SyntheticPopulationTests", dependencies: ["SyntheticPopulation", "HealthModel"]),
        .testTarget(name: "ToolingTests", dependencies: ["Tooling", "CitizenFeed", "ServiceRuntime", "HSSKTesting", "Kafka", "RecordStore", "HealthModel",
                                                         "HTTPResponder"]),
        .testTarget(name: "ChaosTests", dependencies: ["Chaos"]),
        // Runs the built `hssk` binary (and kcat) as an operator would.
        .testTarget(name: "hsskTests", dependencies: ["hssk", "RecordStore", "HealthModel", "ServiceRuntime", "SourceAdapters", "CitizenFeed", "Ingest", "InsuranceSync", "Tooling",
                                                      "HSSKTesting", "Kafka", "SyntheticPopulation"]),
    ],
    swiftLanguageModes: [.v6]
)
