import Foundation
import HealthModel
import Kafka
import RecordStore

/// A record that is dead-lettered: the main code and every finding.
package struct Rejection: Error, Sendable, Hashable {
    package var code: String
    package var issues: [ValidationIssue]

    package init(_ issues: [ValidationIssue]) {
        self.issues = issues
        code = issues.errors.first?.code ?? issues.first?.code ?? "unknown"
    }

    package init(path: String, code: String, en: String, vi: String) {
        self.init([ValidationIssue(path: path, code: code, severity: .error, message: BilingualMessage(en: en, vi: vi))])
    }
}

/// Authenticates, decodes and validates consumed records (DESIGN §5, §9). Pure apart from the
/// account look-up done beforehand: every decision is made from the record and the accounts map.
package struct RecordTriage: Sendable {
    /// Kind of record each source topic carries.
    let kinds: [String: RecordKind]

    /// Triage for topics carrying the given kinds of record.
    package init(kinds: [String: RecordKind]) { self.kinds = kinds }

    /// What to do with one record.
    package enum Verdict: Sendable {
        case accepted(IncomingRecord)
        case rejected(Rejection)
    }

    package func triage(_ message: ConsumerRecord, senders: [String: SenderDirectory.Sender?]) -> Verdict {
        let coordinates = KafkaCoordinates(topic: message.topic, partition: message.partition, offset: message.offset)
        guard let kind = kinds[message.topic] else {
            return .rejected(Rejection(path: "$", code: "topic.unknown", en: "Topic \(message.topic) is not a source topic.",
                                       vi: "Topic \(message.topic) không phải topic nguồn."))
        }
        if let problem = Self.envelopeProblem(message, ceType: kind.ceType) { return .rejected(problem) }
        guard let value = message.value else {
            return .rejected(Rejection(path: "$", code: "value.missing", en: "The record has no value.", vi: "Bản ghi không có dữ liệu."))
        }
        // Checked before the HMAC: a huge value must not cost a full hash to reject.
        guard value.count <= RecordDecoder.maxValueBytes else {
            return .rejected(Rejection(path: "$", code: "json.tooLarge", en: "The value is larger than \(RecordDecoder.maxValueBytes) bytes.",
                                       vi: "Dữ liệu lớn hơn \(RecordDecoder.maxValueBytes) byte."))
        }
        let sender: SenderDirectory.Sender
        switch Self.authenticate(message, value: value, senders: senders) {
        case .success(let known): sender = known
        case .failure(let rejection): return .rejected(rejection)
        }
        let decoded = RecordDecoder.decode(Data(value), kind: kind)
        guard let record = decoded.record, !decoded.issues.hasErrors else { return .rejected(Rejection(decoded.issues)) }
        if let problem = sender.name.problem(sending: record.senderScope) {
            return .rejected(Rejection([ValidationIssue(path: "$", problem: problem)]))
        }
        // The key places the record in its partition, and so orders its versions: it must be the record's own.
        let expectedKey = record.kafkaKey
        guard let key = message.key, key.elementsEqual(expectedKey.utf8) else {
            return .rejected(Rejection(path: "key", code: "envelope.keyMismatch",
                                       en: "The Kafka key must be the record's key '\(expectedKey)'.",
                                       vi: "Khóa Kafka phải là khóa của hồ sơ '\(expectedKey)'."))
        }
        return .accepted(IncomingRecord(record: record, original: value, coordinates: coordinates, sender: sender.name.value))
    }

    /// The sender of `value`: a registered, unlocked account whose key signed it; else why not.
    /// Shared with the insurance sync, which authenticates BHXH's answers the same way.
    package static func authenticate(_ message: ConsumerRecord, value: [UInt8], senders: [String: SenderDirectory.Sender?])
        -> Result<SenderDirectory.Sender, Rejection> {
        let source = message.headerText(EnvelopeHeaders.source) ?? ""
        guard let known = senders[source], let sender = known else {
            return .failure(Rejection(path: "headers.ce_source", code: "sender.unknownAccount",
                                      en: "No interop account named '\(source)' is registered.",
                                      vi: "Tài khoản liên thông '\(source)' chưa được đăng ký."))
        }
        guard !sender.locked else {
            return .failure(Rejection(path: "headers.ce_source", code: "sender.accountLocked",
                                      en: "Account \(source) is locked; ask the Department of Health to unlock it.",
                                      vi: "Tài khoản \(source) đã bị khóa; liên hệ Sở Y tế để mở khóa."))
        }
        guard let signature = message.headerText(EnvelopeHeaders.signature), !signature.isEmpty else {
            return .failure(Rejection(path: "headers.\(EnvelopeHeaders.signature)", code: "signature.missing",
                                      en: "The record is not signed (header \(EnvelopeHeaders.signature)).",
                                      vi: "Bản ghi chưa được ký (header \(EnvelopeHeaders.signature))."))
        }
        guard let key = sender.key, RecordSignature.verify(value: value, signature: signature, key: key) else {
            return .failure(Rejection(path: "headers.\(EnvelopeHeaders.signature)", code: "signature.invalid",
                                      en: "The signature does not match the value and the key of account \(source).",
                                      vi: "Chữ ký không khớp với dữ liệu và khóa của tài khoản \(source)."))
        }
        return .success(sender)
    }

    /// The CloudEvents envelope's problem (`ce_type` must be `ceType`), if any.
    package static func envelopeProblem(_ message: ConsumerRecord, ceType: String) -> Rejection? {
        for name in [EnvelopeHeaders.specVersion, EnvelopeHeaders.id, EnvelopeHeaders.source, EnvelopeHeaders.type, EnvelopeHeaders.contentType] {
            guard let value = message.headerText(name), !value.isEmpty else {
                return Rejection(path: "headers.\(name)", code: "envelope.missingHeader", en: "Header \(name) is missing.",
                                 vi: "Thiếu header \(name).")
            }
            switch name {
            case EnvelopeHeaders.specVersion where value != EnvelopeHeaders.specVersionValue,
                 EnvelopeHeaders.contentType where value != EnvelopeHeaders.contentTypeValue:
                return Rejection(path: "headers.\(name)", code: "envelope.invalidHeader", en: "Header \(name) has an unsupported value.",
                                 vi: "Header \(name) có giá trị không được hỗ trợ.")
            case EnvelopeHeaders.type where value != ceType:
                return Rejection(path: "headers.\(name)", code: "envelope.typeMismatch",
                                 en: "ce_type must be \(ceType) on \(message.topic).", vi: "ce_type phải là \(ceType) trên \(message.topic).")
            default:
                continue
            }
        }
        return nil
    }
}
