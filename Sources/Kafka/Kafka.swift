/// Swift API over librdkafka.
public enum Kafka {}
