"""Bad CSV files on the import's dry run: refused with the reason (file or line), a 422, and nothing written."""
from __future__ import annotations

import io

import pytest

HEADER = "name,phone,email,kind,username,password,plan,router\n"
GOOD_LINE = "Carol Njeri,+254711222333,carol@example.com,pppoe,carol,carolpass1,Home 10,core-1\n"


def _big_lines() -> bytes:
    return ("name,phone\n" + "".join(f"C{n},+2547{n:08d}\n" for n in range(100_000))).encode()  # 2 MB: under the size cap


FILES = [
    ("empty", b"", "The file is empty"),
    ("blank lines only", b"\n\n  \n", "The file is empty"),
    ("utf-16", "name,phone\nA,1\n".encode("utf-16"), "The file is UTF-16"),
    ("latin-1", ("name,phone\nJos\xe9,+254711222333\n").encode("latin-1"), "The file is not UTF-8 (byte 0xe9 on line 2)"),
    ("nul bytes", b"name,phone\nA\x00B,+254711222333\n", "holds NUL bytes"),
    ("header only", HEADER.encode(), "has a header but no lines"),
    ("unknown column", b"name,phone,shoe_size\nA,+254711222333,42\n", "Unknown column(s): shoe_size"),
    ("bom then unknown column", "\ufeffname,phone,bogus\nA,+254711222333,1\n".encode(), "Unknown column(s): bogus."),
    ("repeated column", b"name,phone,name\nA,+254711222333,B\n", "The header repeats a column: name"),
    ("malformed quotes", b'name,phone\n"Carol "Njeri",+254711222333\n', "the CSV is malformed"),
    ("cell count", (HEADER + "Carol,+254711222333\n").encode(), "The line has 2 cells, the header has 8"),
    ("100k lines", None, "more than 20,000 lines"),
    ("over 5 MB", b"name,phone\n" + b"A" * (5 * 1024 * 1024 + 10) + b",1\n", "larger than 5 MB"),
    ("formula in phone", (HEADER + GOOD_LINE.replace("+254711222333", "=1+2")).encode(), "is not a phone number"),
    ("formula in username", (HEADER + GOOD_LINE.replace(",carol,", ",=cmd|' /C calc'!A0,")).encode(),
     "is not a valid username"),
    ("script in email", (HEADER + GOOD_LINE.replace("carol@example.com", "<script>@x")).encode(), "is not an email address"),
    ("unknown plan", (HEADER + GOOD_LINE.replace("Home 10", "Gold 1000")).encode(), "Gold 1000"),
    ("unknown router", (HEADER + GOOD_LINE.replace("core-1", "mars-1")).encode(), "mars-1"),
    ("username taken", (HEADER + GOOD_LINE.replace(",carol,", ",alice,")).encode(), "alice"),
    ("username twice in file", (HEADER + GOOD_LINE + GOOD_LINE.replace("Carol Njeri", "Carol Two")
                                .replace("+254711222333", "+254711222334")).encode(), "carol"),
    ("bad kind", (HEADER + GOOD_LINE.replace("pppoe", "dialup")).encode(), "dialup"),
    ("paid until 1900", (HEADER.strip() + ",paid_until\n" + GOOD_LINE.strip() + ",1900-01-01\n").encode(),
     "out of range"),
    ("paid until words", (HEADER.strip() + ",paid_until\n" + GOOD_LINE.strip() + ",next week\n").encode(), "is not a date"),
    ("auto renew maybe", (HEADER.strip() + ",auto_renew\n" + GOOD_LINE.strip() + ",maybe\n").encode(), "is not yes or no"),
    ("name with nul-free control", (HEADER + GOOD_LINE.replace("Carol Njeri", "Carol\x07Njeri")).encode(),
     "control characters"),
]


@pytest.mark.parametrize("content,message", [c[1:] for c in FILES], ids=[c[0] for c in FILES])
def test_import_dry_run(world, content, message):
    """A bad file is refused by the dry run, which writes no customer, service or anything else."""
    if content is None:
        content = _big_lines()
    world.bad.post("/imports/", {"file": (io.BytesIO(content), "customers.csv"), "router": "", "plan_map": "",
                                 "router_map": ""}, message, content_type="multipart/form-data")


FORM = [
    ("no file", {}, "Choose a CSV file"),
    ("bad plan map", {"plan_map": "just some words"}, "write 'their name = our name'"),
    ("unknown default router", {"router": "mars-1"}, "Not a valid choice"),
    ("plan map 10k", {"plan_map": "a = b\n" * 2000}, "Field cannot be longer than 5000 characters"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in FORM], ids=[c[0] for c in FORM])
def test_import_form(world, fields, message):
    """The upload form's own fields are checked too."""
    data = {"router": "", "plan_map": "", "router_map": "", **fields}
    if fields:
        data["file"] = (io.BytesIO((HEADER + GOOD_LINE).encode()), "customers.csv")
    world.bad.post("/imports/", data, message, content_type="multipart/form-data")


@pytest.mark.parametrize("token", ["", "not-a-token", "../../etc/passwd", "x" * 5000], ids=["blank", "unknown", "path", "huge"])
def test_import_confirm_bad_token(world, token):
    """Confirming an import that was never checked imports nothing."""
    world.bad.post("/imports/confirm", {"token": token}, "upload the file again", status=302)
