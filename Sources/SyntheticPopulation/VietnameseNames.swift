/// Name tables for synthetic Vietnamese citizens (NFC). Family-name shares follow the commonly cited
/// distribution (Nguyễn ≈ 38%, Trần ≈ 11%, Lê ≈ 9.5%, Phạm ≈ 7%, Hoàng/Huỳnh ≈ 5% each, …).
enum VietnameseNames {
    static let family: [(String, Double)] = [
        ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1), ("Hoàng", 5.1), ("Huỳnh", 5.1),
        ("Phan", 4.5), ("Vũ", 3.9), ("Võ", 3.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
        ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Đinh", 0.5), ("Trịnh", 0.4), ("Đào", 0.4), ("Mai", 0.3),
    ]
    static let maleMiddle: [(String, Double)] = [
        ("Văn", 35), ("Đức", 12), ("Minh", 12), ("Hữu", 8), ("Quốc", 8), ("Thanh", 6), ("Công", 6), ("Xuân", 5),
        ("Gia", 4), ("Tuấn", 4),
    ]
    static let femaleMiddle: [(String, Double)] = [
        ("Thị", 45), ("Ngọc", 12), ("Thu", 8), ("Thanh", 8), ("Kim", 6), ("Hồng", 6), ("Phương", 5), ("Minh", 5),
        ("Bảo", 5),
    ]
    static let maleGiven = ["An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Huy", "Khang", "Khoa", "Long",
                            "Minh", "Nam", "Phong", "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Thành", "Trung", "Tuấn",
                            "Việt", "Vinh"]
    static let femaleGiven = ["Anh", "Chi", "Dung", "Giang", "Hà", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai",
                              "My", "Nga", "Ngân", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang", "Trinh",
                              "Vân", "Yến", "Xuân"]
    static let streets = ["Phố Huế", "Hàng Bài", "Kim Mã", "Láng Hạ", "Nguyễn Trãi", "Giải Phóng", "Trần Duy Hưng",
                          "Xuân Thủy", "Lạc Long Quân", "Minh Khai"]
}
