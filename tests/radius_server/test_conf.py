"""The generated raddb: what goes where, and values that could break out of a config string are refused."""
from __future__ import annotations

import stat

import pytest

from isp.radius.freeradius_conf import build


def test_a_mysql_url_becomes_the_sql_modules_driver_settings_in_owner_only_files(tmp_path):
    conf = build(tmp_path, "mysql+pymysql://radius:Pa55-word@db.example:3307/isp_radius?charset=utf8mb4",
                 auth_port=21812, acct_port=21813, secret="loop-secret", dynamic_clients=("10.100.0.0/16",))

    modules = (tmp_path / "modules.conf").read_text()
    assert "driver = \"rlm_sql_mysql\"" in modules and "server = 'db.example'" in modules and "port = 3307" in modules
    assert "login = 'radius'" in modules and "password = 'Pa55-word'" in modules and "radius_db = 'isp_radius'" in modules
    assert "SET time_zone = '+00:00'" in modules and "read_clients = yes" in modules
    clients = (tmp_path / "clients.conf").read_text()
    assert "ipaddr = '10.100.0.0/16'" in clients and "dynamic_clients = dynamic_clients" in clients
    site = (tmp_path / "site.conf").read_text()
    assert "port = 21812" in site and "session {\n\t\tsql" in site
    for name in ("modules.conf", "clients.conf", "radiusd.conf", "site.conf"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert conf.dialect == "mysql" and "loop-secret" not in repr(conf)


@pytest.mark.parametrize("password", ["it's", "back\\slash", "new\nline"])
def test_a_value_that_could_leave_its_config_string_is_refused(tmp_path, password):
    with pytest.raises(ValueError, match="may not contain"):
        build(tmp_path, f"mysql+pymysql://radius:{password}@db/isp_radius", auth_port=1, acct_port=2, secret="s")
