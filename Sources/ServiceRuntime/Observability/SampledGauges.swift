import Foundation
import Kafka
import RecordStore
import Synchronization

/// `hssk_consumer_lag`: records not yet polled per assigned partition, sampled from the consumer's
/// local state by `AdminEndpoint`'s refresh (never on a request's thread).
package final class ConsumerLagGauge: Sendable {
    private let consumer = Mutex<Consumer?>(nil)
    private let lag = Mutex<[Kafka.TopicPartition: Int64]>([:])

    /// A gauge with no consumer yet.
    package init() {}

    /// The consumer to sample (set once the service created it).
    package func attach(_ consumer: Consumer) { self.consumer.withLock { $0 = consumer } }

    /// Samples the lag; keeps the last sample when the consumer is closed or fails.
    package func refresh() async {
        guard let consumer = consumer.withLock({ $0 }), let sample = try? await consumer.lag() else { return }
        lag.withLock { $0 = sample }
    }

    /// The family, one series per partition.
    package var family: MetricFamily {
        let sample = lag.withLock { $0 }
        return MetricFamily(name: "hssk_consumer_lag", help: "Records not yet polled per assigned partition (high watermark minus position).",
                            kind: .gauge, samples: sample.sorted { $0.key < $1.key }.map {
                                .init(labels: [.init("topic", $0.key.topic), .init("partition", String($0.key.partition))], value: Double($0.value))
                            })
    }
}

/// `hssk_outbox_backlog{kind}`: outbox rows of one kind not yet done, counted in the store.
package final class OutboxBacklogGauge: Sendable {
    private let store: any OutboxStore
    private let kind: String
    private let value = Mutex<Int?>(nil)

    package init(store: any OutboxStore, kind: String) {
        self.store = store
        self.kind = kind
    }

    /// Counts again; keeps the last count when the store does not answer.
    package func refresh() async {
        guard let count = try? await store.outboxBacklog(kind: kind) else { return }
        value.withLock { $0 = count }
    }

    /// The family (no series before the first count).
    package var family: MetricFamily {
        MetricFamily(name: "hssk_outbox_backlog", help: "Outbox rows not yet handled, by kind.", kind: .gauge,
                     samples: value.withLock { $0 }.map { [.init(labels: [.init("kind", kind)], value: Double($0))] } ?? [])
    }
}

extension MetricFamily {
    /// `hssk_dead_lettered_total{code}`.
    package static func deadLettered(_ byCode: [String: Int]) -> MetricFamily {
        .counter("hssk_dead_lettered_total", "Records sent to a dead-letter topic, by error code.", by: "code", byCode)
    }

    /// `hssk_retries_total`.
    package static func retries(_ count: Int) -> MetricFamily {
        .counter("hssk_retries_total", "Transient failures (store, cluster, endpoint) retried with back-off.", count)
    }

    /// `hssk_outbox_quarantined_total{code}`.
    package static func quarantined(_ byCode: [String: Int]) -> MetricFamily {
        .counter("hssk_outbox_quarantined_total", "Outbox rows quarantined (not processed, never retried), by reason code.", by: "code", byCode)
    }

    /// `hssk_consumed_total`.
    package static func consumed(_ count: Int) -> MetricFamily {
        .counter("hssk_consumed_total", "Records polled from Kafka.", count)
    }
}
