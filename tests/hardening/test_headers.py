"""Security headers on every kind of answer, the CSP's nonce, no-store for logged-in pages, HSTS only over TLS."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALWAYS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Permissions-Policy")


def _csp(response) -> dict[str, str]:
    """The CSP as {directive: sources}."""
    parts = [p.strip() for p in response.headers["Content-Security-Policy"].split(";") if p.strip()]
    return {p.split(" ", 1)[0]: (p.split(" ", 1) + [""])[1] for p in parts}


def _assert_hardened(response):
    for name in ALWAYS:
        assert response.headers.get(name), f"{name} missing on {response.request.path} ({response.status_code})"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin")
    assert "camera=()" in response.headers["Permissions-Policy"] and "geolocation=()" in response.headers["Permissions-Policy"]
    csp = _csp(response)
    assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'" and csp["connect-src"] == "'self'"
    assert csp["img-src"] == "'self' data:"
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp["style-src"]
    assert re.fullmatch(r"'self' 'nonce-[A-Za-z0-9_-]{20,}'", csp["script-src"])
    assert "Strict-Transport-Security" not in response.headers  # plain http


def test_every_kind_of_answer_carries_the_headers(app, client, auth):
    anonymous_login = client.get("/auth/login")
    _assert_hardened(anonymous_login)
    assert anonymous_login.headers["Cache-Control"] == "no-store"  # the login form too
    auth.login_as("admin")
    page = client.get("/")
    fragment = client.get("/vouchers/?q=x", headers={"HX-Request": "true"})
    json_answer = client.get("/health/live")
    missing = client.get("/no/such/page")
    assert (page.status_code, fragment.status_code, missing.status_code) == (200, 200, 404)
    assert json_answer.is_json and missing.status_code == 404
    assert "<html" not in fragment.get_data(as_text=True)
    for response in (page, fragment, json_answer, missing):
        _assert_hardened(response)


def test_the_page_nonce_matches_the_header_and_changes_per_request(client, auth):
    auth.login_as("admin")
    first, second = client.get("/"), client.get("/")
    nonces = []
    for response in (first, second):
        nonce = _csp(response)["script-src"].split("'nonce-")[1].rstrip("'")
        html = response.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(f'nonce="{nonce}"' in tag and "src=" in tag for tag in scripts), scripts
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_htmx_is_configured_for_the_csp(client, auth):
    auth.login_as("admin")
    html = client.get("/").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', html).group(1)
    for setting in ('"includeIndicatorStyles":false', '"allowEval":false', '"allowScriptTags":false'):
        assert setting in config
    assert '"responseHandling"' in config  # the 422/429 swapping the forms rely on is kept
    assert ".htmx-indicator" in open(os.path.join(ROOT, "static", "css", "app.css")).read()


def test_no_store_on_logged_in_pages_but_not_on_static_files(client, auth):
    static = client.get("/static/css/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    auth.login_as("operator")
    for path in ("/", "/vouchers/", "/customers/", "/no/such/page"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    static = client.get("/static/js/app.js")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    assert "Content-Security-Policy" in static.headers


def test_hsts_only_over_https(client, auth):
    auth.login_as("admin")
    plain = client.get("/")
    assert "Strict-Transport-Security" not in plain.headers
    secure = client.get("/", environ_overrides={"wsgi.url_scheme": "https"})
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    probe = client.get("/health/live", environ_overrides={"wsgi.url_scheme": "https"})
    assert probe.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def _templates():
    for root, _dirs, files in os.walk(os.path.join(ROOT, "templates")):
        for name in files:
            if name.endswith(".html"):
                path = os.path.join(root, name)
                yield os.path.relpath(path, ROOT), open(path, encoding="utf-8").read()


@pytest.mark.parametrize("pattern,what", [
    (r"\sstyle\s*=|[\"']style[\"']\s*:", "a style attribute (or a style= passed to a form field)"),
    (r"<style\b", "an inline <style> block"),
    (r"\son[a-z]+\s*=\s*[\"']", "an inline event handler"),
    (r"javascript:", "a javascript: URL"),
    (r"<script(?![^>]*\bsrc=)[^>]*>", "an inline <script>"),
    (r"hx-on[:-]", "an hx-on handler (needs eval)"),
    (r"hx-(vals|vars)=['\"]\s*js:", "hx-vals with js: (needs eval)"),
])
def test_no_template_has_inline_code_the_csp_would_block(pattern, what):
    found = [path for path, text in _templates() if re.search(pattern, re.sub(r"{#.*?#}", "", text, flags=re.S))]
    assert found == [], f"{what} in {found}"


def test_static_scripts_do_not_eval():
    for name in os.listdir(os.path.join(ROOT, "static", "js")):
        text = open(os.path.join(ROOT, "static", "js", name)).read()
        forbidden = r"\beval\(|new Function\(|setAttribute\(\s*[\"']style|\.innerHTML\s*=(?!\s*(\"\"|''))"
        assert not re.search(forbidden, text), name
