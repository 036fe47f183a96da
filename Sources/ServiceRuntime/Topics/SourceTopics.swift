import HealthModel

/// The source topics of the four record kinds and their dead-letter topics (DESIGN §5).
public enum SourceTopics {
    /// The source topic of each kind, as in the topic catalogue.
    public static let defaults: [RecordKind: String] = [
        .visit: "hssk.visits.v1", .vaccination: "hssk.vaccinations.v1",
        .insuranceCard: "hssk.insurance.cards.v1", .registryEvent: "hssk.registry.v1",
    ]

    /// The source topics named by `catalogue` (matched on `ceType`), falling back to the defaults.
    public static func named(by catalogue: TopicCatalogue) -> [RecordKind: String] {
        var out = defaults
        for entry in catalogue.entries where entry.valueSchema != nil {
            if let ceType = entry.ceType, let kind = RecordKind(ceType: ceType) { out[kind] = entry.name }
        }
        return out
    }

    /// The dead-letter topic of a source topic.
    public static func deadLetterTopic(of topic: String) -> String { topic + ".dlq" }
}
