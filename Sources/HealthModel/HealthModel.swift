/// Pure domain model of hssk: identifiers, records, validation, Vietnamese text. Foundation only.
public enum HealthModel {}
