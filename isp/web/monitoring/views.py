"""Views of the pool monitor; its live block is polled by htmx (staff only, pool reset for admins)."""
from __future__ import annotations

from collections.abc import Callable

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import RouterCommand
from isp.services import outbox, pool_monitor, routers
from isp.services.errors import ServiceError
from isp.web.forms import submit
from isp.web.monitoring import bp
from isp.web.render import render
from isp.web.routers.reads import CIRCUIT_BADGE
from isp.web.security import STAFF, is_htmx, role_required

LIVE, DEAD = "live", "dead-letters"  # ids of the two panels htmx refreshes on their own


def _live() -> dict:
    """Everything the live panel shows."""
    return {"rows": pool_monitor.router_rows(), "depths": pool_monitor.queue_depths(),
            "workers": pool_monitor.workers(), "badges": CIRCUIT_BADGE, "problems": pool_monitor.job_problems()}


@bp.route("/")
@role_required(*STAFF)
def index():
    """The monitor page; htmx polls its live block and pages its dead-letter block."""
    target = request.headers.get("HX-Target") if is_htmx() else None
    ctx = _live() if target != DEAD else {}
    if target != LIVE:
        ctx["dead"] = pool_monitor.dead_letters_page(current_app.config["PAGE_SIZE"])
    return render("monitoring/index.html", block="dead_letters" if target == DEAD else "live", **ctx)


def _command_action(command_id: int, action: Callable[[RouterCommand], str | None], success: str):
    """Run an outbox action on a dead command, commit once, and go back to the monitor."""
    command = db.get_or_404(RouterCommand, command_id)

    def work() -> str:
        try:
            return action(command) or success.format(id=command_id)
        except ValueError as err:  # the outbox refuses a command that is not (or no longer) dead
            raise ServiceError(f"Command #{command_id}: {err}.") from None

    message = submit(None, work)
    if message is not None:
        flash(message, "success")
    return redirect(url_for("monitoring.index"))


def _retry(command: RouterCommand) -> str | None:
    """Retry a dead command; say so when a newer one for the same item took its place."""
    current = outbox.retry_dead(command, current_user)
    if current.id != command.id:
        return f"Command #{command.id} was superseded by #{current.id}, which is still queued; #{command.id} is discarded."
    return None


@bp.route("/commands/<int:command_id>/retry", methods=["POST"])
@role_required(*STAFF)
def retry(command_id: int):
    """Give a dead command a fresh set of attempts."""
    return _command_action(command_id, _retry, "Command #{id} is queued again.")


@bp.route("/commands/<int:command_id>/discard", methods=["POST"])
@role_required(*STAFF)
def discard(command_id: int):
    """Give up on a dead command."""
    reason = f"discarded by {current_user.username}"
    return _command_action(command_id, lambda c: outbox.discard(c, reason, current_user), "Command #{id} is discarded.")


@bp.route("/reset-pool", methods=["POST"])
@role_required("admin")
def reset_pool():
    """Make every worker drop its router connections and close every circuit."""
    generation = submit(None, lambda: routers.reset_pool(current_user))
    if generation is not None:
        flash(f"Pool reset (generation {generation}): workers reconnect on their next command; every circuit is closed.",
              "success")
    return redirect(url_for("monitoring.index"))
