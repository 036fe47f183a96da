import Kafka

/// `--kafka KEY=VALUE`, on every command that talks to Kafka.
let kafkaOption = Option(name: "kafka", value: "KEY=VALUE", help: "Any librdkafka setting, e.g. security.protocol=sasl_ssl (repeatable).",
                         repeatable: true)

/// `KEY=VALUE` pairs for librdkafka.
func kafkaProperties(_ pairs: [String]) throws -> [String: String] {
    var properties: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw UsageError(description: "--kafka takes KEY=VALUE, not '\(pair)'")
        }
        properties[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return properties
}

/// The Kafka client every command's producers, consumers and admins share: `bootstrap` (default
/// `--bootstrap`, required), the `--kafka` settings, and librdkafka's own log quiet below errors.
func kafkaClient(_ arguments: ParsedArguments, bootstrap: String? = nil, clientID: String? = nil) throws -> KafkaClientConfig {
    var client = KafkaClientConfig(bootstrapServers: try bootstrap ?? required(arguments, "bootstrap"))
    client.properties = try kafkaProperties(arguments.strings(kafkaOption.name))
    if let clientID { client.clientID = clientID }
    client.logLevel = 3
    return client
}
