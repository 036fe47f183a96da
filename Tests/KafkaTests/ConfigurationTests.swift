import XCTest
@testable import Kafka

final class ConfigurationTests: XCTestCase {
    func testUnknownKeyIsAClearError() {
        var config = ProducerConfig(bootstrapServers: "127.0.0.1:9")
        config.client.properties["no.such.setting"] = "1"
        XCTAssertThrowsError(try Producer(config: config)) { error in
            guard case let KafkaError.invalidConfiguration(key, value, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "no.such.setting")
            XCTAssertEqual(value, "1")
            XCTAssertTrue(reason.contains("No such configuration property"), reason)
        }
    }

    func testInvalidValueIsAClearError() {
        var config = ConsumerConfig(bootstrapServers: "127.0.0.1:9", groupID: "g")
        config.sessionTimeoutMs = -5
        XCTAssertThrowsError(try Consumer(config: config)) { error in
            guard case let KafkaError.invalidConfiguration(key, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "session.timeout.ms")
        }
    }

    func testFixedSettingsCannotBeOverridden() {
        var producer = ProducerConfig(bootstrapServers: "127.0.0.1:9")
        producer.client.properties["acks"] = "1"
        XCTAssertThrowsError(try Producer(config: producer)) { error in
            XCTAssertEqual(error as? KafkaError, .invalidConfiguration(key: "acks", value: "1", reason: "hssk requires acks=all"))
        }
        var consumer = ConsumerConfig(bootstrapServers: "127.0.0.1:9", groupID: "g")
        consumer.client.properties["enable.auto.commit"] = "true"
        XCTAssertThrowsError(try Consumer(config: consumer)) { error in
            guard case KafkaError.invalidConfiguration(key: "enable.auto.commit", _, _) = error else { return XCTFail("\(error)") }
        }
    }

    func testMissingBootstrapAndGroupAreClearErrors() {
        XCTAssertThrowsError(try Producer(config: ProducerConfig(bootstrapServers: " "))) { error in
            guard case KafkaError.invalidConfiguration(key: "bootstrap.servers", _, _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Consumer(config: ConsumerConfig(bootstrapServers: "127.0.0.1:9", groupID: ""))) { error in
            guard case KafkaError.invalidConfiguration(key: "group.id", _, _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try EmbeddedCluster(brokers: 0))
    }

    func testSecretsAreNotEchoedInErrors() {
        var config = ProducerConfig(bootstrapServers: "127.0.0.1:9")
        config.client.properties["sasl.password"] = "hunter2"
        config.client.properties["sasl.mechanisms"] = "NOT-A-MECHANISM"
        config.client.securityProtocol = .saslSSL
        do {
            _ = try Producer(config: config)
        } catch {
            XCTAssertFalse(String(describing: error).contains("hunter2"))
        }
    }

    func testContradictorySettingsFailAtCreationNotLater() {
        var config = ProducerConfig(bootstrapServers: "127.0.0.1:9")
        config.client.properties["max.in.flight.requests.per.connection"] = "10"  // > 5 breaks idempotence
        XCTAssertThrowsError(try Producer(config: config)) { error in
            guard case KafkaError.clientCreation = error else { return XCTFail("\(error)") }
        }
    }
}
