"""Wire codec: the five length forms, sentences, and odd words through a live router."""

import pytest

from routeros_sim.tests.simclient import RawClient, attrs
from routeros_sim.wire import SentenceDecoder, WireError, decode_length, encode_length, encode_sentence


@pytest.mark.parametrize("length, size, first", [
    (0x7F, 1, 0x7F), (0x80, 2, 0x80), (0x3FFF, 2, 0xBF), (0x4000, 3, 0xC0),
    (0x1FFFFF, 3, 0xDF), (0x200000, 4, 0xE0), (0xFFFFFFF, 4, 0xEF), (0x10000000, 5, 0xF0),
])
def test_length_forms_round_trip(length, size, first):
    raw = encode_length(length)
    assert len(raw) == size and raw[0] == first
    assert decode_length(raw, 0) == (length, size)


def test_decoder_handles_split_chunks_and_empty_sentences():
    data = encode_sentence(["/a", "=x=" + "y" * 300]) + b"\x00" + encode_sentence(["/b"])
    decoder = SentenceDecoder()
    got = []
    for i in range(len(data)):
        got.extend(decoder.feed(data[i:i + 1]))
    assert got == [["/a", "=x=" + "y" * 300], [], ["/b"]]


def test_decoder_accepts_non_minimal_five_byte_prefix():
    assert SentenceDecoder().feed(b"\xf0\x00\x00\x00\x02/a\x00") == [["/a"]]


def test_reserved_control_byte_is_rejected():
    with pytest.raises(WireError):
        SentenceDecoder().feed(b"\xf8")


def test_reserved_control_byte_closes_the_connection(router):
    client = RawClient(router.port)
    client.send_bytes(b"\xf9abc")
    with pytest.raises(ConnectionError):
        client.read()
    client.close()


@pytest.mark.parametrize("size", [5, 200, 20000, 3_000_000])
def test_comments_of_every_length_form_survive(raw, size):
    comment = "c" * size
    raw.send("/queue/simple/add", "=target=10.9.9.%d/32" % (size % 250), "=comment=" + comment)
    done = raw.until_done()[-1]
    qid = attrs(done)["ret"]
    raw.send("/queue/simple/print", "?.id=" + qid, "=.proplist=comment")
    rows = raw.until_done()
    assert attrs(rows[0])["comment"] == comment
    raw.send("/queue/simple/remove", "=.id=" + qid)
    assert raw.until_done() == [["!done"]]


def test_empty_sentences_are_ignored(raw):
    raw.send_bytes(b"\x00\x00")
    raw.send("/system/identity/print")
    assert raw.until_done() == [["!re", "=name=r720"], ["!done"]]


def test_flag_word_without_value_is_an_empty_value(raw):
    raw.send("/ip/hotspot/user/add", "=name=flagged", "=comment")
    uid = attrs(raw.until_done()[-1])["ret"]
    raw.send("/ip/hotspot/user/print", "?name=flagged", "=detail")
    rows = raw.until_done()
    assert attrs(rows[0])["comment"] == "" and attrs(rows[0])[".id"] == uid
    raw.send("/ip/hotspot/user/remove", "=.id=" + uid)
    raw.until_done()


def test_utf8_comment_round_trips(api):
    users = api.path("ip", "hotspot", "user")
    uid = users.add(name="utf", comment="Café – Ñandú")
    assert [u["comment"] for u in users if u[".id"] == uid] == ["Café – Ñandú"]
    users.remove(uid)
