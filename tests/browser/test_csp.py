"""The Content-Security-Policy in a real browser: every main page, reached by a full load and by htmx's boosted
navigation, runs without one CSP violation (console or securitypolicyviolation event); the router graphs draw,
print pages print through app.js; desktop and phone screenshots go to test-artifacts/."""
from __future__ import annotations

import os
import re

import pytest

from isp.extensions import db
from isp.models import Customer, Invoice, Payment, Subscription
from isp.services import billing, lifecycle
from tests.billing.conftest import bill  # noqa: F401  (fixture)
from tests.browser.conftest import ARTIFACTS, log_in
from tests.browser.test_router_monitoring import _poll

pytestmark = pytest.mark.browser

WATCH = """() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
  });
}"""
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2}


class Watch:
    """Console errors and CSP violation events of one page, across its navigations."""

    def __init__(self, page):
        self.page, self.console, self.events = page, [], []
        page.add_init_script(WATCH.join(("(", ")()")))
        page.on("console", lambda msg: self.console.append(msg.text) if msg.type in ("error", "warning") else None)
        page.on("pageerror", lambda err: self.console.append(f"page error: {err}"))

    def collect(self, where: str) -> None:
        """Move this document's violation events into the record (a full load starts a new list)."""
        try:
            events = self.page.evaluate("window.__csp || []")
            self.page.evaluate("window.__csp = []")
        except Exception:  # noqa: BLE001  (a print dialog or navigation in flight: the next collect picks it up)
            events = []
        self.events.extend(f"{where}: {e}" for e in events)

    def violations(self) -> list[str]:
        csp = [m for m in self.console if re.search(r"Content.Security.Policy|Refused to (execute|apply|load)", m, re.I)]
        htmx = [m for m in self.console if "evalDisallowed" in m or "htmx:" in m and "Error" in m]
        return csp + htmx + self.events


def _world(app, make_user, make_router, make_plan, generate, sim, bill):  # noqa: F811
    """An admin, a polled router with graphs, a voucher batch, a customer with an invoice and a receipt."""
    admin = make_user("admin", username="csp-admin")
    router = make_router(sim.routers[0], name="gw-csp")
    _poll(app, router.id)
    plan = make_plan([router.id], name="Day pass", price="50.00")
    batch_id = generate(admin.id, plan.id, 4)
    service_plan = bill.plan("3000.00", "day", 30)
    customer_id = bill.customer("Amina Wanjiru")
    sub_id = bill.service(customer_id, service_plan, state="pending")
    with app.app_context():
        lifecycle.start(db.session.get(Subscription, sub_id), bill.user())
        db.session.commit()
        billing.record_payment(db.session.get(Customer, customer_id), "3000.00", "cash", "R-1", "", bill.user())
        db.session.commit()
        invoice_id = db.session.scalar(db.select(Invoice.id).where(Invoice.customer_id == customer_id))
        payment_id = db.session.scalar(db.select(Payment.id).where(Payment.customer_id == customer_id))
    return {"router": router.id, "batch": batch_id, "customer": customer_id, "invoice": invoice_id,
            "payment": payment_id}


def _visit(page, watch, url: str, name: str | None = None) -> None:
    response = page.goto(url)
    assert response is not None and response.status < 400, f"{url}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    watch.collect(url)
    if name:
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, name), full_page=True)


def test_no_csp_violation_on_any_main_page(live_server, browser, app, sim, make_user, make_router, make_plan,
                                           generate, bill):  # noqa: F811
    ids = _world(app, make_user, make_router, make_plan, generate, sim, bill)
    for size, options in (("desktop", {"viewport": {"width": 1280, "height": 800}}), ("phone", PHONE)):
        context = browser.new_context(**options)
        try:
            page = context.new_page()
            watch = Watch(page)
            log_in(page, live_server, "csp-admin")
            watch.collect("login")
            nav = page.eval_on_selector_all(".sidebar a.nav-link", "links => links.map(a => a.getAttribute('href'))")
            assert len(nav) >= 8, nav
            extra = [f"/routers/{ids['router']}", f"/customers/{ids['customer']}", f"/vouchers/batches/{ids['batch']}",
                     "/settings/", f"/routers/{ids['router']}/onboarding"]
            for path in nav + extra:
                slug = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()) or "dashboard"
                _visit(page, watch, live_server + path, f"csp-{slug}-{size}.png" if size == "desktop" or path in
                       ("/", f"/routers/{ids['router']}") else None)

            # The router page draws its charts (uPlot under the CSP) after a full load ...
            _visit(page, watch, f"{live_server}/routers/{ids['router']}", f"csp-router-graphs-{size}.png")
            page.wait_for_selector("[data-chart=system] canvas", state="attached", timeout=10000)
            # ... and after htmx's boosted navigation, which runs no swapped-in <script>: app.js loads the chart files.
            page.goto(live_server + "/routers/")
            page.click(f"a[href='/routers/{ids['router']}']")
            page.wait_for_url(f"{live_server}/routers/{ids['router']}")
            page.wait_for_selector("[data-chart=system] canvas", state="attached", timeout=10000)
            assert page.evaluate("typeof window.htmx") == "object"
            watch.collect("boosted router page")

            # Print pages: no inline handler; the button prints through app.js.
            for path, name in ((f"/vouchers/batches/{ids['batch']}/print", "voucher-print"),
                               (f"/billing/invoices/{ids['invoice']}", "invoice-print"),
                               (f"/billing/payments/{ids['payment']}/receipt", "receipt-print")):
                _visit(page, watch, live_server + path, f"csp-{name}-{size}.png")
                page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
                page.click("button[data-print]")
                assert page.evaluate("window.__printed") == 1, path
                watch.collect(path + " print")

            # Boosted navigation through the sidebar (hamburger first on a phone) keeps working.
            page.goto(live_server + "/")
            if size == "phone":
                page.click(".hamburger")
                page.wait_for_timeout(300)
            page.click(".sidebar a.nav-link[href='/vouchers/']")
            page.wait_for_url(live_server + "/vouchers/")
            page.fill("input[name=q]", "zz")
            page.wait_for_timeout(600)  # the active search swaps the results through htmx
            watch.collect("boosted vouchers and search")
            assert watch.violations() == [], watch.violations()
            assert watch.console == [], watch.console  # no other error or warning either
        finally:
            context.close()
