@testable import HealthModel

/// Valid records of every type, built in code, for round-trip and validation tests.
enum RecordFixtures {
    static var patient: PersonDetails {
        PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1958-03-07", sex: 1, personalId: "001058012345",
                      legacyId: "012345678", nationality: "000", ethnicity: "01", occupation: "00001",
                      address: Address(text: "Số 1 Phố Huế, Hai Bà Trưng, Hà Nội", provinceCode: "01",
                                       districtCode: "007", communeCode: "00256"),
                      phone: "0912345678")
    }

    static var visit: VisitRecord {
        var v = VisitRecord(facilityCode: "01001", episodeKey: "LK2024-000123", patientId: "BN000123", patient: patient,
                            visitType: "03", admissionTime: "2024-05-02T08:15",
                            diagnoses: [Diagnosis(code: "J18.9", text: "Viêm phổi"), Diagnosis(code: "I10", text: "Tăng huyết áp")])
        v.insuranceCards = [InsuranceCoverage(cardCode: "HT3010123456789", validFrom: "2024-01-01", validTo: "2024-12-31",
                                              registeredFacility: "01001")]
        v.inpatientAdmissionTime = "2024-05-02T09:00"
        v.dischargeTime = "2024-05-09T10:30"
        v.treatmentDays = 8
        v.procedures = [Procedure(code: "87.44", name: "Chụp X-quang ngực")]
        v.result = 1
        v.dischargeType = 1
        v.bloodGroup = "O+"
        v.weightKg = 58.5
        v.heightCm = 162
        v.followUpDate = "2024-05-23"
        v.medicines = [Medicine(code: "40.17", name: "Amoxicillin", strength: "500 mg", route: "uống", dosage: "1 viên x 3 lần/ngày",
                                quantity: 21, unit: "viên")]
        v.labResults = [LabResult(name: "CRP", value: "48", unit: "mg/L", referenceRange: "< 5", resultTime: "2024-05-02T10:00")]
        v.treatmentSummary = TreatmentSummary(course: "Sốt, ho 3 ngày.\nĐáp ứng kháng sinh.", treatingDoctor: "BS. Trần Thị Bình")
        v.billing = Billing(settledAt: "2024-05-09T11:00", settlementYear: 2024, settlementMonth: 5,
                            amounts: ["T_THUOC": 350000, "T_BHTT": 1200000.5])
        return v
    }

    static var dose: VaccinationDose {
        VaccinationDose(siteCode: "01I29", doseId: "TC-2025-000777",
                        person: PersonDetails(fullName: "Lê Minh Khang", birthDate: "2025-01-10", sex: 1,
                                              personalId: "001225000111", immunizationCode: "0125000111", phone: "+84912345678"),
                        vaccineCode: "5IN1", vaccineName: "DPT-VGB-Hib (5 trong 1)", lotNumber: "A123",
                        doseNumber: 1, administeredAt: "2025-03-12T09:00")
    }

    static var card: InsuranceCardChange {
        var c = InsuranceCardChange(kind: .issued, cardCode: "GD4010123456789", bhxhNumber: "0123456789",
                                    holder: patient, effectiveAt: "2025-01-01")
        c.holder.birthDate = "1958"
        c.benefitLevel = 4
        c.validFrom = "2025-01-01"
        c.validTo = "2025-12-31"
        c.registeredFacility = "01I29"
        c.fiveYearContinuousFrom = "2019-01-01"
        return c
    }

    static var birth: RegistryEvent {
        var e = RegistryEvent(stationCode: "01I29", eventId: "EV-1", kind: .birth, occurredAt: "2025-08-02T06:40",
                              person: PersonDetails(fullName: "Đặng Thị Hoa", birthDate: "2025-08-02", sex: 2))
        e.birth = BirthDetails(birthCertificateNumber: "CS-2025-0042",
                               mother: PersonReference(fullName: "Đặng Thị Lan", birthDate: "1995", personalId: "022195000321"),
                               birthWeightGrams: 3100)
        return e
    }
}
