import DedicatedThreads

/// The thread a Kafka client's blocking librdkafka calls run on.
typealias KafkaThread = DedicatedThread

extension DedicatedThread {
    /// A thread whose `run` throws `KafkaError.closed` once stopped.
    convenience init(name: String) {
        self.init(name: name, closedError: KafkaError.closed)
    }
}
