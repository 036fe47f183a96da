import Foundation
import HealthModel
import Kafka

/// The CloudEvents binary-binding headers of every record hssk or a source writes (DESIGN §5), built
/// in one place so that sources, the feed, insurance supplements and the synthetic sources agree.
public enum CloudEventHeaders {
    /// `ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_time`, the topic's own `extensions`, then
    /// `content-type` when there is a value (a tombstone has none) and `hssk-signature` when a key signs it.
    public static func make(id: String, source: String, type: String, time: String, extensions: [KafkaHeader] = [], value: [UInt8]?,
                            signedWith key: SigningKey? = nil) -> [KafkaHeader] {
        var headers = [
            KafkaHeader(EnvelopeHeaders.specVersion, EnvelopeHeaders.specVersionValue),
            KafkaHeader(EnvelopeHeaders.id, id),
            KafkaHeader(EnvelopeHeaders.source, source),
            KafkaHeader(EnvelopeHeaders.type, type),
            KafkaHeader(EnvelopeHeaders.time, time),
        ] + extensions
        guard let value else { return headers }
        headers.append(KafkaHeader(EnvelopeHeaders.contentType, EnvelopeHeaders.contentTypeValue))
        if let key { headers.append(KafkaHeader(EnvelopeHeaders.signature, RecordSignature.sign(value: value, key: key))) }
        return headers
    }

    /// A fresh `ce_id` (a lowercase UUID).
    public static func newID() -> String { UUID().uuidString.lowercased() }

    /// `ce_time` as sources send it: ISO-8601 UTC with milliseconds, e.g. `2025-03-03T07:10:00.123Z`.
    public static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
