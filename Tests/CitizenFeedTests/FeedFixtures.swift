@testable import CitizenFeed
import Foundation
import HSSKTesting
import HealthModel
import Kafka
@testable import RecordStore
@testable import ServiceRuntime
import Synchronization
import XCTest

/// Records, person files and checks shared by the feed tests.
enum FeedFixtures {
    static let personalID = "001058012345"
    static let oldPersonalID = "001058099999"
    static let generatedAt = Date(timeIntervalSince1970: 1_767_225_600)   // 2026-01-01T00:00:00Z

    static func patient(_ name: String = "Nguyễn Văn An", personalID: String? = FeedFixtures.personalID, birthDate: String = "1958-03-07",
                        sex: Int = 1) -> PersonDetails {
        PersonDetails(fullName: name, birthDate: birthDate, sex: sex, personalId: personalID, bhxhNumber: "0123456789", nationality: "000",
                      ethnicity: "1", occupation: "00012",
                      address: Address(text: "Số 1 Phố Huế, Hà Nội", provinceCode: "01", communeCode: "00256"), phone: "+84912345678")
    }

    static func visit(_ episode: String, patient: PersonDetails = patient(), time: String = "2025-05-02T08:15",
                      diagnoses: [Diagnosis] = [Diagnosis(code: "J18.9", text: "Viêm phổi")]) -> VisitRecord {
        VisitRecord(facilityCode: "01001", episodeKey: episode, patientId: "BN-\(episode)", patient: patient, visitType: "03",
                    admissionTime: time, diagnoses: diagnoses)
    }

    static func dose(_ id: String, person: PersonDetails = patient(), date: String = "2025-03-01T09:00") -> VaccinationDose {
        VaccinationDose(siteCode: "01I29", doseId: id, person: person, vaccineCode: "CUM", vaccineName: "Cúm mùa", lotNumber: "L1",
                        doseNumber: 1, administeredAt: date)
    }

    /// A stored record of `record`, with the canonical JSON as its original bytes.
    static func stored(_ record: SourceRecord, id: Int64) -> PersonRecord {
        let original: Data
        switch record {
        case .visit(let r): original = (try? RecordDecoder.encode(r)) ?? Data()
        case .vaccination(let r): original = (try? RecordDecoder.encode(r)) ?? Data()
        case .insuranceCard(let r): original = (try? RecordDecoder.encode(r)) ?? Data()
        case .registryEvent(let r): original = (try? RecordDecoder.encode(r)) ?? Data()
        }
        return PersonRecord(id: id, kind: record.kind, original: Array(original),
                            coordinates: KafkaCoordinates(topic: "t", partition: 0, offset: id), sender: "s", version: 1)
    }

    static func person(_ id: Int64, name: String = "Nguyễn Văn An", birthDate: String = "1958-03-07", sex: Int = 1,
                       personalIDs: [(String, active: Bool)] = [(FeedFixtures.personalID, true)], mergedInto: PersonID? = nil) -> StoredPerson {
        StoredPerson(id: PersonID(id), demographics: Demographics(fullName: name, birthDate: birthDate, sex: sex, phone: "0912345678"),
                     identifiers: personalIDs.enumerated().map { i, entry in
                         StoredIdentifier(type: .personalId, value: entry.0, validFrom: "20\(10 + i)-01-01",
                                          validTo: entry.active ? nil : "20\(11 + i)-01-01", source: "test")
                     },
                     mergedInto: mergedInto, recordCount: 0)
    }

    static func file(_ person: StoredPerson, records: [SourceRecord] = [], relations: [PersonRelation] = [],
                     related: [StoredPerson] = []) -> PersonFile {
        PersonFile(person: person, records: records.enumerated().map { stored($0.element, id: Int64($0.offset + 1)) },
                   relations: relations, related: Dictionary(uniqueKeysWithValues: related.map { ($0.id, $0) }))
    }

    /// The document's JSON as a dictionary.
    static func json(_ document: CitizenDocument) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(document.encoded())) as? [String: Any])
    }
}

/// Checks that every key of a JSON value is a property the citizen-document schema allows at
/// that place (the allowlist), following `$ref`, `allOf`, `properties` and `items`.
struct SchemaAllowlist {
    let schemas: [String: [String: Any]]

    /// The repository's `topics/schemas/` folder, found from this file's path.
    static let schemasURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("topics/schemas")

    init() throws {
        var schemas: [String: [String: Any]] = [:]
        for name in ["citizen-document.v1.schema.json", "common.v1.schema.json"] {
            let data = try Data(contentsOf: Self.schemasURL.appendingPathComponent(name))
            schemas[name] = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        self.schemas = schemas
    }

    /// Paths of keys the schema does not allow.
    func unknownKeys(in value: Any) -> [String] {
        var problems: [String] = []
        walk(value, schema: schemas["citizen-document.v1.schema.json"] ?? [:], path: "$", into: &problems)
        return problems
    }

    private func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let ref = schema["$ref"] as? String else { return schema }
        let parts = ref.split(separator: "#", maxSplits: 1).map(String.init)
        var target = schemas[parts[0]] ?? [:]
        for component in (parts.count > 1 ? parts[1] : "").split(separator: "/") {
            target = target[String(component)] as? [String: Any] ?? [:]
        }
        return resolve(target)
    }

    private func walk(_ value: Any, schema raw: [String: Any], path: String, into problems: inout [String]) {
        let schema = resolve(raw)
        var properties = schema["properties"] as? [String: Any] ?? [:]
        var items = schema["items"] as? [String: Any]
        for part in schema["allOf"] as? [[String: Any]] ?? [] {
            let resolved = resolve(part)
            properties.merge(resolved["properties"] as? [String: Any] ?? [:]) { a, _ in a }
            items = items ?? resolved["items"] as? [String: Any]
        }
        if let object = value as? [String: Any] {
            for (key, child) in object {
                guard let childSchema = properties[key] as? [String: Any] else {
                    problems.append("\(path).\(key)")
                    continue
                }
                walk(child, schema: childSchema, path: "\(path).\(key)", into: &problems)
            }
        } else if let array = value as? [Any], let items {
            for (i, element) in array.enumerated() { walk(element, schema: items, path: "\(path)[\(i)]", into: &problems) }
        }
    }
}

/// A small deterministic generator (SplitMix64), so a failing property case can be replayed by seed.
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
}

/// A store and an embedded cluster with the feed topics, as the feed services find them in production.
final class FeedWorld {
    let cluster: EmbeddedCluster
    let store: any HealthRecordStore
    let directory: URL
    /// Where the store lives and its keys (for tests that damage rows underneath it).
    let location: String
    let keys: KeyRing
    private let backend: TestStores.Backend
    private let ownsCluster: Bool
    private var offset: Int64 = 0

    /// A fresh store on `backend`, and the feed topics on `cluster` (a new one-broker cluster by default).
    init(backend: TestStores.Backend = .sqlite, cluster: EmbeddedCluster? = nil, partitions: Int = 3) async throws {
        ownsCluster = cluster == nil
        self.cluster = try cluster ?? EmbeddedCluster(brokers: 1)
        try self.cluster.createTopic(FeedHeaders.topic, partitions: partitions, replicationFactor: 1)
        try self.cluster.createTopic(FeedHeaders.deadLetterTopic, partitions: 1, replicationFactor: 1)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-feed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.backend = backend
        location = try TestStores.freshLocation(backend)
        keys = try KeyRing.generate()
        store = try await RecordStores.open(location, keys: keys)
    }

    /// A raw connection to the store's database, beside the store (close it after use).
    func raw() throws -> SQLConnection {
        switch backend {
        case .sqlite: return try SQLiteConnection(path: location)
        case .postgres: return try PostgresConnection(url: location)
        }
    }

    func close() async {
        await store.close()
        if ownsCluster { cluster.shutdown() }
        try? FileManager.default.removeItem(at: directory)
    }

    func producer() throws -> Producer { try Producer(config: KafkaTesting.producerConfig(cluster)) }

    /// Stores `record` for `person` exactly as ingest does: records, identity and one citizen-feed
    /// message per person touched, in one batch.
    @discardableResult
    func ingest(_ record: SourceRecord, person: PersonRef, identity: [IdentityChange] = []) async throws -> ApplyResult {
        offset += 1
        let topic: String
        let original: Data
        switch record {
        case .visit(let r): (topic, original) = ("hssk.visits.v1", try RecordDecoder.encode(r))
        case .vaccination(let r): (topic, original) = ("hssk.vaccinations.v1", try RecordDecoder.encode(r))
        case .insuranceCard(let r): (topic, original) = ("hssk.insurance.cards.v1", try RecordDecoder.encode(r))
        case .registryEvent(let r): (topic, original) = ("hssk.registry.v1", try RecordDecoder.encode(r))
        }
        let coordinates = KafkaCoordinates(topic: topic, partition: 0, offset: offset)
        return try await store.apply(StoreBatch(
            records: [IncomingRecord(record: record, original: Array(original), coordinates: coordinates, sender: "01001_lt_bnv", person: person)],
            identity: identity,
            outbox: [PersonChange(reason: .record, topic: topic, partition: 0, offset: offset).message(for: person)]))
    }

    /// A new person with `personalID` (when given) and one record.
    func newPerson(_ record: SourceRecord, personalID: String?, validFrom: String = "2016-01-01",
                   demographics: Demographics = Demographics(fullName: "Nguyễn Văn An", birthDate: "1958-03-07", sex: 1, phone: "0912345678"))
        async throws -> PersonID {
        var identity: [IdentityChange] = [.newPerson(local: 1, demographics)]
        if let personalID {
            identity.append(.addIdentifier(.new(local: 1), IdentifierEntry(.personalId, personalID, validFrom: validFrom, source: "test")))
        }
        let result = try await ingest(record, person: .new(local: 1), identity: identity)
        return try XCTUnwrap(result.newPersons[1])
    }
}

/// One record of the feed as read back.
struct FeedEntry: Equatable {
    var key: String
    var version: Int64
    var document: CitizenDocument?
    var isTombstone: Bool { document == nil }
}

/// Reads the feed topic from the start as an independent consumer group.
final class FeedReader {
    let consumer: Consumer
    private(set) var entries: [FeedEntry] = []

    init(_ cluster: EmbeddedCluster, topic: String = FeedHeaders.topic) async throws {
        consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "reader-\(UUID().uuidString)"))
        try await consumer.subscribe([topic])
    }

    /// Reads until `count` more entries arrived (or 30 s passed) and returns the new ones.
    func read(_ count: Int) async throws -> [FeedEntry] {
        let records = try await KafkaTesting.consume(consumer, count: count)
        let new = try records.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }.map { record in
            FeedEntry(key: String(decoding: record.key ?? [], as: UTF8.self),
                      version: Int64(record.headerText(FeedHeaders.version) ?? "") ?? -1,
                      document: try record.value.map { try JSONDecoder().decode(CitizenDocument.self, from: Data($0)) })
        }
        entries += new
        return new
    }

    /// Leaves the group (before the cluster goes away, so that nothing is left retrying).
    func close() async throws { try await consumer.close() }
}
