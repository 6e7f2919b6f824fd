"""A voucher's page and card: limits worded so they cannot be misread, actions apart from the history."""
from __future__ import annotations

import re

import pytest


def _text(html: str) -> str:
    """The visible words of a fragment: tags dropped, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


@pytest.mark.parametrize("template", ["a4-qr", "thermal-80"])
def test_the_card_says_valid_and_of_use(app, client, auth, make_router, make_plan, generate, template):
    admin = auth.login_as("admin")
    router = make_router()
    plan = make_plan([router.id], name="Hour pass", validity="1d", time_quota="20m", data_quota="200M")
    batch_id = generate(admin.id, plan.id, 1)
    html = client.get(f"/vouchers/batches/{batch_id}/print?template={template}").get_data(as_text=True)
    limits = re.search(r'<span class="limits">(.*?)</span>\s*</div>', html, re.S).group(1)
    # Each limit is a span (print.css puts " · " between them); the long form (.l) is what these templates show.
    long_form = re.sub(r'<span class="s">.*?</span>', "", limits)
    parts = [_text(p) for p in re.split(r'<span class="(?:validity|quota)">', long_form) if _text(p)]
    assert parts == ["Valid 1 day", "20 min of use", "200 MiB data"]
    assert "online" not in _text(limits)


def test_actions_sit_in_their_own_card(app, client, auth, make_router, make_plan, generate):
    admin = auth.login_as("admin")
    router = make_router()
    plan = make_plan([router.id])
    batch_id = generate(admin.id, plan.id, 1)
    page = client.get(f"/vouchers/batches/{batch_id}").get_data(as_text=True)
    voucher_url = re.search(r'href="(/vouchers/\d+)"', page).group(1)
    html = client.get(voucher_url).get_data(as_text=True)
    sections = re.findall(r'<section class="panel"[^>]*>.*?</section>', html, re.S)
    history = next(s for s in sections if "<h2>History</h2>" in s)
    actions = next(s for s in sections if "<h2>Actions</h2>" in s)
    assert 'name="action"' in actions and 'name="action"' not in history
