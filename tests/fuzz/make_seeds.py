#!/usr/bin/env python3
"""Write the seed corpus of fuzz_wire into corpus_wire/ beside this file.

Each seed is a byte stream of frames as a link receives them (src/wire.h):
a big-endian header of body length and message type, the fixed part, then
floating fields of tag, length and data.  Run it again after a change of
the framing; the seeds are small and checked in.
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


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "corpus_wire")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
