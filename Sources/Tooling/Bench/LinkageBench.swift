import Foundation
import HealthModel
import Linkage
import PersonIndex
import RecordStore
import SyntheticPopulation

/// `hssk bench linkage`: what linking one record costs as the index grows (DESIGN §10: < 2× from
/// 10 k to 1 M persons). Each size is a SQLite store of synthetic citizens (demographics, personal
/// ID, BHXH number and blocking keys, as ingest leaves them); the same probe records — visits known
/// only by a facility id and demographics, half of citizens in every store, half of strangers — are
/// linked by ingest's resolver (identifier look-up, blocking look-up, scoring), without applying.
public struct LinkageBench: Sendable {
    /// Index sizes, smallest first; the ratio is largest / smallest.
    public var sizes = [10_000, 100_000, 1_000_000]
    /// Probe records per measurement.
    public var probes = 2_000
    /// Records per resolver call (ingest's batch).
    public var batchSize = 200
    /// Runs per size; the best counts.
    public var rounds = 3
    /// Where built stores are kept between runs (nil: a temporary directory, removed afterwards).
    public var cacheDirectory: String?

    /// Citizens per generated chunk: the first chunk is in every store, so probes of it exist in all.
    static let chunk = 10_000
    /// The format of cached stores; bump when what they hold changes.
    static let cacheVersion = 1

    public init() {}

    /// One index size's cost.
    public struct Measurement: Codable, Sendable, Hashable {
        /// Persons in the index.
        public var persons: Int
        /// Microseconds per linked record (best round).
        public var microsecondsPerRecord: Double
        /// Seconds spent building the store in this run (0 when it came from the cache).
        public var buildSeconds: Double

        enum CodingKeys: String, CodingKey {
            case persons
            case microsecondsPerRecord = "us_per_record"
            case buildSeconds = "build_s"
        }
    }

    /// Results; JSON keys as `hssk bench --json` writes them under "linkage".
    public struct Result: Codable, Sendable {
        /// Probe records per measurement.
        public var probes: Int
        /// One entry per size, smallest first.
        public var sizes: [Measurement] = []
        /// Cost per record at the largest size over the smallest (target < 2).
        public var ratio: Double {
            guard let first = sizes.first, let last = sizes.last, first.microsecondsPerRecord > 0 else { return 0 }
            return last.microsecondsPerRecord / first.microsecondsPerRecord
        }

        enum CodingKeys: String, CodingKey { case probes, sizes, ratio }

        init(probes: Int) { self.probes = probes }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(probes, forKey: .probes)
            try c.encode(sizes, forKey: .sizes)
            try c.encode((ratio * 1000).rounded() / 1000, forKey: .ratio)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            probes = try c.decode(Int.self, forKey: .probes)
            sizes = try c.decode([Measurement].self, forKey: .sizes)
        }
    }

    /// Builds (or reuses) each store and measures it; `progress` gets one line per step.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let temporary = cacheDirectory == nil
        let directory = cacheDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("hssk-bench-linkage-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { if temporary { try? FileManager.default.removeItem(atPath: directory) } }
        let keys = try cachedKeys(directory)
        let probeRecords = try Self.probes(probes)
        var result = Result(probes: probeRecords.count)
        var built = 0
        var previous: String?
        for size in sizes.sorted() {
            let path = "\(directory)/linkage-v\(Self.cacheVersion)-\(size).sqlite"
            let clock = ContinuousClock.now
            if try !isComplete(path, size) {
                // A larger store starts as a copy of the next smaller one: only the difference is built.
                try? FileManager.default.removeItem(atPath: path)
                if let previous { try FileManager.default.copyItem(atPath: previous, toPath: path) }
                let store = try await SQLiteStore.open(path: path, keys: keys)
                do {
                    try await fill(store, from: previous == nil ? 0 : built, to: size, progress: progress)
                    await store.close()
                } catch {
                    await store.close()
                    throw error
                }
                try Data(String(size).utf8).write(to: URL(fileURLWithPath: path + ".complete"))
            }
            let buildSeconds = Self.seconds(ContinuousClock.now - clock)
            built = size
            previous = path
            let store = try await SQLiteStore.open(path: path, keys: keys)
            let resolver = PersonResolver(store: store)
            var best = Double.infinity
            _ = try await link(probeRecords, resolver)  // warm the page cache
            for _ in 0..<rounds { best = min(best, try await link(probeRecords, resolver)) }
            await store.close()
            let measurement = Measurement(persons: size, microsecondsPerRecord: (best * 1e7 / Double(probeRecords.count)).rounded() / 10,
                                          buildSeconds: (buildSeconds * 10).rounded() / 10)
            result.sizes.append(measurement)
            progress(String(format: "%9d persons: %8.1f µs/record (store built in %.0f s)", size, measurement.microsecondsPerRecord, buildSeconds))
        }
        return result
    }

    /// Seconds to link every probe, in ingest-sized batches.
    private func link(_ records: [IncomingRecord], _ resolver: PersonResolver) async throws -> Double {
        let start = ContinuousClock.now
        for batch in stride(from: 0, to: records.count, by: batchSize) {
            _ = try await resolver.resolve(Array(records[batch..<min(batch + batchSize, records.count)]))
        }
        return Self.seconds(ContinuousClock.now - start)
    }

    /// Adds citizens `from..<to` (whole chunks) as persons, as ingest would have created them.
    private func fill(_ store: any HealthRecordStore, from: Int, to: Int, progress: @Sendable (String) -> Void) async throws {
        for chunk in stride(from: from / Self.chunk, to: (to + Self.chunk - 1) / Self.chunk, by: 1) {
            let citizens = PopulationGenerator(citizens: Self.chunk, seed: UInt64(chunk + 1)).citizensOnly()
            for start in stride(from: 0, to: citizens.count, by: 1_000) {
                var identity: [IdentityChange] = []
                for (local, citizen) in citizens[start..<min(start + 1_000, citizens.count)].enumerated() {
                    let details = citizen.details(on: "2025-07-01")
                    let person = PersonRef.new(local: local)
                    // Random serials collide across chunks: the person's number in the whole index keeps them unique.
                    let serial = chunk * Self.chunk + start + local
                    identity.append(.newPerson(local: local, PersonResolver.demographics(details)))
                    identity.append(.addIdentifier(person, IdentifierEntry(.personalId, citizen.personalId.prefix(6) + String(format: "%06d", serial % 1_000_000),
                                                                           source: "bench")))
                    identity.append(.addIdentifier(person, IdentifierEntry(.bhxhNumber, String(format: "9%09d", serial), source: "bench")))
                    identity.append(.addBlockingKeys(person, IncrementalLinker.blockingKeys(PersonProfile(details))))
                }
                _ = try await store.apply(StoreBatch(identity: identity, actor: "bench"))
            }
            if (chunk + 1) % 10 == 0 { progress("  built \((chunk + 1) * Self.chunk) persons") }
        }
    }

    /// Visits known only by a facility id: half of citizens of the first chunk (in every store),
    /// half of citizens no store holds.
    static func probes(_ count: Int) throws -> [IncomingRecord] {
        let known = PopulationGenerator(citizens: chunk, seed: 1).citizensOnly()
        let strangers = PopulationGenerator(citizens: count, seed: 999_983).citizensOnly()
        return try (0..<count).map { i in
            let citizen = i % 2 == 0 ? known[(i * 7_919) % known.count] : strangers[i]
            var patient = citizen.details(on: "2025-09-01")
            patient.personalId = nil
            patient.bhxhNumber = nil
            let visit = VisitRecord(facilityCode: "01001", episodeKey: "BENCH-\(i)", patientId: "BN-\(i)", patient: patient, visitType: "01",
                                    admissionTime: "2025-09-01T08:00", diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng")])
            return IncomingRecord(record: .visit(visit), original: Array(try RecordDecoder.encode(visit)),
                                  coordinates: KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: Int64(i)), sender: "01001_lt_bvbm")
        }
    }

    /// The key ring of the cache directory (made once: cached stores are encrypted under it).
    private func cachedKeys(_ directory: String) throws -> KeyRing {
        let path = "\(directory)/keys.json"
        if FileManager.default.fileExists(atPath: path) { return try KeyRing(contentsOf: path) }
        let keys = try KeyRing.generate()
        try keys.write(to: path)
        return keys
    }

    /// True when a store of `size` persons was completely built earlier.
    private func isComplete(_ path: String, _ size: Int) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path),
              let marker = FileManager.default.contents(atPath: path + ".complete") else { return false }
        return String(decoding: marker, as: UTF8.self) == String(size)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
