import Foundation
import HealthModel
import Kafka
import RecordStore
@testable import ServiceRuntime
import XCTest

/// Triage is pure: every verdict follows from the consumed record and the accounts looked up
/// beforehand, so each is tested here on records built in memory, without a cluster.
final class RecordTriageTests: XCTestCase {
    private let topic = "hssk.visits.v1"
    private let triage = RecordTriage(kinds: ["hssk.visits.v1": .visit])
    private var key: SigningKey!
    private var account: SenderDirectory.Sender!

    override func setUpWithError() throws {
        key = try SigningKey(bytes: Array(repeating: 7, count: 32))
        account = SenderDirectory.Sender(name: try InteropAccountName(parsing: "01001_lt_bvbm"), key: key, locked: false)
    }

    private func visit(facility: String = "01001", episode: String = "LK-1", birthDate: String = "1990-05-01") -> VisitRecord {
        VisitRecord(facilityCode: facility, episodeKey: episode, patientId: "BN-1",
                    patient: PersonDetails(fullName: "Nguyễn Văn An", birthDate: birthDate, sex: 1), visitType: "01",
                    admissionTime: "2025-09-01T08:00", diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng")])
    }

    /// A record as a source sends it; `edit` changes its headers before it is "consumed".
    private func consumed(_ visit: VisitRecord, topic: String? = nil, key kafkaKey: String? = nil, signedWith signer: SigningKey?? = .none,
                          sender: String = "01001_lt_bvbm", edit: (inout [KafkaHeader]) -> Void = { _ in }) throws -> ConsumerRecord {
        let value = Array(try RecordDecoder.encode(visit))
        var headers = CloudEventHeaders.make(id: CloudEventHeaders.newID(), source: sender, type: RecordKind.visit.ceType,
                                             time: CloudEventHeaders.time(Date()), value: value, signedWith: signer ?? key)
        edit(&headers)
        return ConsumerRecord(topic: topic ?? self.topic, partition: 2, offset: 41, key: Array((kafkaKey ?? visit.kafkaKey).utf8), value: value,
                              headers: headers)
    }

    private func code(_ record: ConsumerRecord, senders: [String: SenderDirectory.Sender?]? = nil, file: StaticString = #filePath,
                      line: UInt = #line) -> String? {
        switch triage.triage(record, senders: senders ?? ["01001_lt_bvbm": account]) {
        case .accepted: return nil
        case .rejected(let rejection): return rejection.code
        }
    }

    func testASignedValidRecordIsAcceptedWithItsBytesCoordinatesAndSender() throws {
        let record = try consumed(visit())
        guard case .accepted(let accepted) = triage.triage(record, senders: ["01001_lt_bvbm": account]) else {
            return XCTFail("a valid record was rejected: \(code(record) ?? "")")
        }
        XCTAssertEqual(accepted.original, record.value)
        XCTAssertEqual(accepted.coordinates, KafkaCoordinates(topic: topic, partition: 2, offset: 41))
        XCTAssertEqual(accepted.sender, "01001_lt_bvbm")
        XCTAssertEqual(accepted.sourceKey, "01001:LK-1")
        XCTAssertNil(accepted.person)
    }

    func testEnvelopeProblemsAreRejectedBeforeTheSignatureIsChecked() throws {
        XCTAssertEqual(code(try consumed(visit(), topic: "hssk.other.v1")), "topic.unknown")
        XCTAssertEqual(code(try consumed(visit()) { $0.removeAll { $0.key == EnvelopeHeaders.id } }), "envelope.missingHeader")
        XCTAssertEqual(code(try consumed(visit()) { headers in
            headers = headers.map { $0.key == EnvelopeHeaders.specVersion ? KafkaHeader($0.key, "0.3") : $0 }
        }), "envelope.invalidHeader")
        XCTAssertEqual(code(try consumed(visit()) { headers in
            headers = headers.map { $0.key == EnvelopeHeaders.type ? KafkaHeader($0.key, RecordKind.vaccination.ceType) : $0 }
        }), "envelope.typeMismatch")
        let empty = ConsumerRecord(topic: topic, partition: 0, offset: 0, key: nil, value: nil,
                                   headers: try consumed(visit()).headers)
        XCTAssertEqual(code(empty), "value.missing")
    }

    func testSendersMustBeKnownUnlockedAndSignWithTheirOwnKey() throws {
        XCTAssertEqual(code(try consumed(visit(), sender: "01001_lt_xx")), "sender.unknownAccount")
        XCTAssertEqual(code(try consumed(visit()), senders: ["01001_lt_bvbm": nil]), "sender.unknownAccount")
        var locked: SenderDirectory.Sender = account
        locked.locked = true
        XCTAssertEqual(code(try consumed(visit()), senders: ["01001_lt_bvbm": locked]), "sender.accountLocked")
        XCTAssertEqual(code(try consumed(visit(), signedWith: .some(nil))), "signature.missing")
        let forger = try SigningKey(bytes: Array(repeating: 9, count: 32))
        XCTAssertEqual(code(try consumed(visit(), signedWith: forger)), "signature.invalid")
        var keyless: SenderDirectory.Sender = account
        keyless.key = nil
        XCTAssertEqual(code(try consumed(visit()), senders: ["01001_lt_bvbm": keyless]), "signature.invalid")
    }

    func testTheRecordMustBeValidTheSendersOwnAndUnderItsOwnKey() throws {
        XCTAssertEqual(code(try consumed(visit(birthDate: "1990-13-45"))), "date.invalid")
        XCTAssertEqual(code(try consumed(visit(facility: "01002"))), "sender.facilityMismatch")
        XCTAssertEqual(code(try consumed(visit(), key: "01001:LK-2")), "envelope.keyMismatch")
    }
}
