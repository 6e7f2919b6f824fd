"""Icons are real: a vendored Lucide sprite (with its licence), referenced by the sidebar and by buttons."""
from __future__ import annotations

import pathlib
import re

from isp.web.nav import NAV

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPRITE = ROOT / "static" / "icons" / "lucide.svg"


def _symbols() -> set[str]:
    return set(re.findall(r'<symbol id="([\w-]+)" viewBox="0 0 24 24"', SPRITE.read_text()))


def test_every_icon_the_templates_and_nav_use_is_drawn_in_the_sprite():
    symbols = _symbols()
    used = {icon for *_, icon in NAV}
    for template in (ROOT / "templates").rglob("*.html"):
        used |= set(re.findall(r'icon\("([\w-]+)"\)', template.read_text()))
    assert len(used) > 20 and used <= symbols, used - symbols
    body = SPRITE.read_text()
    # Each symbol draws something: paths, circles, rects or lines, not an empty placeholder.
    assert all(re.search(rf'<symbol id="{name}"[^>]*><(path|circle|rect|line|polyline|polygon|ellipse) ', body)
               for name in symbols)
    assert "ISC License" in (SPRITE.parent / "LICENSE").read_text()


def test_sidebar_and_buttons_use_the_sprite(client, auth):
    auth.login_as("admin")
    html = client.get("/").get_data(as_text=True)
    sidebar = html[html.index('<aside class="sidebar">'):html.index("</aside>")]
    assert sidebar.count('<use href="/static/icons/lucide.svg#') >= 8
    assert '/static/icons/lucide.svg#layout-grid"' in sidebar and '/static/icons/lucide.svg#ticket"' in sidebar
    assert 'class="icon icon-' not in html  # the old empty squares are gone
    assert '/static/icons/lucide.svg#log-out"' in html  # a button
    sprite = client.get("/static/icons/lucide.svg")
    assert sprite.status_code == 200 and sprite.mimetype == "image/svg+xml"
    assert "<symbol" in sprite.get_data(as_text=True)
