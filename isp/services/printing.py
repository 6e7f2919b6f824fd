"""Printable voucher cards: four paper templates, price and term labels, and QR codes that log in.

QR codes are rendered server-side as inline SVG with segno. Each one encodes
``http://<router.hotspot_dns>/login?username=<code>&password=<password>``, the MikroTik hotspot login
that works from a phone camera. A router without a hotspot DNS name falls back to its first management
address (``PrintJob.host_configured`` is then False and the page warns on screen): the code still logs in
when that address is the hotspot's own, and the warning tells the operator how to make it right.

segno spends 6-12 ms per code (mostly choosing the best mask, which we keep for scan reliability), so a
10,000-voucher batch would take a minute or more and make a 20 MB page that a browser struggles to print.
Batches therefore print in chunks: each template prints a whole number of sheets per page
(``PrintTemplate.chunk``: 480 QR cards are 20 A4 sheets and three to six seconds of work), and the page
links to the next chunk.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

import segno
from markupsafe import Markup
from sqlalchemy import func, select

from isp.extensions import db
from isp.models import Router, Voucher, VoucherBatch, VoucherMode, VoucherState
from isp.services.errors import ServiceError
from isp.units import format_bytes, with_currency


@dataclass(frozen=True)
class PrintTemplate:
    """A paper layout: how many cards fit on one sheet, and how many print per page."""

    name: str
    label: str
    qr: bool
    per_sheet: int
    chunk: int


TEMPLATES = {t.name: t for t in (
    PrintTemplate("a4-qr", "A4 with QR", qr=True, per_sheet=24, chunk=480),              # 3 × 8, 20 sheets
    PrintTemplate("a4-compact", "A4 compact", qr=False, per_sheet=52, chunk=1040),       # 4 × 13, 20 sheets
    PrintTemplate("thermal-58", "Thermal 58 mm", qr=True, per_sheet=1, chunk=200),       # one ticket per cut
    PrintTemplate("thermal-80", "Thermal 80 mm", qr=True, per_sheet=1, chunk=200),
)}
DEFAULT_TEMPLATE = "a4-qr"


@dataclass(frozen=True)
class Terms:
    """What every card of a print job promises, as printed labels."""

    plan_name: str
    price: str
    validity: str
    time_quota: str | None
    data_quota: str | None
    validity_short: str = ""
    time_quota_short: str | None = None


@dataclass(frozen=True)
class Card:
    """One printed voucher; password is None in code mode (the code is also the password)."""

    id: int
    code: str
    password: str | None
    qr: Markup | None


@dataclass(frozen=True)
class PrintJob:
    """Everything a print page shows."""

    template: PrintTemplate
    batch: VoucherBatch
    terms: Terms
    cards: list[Card]
    host: str
    host_configured: bool
    page: int = 1
    pages: int = 1
    total: int = 1
    first: int = 1

    @property
    def last(self) -> int:
        """The position of the last card of this page in the batch."""
        return self.first + len(self.cards) - 1

    def page_for(self, template: PrintTemplate) -> int:
        """The page of another template that starts with (or contains) this page's first card."""
        return (self.first - 1) // template.chunk + 1


def template(name: str | None) -> PrintTemplate:
    """The named print template (the default when blank)."""
    chosen = TEMPLATES.get(name or DEFAULT_TEMPLATE)
    if chosen is None:
        names = ", ".join(TEMPLATES)
        raise ServiceError(f"There is no print template '{name}'. Choose one of: {names}.", field="template")
    return chosen


_UNITS = ((86400, "day", "d"), (3600, "hour", "h"), (60, "min", "m"), (1, "s", "s"))


def _parts(seconds: int | None) -> list[tuple[int, str, str]]:
    """The two largest neighbouring units of a duration: 1d 12h, never 1d 5s (weeks only when exact)."""
    left = int(seconds or 0)
    if left and left % 604800 == 0:
        return [(left // 604800, "week", "w")]
    parts: list[tuple[int, str, str]] = []
    for size, word, letter in _UNITS:
        if left >= size and len(parts) < 2:
            n, left = divmod(left, size)
            parts.append((n, word, letter))
        elif parts:
            break
    return parts


def duration_label(seconds: int | None) -> str:
    """Seconds as words for a customer: '30 days', '1 day 12 hours', '1 hour 30 min', '2 weeks'."""
    words = [f"{n} {word}" + ("s" if n > 1 and word in ("week", "day", "hour") else "") for n, word, _ in _parts(seconds)]
    return " ".join(words) or "0 s"


def duration_short(seconds: int | None) -> str:
    """The same in the short form the tightest cards use: '30d', '1d 12h', '1h 30m', '2w'."""
    return " ".join(f"{n}{letter}" for n, _, letter in _parts(seconds)) or "0s"


def price_label(amount: Decimal | None, currency: str) -> str:
    """A face price: '$5', 'KES 50', 'KES 12.50', 'Free'; a symbol sticks to the amount, a code is spaced."""
    amount = Decimal(amount or 0)
    if amount == 0:
        return "Free"
    text = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return with_currency(text, currency)


def hotspot_host(router: Router) -> tuple[str, bool]:
    """Where a phone logs in: the hotspot DNS name, else the first management address; and whether it was set."""
    if router.hotspot_dns:
        return router.hotspot_dns, True
    return (router.addresses or ["192.168.88.1"])[0], False


def login_url(host: str, code: str, password: str) -> str:
    """The hotspot login URL a QR code opens, with the credentials URL-encoded."""
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}/login?" + urlencode({"username": code, "password": password})


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (sized by CSS through its viewBox). Safe markup: segno emits only a path."""
    qr = segno.make(text, error="m", micro=False)
    return Markup(qr.svg_inline(scale=1, border=2, omitsize=True, svgclass="qr-svg", lineclass=None))


def _terms(batch: VoucherBatch, price: Decimal, validity_seconds: int, currency: str) -> Terms:
    return Terms(
        plan_name=batch.plan.name,
        price=price_label(price, currency),
        validity=duration_label(validity_seconds),
        time_quota=duration_label(batch.time_quota_seconds) if batch.time_quota_seconds else None,
        data_quota=format_bytes(batch.data_quota_bytes) if batch.data_quota_bytes else None,
        validity_short=duration_short(validity_seconds),
        time_quota_short=duration_short(batch.time_quota_seconds) if batch.time_quota_seconds else None,
    )


def _card(tpl: PrintTemplate, host: str, mode: VoucherMode, voucher_id: int, code: str, password: str) -> Card:
    qr = qr_svg(login_url(host, code, password)) if tpl.qr else None
    return Card(id=voucher_id, code=code, password=password if mode == VoucherMode.userpass else None, qr=qr)


def batch_job(batch: VoucherBatch, tpl: PrintTemplate, page: int, currency: str) -> PrintJob:
    """One page of a batch's printable vouchers (deleted ones left out), in id order."""
    live = (Voucher.batch_id == batch.id, Voucher.state != VoucherState.deleted)
    total = db.session.scalar(select(func.count()).select_from(Voucher).where(*live)) or 0
    pages = max(1, -(-total // tpl.chunk))
    page = min(max(1, page), pages)
    offset = (page - 1) * tpl.chunk
    # Plain columns: the Voucher entity would join its batch, plan and router on every row.
    rows = db.session.execute(select(Voucher.id, Voucher.code, Voucher.password, Voucher.price, Voucher.validity_seconds)
                              .where(*live).order_by(Voucher.id).offset(offset).limit(tpl.chunk)).all()
    host, configured = hotspot_host(batch.router)
    price, validity = (rows[0].price, rows[0].validity_seconds) if rows else (batch.price, batch.validity_seconds)
    return PrintJob(template=tpl, batch=batch, terms=_terms(batch, price, validity, currency),
                    cards=[_card(tpl, host, batch.mode, r.id, r.code, r.password) for r in rows],
                    host=host, host_configured=configured, page=page, pages=pages, total=total, first=offset + 1)


def voucher_job(voucher: Voucher, tpl: PrintTemplate, currency: str) -> PrintJob:
    """A single voucher's card, for a reprint; a deleted voucher cannot log in, so it is refused."""
    if voucher.state == VoucherState.deleted:
        raise ServiceError(f"Voucher {voucher.code} was deleted and can no longer log in; there is nothing to print.")
    batch = voucher.batch
    host, configured = hotspot_host(voucher.router)
    return PrintJob(template=tpl, batch=batch, terms=_terms(batch, voucher.price, voucher.validity_seconds, currency),
                    cards=[_card(tpl, host, batch.mode, voucher.id, voucher.code, voucher.password)],
                    host=host, host_configured=configured)
