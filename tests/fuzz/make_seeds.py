#!/usr/bin/env python3
"""Write the seed corpora of fuzz_wire and fuzz_ged188 into corpus_wire/
and corpus_ged188/ beside this file.

Each seed is a byte stream of frames as a link receives them (src/wire.h):
a big-endian header of body length and message type, the fixed part, then
floating fields of tag, length and data.  A GED-188 seed starts with one
byte, the protocol version of the session (fuzz_ged188 takes 13 + byte %
13), and its floating headers are 1-byte tag and length up to version 19,
2-byte from 20 (src/ged188.h).  Run it again after a change of the framing
or of a layout; the seeds are small and checked in.
"""
import os
import struct

HELLO, HELLO_ACK, HEARTBEAT, BYE = 0x4001, 0x4002, 0x4003, 0x4004
HEARTBEAT_REQ, OPEN_REQ = 5, 3
PG_STATUS, GRANT, AGENT_STATES, PERIPH_OFFLINE = 0x4101, 0x4102, 0x4104, 0x4105
INTERVAL, DISCARD, PIM_ACTIVATE, ACD_SET_AGENT = 0x4106, 0x4108, 0x4301, 0x4307
DELIVERY_ACK, PEER_STATE = 0x4107, 0x4201
TAG_NODE_NAME, TAG_LAB_NAME, TAG_TEXT = 0x4001, 0x4002, 0x4003
TAG_PERIPHERAL = 0x4004


def frame(mtype, body):
    """One frame: header and body."""
    return struct.pack(">II", len(body), mtype) + body


def flt(tag, data):
    """One floating field."""
    return struct.pack(">HH", tag, len(data)) + data


def hello(node, lab, ack=False, version=2, extra=b""):
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
                      + struct.pack(">9I", 1001, *range(8))),
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


if __name__ == "__main__":
    main()
