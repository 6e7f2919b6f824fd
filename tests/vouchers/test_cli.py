"""`flask vouchers generate`: happy path and every refusal says what is wrong."""
from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import Voucher


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["vouchers", "generate", *args])


def test_generate_from_the_cli(app, make_user, make_router, make_plan):
    make_user("admin")
    router = make_router(name="tower")
    make_plan([router.id], name="Hour")
    result = _run(app, "--plan", "hour", "--count", "25", "--prefix", "HS", "--length", "6", "--mode", "userpass")
    assert result.exit_code == 0, result.output
    assert "25 × Hour vouchers for tower" in result.output
    with app.app_context():
        codes = list(_db.session.scalars(select(Voucher)))
        assert len(codes) == 25 and all(v.code.startswith("HS") and len(v.code) == 8 and v.password != v.code for v in codes)


def test_cli_errors_are_clear(app, make_user, make_router, make_plan):
    make_user("admin")
    r1, r2 = make_router(name="a"), make_router(name="b")
    make_plan([r1.id, r2.id], name="Multi")
    cases = [
        (["--plan", "Nope", "--count", "5"], "no plan named 'Nope' (plans: Multi)"),
        (["--plan", "Multi", "--count", "0"], "0 is not in the range 1<=x<=10000"),
        (["--plan", "Multi", "--count", "10001"], "10001 is not in the range"),
        (["--plan", "Multi", "--count", "5"], "sold on several routers (a, b); choose one"),
        (["--plan", "Multi", "--count", "5", "--router", "zz"], "no router named 'zz'"),
        (["--plan", "Multi", "--count", "5", "--router", "a", "--length", "2"], "Code length must be from 4 to 16"),
        (["--plan", "Multi", "--count", "10000", "--router", "a", "--length", "4"], "need codes of at least 5 characters"),
        (["--plan", "Multi", "--count", "5", "--router", "a", "--prefix", "no-dash"], "Prefix: up to 8 letters or digits"),
        (["--plan", "Multi", "--count", "5", "--router", "a", "--prefix", "AB\n"], "Prefix: up to 8 letters or digits"),
        (["--plan", "Multi", "--count", "5", "--router", "a", "--length", "9" * 30], "Code length must be from 4 to 16"),
        (["--plan", "Multi", "--count", "5", "--router", "a", "--mode", "pin"], "'pin' is not one of 'code', 'userpass'"),
        (["--plan", "Multi", "--count", "5", "--router", "a", "--as", "ghost"], "no active user 'ghost'"),
    ]
    for args, message in cases:
        result = _run(app, *args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Voucher)) == 0
