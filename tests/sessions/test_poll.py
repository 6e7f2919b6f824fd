"""The session poll against the simulator: who is online, session history, usage per day, the FUP."""
from __future__ import annotations

import json

from sqlalchemy import select

from isp.extensions import db as _db
from tests.sessions.conftest import iface_bytes, live, poll, sessions_of, sub_row, usage

MAC = "02:11:22:33:44:55"


def test_a_subscriber_who_dials_in_is_online_after_one_poll_with_address_and_caller_id(app, box, make_sub):
    sub_id = make_sub(box.id, "pppoe", "alice", caller_id=MAC, static_ip="10.20.0.7")
    box.sim.state.add("/ppp/secret", name="alice", password="pw", service="pppoe", caller_id=MAC,
                      remote_address="10.20.0.7")
    assert live(app, sub_id)[sub_id].online is False
    assert box.sim.login("alice", "ppp", mac=MAC) is None
    box.fleet.advance(90)

    assert poll(app, box.id).startswith("online 1, opened 1")
    state = live(app, sub_id)[sub_id]
    assert (state.online, state.address, state.caller_id) == (True, "10.20.0.7", MAC)
    assert state.uptime_seconds == 90 and state.polled_at is not None
    (session,) = sessions_of(app, sub_id)
    assert session.ended_at is None and session.session_key.startswith("0x81")


def test_usage_accrues_per_day_and_in_the_period_without_double_counting(app, box, make_sub):
    sub_id = make_sub(box.id, "pppoe", "bob")
    box.sim.state.add("/ppp/secret", name="bob", password="pw")
    poll(app, box.id)  # the router's first poll: nobody online yet
    box.sim.login("bob", "ppp")
    box.fleet.advance(60)
    poll(app, box.id)
    first = iface_bytes(box.sim, "bob")
    assert first[0] > 0 and first[1] > first[0]
    assert usage(app, sub_id) == first  # a session born since the last poll counts whole

    box.fleet.advance(60)
    poll(app, box.id)
    poll(app, box.id)  # nothing moved in between: nothing added
    second = iface_bytes(box.sim, "bob")
    assert second[0] > first[0]
    assert usage(app, sub_id) == second
    assert sub_row(app, sub_id).period_bytes == sum(second)
    (session,) = sessions_of(app, sub_id)
    assert (session.bytes_in, session.bytes_out, session.uptime_seconds) == (*second, 120)


def test_the_first_poll_of_a_router_takes_baselines_instead_of_counting_old_traffic(app, box, make_sub):
    sub_id = make_sub(box.id, "pppoe", "carol")
    box.sim.state.add("/ppp/secret", name="carol", password="pw")
    box.sim.login("carol", "ppp")
    box.fleet.advance(3600)  # an hour of traffic before the panel ever looked
    poll(app, box.id)
    before = iface_bytes(box.sim, "carol")
    assert usage(app, sub_id) == (0, 0) and live(app, sub_id)[sub_id].online
    box.fleet.advance(60)
    poll(app, box.id)
    after = iface_bytes(box.sim, "carol")
    assert usage(app, sub_id) == (after[0] - before[0], after[1] - before[1])


def _kick(sim, user):
    with sim.state.lock:
        menu = sim.state.menu("/ppp/active")
        menu.delete(next(i for i in menu.items.values() if i["name"] == user))


def test_a_session_that_ends_is_closed_and_a_new_one_counts_from_zero(app, box, make_sub):
    sub_id = make_sub(box.id, "pppoe", "dave")
    box.sim.state.add("/ppp/secret", name="dave", password="pw")
    poll(app, box.id)
    box.sim.login("dave", "ppp")
    box.fleet.advance(60)
    poll(app, box.id)
    old = iface_bytes(box.sim, "dave")
    _kick(box.sim, "dave")
    box.fleet.advance(30)

    assert "closed 1" in poll(app, box.id)
    (ended,) = sessions_of(app, sub_id)
    assert ended.ended_at is not None and ended.end_reason == "gone"
    assert live(app, sub_id)[sub_id].online is False

    box.sim.login("dave", "ppp")  # dials in again: a new session, its counters start at zero
    box.fleet.advance(60)
    poll(app, box.id)
    new = iface_bytes(box.sim, "dave")
    first, second = sessions_of(app, sub_id)
    assert second.ended_at is None and second.session_key != first.session_key
    assert usage(app, sub_id) == (old[0] + new[0], old[1] + new[1])
    assert sub_row(app, sub_id).period_bytes == sum(old) + sum(new)


def test_reaching_the_data_cap_turns_on_the_fup_once_and_queues_the_fallback_profile(app, box, make_sub):
    from isp.models import CustomerEvent, RouterCommand

    sub_id = make_sub(box.id, "pppoe", "erin", cap=5_000_000, fup_rate="512k/1M")
    box.sim.state.add("/ppp/secret", name="erin", password="pw")
    poll(app, box.id)
    box.sim.login("erin", "ppp")
    box.fleet.advance(1)
    poll(app, box.id)
    assert sub_row(app, sub_id).fup_active is False  # a second of traffic is under 5 MB
    box.fleet.advance(600)
    assert "fup 1" in poll(app, box.id)
    sub = sub_row(app, sub_id)
    assert sub.fup_active is True and sub.period_bytes >= 5_000_000
    with app.app_context():
        (command,) = _db.session.scalars(select(RouterCommand).where(RouterCommand.idempotency_key == "service:pppoe:erin"))
        payload = json.loads(command.payload_json)
        events = list(_db.session.scalars(select(CustomerEvent.summary).where(CustomerEvent.subscription_id == sub_id)))
    assert f'"{sub.plan.profile_name}-fup"' in json.dumps(payload)  # the secret moves to the plan's FUP profile
    assert len(events) == 1 and "Data cap of" in events[0]
    box.fleet.advance(60)
    assert "fup 0" in poll(app, box.id)  # already on the fallback rate: nothing queued again


def test_a_hotspot_subscriber_is_tracked_from_the_active_list(app, box, make_sub):
    sub_id = make_sub(box.id, "hotspot", "frank")
    box.sim.state.add("/ip/hotspot/user", name="frank", password="pw")
    box.sim.state.add("/ip/hotspot/user", name="VOUCHER1", password="x")
    poll(app, box.id)
    box.sim.login("frank", "hotspot", mac=MAC)
    box.sim.login("VOUCHER1", "hotspot")  # a voucher user on the same router is none of ours
    box.fleet.advance(60)
    assert poll(app, box.id).startswith("online 1, opened 1")
    (row,) = [r for r in box.sim.state.rows("/ip/hotspot/active") if r["user"] == "frank"]
    state = live(app, sub_id)[sub_id]
    assert (state.online, state.address, state.caller_id) == (True, row["address"], MAC)
    assert usage(app, sub_id) == (int(row["bytes-in"]), int(row["bytes-out"]))


def _queue_bytes(sim, name):
    row = next(q for q in sim.state.rows("/queue/simple") if q["name"] == name)
    up, down = row["bytes"].split("/")
    return int(up), int(down)


def test_a_static_subscriber_is_counted_from_its_queue_and_other_queues_are_ignored(app, box, make_sub):
    sub_id = make_sub(box.id, "static", "gina", static_ip="10.30.0.5")
    other_id = make_sub(box.id, "static", "hank", static_ip="10.30.0.6")
    box.sim.state.add("/queue/simple", name="isp-gina", target="10.30.0.5/32", max_limit="2M/8M",
                      comment="isp service T-000001")
    box.sim.state.add("/queue/simple", name="operator-own", target="10.30.0.6/32")  # not the panel's
    poll(app, box.id)
    box.fleet.advance(300)
    poll(app, box.id)
    box.fleet.advance(300)
    poll(app, box.id)
    counted = _queue_bytes(box.sim, "isp-gina")
    assert counted[1] > counted[0] > 0
    assert usage(app, sub_id) == counted  # the first poll saw the new queue at 0/0
    assert sub_row(app, sub_id).period_bytes == sum(counted)
    state = live(app, sub_id, other_id)
    assert (state[sub_id].online, state[sub_id].address) == (True, "10.30.0.5")
    assert state[other_id].online is False and usage(app, other_id) == (0, 0)

    box.sim.reboot()  # queue counters restart at boot: a new counting session, nothing lost or counted twice
    box.fleet.advance(120)
    poll(app, box.id)  # may meet the pooled connection the reboot cut, as a real poll would
    assert poll(app, box.id).startswith("online 1")
    after = _queue_bytes(box.sim, "isp-gina")
    assert usage(app, sub_id) == (counted[0] + after[0], counted[1] + after[1])
    assert [s.ended_at is None for s in sessions_of(app, sub_id)] == [False, True]


def test_a_suspended_static_ip_held_at_a_trickle_is_not_shown_online(app, box, make_sub):
    sub_id = make_sub(box.id, "static", "jill", static_ip="10.30.0.9")
    # What provisioning leaves for a suspended static IP: the queue stays enabled at 1k, marked restricted.
    box.sim.state.add("/queue/simple", name="isp-jill", target="10.30.0.9/32", max_limit="1k/1k",
                      comment="isp service T-000002 plan 1 restricted")
    poll(app, box.id)
    box.fleet.advance(300)
    assert poll(app, box.id).startswith("online 0")
    assert live(app, sub_id)[sub_id].online is False and sessions_of(app, sub_id) == []


def test_a_router_that_is_down_changes_nothing(app, box, make_sub):
    sub_id = make_sub(box.id, "pppoe", "ivan")
    box.sim.state.add("/ppp/secret", name="ivan", password="pw")
    poll(app, box.id)
    box.sim.login("ivan", "ppp")
    box.fleet.advance(60)
    poll(app, box.id)
    before = (usage(app, sub_id), [(s.id, s.ended_at, s.bytes_in) for s in sessions_of(app, sub_id)])
    box.sim.faults.down = True
    box.fleet.advance(60)
    import time

    time.sleep(0.2)  # the simulator's watcher closes the listener within 50 ms
    result = poll(app, box.id)
    assert result.startswith("failed") or result.startswith("circuit")
    assert (usage(app, sub_id), [(s.id, s.ended_at, s.bytes_in) for s in sessions_of(app, sub_id)]) == before
    assert live(app, sub_id)[sub_id].online is True  # the last poll's view stands until the router answers


def test_a_router_row_that_cannot_be_read_is_skipped_and_listed_the_others_go_on(app, box, make_sub):
    from isp.services import job_problems

    good = make_sub(box.id, "pppoe", "nina")
    odd = make_sub(box.id, "pppoe", "otto")
    for name in ("nina", "otto"):
        box.sim.state.add("/ppp/secret", name=name, password="pw")
        box.sim.login(name, "ppp")
    box.fleet.advance(60)
    with box.sim.state.lock:
        box.sim.state.menu("/interface").by_name("<pppoe-otto>")["_session"]["_iface"] = {}  # freeze its counters
        box.sim.state.menu("/interface").by_name("<pppoe-otto>")["rx-byte"] = "lots"
    assert poll(app, box.id).startswith("online 1, opened 1")
    assert live(app, good)[good].online and not live(app, odd)[odd].online
    with app.app_context():
        (problem,) = job_problems.recent()
    assert problem["job"] == "session poll" and "invalid literal" in problem["error"]
