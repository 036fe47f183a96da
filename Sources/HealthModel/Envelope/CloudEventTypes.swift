/// CloudEvents `ce_type` values, one per value schema (DESIGN §5).
public enum CloudEventTypes {
    /// Visits on `hssk.visits.v1`.
    public static let visit = "vn.hssk.visit.v1"
    /// Vaccine doses on `hssk.vaccinations.v1`.
    public static let vaccination = "vn.hssk.vaccination.v1"
    /// Insurance card changes on `hssk.insurance.cards.v1`.
    public static let insuranceCard = "vn.hssk.insurance.card.v1"
    /// Registry events on `hssk.registry.v1`.
    public static let registryEvent = "vn.hssk.registry.v1"
    /// Citizen documents on `hssk.citizen-feed.v1`.
    public static let citizenDocument = "vn.hssk.citizen.document.v1"
    /// Supplements to BHXH on `hssk.insurance.supplements.v1`.
    public static let insuranceSupplement = "vn.hssk.insurance.supplement.v1"
    /// Acknowledgements from BHXH on `hssk.insurance.acks.v1`.
    public static let insuranceAck = "vn.hssk.insurance.ack.v1"
}
