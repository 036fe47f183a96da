import CRdKafka

/// A librdkafka error code (`rd_kafka_resp_err_t`): broker codes are ≥ 0, client-local codes < 0.
public struct KafkaErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ err: rd_kafka_resp_err_t) { self.rawValue = err.rawValue }

    /// librdkafka's symbolic name, e.g. `NOT_ENOUGH_REPLICAS` or `_MSG_TIMED_OUT`.
    public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: rawValue))) }
    /// librdkafka's human-readable description.
    public var description: String { String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: rawValue))) }

    public static let noError = KafkaErrorCode(rawValue: 0)
    public static let queueFull = KafkaErrorCode(RD_KAFKA_RESP_ERR__QUEUE_FULL)
    public static let messageTimedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
    public static let timedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__TIMED_OUT)
    public static let fatal = KafkaErrorCode(RD_KAFKA_RESP_ERR__FATAL)
    public static let partitionEOF = KafkaErrorCode(RD_KAFKA_RESP_ERR__PARTITION_EOF)
    public static let unknownTopicOrPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    public static let unknownPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
    public static let unsupportedFeature = KafkaErrorCode(RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE)
    public static let topicAlreadyExists = KafkaErrorCode(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    public static let notEnoughReplicas = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)
    public static let notLeaderForPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION)
    public static let requestTimedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT)
    public static let leaderNotAvailable = KafkaErrorCode(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
    /// The record is larger than the producer's `message.max.bytes` or the topic's `max.message.bytes`.
    public static let messageSizeTooLarge = KafkaErrorCode(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
    /// The broker refused the record as invalid (e.g. a batch larger than the topic accepts).
    public static let invalidRecord = KafkaErrorCode(RD_KAFKA_RESP_ERR_INVALID_RECORD)
    /// No broker can be reached.
    public static let allBrokersDown = KafkaErrorCode(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
}

/// Errors of the Kafka layer. Each case carries librdkafka's code where there is one.
public enum KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A configuration key is unknown, its value invalid, or it contradicts a setting hssk fixes.
    case invalidConfiguration(key: String, value: String, reason: String)
    /// librdkafka refused to create the client (e.g. contradictory settings).
    case clientCreation(reason: String)
    /// A record was not delivered (after librdkafka's own retries).
    case delivery(KafkaErrorCode, topic: String, partition: Int32)
    /// The client hit a fatal error (e.g. the idempotent producer lost its guarantees); recreate it.
    case fatal(KafkaErrorCode, reason: String)
    /// A librdkafka call failed; `operation` names the call.
    case operation(String, KafkaErrorCode, detail: String)
    /// A topic-level error returned by an admin request.
    case topic(String, KafkaErrorCode, detail: String)
    /// The caller's partition-assignment hook failed, so the consumer could not position itself.
    case assignmentHookFailed(reason: String)
    /// The client was already closed.
    case closed
    /// A bulk send stopped after queueing `queued` records (those are still delivered or reported).
    indirect case partiallyQueued(Int, KafkaError)

    /// For a bulk send that failed part-way: how many records had been queued.
    var queuedBeforeFailure: Int {
        if case let .partiallyQueued(queued, _) = self { return queued }
        return 0
    }

    public var description: String {
        switch self {
        case let .invalidConfiguration(key, value, reason):
            return "invalid Kafka configuration \(key)=\(value.isEmpty ? "\"\"" : value): \(reason)"
        case let .clientCreation(reason):
            return "cannot create Kafka client: \(reason)"
        case let .delivery(code, topic, partition):
            return "delivery to \(topic)[\(partition)] failed: \(code.name) (\(code))"
        case let .fatal(code, reason):
            return "fatal Kafka client error \(code.name): \(reason)"
        case let .operation(operation, code, detail):
            return "\(operation) failed: \(code.name) (\(detail.isEmpty ? code.description : detail))"
        case let .topic(topic, code, detail):
            return "topic \(topic): \(code.name) (\(detail.isEmpty ? code.description : detail))"
        case let .assignmentHookFailed(reason):
            return "partition assignment hook failed: \(reason)"
        case .closed:
            return "Kafka client is closed"
        case let .partiallyQueued(queued, error):
            return "\(error) (after \(queued) records of the batch were queued)"
        }
    }
}
