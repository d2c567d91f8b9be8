"""The tests' GED-188 client against the public tables, without pgemud.

Every expected byte string below is written out by hand from
protocol-facts.md 1.2, 1.4 and 1.8 (field by field, with its size), not
produced by the client, so the client's encoder and decoder are checked
against the tables themselves:
 (1) OPEN_REQ at version 19 (1-byte floating tag and length) and 20
     (2-byte), strings with the NUL counted, and without on request;
 (2) AGENT_STATE_EVENT at version 18 (58-byte fixed part) and 19 (62,
     DepartmentID), and a v18 body read as v19 refused;
 (3) SET_AGENT_STATE_REQ's 21-byte fixed part, AgentServiceReq unaligned
     after the UCHAR ForcedFlag;
 (3c) the ARM task messages (pgemu-defined, docs/protocol.md's tables):
     OFFER_TASK_IND's 36 bytes with a negative TaskGroupLow,
     START_APPLICATION_TASK_REQ with XferInWhileLoggedOut (268) at v20,
     the RESPs' 20 bytes decoded, and each layout's length;
 (3d) the resync bracket (pgemu-defined, docs/protocol.md's tables):
     AGENT_INIT_REQ's 32 bytes and its AgentID, TASK_INIT_IND / _REQ's
     46 with TaskState and the times, the others' lengths and decoding;
 (4) the fixed lengths of every message of 1.4 and 1.8 by version
     (OPEN_CONF 26/30/32);
 (5) floating parts that run past the end, or do not fit the version;
 (6) a Session against a fake server socket in this test: open (the exact
     bytes sent), events logged while waiting, heartbeat, agent state
     query and set, close, EOF; a FAILURE_CONF to OPEN; a reset seen as
     the end; a silent server as a time-out, never a hang.
"""
import socket
import struct
import threading

import ged188_client as g
from pgemu_test import check, log, run

H = bytes.fromhex


def hexs(b):
    return b.hex(" ")


def same(got, want, what):
    check(got == want, "%s:\n got  %s\n want %s" % (what, hexs(got),
                                                      hexs(want)))


# 1.4 OPEN_REQ fixed part, 11 UINTs: InvokeID 1, VersionNumber, IdleTimeout
# 0xFFFFFFFF, PeripheralID 0xFFFFFFFF, ServicesRequested 0x10 (ALL_EVENTS),
# CallMsgMask 0, AgentStateMask 0x3fff, ConfigMsgMask 0, Reserved1..3 0.
def open_req_fixed(version):
    return H("00000001") + struct.pack(">I", version) + H(
        "ffffffff ffffffff 00000010 00000000 00003fff 00000000"
        " 00000000 00000000 00000000")


def test_open_req():
    # v19: ClientID tag 1, length 3, "ab\0"; ClientPassword tag 2, length
    # 0.  v20: the same fields, 2-byte tags and lengths.
    want19 = H("00000033 00000003") + open_req_fixed(19) + H(
        "01 03 616200 02 00")
    want20 = H("00000037 00000003") + open_req_fixed(20) + H(
        "0001 0003 616200 0002 0000")
    for v, want in ((19, want19), (20, want20)):
        got = g.encode(g.OPEN_REQ, dict(
            InvokeID=1, VersionNumber=v, IdleTimeout=0xFFFFFFFF,
            PeripheralID=0xFFFFFFFF, ServicesRequested=0x10,
            AgentStateMask=0x3fff),
            [(g.CLIENT_ID_TAG, g.flt_str("ab")),
             (g.CLIENT_PASSWORD_TAG, b"")], v)
        same(got, want, "OPEN_REQ v%d" % v)
    check(len(open_req_fixed(19)) == 44 == g.fixed_len(g.OPEN_REQ, 19),
          "OPEN_REQ fixed part is not 44 bytes")
    # Without the NUL: length 2.
    got = g.encode_floating([(g.CLIENT_ID_TAG, g.flt_str("ab", nul=False))],
                            20)
    same(got, H("0001 0002 6162"), "ClientID without NUL")
    # The decoder reads OPEN_REQ at its own VersionNumber.
    for v, raw in ((19, want19), (20, want20)):
        m = g.decode(g.OPEN_REQ, raw[8:])
        check(m["VersionNumber"] == v and m["AgentStateMask"] == 0x3fff and
              m.string(g.CLIENT_ID_TAG) == "ab" and
              m.raw(g.CLIENT_PASSWORD_TAG) == b"" and
              m.tags() == [1, 2], "OPEN_REQ v%d decoded as %r" % (v, m))
    # Read at v20, the v19 floating part is garbage that overruns.
    try:
        g.decode_floating(H("01 03 616200 02 00"), 20)
        check(False, "v19 floating part accepted at v20")
    except g.DecodeError as e:
        log("v19 floating part at v20: %s" % e)
    log("(1) OPEN_REQ v19/v20 byte for byte")


# 1.8 AGENT_STATE_EVENT, v18: MonitorID 0, PeripheralID 5000, SessionID 7,
# PeripheralType 17, SkillGroupState 2, StateDuration 0, SkillGroupNumber
# 100, SkillGroupID 200, SkillGroupPriority 0, AgentState 2,
# EventReasonCode 7, MRDID 1, NumTasks 0, AgentMode 1, MaxTaskLimit 1,
# ICMAgentID 5001, AgentAvailabilityStatus 0, NumFltSkillGroups 0.
ASE_58 = H("00000000 00001388 00000007 0011 0002 00000000 00000064 000000c8"
           " 0000 0002 0007 00000001 00000000 0001 00000001 00001389"
           " 00000000 0000")
ASE_FIELDS = dict(MonitorID=0, PeripheralID=5000, SessionID=7,
                  PeripheralType=17, SkillGroupState=2, StateDuration=0,
                  SkillGroupNumber=100, SkillGroupID=200,
                  SkillGroupPriority=0, AgentState=2, EventReasonCode=7,
                  MRDID=1, NumTasks=0, AgentMode=1, MaxTaskLimit=1,
                  ICMAgentID=5001, AgentAvailabilityStatus=0,
                  NumFltSkillGroups=0)


def test_agent_state_event():
    check(len(ASE_58) == 58, "hand-written AGENT_STATE_EVENT is %d bytes" %
          len(ASE_58))
    agent = H("05 05 3130303100")                   # AgentID "1001\0"
    body18 = ASE_58 + agent
    same(g.encode_body(g.AGENT_STATE_EVENT, ASE_FIELDS,
                       [(g.AGENT_ID_TAG, g.flt_str("1001"))], 18), body18,
         "AGENT_STATE_EVENT v18")
    m = g.decode(g.AGENT_STATE_EVENT, body18, 18)
    check(m["fixed_len"] == 58 and "DepartmentID" not in m and
          all(m[k] == v for k, v in ASE_FIELDS.items()) and
          m.string(g.AGENT_ID_TAG) == "1001",
          "AGENT_STATE_EVENT v18 decoded as %r" % m)
    # v19: DepartmentID INT -1 after NumFltSkillGroups, still 1-byte tags.
    body19 = ASE_58 + H("ffffffff") + agent
    f = dict(ASE_FIELDS, DepartmentID=-1)
    same(g.encode_body(g.AGENT_STATE_EVENT, f,
                       [(g.AGENT_ID_TAG, g.flt_str("1001"))], 19), body19,
         "AGENT_STATE_EVENT v19")
    m = g.decode(g.AGENT_STATE_EVENT, body19, 19)
    check(m["fixed_len"] == 62 and m["DepartmentID"] == -1 and
          m["EventReasonCode"] == 7 and m.string(g.AGENT_ID_TAG) == "1001",
          "AGENT_STATE_EVENT v19 decoded as %r" % m)
    # v20: 2-byte tags.
    body20 = ASE_58 + H("ffffffff") + H("0005 0005 3130303100")
    same(g.encode_body(g.AGENT_STATE_EVENT, f,
                       [(g.AGENT_ID_TAG, g.flt_str("1001"))], 20), body20,
         "AGENT_STATE_EVENT v20")
    # The v18 body read as v19: the AgentID field's first bytes become the
    # DepartmentID and what is left overruns.
    try:
        m = g.decode(g.AGENT_STATE_EVENT, body18, 19)
        check(False, "v18 AGENT_STATE_EVENT read as v19: %r" % m)
    except g.DecodeError as e:
        log("v18 AGENT_STATE_EVENT as v19: %s" % e)
    # Shorter than the fixed part.
    try:
        g.decode(g.AGENT_STATE_EVENT, ASE_58[:57], 18)
        check(False, "57-byte AGENT_STATE_EVENT accepted")
    except g.DecodeError:
        pass
    log("(2) AGENT_STATE_EVENT 58/62 bytes")


def test_set_agent_state():
    # 1.8: InvokeID 9, PeripheralID 5000, AgentState 2 (NOT_READY),
    # AgentWorkMode 0, NumSkillGroups 0, EventReasonCode 7, ForcedFlag 1
    # (UCHAR), AgentServiceReq 0x1 (at offset 17, unaligned); AgentID.
    want = H("00000009 00001388 0002 0000 0000 0007 01 00000001")
    check(len(want) == 21 == g.fixed_len(g.SET_AGENT_STATE_REQ, 25),
          "SET_AGENT_STATE_REQ fixed part not 21 bytes")
    got = g.encode_body(g.SET_AGENT_STATE_REQ, dict(
        InvokeID=9, PeripheralID=5000, AgentState=2, AgentWorkMode=0,
        NumSkillGroups=0, EventReasonCode=7, ForcedFlag=1,
        AgentServiceReq=1), [(g.AGENT_ID_TAG, g.flt_str("1001"))], 24)
    same(got, want + H("0005 0005 3130303100"), "SET_AGENT_STATE_REQ v24")
    check(got[16] == 1 and got[17:21] == H("00000001"),
          "ForcedFlag/AgentServiceReq misplaced")
    m = g.decode(g.SET_AGENT_STATE_REQ, got, 24)
    check(m["ForcedFlag"] == 1 and m["AgentServiceReq"] == 1 and
          m["EventReasonCode"] == 7 and m.string(g.AGENT_ID_TAG) == "1001",
          "SET_AGENT_STATE_REQ decoded as %r" % m)
    log("(3) SET_AGENT_STATE_REQ unaligned after ForcedFlag")


def test_media():
    # pgemu-defined (docs/protocol.md): MEDIA_LOGIN_REQ InvokeID 3,
    # PeripheralID 5000, MRDID 2 (INT), ICMAgentID -1 (INT), MaxTaskLimit
    # 5; AgentID "1001" at v24 (2-byte tag and length).
    want = H("00000003 00001388 00000002 ffffffff 00000005")
    got = g.encode_body(g.MEDIA_LOGIN_REQ, dict(
        InvokeID=3, PeripheralID=5000, MRDID=2, ICMAgentID=-1,
        MaxTaskLimit=5), [(g.AGENT_ID_TAG, g.flt_str("1001"))], 24)
    same(got, want + H("0005 0005 3130303100"), "MEDIA_LOGIN_REQ v24")
    # MEDIA_LOGIN_RESP: InvokeID 3, Status 3, MRDID 2, ICMAgentID 1001.
    m = g.decode(g.MEDIA_LOGIN_RESP, H("00000003 00000003 00000002 000003e9"),
                 24)
    check(m["fixed_len"] == 16 and m["Status"] == 3 and m["MRDID"] == 2 and
          m["ICMAgentID"] == 1001, "MEDIA_LOGIN_RESP decoded as %r" % m)
    # MEDIA_LOGOUT_IND: ..., ReasonCode 50002 (UINT) at offset 16.
    got = g.encode_body(g.MEDIA_LOGOUT_IND, dict(
        InvokeID=4, PeripheralID=5000, MRDID=2, ICMAgentID=1001,
        ReasonCode=50002), (), 24)
    same(got, H("00000004 00001388 00000002 000003e9 0000c352"),
         "MEDIA_LOGOUT_IND v24")
    # SET_AGENT_STATE_REQ's MR_DOMAIN_ID (216, 1.10) as an INT at v19
    # (1-byte tag and length): d8 04 00000002.
    got = g.encode_body(g.SET_AGENT_STATE_REQ, dict(
        InvokeID=1, PeripheralID=5000, AgentState=3),
        [(g.MR_DOMAIN_ID_TAG, g.flt_int(2))], 19)
    same(got[21:], H("d8 04 00000002"), "MR_DOMAIN_ID at v19")
    log("(3b) MEDIA_LOGIN_REQ/RESP, MEDIA_LOGOUT_IND, MR_DOMAIN_ID 216")


def test_tasks():
    # docs/protocol.md OFFER_TASK_IND (160): InvokeID 7 (UINT),
    # PeripheralID 5000 (UINT), MRDID 2 (INT), ICMAgentID 1001 (INT),
    # TaskGroupHigh 20000 (INT), TaskGroupLow -2 (INT), SequenceNumber 1
    # (INT), DialogueID 99 (UINT), TaskFlags 0x6 (UINT): 36 bytes, no
    # floating part.
    want = H("00000007 00001388 00000002 000003e9 00004e20 fffffffe"
             " 00000001 00000063 00000006")
    check(len(want) == 36, "hand-written OFFER_TASK_IND is %d bytes" %
          len(want))
    f = dict(InvokeID=7, PeripheralID=5000, MRDID=2, ICMAgentID=1001,
             TaskGroupHigh=20000, TaskGroupLow=-2, SequenceNumber=1,
             DialogueID=99, TaskFlags=g.TASKF_APP_ROUTED |
             g.TASKF_ROUTING_DOWN)
    for t in (g.OFFER_TASK_IND, g.START_TASK_IND, g.END_TASK_IND,
              g.OFFER_APPLICATION_TASK_REQ, g.START_APPLICATION_TASK_REQ):
        same(g.encode_body(t, f, (), 24), want, "%s v24" % g.msg_name(t))
        check(g.fixed_len(t, 13) == 36 == g.fixed_len(t, 25),
              "%s fixed part not 36 bytes" % g.msg_name(t))
        m = g.decode(t, want, 19)
        check(all(m[k] == v for k, v in f.items()) and m["floating"] == [],
              "%s decoded as %r" % (g.msg_name(t), m))
    same(g.frame(g.OFFER_TASK_IND, want)[:8], H("00000024 000000a0"),
         "OFFER_TASK_IND header (type 160)")
    # START_APPLICATION_TASK_REQ (164) with no TaskID and
    # XferInWhileLoggedOut (268, BOOL) 1 at v20: tag 010c, length 2.
    got = g.encode_body(g.START_APPLICATION_TASK_REQ, dict(
        InvokeID=8, PeripheralID=5000, MRDID=2, ICMAgentID=1001),
        [(g.XFER_IN_WHILE_LOGGED_OUT_TAG, g.flt_ushort(1))], 20)
    same(got, H("00000008 00001388 00000002 000003e9 00000000 00000000"
                " 00000000 00000000 00000000 010c 0002 0001"),
         "START_APPLICATION_TASK_REQ v20 with 268")
    # OFFER_APPLICATION_TASK_RESP (162): InvokeID 8, Status 0, TaskID
    # 1700000000 / 0x40100003 / 0; START_APPLICATION_TASK_RESP (165) the
    # same 20-byte layout.
    body = H("00000008 00000000 6553f100 40100003 00000000")
    for t in (g.OFFER_APPLICATION_TASK_RESP, g.START_APPLICATION_TASK_RESP):
        m = g.decode(t, body, 24)
        check(m["fixed_len"] == 20 and m["InvokeID"] == 8 and
              m["Status"] == 0 and m["TaskGroupHigh"] == 1700000000 and
              m["TaskGroupLow"] == 0x40100003 and
              m["SequenceNumber"] == 0, "%s decoded as %r" % (
                  g.msg_name(t), m))
    # FAILURE_RESP (190): InvokeID 7, Status 21.
    m = g.decode(g.FAILURE_RESP, H("00000007 00000015"), 24)
    check(m["Status"] == g.E_ARM_STAT_NO_OFFER_OR_PRE_CALL_RECEIVED,
          "FAILURE_RESP decoded as %r" % m)
    log("(3c) ARM task messages 160..169: 36 and 20 bytes, tag 268")


def test_resync():
    # docs/protocol.md AGENT_INIT_REQ (182): InvokeID 0x80000002 (UINT),
    # PeripheralID 5000 (UINT), MRDID 2 (INT), ICMAgentID 1001 (INT),
    # AgentState 11 ACTIVE (USHORT), EventReasonCode 0 (USHORT),
    # StateDuration 7 (UINT), NumTasks 2 (UINT), MaxTaskLimit 0 (UINT):
    # 32 bytes; then AgentID "1001" (tag 5) at v24.
    want = H("80000002 00001388 00000002 000003e9 000b 0000 00000007"
             " 00000002 00000000 0005 0005 3130303100")
    got = g.encode_body(g.AGENT_INIT_REQ, dict(
        InvokeID=0x80000002, PeripheralID=5000, MRDID=2, ICMAgentID=1001,
        AgentState=g.AGENT_STATE_ACTIVE, StateDuration=7, NumTasks=2),
        g.flt_strings(True, (g.AGENT_ID_TAG, "1001")), 24)
    same(got, want, "AGENT_INIT_REQ v24")
    # TASK_INIT_IND (185) / TASK_INIT_REQ (209): the 36 bytes of the task
    # messages, then TaskState 2 (USHORT), OfferTime 1700000000 and
    # StartTime 1700000003 (TIME: UINT seconds): 46 bytes.
    want = H("00000063 00001388 00000002 000003e9 00004e20 00000001"
             " 00000000 00000063 00000000 0002 6553f100 6553f103")
    check(len(want) == 46, "hand-written TASK_INIT_IND is %d bytes" %
          len(want))
    for t in (g.TASK_INIT_IND, g.TASK_INIT_REQ):
        same(g.encode_body(t, dict(
            InvokeID=99, PeripheralID=5000, MRDID=2, ICMAgentID=1001,
            TaskGroupHigh=20000, TaskGroupLow=1, DialogueID=99,
            TaskState=g.TASK_INIT_STARTED, OfferTime=1700000000,
            StartTime=1700000003), (), 19), want, g.msg_name(t))
    # BEGIN_ / END_AGENT_INIT_IND (181, 184): InvokeID, PeripheralID;
    # AGENT_INIT_READY_EVENT (186): PeripheralID; AGENT_INIT_RESP (183)
    # the 16 bytes of MEDIA_LOGIN_RESP; TASK_INIT_RESP (210) the 20 of
    # the task RESPs.
    for t in (g.BEGIN_AGENT_INIT_IND, g.END_AGENT_INIT_IND):
        same(g.encode_body(t, dict(InvokeID=1, PeripheralID=5000), (), 24),
             H("00000001 00001388"), g.msg_name(t))
    m = g.decode(g.AGENT_INIT_READY_EVENT, H("00001388"), 24)
    check(m["PeripheralID"] == 5000 and m["fixed_len"] == 4,
          "AGENT_INIT_READY_EVENT decoded as %r" % m)
    m = g.decode(g.AGENT_INIT_RESP, H("80000002 00000000 00000002 000003e9"),
                 24)
    check(m["InvokeID"] == 0x80000002 and m["Status"] == 0 and
          m["MRDID"] == 2 and m["ICMAgentID"] == 1001,
          "AGENT_INIT_RESP decoded as %r" % m)
    m = g.decode(g.TASK_INIT_RESP, H("00000063 00000000 6553f100 00100003"
                                     " 00000000"), 24)
    check(m["fixed_len"] == 20 and m["TaskGroupHigh"] == 1700000000 and
          m["TaskGroupLow"] == 0x100003, "TASK_INIT_RESP decoded as %r" % m)
    for t, n in ((g.AGENT_INIT_READY_EVENT, 4), (g.BEGIN_AGENT_INIT_IND, 8),
                 (g.AGENT_INIT_REQ, 32), (g.AGENT_INIT_RESP, 16),
                 (g.END_AGENT_INIT_IND, 8), (g.TASK_INIT_IND, 46),
                 (g.TASK_INIT_REQ, 46), (g.TASK_INIT_RESP, 20)):
        check(g.fixed_len(t, 13) == n == g.fixed_len(t, 25),
              "%s fixed part not %d bytes" % (g.msg_name(t), n))
    log("(3d) the resync bracket 181..186, 209, 210: 4, 8, 32, 16, 46 and "
        "20 bytes")


def test_fixed_lengths():
    # Sums of the field sizes of 1.4 and 1.8, by version.
    want = {
        g.FAILURE_CONF: {13: 8, 25: 8}, g.FAILURE_EVENT: {13: 4, 25: 4},
        g.OPEN_REQ: {13: 44, 19: 44, 20: 44, 25: 44},
        g.OPEN_CONF: {13: 26, 18: 26, 19: 30, 23: 30, 24: 32, 25: 32},
        g.HEARTBEAT_REQ: {13: 4}, g.HEARTBEAT_CONF: {25: 4},
        g.CLOSE_REQ: {13: 8}, g.CLOSE_CONF: {13: 4},
        g.SYSTEM_EVENT: {13: 26, 25: 26},
        g.AGENT_STATE_EVENT: {13: 58, 18: 58, 19: 62, 25: 62},
        g.QUERY_AGENT_STATE_REQ: {13: 16, 25: 16},
        g.QUERY_AGENT_STATE_CONF: {18: 30, 19: 34},
        g.SET_AGENT_STATE_REQ: {13: 21, 25: 21},
        g.SET_AGENT_STATE_CONF: {13: 4},
        g.CONTROL_FAILURE_CONF: {13: 10, 25: 10},
    }
    for t, by in want.items():
        for v, n in by.items():
            check(g.fixed_len(t, v) == n, "%s v%d: fixed part %d, want %d"
                  % (g.msg_name(t), v, g.fixed_len(t, v), n))
    # OPEN_CONF v24 by hand: InvokeID 3, ServicesGranted 0x10, MonitorID 0,
    # PGStatus 4, time 0x5f000000, PeripheralOnline 0, PeripheralType 17,
    # AgentState 0, DepartmentID 0, SessionType 1.
    body = H("00000003 00000010 00000000 00000004 5f000000 0000 0011 0000"
             " 00000000 0001")
    m = g.decode(g.OPEN_CONF, body, 24)
    check(m["InvokeID"] == 3 and m["PGStatus"] == g.PGS_PERIPHERAL_OFFLINE
          and m["PeripheralType"] == g.PT_ENTERPRISE_AGENT and
          m["SessionType"] == g.SESSION_TYPE_ACTIVE and m["floating"] == [],
          "OPEN_CONF v24 decoded as %r" % m)
    # The same 32 bytes at v19: SessionType's 2 bytes are a cut-short
    # floating header.
    try:
        g.decode(g.OPEN_CONF, body, 19)
        check(False, "32-byte OPEN_CONF accepted at v19")
    except g.DecodeError:
        pass
    log("(4) fixed lengths by version")


def test_floating_errors():
    for data, v in ((H("05"), 19), (H("05 03 3100"), 19),
                    (H("0005 00"), 20), (H("0005 0004 313030"), 20)):
        try:
            g.decode_floating(data, v)
            check(False, "floating %s v%d accepted" % (hexs(data), v))
        except g.DecodeError:
            pass
    for item, v in (((257, b"x"), 19), ((5, b"x" * 256), 19)):
        try:
            g.encode_floating([item], v)
            check(False, "tag %d len %d encoded at v%d" % (
                item[0], len(item[1]), v))
        except ValueError:
            pass
    same(g.encode_floating([(257, b"\1")], 20), H("0101 0001 01"),
         "tag 257 at v20")
    m = g.Message(floating=[(5, b"1001"), (5, b"1002\0"), (150, H("0000012c")),
                            (123, H("0002"))])
    check(m.string(5) == "1001" and m.every(5) == [b"1001", b"1002\0"] and
          m.number(150) == 300 and m.number(123) == 2 and
          m.string(4) is None, "Message helpers: %r" % m)
    log("(5) floating errors")


class FakeServer:
    """A listening socket on loopback; script(conn, record) runs in a
    thread on the first connection; what it asserts lands in errors."""

    def __init__(self, script):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.frames = []
        self.errors = []
        self.script = script
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.ls.settimeout(10)
        conn = None
        try:
            conn, _ = self.ls.accept()
            conn.settimeout(10)
            self.script(self, conn)
        except Exception as e:           # reported by the main thread
            self.errors.append(repr(e))
        finally:
            if conn is not None:
                conn.close()
            self.ls.close()

    def read(self, conn):
        hdr = self._exact(conn, 8)
        n, t = struct.unpack(">II", hdr)
        body = self._exact(conn, n)
        self.frames.append(hdr + body)
        return t, body

    @staticmethod
    def _exact(conn, n):
        b = b""
        while len(b) < n:
            d = conn.recv(n - len(b))
            if not d:
                raise EOFError("client closed")
            b += d
        return b

    def join(self):
        self.t.join(10)
        check(not self.t.is_alive(), "fake server still running")
        check(not self.errors, "fake server: %s" % self.errors)


def mhdr(t, body):
    return struct.pack(">II", len(body), t) + body


def test_session():
    # v19 throughout: 1-byte floating headers.
    def script(fs, c):
        t, body = fs.read(c)             # OPEN_REQ
        # 1.4 OPEN_CONF v19 (30 bytes): InvokeID echoed, ServicesGranted
        # 0x10, MonitorID 0, PGStatus 0, time 1, PeripheralOnline 1,
        # PeripheralType 17, AgentState 0, DepartmentID 0; NumPeripherals
        # (228) USHORT 1.
        c.sendall(mhdr(4, body[0:4] + H("00000010 00000000 00000000"
                                        " 00000001 0001 0011 0000 00000000"
                                        " e4 02 0001")))
        # 1.8 SYSTEM_EVENT: PGStatus 0, time 1, SYS_PERIPHERAL_ONLINE, Arg1
        # 5000, 0, 0, DEVID_NONE; Text "hi".
        c.sendall(mhdr(31, H("00000000 00000001 00000003 00001388 00000000"
                             " 00000000 ffff 07 03 686900")))
        t, body = fs.read(c)             # HEARTBEAT_REQ
        # An event in between, then the answer.
        c.sendall(mhdr(30, ASE_58 + H("00000000") + H("05 05 3130303100")))
        c.sendall(mhdr(6, body[0:4]))
        t, body = fs.read(c)             # QUERY_AGENT_STATE_REQ
        # 1.8 QUERY_AGENT_STATE_CONF v19: AgentState 3, NumSkillGroups 0,
        # MRDID 1, NumTasks 0, AgentMode 1, MaxTaskLimit 1, ICMAgentID
        # 5001, AgentAvailabilityStatus 1, DepartmentID 0; AgentID.
        c.sendall(mhdr(37, body[0:4] + H("0003 0000 00000001 00000000 0001"
                                         " 00000001 00001389 00000001"
                                         " 00000000 05 05 3130303100")))
        t, body = fs.read(c)             # SET_AGENT_STATE_REQ
        c.sendall(mhdr(39, body[0:4]))
        t, body = fs.read(c)             # CLOSE_REQ
        c.sendall(mhdr(8, body[0:4]))

    fs = FakeServer(script)
    s = g.connect("127.0.0.1", fs.port, "fake")
    m = s.open(version=19, client_id="desk", agent_state_mask=0x3fff)
    check(m["type"] == g.OPEN_CONF and m["InvokeID"] == 1 and
          m["fixed_len"] == 30 and m["ServicesGranted"] == 0x10 and
          m["PeripheralOnline"] == 1 and m["DepartmentID"] == 0 and
          "SessionType" not in m and m.number(g.NUM_PERIPHERALS_TAG) == 1,
          "OPEN_CONF: %r" % m)
    e = s.wait_for(lambda x: x["type"] == g.SYSTEM_EVENT, 3, "SYSTEM_EVENT")
    check(e["SystemEventID"] == g.SYS_PERIPHERAL_ONLINE and
          e["SystemEventArg1"] == 5000 and e["EventDeviceType"] == 0xFFFF
          and e.string(g.TEXT_TAG) == "hi", "SYSTEM_EVENT: %r" % e)
    hb = s.heartbeat()
    check(hb["type"] == g.HEARTBEAT_CONF and hb["InvokeID"] == 2,
          "HEARTBEAT_CONF: %r" % hb)
    ase = [x for x in s.log if x["type"] == g.AGENT_STATE_EVENT]
    check(len(ase) == 1 and ase[0]["AgentState"] == 2 and
          ase[0]["fixed_len"] == 62 and ase[0].string(5) == "1001",
          "the event received while waiting is not logged: %r" % s.log)
    q = s.query_agent_state(5000, mrdid=1, agent_id="1001")
    check(q["type"] == g.QUERY_AGENT_STATE_CONF and q["InvokeID"] == 3 and
          q["AgentState"] == g.AGENT_STATE_AVAILABLE and q["MRDID"] == 1 and
          q["ICMAgentID"] == 5001 and q.string(g.AGENT_ID_TAG) == "1001",
          "QUERY_AGENT_STATE_CONF: %r" % q)
    r = s.set_agent_state(5000, g.AGENT_STATE_NOT_READY, reason=7,
                          agent_id="1001", forced=1)
    check(r["type"] == g.SET_AGENT_STATE_CONF and r["InvokeID"] == 4,
          "SET_AGENT_STATE_CONF: %r" % r)
    cl = s.close()
    check(cl["type"] == g.CLOSE_CONF and cl["InvokeID"] == 5,
          "CLOSE_CONF: %r" % cl)
    check(s.wait_closed(3), "not closed after CLOSE_CONF")
    check(s.recv(1) is None, "recv after EOF is not None")
    fs.join()
    # What the client sent, byte for byte (1.4, 1.8, v19).
    want = [
        H("00000035 00000003 00000001 00000013 ffffffff ffffffff 00000010"
          " 00000000 00003fff 00000000 00000000 00000000 00000000"
          " 01 05 6465736b00 02 00"),
        H("00000004 00000005 00000002"),
        H("00000017 00000024 00000003 00001388 00000001 ffffffff"
          " 05 05 3130303100"),
        H("0000001c 00000026 00000004 00001388 0002 0000 0000 0007 01"
          " 00000000 05 05 3130303100"),
        H("00000008 00000007 00000005 00000000"),
    ]
    check(len(fs.frames) == len(want), "server got %d frames" %
          len(fs.frames))
    for got, w in zip(fs.frames, want):
        same(got, w, "sent %s" % g.msg_name(struct.unpack(">I",
                                                          w[4:8])[0]))
    log("(6) session against a fake server: open, events, heartbeat, "
        "query, set, close")


def test_refused_and_raw():
    # FAILURE_CONF to OPEN at v20 without ClientID; raw frames pass as
    # they are; the server then resets the connection.
    def script(fs, c):
        t, body = fs.read(c)
        c.sendall(mhdr(1, body[0:4] + H("00000006")))
        fs.read(c)                       # the raw frame
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))

    fs = FakeServer(script)
    s = g.connect("127.0.0.1", fs.port, "fake2")
    m = s.open(version=20, omit_client_id=True, invoke=41)
    check(m["type"] == g.FAILURE_CONF and m["InvokeID"] == 41 and
          m["Status"] == g.E_CTI_REQUIRED_DATA_MISSING and not s.opened,
          "FAILURE_CONF: %r" % m)
    s.send_raw(g.HEARTBEAT_REQ, H("0001"))
    check(s.wait_closed(5), "reset not seen as the end")
    check(s.recv(1) is None, "recv after reset")
    fs.join()
    same(fs.frames[0], H("00000030 00000003 00000029 00000014 ffffffff"
                         " ffffffff 00000010 00000000 00003fff 00000000"
                         " 00000000 00000000 00000000 0002 0000"),
         "OPEN_REQ v20 without ClientID")
    same(fs.frames[1], H("00000002 00000005 0001"), "raw frame")

    # A silent server (it holds the connection until told): recv and
    # wait_for time out, nothing hangs.
    done = threading.Event()

    def silent(fs, c):
        fs.read(c)
        done.wait(10)
    fs = FakeServer(silent)
    s = g.connect("127.0.0.1", fs.port, "fake3")
    s.send_frame(mhdr(5, H("00000001")))
    for what, fn in (("recv", lambda: s.recv(0.3)),
                     ("wait_for", lambda: s.wait_type(g.HEARTBEAT_CONF,
                                                      0.3))):
        try:
            fn()
            check(False, "%s returned on a silent server" % what)
        except g.CtiError as e:
            log("silent server, %s: %s" % (what, e))
    check(s.read_for(0.2) == [] and s.eof is None,
          "read_for got something from silence")
    done.set()
    s.close_socket()
    fs.join()
    log("(6) FAILURE_CONF, raw frames, reset, time-outs")


def test(Lab):
    test_open_req()
    test_agent_state_event()
    test_set_agent_state()
    test_media()
    test_tasks()
    test_resync()
    test_fixed_lengths()
    test_floating_errors()
    test_session()
    test_refused_and_raw()


run(test)
