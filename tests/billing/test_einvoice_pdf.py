"""The printed e-invoice, read back as a person's PDF reader and phone would: its text, its QR
code, and the Chinese font it carries so it reads the same where no Chinese font is
installed. No database."""

import dataclasses
import datetime
import io
from decimal import Decimal

import pytest
import zxingcpp
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics

from billing.einvoices.pdf import FONT, InvoiceDocument, capital_amount, invoice_pdf

ITEMS = [
    ("挂号", Decimal("12.00")),
    ("诊查", Decimal("25.00")),
    ("化验", Decimal("186.50")),
    ("影像检查", Decimal("320.00")),
    ("药品", Decimal("458.73")),
    ("治疗", Decimal("90.00")),
    ("医用材料", Decimal("35.20")),
]


def blue() -> InvoiceDocument:
    return InvoiceDocument(
        red=False,
        code="33060126",
        number="0000012345",
        check_code="a1b2c3",
        issued_on=datetime.date(2026, 11, 2),
        payer_name="张晓梅",
        payer_id_masked="330***********1234",
        institution="绍兴市第一人民医院",
        business_number="YD0000012345",
        items=ITEMS,
        total=Decimal("1127.43"),
        insurance_fund=Decimal("700.00"),
        personal_account=Decimal("150.00"),
        self_pay=Decimal("277.43"),
        qr_content="33060126,0000012345,a1b2c3,20261102,1127.43",
    )


def red() -> InvoiceDocument:
    """The reversal of the blue invoice's registration, consultation and lab test."""
    return InvoiceDocument(
        red=True,
        code="33060126",
        number="0000012399",
        check_code="9f8e7d",
        issued_on=datetime.date(2026, 11, 5),
        payer_name="张晓梅",
        payer_id_masked="330***********1234",
        institution="绍兴市第一人民医院",
        business_number="YD0000012345",
        items=[(name, -amount) for name, amount in ITEMS[:3]],
        total=Decimal("-223.50"),
        insurance_fund=Decimal("-100.00"),
        personal_account=Decimal("-23.50"),
        self_pay=Decimal("-100.00"),
        original_number="0000012345",
        qr_content="33060126,0000012399,9f8e7d,20261105,-223.50",
    )


def page(document: InvoiceDocument):
    reader = PdfReader(io.BytesIO(invoice_pdf(document)))
    assert len(reader.pages) == 1
    return reader.pages[0]


def text(document: InvoiceDocument) -> str:
    """The page's text with no whitespace: where a line breaks is the reader's business."""
    return "".join(page(document).extract_text().split())


def test_blue_invoice_shows_the_invoice_its_payer_and_its_amounts():
    shown = text(blue())
    for expected in [
        "医疗收费电子票据",
        "票据代码：33060126",
        "票据号码：0000012345",
        "校验码：a1b2c3",
        "开票日期：2026-11-02",
        "交款人：张晓梅",
        "证件号码：330***********1234",
        "收款单位（章）：绍兴市第一人民医院",
        "业务流水号：YD0000012345",
        "金额合计（大写）壹仟壹佰贰拾柒元肆角叁分",
        "¥1127.43",
        "医保统筹基金支付：700.00",
        "个人账户支付：150.00",
        "个人现金支付：277.43",
    ]:
        assert expected in shown
    for name, amount in ITEMS:
        assert f"{name}{amount}" in shown
    assert "红字" not in shown
    assert "原票据号码" not in shown


def test_red_invoice_is_marked_names_the_original_and_shows_negative_amounts():
    shown = text(red())
    for expected in [
        "医疗收费电子票据",
        "红字",
        "冲红",
        "票据号码：0000012399",
        "原票据号码：0000012345",
        "挂号-12.00",
        "诊查-25.00",
        "化验-186.50",
        "负贰佰贰拾叁元伍角整",
        "¥-223.50",
        "医保统筹基金支付：-100.00",
        "个人账户支付：-23.50",
        "个人现金支付：-100.00",
    ]:
        assert expected in shown
    assert "影像检查" not in shown


@pytest.mark.parametrize("document", [blue(), red()], ids=["blue", "red"])
def test_qr_code_decodes_to_the_check_data(document):
    images = page(document).images
    assert len(images) == 1
    [found] = zxingcpp.read_barcodes(images[0].image)
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    assert found.text == document.qr_content
    assert found.ec_level in {"M", "Q", "H"}


@pytest.mark.parametrize("document", [blue(), red()], ids=["blue", "red"])
def test_chinese_font_is_embedded_and_has_every_glyph_shown(document):
    fonts = [font.get_object() for font in page(document)["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        # A subset ("ABCDEF+Name") of the TrueType font, its outlines in the file: no font
        # of the reader's machine is needed, and none is named that would be.
        assert font["/Subtype"] == "/TrueType"
        assert font["/BaseFont"].split("+")[1].startswith("WenQuanYiMicroHei")
        assert "/FontFile2" in font["/FontDescriptor"].get_object()
    # A character the font lacks would print as an empty box, and still extract as text.
    glyphs = pdfmetrics.getFont(FONT).face.charToGlyph
    assert [c for c in text(document) if ord(c) not in glyphs] == []


def test_page_is_a5_landscape_and_the_same_document_gives_the_same_bytes():
    box = page(blue()).mediabox
    assert (round(box.width), round(box.height)) == (595, 420)
    assert invoice_pdf(blue()) == invoice_pdf(blue())


def test_no_qr_code_without_check_data():
    document = dataclasses.replace(blue(), qr_content="")
    assert len(page(document).images) == 0


def test_too_many_categories_for_one_page_are_refused():
    items = [(f"类别{i}", Decimal("1.00")) for i in range(20)]
    with pytest.raises(ValueError, match="20 categories"):
        invoice_pdf(dataclasses.replace(blue(), items=items))


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0.00", "零元整"),
        ("0.05", "伍分"),
        ("0.50", "伍角整"),
        ("10.00", "壹拾元整"),
        ("12.30", "壹拾贰元叁角整"),
        ("1005.30", "壹仟零伍元叁角整"),
        ("1000.05", "壹仟元零伍分"),
        ("100010.00", "壹拾万零壹拾元整"),
        ("10001.00", "壹万零壹元整"),
        ("200000000.00", "贰亿元整"),
        ("100000001.01", "壹亿零壹元零壹分"),
        ("-223.50", "负贰佰贰拾叁元伍角整"),
    ],
)
def test_capital_amount(amount, words):
    assert capital_amount(Decimal(amount)) == words
