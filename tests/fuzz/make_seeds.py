#!/usr/bin/env python3
"""Write the seed corpora of fuzz_wire, fuzz_ged188, fuzz_ctl, fuzz_spool,
fuzz_arb, fuzz_fence, fuzz_pimfsm and fuzz_router into corpus_NAME/ beside
this file (corpus_cfg holds lab files, kept by hand).

Each seed is a byte stream of frames as a link receives them (src/wire.h):
a big-endian header of body length and message type, the fixed part, then
floating fields of tag, length and data.  A GED-188 seed starts with one
byte, the protocol version of the session (fuzz_ged188 takes 13 + byte %
13), and its floating headers are 1-byte tag and length up to version 19,
2-byte from 20 (src/ged188.h).  Run it again after a change of the framing
or of a layout; the seeds are small and checked in.

A control-socket seed is what a client writes: frames of a 4-byte length
and JSON.  A spool seed starts with the router's answers (a count byte,
two bytes each), then the spool's frames.  A state-machine seed is a
sequence of events, each an opcode byte and its operands, as the harness's
comment describes.
"""
import os
import struct

HELLO, HELLO_ACK, HEARTBEAT, BYE = 0x4001, 0x4002, 0x4003, 0x4004
HEARTBEAT_REQ, OPEN_REQ = 5, 3
PG_STATUS, GRANT, AGENT_STATES, PERIPH_OFFLINE = 0x4101, 0x4102, 0x4104, 0x4105
INTERVAL, DISCARD, PIM_ACTIVATE, ACD_SET_AGENT = 0x4106, 0x4108, 0x4301, 0x4307
DELIVERY_ACK, PEER_STATE, PEER_SET_AGENT = 0x4107, 0x4201, 0x4203
TAG_NODE_NAME, TAG_LAB_NAME, TAG_TEXT = 0x4001, 0x4002, 0x4003
TAG_PERIPHERAL, TAG_MRD = 0x4004, 0x4006
TAG_SELECTOR = 0x4007
TAG_HANDLED = 0x400a
DESKTOP_LOGIN, DESKTOP_WELCOME = 0x4401, 0x4402
DESKTOP_STATE, DESKTOP_SET_STATE = 0x4403, 0x4404
(NEW_TASK, DO_THIS_WITH_TASK, NEW_TASK_FAILURE, ROUTING_ENABLED,
 ROUTING_DISABLED) = range(0x4501, 0x4506)
ROUTE_TASK, ROUTE_RESULT, PRECALL, TASK_EVENT = range(0x4601, 0x4605)


def frame(mtype, body):
    """One frame: header and body."""
    return struct.pack(">II", len(body), mtype) + body


def flt(tag, data):
    """One floating field."""
    return struct.pack(">HH", tag, len(data)) + data


def hello(node, lab, ack=False, version=3, extra=b""):
    """A HELLO or HELLO_ACK with the node and lab names, NUL counted."""
    body = struct.pack(">IIIB", version, 100, 0, ord("A"))
    body += flt(TAG_NODE_NAME, node + b"\0") + flt(TAG_LAB_NAME, lab + b"\0")
    return frame(HELLO_ACK if ack else HELLO, body + extra)


def bye(reason, text=None):
    """A BYE, with its text field when given."""
    body = struct.pack(">I", reason)
    if text is not None:
        body += flt(TAG_TEXT, text)
    return frame(BYE, body)


def task(mtype, dialogue=7, code=0, flags=0, when_ms=250, selector=None,
         text=None, extra=b""):
    """A task message: fourteen u32, then the selector and the text."""
    body = struct.pack(">14I", 5100, 3, dialogue, 2, 1001, 5000, 0, 42,
                       dialogue, code, flags, 1, 1700000000, when_ms)
    if selector is not None:
        body += flt(TAG_SELECTOR, selector)
    if text is not None:
        body += flt(TAG_TEXT, text)
    return frame(mtype, body + extra)


SEEDS = {
    "hello": hello(b"pg-a", b"demo"),
    "hello_ack": hello(b"pg-b", b"demo", ack=True),
    "hello_extra_tag": hello(b"router", b"lab", extra=flt(0x7777, b"\1\2")),
    "hello_bad_version": hello(b"pg-a", b"demo", version=2),
    "heartbeat": frame(HEARTBEAT, struct.pack(">I", 42)),
    "heartbeat_req": frame(HEARTBEAT_REQ, struct.pack(">I", 7)),
    "bye_text": bye(1, b"shutting down\0"),
    "bye_text_no_nul": bye(2, b"reload"),
    "bye_empty": bye(0),
    "bye_field_past_end": frame(BYE, struct.pack(">IHH", 3, TAG_TEXT, 40)
                                + b"short"),
    "two_frames": hello(b"pg-a", b"demo")
                  + frame(HEARTBEAT, struct.pack(">I", 1)),
    "hello_truncated": hello(b"pg-a", b"demo")[:20],
    "open_req": frame(OPEN_REQ, bytes(44) + flt(1, b"client\0")),
    # Internal messages (src/wire/msg.c).
    "pg_status": frame(PG_STATUS, struct.pack(">IBBBBIIB", 5000, ord("A"),
                                              1, 2, 0, 3, 0, 1)),
    "grant": frame(GRANT, struct.pack(">III", 5000, 4, 2)
                   + flt(TAG_TEXT, b"peer lost\0")),
    "agent_states": frame(AGENT_STATES, struct.pack(">IIBBH", 5000, 4, 2, 1, 2)
                          + struct.pack(">IHHIiI", 1001, 3, 0, 1500, 0, 1)
                          + struct.pack(">IHHIiI", 1002, 2, 3, 0, 50002, 1)),
    "periph_offline": frame(PERIPH_OFFLINE, struct.pack(">IIIi", 5000, 4, 3,
                                                        50002)
                            + flt(TAG_TEXT, b"offline\0")),
    "interval": frame(INTERVAL, struct.pack(">IIIIIBBH", 5000, 4, 1,
                                            1700000000, 1800, 0, ord("B"), 1)
                      + struct.pack(">10I", 1001, 1, *range(8))),
    "discard": frame(DISCARD, struct.pack(">IIIIIIB", 5000, 2, 1, 1700000000,
                                          20, 1, ord("A"))
                     + flt(TAG_TEXT, b"spool full")),
    "pim_activate": frame(PIM_ACTIVATE, struct.pack(">IIB", 4, 5000, 0)),
    "peer_state": frame(PEER_STATE, struct.pack(">IIB", 4, 2, 0)
                        + flt(TAG_PERIPHERAL, struct.pack(">I", 5001))),
    "delivery_ack": frame(DELIVERY_ACK, struct.pack(">IIB", 7, 0, 1)
                          + flt(TAG_PERIPHERAL, struct.pack(">I", 5001))
                          + flt(TAG_TEXT, b"refused: stale epoch 1\0")),
    "acd_set_agent": frame(ACD_SET_AGENT, struct.pack(">IIHi", 4, 1001, 2,
                                                      -1)),
    "peer_set_agent": frame(PEER_SET_AGENT, struct.pack(">IIHi", 0, 1001, 11,
                                                        0)
                            + flt(TAG_PERIPHERAL, struct.pack(">I", 5000))
                            + flt(TAG_MRD, struct.pack(">I", 2))
                            + flt(TAG_HANDLED, struct.pack(">I", 1))),
    # Desktop messages (src/wire/proto_desktop.c).
    "desktop_login": frame(DESKTOP_LOGIN, struct.pack(">IIHHiHII", 1001,
                                                      5000, 3, 1, 0, 2, 1,
                                                      2)),
    "desktop_login_no_mrd": frame(DESKTOP_LOGIN, struct.pack(
        ">IIHHiH", 1002, 5000, 1, 0, 0, 0)),
    "desktop_login_bad_state": frame(DESKTOP_LOGIN, struct.pack(
        ">IIHHiH", 1002, 5000, 4, 0, 0, 0)),
    "desktop_welcome": frame(DESKTOP_WELCOME, struct.pack(">I", 1)
                             + flt(TAG_NODE_NAME, b"desk-a\0")),
    "desktop_state": frame(DESKTOP_STATE, struct.pack(">IHHi", 2, 4, 3,
                                                      0)),
    "desktop_set_state": frame(DESKTOP_SET_STATE, struct.pack(">HHi", 2, 0,
                                                              12)),
    "desktop_set_state_reserved": frame(DESKTOP_SET_STATE, struct.pack(
        ">HHi", 2, 1, 0)),
    # Task messages of media routing (struct msg_task).
    "new_task": task(NEW_TASK, selector=b"Email\0"),
    "do_this_with_task": task(DO_THIS_WITH_TASK, flags=0x02, text=b"go"),
    "new_task_failure": task(NEW_TASK_FAILURE, code=5,
                             text=b"DialogueID in use\0"),
    "routing_enabled": task(ROUTING_ENABLED),
    "routing_disabled": task(ROUTING_DISABLED, text=b"router gone"),
    "route_task": task(ROUTE_TASK, flags=0x11, selector=b"Chat"),
    "route_result": task(ROUTE_RESULT, code=1) + task(PRECALL, code=1),
    "task_event": task(TASK_EVENT, code=3, extra=flt(0x7777, b"\1")),
    "task_bad_ms": task(TASK_EVENT, when_ms=1000),
    "task_long_selector": task(NEW_TASK, selector=b"s" * 33),
}


# GED-188 (src/ged188.h): message numbers and tags.
(G_FAILURE_CONF, G_OPEN_REQ, G_OPEN_CONF, G_HEARTBEAT_REQ, G_CLOSE_REQ,
 G_AGENT_STATE_EVENT, G_SYSTEM_EVENT, G_CONTROL_FAILURE_CONF,
 G_QUERY_AGENT_STATE_REQ, G_QUERY_AGENT_STATE_CONF, G_SET_AGENT_STATE_REQ,
 G_MEDIA_LOGIN_REQ, G_MEDIA_LOGIN_RESP, G_MEDIA_LOGOUT_IND,
 G_FAILURE_RESP) = (1, 3, 4, 5, 7, 30, 31, 35, 36, 37, 38, 151, 152, 153, 190)


def gflt(version, tag, data):
    """One GED-188 floating field in the width of the version."""
    if version >= 20:
        return struct.pack(">HH", tag, len(data)) + data
    return struct.pack(">BB", tag, len(data)) + data


def ged(version, *frames):
    """A GED-188 seed: the version byte, then the frames."""
    return bytes([version]) + b"".join(frames)


def open_req(version, extra=b""):
    """An OPEN_REQ asking for the version, with ClientID and password."""
    body = struct.pack(">11I", 1, version, 80, 0xFFFFFFFF, 0x10, 0, 0x3FFF,
                       0, 0, 0, 0)
    body += gflt(version, 1, b"ClientID\0") + gflt(version, 2, b"")
    return frame(G_OPEN_REQ, body + extra)


def open_conf(version):
    """An OPEN_CONF of the version's length, with one peripheral."""
    body = struct.pack(">5IHHH", 1, 0x10, 0, 0, 1700000000, 1, 17, 0)
    if version >= 19:
        body += struct.pack(">i", -1)
    if version >= 24:
        body += struct.pack(">H", 1)
    body += gflt(version, 228, struct.pack(">H", 1))
    body += gflt(version, 208, struct.pack(">I", 5000))
    body += gflt(version, 224, struct.pack(">H", 0))
    return frame(G_OPEN_CONF, body)


def agent_state_event(version):
    """An AGENT_STATE_EVENT of the version's length, one skill group."""
    body = struct.pack(">3IHHIIIHHHiIHIiIH", 0, 5000, 0, 17, 3, 0, 10, 20,
                       1, 3, 0, 1, 0, 1, 1, 5001, 1, 1)
    if version >= 19:
        body += struct.pack(">i", 7)
    body += gflt(version, 5, b"1001\0") + gflt(version, 4, b"2001\0")
    body += gflt(version, 62, struct.pack(">i", 10))
    body += gflt(version, 63, struct.pack(">I", 20))
    body += gflt(version, 64, struct.pack(">H", 1))
    body += gflt(version, 65, struct.pack(">H", 3))
    if version >= 22:
        body += gflt(version, 266, struct.pack(">I", 2))
    return frame(G_AGENT_STATE_EVENT, body)


def query_conf(version):
    """A QUERY_AGENT_STATE_CONF of the version's length."""
    body = struct.pack(">IHHiIHIiI", 4, 3, 1, 1, 0, 1, 1, 5001, 1)
    if version >= 19:
        body += struct.pack(">i", 7)
    return frame(G_QUERY_AGENT_STATE_CONF, body + gflt(version, 5, b"1001"))


GED_SEEDS = {
    "open_req_v13": ged(13, open_req(13)),
    "open_req_v19": ged(19, open_req(19), frame(G_HEARTBEAT_REQ,
                                                struct.pack(">I", 2))),
    "open_req_v20": ged(20, open_req(20, gflt(20, 97, struct.pack(">i", 3)))),
    "open_req_v25_long_id": ged(25, open_req(25, gflt(25, 194, b"x" * 128
                                                      + b"\0"))),
    "open_req_other_version": ged(19, open_req(24)),
    "open_conf_v13": ged(13, open_conf(13)),
    "open_conf_v19": ged(19, open_conf(19)),
    "open_conf_v24": ged(24, open_conf(24)),
    "agent_state_event_v18": ged(18, agent_state_event(18)),
    "agent_state_event_v19": ged(19, agent_state_event(19)),
    "agent_state_event_v22": ged(22, agent_state_event(22)),
    "system_event": ged(20, frame(G_SYSTEM_EVENT, struct.pack(
        ">6IH", 0, 1700000000, 5, 0, 0, 0, 0xFFFF)
        + gflt(20, 7, b"hello\0") + gflt(20, 206, b"dev"))),
    "set_agent_state_req": ged(13, frame(G_SET_AGENT_STATE_REQ, struct.pack(
        ">IIHHHHBI", 7, 5000, 3, 0, 1, 0, 1, 1)
        + gflt(13, 6, b"1001\0") + gflt(13, 5, b"1001\0")
        + gflt(13, 62, struct.pack(">i", 10)) + gflt(13, 64, b"\0\1"))),
    "query_agent_state": ged(21, frame(G_QUERY_AGENT_STATE_REQ, struct.pack(
        ">IIii", 4, 5000, 1, -1) + gflt(21, 5, b"1001\0")), query_conf(21)),
    "control_failure_conf": ged(19, frame(G_CONTROL_FAILURE_CONF,
                                          struct.pack(">IHI", 4, 256, 0))),
    "close_and_failure": ged(19, frame(G_CLOSE_REQ, struct.pack(">II", 9, 0)),
                             frame(G_FAILURE_CONF, struct.pack(">II", 9, 4))),
    "media_login": ged(22, frame(G_MEDIA_LOGIN_REQ, struct.pack(
        ">IIiiI", 1, 5000, 2, 5001, 5) + gflt(22, 5, b"1001\0")
        + gflt(22, 266, struct.pack(">I", 1))),
        frame(G_MEDIA_LOGIN_RESP, struct.pack(">IIii", 1, 0, 2, 5001))),
    "media_logout": ged(25, frame(G_MEDIA_LOGOUT_IND, struct.pack(
        ">IIiiI", 2, 5000, 2, 5001, 0) + gflt(25, 259, struct.pack(">I", 38))
        + gflt(25, 260, struct.pack(">I", 1))),
        frame(G_FAILURE_RESP, struct.pack(">II", 2, 6))),
    # Refused ones: each path of the decoder.
    "bad_character": ged(19, open_req(19, gflt(19, 5, b"10\x01"))),
    "bad_field_past_end": ged(20, open_req(20, struct.pack(">HH", 1, 40)
                                           + b"short")),
    "bad_header_past_end": ged(20, open_req(20, b"\0\1\0")),
    "bad_numeric_size": ged(19, open_req(19, gflt(19, 97, b"\0\1\2"))),
    "bad_fixed_short": ged(24, frame(G_OPEN_CONF, bytes(30))),
    "bad_too_many": ged(19, open_req(19, gflt(19, 200, b"") * 130)),
}


def ctl(*texts):
    """A control client's bytes: each text as one frame."""
    return b"".join(struct.pack(">I", len(t)) + t for t in texts)


CTL_SEEDS = {
    "status": ctl(b'{"argv": ["status"]}'),
    "watch": ctl(b'{"argv":["watch"]}'),
    "fault": ctl(b'{"argv": ["fault", "acd-link", "down"]}'),
    "two_requests": ctl(b'{"argv":["agents"]}',
                        b'{"argv":["events","100"]}'),
    "unicode": ctl('{"argv": ["set", "caf\u00e9 \\u00e9 \\ud83d\\ude00"]}'
                   .encode()),
    "escapes": ctl(b'{"argv": ["a\\"b", "\\n\\t\\/"], "x": {"y": [1]}}'),
    "no_command": ctl(b'{"argv": []}', b'{"argv":["status"]}'),
    "too_many_words": ctl(b'{"argv": [' + b",".join([b'"w"'] * 33) + b"]}"),
    "non_string": ctl(b'{"argv":[1,2]}'),
    "not_object": ctl(b'[1]'),
    "no_argv": ctl(b'{"args": ["status"]}'),
    "duplicate_key": ctl(b'{"argv": ["a"], "argv": ["b"]}'),
    "nul_escape": ctl(b'{"argv": ["a\\u0000b"]}'),
    "bad_utf8": ctl(b'{"argv": ["\xc3\x28\xff"]}'),
    "bad_json": ctl(b'{"argv": ["status"'),
    "zero_length": struct.pack(">I", 0),
    "huge_length": struct.pack(">I", 65537) + b"{}",
    "truncated": struct.pack(">I", 40) + b'{"argv": ["status"]}',
}


def interval(seq, rows, start=1700000000, periph=5000, side=b"A", v2=False):
    """An INTERVAL record of the spool, with rows agent rows (of the voice
    MRD 1 and of MRD 2 in turn); v2, of lab protocol 2 (no MRD)."""
    body = struct.pack(">IIIIIBBH", periph, 3, seq, start, 1800, 0,
                       side[0], len(rows))
    for i, agent in enumerate(rows):
        body += struct.pack(">I", agent)
        if not v2:
            body += struct.pack(">I", 1 + i % 2)
        body += struct.pack(">8I", 1800000, 600000, 300000, 0, 900000, 0,
                            0, 4)
    return frame(INTERVAL, body)


def discard(seq, rows, text=b"left undelivered\0"):
    """A DISCARD record of the spool (R1)."""
    return frame(DISCARD, struct.pack(">IIIIIIB", 5000, seq, 1, 1700000000,
                                      rows, 1, ord("A"))
                 + flt(TAG_TEXT, text))


def ack(seq):
    """An acknowledgement in the spool: a DELIVERY_ACK of its own."""
    return frame(DELIVERY_ACK, struct.pack(">IIB", seq, 0, 0))


def spool(answers, *frames):
    """A spool seed: the router's answers (kind, which), then the frames."""
    out = bytes([len(answers)])
    for kind, which in answers:
        out += bytes([kind, which])
    return out + b"".join(frames)


SPOOL_SEEDS = {
    "empty": spool([]),
    "one_interval": spool([], interval(1, [1001, 1002])),
    "acked": spool([], interval(1, [1001]), interval(2, [1002]), ack(1)),
    "loss_records": spool([(0, 0), (1, 1), (2, 0)], discard(4, 3),
                          interval(5, [1001]), discard(6, 1)),
    "all_answered": spool([(0, 0), (0, 1)], discard(1, 2), discard(2, 5)),
    "duplicate_seq": spool([(0, 1)], discard(7, 1), discard(7, 2),
                           interval(7, [1001])),
    "high_seq": spool([], interval(0xFFFFFFFE, [1001]), ack(3)),
    "truncated": spool([], interval(1, [1001, 1002]),
                       interval(2, [1001])[:30]),
    "bad_header": spool([], interval(1, [1001]),
                        struct.pack(">II", 3, 0x4106)),
    "other_types": spool([], frame(HEARTBEAT, struct.pack(">I", 1)),
                         interval(1, [1001])),
    "bad_rows": spool([], frame(INTERVAL, struct.pack(
        ">IIIIIBBH", 5000, 3, 1, 1700000000, 1800, 0, 65, 2) + bytes(36)),
        interval(2, [1002])),
    "short_tail": spool([], interval(1, [1001]), b"\0\0\0"),
    "protocol2": spool([(0, 1)], interval(1, [1001, 1002], v2=True),
                       discard(2, 2), interval(3, [1001], v2=True)),
}


# fuzz_arb: the events (opcode, operands) and PG_STATUS flags.
A_STATUS, A_FORGED, A_DOWN, A_UP, A_GONE = 0, 1, 2, 3, 4
A_SETTLE, A_GRACE, A_LATE, A_RESTART, A_DECIDE = 5, 6, 7, 8, 9
ACD, RESIGN, PEER, PREV, PEER_EPOCH = 0x02, 0x04, 0x08, 0x40, 0x80
IDLE, ACTIVATING, ACTIVE, RECOVERING = 0x00, 0x10, 0x20, 0x30


def st(side, *flags):
    """A side's honest PG_STATUS (side 0 is A, 1 is B)."""
    f = side
    for x in flags:
        f |= x
    return bytes([A_STATUS, f])


def forged(side, state, epoch):
    """A PG_STATUS with any epoch, as an impostor sends it."""
    return bytes([A_FORGED, side | ACD | state]) + struct.pack(">I", epoch)


def ev(op, *operands):
    """Any other event."""
    return bytes([op, *operands])


FIRST = st(0, ACD) + st(1, ACD)         # both candidates: A is granted
A_ACTIVE = st(0, ACD, ACTIVATING) + st(0, ACD, ACTIVE)
ARB_SEEDS = {
    "first_start": FIRST + A_ACTIVE + st(1, ACD, PEER, PEER_EPOCH),
    "failover_link": FIRST + A_ACTIVE + ev(A_DOWN, 0) + ev(A_DECIDE)
                     + st(1, ACD, ACTIVE) + ev(A_UP, 0) + st(0, ACD),
    "resign": FIRST + A_ACTIVE + st(0, ACTIVE, RESIGN) + st(1, ACD, ACTIVE),
    "pim_idle_grace": FIRST + A_ACTIVE + st(0, ACD) + ev(A_DECIDE)
                      + ev(A_GRACE) + st(1, ACD, ACTIVATING),
    "refused_grant": FIRST + st(0) + st(1, ACD, ACTIVATING)
                     + st(1, ACD, ACTIVE),
    "grant_in_flight": FIRST + A_ACTIVE + ev(A_DOWN, 0) + ev(A_DECIDE)
                       + st(1, ACD, ACTIVE, PREV) + st(1, ACD, ACTIVE),
    "restart_adopt": FIRST + A_ACTIVE + ev(A_RESTART) + ev(A_UP, 0)
                     + ev(A_UP, 1) + st(0, ACD, ACTIVE) + st(1, ACD),
    "restart_holder_gone": FIRST + A_ACTIVE + ev(A_RESTART) + ev(A_UP, 1)
                           + st(1, ACD) + ev(A_SETTLE, 1)
                           + ev(A_SETTLE, 3),
    "restart_waits": FIRST + A_ACTIVE + ev(A_RESTART) + ev(A_UP, 1)
                     + st(1, ACD, PEER) + ev(A_SETTLE, 1) + ev(A_UP, 0)
                     + st(0, ACD, RECOVERING),
    "late": FIRST + A_ACTIVE + ev(A_LATE, 1) + ev(A_DOWN, 0) + ev(A_DECIDE)
            + ev(A_LATE, 0) + ev(A_SETTLE, 3),
    "peer_gone": st(0, ACD) + ev(A_GONE, 0) + st(1, ACD) + ev(A_DECIDE),
    "forged_epochs": FIRST + A_ACTIVE + forged(1, ACTIVE, 0xFFFFFFFE)
                     + ev(A_DOWN, 0) + ev(A_DECIDE)
                     + forged(1, ACTIVE, 0xFFFFFFFF) + st(0, ACD),
}

# fuzz_fence: the events (opcode, operands); an epoch choice byte.
F_ACTIVATE, F_DEACTIVATE, F_DOWN, F_UP, F_PROBE, F_RESTART = range(6)
E_BELOW, E_SAME, E_NEXT, E_ABOVE, E_JUMP, E_PAST_JUMP = 0, 1, 2, 3, 4, 5
E_ASKED, E_ZERO, E_MAX, E_FAR_BELOW, E_NEAR_MAX, E_RAW = 6, 7, 8, 9, 10, 11


def activate(side, choice, periph=4):
    """PIM_ACTIVATE from a side (periph 4: the ACD's own)."""
    return bytes([F_ACTIVATE, side, choice, periph])


FENCE_SEEDS = {
    "accept_then_fence": activate(0, E_NEXT) + activate(1, E_NEXT)
                         + activate(0, E_ASKED) + activate(0, E_NEXT),
    "holder_again": activate(0, E_NEXT) + bytes([F_DOWN, 0, F_UP, 0])
                    + activate(0, E_SAME) + activate(1, E_SAME),
    "jumps": activate(0, E_ABOVE + 12 * 20) + activate(1, E_PAST_JUMP)
             + activate(1, E_JUMP) + activate(0, E_NEAR_MAX),
    "zero_and_max": activate(0, E_ZERO) + activate(1, E_MAX)
                    + activate(0, E_MAX) + activate(1, E_BELOW),
    "foreign": activate(0, E_NEXT, 1) + activate(0, E_NEXT, 3)
               + activate(1, E_NEXT),
    "deactivate": activate(1, E_NEXT) + bytes([F_DEACTIVATE, 1, E_BELOW,
                                               F_DEACTIVATE, 1, E_SAME])
                  + activate(0, E_NEXT),
    "restart": activate(0, E_RAW) + struct.pack(">I", 70000)
               + bytes([F_RESTART, F_UP, 0, F_UP, 1]) + activate(1, E_NEXT),
    "probes": activate(0, E_NEXT) + bytes([F_PROBE, 2, E_SAME, 4, 0,
                                           F_PROBE, 7, E_NEXT, 4, 20,
                                           F_PROBE, 5, E_ZERO, 1, 159]),
}

# fuzz_pimfsm: one event a byte (PEV_*).
GRANT, ACCEPTED, REFUSED, LINK_LOST, STOPPED, LINK_BACK = range(6)


def every_cell():
    """Each event in each state (reached by its prefix), then back to
    IDLE."""
    out = []
    for prefix in ([], [GRANT], [GRANT, ACCEPTED],
                   [GRANT, ACCEPTED, STOPPED]):
        for event in range(6):
            out += prefix + [event, LINK_LOST]
    return bytes(out)


PIMFSM_SEEDS = {
    "serve": bytes([GRANT, ACCEPTED]),
    "cti_manager_failover": bytes([GRANT, ACCEPTED, STOPPED, LINK_BACK,
                                   ACCEPTED]),
    "fenced": bytes([GRANT, ACCEPTED, REFUSED, ACCEPTED]),
    "regrant": bytes([GRANT, ACCEPTED, GRANT, ACCEPTED, LINK_LOST]),
    "every_cell": every_cell(),
    "out_of_range": bytes([0xF8, 0xF9, 0xFE, 0xFF, GRANT]),
}


# fuzz_router: the first byte is the highest epoch granted (% 4), then
# events: 0 f q t r an INTERVAL (side f&1, epoch f>>1&3, peripheral 5001
# if f&8, the other side's if f&0x10), 1 f q a DISCARD (rule R2 if f&2), 2 s
# and 3 s a link cut and back, 4 a restart, 5 the database locked.
R_IVL, R_DISCARD, R_CUT, R_BACK, R_RESTART, R_LOCK = range(6)


def ivl(f=0, seq=1, start=0, rows=3):
    """An INTERVAL event of fuzz_router."""
    return [R_IVL, f, seq, start, rows]


ROUTER_SEEDS = {
    "store": bytes([1] + ivl()),
    "store_both_sides": bytes([0] + ivl() + ivl(f=1) + ivl(seq=2, start=1)),
    "store_again": bytes([0] + ivl() + ivl() + ivl(seq=2, rows=0x0f)),
    "refused_epoch": bytes([0] + ivl(f=0x02) + ivl(f=0x02)),
    "refused_peripheral": bytes([2] + ivl(f=0x08, seq=3)),
    "refused_other_side": bytes([1] + ivl(f=0x11, seq=4)),
    "loss_record": bytes([0, R_DISCARD, 0x0c, 7] + ivl(seq=8)),
    "bad_loss_record": bytes([0, R_DISCARD, 0x02, 7] + ivl(seq=8)
                             + [R_BACK, 0] + ivl(seq=9)),
    "locked": bytes([0, R_LOCK] + ivl() + ivl(seq=2) + [R_LOCK,
                    R_DISCARD, 1, 3]),
    "locked_restart": bytes([0] + ivl() + [R_LOCK, R_RESTART] + ivl(seq=2)),
    "restart": bytes([3] + ivl(f=0x06) + [R_RESTART] + ivl(f=0x06, seq=2)
                     + ivl(f=0x07)),
    "link_cut": bytes([0] + ivl() + [R_CUT, 0] + ivl(seq=2) + [R_BACK, 0]
                      + ivl(seq=2) + [R_CUT, 1, R_RESTART] + ivl(f=1)),
}


def write(name, seeds):
    """Write one corpus directory beside this file."""
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    os.makedirs(out, exist_ok=True)
    for seed, data in sorted(seeds.items()):
        with open(os.path.join(out, seed + ".bin"), "wb") as f:
            f.write(data)


def main():
    write("corpus_wire", SEEDS)
    write("corpus_ged188", GED_SEEDS)
    write("corpus_ctl", CTL_SEEDS)
    write("corpus_spool", SPOOL_SEEDS)
    write("corpus_arb", ARB_SEEDS)
    write("corpus_fence", FENCE_SEEDS)
    write("corpus_pimfsm", PIMFSM_SEEDS)
    write("corpus_router", ROUTER_SEEDS)


if __name__ == "__main__":
    main()
