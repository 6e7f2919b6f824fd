"""Disconnect and CoA: packets to a real UDP peer, answers recorded on the command, the API kick when it is silent."""
from __future__ import annotations

import logging
from datetime import datetime

import librouteros
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import CommandState, Priority, Router, RouterCommand
from isp.radius import coa
from isp.radius.models import RadAcct
from isp.services import radius_commands
from isp.transaction import atomic
from tests.conftest import SIM_PASSWORD, run_worker
from tests.radius_vouchers.conftest import SECRET


def _queue(app, router_id, make):
    with app.app_context():
        router = _db.session.get(Router, router_id)
        return atomic(lambda: make(router).id)


def _command(app, command_id):
    with app.app_context():
        row = _db.session.get(RouterCommand, command_id)
        return row.state, row.result or {}, row.last_error, row.priority


def _open_session(app, username, session_id, ip="10.5.0.7"):
    with app.app_context():
        _db.session.add(RadAcct(acctsessionid=session_id, acctuniqueid=f"u-{session_id}", username=username,
                                nasipaddress="127.0.0.1", framedipaddress=ip, acctstarttime=datetime(2026, 1, 1)))
        _db.session.commit()


def test_client_gets_ack_for_a_live_session_and_nak_in_words_for_an_unknown_one(app, responder, radius_db):
    responder.sessions["alice"] = {"s-1"}
    target = coa.Target("127.0.0.1", responder.port, SECRET)
    with app.app_context():
        [ack] = coa.disconnect(target, "alice", sessions=[("s-1", "10.5.0.7")], timeout=0.5, retries=0)
        [nak] = coa.disconnect(target, "bob", sessions=[("s-9", "")], timeout=0.5, retries=0)
    assert ack.kind == "ack" and ack.words == "acknowledged"
    assert nak.kind == "nak" and nak.error_cause == 503 and nak.words == "refused: session not found (503)"
    assert nak.nothing_to_do  # the user is not online: nothing left to do
    sent = responder.received[0]
    assert sent["User-Name"] == ["alice"] and sent["Acct-Session-Id"] == ["s-1"] and sent["Framed-IP-Address"] == ["10.5.0.7"]


def test_only_the_target_routers_sessions_are_named_else_the_user_name_alone(app, radius_db):
    """Another router's open row (a lost Stop) must not be sent to this router: its "session not found" would read
    as "not online here" while the user's fresh session (Start not stored yet) stays on."""
    with app.app_context():
        _db.session.add(RadAcct(acctsessionid="elsewhere", acctuniqueid="u-elsewhere", username="carl",
                                nasipaddress="10.100.0.9", framedipaddress="10.5.0.9", acctstarttime=datetime(2026, 1, 1)))
        _db.session.add(RadAcct(acctsessionid="here", acctuniqueid="u-here", username="dina",
                                nasipaddress="10.100.0.2", framedipaddress="10.5.0.2", acctstarttime=datetime(2026, 1, 1)))
        _db.session.commit()
        assert coa.open_sessions("carl", "10.100.0.2") == []  # the request then names User-Name alone
        assert coa.open_sessions("dina", "10.100.0.2") == [("here", "10.5.0.2")]


def test_a_wrong_secret_or_a_silent_router_is_a_timeout_not_an_answer(app, responder, radius_db):
    responder.sessions["alice"] = {"s-1"}
    with app.app_context():
        [wrong] = coa.disconnect(coa.Target("127.0.0.1", responder.port, "not-the-secret"), "alice", sessions=[("s-1", "")],
                                 timeout=0.2, retries=1)
    assert wrong.kind == "timeout" and wrong.words == "no answer"
    assert len(responder.received) == 0  # the peer dropped both sends: the authenticator did not verify
    assert responder.sessions["alice"] == {"s-1"}


def test_disconnect_command_runs_on_critical_and_records_the_ack(app, radius_router, caplog):
    caplog.set_level(logging.DEBUG)
    radius_router.responder.sessions["v-100"] = {"abc"}
    _open_session(app, "v-100", "abc")
    command_id = _queue(app, radius_router.id, lambda r: radius_commands.queue_disconnect(r, "v-100"))
    assert _command(app, command_id)[3] == Priority.critical
    run_worker(app)
    state, result, error, _ = _command(app, command_id)
    assert state == CommandState.done, error
    assert result["action"] == "disconnected" and result["answers"] == [{"answer": "ack", "words": "acknowledged",
                                                                         "session": "abc"}]
    assert radius_router.responder.sessions["v-100"] == set()  # the peer ended the session it was told about
    assert SECRET not in str(result) and SECRET not in caplog.text


def test_session_not_found_is_done_with_nothing_to_do(app, radius_router):
    command_id = _queue(app, radius_router.id, lambda r: radius_commands.queue_disconnect(r, "nobody"))
    run_worker(app)
    state, result, _, _ = _command(app, command_id)
    assert state == CommandState.done and result["action"] == "not online"
    assert result["answers"][0]["error_cause"] == 503 and "fallback" not in result


def test_coa_carries_the_new_rate_and_records_the_ack(app, radius_router):
    radius_router.responder.sessions["v-200"] = {"s2"}
    _open_session(app, "v-200", "s2")
    command_id = _queue(app, radius_router.id, lambda r: radius_commands.queue_coa(r, "v-200", {"Mikrotik-Rate-Limit": "1M/2M"}))
    assert _command(app, command_id)[3] == Priority.high
    run_worker(app)
    state, result, _, _ = _command(app, command_id)
    assert state == CommandState.done and result["action"] == "changed"
    [sent] = radius_router.responder.received
    assert sent["Mikrotik-Rate-Limit"] == ["1M/2M"] and sent["User-Name"] == ["v-200"]
    assert radius_router.responder.sessions["v-200"] == {"s2"}  # a CoA changes the session, it does not end it


def _hotspot_online(router_sim, name):
    api = librouteros.connect("127.0.0.1", username="admin", password=SIM_PASSWORD, port=router_sim.port)
    try:
        return [r for r in api.rawCmd("/ip/hotspot/active/print") if r.get("user") == name]
    finally:
        api.close()


def _hotspot_login(router_sim, name):
    api = librouteros.connect("127.0.0.1", username="admin", password=SIM_PASSWORD, port=router_sim.port)
    try:
        tuple(api("/ip/hotspot/user/add", name=name, password="pw", profile="default"))
    finally:
        api.close()
    assert router_sim.login(name) is None
    assert _hotspot_online(router_sim, name)


def test_a_silent_router_gets_the_api_kick_and_both_are_recorded(app, radius_router):
    radius_router.responder.silent = True
    _hotspot_login(radius_router.sim, "v-300")
    command_id = _queue(app, radius_router.id, lambda r: radius_commands.queue_disconnect(r, "v-300"))
    run_worker(app)
    state, result, error, _ = _command(app, command_id)
    assert state == CommandState.done, error
    assert result["action"] == "no answer" and result["answers"][0]["answer"] == "timeout"
    assert result["fallback"] == "api kick" and result["kicked"] == 1
    assert _hotspot_online(radius_router.sim, "v-300") == []  # the customer is offline all the same
    assert len(radius_router.responder.received) == 2  # sent, then sent again once (RADIUS_COA_RETRIES=1)


def test_a_refusal_other_than_not_found_also_falls_back_to_the_kick(app, radius_router):
    radius_router.responder.refuse = 501  # administratively prohibited
    _hotspot_login(radius_router.sim, "v-400")
    command_id = _queue(app, radius_router.id, lambda r: radius_commands.queue_disconnect(r, "v-400"))
    run_worker(app)
    state, result, _, _ = _command(app, command_id)
    assert state == CommandState.done
    assert result["answers"][0]["words"] == "refused: administratively prohibited (501)"
    assert result["fallback"] == "api kick" and result["kicked"] == 1


def test_silent_router_with_its_api_down_is_a_dead_letter_carrying_both_failures(app, radius_router):
    radius_router.responder.silent = True
    radius_router.sim.faults.update(down=True)
    command_id = _queue(app, radius_router.id, lambda r: radius_commands.queue_disconnect(r, "v-500"))
    run_worker(app)
    with app.app_context():
        row = _db.session.scalar(select(RouterCommand).where(RouterCommand.id == command_id))
        assert row.state == CommandState.dead and row.attempts == app.config["RETRY_MAX"]
        assert row.result["answers"][0]["answer"] == "timeout"  # the packet's outcome stays on the row
        assert "connection refused" in row.last_error  # and the API's failure beside it


def test_an_attribute_the_dictionary_lacks_falls_back_to_the_kick_not_a_stuck_command(app, radius_router):
    """Anything the packet path raises (here a CoA attribute pyrad's dictionary does not know) hands the command
    to the API fallback, recorded, instead of leaving it claimed and running."""
    command_id = _queue(app, radius_router.id, lambda router: radius_commands.queue_coa(
        router, "erin", {"No-Such-Attribute": "x"}))
    run_worker(app, promote_scheduled=False)
    state, result, _error, _priority = _command(app, command_id)
    assert state == CommandState.done and result.get("fallback") == "api kick"
    assert "No-Such-Attribute" in str(result.get("packet", ""))
