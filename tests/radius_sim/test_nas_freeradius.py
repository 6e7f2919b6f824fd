"""The simulated router authenticates, accounts and obeys Disconnect/CoA through the real FreeRADIUS."""
from __future__ import annotations

import socket

from pyrad import packet as rp

from routeros_sim.nas import dictionary
from tests.radius_sim.conftest import NAS_ADDRESS, NAS_SECRET, PASSWORD, radacct


def _dae(router, code: int, **attrs) -> rp.Packet | None:
    """A Disconnect/CoA as the panel's pyrad client sends it, to the router's incoming port; the reply or None."""
    req = rp.CoAPacket(code=code, secret=NAS_SECRET.encode(), dict=dictionary())
    for key, value in attrs.items():
        req[key.replace("_", "-")] = value
    raw = req.RequestPacket()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(raw, (NAS_ADDRESS, router.radius_incoming_port))  # its tunnel address (a loopback stand-in)
        try:
            data, _ = sock.recvfrom(4096)
        except TimeoutError:
            return None
    reply = req.CreateReply(packet=data)
    assert req.VerifyReply(reply, data)
    return reply


def _open(rows, user):
    return [r for r in rows if r.username == user and r.acctstoptime is None]


def test_pppoe_chap_login_gets_the_plan_rate_and_a_radacct_row(sim, subscriber, radius):
    subscriber("amina")
    result = sim.radius_login("amina", PASSWORD, kind="ppp", mac="02:AB:00:00:00:01")
    assert result["accepted"], (result, radius.log())
    assert result["method"] == "chap" and result["reply"]["Mikrotik-Rate-Limit"] == ["5M/10M"]
    session = result["session"]
    assert session["rate_limit"] == "5M/10M" and session["interim_interval"] == 60
    queue = [q for q in sim.state.rows("/queue/simple") if q["name"] == "<pppoe-amina>"]
    assert queue and queue[0]["max-limit"] == "5000000/10000000"
    rows = radacct(lambda rows: _open(rows, "amina"))
    row = _open(rows, "amina")[0]
    assert row.acctsessionid == session["acct_session_id"] and row.nasipaddress == NAS_ADDRESS
    assert row.callingstationid == "02:AB:00:00:00:01" and row.framedipaddress == session["address"]


def test_hotspot_pap_login_and_a_wrong_password(sim, subscriber, radius):
    subscriber("brian")
    bad = sim.radius_login("brian", "not-the-password")
    assert not bad["accepted"] and bad["reason"] == "rejected by the RADIUS server"
    assert "brian" not in [a["user"] for a in sim.state.rows("/ip/hotspot/active")]
    good = sim.radius_login("brian", PASSWORD)
    assert good["accepted"] and good["method"] == "pap", radius.log()
    active = [a for a in sim.state.rows("/ip/hotspot/active") if a["user"] == "brian"]
    assert active and active[0]["radius"] == "true" and active[0]["login-by"] == "http-pap"


def test_interim_and_stop_carry_the_counters(sim, subscriber, radius):
    subscriber("chege")
    sid = sim.radius_login("chege", PASSWORD, kind="ppp")["session"]["acct_session_id"]
    assert radacct(lambda rows: _open(rows, "chege"))
    sim.state.clock.advance(125)  # two interims at the server's 60 s
    with sim.state.lock:
        sim.state.sync(force=True)
    rows = radacct(lambda rows: any(r.acctsessionid == sid and (r.acctsessiontime or 0) >= 120 for r in rows))
    row = next(r for r in rows if r.acctsessionid == sid)
    assert row.acctsessiontime >= 120 and row.acctinputoctets > 0 and row.acctoutputoctets > 0
    interim_out = row.acctoutputoctets
    assert sim.logout(user="chege") == 1
    rows = radacct(lambda rows: any(r.acctsessionid == sid and r.acctstoptime is not None for r in rows))
    row = next(r for r in rows if r.acctsessionid == sid)
    assert row.acctstoptime is not None and row.acctterminatecause == "User-Request"
    assert row.acctsessiontime == 125 and row.acctoutputoctets >= interim_out


def test_disconnect_request_ends_the_session_and_closes_radacct(sim, subscriber, radius):
    subscriber("dora")
    session = sim.radius_login("dora", PASSWORD, kind="ppp")["session"]
    assert radacct(lambda rows: _open(rows, "dora"))
    unknown = _dae(sim, rp.DisconnectRequest, User_Name="dora", Acct_Session_Id="not-a-session")
    assert unknown.code == rp.DisconnectNAK and unknown["Error-Cause"] == ["Session-Context-Not-Found"]
    ack = _dae(sim, rp.DisconnectRequest, User_Name="dora", Acct_Session_Id=session["acct_session_id"],
               Framed_IP_Address=session["address"])
    assert ack is not None and ack.code == rp.DisconnectACK
    assert "dora" not in [a["name"] for a in sim.state.rows("/ppp/active")]
    rows = radacct(lambda rows: any(r.username == "dora" and r.acctstoptime is not None for r in rows))
    row = next(r for r in rows if r.username == "dora")
    assert row.acctstoptime is not None and row.acctterminatecause == "Admin-Reset"


def test_coa_changes_the_rate_and_an_unknown_session_is_naked(sim, subscriber, radius):
    subscriber("esther")
    session = sim.radius_login("esther", PASSWORD, kind="ppp")["session"]
    ack = _dae(sim, rp.CoARequest, User_Name="esther", Framed_IP_Address=session["address"],
               Mikrotik_Rate_Limit="20M/40M")
    assert ack is not None and ack.code == rp.CoAACK
    assert [s["rate_limit"] for s in sim.sessions() if s["user"] == "esther"] == ["20M/40M"]
    queue = [q for q in sim.state.rows("/queue/simple") if q["name"] == "<pppoe-esther>"]
    assert queue[0]["max-limit"] == "20000000/40000000"
    nak = _dae(sim, rp.CoARequest, User_Name="nobody", Mikrotik_Rate_Limit="1M/1M")
    assert nak.code == rp.CoANAK and nak["Error-Cause"] == ["Session-Context-Not-Found"]
    wrong_secret = rp.CoAPacket(code=rp.CoARequest, secret=b"guess", dict=dictionary())
    wrong_secret["User-Name"] = "esther"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        sock.sendto(wrong_secret.RequestPacket(), ("127.0.0.1", sim.radius_incoming_port))
        try:
            sock.recvfrom(4096)
            answered = True
        except TimeoutError:
            answered = False
    assert not answered  # RFC 5176: a request that fails the authenticator check is silently discarded


def test_the_panels_coa_client_reaches_the_router_by_its_radacct_rows(sim, subscriber, radius):
    from isp.radius import coa

    subscriber("faith")
    sim.radius_login("faith", PASSWORD, kind="ppp")
    assert radacct(lambda rows: _open(rows, "faith"))
    target = coa.Target(NAS_ADDRESS, sim.radius_incoming_port, NAS_SECRET)
    [changed] = coa.change(target, "faith", {"Mikrotik-Rate-Limit": "2M/3M"})
    assert changed.kind == "ack", changed.words
    assert [s["rate_limit"] for s in sim.sessions() if s["user"] == "faith"] == ["2M/3M"]
    [kicked] = coa.disconnect(target, "faith")
    assert kicked.kind == "ack", kicked.words
    assert not [s for s in sim.sessions() if s["user"] == "faith"]
    rows = radacct(lambda rows: not _open(rows, "faith"))
    assert not _open(rows, "faith") and rows[-1].acctterminatecause == "Admin-Reset"
    [again] = coa.disconnect(target, "faith", sessions=[])
    assert again.kind == "nak" and again.error_cause == 503
