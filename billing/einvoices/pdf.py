"""The printed medical e-invoice (医疗收费电子票据): one A5 landscape page laid out as the
province's invoices are, made from an ``InvoiceDocument``. Pure: no database, and the same
document gives the same bytes.

The Chinese is set in WenQuanYi Micro Hei (文泉驿微米黑, Apache-2.0), which the project
installs from PyPI (``paperang-p2-fonts-cjk``, the same file Debian ships). It has TrueType
outlines, so ReportLab subsets and embeds it and the PDF reads the same on a machine with no
Chinese font; ReportLab cannot embed the CFF outlines of the Noto CJK / Source Han OTFs.
"""

import datetime
import functools
import io
import math
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas


@dataclass(frozen=True)
class InvoiceDocument:
    red: bool  # a red-letter reversal (红字) of `original_number`
    code: str  # 票据代码, e.g. "33060126"
    number: str  # 票据号码, e.g. "0000012345"
    check_code: str  # 校验码, e.g. "a1b2c3"
    issued_on: datetime.date  # 开票日期
    payer_name: str  # 交款人
    payer_id_masked: str  # e.g. "330***********1234"
    institution: str  # 收款单位 (the hospital's name)
    business_number: str  # our own invoice number "YD" + 10 digits (业务流水号)
    items: list[tuple[str, Decimal]]  # (category name in Chinese, amount), grouped by category
    total: Decimal
    insurance_fund: Decimal  # 医保统筹基金支付
    personal_account: Decimal  # 个人账户支付
    self_pay: Decimal  # 个人现金支付
    original_number: str = ""  # for red: the number of the invoice it reverses
    qr_content: str = ""  # the check data the QR code carries


TITLE = "医疗收费电子票据"
FONT = "WenQuanYiMicroHei"
PAGE_WIDTH, PAGE_HEIGHT = landscape(A5)
MARGIN = 10 * mm
INK = colors.HexColor("#1f3a5f")  # the form: its lines and labels
RED = colors.HexColor("#c8161d")
NOTE = colors.HexColor("#6b7280")

# The items table: category and amount twice across, filled down the left pair first. Ten
# categories (all of ``ChargeCategory``) fit in the five rows it always has; more rows
# share the same height.
ITEM_ROWS = 5
ITEMS_HEIGHT = 35 * mm
MIN_ITEM_ROW = 4 * mm

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ["", "拾", "佰", "仟"]
GROUPS = ["", "万", "亿", "万亿"]


@functools.cache
def _font() -> str:
    """Registers the Chinese font with ReportLab, once per process (parsing it takes a
    moment), and returns its name."""
    fonts = resources.files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"
    with resources.as_file(fonts) as path:
        # Subfont 0 of the collection is the proportional face (1 is the monospaced one).
        pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))
    return FONT


def capital_amount(amount: Decimal) -> str:
    """The amount in capital numerals (大写), as written on Chinese financial documents:
    Decimal("1005.30") is 壹仟零伍元叁角整, a negative amount starts with 负."""
    cents = int((abs(amount) * 100).to_integral_value())
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    words = []
    digits = str(yuan)
    zero = False  # zeros skipped since the last digit written: one 零 stands for them all
    for i, digit in enumerate(digits):
        place = len(digits) - 1 - i
        if digit == "0":
            zero = True
        else:
            if zero and words:
                words.append("零")
            zero = False
            words.append(DIGITS[int(digit)] + PLACES[place % 4])
        if place % 4 == 0 and place and int(digits[max(i - 3, 0) : i + 1]):
            words.append(GROUPS[place // 4])
    if yuan:
        words.append("元")
    if jiao:
        words.append(DIGITS[jiao] + "角")
    if fen:
        words.append(("零" if yuan and not jiao else "") + DIGITS[fen] + "分")
    elif yuan or jiao:
        words.append("整")
    else:
        words.append("零元整")
    return ("负" if amount < 0 else "") + "".join(words)


def _yuan(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _fitted(text: str, size: float, width: float) -> float:
    """The font size, at most ``size``, at which ``text`` fits in ``width``: a long hospital
    name shrinks rather than runs over the next field."""
    natural = pdfmetrics.stringWidth(text, FONT, size)
    return size if natural <= width else max(size * width / natural, 5)


def _text(
    canvas: Canvas,
    x: float,
    y: float,
    text: str,
    *,
    size: float = 9,
    color: colors.Color = colors.black,
    width: float | None = None,
    align: str = "left",
) -> float:
    """Draws ``text`` at baseline ``y``, fitted to ``width`` when given; returns its width."""
    if width is not None:
        size = _fitted(text, size, width)
    canvas.setFont(FONT, size)
    canvas.setFillColor(color)
    if align == "right":
        canvas.drawRightString(x, y, text)
    elif align == "centre":
        canvas.drawCentredString(x, y, text)
    else:
        canvas.drawString(x, y, text)
    return pdfmetrics.stringWidth(text, FONT, size)


def _field(
    canvas: Canvas, x: float, y: float, label: str, value: str, width: float, size: float = 9
) -> None:
    """A printed label and the value written after it, the value fitted to what is left."""
    used = _text(canvas, x, y, f"{label}：", size=size, color=INK)
    _text(canvas, x + used, y, value, size=size, width=width - used)


def _baseline(top: float, height: float, size: float = 9) -> float:
    """The baseline that centres a line of ``size`` points in a row."""
    return top - height / 2 - size * 0.35


def _header(canvas: Canvas, document: InvoiceDocument) -> None:
    title_color = RED if document.red else INK
    title_y = PAGE_HEIGHT - 24 * mm
    # The title's spacing and outline are text state that would outlive it: kept to it.
    canvas.saveState()
    canvas.setFillColor(title_color)
    canvas.setStrokeColor(title_color)
    title = canvas.beginText()
    title.setFont(FONT, 20)
    title.setCharSpace(4)
    title.setTextRenderMode(2)  # filled and outlined: the font has no bold face
    canvas.setLineWidth(0.5)
    width = pdfmetrics.stringWidth(TITLE, FONT, 20) + 4 * (len(TITLE) - 1)
    title.setTextOrigin((PAGE_WIDTH - width) / 2, title_y)
    title.textOut(TITLE)
    canvas.drawText(title)
    canvas.restoreState()
    # The double rule under the title, as on the printed forms.
    left, right = (PAGE_WIDTH - width) / 2 - 4 * mm, (PAGE_WIDTH + width) / 2 + 4 * mm
    canvas.setStrokeColor(title_color)
    canvas.setLineWidth(0.8)
    canvas.line(left, title_y - 3 * mm, right, title_y - 3 * mm)
    canvas.setLineWidth(0.4)
    canvas.line(left, title_y - 3.8 * mm, right, title_y - 3.8 * mm)
    if document.red:
        mark_y = title_y - 11 * mm
        canvas.setStrokeColor(RED)
        canvas.setLineWidth(0.8)
        canvas.roundRect(PAGE_WIDTH / 2 - 16 * mm, mark_y - 2 * mm, 32 * mm, 7 * mm, 1.5 * mm)
        _text(canvas, PAGE_WIDTH / 2, mark_y, "红字 · 冲红", size=11, color=RED, align="centre")

    fields = [
        ("票据代码", document.code),
        ("票据号码", document.number),
        ("校验码", document.check_code),
        ("开票日期", document.issued_on.strftime("%Y-%m-%d")),
    ]
    if document.red:
        fields.append(("原票据号码", document.original_number))
    x = PAGE_WIDTH - MARGIN - 50 * mm
    for row, (label, value) in enumerate(fields):
        _field(canvas, x, PAGE_HEIGHT - 13 * mm - row * 4.6 * mm, label, value, 50 * mm)

    if document.qr_content:  # nothing to check yet: no code rather than an empty one
        # Error correction M (segno raises it when the symbol has room), a quiet zone of 4.
        qr = segno.make(document.qr_content, error="m", micro=False)
        png = io.BytesIO()
        qr.save(png, kind="png", scale=4, border=4)
        png.seek(0)
        size = 26 * mm
        canvas.drawImage(
            ImageReader(png), MARGIN - 2 * mm, PAGE_HEIGHT - MARGIN - size + 2 * mm, size, size
        )


def _body(canvas: Canvas, document: InvoiceDocument) -> float:
    """The framed table: payer, items, total, the split of who paid, remarks. Returns the
    bottom of the frame."""
    left, right = MARGIN, PAGE_WIDTH - MARGIN
    width = right - left
    top = PAGE_HEIGHT - 40 * mm
    rows = max(ITEM_ROWS, math.ceil(len(document.items) / 2))
    item_row = ITEMS_HEIGHT / rows
    if item_row < MIN_ITEM_ROW:
        raise ValueError(f"{len(document.items)} categories do not fit on one invoice page")
    heights = [9 * mm, 7 * mm, ITEMS_HEIGHT, 9 * mm, 9 * mm, 10 * mm]
    tops = [top - sum(heights[:i]) for i in range(len(heights) + 1)]
    bottom = tops[-1]

    canvas.setStrokeColor(INK)
    canvas.setLineWidth(1)
    canvas.rect(left, bottom, width, top - bottom)
    canvas.setLineWidth(0.5)
    for y in tops[1:-1]:
        canvas.line(left, y, right, y)

    # Payer.
    third = width / 3
    y = _baseline(tops[0], heights[0])
    pad = 2 * mm
    _field(canvas, left + pad, y, "交款人", document.payer_name, third - 2 * pad)
    _field(canvas, left + third + pad, y, "证件号码", document.payer_id_masked, third - 2 * pad)
    _field(canvas, left + 2 * third + pad, y, "业务流水号", document.business_number, third - pad)
    canvas.line(left + third, tops[0], left + third, tops[1])
    canvas.line(left + 2 * third, tops[0], left + 2 * third, tops[1])

    # Items: two pairs of columns, name and amount.
    name_width, amount_width = width * 0.32, width * 0.18
    columns = [left, left + name_width, left + width / 2, left + width / 2 + name_width, right]
    for x in columns[1:-1]:
        canvas.setLineWidth(1 if x == left + width / 2 else 0.5)
        canvas.line(x, tops[1], x, tops[3])
    canvas.setLineWidth(0.3)
    for row in range(1, rows):
        y = tops[2] - row * item_row
        canvas.line(left, y, right, y)
    y = _baseline(tops[1], heights[1])
    for pair in (0, 2):
        _text(canvas, columns[pair] + name_width / 2, y, "项目名称", color=INK, align="centre")
        _text(
            canvas, columns[pair + 1] + amount_width / 2, y, "金额（元）", color=INK, align="centre"
        )
    size = min(9, item_row * 0.55)
    for index, (name, amount) in enumerate(document.items):
        pair, row = divmod(index, rows)
        y = _baseline(tops[2] - row * item_row, item_row, size)
        x = columns[pair * 2]
        _text(canvas, x + pad, y, name, size=size, width=name_width - 2 * pad)
        _text(
            canvas, x + name_width + amount_width - pad, y, _yuan(amount), size=size, align="right"
        )

    # Total, in capitals and in figures.
    y = _baseline(tops[3], heights[3])
    _text(canvas, left + pad, y, "金额合计（大写）", color=INK)
    canvas.line(left + 32 * mm, tops[3], left + 32 * mm, tops[4])
    _text(canvas, left + 35 * mm, y, capital_amount(document.total), size=10)
    figures = f"¥{_yuan(document.total)}"
    used = _text(canvas, right - pad, y, figures, size=10, align="right")
    _text(canvas, right - pad - used, y, "（小写）", color=INK, align="right")

    # Who paid: the insurance fund, the personal account, the patient in cash.
    y = _baseline(tops[4], heights[4])
    for i, (label, amount) in enumerate(
        [
            ("医保统筹基金支付", document.insurance_fund),
            ("个人账户支付", document.personal_account),
            ("个人现金支付", document.self_pay),
        ]
    ):
        _field(canvas, left + i * third + pad, y, label, _yuan(amount), third - 2 * pad)
        if i:
            canvas.line(left + i * third, tops[4], left + i * third, tops[5])

    # Remarks: a red invoice names the invoice it reverses.
    y = _baseline(tops[5], heights[5])
    _text(canvas, left + pad, y, "备注", color=INK)
    canvas.line(left + 14 * mm, tops[5], left + 14 * mm, tops[6])
    if document.red:
        # Only the number: the original may be of another 票据代码 (a new year's range).
        note = f"本票据为票据号码 {document.original_number} 的红字冲红票据"
        _text(canvas, left + 17 * mm, y, note, color=RED, width=width - 19 * mm)
    return bottom


def invoice_pdf(document: InvoiceDocument) -> bytes:
    """The invoice as a one-page PDF, its Chinese font embedded."""
    _font()
    out = io.BytesIO()
    # invariant: no creation date or random file id, so the same document is the same bytes;
    # the initial font keeps ReportLab's default Helvetica (not embedded) out of the file.
    canvas = Canvas(
        out,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        invariant=True,
        initialFontName=FONT,
        initialFontSize=9,
    )
    canvas.setTitle(f"{TITLE} {document.code} {document.number}")
    canvas.setAuthor(document.institution)
    canvas.setSubject("红字票据" if document.red else TITLE)

    _header(canvas, document)
    bottom = _body(canvas, document)
    _field(canvas, MARGIN, bottom - 7 * mm, "收款单位（章）", document.institution, 120 * mm)
    _text(
        canvas,
        PAGE_WIDTH / 2,
        MARGIN,
        "本票据由财政电子票据平台开具，可扫描二维码或凭票据代码、票据号码、校验码查验真伪",
        size=7,
        color=NOTE,
        align="centre",
    )
    canvas.showPage()
    canvas.save()
    return out.getvalue()
