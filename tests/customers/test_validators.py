"""The shared field checks: what a form or an import line is cleaned to, and what is refused with which field."""
from __future__ import annotations

import pytest

from isp.services import validators as v
from isp.services.errors import ServiceError


@pytest.mark.parametrize("raw,clean", [("+254 712 345 678", "+254712345678"), ("0712 345678", "0712345678"),
                                       ("1234567", "1234567"), ("", "")])
def test_phone_is_normalised(raw, clean):
    assert v.phone(raw) == clean


@pytest.mark.parametrize("raw", ["123456", "1234567890123456", "+254-712", "07x2345678", "++2547123456", "<script>"])
def test_bad_phone_is_refused_on_its_field(raw):
    with pytest.raises(ServiceError) as err:
        v.phone(raw, "phone2")
    assert err.value.field == "phone2"


def test_email_keeps_local_part_and_lowers_domain():
    assert v.email(" Jane.Doe+isp@Example.COM ") == "Jane.Doe+isp@example.com"
    assert v.email("") == ""
    for bad in ("jane", "jane@", "@example.com", "jane@example", "a b@example.com", "<script>@x.com"):
        with pytest.raises(ServiceError) as err:
            v.email(bad)
        assert err.value.field == "email"


def test_ipv4_accepts_hosts_and_refuses_the_rest():
    assert v.ipv4("10.20.0.15") == "10.20.0.15"
    assert v.ipv4("10.20.0.15/32") == "10.20.0.15"
    assert v.ipv4("") is None
    assert v.ipv4("10.0.1.0", network="10.0.0.0/16") == "10.0.1.0"
    messages = {}
    for bad in ("0.0.0.0", "255.255.255.255", "10.20.0.0", "10.20.0.255", "127.0.0.1", "224.0.0.5", "169.254.1.1",
                "10.20.0", "10.20.0.256", "fe80::1", "abc"):
        with pytest.raises(ServiceError) as err:
            v.ipv4(bad)
        assert err.value.field == "static_ip"
        messages[bad] = err.value.message
    assert "network or broadcast" in messages["10.20.0.0"] and "not an IPv4 address" in messages["abc"]
    with pytest.raises(ServiceError, match="required"):
        v.ipv4("", required=True)


@pytest.mark.parametrize("raw", ["aa:bb:cc:dd:ee:0f", "AA-BB-CC-DD-EE-0F", "aabb.ccdd.ee0f", "AABBCCDDEE0F"])
def test_mac_is_normalised_to_upper_colon_form(raw):
    assert v.mac(raw) == "AA:BB:CC:DD:EE:0F"


@pytest.mark.parametrize("raw", ["aa:bb:cc:dd:ee", "aa:bb-cc:dd:ee:ff", "gg:bb:cc:dd:ee:ff", "00:00:00:00:00:00",
                                 "ff:ff:ff:ff:ff:ff", "aa:bb:cc:dd:ee:ff:00"])
def test_bad_mac_is_refused(raw):
    with pytest.raises(ServiceError) as err:
        v.mac(raw)
    assert err.value.field == "caller_id"


def test_username_is_router_safe():
    assert v.username(" jane.doe@home_1-a ") == "jane.doe@home_1-a"
    for bad in ("", "jane doe", "jane;drop", "x" * 65, "jané", "a/b", "<b>"):
        with pytest.raises(ServiceError) as err:
            v.username(bad)
        assert err.value.field == "username"


def test_tags_are_lower_unique_and_checked():
    assert v.tags("VIP, fiber  vip,north") == "vip,fiber,north"
    assert v.tags(["A", "b"]) == "a,b"
    assert v.tags("") == ""
    with pytest.raises(ServiceError) as err:
        v.tags("<script>alert(1)</script>")
    assert err.value.field == "tags"


def test_text_refuses_control_characters_and_length():
    assert v.text("  Jane  ", "name", 10) == "Jane"
    assert v.text("line one\r\nline two", "notes", 100, multiline=True) == "line one\nline two"
    with pytest.raises(ServiceError, match="Name is required"):
        v.text(" ", "name", 10, required=True)
    with pytest.raises(ServiceError, match="at most 10"):
        v.text("x" * 11, "name", 10)
    with pytest.raises(ServiceError, match="control"):
        v.text("a\x00b", "name", 10)
    with pytest.raises(ServiceError, match="control"):
        v.text("a\nb", "name", 10)


def test_router_name():
    assert v.router_name("pool-home_1", "address_pool") == "pool-home_1"
    assert v.router_name("", "address_pool") == ""
    with pytest.raises(ServiceError):
        v.router_name("my pool", "address_pool")
