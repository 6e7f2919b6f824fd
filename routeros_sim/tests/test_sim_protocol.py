"""Tags, streams, /cancel, listen, !empty and the shape of traps, on raw sockets."""

import pytest
import routeros_api

from routeros_sim.tests.simclient import PASSWORD, RawClient, attrs


def test_interleaved_tagged_commands_on_one_connection(raw):
    raw.send("/interface/monitor-traffic", "=interface=ether1", "=interval=0.05", ".tag=mon")
    raw.send("/system/identity/print", ".tag=id")
    while True:
        sentence = raw.read()
        if ".tag=id" in sentence:
            assert sentence == ["!re", ".tag=id", "=name=r720"]
            assert raw.read() == ["!done", ".tag=id"]
            break
        assert ".tag=mon" in sentence
    mon = [raw.read() for _ in range(2)]
    assert all(s[:2] == ["!re", ".tag=mon"] and attrs(s)["name"] == "ether1" for s in mon)
    raw.send("/cancel", "=tag=mon", ".tag=c")
    replies = raw.until_done(tag="c")
    mine = [s for s in replies if ".tag=mon" in s and s[0] != "!re"]
    assert mine == [["!trap", ".tag=mon", "=category=2", "=message=interrupted"], ["!done", ".tag=mon"]]
    assert replies[-1] == ["!done", ".tag=c"]


def test_untagged_replies_carry_no_tag(raw):
    raw.send("/system/identity/print")
    assert all(not w.startswith(".tag") for s in raw.until_done() for w in s)


def test_trap_has_only_category_and_message_and_is_followed_by_done(raw):
    raw.send("/ip/hotspot/user/set", "=.id=*FFFF", "=comment=x", ".tag=7")
    assert raw.until_done() == [["!trap", ".tag=7", "=category=0", "=message=no such item (4)"],
                                ["!done", ".tag=7"]]


def test_empty_on_7_18_and_later(raw):
    raw.send("/ip/hotspot/active/print", ".tag=e")
    assert raw.until_done() == [["!empty", ".tag=e"], ["!done", ".tag=e"]]


def test_no_empty_before_7_18(fleet):
    client = RawClient(fleet["r716"].port)
    client.login()
    client.send("/ip/hotspot/active/print", ".tag=e")
    assert client.until_done() == [["!done", ".tag=e"]]
    client.close()


def test_count_only_never_sends_empty(raw):
    raw.send("/ip/hotspot/active/print", "=count-only=")
    assert raw.until_done() == [["!done", "=ret=0"]]


def test_add_returns_new_id_in_ret(raw):
    raw.send("/ppp/secret/add", "=name=ret-check", ".tag=a")
    done = raw.until_done()
    assert len(done) == 1 and done[0][:2] == ["!done", ".tag=a"] and attrs(done[0])["ret"].startswith("*")
    raw.send("/ppp/secret/remove", "=.id=" + attrs(done[0])["ret"])
    raw.until_done()


def test_listen_streams_changes_and_dead_items(router, raw):
    raw.send("/ip/hotspot/user/listen", ".tag=l")
    raw.send("/ip/hotspot/user/add", "=name=watched", ".tag=a")
    replies = raw.until_done(tag="a")
    uid = attrs(replies[-1])["ret"]
    events = [s for s in replies if ".tag=l" in s]
    if not events:
        events = [raw.read()]
    assert events[0][:2] == ["!re", ".tag=l"] and attrs(events[0])["name"] == "watched"
    # A removal made from another thread (here: the test's) must reach the stream too.
    with router.state.lock:
        menu = router.state.menu("/ip/hotspot/user")
        menu.delete(menu.find(uid))
    assert raw.read() == ["!re", ".tag=l", "=.id=" + uid, "=.dead=true"]
    raw.send("/cancel", "=tag=l", ".tag=c")
    tail = raw.until_done(tag="c")
    assert tail == [["!trap", ".tag=l", "=category=2", "=message=interrupted"], ["!done", ".tag=l"],
                    ["!done", ".tag=c"]]


def test_print_follow_sends_current_rows_then_changes(raw):
    raw.send("/ip/hotspot/user/profile/print", "=follow=", "=.proplist=name", ".tag=f")
    assert raw.read() == ["!re", ".tag=f", "=name=default"]
    raw.send("/ip/hotspot/user/profile/add", "=name=followed")
    got = [raw.read(), raw.read()]
    assert ["!re", ".tag=f", "=name=followed"] in got
    raw.send("/cancel", ".tag=c")
    assert raw.until_done(tag="c")[-2:] == [["!done", ".tag=f"], ["!done", ".tag=c"]]


def test_cancel_of_unknown_tag_is_harmless(raw):
    raw.send("/cancel", "=tag=nothing", ".tag=c")
    assert raw.until_done() == [["!done", ".tag=c"]]


@pytest.mark.parametrize("words, message", [
    (["/interface/monitor-traffic", "=interface=nope"], "input does not match any value of interface"),
    (["/ip/nothing/listen"], "no such command or directory (nothing)"),
])
def test_streams_with_bad_arguments_trap_immediately(raw, words, message):
    raw.send(*words)
    replies = raw.until_done()
    assert attrs(replies[0])["message"] == message and replies[-1] == ["!done"]


def test_routeros_api_reads_an_empty_print_on_7_20(router):
    pool = routeros_api.RouterOsApiPool("127.0.0.1", username="admin", password=PASSWORD,
                                        port=router.port, plaintext_login=True)
    assert pool.get_api().get_resource("/ip/hotspot/active").get() == []
    pool.disconnect()
