import Foundation
import HealthModel
import RecordStore

/// `hssk bench store`: batched `HealthRecordStore.apply` against a raw insert loop of the same rows
/// through the C APIs, per backend, in the same run. The store side also encrypts, blind-indexes,
/// checks for duplicates and versions, and chains an audit row per batch; the ratio shows that cost.
public struct StoreBench: Sendable {
    /// Records per measurement.
    public var records = 50_000
    /// Records per `apply` (and per raw transaction).
    public var batchSize = 500
    /// Runs of each side, alternating; the best counts.
    public var rounds = 2
    /// PostgreSQL server for the postgres part (a scratch database is created and dropped); nil skips it.
    public var postgresURL: String?

    public init() {}

    /// Results; JSON keys as `hssk bench --json` writes them under "store".
    public struct Result: Codable, Sendable {
        public var records: Int
        public var batchSize: Int
        public var rounds: Int
        public var sqliteApplyPerS: Double = 0
        public var sqliteRawPerS: Double = 0
        public var postgresApplyPerS: Double?
        public var postgresRawPerS: Double?
        /// Apply where every record also creates its person (2 identifiers, 1 blocking key), as a
        /// first load does; no raw counterpart (information for ingest sizing).
        public var sqliteApplyWithPersonsPerS: Double = 0
        public var postgresApplyWithPersonsPerS: Double?
        public var sqliteRatio: Double { sqliteRawPerS > 0 ? sqliteApplyPerS / sqliteRawPerS : 0 }
        public var postgresRatio: Double? {
            guard let a = postgresApplyPerS, let r = postgresRawPerS, r > 0 else { return nil }
            return a / r
        }

        enum CodingKeys: String, CodingKey {
            case records, rounds
            case batchSize = "batch_size"
            case sqliteApplyPerS = "sqlite_apply_per_s", sqliteRawPerS = "sqlite_raw_per_s", sqliteRatio = "sqlite_ratio"
            case postgresApplyPerS = "postgres_apply_per_s", postgresRawPerS = "postgres_raw_per_s", postgresRatio = "postgres_ratio"
            case sqliteApplyWithPersonsPerS = "sqlite_apply_with_persons_per_s", postgresApplyWithPersonsPerS = "postgres_apply_with_persons_per_s"
        }

        init(records: Int, batchSize: Int, rounds: Int) {
            self.records = records
            self.batchSize = batchSize
            self.rounds = rounds
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(records, forKey: .records)
            try c.encode(batchSize, forKey: .batchSize)
            try c.encode(rounds, forKey: .rounds)
            try c.encode(sqliteApplyPerS.rounded(), forKey: .sqliteApplyPerS)
            try c.encode(sqliteRawPerS.rounded(), forKey: .sqliteRawPerS)
            try c.encode((sqliteRatio * 1000).rounded() / 1000, forKey: .sqliteRatio)
            try c.encodeIfPresent(postgresApplyPerS?.rounded(), forKey: .postgresApplyPerS)
            try c.encodeIfPresent(postgresRawPerS?.rounded(), forKey: .postgresRawPerS)
            try c.encodeIfPresent(postgresRatio.map { ($0 * 1000).rounded() / 1000 }, forKey: .postgresRatio)
            try c.encode(sqliteApplyWithPersonsPerS.rounded(), forKey: .sqliteApplyWithPersonsPerS)
            try c.encodeIfPresent(postgresApplyWithPersonsPerS?.rounded(), forKey: .postgresApplyWithPersonsPerS)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            records = try c.decode(Int.self, forKey: .records)
            batchSize = try c.decode(Int.self, forKey: .batchSize)
            rounds = try c.decode(Int.self, forKey: .rounds)
            sqliteApplyPerS = try c.decode(Double.self, forKey: .sqliteApplyPerS)
            sqliteRawPerS = try c.decode(Double.self, forKey: .sqliteRawPerS)
            postgresApplyPerS = try c.decodeIfPresent(Double.self, forKey: .postgresApplyPerS)
            postgresRawPerS = try c.decodeIfPresent(Double.self, forKey: .postgresRawPerS)
            sqliteApplyWithPersonsPerS = try c.decodeIfPresent(Double.self, forKey: .sqliteApplyWithPersonsPerS) ?? 0
            postgresApplyWithPersonsPerS = try c.decodeIfPresent(Double.self, forKey: .postgresApplyWithPersonsPerS)
        }
    }

    /// Runs the benchmark; `progress` gets one line per measured step.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let (incoming, raw) = try Self.rows(records)
        let keys = try KeyRing.generate()
        var result = Result(records: records, batchSize: batchSize, rounds: rounds)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-bench-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let batchSize = self.batchSize
        for round in 1...rounds {
            let rawPath = "\(directory)/raw-\(round).sqlite"
            let rawRate = try await onOwnThread { try RawInsertBaseline.sqlite(path: rawPath, rows: raw, batchSize: batchSize) }
            result.sqliteRawPerS = max(result.sqliteRawPerS, rawRate)
            progress(String(format: "round %d: sqlite raw inserts  %10.0f records/s", round, rawRate))
            let store = try await SQLiteStore.open(path: "\(directory)/store-\(round).sqlite", keys: keys)
            let applyRate = try await measureApply(store, incoming)
            await store.close()
            result.sqliteApplyPerS = max(result.sqliteApplyPerS, applyRate)
            progress(String(format: "round %d: sqlite apply        %10.0f records/s", round, applyRate))
            let personStore = try await SQLiteStore.open(path: "\(directory)/persons-\(round).sqlite", keys: keys)
            let personRate = try await measureApply(personStore, incoming, withPersons: true)
            await personStore.close()
            result.sqliteApplyWithPersonsPerS = max(result.sqliteApplyWithPersonsPerS, personRate)
            progress(String(format: "round %d: sqlite apply+person %10.0f records/s", round, personRate))

            if let url = postgresURL {
                let scratch = try await onOwnThread { try RawInsertBaseline.createScratchDatabase(near: url) }
                do {
                    let pgRaw = try await onOwnThread { try RawInsertBaseline.postgres(url: scratch, rows: raw, batchSize: batchSize) }
                    result.postgresRawPerS = max(result.postgresRawPerS ?? 0, pgRaw)
                    progress(String(format: "round %d: postgres raw inserts %9.0f records/s", round, pgRaw))
                    let pgStore = try await PostgresStore.open(url: scratch, keys: keys)
                    let pgApply = try await measureApply(pgStore, incoming)
                    await pgStore.close()
                    result.postgresApplyPerS = max(result.postgresApplyPerS ?? 0, pgApply)
                    progress(String(format: "round %d: postgres apply      %10.0f records/s", round, pgApply))
                    // Same database, other keys: the records are new to it only through their topic.
                    let personStore = try await PostgresStore.open(url: scratch, keys: keys)
                    let moved = incoming.map { r -> IncomingRecord in
                        var copy = r
                        copy.coordinates.topic = "hssk.visits.persons"
                        return copy
                    }
                    let pgPersons = try await measureApply(personStore, moved, withPersons: true)
                    await personStore.close()
                    result.postgresApplyWithPersonsPerS = max(result.postgresApplyWithPersonsPerS ?? 0, pgPersons)
                    progress(String(format: "round %d: postgres apply+person %8.0f records/s", round, pgPersons))
                } catch {
                    _ = try? await onOwnThread { try RawInsertBaseline.dropScratchDatabase(scratch, near: url) }
                    throw error
                }
                _ = try? await onOwnThread { try RawInsertBaseline.dropScratchDatabase(scratch, near: url) }
            }
        }
        return result
    }

    /// Applies every record in batches with the consumer offsets, as ingest does; records/s.
    private func measureApply(_ store: any HealthRecordStore, _ incoming: [IncomingRecord], withPersons: Bool = false) async throws -> Double {
        // Batches are built before the clock starts: only `apply` is measured.
        var batches: [StoreBatch] = []
        for batchStart in stride(from: 0, to: incoming.count, by: batchSize) {
            var records = Array(incoming[batchStart..<min(batchStart + batchSize, incoming.count)])
            var identity: [IdentityChange] = []
            if withPersons {
                // What the linker sends for a record of an unknown person.
                for i in records.indices {
                    guard case .visit(let visit) = records[i].record else { continue }
                    let p = visit.patient
                    identity.append(.newPerson(local: i, Demographics(fullName: p.fullName, birthDate: p.birthDate, sex: p.sex, phone: p.phone)))
                    identity.append(.addIdentifier(.new(local: i), IdentifierEntry(.personalId, p.personalId ?? "", source: records[i].sourceKey)))
                    identity.append(.addIdentifier(.new(local: i), IdentifierEntry(.facilityPatientId, "01001:" + visit.patientId, source: records[i].sourceKey)))
                    identity.append(.addBlockingKeys(.new(local: i), [VietnameseText.fold(p.fullName) + "|" + p.birthDate.prefix(4)]))
                    records[i].person = .new(local: i)
                }
            }
            let first = records[0].coordinates, last = records[records.count - 1].coordinates
            let offsets = [ConsumerOffset(group: "bench", partition: TopicPartition(last.topic, last.partition), from: first.offset,
                                          nextOffset: last.offset + 1, records: records.count)]
            batches.append(StoreBatch(records: records, identity: identity, offsets: offsets, actor: "bench"))
        }
        let start = ContinuousClock.now
        for batch in batches {
            let result = try await store.apply(batch)
            guard result.duplicates == 0 else { throw StoreError.backend("bench records were duplicates") }
        }
        let elapsed = ContinuousClock.now - start
        return Double(incoming.count) / max(1e-9, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// Synthetic visits (~700-byte canonical JSON) and the matching raw rows.
    static func rows(_ count: Int) throws -> ([IncomingRecord], [RawRow]) {
        let family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
        let given = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hùng", "Lan", "Minh", "Thảo", "Trang", "Tuấn"]
        var incoming: [IncomingRecord] = []
        var raw: [RawRow] = []
        incoming.reserveCapacity(count)
        raw.reserveCapacity(count)
        let now = Date()
        for i in 0..<count {
            let person = PersonDetails(fullName: "\(family[i % family.count]) Văn \(given[(i / 10) % given.count])",
                                       birthDate: "19\(50 + i % 50)-0\(1 + i % 9)-1\(i % 10)", sex: 1 + i % 2,
                                       personalId: String(format: "001%01d%02d%06d", i % 2, 50 + i % 50, i),
                                       phone: String(format: "09%08d", i % 100_000_000))
            var visit = VisitRecord(facilityCode: "01001", episodeKey: "LK-\(i)", patientId: "BN\(i)", patient: person, visitType: "01",
                                    admissionTime: "2026-01-02T08:15", diagnoses: [Diagnosis(code: "J18.9", text: "Viêm phổi")])
            visit.dischargeTime = "2026-01-02T11:00"
            visit.reason = "Sốt, ho"
            let bytes = Array(try RecordDecoder.encode(visit))
            let coordinates = KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: Int64(i))
            incoming.append(IncomingRecord(record: .visit(visit), original: bytes, coordinates: coordinates, sender: "01001_lt_bnv", receivedAt: now))
            raw.append(RawRow(topic: coordinates.topic, partition: 0, offset: Int64(i), sender: "01001_lt_bnv", key: visit.kafkaKey,
                              payload: bytes, facility: "01001", visitType: "01", details: bytes))
        }
        return (incoming, raw)
    }

    /// Runs a blocking loop on a thread of its own, off the cooperative pool.
    private func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Swift.Result { try body() }) }.start()
        }
    }
}
