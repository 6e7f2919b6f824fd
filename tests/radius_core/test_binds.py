"""The mode follows from the two URLs, and an unsupported pair stops start-up with a plain message."""
from __future__ import annotations

import pytest

from isp.config import ConfigError, load_config
from isp.radius import binds


def _plan(main: str, radius: str | None = None, **env: str) -> binds.Plan:
    values = {"DATABASE_URL": main, **env}
    if radius:
        values["RADIUS_DATABASE_URL"] = radius
    return binds.plan_for(load_config(values, "/tmp/isp-instance"))


def test_sqlite_default_is_the_same_file():
    plan = _plan("sqlite:////tmp/a.db")
    assert (plan.mode, plan.main_schema) == (binds.SAME_FILE, None)


def test_sqlite_spelled_differently_is_still_the_same_file():
    assert _plan("sqlite:////tmp/a.db", "sqlite:////tmp/../tmp/a.db").mode == binds.SAME_FILE


def test_a_second_sqlite_file_is_refused():
    with pytest.raises(ConfigError, match="same file as DATABASE_URL"):
        _plan("sqlite:////tmp/a.db", "sqlite:////tmp/b.db")


def test_sqlite_and_mysql_mixed_is_refused():
    with pytest.raises(ConfigError, match="not supported"):
        _plan("sqlite:////tmp/a.db", "mysql://u:p@db/radius")


def test_two_phase_on_sqlite_is_refused():
    with pytest.raises(ConfigError, match="RADIUS_TWO_PHASE"):
        _plan("sqlite:////tmp/a.db", RADIUS_TWO_PHASE="1")


def test_mysql_default_is_the_radius_database_on_the_same_server():
    plan = _plan("mysql://u:p@db/isp")
    assert (plan.mode, plan.main_schema) == (binds.SAME_SERVER, "radius")


def test_mysql_same_server_other_database():
    plan = _plan("mysql://u:p@db:3306/isp", "mysql://u:p@db/freeradius")
    assert (plan.mode, plan.main_schema) == (binds.SAME_SERVER, "freeradius")


def test_mysql_same_database_needs_no_qualification():
    assert _plan("mysql://u:p@db/isp", "mysql://u:p@db/isp").main_schema is None


@pytest.mark.parametrize("radius", ["mysql://u:p@other/radius", "mysql://u:p@db:3307/radius",
                                    "mysql://radius:p@db/radius", "mysql://u:other@db/radius"])
def test_another_server_or_other_credentials_is_two_phase(radius):
    assert _plan("mysql://u:p@db/isp", radius).mode == binds.TWO_PHASE


def test_two_phase_can_be_forced_on_one_server():
    assert _plan("mysql://u:p@db/isp", RADIUS_TWO_PHASE="yes").mode == binds.TWO_PHASE
