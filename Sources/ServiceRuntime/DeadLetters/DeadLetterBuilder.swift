import Foundation
import HealthModel
import Kafka
import RecordStore

/// Builds dead letters that always fit their topic (DESIGN §5): the original key, value and headers
/// unchanged where they can be, plus the error headers.
///
/// What cannot travel unchanged is altered in the open, never silently: a header value that is not
/// printable text or is longer than `maxHeaderValueBytes` is escaped and cut (and named in
/// `hssk-headers-altered`), the error detail is capped, and a value that would push the letter past
/// `maxLetterBytes` is left out (`hssk-value-omitted`: its size; the source coordinates lead to it).
/// One hostile record must never make its dead letter too large to produce: that stopped a partition
/// for good (issue #16).
public enum DeadLetterBuilder {
    /// The most a dead letter may weigh (key, value, header names and values): below the 1,000,000
    /// bytes librdkafka's producer accepts by default and the 1,048,576 `max.message.bytes` declared
    /// on the dead-letter topics, with room for the record's framing.
    public static let maxLetterBytes = 900 * 1024
    /// The longest original header value copied unchanged.
    public static let maxHeaderValueBytes = 1024
    /// The longest original header name copied unchanged.
    public static let maxHeaderNameBytes = 128
    /// Original headers copied; more are dropped (and counted in `hssk-headers-altered`).
    public static let maxHeaders = 64
    /// The longest key copied unchanged.
    public static let maxKeyBytes = 16 * 1024
    /// Findings listed in `hssk-error-detail`; more are summarised by one `detail.truncated` entry.
    public static let maxDetails = 20
    /// The longest text (field path, message) inside one finding.
    public static let maxDetailText = 300

    /// Header set when the value was left out: its size in bytes.
    public static let valueOmitted = "hssk-value-omitted"
    /// Header set when original headers were escaped, cut or dropped: a JSON list of
    /// `{"header": escaped name, "bytes": original value size, "action": "escaped"}` (at most
    /// `maxHeaders` entries) and one `{"header": "*", "count": N, "action": "dropped"}` for the headers
    /// beyond `maxHeaders`.
    public static let headersAltered = "hssk-headers-altered"
    /// Header set when the key was cut: its original size in bytes.
    public static let keyAltered = "hssk-key-altered"
    /// The headers a dead letter adds (besides `DeadLetterHeaders.all`).
    public static let added: Set<String> = [valueOmitted, headersAltered, keyAltered]

    /// The dead letter of a record read at `source`, rejected with `code` and `issues`; `headers` are
    /// its first headers of `headerCount` in all (see `ConsumerRecord.headers(limit:)`); `extra` are
    /// service-specific headers of hssk's own (e.g. an endpoint's answer), kept after the error headers.
    public static func letter(topic: String, source: KafkaCoordinates, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], headerCount: Int? = nil,
                              code: String, issues: [ValidationIssue], extra: [KafkaHeader] = [], at time: Date = Date()) -> ProducerRecord {
        var altered: [[String: String]] = []
        var kept: [KafkaHeader] = []
        var dropped = max(0, (headerCount ?? headers.count) - headers.count)
        for header in headers where !DeadLetterHeaders.all.contains(header.key) && !added.contains(header.key) {
            guard kept.count < maxHeaders else {
                dropped += 1
                continue
            }
            let nameBytes = Array(header.key.utf8)
            let nameFits = nameBytes.count <= maxHeaderNameBytes && isPrintable(nameBytes)
            let valueFits = header.value.map { $0.count <= maxHeaderValueBytes && isPrintable($0) } ?? true
            if nameFits && valueFits {
                kept.append(header)
                continue
            }
            let name = nameFits ? header.key : escaped(nameBytes, limit: maxHeaderNameBytes)
            kept.append(KafkaHeader(key: name, value: header.value.map { valueFits ? $0 : Array(escaped($0, limit: maxHeaderValueBytes / 4).utf8) }))
            altered.append(["header": name, "bytes": String(header.value?.count ?? 0), "action": "escaped"])
        }
        // One entry for all the headers dropped: the list itself must stay small.
        if dropped > 0 { altered.append(["header": "*", "count": String(dropped), "action": "dropped"]) }
        var added: [KafkaHeader] = [
            KafkaHeader(DeadLetterHeaders.errorCode, escaped(Array(code.utf8), limit: 100)),
            KafkaHeader(DeadLetterHeaders.errorDetail, detail(issues)),
            KafkaHeader(DeadLetterHeaders.sourceTopic, source.topic),
            KafkaHeader(DeadLetterHeaders.sourcePartition, String(source.partition)),
            KafkaHeader(DeadLetterHeaders.sourceOffset, String(source.offset)),
            KafkaHeader(DeadLetterHeaders.failedAt, time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
        ]
        added += extra
        if !altered.isEmpty { added.append(KafkaHeader(headersAltered, json(altered))) }
        var letterKey = key
        if let key, key.count > maxKeyBytes {
            letterKey = Array(key.prefix(maxKeyBytes))
            added.append(KafkaHeader(keyAltered, String(key.count)))
        }
        var letterValue = value
        let withoutValue = weight(key: letterKey, value: nil, headers: kept + added)
        if let value, withoutValue + value.count > maxLetterBytes {
            added.append(KafkaHeader(valueOmitted, String(value.count)))
            letterValue = nil
        }
        return ProducerRecord(topic: topic, key: letterKey, value: letterValue, headers: kept + added)
    }

    /// The smallest form of a letter the cluster refused as too large anyway (its limit is lower than
    /// declared): no value and none of the original headers, the error and source headers kept.
    public static func minimal(_ letter: ProducerRecord) -> ProducerRecord {
        var headers = letter.headers.filter { DeadLetterHeaders.all.contains($0.key) }
        headers.append(KafkaHeader(valueOmitted, String(letter.value?.count ?? 0)))
        headers.append(KafkaHeader(headersAltered, json([["header": "*", "bytes": "0", "action": "dropped"]])))
        return ProducerRecord(topic: letter.topic, key: letter.key.map { Array($0.prefix(256)) }, value: nil, headers: headers)
    }

    /// Key, value and header bytes of a record (what librdkafka's size check counts, less framing).
    static func weight(key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader]) -> Int {
        (key?.count ?? 0) + (value?.count ?? 0) + headers.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) + 8 }
    }

    /// `hssk-error-detail`: the findings, errors first, each text cut to `maxDetailText`, at most
    /// `maxDetails` of them (a record can carry thousands of findings, or an echo of a huge header).
    static func detail(_ issues: [ValidationIssue]) -> String {
        let ordered = issues.errors + issues.warnings
        var entries = ordered.prefix(maxDetails).map { issue in
            ValidationIssue(path: cut(issue.path), code: cut(issue.code), severity: issue.severity,
                            message: BilingualMessage(en: cut(issue.message.en), vi: cut(issue.message.vi)))
        }
        if ordered.count > maxDetails {
            let more = ordered.count - maxDetails
            entries.append(ValidationIssue(path: "$", code: "detail.truncated", severity: .warning,
                                           message: BilingualMessage(en: "\(more) more findings are not listed.",
                                                                     vi: "Còn \(more) lỗi khác không được liệt kê.")))
        }
        return DeadLetterDetail.headerValue(for: entries)
    }

    /// Text cut to `maxDetailText` characters, control characters escaped.
    private static func cut(_ text: String) -> String {
        let escapedText = escaped(Array(text.utf8), limit: maxDetailText * 4)
        return escapedText.count <= maxDetailText ? escapedText : String(escapedText.prefix(maxDetailText - 1)) + "…"
    }

    /// True for valid UTF-8 without control characters (tab allowed).
    static func isPrintable(_ bytes: [UInt8]) -> Bool {
        guard let text = String(validating: bytes, as: UTF8.self) else { return false }
        return !text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\t") || (0x7f...0x9f).contains($0.value) }
    }

    /// Bytes as printable text of at most about `limit` bytes: valid UTF-8 text with control
    /// characters as `\xNN`, other bytes as `\xNN`, backslashes doubled; `…` marks a cut.
    static func escaped(_ bytes: [UInt8], limit: Int) -> String {
        var out = ""
        var index = 0
        while index < bytes.count {
            if out.utf8.count >= limit { return out + "…" }
            let byte = bytes[index]
            let length = byte < 0x80 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 0
            if length > 1, index + length <= bytes.count, let scalar = String(validating: bytes[index..<(index + length)], as: UTF8.self),
               !scalar.unicodeScalars.contains(where: { (0x7f...0x9f).contains($0.value) }) {
                out += scalar
                index += length
                continue
            }
            if byte == UInt8(ascii: "\\") {
                out += "\\\\"
            } else if byte >= 0x20 && byte < 0x7f || byte == UInt8(ascii: "\t") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(2)
            }
            index += 1
        }
        return out
    }

    private static func json(_ object: [[String: String]]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

extension DeadLetterDraft {
    /// The dead letter of a consumed record triage rejected, for its source topic's `.dlq`: key, value
    /// and headers as received (trimmed to fit), the code and every finding; written with the batch.
    package init(rejected record: ConsumerRecord, _ rejection: Rejection) {
        let source = KafkaCoordinates(topic: record.topic, partition: record.partition, offset: record.offset)
        let headers = record.headers(limit: DeadLetterBuilder.maxHeaders + 16)
        let letter = DeadLetterBuilder.letter(topic: SourceTopics.deadLetterTopic(of: record.topic), source: source, key: record.key,
                                              value: record.value, headers: headers.headers, headerCount: headers.total, code: rejection.code,
                                              issues: rejection.issues)
        self.init(source: source, topic: letter.topic, code: rejection.code, letter: DeadLetterCodec.encode(letter))
    }
}
