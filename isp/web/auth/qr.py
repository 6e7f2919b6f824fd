"""QR codes for enrolment as inline SVG (no script, no data: image, so a strict CSP allows it)."""
from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str) -> Markup:
    """An inline <svg> QR code of text, sized for a phone camera on screen."""
    return Markup(segno.make(text, error="m").svg_inline(scale=5, border=2, dark="#111827", light="#ffffff"))
