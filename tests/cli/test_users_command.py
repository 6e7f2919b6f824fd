"""`flask users create-admin`: the same password policy as the web."""
from sqlalchemy import func, select

from isp.extensions import db
from isp.models import User


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def test_create_admin_applies_the_web_password_policy(app):
    runner = app.test_cli_runner()
    cases = {"at least 10 characters": "short", "Password must not be the username.": "root.admin",
             "one of the most common": "1234567890", "at most 128 characters": "y" * 129}
    for message, password in cases.items():
        result = runner.invoke(args=["users", "create-admin", "root.admin", "--password", password])
        assert result.exit_code == 1 and message in result.output, (message, result.output)
    assert _count(app) == 0
    result = runner.invoke(args=["users", "create-admin", "root.admin", "--password", "a-fine-long-secret"])
    assert result.exit_code == 0 and "Admin 'root.admin' created." in result.output
    assert _count(app) == 1
