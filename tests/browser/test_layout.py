"""What a new user sees on a desktop (1280 × 800) and a phone (390 × 844): real sidebar icons, and print pages whose
sheet and paper tabs are all reachable. Screenshots go to test-artifacts/ for a human to look at."""
from __future__ import annotations

import os
import re

import pytest

from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

# Every icon in the sidebar draws something: the <use> resolves into the sprite and has a non-empty box.
ICONS_DRAWN = """() => [...document.querySelectorAll('.sidebar svg.icon use')].map(u => {
  const box = u.getBBox(); return box.width > 4 && box.height > 4; })"""


def _shot(page, name: str) -> str:
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    page.screenshot(path=path)
    return path


@pytest.fixture
def contexts(browser):
    """open(size) -> a page in a fresh context of that size; all closed afterwards."""
    opened = []

    def open_page(size: str):
        context = browser.new_context(**SIZES[size])
        opened.append(context)
        return context.new_page()

    yield open_page
    for context in opened:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_dashboard_sidebar_shows_real_icons(live_server, contexts, make_user, size):
    make_user("admin", username="boss")
    page = contexts(size)
    log_in(page, live_server, "boss")
    if size == "phone":
        page.click(".hamburger")  # the sidebar is a drawer on phones
        page.wait_for_timeout(400)
    drawn = page.evaluate(ICONS_DRAWN)
    assert len(drawn) >= 8 and all(drawn), drawn
    link = page.locator(".sidebar .nav-link", has_text="Vouchers")
    assert link.is_visible() and link.bounding_box()["x"] >= 0
    _shot(page, f"sidebar-icons-{size}.png")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_print_page_sheet_and_every_paper_tab_are_reachable(live_server, contexts, app, make_user, make_router,
                                                            make_plan, generate, size):
    admin = make_user("admin", username="boss")
    router = make_router()
    plan = make_plan([router.id], name="Hour pass", price="1.00", reseller_price="0.80", validity="1d", time_quota="20m")
    batch_id = generate(admin.id, plan.id, 30)
    page = contexts(size)
    width = SIZES[size]["viewport"]["width"]
    log_in(page, live_server, "boss")
    page.goto(f"{live_server}/vouchers/batches/{batch_id}")
    page.click("[data-test=print]")
    page.wait_for_url(re.compile(r".*/print.*"))
    assert page.locator("link[href$='print.css']").count() == 1  # a full page load, not a boosted body swap
    _shot(page, f"print-a4-{size}-top.png")

    sheet = page.locator(".sheet").first
    sheet.scroll_into_view_if_needed()
    box = sheet.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box  # the whole sheet is on screen
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing hides to the side
    assert page.locator(".card").first.is_visible()
    _shot(page, f"print-a4-{size}-sheet.png")

    page.evaluate("window.scrollTo(0, 0)")
    for label in ("A4 with QR", "A4 compact", "Thermal 58 mm", "Thermal 80 mm"):
        tab = page.locator(".tb-templates a", has_text=label).bounding_box()
        assert tab["x"] >= 0 and tab["x"] + tab["width"] <= width, (label, tab)
    page.locator(".tb-templates a", has_text="Thermal 80 mm").click()
    page.wait_for_url(re.compile(r".*template=thermal-80.*"))
    assert page.locator(".tb-templates a.active").inner_text() == "Thermal 80 mm"
    ticket = page.locator(".sheet").first
    ticket.scroll_into_view_if_needed()
    box = ticket.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    _shot(page, f"print-thermal-80-{size}.png")


# Every button of a page head lies inside the screen (a row of actions wraps rather than running off it).
ACTIONS_OFFSCREEN = """() => [...document.querySelectorAll('.page-head .btn')]
  .filter(b => b.getBoundingClientRect().right > 391).map(b => b.textContent.trim())"""  # the phone is 390 px wide


@pytest.mark.parametrize("path", ["/vouchers/", "/vouchers/batches", "/routers/", "/plans/", "/settings/users/"])
def test_page_actions_stay_on_a_phone_screen(live_server, contexts, make_user, path):
    make_user("admin", username="boss")
    page = contexts("phone")
    log_in(page, live_server, "boss")
    response = page.goto(live_server + path)
    assert response.status == 200 and page.locator(".page-head .btn").count() >= 1
    assert page.evaluate(ACTIONS_OFFSCREEN) == []
    _shot(page, f"phone-{path.strip('/').replace('/', '-')}.png")
