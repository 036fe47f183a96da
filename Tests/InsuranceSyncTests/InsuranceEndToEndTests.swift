import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
@testable import InsuranceSync
import Kafka
import RecordStore
@testable import ServiceRuntime
@testable import SourceAdapters
import SyntheticPopulation
@testable import Tooling
import XCTest

/// Both directions of the insurance connection on the embedded cluster and a real store: ingest stores
/// BHXH's card changes, the insurance sync sends supplements and records answers, and a simulated BHXH
/// applies what it accepts and echoes it back as card changes. Over the rounds the two sides converge:
/// the number of supplements stops growing, nothing is sent twice, a rejected value stays rejected
/// until ours changes, and card changes published out of order end in the right state.
final class InsuranceEndToEndTests: XCTestCase {
    func testConvergenceSQLite() async throws { try await convergence(.sqlite) }
    func testConvergencePostgres() async throws { try await convergence(.postgres) }

    // MARK: - The controlled persons

    private static let station = SyntheticAccounts.station
    private static let hospital = SyntheticAccounts.facilities[0]

    private struct Person {
        var bhxh: String
        var details: PersonDetails
    }

    private static func person(_ n: Int, _ name: String, _ birth: String, _ sex: Int, _ id: String, phone: String?) -> Person {
        let bhxh = String(format: "99000000%02d", n)
        return Person(bhxh: bhxh, details: PersonDetails(fullName: name, birthDate: birth, sex: sex, personalId: id, bhxhNumber: bhxh,
                                                         address: Address(text: "Số \(n) Phố Huế, Hà Nội", provinceCode: "01", communeCode: "00256"),
                                                         phone: phone))
    }

    // A: insurance lacks the personal ID and the phone a visit gives.
    private static let a = person(1, "Lê Thị Hoa", "1985-03-12", 2, "001185000101", phone: "0912000001")
    // B: insurance misspells the name a commune station corrected.
    private static let b = person(2, "Trần Văn Bình", "1970-01-15", 1, "001070000202", phone: "0912000002")
    // C: BHXH refuses phone changes for this card.
    private static let c = person(3, "Phạm Thị Cúc", "1990-05-05", 2, "001190000303", phone: "0912000030")
    // D: died.
    private static let d = person(4, "Hoàng Văn Dũng", "1940-02-02", 1, "001040000404", phone: nil)
    // E: personal ID re-issued.
    private static let e = person(5, "Ngô Thị Em", "1961-05-05", 2, "001161000505", phone: nil)
    private static let eNewID = "001161000555"
    // F: everything agrees.
    private static let f = person(6, "Đỗ Văn Phúc", "1975-08-08", 1, "001075000606", phone: "0912000006")
    // G: card changes published out of order.
    private static let g = person(7, "Vũ Thị Giang", "1995-02-02", 2, "001195000707", phone: nil)
    // H: insurance knows the birth year only; a correction gives the day.
    private static let h = person(8, "Bùi Văn Hải", "1990", 1, "001090000808", phone: nil)

    private static func card(_ p: Person, _ kind: InsuranceCardChange.ChangeKind = .issued, effective: String = "2025-01-01",
                             validTo: String? = "2026-12-31", holder: PersonDetails? = nil) -> InsuranceCardChange {
        var change = InsuranceCardChange(kind: kind, cardCode: "DN401" + p.bhxh, bhxhNumber: p.bhxh, holder: holder ?? p.details, effectiveAt: effective)
        change.benefitLevel = 4
        if kind != .suspended && kind != .holderCorrected {
            change.validFrom = effective
            change.validTo = validTo
            change.registeredFacility = "01001"
        }
        if kind == .suspended { change.reason = "Doanh nghiệp ngừng đóng BHYT" }
        return change
    }

    private static func visit(_ p: Person, _ episode: String, phone: String?, at time: String) -> SourceRecord {
        var patient = p.details
        patient.phone = phone
        return .visit(VisitRecord(facilityCode: hospital.code, episodeKey: episode, patientId: "BN-\(p.bhxh)", patient: patient,
                                  visitType: "01", admissionTime: time, diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng cấp")]))
    }

    private static func registry(_ p: Person, _ id: String, _ kind: RegistryEvent.EventKind, at time: String,
                                 _ edit: (inout RegistryEvent) -> Void) -> SourceRecord {
        var event = RegistryEvent(stationCode: station.code, eventId: id, kind: kind, occurredAt: time, person: p.details)
        edit(&event)
        return .registryEvent(event)
    }

    /// The controlled persons' cards as BHXH first publishes them.
    private static var initialCards: [InsuranceCardChange] {
        var aHolder = a.details
        aHolder.personalId = nil
        aHolder.phone = nil
        var bHolder = b.details
        bHolder.fullName = "Trần Văn Binh"
        var hHolder = h.details
        hHolder.birthDate = "1990"
        return [card(a, holder: aHolder), card(b, holder: bHolder), card(c), card(d), card(e), card(f), card(h, holder: hHolder),
                // G, newest effective first: by arrival order the card would end expired at 2025-12-31.
                card(g, .renewed, effective: "2026-01-01", validTo: "2026-12-31"), card(g, .suspended, effective: "2025-07-01"),
                card(g, .issued, effective: "2025-01-01", validTo: "2025-12-31")]
    }

    /// What the health record learns from everyone else.
    private static var healthRecords: [(SourceRecord, String)] {
        var hDetails = h.details
        hDetails.birthDate = "1990-04-12"
        return [
            (visit(a, "LK-A1", phone: a.details.phone, at: "2025-09-10T08:00"), hospital.account),
            (registry(b, "DC-B", .demographicCorrection, at: "2025-10-02") {
                $0.correction = CorrectionDetails(correctedFields: ["fullName"], reason: "Sửa theo giấy khai sinh")
            }, station.account),
            (visit(c, "LK-C1", phone: "0912000031", at: "2025-09-11T08:00"), hospital.account),
            (registry(d, "DT-D", .death, at: "2025-11-20") { $0.death = DeathDetails(deathTime: "2025-11-20") }, station.account),
            (registry(Person(bhxh: e.bhxh, details: { var x = e.details; x.personalId = eNewID; return x }()), "ID-E", .newPersonalIdIssued,
                      at: "2025-10-01") {
                $0.newPersonalId = NewPersonalIDDetails(oldPersonalId: e.details.personalId ?? "", newPersonalId: eNewID, reason: .other,
                                                        cancelledAt: "2025-10-01")
            }, station.account),
            (visit(f, "LK-F1", phone: f.details.phone, at: "2025-09-12T08:00"), hospital.account),
            (registry(Person(bhxh: h.bhxh, details: hDetails), "DC-H", .demographicCorrection, at: "2025-10-03") {
                $0.correction = CorrectionDetails(correctedFields: ["birthDate"], reason: "Sửa theo giấy khai sinh")
            }, station.account),
        ]
    }

    // MARK: - The test

    func convergence(_ backend: TestStores.Backend) async throws {
        let scenario = try IngestScenario(partitions: 3)
        for (topic, partitions) in [(SimulatedBHXH.supplementsTopic, 3), (SimulatedBHXH.acksTopic, 3), (SimulatedBHXH.acksTopic + ".dlq", 1)] {
            try scenario.cluster.createTopic(topic, partitions: partitions, replicationFactor: 3)
        }
        let location = try TestStores.freshLocation(backend)
        let store = try await RecordStores.open(location, keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let sim = try SimulatedBHXH(bootstrap: scenario.cluster.bootstrapServers, sources: scenario.sources, partitions: 3,
                                    phoneLocked: [Self.c.bhxh])
        let ingest = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        var syncConfiguration = InsuranceSyncConfiguration(bootstrapServers: scenario.cluster.bootstrapServers)
        syncConfiguration.retry = RetryPolicy(base: .milliseconds(50), cap: .seconds(1))
        syncConfiguration.kafkaProperties = ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "log_level": "3"]
        let sync = InsuranceSync(configuration: syncConfiguration, store: store, log: .silent)
        let running = [Task { try await ingest.run() }, Task { try await sync.run() }]

        /// A record as its source sends it, signed.
        func message(_ record: SourceRecord, _ sender: String) throws -> ProducerRecord {
            XCTAssertEqual(record.validate().errors, [], "test record \(record.kafkaKey) must be valid")
            return scenario.sources.message(value: Array(try RecordDecoder.encode(record)), key: record.kafkaKey, kind: record.kind,
                                            sender: sender)
        }

        /// Publishes, then waits until ingest and the sync have handled everything and the sync is idle.
        func settle(_ messages: [(ProducerRecord, String?)]) async throws {
            let published = try await scenario.publish(messages)
            let acks = published.filter { $0.record.topic == SimulatedBHXH.acksTopic }
            let sources = published.filter { $0.record.topic != SimulatedBHXH.acksTopic }
            let ingested = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(sources))
            XCTAssertTrue(ingested, "ingest did not reach the end offsets")
            let answered = try await scenario.waitUntilProcessed(store, group: syncConfiguration.group, ends: IngestScenario.ends(acks))
            XCTAssertTrue(answered, "the sync did not record every answer")
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                // Outbox first: a decision marks its rows done in the transaction that records the pending supplements.
                let outbox = try await store.pendingOutbox(kind: OutboxKinds.insuranceSupplement, limit: 1)
                let pending = try await store.pendingSupplements(limit: 1)
                if outbox.isEmpty && pending.isEmpty { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            XCTFail("the sync did not become idle")
        }

        // Round 0: BHXH's cards, then everything the health record learns from other sources.
        let population = PopulationGenerator(citizens: 120, seed: 11).generate()
        let populationCards = population.records.filter { $0.record.kind == .insuranceCard }
        for record in populationCards { if case .insuranceCard(let change) = record.record { await sim.know(change) } }
        for change in Self.initialCards { await sim.know(change) }
        var cardMessages = try populationCards.map { (try scenario.sources.producerRecord($0), SyntheticSources.expectedCode($0)) }
        for change in Self.initialCards { cardMessages.append((try await sim.message(change), nil)) }
        try await settle(cardMessages)
        let others = try population.records.filter { $0.record.kind != .insuranceCard }
            .map { (try scenario.sources.producerRecord($0), SyntheticSources.expectedCode($0)) }
            + Self.healthRecords.map { record, sender in (try message(record, sender), nil as String?) }
        try await settle(others)

        // Out-of-order card changes ended in the effective-time state, not the arrival-order one.
        let g = try await store.insuranceCard(bhxhNumber: Self.g.bhxh)
        XCTAssertEqual(g?.state.status, .active)
        XCTAssertEqual(g?.state.validTo, "2026-12-31")
        XCTAssertEqual(g?.state.lastChange, .renewed)
        XCTAssertEqual(g?.persons.count, 1, "the card is linked to its holder")

        // Rounds: BHXH answers and echoes; round 2 it renews every card on its own; round 3 C gets a new phone.
        var counts: [Int] = []
        for round in 1...6 {
            let result = try await sim.round(effectiveAt: "2026-10-0\(round)")
            counts.append(result.received.count)
            var messages = result.published
            switch round {
            case 1:
                // Noise on the answer topic, each after BHXH's real answers: a forged answer, an answer from a
                // hospital's account, one to nothing hssk sent, one naming another BHXH number. None may count.
                let aPhone = try XCTUnwrap(result.received.first { $0.supplement.bhxhNumber == Self.a.bhxh && $0.supplement.field == .phone })
                func answer(_ id: String, _ bhxh: String) -> InsuranceAck {
                    InsuranceAck(supplementId: id, bhxhNumber: bhxh, status: .rejected, reason: "không hợp lệ", receivedAt: "2026-10-01T08:00:00+07:00")
                }
                messages += [(await sim.signedAck(answer(aPhone.supplement.supplementId, Self.a.bhxh), forged: true), nil),
                             (await sim.signedAck(answer(aPhone.supplement.supplementId, Self.a.bhxh), as: Self.hospital.account), nil),
                             (await sim.signedAck(answer("SUP-never-sent", Self.a.bhxh)), nil),
                             (await sim.signedAck(answer(aPhone.supplement.supplementId, Self.b.bhxh)), nil)]
            case 2:
                messages += try await sim.renewAll(effectiveAt: "2027-01-01", validTo: "2027-12-31")
            case 3:
                let record = Self.visit(Self.c, "LK-C2", phone: "0912000032", at: "2025-12-01T08:00")
                messages.append((try message(record, Self.hospital.account), nil))
            default:
                break
            }
            try await settle(messages)
        }
        for task in running { task.cancel() }
        for task in running { try await task.value }

        // Convergence: after the first answers nothing new, except C's new phone, sent once.
        print("insurance \(backend): supplements per round \(counts), sync \(sync.counters.snapshot)")
        XCTAssertGreaterThan(counts[0], 0)
        XCTAssertEqual(Array(counts.dropFirst()), [0, 0, 1, 0, 0], "the supplement count must stop growing")

        let history = await sim.history
        // What the controlled persons gave rise to, exactly.
        func sent(_ p: Person) -> [String] {
            history.filter { $0.supplement.bhxhNumber == p.bhxh }.map { "\($0.supplement.field.rawValue)=\($0.supplement.value)" }.sorted()
        }
        XCTAssertEqual(sent(Self.a), ["personalId=001185000101", "phone=0912000001"])
        XCTAssertEqual(sent(Self.b), ["fullName=Trần Văn Bình"])
        XCTAssertEqual(sent(Self.c), ["phone=0912000031", "phone=0912000032"])
        XCTAssertEqual(sent(Self.d), ["deathDate=2025-11-20"])
        XCTAssertEqual(sent(Self.e), ["personalId=\(Self.eNewID)"])
        XCTAssertEqual(sent(Self.f), [])
        XCTAssertEqual(sent(Self.g), [])
        XCTAssertEqual(sent(Self.h), ["birthDate=1990-04-12"])
        let reissue = history.first { $0.supplement.bhxhNumber == Self.e.bhxh }?.supplement
        XCTAssertEqual(reissue?.previousPersonalIds, [Self.e.details.personalId ?? ""])
        XCTAssertEqual(reissue?.insuranceValue, Self.e.details.personalId)
        XCTAssertEqual(reissue?.evidence.recordType, "newPersonalIdIssued")
        let rename = history.first { $0.supplement.bhxhNumber == Self.b.bhxh }?.supplement
        XCTAssertEqual(rename?.insuranceValue, "Trần Văn Binh")
        XCTAssertEqual(rename?.evidence.recordKey, "\(Self.station.code):DC-B")

        // Every supplement is valid, keyed and labelled, never evidenced by insurance, and unique.
        var seen = Set<String>()
        for received in history {
            let s = received.supplement
            XCTAssertEqual(received.issues.errors, [], "\(s.field) for \(s.bhxhNumber)")
            XCTAssertEqual(received.key, s.bhxhNumber)
            XCTAssertEqual(received.ceID, s.supplementId)
            XCTAssertEqual(received.ceType, CloudEventTypes.insuranceSupplement)
            XCTAssertNotEqual(s.evidence.topic, SourceTopics.defaults[.insuranceCard], "a value from insurance was sent back")
            XCTAssertTrue(seen.insert("\(s.bhxhNumber)|\(s.field)|\(s.value)").inserted, "sent twice: \(s.field) for \(s.bhxhNumber)")
        }

        // The store agrees: answers recorded, insurance now holds our values, C's phones stay rejected.
        let ledger = try await store.supplements(ids: history.map(\.supplement.supplementId))
        XCTAssertEqual(ledger.count, history.count)
        for received in history {
            let expected: SupplementStatus = received.supplement.bhxhNumber == Self.c.bhxh && received.supplement.field == .phone ? .rejected : .accepted
            XCTAssertEqual(ledger[received.supplement.supplementId]?.status, expected, "\(received.supplement.field) for \(received.supplement.bhxhNumber)")
        }
        XCTAssertEqual(ledger[history.first { $0.supplement.value == "0912000031" }?.supplement.supplementId ?? ""]?.reasonCode, "DT01")
        let aCard = try await store.insuranceCard(bhxhNumber: Self.a.bhxh)
        XCTAssertEqual(aCard?.state.holder.personalId, Self.a.details.personalId)
        XCTAssertEqual(aCard?.state.holder.phone, Self.a.details.phone)
        let dCard = try await store.insuranceCard(bhxhNumber: Self.d.bhxh)
        XCTAssertEqual(dCard?.state.status, .suspended)
        let report = try await store.insuranceReport(day: "2027-06-01")
        XCTAssertEqual(report.openDiscrepancies, ["phone": 1], "only C's refused phone stays open")
        let fates = report.supplements
        XCTAssertEqual([fates.sent, fates.accepted, fates.rejected, fates.awaitingAnswer, fates.pending], [history.count, history.count - 2, 2, 0, 0])
        XCTAssertGreaterThan(report.personsWithValidCard, 100, "the renewed cards are valid in 2027")
        let counters = sync.counters.snapshot
        XCTAssertEqual(counters.deadLettered, ["signature.invalid": 1, "sender.notSocialSecurity": 1, "ack.unknownSupplement": 1,
                                               "ack.bhxhMismatch": 1])
        XCTAssertEqual(counters.accepted + counters.rejected, history.count)
        await sync.refreshGauges()
        let samples = try PrometheusParser.samples(PrometheusText.render(sync.metricFamilies()))
        XCTAssertEqual(samples[#"hssk_insurance_answers_total{status="rejected"}"#], Double(counters.rejected))
        XCTAssertEqual(samples["hssk_insurance_supplements_sent_total"], Double(history.count))
        XCTAssertEqual(samples[#"hssk_dead_lettered_total{code="ack.bhxhMismatch"}"#], 1)
        XCTAssertEqual(samples[#"hssk_outbox_backlog{kind="insurance-supplement"}"#], 0, "every queued person decided")
        XCTAssertEqual(samples["hssk_consumed_total"], Double(history.count + 4), "every answer and every dead-lettered acknowledgement polled")

        try await sim.close()
        await store.close()
        scenario.cluster.shutdown()

        // Nothing of it in plaintext at rest: cards, states, supplements, answers (the SQLite file and its journal).
        if backend == .sqlite {
            let bytes = ["", "-wal", "-shm"].flatMap { Array(FileManager.default.contents(atPath: location + $0) ?? Data()) }
            XCTAssertGreaterThan(bytes.count, 0)
            let people = [Self.a, Self.b, Self.c, Self.d, Self.e, Self.f, Self.g, Self.h]
            let needles = people.flatMap { [$0.bhxh, $0.details.fullName, $0.details.personalId ?? "", $0.details.phone ?? ""] }
                + [Self.eNewID, "0912000031", "0912000032", "Trần Văn Binh"]
            for needle in needles where !needle.isEmpty {
                XCTAssertNil(Data(bytes).range(of: Data(needle.utf8)), "'\(needle)' in plaintext in the store")
            }
        }
    }
}
