#!/usr/bin/env python3
"""Writes the sample XML 130 files used by SourceAdaptersTests (run from this folder; output is committed).

Values follow the XML1 field table of docs/xml130-mapping.md; people and numbers are invented.
"""
import base64
import unicodedata

def table(root, fields, row=None, wrapper=None):
    def row_xml(name, fs):
        return f"<{name}>" + "".join(f"<{k}>{v}</{k}>" for k, v in fs) + f"</{name}>"
    if row:
        body = "".join(row_xml(row, fs) for fs in fields)
        inner = f"<{root}><{wrapper}>{body}</{wrapper}></{root}>"
    else:
        inner = row_xml(root, fields)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + inner

def b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")

def xml1(**over):
    fields = [
        ("MA_LK", "LK2024-000123"), ("STT", "1"), ("MA_BN", "BN000123"), ("HO_TEN", "Nguyễn Văn An"),
        ("SO_CCCD", "001058012345"), ("NGAY_SINH", "195803070000"), ("GIOI_TINH", "1"), ("MA_QUOCTICH", "000"),
        ("MA_DANTOC", "01"), ("MA_NGHE_NGHIEP", "00001"),
        ("DIA_CHI", "Số 1 phố Huế, phường Phạm Đình Hổ, quận Hai Bà Trưng, Hà Nội"),
        ("MATINH_CU_TRU", "01"), ("MAHUYEN_CU_TRU", "007"), ("MAXA_CU_TRU", "00256"), ("DIEN_THOAI", "0912345678"),
        ("MA_THE_BHYT", "HT3010123456789"), ("MA_DKBD", "01001"), ("GT_THE_TU", "20240101"), ("GT_THE_DEN", "20241231"),
        ("LY_DO_VV", "Sốt cao, ho khạc đờm 3 ngày"), ("CHAN_DOAN_VAO", "Viêm phổi"),
        ("CHAN_DOAN_RV", "Viêm phổi thùy dưới phải; tăng huyết áp"), ("MA_BENH_CHINH", "J18.9"), ("MA_BENH_KT", "I10"),
        ("MA_BENH_YHCT", ""), ("MA_PTTT_QT", "87.44"), ("MA_DOITUONG_KCB", "1.1"), ("MA_NOI_DI", ""), ("MA_NOI_DEN", ""),
        ("MA_TAI_NAN", "0"), ("NGAY_VAO", "202405020815"), ("NGAY_VAO_NOI_TRU", "202405020900"), ("NGAY_RA", "202405091030"),
        ("GIAY_CHUYEN_TUYEN", ""), ("SO_NGAY_DTRI", "8"), ("PP_DIEU_TRI", "Kháng sinh"), ("KET_QUA_DTRI", "1"),
        ("MA_LOAI_RV", "1"), ("GHI_CHU", "Ghi chú nội bộ"), ("NGAY_TTOAN", "202405091100"), ("T_THUOC", "350000"),
        ("T_VTYT", "0"), ("T_TONGCHI_BV", "2450000.50"), ("T_BHTT", "2205000"), ("T_BNCCT", "245000.50"),
        ("NAM_QT", "2024"), ("THANG_QT", "5"), ("MA_LOAI_KCB", "03"), ("MA_KHOA", "K03"), ("MA_CSKCB", "01001"),
        ("MA_KHUVUC", ""), ("CAN_NANG", "58.5"), ("CAN_NANG_CON", ""), ("NAM_NAM_LIEN_TUC", ""), ("NGAY_TAI_KHAM", "20240523"),
        ("MA_HSBA", "HSBA-24-0456"), ("MA_TTDV", "BS001"), ("DU_PHONG", ""),
    ]
    # PP_DIEU_TRI belongs to 4750's XML1 in some exports; listed here as an "unknown extra field" only in the 3176 case.
    fields = [f for f in fields if f[0] != "PP_DIEU_TRI"]
    out = []
    for k, v in fields:
        if k in over:
            v = over.pop(k)
            if v is None:
                continue
        out.append((k, v))
    out += [(k, v) for k, v in over.items() if v is not None]
    return table("TONG_HOP", out)

def xml2(ma_lk="LK2024-000123"):
    rows = [[("MA_LK", ma_lk), ("STT", "1"), ("MA_THUOC", "40.17"), ("TEN_THUOC", "Amoxicillin"), ("DON_VI_TINH", "viên"),
             ("HAM_LUONG", "500 mg"), ("DUONG_DUNG", "uống"), ("LIEU_DUNG", "1 viên x 3 lần/ngày"), ("SO_LUONG", "21"),
             ("DON_GIA", "1500"), ("THANH_TIEN_BV", "31500")]]
    return table("CHITIEU_CHITIET_THUOC", rows, row="CHI_TIET_THUOC", wrapper="DSACH_CHI_TIET_THUOC")

def xml4(ma_lk="LK2024-000123"):
    rows = [[("MA_LK", ma_lk), ("STT", "1"), ("MA_DICH_VU", "23.0007.1494"), ("MA_CHI_SO", "CRP"), ("TEN_CHI_SO", "CRP"),
             ("GIA_TRI", "48"), ("DON_VI_DO", "mg/L"), ("NGAY_KQ", "202405021000")]]
    return table("CHITIEU_CHITIET_DICHVUCANLAMSANG", rows, row="CHI_TIET_CLS", wrapper="DSACH_CHI_TIET_CLS")

def xml8(ma_lk="LK2024-000123"):
    return table("CHI_TIEU_HO_SO_BENH_AN", [("MA_LK", ma_lk), ("QT_BENHLY", "Sốt, ho 3 ngày trước vào viện.\nĐáp ứng tốt với kháng sinh."),
                                             ("TOMTAT_KQ", "CRP 48 mg/L"), ("PP_DIEUTRI", "Kháng sinh đường uống 7 ngày."),
                                             ("GHI_CHU", "Tái khám sau 2 tuần.")])

HIV_SECRET = "XETNGHIEM_HIV_DUONG_TINH_ARV_TENOFOVIR"

def xml6(ma_lk="LK2024-000123"):
    return table("CHI_TIEU_DU_LIEU_HIV", [("MA_LK", ma_lk), ("KQ_XN_HIV", HIV_SECRET), ("MA_BENH", "B20"), ("PHAC_DO_ARV", "TDF+3TC+DTG")])

def hoso(files):
    return "<HOSO>" + "".join(f"<FILEHOSO><LOAIHOSO>{t}</LOAIHOSO><NOIDUNGFILE>{c}</NOIDUNGFILE></FILEHOSO>" for t, c in files) + "</HOSO>"

def envelope(hosos, facility="01001"):
    return ('<?xml version="1.0" encoding="utf-8"?>\n<GIAMDINHHS><THONGTINDONVI><MACSKCB>' + facility +
            '</MACSKCB></THONGTINDONVI><THONGTINHOSO><NGAYLAP>20240510</NGAYLAP><SOLUONGHOSO>' + str(len(hosos)) +
            '</SOLUONGHOSO><DANHSACHHOSO>\n' + "\n".join(hosos) + '\n</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI></CHUKYDONVI></GIAMDINHHS>\n')

def write(name, text):
    with open(name, "w", encoding="utf-8") as f:
        f.write(text)

full = hoso([("XML1", b64(xml1())), ("XML2", b64(xml2())), ("XML3", b64("<CHITIEU_CHITIET_DVKT_VTYT/>")),
             ("XML4", b64(xml4())), ("XML6", b64(xml6())), ("XML8", b64(xml8()))])
write("valid-4750.xml", envelope([full]))

nfd = lambda s: unicodedata.normalize("NFD", s)
partial = hoso([("XML1", b64(xml1(MA_LK="LK2024-000124", MA_BN="BN000777", HO_TEN=nfd("Đặng Thị Hồng  Nhung"),
    SO_CCCD="001158004321", NGAY_SINH="195800000000", GIOI_TINH="2", DIA_CHI=nfd("Xã Phù Đổng, huyện Gia Lâm"),
    MATINH_CU_TRU="01", MAHUYEN_CU_TRU=None, MAXA_CU_TRU=None, DIEN_THOAI="+84 912 345 678",
    MA_THE_BHYT="HT3010123456789;CK2010111111111", GT_THE_TU="20240101;20240301", GT_THE_DEN="20241231;20250228",
    MA_DKBD="01001;01001", MA_LOAI_KCB="01", NGAY_VAO="202405030000", NGAY_VAO_NOI_TRU=None, NGAY_RA="202405031130",
    SO_NGAY_DTRI="1", MA_BENH_KT="I10;E11.9", MA_PTTT_QT="", NGAY_TAI_KHAM="",
    LY_DO_VV=nfd("Khám định kỳ"))))])
write("nfd-cards-partial-dates.xml", envelope([partial]))

variant = hoso([("XML1", b64(xml1(MA_LK="LK2025-000900", NGAY_VAO="202503030800", NGAY_VAO_NOI_TRU="202503030900",
    NGAY_RA="202503101000", NGAY_TTOAN="202503101100", NAM_QT="2025", THANG_QT="3", GT_THE_TU="20250101",
    GT_THE_DEN="20251231", NGAY_TAI_KHAM="20250324", NHOM_MAU="O+", TRUONG_MOI_CHUA_BIET="x")))])
write("variant-3176.xml", envelope([variant]))

def episode(key, **over):
    return [("XML1", b64(xml1(MA_LK=key, **over)))]

defects = [
    hoso(episode("LK-OK-1")),
    hoso([("XML1", "@@@ không phải base64 @@@")]),
    hoso(episode("LK-BAD-TYPE") + [("XML99", b64("<X/>"))]),
    hoso(episode("LK-CENTURY", SO_CCCD="001258012345")),
    hoso(episode("LK-ORDER", NGAY_RA="202405010800")),
    hoso(episode("LK-NO-MAIN", MA_BENH_CHINH="")),
    hoso([("XML1", b64("<TONG_HOP><MA_LK>LK-MALFORMED</MA_LK><HO_TEN>Lê Văn C</TONG_HOP>"))]),
    hoso(episode("LK-DATE", NGAY_VAO="2024-05-02 08:15")),
    hoso(episode("LK-COMMA", CAN_NANG="58,5")),
    hoso([("XML2", b64(xml2("LK-NO-XML1")))]),
    hoso(episode("LK-XML2-KEY") + [("XML2", b64(xml2("LK-OTHER")))]),
    hoso(episode("LK-OK-2")),
]
write("defects.xml", envelope(defects))

ok = hoso(episode("LK-BEFORE-BREAK"))
write("malformed-envelope.xml", envelope([ok, "<HOSO><FILEHOSO><LOAIHOSO>XML1</LOAIHOSO></HOSO>"]))
whole = envelope([ok, hoso(episode("LK-CUT"))])
write("truncated.xml", whole[: whole.rindex("<NOIDUNGFILE>") + 40])
write("not-envelope.xml", '<?xml version="1.0"?>\n<CHECKIN><HOSO/></CHECKIN>\n')
