"""Health probes for the platform's router and load balancer."""
from __future__ import annotations

from flask import jsonify

from isp.extensions import csrf
from isp.services import health
from isp.web.health import bp
from isp.web.metrics import token_or_staff
from isp.web.security import public

csrf.exempt(bp)


@bp.route("/live")
@public
def live():
    """The process is up."""
    return jsonify(status="ok")


@bp.route("/ready")
@public
def ready():
    """The process can serve: DB and Redis answer."""
    checks = health.readiness()
    down = health.down(checks)
    status = 503 if down else 200
    return jsonify(status="down" if down else "ok", down=down, checks=checks), status


@bp.route("/detailed")
@public
@token_or_staff
def detailed():
    """Stores, workers alive and each router's circuit (staff login or METRICS_TOKEN)."""
    report, status = health.detailed_report()
    return jsonify(report), status
