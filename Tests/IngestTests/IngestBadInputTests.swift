import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
@testable import ServiceRuntime
@testable import SourceAdapters
import SyntheticPopulation
import XCTest

/// More than a thousand hostile or broken records between valid ones: each is dead-lettered with the
/// code that says why, the service keeps running, and the valid records around them are stored.
final class IngestBadInputTests: XCTestCase {
    func testBadInputIsDeadLetteredAndNeverStopsTheFlow() async throws {
        let scenario = try IngestScenario(partitions: 3)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let lockedKey = try SigningKey(bytes: Array(repeating: 0x42, count: 32))
        try await store.saveAccount(InteropAccount(name: "01001_lt_khoa", facility: "01001", signingKey: lockedKey.bytes, locked: true))

        var generator = PopulationGenerator(citizens: 150, seed: 11)
        generator.noise = .none
        let visits = generator.generate().records.filter { $0.record.kind == .visit }
        XCTAssertGreaterThan(visits.count, 100)
        var messages: [(ProducerRecord, String?)] = []
        var random = SystemRandomNumberGenerator()
        for n in 0..<1_300 {
            let base = visits[n % visits.count]
            guard case .visit(var visit) = base.record else { continue }
            visit.episodeKey = "BAD-\(n)"
            let key = visit.kafkaKey
            let value = Array(try RecordDecoder.encode(.visit(visit)))
            let sender = base.sender
            func signed(_ bytes: [UInt8], _ code: String?) -> (ProducerRecord, String?) {
                (scenario.sources.message(value: bytes, key: key, kind: .visit, sender: sender), code)
            }
            switch n % 16 {
            case 0:
                // Random bytes are almost never JSON; when they happen to be (a lone digit), not an object.
                let bytes = (0..<Int.random(in: 1...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                let code = RecordDecoder.decode(Data(bytes), kind: .visit).issues.errors.first?.code
                XCTAssertTrue(["json.malformed", "json.notObject"].contains(code), "random bytes: \(code ?? "accepted")")
                messages.append(signed(bytes, code))
            case 1: messages.append(signed(Array(value.prefix(Int.random(in: 1..<value.count, using: &random))), "json.malformed"))
            case 2:
                // Invalid UTF-8 inside a string value.
                var bytes = value
                if let quote = bytes.firstIndex(of: UInt8(ascii: "\"")) { bytes.insert(contentsOf: [0xC3, 0x28, 0xFF], at: quote + 1) }
                messages.append(signed(bytes, "json.malformed"))
            case 3: messages.append(signed(try mutate(value) { $0["patient"] = ["fullName": 12, "birthDate": "1990", "sex": 1] }, "json.typeMismatch"))
            case 4: messages.append(signed(try mutate(value) { $0.removeValue(forKey: "facilityCode") }, "field.missing"))
            case 5:
                // SQL in a name is just text: stored when valid, never executed.
                let injected = try mutate(value) { object in
                    var patient = object["patient"] as? [String: Any] ?? [:]
                    patient["fullName"] = "Nguyễn Văn An'); DROP TABLE person; --"
                    object["patient"] = patient
                }
                let decoded = RecordDecoder.decode(Data(injected), kind: .visit)
                messages.append(signed(injected, decoded.issues.errors.first?.code))
            case 6: messages.append((scenario.sources.message(value: value, key: key, kind: .visit, sender: sender, signing: .forged), "signature.invalid"))
            case 7: messages.append((scenario.sources.message(value: value, key: key, kind: .visit, sender: sender, signing: .unsigned), "signature.missing"))
            case 8:
                var record = scenario.sources.message(value: value, key: key, kind: .visit, sender: "01001_lt_khoa", signing: .unsigned)
                record.headers.append(KafkaHeader(EnvelopeHeaders.signature, RecordSignature.sign(value: value, key: lockedKey)))
                messages.append((record, "sender.accountLocked"))
            case 9:
                // Signed correctly, but by another facility's account.
                let other = SyntheticAccounts.facilities.first { $0.code != visit.facilityCode }!.account
                messages.append((scenario.sources.message(value: value, key: key, kind: .visit, sender: other), "sender.facilityMismatch"))
            case 10: messages.append((scenario.sources.message(value: value, key: key, kind: .visit, sender: "01999_lt_ghost"), "sender.unknownAccount"))
            case 11:
                var record = signed(value, nil).0
                record.headers.removeAll { $0.key == EnvelopeHeaders.type }
                record.headers.append(KafkaHeader(EnvelopeHeaders.type, CloudEventTypes.vaccination))
                messages.append((record, "envelope.typeMismatch"))
            case 12:
                var record = signed(value, nil).0
                record.key = Array("01001:someone-else".utf8)
                messages.append((record, "envelope.keyMismatch"))
            case 13:
                var record = signed(value, nil).0
                record.value = nil
                messages.append((record, "value.missing"))
            case 14:
                // NFD text is valid Unicode: normalised on the way in, accepted.
                let nfd = Array(String(decoding: value, as: UTF8.self).decomposedStringWithCanonicalMapping.utf8)
                messages.append(signed(nfd, nil))
            default:
                messages.append(signed(value, nil))
            }
        }
        let bad = messages.filter { $0.1 != nil }.count
        XCTAssertGreaterThanOrEqual(bad, 1_000)
        let service = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        let running = Task { try await service.run() }
        var published = try await scenario.publish(messages)
        var processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
        XCTAssertTrue(processed)
        // Values beyond the 4 MB limit, signed: refused on size before anything else reads them. Sent one
        // at a time once the rest is consumed: the embedded cluster keeps only ~5 MB per partition (a
        // 10 MB value would not even be kept; Apache Kafka refuses it at the topic's max.message.bytes).
        let hugeCount = 3
        for n in 0..<hugeCount {
            let value = [UInt8](repeating: UInt8(ascii: "a"), count: RecordDecoder.maxValueBytes + 256 * 1024)
            var message = scenario.sources.message(value: value, key: "01001:HUGE-\(n)", kind: .visit, sender: "01001_lt_bvbm")
            message.partition = Int32(n)  // one per partition: two would not fit the embedded cluster's window
            published += try await scenario.publish([(message, "json.tooLarge")], maxMessageBytes: 8 * 1024 * 1024)
            processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
            XCTAssertTrue(processed)
        }
        XCTAssertEqual(published.count, messages.count + hugeCount)
        running.cancel()
        try await running.value
        let letters = try await scenario.deadLetters(atLeast: bad + hugeCount)
        let problems = try await scenario.check(published, store: store, deadLetters: letters)
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        XCTAssertEqual(letters.filter { $0.code == "json.tooLarge" }.count, hugeCount)
        XCTAssertEqual(service.counters.snapshot.stored + service.counters.snapshot.deadLetteredTotal, published.count)
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
        scenario.cluster.shutdown()
    }

    /// One small hostile record must not stop a partition (issue #16): a 500 KB junk `ce_source` is an
    /// unknown account; its dead letter (which used to carry the header and echo it four times in the
    /// detail, over the producer's 1 MB limit, retried for ever) is cut to fit, and the records after
    /// it are stored.
    func testOversizedJunkHeaderIsDeadLetteredAndThePartitionGoesOn() async throws {
        let scenario = try IngestScenario(partitions: 1)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        var generator = PopulationGenerator(citizens: 40, seed: 5)
        generator.noise = .none
        let visits = generator.generate().records.filter { $0.record.kind == .visit }.prefix(20)
        var messages: [(ProducerRecord, String?)] = []
        for (n, base) in visits.enumerated() {
            guard case .visit(var visit) = base.record else { continue }
            visit.episodeKey = "HDR-\(n)"
            let value = Array(try RecordDecoder.encode(.visit(visit)))
            var message = scenario.sources.message(value: value, key: visit.kafkaKey, kind: .visit, sender: base.sender)
            if n == 10 {
                message.headers.removeAll { $0.key == EnvelopeHeaders.source }
                message.headers.append(KafkaHeader(EnvelopeHeaders.source, String(repeating: "x", count: 500 * 1024)))
                message.value = value + [UInt8](repeating: 32, count: 300 * 1024)
                messages.append((message, "sender.unknownAccount"))
            } else {
                messages.append((message, nil))
            }
        }
        let service = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        let running = Task { try await service.run() }
        let published = try await scenario.publish(messages, maxMessageBytes: 2 * 1024 * 1024)
        let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published), timeout: .seconds(60))
        XCTAssertTrue(processed, "the partition stopped at the hostile record")
        XCTAssertTrue(service.health.status().ready, "\(service.health.status())")
        running.cancel()
        try await running.value
        let letters = try await scenario.deadLetters(atLeast: 1)
        XCTAssertEqual(letters.map(\.code), ["sender.unknownAccount"], "one dead letter, once")
        let problems = try await scenario.check(published, store: store, deadLetters: letters)
        XCTAssertTrue(problems.isEmpty, "\(problems)")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
        scenario.cluster.shutdown()
    }

    /// SQLite and libpq take text as C strings, so NUL never reaches the store: a sender named
    /// `<account>\0x` (signed with that account's key) is an unknown account, not the account before the
    /// NUL; a value with NUL in any text is dead-lettered whole; the records around them are stored and
    /// the service keeps running.
    func testNULInTheSenderOrTheValueIsDeadLetteredNeverCutShort() async throws {
        let scenario = try IngestScenario(partitions: 1)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        var generator = PopulationGenerator(citizens: 40, seed: 7)
        generator.noise = .none
        let visits = generator.generate().records.filter { $0.record.kind == .visit }.prefix(12)
        var messages: [(ProducerRecord, String?)] = []
        for (n, base) in visits.enumerated() {
            guard case .visit(var visit) = base.record else { continue }
            visit.episodeKey = "NUL-\(n)"
            let sender = base.sender
            switch n % 4 {
            case 0:
                let value = Array(try RecordDecoder.encode(.visit(visit)))
                var record = scenario.sources.message(value: value, key: visit.kafkaKey, kind: .visit, sender: sender + "\u{0}x", signing: .unsigned)
                let key = try XCTUnwrap(scenario.sources.keys[sender])
                record.headers.append(KafkaHeader(EnvelopeHeaders.signature, RecordSignature.sign(value: value, key: key)))
                messages.append((record, "sender.unknownAccount"))
            case 1:
                visit.episodeKey += "\u{0}x"  // in the Kafka key too, as the key must be the record's
                let value = Array(try RecordDecoder.encode(.visit(visit)))
                messages.append((scenario.sources.message(value: value, key: visit.kafkaKey, kind: .visit, sender: sender), "json.nulCharacter"))
            case 2:
                visit.patient.fullName += "\u{0}"
                let value = Array(try RecordDecoder.encode(.visit(visit)))
                messages.append((scenario.sources.message(value: value, key: visit.kafkaKey, kind: .visit, sender: sender), "json.nulCharacter"))
            default:
                let value = Array(try RecordDecoder.encode(.visit(visit)))
                messages.append((scenario.sources.message(value: value, key: visit.kafkaKey, kind: .visit, sender: sender), nil))
            }
        }
        let service = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        let running = Task { try await service.run() }
        let published = try await scenario.publish(messages)
        let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
        XCTAssertTrue(processed, "ingest kept going past every record")
        running.cancel()
        try await running.value
        let bad = messages.filter { $0.1 != nil }.count
        let letters = try await scenario.deadLetters(atLeast: bad)
        let problems = try await scenario.check(published, store: store, deadLetters: letters)
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        XCTAssertEqual(service.counters.snapshot.stored, messages.count - bad)
        await store.close()
        scenario.cluster.shutdown()
    }

    private func mutate(_ value: [UInt8], _ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(value)) as? [String: Any])
        change(&object)
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
}
