import Kafka

/// The bytes a dead letter is kept as in the store until the relay produces it (`DeadLetterDraft.letter`):
/// version 1, then the key, the value and each header as length-prefixed fields. Only hssk reads it.
package enum DeadLetterCodec {
    static let version: UInt8 = 1

    package static func encode(_ letter: ProducerRecord) -> [UInt8] {
        var out: [UInt8] = [version]
        out.reserveCapacity(DeadLetterBuilder.weight(key: letter.key, value: letter.value, headers: letter.headers) + 64)
        func append(_ bytes: [UInt8]?) {
            guard let bytes else {
                out.append(0)
                return
            }
            out.append(1)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { out += $0 }
            out += bytes
        }
        append(Array(letter.topic.utf8))
        append(letter.key)
        append(letter.value)
        withUnsafeBytes(of: UInt32(letter.headers.count).bigEndian) { out += $0 }
        for header in letter.headers {
            append(Array(header.key.utf8))
            append(header.value)
        }
        return out
    }

    /// The letter, or nil when the bytes are not one (written by a newer hssk, or damaged).
    static func decode(_ bytes: [UInt8]) -> ProducerRecord? {
        var index = 1
        func uint32() -> Int? {
            guard index + 4 <= bytes.count else { return nil }
            defer { index += 4 }
            return bytes[index..<(index + 4)].reduce(0) { $0 << 8 | Int($1) }
        }
        func field() -> [UInt8]?? {
            guard index < bytes.count else { return nil }
            let present = bytes[index]
            index += 1
            guard present == 1 else { return present == 0 ? .some(nil) : nil }
            guard let count = uint32(), index + count <= bytes.count else { return nil }
            defer { index += count }
            return .some(Array(bytes[index..<(index + count)]))
        }
        guard bytes.first == version, let topicField = field(), let topicBytes = topicField,
              let topic = String(validating: topicBytes, as: UTF8.self), let key = field(), let value = field(), let count = uint32() else { return nil }
        var headers: [KafkaHeader] = []
        for _ in 0..<count {
            guard let nameField = field(), let nameBytes = nameField, let name = String(validating: nameBytes, as: UTF8.self),
                  let headerValue = field() else { return nil }
            headers.append(KafkaHeader(key: name, value: headerValue))
        }
        guard index == bytes.count else { return nil }
        return ProducerRecord(topic: topic, key: key, value: value, headers: headers)
    }
}
