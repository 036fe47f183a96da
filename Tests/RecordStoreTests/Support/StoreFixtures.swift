import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// Where a test's store lives, for one backend: fresh locations, raw access, and raw bytes to grep.
protocol BackendFixture: Sendable {
    /// A location (path or URL) of a new, empty store.
    func freshLocation() async throws -> String
    /// A raw connection to `location` (for tampering in tests).
    func rawConnection(_ location: String) throws -> SQLConnection
    /// Every byte the backend holds for `location` (the SQLite file + WAL, or a plain `pg_dump`).
    func rawBytes(_ location: String) throws -> [UInt8]
}

/// Known plaintext that must never appear in a database file, dump or backup.
enum Plain {
    static let name = "Nguyễn Văn An"
    static let personalID = "001058012345"
    static let newPersonalID = "001058099999"
    static let phone = "0912345678"
    static let bhxh = "0123456789"
    static let diagnosis = "Viêm phổi"
    static var needles: [String] { [name, VietnameseText.fold(name), name.uppercased(), personalID, newPersonalID, phone, "84912345678", bhxh, diagnosis] }
}

enum Fixtures {
    static let keys: KeyRing = {
        // Fixed keys so a failing run can be reproduced; a test never relies on their values.
        KeyRing(activeKeyID: "k1", encryptionKeys: ["k1": Array(repeating: 7, count: 32)], blindIndexKey: Array(repeating: 9, count: 32))
    }()

    static func patient(_ name: String = Plain.name, personalID: String? = Plain.personalID, phone: String? = Plain.phone) -> PersonDetails {
        PersonDetails(fullName: name, birthDate: "1958-03-07", sex: 1, personalId: personalID, bhxhNumber: Plain.bhxh,
                      address: Address(text: "Số 1 Phố Huế, Hà Nội", provinceCode: "01", communeCode: "00256"), phone: phone)
    }

    static func visit(_ episode: String, patient: PersonDetails = patient(), diagnosis: String = Plain.diagnosis) -> VisitRecord {
        VisitRecord(facilityCode: "01001", episodeKey: episode, patientId: "BN-\(episode)", patient: patient, visitType: "03",
                    admissionTime: "2024-05-02T08:15", diagnoses: [Diagnosis(code: "J18.9", text: diagnosis)])
    }

    static func card() -> InsuranceCardChange {
        var c = InsuranceCardChange(kind: .issued, cardCode: "GD4010123456789", bhxhNumber: Plain.bhxh, holder: patient(), effectiveAt: "2025-01-01")
        c.validFrom = "2025-01-01"
        c.validTo = "2025-12-31"
        return c
    }

    /// An incoming visit at `offset` on partition `partition` of the visits topic.
    static func incoming(_ record: VisitRecord, offset: Int64, partition: Int32 = 0, person: PersonRef? = nil) throws -> IncomingRecord {
        IncomingRecord(record: .visit(record), original: Array(try RecordDecoder.encode(record)),
                       coordinates: KafkaCoordinates(topic: "hssk.visits.v1", partition: partition, offset: offset),
                       sender: "01001_lt_bnv", person: person)
    }

    /// The position a batch moves on partition `partition`: from `from` (default: one record before
    /// `next`) to `next`, with `records` records (default: every offset in between).
    static func offset(_ next: Int64, from: Int64? = nil, records: Int? = nil, partition: Int32 = 0, group: String = "hssk-ingest") -> ConsumerOffset {
        let start = from ?? next - 1
        return ConsumerOffset(group: group, partition: TopicPartition("hssk.visits.v1", partition), from: start, nextOffset: next,
                              records: records ?? Int(next - start))
    }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-store-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Counts occurrences of `needle` in `haystack`.
func occurrences(of needle: String, in haystack: [UInt8]) -> Int {
    let n = Array(needle.utf8)
    guard !n.isEmpty, haystack.count >= n.count else { return 0 }
    var count = 0
    var i = 0
    while i <= haystack.count - n.count {
        if haystack[i] == n[0] && Array(haystack[i..<(i + n.count)]) == n { count += 1 }
        i += 1
    }
    return count
}

/// Asserts that `body` throws a `StoreError` matching `matches`.
func assertStoreError<T>(_ body: () async throws -> T, file: StaticString = #filePath, line: UInt = #line,
                         _ matches: (StoreError) -> Bool) async {
    do {
        _ = try await body()
        XCTFail("expected a StoreError", file: file, line: line)
    } catch let error as StoreError {
        XCTAssertTrue(matches(error), "unexpected StoreError: \(error)", file: file, line: line)
    } catch {
        XCTFail("expected a StoreError, got \(error)", file: file, line: line)
    }
}

/// SQLite: a file in a fresh temporary directory.
struct SQLiteFixture: BackendFixture {
    func freshLocation() async throws -> String {
        (try Fixtures.temporaryDirectory() as NSString).appendingPathComponent("hssk.sqlite")
    }
    func rawConnection(_ location: String) throws -> SQLConnection { try SQLiteConnection(path: location) }
    func rawBytes(_ location: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for suffix in ["", "-wal", "-shm"] {
            if let data = FileManager.default.contents(atPath: location + suffix) { bytes += data }
        }
        return bytes
    }
}

/// PostgreSQL: a new database per test on the server named by `HSSK_TEST_POSTGRES_URL`.
struct PostgresFixture: BackendFixture {
    let baseURL: String

    func url(database: String) throws -> String {
        guard var components = URLComponents(string: baseURL) else { throw StoreError.invalidRequest("bad HSSK_TEST_POSTGRES_URL") }
        components.path = "/" + database
        guard let url = components.string else { throw StoreError.invalidRequest("bad URL") }
        return url
    }

    func freshLocation() async throws -> String {
        let name = "hssk_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try PostgresConnection(url: baseURL)
        defer { admin.close() }
        try admin.executeScript("CREATE DATABASE \(name)")
        return try url(database: String(name))
    }

    func rawConnection(_ location: String) throws -> SQLConnection { try PostgresConnection(url: location) }

    func rawBytes(_ location: String) throws -> [UInt8] {
        let file = (try Fixtures.temporaryDirectory() as NSString).appendingPathComponent("dump.sql")
        try PostgresTools.run("pg_dump", ["--format=plain", "--file", file, "--dbname", location])
        return Array(FileManager.default.contents(atPath: file) ?? Data())
    }
}
