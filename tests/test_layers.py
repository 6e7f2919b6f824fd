"""The house: layers only look down, and the simulator stays outside the product package."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ISP = ROOT / "isp"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions; relative imports made absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = node.module if node.level == 0 else ".".join(p for p in (base, node.module) if p)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _offenders(folder: str, forbidden: str) -> list[str]:
    return sorted(f"{path.relative_to(ROOT)} imports {name}" for path in (ISP / folder).rglob("*.py")
                  for name in _imports(path) if name == forbidden or name.startswith(forbidden + "."))


def test_nothing_below_jobs_imports_jobs():
    for layer in ("services", "models", "routeros"):
        assert _offenders(layer, "isp.jobs") == []
    for module in ("dispatch.py", "transaction.py", "extensions.py", "config.py", "sqlutil.py", "crypto.py", "units.py"):
        assert not [n for n in _imports(ISP / module) if n.startswith(("isp.jobs", "isp.services", "isp.web"))]


def test_jobs_do_not_reach_up_into_web_or_cli():
    assert _offenders("jobs", "isp.web") == [] and _offenders("jobs", "isp.cli") == []


def test_pages_read_no_router_state_from_jobs():
    # The schedule is data (what runs how often, shown on pages); nothing else of the worker side is.
    offenders = [o for o in _offenders("web", "isp.jobs") if not o.endswith(("isp.jobs.schedule", "isp.jobs.schedule.SCHEDULE"))]
    assert offenders == []


def test_models_and_routeros_do_not_import_services_or_web():
    for layer in ("models", "routeros"):
        assert _offenders(layer, "isp.services") == [] and _offenders(layer, "isp.web") == []
    assert _offenders("services", "isp.web") == []


def test_the_simulator_is_not_in_the_product_package():
    assert not (ISP / "routeros" / "simulator").exists()
    users = [str(p.relative_to(ROOT)) for p in ISP.rglob("*.py") if any(n.startswith("routeros_sim") for n in _imports(p))]
    assert users == ["isp/cli/sim.py"]
