import Foundation
import HealthModel
import Linkage
import PersonIndex
import RecordStore
import ServiceRuntime
import SyntheticPopulation

/// `hssk linkage-eval`: the person index against labelled data — FEBRL files (deduplication, one file
/// at a time) and the synthetic Vietnamese population with its ground truth — run through the resolver
/// ingest runs, on a fresh encrypted SQLite store, with the match model that store gives ingest.
public enum LinkageEvaluationJob {
    /// What one data set gave.
    public struct Report: Sendable, Codable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// Candidate pairs the matcher scored.
        public var pairsCompared: Int
        /// Records linked and stored per second.
        public var recordsPerS: Double
        /// Review tasks the resolver opened.
        public var reviewsOpened: Int
        /// Records left without a person, pending review.
        public var recordsUnlinked: Int
        /// Persons created.
        public var personsCreated: Int

        enum CodingKeys: String, CodingKey {
            case precision, recall, f1
            case pairsCompared = "pairs_compared"
            case recordsPerS = "records_per_s"
            case reviewsOpened = "reviews_opened"
            case recordsUnlinked = "records_unlinked"
            case personsCreated = "persons_created"
        }
    }

    /// Deduplicates one FEBRL CSV file, its records linked one batch at a time in file order.
    ///
    /// Each row becomes what a hospital would send for a self-paying patient known by demographics only:
    /// a visit whose patient is `surname given` (family name first, as Vietnamese records write it),
    /// born on `date_of_birth`, living at `street_number address_1 address_2 suburb` in the commune
    /// `postcode`. `soc_sec_id` has no place in a source record (it is no Vietnamese identifier and
    /// FEBRL corrupts it in duplicates), so the product never sees it.
    public static func febrl(_ file: URL) async throws -> Report {
        let (rows, truth) = try FEBRLDataSet.rows(file)
        let records = rows.enumerated().map { index, row in
            let patient = PersonDetails(fullName: [row.surname, row.givenName].filter { !$0.isEmpty }.joined(separator: " "),
                                        birthDate: isoDate(row.dateOfBirth), sex: Sex.undetermined.rawValue,
                                        address: Address(text: [row.streetNumber, row.address1, row.address2, row.suburb].filter { !$0.isEmpty }
                                            .joined(separator: " "), communeCode: row.postcode.isEmpty ? nil : row.postcode))
            let visit = VisitRecord(facilityCode: "01001", episodeKey: "FEBRL-\(index)", patientId: "", patient: patient, visitType: "01",
                                    admissionTime: "2025-01-01T08:00", diagnoses: [])
            return IncomingRecord(record: .visit(visit), original: (try? Array(RecordDecoder.encode(visit))) ?? [],
                                  coordinates: KafkaCoordinates(topic: SourceTopics.defaults[.visit] ?? "", partition: 0, offset: Int64(index)),
                                  sender: "01001_lt_eval")
        }
        return try await evaluate(records, truth: truth)
    }

    /// Links the accepted records of a synthetic population in the order the sources send them.
    public static func synthetic(citizens: Int, seed: UInt64) async throws -> Report {
        let population = PopulationGenerator(citizens: citizens, seed: seed).generate().acceptable
        let records = population.enumerated().map { index, synthetic in
            IncomingRecord(record: synthetic.record, original: (try? Array(RecordDecoder.encode(synthetic.record))) ?? [],
                           coordinates: KafkaCoordinates(topic: SourceTopics.defaults[synthetic.record.kind] ?? "", partition: 0, offset: Int64(index)),
                           sender: synthetic.sender)
        }
        return try await evaluate(records, truth: population.map(\.truth.personIndex))
    }

    /// Runs `records` through a fresh store (deleted afterwards) and the resolver ingest would load from it.
    static func evaluate(_ records: [IncomingRecord], truth: [Int?]) async throws -> Report {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-linkage-eval-\(UUID().uuidString)")
        // Owner-only; the store's keys live in this process only, so a store left behind (a killed run)
        // is ciphertext nobody can open.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLiteStore.open(path: directory.appendingPathComponent("eval.sqlite").path, keys: try KeyRing.generate())
        do {
            let resolver = try await PersonResolver.loading(store: store, log: .silent)
            let result = try await ResolverEvaluation(store: store, resolver: resolver).run(records, truth: truth)
            await store.close()
            return Report(precision: result.scores.precision, recall: result.scores.recall, f1: result.scores.f1,
                          pairsCompared: result.scores.pairsCompared, recordsPerS: result.scores.recordsPerS, reviewsOpened: result.reviewsOpened,
                          recordsUnlinked: result.unlinked, personsCreated: result.personsCreated)
        } catch {
            await store.close()
            throw error
        }
    }

    /// `yyyymmdd` as an ISO date; anything else (FEBRL corrupts dates) as given, which the linker reads as unknown.
    static func isoDate(_ text: String) -> String {
        guard text.count == 8, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) else { return text }
        let digits = Array(text)
        return "\(String(digits[0..<4]))-\(String(digits[4..<6]))-\(String(digits[6..<8]))"
    }
}
