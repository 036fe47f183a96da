import CRdKafka

/// An `rd_kafka_t *` that may cross threads.
///
/// Safety: librdkafka documents `rd_kafka_t` as thread-safe (all public API calls on one handle may be
/// made from any thread). hssk adds one rule of its own: the consumer-poll family and close are only
/// called from the owning client's `KafkaThread`, and `rd_kafka_destroy` only once, after it stopped.
struct NativeHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Creates a client of `type` from a configuration object (consumed on success and on failure).
func makeClient(_ type: rd_kafka_type_t, _ conf: OpaquePointer) throws -> NativeHandle {
    var errbuf = [CChar](repeating: 0, count: 512)
    guard let rk = rd_kafka_new(type, conf, &errbuf, errbuf.count) else {
        rd_kafka_conf_destroy(conf)
        throw KafkaError.clientCreation(reason: cString(errbuf))
    }
    return NativeHandle(pointer: rk)
}

/// librdkafka threads alive in this process, of every client (for tests of shutdown).
func librdkafkaThreadCount() -> Int { Int(rd_kafka_thread_cnt()) }

/// The client's fatal error, if one was raised.
func fatalClientError(of handle: NativeHandle) -> KafkaError? {
    var errbuf = [CChar](repeating: 0, count: 512)
    let err = rd_kafka_fatal_error(handle.pointer, &errbuf, errbuf.count)
    guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
    return .fatal(KafkaErrorCode(err), reason: cString(errbuf))
}

/// Converts a Swift partition list to a librdkafka one (caller destroys it).
func makePartitionList(_ entries: [(TopicPartition, Int64)]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    let list = rd_kafka_topic_partition_list_new(Int32(entries.count))!
    for (tp, offset) in entries {
        rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition).pointee.offset = offset
    }
    return list
}

/// Reads a librdkafka partition list.
func readPartitionList(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [(TopicPartition, Int64)] {
    (0..<Int(list.pointee.cnt)).map { index in
        let element = list.pointee.elems[index]
        return (TopicPartition(String(cString: element.topic), element.partition), element.offset)
    }
}

/// Each entry's per-partition error of a librdkafka partition list (after a call that sets them).
func readPartitionErrors(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [(TopicPartition, rd_kafka_resp_err_t)] {
    (0..<Int(list.pointee.cnt)).map { index in
        let element = list.pointee.elems[index]
        return (TopicPartition(String(cString: element.topic), element.partition), element.err)
    }
}
