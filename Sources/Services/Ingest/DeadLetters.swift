import Foundation
import HealthModel
import Kafka
import RecordStore

/// Builds dead letters (DESIGN §5): the original key, value and headers unchanged, plus the error
/// headers. Values too large for the dead-letter topic travel without their value; the source
/// coordinates still lead to it.
enum DeadLetters {
    /// Largest value copied into a dead letter (below Kafka's default 1 MB message size).
    static let maxValueBytes = 900 * 1024
    /// Header set when the value was left out: its size in bytes.
    static let valueOmitted = "hssk-value-omitted"

    static func record(for message: ConsumerRecord, _ rejection: Rejection, at time: Date = Date()) -> ProducerRecord {
        var headers = message.headers.filter { !DeadLetterHeaders.all.contains($0.key) && $0.key != valueOmitted }
        headers.append(KafkaHeader(DeadLetterHeaders.errorCode, rejection.code))
        headers.append(KafkaHeader(DeadLetterHeaders.errorDetail, DeadLetterDetail.headerValue(for: rejection.issues)))
        headers.append(KafkaHeader(DeadLetterHeaders.sourceTopic, message.topic))
        headers.append(KafkaHeader(DeadLetterHeaders.sourcePartition, String(message.partition)))
        headers.append(KafkaHeader(DeadLetterHeaders.sourceOffset, String(message.offset)))
        headers.append(KafkaHeader(DeadLetterHeaders.failedAt, time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))))
        var value = message.value
        if message.valueCount > maxValueBytes {
            headers.append(KafkaHeader(valueOmitted, String(message.valueCount)))
            value = nil
        }
        return ProducerRecord(topic: IngestConfiguration.deadLetterTopic(of: message.topic), key: message.key, value: value, headers: headers)
    }
}
