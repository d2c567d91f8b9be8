"""A GED-188 (CTI server protocol) client for the tests.

Written only from the public tables of
/work/shared/reference/protocol-facts.md, sections 1.1-1.11, and never
from pgemu's own codec, so that a mistake made the same way on both ends
cannot hide.  Every constant names its section there.  The ARM messages
(151..190) have public numbers but no public layout (1.11): theirs below
are the pgemu-defined ones docs/protocol.md states (section
"pgemu-defined"), marked so.  Standard library only.

Messages are encoded from, and decoded into, dicts of field name -> value
(the field names of the tables) with the floating part as a list of
(tag, bytes).  The floating-field header is 1-byte tag + 1-byte length up
to version 19 and 2-byte tag + 2-byte length from version 20 (1.2), so
everything that encodes or decodes takes the session's version.
"""

import select
import socket
import struct
import time

# 1.2 Framing: MHDR = MessageLength UINT + MessageType UINT, big-endian (1.1)
MHDR_LEN = 8
# 1.1 Largest message (header included), stated for v24
MAX_MESSAGE = 12500
# 1.2 Floating field format: 2-byte tag and length from this version on
WIDE_FLOATING_VERSION = 20
# 1.4 OPEN_REQ VersionNumber: the versions this client knows (13 .. 25)
MIN_VERSION = 13
MAX_VERSION = 25

# 1.3 Message numbers
FAILURE_CONF = 1
FAILURE_EVENT = 2
OPEN_REQ = 3
OPEN_CONF = 4
HEARTBEAT_REQ = 5
HEARTBEAT_CONF = 6
CLOSE_REQ = 7
CLOSE_CONF = 8
BEGIN_CALL_EVENT = 23
SET_CALL_DATA_REQ = 26
SET_CALL_DATA_CONF = 27
AGENT_STATE_EVENT = 30
SYSTEM_EVENT = 31
CONTROL_FAILURE_CONF = 35
QUERY_AGENT_STATE_REQ = 36
QUERY_AGENT_STATE_CONF = 37
SET_AGENT_STATE_REQ = 38
SET_AGENT_STATE_CONF = 39
MEDIA_LOGIN_REQ = 151
MEDIA_LOGIN_RESP = 152
MEDIA_LOGOUT_IND = 153
OFFER_TASK_IND = 160
OFFER_APPLICATION_TASK_REQ = 161
OFFER_APPLICATION_TASK_RESP = 162
START_TASK_IND = 163
START_APPLICATION_TASK_REQ = 164
START_APPLICATION_TASK_RESP = 165
END_TASK_IND = 169
BEGIN_AGENT_INIT_IND = 181
AGENT_INIT_REQ = 182
AGENT_INIT_RESP = 183
END_AGENT_INIT_IND = 184
TASK_INIT_IND = 185
AGENT_INIT_READY_EVENT = 186
FAILURE_RESP = 190
TASK_INIT_REQ = 209
TASK_INIT_RESP = 210
STANDBY_ACTIVE_EVENT_MSG = 277

# 1.3 Message numbers: the names of those above
MSG_NAMES = {
    FAILURE_CONF: "FAILURE_CONF",
    FAILURE_EVENT: "FAILURE_EVENT",
    OPEN_REQ: "OPEN_REQ",
    OPEN_CONF: "OPEN_CONF",
    HEARTBEAT_REQ: "HEARTBEAT_REQ",
    HEARTBEAT_CONF: "HEARTBEAT_CONF",
    CLOSE_REQ: "CLOSE_REQ",
    CLOSE_CONF: "CLOSE_CONF",
    BEGIN_CALL_EVENT: "BEGIN_CALL_EVENT",
    SET_CALL_DATA_REQ: "SET_CALL_DATA_REQ",
    SET_CALL_DATA_CONF: "SET_CALL_DATA_CONF",
    AGENT_STATE_EVENT: "AGENT_STATE_EVENT",
    SYSTEM_EVENT: "SYSTEM_EVENT",
    CONTROL_FAILURE_CONF: "CONTROL_FAILURE_CONF",
    QUERY_AGENT_STATE_REQ: "QUERY_AGENT_STATE_REQ",
    QUERY_AGENT_STATE_CONF: "QUERY_AGENT_STATE_CONF",
    SET_AGENT_STATE_REQ: "SET_AGENT_STATE_REQ",
    SET_AGENT_STATE_CONF: "SET_AGENT_STATE_CONF",
    MEDIA_LOGIN_REQ: "MEDIA_LOGIN_REQ",
    MEDIA_LOGIN_RESP: "MEDIA_LOGIN_RESP",
    MEDIA_LOGOUT_IND: "MEDIA_LOGOUT_IND",
    OFFER_TASK_IND: "OFFER_TASK_IND",
    OFFER_APPLICATION_TASK_REQ: "OFFER_APPLICATION_TASK_REQ",
    OFFER_APPLICATION_TASK_RESP: "OFFER_APPLICATION_TASK_RESP",
    START_TASK_IND: "START_TASK_IND",
    START_APPLICATION_TASK_REQ: "START_APPLICATION_TASK_REQ",
    START_APPLICATION_TASK_RESP: "START_APPLICATION_TASK_RESP",
    END_TASK_IND: "END_TASK_IND",
    BEGIN_AGENT_INIT_IND: "BEGIN_AGENT_INIT_IND",
    AGENT_INIT_REQ: "AGENT_INIT_REQ",
    AGENT_INIT_RESP: "AGENT_INIT_RESP",
    END_AGENT_INIT_IND: "END_AGENT_INIT_IND",
    TASK_INIT_IND: "TASK_INIT_IND",
    AGENT_INIT_READY_EVENT: "AGENT_INIT_READY_EVENT",
    FAILURE_RESP: "FAILURE_RESP",
    TASK_INIT_REQ: "TASK_INIT_REQ",
    TASK_INIT_RESP: "TASK_INIT_RESP",
    STANDBY_ACTIVE_EVENT_MSG: "STANDBY_ACTIVE_EVENT_MSG",
}

# 1.10 Floating field tags
CLIENT_ID_TAG = 1
CLIENT_PASSWORD_TAG = 2
CLIENT_SIGNATURE_TAG = 3
AGENT_EXTENSION_TAG = 4
AGENT_ID_TAG = 5
AGENT_INSTRUMENT_TAG = 6
TEXT_TAG = 7
AGENT_PASSWORD_TAG = 49
SKILL_GROUP_NUMBER_TAG = 62
SKILL_GROUP_ID_TAG = 63
SKILL_GROUP_PRIORITY_TAG = 64
SKILL_GROUP_STATE_TAG = 65
POSITION_ID_TAG = 68
SUPERVISOR_ID_TAG = 69
APP_PATH_ID_TAG = 97
EXT_AGENT_STATE_TAG = 123
DURATION_TAG = 150
AGENT_ID_LONG_TAG = 194
EVENT_DEVICE_ID_TAG = 206
PERIPHERAL_ID_TAG = 208
MR_DOMAIN_ID_TAG = 216
MULTI_LINE_AGENT_CONTROL_TAG = 224
NUM_PERIPHERALS_TAG = 228
DIRECTION_TAG = 244
INTERNAL_AGENT_STATE_TAG = 255
SSO_ENABLED_TAG = 257
MAX_BEYOND_TASK_LIMIT_TAG = 266
XFER_IN_WHILE_LOGGED_OUT_TAG = 268
FLT_TERM_DEVICE_NAME_TAG = 303

# 1.7 Failure status codes (FAILURE_CONF, FAILURE_EVENT, CLOSE_REQ)
E_CTI_NO_ERROR = 0
E_CTI_INVALID_VERSION = 1
E_CTI_INVALID_MESSAGE_LENGTH = 2
E_CTI_INVALID_FIELD_TAG = 3
E_CTI_SESSION_NOT_OPEN = 4
E_CTI_SESSION_ALREADY_OPEN = 5
E_CTI_REQUIRED_DATA_MISSING = 6
E_CTI_INVALID_PERIPHERAL_ID = 7
E_CTI_INVALID_AGENT_DATA = 8
E_CTI_AGENT_NOT_LOGGED_ON = 9
E_CTI_DEVICE_IN_USE = 10
E_CTI_NEW_SESSION_OPENED = 11
E_CTI_FUNCTION_NOT_AVAILABLE = 12
E_CTI_CTI_SERVER_OFFLINE = 15
E_CTI_TIMEOUT = 16
E_CTI_UNSPECIFIED_FAILURE = 17
E_CTI_INVALID_TIMEOUT = 18
E_CTI_INVALID_SERVICE_MASK = 19
E_CTI_INVALID_CALL_MSG_MASK = 20
E_CTI_INVALID_AGENT_STATE_MASK = 21
E_CTI_INVALID_RESERVED_FIELD = 22
E_CTI_INVALID_FIELD_LENGTH = 23
E_CTI_BAD_MESSAGE_FORMAT = 25
E_CTI_INVALID_TAG_FOR_MSG_TYPE = 26
E_CTI_INCONSISTENT_AGENT_DATA = 32
E_CTI_INVALID_PASSWORD = 36
E_CTI_INVALID_MSG_TYPE_FOR_VERSION = 48
E_CTI_INVALID_TAG_FOR_VERSION = 49
E_CTI_INVALID_MR_DOMAIN = 88
E_CTI_INVALID_CLIENT_FOR_STANDBY = 107

# 1.11 ARM status codes (MEDIA_LOGIN_RESP Status, FAILURE_RESP Status)
E_ARM_STAT_OK = 0
E_ARM_STAT_AGENT_ALREADY_LOGGED_IN = 1
E_ARM_STAT_AGENT_NOT_FOUND = 2
E_ARM_STAT_MRD_LIST_ENTRY_NOT_FOUND = 3
E_ARM_STAT_AGENT_NOT_LOGGED_IN = 6
E_ARM_STAT_CANT_LOGIN_TO_VOICE_MRD = 11
E_ARM_STAT_TASK_OBJECT_NOT_FOUND = 18
E_ARM_STAT_INVALID_MESSAGE_SEQUENCE = 19
E_ARM_STAT_INCONSISTENT_MEDIA_ROUTING_DOMAIN_IDS = 20
E_ARM_STAT_NO_OFFER_OR_PRE_CALL_RECEIVED = 21
E_ARM_STAT_INCONSISTENT_AGENT_IDS = 22
E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED = 34
E_ARM_STAT_CC_OFFLINE = 36

# pgemu-defined (docs/protocol.md, "ARM tasks"): TaskFlags bits an
# application sets
TASKF_APP_ROUTED = 0x2
TASKF_ROUTING_DOWN = 0x4
TASKF_ENDED_DOWN = 0x8
# pgemu-defined (docs/protocol.md, "The resync bracket"): TASK_INIT_IND /
# _REQ TaskState
TASK_INIT_OFFERED = 1
TASK_INIT_STARTED = 2

# 1.6 CTI service mask (ServicesRequested / ServicesGranted)
CTI_SERVICE_CLIENT_EVENTS = 0x00000001
CTI_SERVICE_CALL_DATA_UPDATE = 0x00000002
CTI_SERVICE_CLIENT_CONTROL = 0x00000004
CTI_SERVICE_CONNECTION_MONITOR = 0x00000008
CTI_SERVICE_ALL_EVENTS = 0x00000010
CTI_SERVICE_PERIPHERAL_MONITOR = 0x00000020
CTI_SERVICE_CLIENT_MONITOR = 0x00000040
CTI_SERVICE_SUPERVISOR = 0x00000080
CTI_SERVICE_SERVER = 0x00000100
CTI_SERVICE_AGENT_REPORTING = 0x00000400
CTI_SERVICE_ALL_TASK_EVENTS = 0x00000800
CTI_SERVICE_TASK_MONITOR = 0x00001000
CTI_AGENT_STATE_CONTROL_ONLY = 0x00002000
CTI_SERVICE_UNUSED_4000 = 0x00004000          # 1.6 "unused"
CTI_DEVICE_STATE_CONTROL = 0x00008000
CTI_SERVICE_UPDATE_EVENTS = 0x00080000
CTI_SERVICE_IGNORE_DUPLICATE_AGENT_EVENTS = 0x00100000
CTI_SERVICE_IGNORE_CONF = 0x00200000
CTI_SERVICE_ACD_LINE_ONLY = 0x00400000
CTI_SERVICE_ACTIVE_STANDBY = 0x02000000
CTI_SERVICE_DEBUG = 0x80000000

# 1.6 Agent state mask: one bit per AgentState, HOLD is bit 9 (0x0200)
AGENT_LOGIN_MASK = 0x0001
AGENT_LOGOUT_MASK = 0x0002
AGENT_NOT_READY_MASK = 0x0004
AGENT_AVAILABLE_MASK = 0x0008
AGENT_TALKING_MASK = 0x0010
AGENT_WORK_NOT_READY_MASK = 0x0020
AGENT_WORK_READY_MASK = 0x0040
AGENT_BUSY_OTHER_MASK = 0x0080
AGENT_RESERVED_MASK = 0x0100
AGENT_HOLD_MASK = 0x0200
AGENT_ACTIVE_MASK = 0x0400
AGENT_PAUSED_MASK = 0x0800
AGENT_INTERRUPTED_MASK = 0x1000
AGENT_NOT_ACTIVE_MASK = 0x2000
AGENT_STATE_MASK_ALL = 0x3fff                 # 1.6 the 14 bits above

# 1.6 Unsolicited call event mask (CallMsgMask), the bits we use
CALL_BEGIN_CALL_MASK = 0x2000
CALL_END_CALL_MASK = 0x4000

# 1.7 AgentState (USHORT): LOGIN = 0, LOGOUT = 1
AGENT_STATE_LOGIN = 0
AGENT_STATE_LOGOUT = 1
AGENT_STATE_NOT_READY = 2
AGENT_STATE_AVAILABLE = 3
AGENT_STATE_TALKING = 4
AGENT_STATE_WORK_NOT_READY = 5
AGENT_STATE_WORK_READY = 6
AGENT_STATE_BUSY_OTHER = 7
AGENT_STATE_RESERVED = 8
AGENT_STATE_UNKNOWN = 9
AGENT_STATE_HOLD = 10
AGENT_STATE_ACTIVE = 11
AGENT_STATE_PAUSED = 12
AGENT_STATE_INTERRUPTED = 13
AGENT_STATE_NOT_ACTIVE = 14

# 1.7 AgentState names, by value (lower case, as a table of 1.7)
AGENT_STATE_NAMES = ("login", "logout", "not_ready", "available", "talking",
                     "work_not_ready", "work_ready", "busy_other",
                     "reserved", "unknown", "hold", "active", "paused",
                     "interrupted", "not_active")

# 1.7 AgentWorkMode (USHORT)
AGENT_WORK_MODE_UNSPECIFIED = 0

# 1.7 PeripheralType (USHORT), those a lab has
PT_NONE = 0xFFFF
PT_ENTERPRISE_AGENT = 17
PT_MEDIA_ROUTING = 19

# 1.7 PGStatusCode bits (UINT); 0 = all well
PGS_OPC_DOWN = 0x1
PGS_CC_DOWN = 0x2
PGS_PERIPHERAL_OFFLINE = 0x4
PGS_CTI_SERVER_OFFLINE = 0x8
PGS_LIMITED_FUNCTION = 0x10

# 1.7 SystemEventID (UINT)
SYS_CENTRAL_CONTROLLER_ONLINE = 1
SYS_CENTRAL_CONTROLLER_OFFLINE = 2
SYS_PERIPHERAL_ONLINE = 3
SYS_PERIPHERAL_OFFLINE = 4
SYS_TEXT_FYI = 5
SYS_PERIPHERAL_GATEWAY_OFFLINE = 6
SYS_CTI_SERVER_OFFLINE = 7
SYS_CTI_SERVER_ONLINE = 8
SYS_HALF_HOUR_CHANGE = 9
SYS_INSTRUMENT_OUT_OF_SERVICE = 10
SYS_INSTRUMENT_BACK_IN_SERVICE = 11

# 1.4 OPEN_CONF SessionType (USHORT, v24)
SESSION_TYPE_UNKNOWN = 0
SESSION_TYPE_ACTIVE = 1
SESSION_TYPE_STANDBY = 2

# 1.7 Special values
NULL_PERIPHERAL_ID = 0xFFFFFFFF
# 1.4 IdleTimeout 0xFFFFFFFF = the client sends no heartbeats
NO_IDLE_TIMEOUT = 0xFFFFFFFF
# 1.7 Special values: NULL_* = 0xFFFFFFFF; ICMAgentID is an INT (1.8)
NULL_ICM_AGENT_ID = -1
# 1.7 SYSTEM_EVENT EventDeviceType DEVID_NONE (1.8)
DEVID_NONE = 0xFFFF

# Field types and their struct codes.  1.2 Data types: UINT 4, INT 4
# (signed), USHORT 2, BOOL 2, TIME 4 (UINT seconds), UCHAR 1.
_T = {"UINT": "I", "INT": "i", "USHORT": "H", "BOOL": "H", "TIME": "I",
      "UCHAR": "B"}


def _layout(*fields):
    """A fixed-part layout: (name, type, first version having it)."""
    return tuple((f[0], f[1], f[2] if len(f) > 2 else 0) for f in fields)


# The fixed parts of 1.4 and 1.8, field by field, in wire order.
LAYOUTS = {
    # 1.4 FAILURE_CONF: InvokeID UINT, Status UINT
    FAILURE_CONF: _layout(("InvokeID", "UINT"), ("Status", "UINT")),
    # 1.4 FAILURE_EVENT: Status UINT
    FAILURE_EVENT: _layout(("Status", "UINT")),
    # 1.4 OPEN_REQ: 44 bytes, unchanged v13..v25
    OPEN_REQ: _layout(("InvokeID", "UINT"), ("VersionNumber", "UINT"),
                      ("IdleTimeout", "UINT"), ("PeripheralID", "UINT"),
                      ("ServicesRequested", "UINT"), ("CallMsgMask", "UINT"),
                      ("AgentStateMask", "UINT"), ("ConfigMsgMask", "UINT"),
                      ("Reserved1", "UINT"), ("Reserved2", "UINT"),
                      ("Reserved3", "UINT")),
    # 1.4 OPEN_CONF: 26 bytes, + DepartmentID v19 (30), + SessionType v24
    # (32)
    OPEN_CONF: _layout(("InvokeID", "UINT"), ("ServicesGranted", "UINT"),
                       ("MonitorID", "UINT"), ("PGStatus", "UINT"),
                       ("ICMCentralControllerTime", "TIME"),
                       ("PeripheralOnline", "BOOL"),
                       ("PeripheralType", "USHORT"),
                       ("AgentState", "USHORT"),
                       ("DepartmentID", "INT", 19),
                       ("SessionType", "USHORT", 24)),
    # 1.4 HEARTBEAT_REQ / HEARTBEAT_CONF: InvokeID only
    HEARTBEAT_REQ: _layout(("InvokeID", "UINT")),
    HEARTBEAT_CONF: _layout(("InvokeID", "UINT")),
    # 1.4 CLOSE_REQ: InvokeID UINT, Status UINT; CLOSE_CONF: InvokeID
    CLOSE_REQ: _layout(("InvokeID", "UINT"), ("Status", "UINT")),
    CLOSE_CONF: _layout(("InvokeID", "UINT")),
    # 1.4 CONTROL_FAILURE_CONF: InvokeID UINT, FailureCode USHORT,
    # PeripheralErrorCode UINT
    CONTROL_FAILURE_CONF: _layout(("InvokeID", "UINT"),
                                  ("FailureCode", "USHORT"),
                                  ("PeripheralErrorCode", "UINT")),
    # 1.8 SYSTEM_EVENT: 26 bytes
    SYSTEM_EVENT: _layout(("PGStatus", "UINT"),
                          ("ICMCentralControllerTime", "TIME"),
                          ("SystemEventID", "UINT"),
                          ("SystemEventArg1", "UINT"),
                          ("SystemEventArg2", "UINT"),
                          ("SystemEventArg3", "UINT"),
                          ("EventDeviceType", "USHORT")),
    # 1.8 AGENT_STATE_EVENT: 58 bytes, + DepartmentID v19 (62)
    AGENT_STATE_EVENT: _layout(("MonitorID", "UINT"),
                               ("PeripheralID", "UINT"),
                               ("SessionID", "UINT"),
                               ("PeripheralType", "USHORT"),
                               ("SkillGroupState", "USHORT"),
                               ("StateDuration", "UINT"),
                               ("SkillGroupNumber", "UINT"),
                               ("SkillGroupID", "UINT"),
                               ("SkillGroupPriority", "USHORT"),
                               ("AgentState", "USHORT"),
                               ("EventReasonCode", "USHORT"),
                               ("MRDID", "INT"),
                               ("NumTasks", "UINT"),
                               ("AgentMode", "USHORT"),
                               ("MaxTaskLimit", "UINT"),
                               ("ICMAgentID", "INT"),
                               ("AgentAvailabilityStatus", "UINT"),
                               ("NumFltSkillGroups", "USHORT"),
                               ("DepartmentID", "INT", 19)),
    # 1.8 QUERY_AGENT_STATE_REQ: 16 bytes
    QUERY_AGENT_STATE_REQ: _layout(("InvokeID", "UINT"),
                                   ("PeripheralID", "UINT"),
                                   ("MRDID", "INT"), ("ICMAgentID", "INT")),
    # 1.8 QUERY_AGENT_STATE_CONF: 30 bytes, + DepartmentID v19 (34)
    QUERY_AGENT_STATE_CONF: _layout(("InvokeID", "UINT"),
                                    ("AgentState", "USHORT"),
                                    ("NumSkillGroups", "USHORT"),
                                    ("MRDID", "INT"), ("NumTasks", "UINT"),
                                    ("AgentMode", "USHORT"),
                                    ("MaxTaskLimit", "UINT"),
                                    ("ICMAgentID", "INT"),
                                    ("AgentAvailabilityStatus", "UINT"),
                                    ("DepartmentID", "INT", 19)),
    # 1.8 SET_AGENT_STATE_REQ: 21 bytes; the UCHAR ForcedFlag leaves
    # AgentServiceReq unaligned (1.1 Alignment: none)
    SET_AGENT_STATE_REQ: _layout(("InvokeID", "UINT"),
                                 ("PeripheralID", "UINT"),
                                 ("AgentState", "USHORT"),
                                 ("AgentWorkMode", "USHORT"),
                                 ("NumSkillGroups", "USHORT"),
                                 ("EventReasonCode", "USHORT"),
                                 ("ForcedFlag", "UCHAR"),
                                 ("AgentServiceReq", "UINT")),
    # 1.8 SET_AGENT_STATE_CONF: InvokeID only
    SET_AGENT_STATE_CONF: _layout(("InvokeID", "UINT")),
    # pgemu-defined (docs/protocol.md; 1.11: no public layout)
    # MEDIA_LOGIN_REQ: 20 bytes
    MEDIA_LOGIN_REQ: _layout(("InvokeID", "UINT"), ("PeripheralID", "UINT"),
                             ("MRDID", "INT"), ("ICMAgentID", "INT"),
                             ("MaxTaskLimit", "UINT")),
    # pgemu-defined MEDIA_LOGIN_RESP: 16 bytes
    MEDIA_LOGIN_RESP: _layout(("InvokeID", "UINT"), ("Status", "UINT"),
                              ("MRDID", "INT"), ("ICMAgentID", "INT")),
    # pgemu-defined MEDIA_LOGOUT_IND: 20 bytes
    MEDIA_LOGOUT_IND: _layout(("InvokeID", "UINT"), ("PeripheralID", "UINT"),
                              ("MRDID", "INT"), ("ICMAgentID", "INT"),
                              ("ReasonCode", "UINT")),
    # pgemu-defined FAILURE_RESP: InvokeID UINT, Status UINT (8 bytes)
    FAILURE_RESP: _layout(("InvokeID", "UINT"), ("Status", "UINT")),
}
# pgemu-defined (docs/protocol.md; 1.11: no public layout): the ARM task
# messages 160, 161, 163, 164, 169 share one fixed part of 36 bytes; the
# TaskID (1.11: TASKID, 3 x INT) is TaskGroupHigh, TaskGroupLow,
# SequenceNumber.
_TASK = _layout(("InvokeID", "UINT"), ("PeripheralID", "UINT"),
                ("MRDID", "INT"), ("ICMAgentID", "INT"),
                ("TaskGroupHigh", "INT"), ("TaskGroupLow", "INT"),
                ("SequenceNumber", "INT"), ("DialogueID", "UINT"),
                ("TaskFlags", "UINT"))
# pgemu-defined OFFER/START_APPLICATION_TASK_RESP: 20 bytes
_TASK_RESP = _layout(("InvokeID", "UINT"), ("Status", "UINT"),
                     ("TaskGroupHigh", "INT"), ("TaskGroupLow", "INT"),
                     ("SequenceNumber", "INT"))
for _t in (OFFER_TASK_IND, OFFER_APPLICATION_TASK_REQ, START_TASK_IND,
           START_APPLICATION_TASK_REQ, END_TASK_IND):
    LAYOUTS[_t] = _TASK
for _t in (OFFER_APPLICATION_TASK_RESP, START_APPLICATION_TASK_RESP):
    LAYOUTS[_t] = _TASK_RESP
# pgemu-defined (docs/protocol.md, 181..186, 209, 210; 1.3 gives their
# numbers and purpose only): the resync bracket.
# AGENT_INIT_READY_EVENT: 4 bytes
LAYOUTS[AGENT_INIT_READY_EVENT] = _layout(("PeripheralID", "UINT"))
# BEGIN_AGENT_INIT_IND, END_AGENT_INIT_IND: 8 bytes
for _t in (BEGIN_AGENT_INIT_IND, END_AGENT_INIT_IND):
    LAYOUTS[_t] = _layout(("InvokeID", "UINT"), ("PeripheralID", "UINT"))
# AGENT_INIT_REQ: 32 bytes (floating AgentID 5, MaxBeyondTaskLimit 266)
LAYOUTS[AGENT_INIT_REQ] = _layout(
    ("InvokeID", "UINT"), ("PeripheralID", "UINT"), ("MRDID", "INT"),
    ("ICMAgentID", "INT"), ("AgentState", "USHORT"),
    ("EventReasonCode", "USHORT"), ("StateDuration", "UINT"),
    ("NumTasks", "UINT"), ("MaxTaskLimit", "UINT"))
# AGENT_INIT_RESP: 16 bytes
LAYOUTS[AGENT_INIT_RESP] = _layout(("InvokeID", "UINT"), ("Status", "UINT"),
                                   ("MRDID", "INT"), ("ICMAgentID", "INT"))
# TASK_INIT_IND, TASK_INIT_REQ: 46 bytes
for _t in (TASK_INIT_IND, TASK_INIT_REQ):
    LAYOUTS[_t] = _layout(
        ("InvokeID", "UINT"), ("PeripheralID", "UINT"), ("MRDID", "INT"),
        ("ICMAgentID", "INT"), ("TaskGroupHigh", "INT"),
        ("TaskGroupLow", "INT"), ("SequenceNumber", "INT"),
        ("DialogueID", "UINT"), ("TaskFlags", "UINT"),
        ("TaskState", "USHORT"), ("OfferTime", "TIME"),
        ("StartTime", "TIME"))
# TASK_INIT_RESP: 20 bytes
LAYOUTS[TASK_INIT_RESP] = _TASK_RESP
# The request of each RESP.
TASK_RESP_OF = {OFFER_APPLICATION_TASK_REQ: OFFER_APPLICATION_TASK_RESP,
                START_APPLICATION_TASK_REQ: START_APPLICATION_TASK_RESP,
                TASK_INIT_REQ: TASK_INIT_RESP}


class CtiError(Exception):
    """A protocol error seen by the client, or a wait that failed."""


class DecodeError(CtiError):
    pass


def msg_name(mtype):
    return MSG_NAMES.get(mtype, "type %d" % mtype)


def wide(version):
    """True when the floating tag and length are USHORTs (1.2)."""
    return version >= WIDE_FLOATING_VERSION


def fields_of(mtype, version):
    """The fixed-part fields of mtype at version: [(name, struct code)]."""
    return [(n, _T[t]) for n, t, since in LAYOUTS[mtype] if version >= since]


def fixed_len(mtype, version):
    """The fixed part's size in bytes (no padding, 1.1)."""
    return struct.calcsize(">" + "".join(c for _, c in
                                         fields_of(mtype, version)))


# Floating fields ----------------------------------------------------------

def flt_str(s, nul=True):
    """A STRING floating value: ASCII, with the NUL counted unless nul is
    false (1.2 "String rule on the wire")."""
    b = s.encode("ascii") if isinstance(s, str) else bytes(s)
    return b + b"\0" if nul else b


def flt_strings(nul, *items):
    """STRING floating fields of the (tag, value) items whose value is
    not None, in that order."""
    return [(t, flt_str(v, nul)) for t, v in items if v is not None]


def flt_uint(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def flt_int(v):
    return struct.pack(">i", v)


def flt_ushort(v):
    return struct.pack(">H", v)


def encode_floating(items, version):
    """The floating part: each (tag, data) with its header at the width of
    the version (1.2).  A tag or length that does not fit is an error."""
    out = b""
    for tag, data in items:
        data = bytes(data)
        if wide(version):
            if tag > 0xFFFF or len(data) > 0xFFFF:
                raise ValueError("tag %d, %d bytes: too big" % (tag,
                                                               len(data)))
            out += struct.pack(">HH", tag, len(data)) + data
        else:
            if tag > 0xFF or len(data) > 0xFF:
                raise ValueError("tag %d, %d bytes: too big for version %d"
                                 % (tag, len(data), version))
            out += struct.pack(">BB", tag, len(data)) + data
    return out


def decode_floating(data, version):
    """[(tag, bytes)] of a floating part; a field running past the end is
    a DecodeError (1.2: the end of the message ends the list)."""
    hdr = ">HH" if wide(version) else ">BB"
    hl = struct.calcsize(hdr)
    out, off = [], 0
    while off < len(data):
        if off + hl > len(data):
            raise DecodeError("floating header at offset %d cut short "
                              "(%d bytes left, version %d)" %
                              (off, len(data) - off, version))
        tag, n = struct.unpack_from(hdr, data, off)
        off += hl
        if off + n > len(data):
            raise DecodeError("floating field tag %d length %d runs past "
                              "the end (%d bytes left, version %d)" %
                              (tag, n, len(data) - off, version))
        out.append((tag, data[off:off + n]))
        off += n
    return out


# Messages -----------------------------------------------------------------

class Message(dict):
    """A decoded message: field name -> value, plus "type", "name",
    "floating" ([(tag, bytes)]), "fixed_len" and "body" (the raw body)."""

    def every(self, tag):
        """Every value of tag, in order (list members repeat)."""
        return [d for t, d in self["floating"] if t == tag]

    def raw(self, tag):
        v = self.every(tag)
        return v[0] if v else None

    def string(self, tag):
        """A STRING field, the NUL dropped if sent (1.2: accept both)."""
        v = self.raw(tag)
        if v is None:
            return None
        if v.endswith(b"\0"):
            v = v[:-1]
        return v.decode("ascii", errors="replace")

    def number(self, tag, signed=False):
        """A UCHAR, USHORT or (U)INT field, by its length."""
        v = self.raw(tag)
        if v is None:
            return None
        if len(v) not in (1, 2, 4):
            raise DecodeError("tag %d: %d bytes is not a number" %
                              (tag, len(v)))
        return int.from_bytes(v, "big", signed=signed)

    def tags(self):
        return [t for t, _ in self["floating"]]

    def __repr__(self):
        f = {k: v for k, v in self.items() if k not in ("body", "type")}
        return "<%s>" % " ".join("%s=%r" % kv for kv in f.items())


def encode_body(mtype, fields=None, floating=(), version=MAX_VERSION):
    """The body (fixed + floating part) of mtype at version; fields left
    out are 0."""
    fields = fields or {}
    known = fields_of(mtype, version)
    unknown = set(fields) - set(n for n, _ in known)
    if unknown:
        raise ValueError("%s v%d has no field %s" % (msg_name(mtype), version,
                                                      sorted(unknown)))
    fmt = ">" + "".join(c for _, c in known)
    body = struct.pack(fmt, *[fields.get(n, 0) for n, _ in known])
    return body + encode_floating(floating, version)


def frame(mtype, body):
    """MHDR + body (1.2): MessageLength counts the body only."""
    return struct.pack(">II", len(body), mtype) + body


def encode(mtype, fields=None, floating=(), version=MAX_VERSION):
    return frame(mtype, encode_body(mtype, fields, floating, version))


def decode(mtype, body, version=None):
    """A Message from a body at version.  OPEN_REQ is read at its own
    VersionNumber (offset 4, 1.2) when version is None.  A type we have no
    layout for keeps only its body."""
    m = Message(type=mtype, name=msg_name(mtype), body=body, floating=[])
    if mtype not in LAYOUTS:
        return m
    if version is None:
        if mtype != OPEN_REQ:
            raise ValueError("decode of %s needs a version" %
                             msg_name(mtype))
        if len(body) < 8:
            raise DecodeError("OPEN_REQ of %d bytes has no VersionNumber" %
                              len(body))
        version = struct.unpack_from(">I", body, 4)[0]
    known = fields_of(mtype, version)
    fmt = ">" + "".join(c for _, c in known)
    n = struct.calcsize(fmt)
    if len(body) < n:
        raise DecodeError("%s v%d: body of %d bytes, the fixed part is %d"
                          % (msg_name(mtype), version, len(body), n))
    m.update(zip([k for k, _ in known], struct.unpack_from(fmt, body)))
    m["fixed_len"] = n
    m["version"] = version
    m["floating"] = decode_floating(body[n:], version)
    return m


# The session --------------------------------------------------------------

class Session:
    """One CTI client connection.  Everything received goes to self.log
    (Message objects, or a Message with "error" for what did not decode);
    wait_for() and recv() consume it from a mark, as the harness's
    Watcher does."""

    def __init__(self, version=None, name="cti"):
        self.sock = None
        self.version = version
        self.name = name
        self.buf = b""
        self.log = []
        self.mark_at = 0
        self.eof = None          # None, "eof" or "reset" once closed
        self.invoke = 0
        self.opened = False

    # Transport
    def connect(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # 1.1 Socket options Cisco recommends: TCP_NODELAY
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.peer = (host, port)
        return self

    def local_port(self):
        return self.sock.getsockname()[1]

    def close_socket(self, reset=False):
        """Close our end; with reset, SO_LINGER 0 (1.1) sends a RST."""
        if self.sock is None:
            return
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        self.sock.close()
        self.sock = None

    def send_frame(self, data):
        """Raw bytes onto the connection, as they are."""
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def send_raw(self, mtype, body):
        self.send_frame(frame(mtype, body))

    def next_invoke(self):
        self.invoke += 1
        return self.invoke

    def send(self, mtype, fields=None, floating=(), version=None):
        v = version if version is not None else self.version
        if v is None:
            raise ValueError("send before the version is known")
        self.send_frame(encode(mtype, fields, floating, v))

    def _read_frame(self, deadline):
        """One frame into the log; False at EOF or when the deadline
        passes first."""
        while True:
            if len(self.buf) >= MHDR_LEN:
                length, mtype = struct.unpack_from(">II", self.buf)
                if length + MHDR_LEN > MAX_MESSAGE:
                    raise CtiError("%s: %s of %d bytes, over the %d-byte "
                                   "maximum" % (self.name, msg_name(mtype),
                                                length + MHDR_LEN,
                                                MAX_MESSAGE))
                if len(self.buf) >= MHDR_LEN + length:
                    body = self.buf[MHDR_LEN:MHDR_LEN + length]
                    self.buf = self.buf[MHDR_LEN + length:]
                    self._logged(mtype, body)
                    return True
            if self.eof or self.sock is None:
                return False
            # One look at the socket even when the time is up.
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.sock], [], [], max(left, 0))
            if not r:
                if left <= 0:
                    return False
                continue
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                self.eof = "reset"
                continue
            except BlockingIOError:
                continue
            if not d:
                self.eof = "eof"
                continue
            self.buf += d

    def _logged(self, mtype, body):
        v = self.version if self.version is not None else MAX_VERSION
        try:
            m = decode(mtype, body, v)
        except CtiError as e:
            m = Message(type=mtype, name=msg_name(mtype), body=body,
                        floating=[], error=str(e))
        m["t"] = time.monotonic()
        self.log.append(m)

    def mark(self):
        """Only messages from now on count for the next wait_for()."""
        self.mark_at = len(self.log)
        return self.mark_at

    def since(self, mark):
        return self.log[mark:]

    def wait_for(self, pred, timeout=5.0, what="a message", since=None):
        """The first message since the mark (or since) that pred accepts,
        reading as needed; it becomes the new mark.  EOF or the time-out
        first is a CtiError naming what was received."""
        deadline = time.monotonic() + timeout
        seen = self.mark_at if since is None else since
        while True:
            while seen < len(self.log):
                m = self.log[seen]
                seen += 1
                if pred(m):
                    self.mark_at = seen
                    return m
            if not self._read_frame(deadline):
                why = ("connection closed (%s)" % self.eof if self.eof
                       else "timed out after %.1f s" % timeout)
                raise CtiError("%s: %s waiting for %s; received: %s" % (
                    self.name, why, what, self.log[-10:]))

    def wait_type(self, types, timeout=5.0, invoke=None):
        if isinstance(types, int):
            types = (types,)
        return self.wait_for(
            lambda m: m["type"] in types and
            (invoke is None or m.get("InvokeID") == invoke), timeout,
            "%s%s" % ("/".join(msg_name(t) for t in types),
                      "" if invoke is None else " InvokeID %d" % invoke))

    def recv(self, timeout=5.0):
        """The next message after the mark as (type, body); None at EOF.
        A time-out is a CtiError."""
        deadline = time.monotonic() + timeout
        while self.mark_at >= len(self.log):
            if not self._read_frame(deadline):
                if self.eof:
                    return None
                raise CtiError("%s: nothing received in %.1f s" %
                               (self.name, timeout))
        m = self.log[self.mark_at]
        self.mark_at += 1
        return m["type"], m["body"]

    def read_for(self, seconds):
        """Everything that arrives in the next seconds (a bounded read,
        e.g. to prove nothing comes); stops early at EOF."""
        start = len(self.log)
        deadline = time.monotonic() + seconds
        while self._read_frame(deadline):
            pass
        return self.log[start:]

    def wait_closed(self, timeout=5.0):
        """True once the server closed the connection (EOF or reset),
        every message before it logged; False at the time-out."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._read_frame(deadline) and not self.eof:
                return False
        while self._read_frame(deadline):
            pass
        return True

    # Requests
    def open(self, version=24, client_id="pgemu-test", services=None,
             agent_state_mask=AGENT_STATE_MASK_ALL, call_mask=0,
             config_mask=0, idle_timeout=NO_IDLE_TIMEOUT,
             peripheral_id=NULL_PERIPHERAL_ID, agent_id=None,
             extension=None, instrument=None, reserved=(0, 0, 0),
             password=b"", signature=None, omit_client_id=False, nul=True,
             invoke=None, floating=(), timeout=10.0):
        """OPEN_REQ (1.4); the OPEN_CONF or FAILURE_CONF that answers its
        InvokeID."""
        if services is None:
            services = CTI_SERVICE_ALL_EVENTS
        inv = invoke if invoke is not None else self.next_invoke()
        flt = flt_strings(nul, (CLIENT_ID_TAG,
                                None if omit_client_id else client_id))
        flt.append((CLIENT_PASSWORD_TAG, bytes(password)))
        flt += flt_strings(nul, (CLIENT_SIGNATURE_TAG, signature),
                           (AGENT_EXTENSION_TAG, extension),
                           (AGENT_ID_TAG, agent_id),
                           (AGENT_INSTRUMENT_TAG, instrument))
        flt.extend(floating)
        self.version = version
        self.send(OPEN_REQ, dict(
            InvokeID=inv, VersionNumber=version, IdleTimeout=idle_timeout,
            PeripheralID=peripheral_id, ServicesRequested=services,
            CallMsgMask=call_mask, AgentStateMask=agent_state_mask,
            ConfigMsgMask=config_mask, Reserved1=reserved[0],
            Reserved2=reserved[1], Reserved3=reserved[2]), flt, version)
        m = self.wait_type((OPEN_CONF, FAILURE_CONF), timeout, inv)
        self.opened = m["type"] == OPEN_CONF
        return m

    def request(self, mtype, fields, floating=(), answers=(), timeout=5.0):
        """Send a request with a fresh InvokeID; the answer carrying it
        (one of answers, FAILURE_CONF or CONTROL_FAILURE_CONF)."""
        inv = self.next_invoke()
        f = dict(fields)
        f["InvokeID"] = inv
        self.send(mtype, f, floating)
        return self.wait_type(tuple(answers) + (FAILURE_CONF,
                                                CONTROL_FAILURE_CONF),
                              timeout, inv)

    def heartbeat(self, timeout=5.0):
        return self.request(HEARTBEAT_REQ, {}, (), (HEARTBEAT_CONF,),
                            timeout)

    def close(self, status=E_CTI_NO_ERROR, timeout=5.0):
        return self.request(CLOSE_REQ, {"Status": status}, (), (CLOSE_CONF,),
                            timeout)

    def query_agent_state(self, peripheral_id, mrdid=1,
                          icm_agent_id=NULL_ICM_AGENT_ID, agent_id=None,
                          extension=None, instrument=None, nul=True,
                          timeout=5.0):
        flt = flt_strings(nul, (AGENT_EXTENSION_TAG, extension),
                          (AGENT_ID_TAG, agent_id),
                          (AGENT_INSTRUMENT_TAG, instrument))
        return self.request(QUERY_AGENT_STATE_REQ, dict(
            PeripheralID=peripheral_id, MRDID=mrdid,
            ICMAgentID=icm_agent_id), flt, (QUERY_AGENT_STATE_CONF,),
            timeout)

    def set_agent_state(self, peripheral_id, state, reason=0, agent_id=None,
                        instrument=None, work_mode=AGENT_WORK_MODE_UNSPECIFIED,
                        forced=0, service_req=0, password=None, nul=True,
                        mrdid=None, timeout=5.0):
        """SET_AGENT_STATE_REQ (1.8); with mrdid, the MR_DOMAIN_ID (216,
        1.10) floating field naming the MRD (INT: pgemu-defined)."""
        flt = flt_strings(nul, (AGENT_INSTRUMENT_TAG, instrument),
                          (AGENT_ID_TAG, agent_id),
                          (AGENT_PASSWORD_TAG, password))
        if mrdid is not None:
            flt.append((MR_DOMAIN_ID_TAG, flt_int(mrdid)))
        return self.request(SET_AGENT_STATE_REQ, dict(
            PeripheralID=peripheral_id, AgentState=state,
            AgentWorkMode=work_mode, NumSkillGroups=0,
            EventReasonCode=reason, ForcedFlag=forced,
            AgentServiceReq=service_req), flt, (SET_AGENT_STATE_CONF,),
            timeout)


    def media_login(self, peripheral_id, mrdid, icm_agent_id=NULL_ICM_AGENT_ID,
                    agent_id=None, max_tasks=0, timeout=5.0):
        """MEDIA_LOGIN_REQ (pgemu-defined layout): the MEDIA_LOGIN_RESP,
        FAILURE_CONF or CONTROL_FAILURE_CONF that answers it."""
        flt = flt_strings(True, (AGENT_ID_TAG, agent_id))
        return self.request(MEDIA_LOGIN_REQ, dict(
            PeripheralID=peripheral_id, MRDID=mrdid,
            ICMAgentID=icm_agent_id, MaxTaskLimit=max_tasks), flt,
            (MEDIA_LOGIN_RESP,), timeout)

    def task_fields(self, peripheral_id, mrdid, icm_agent_id, task=(0, 0, 0),
                    dialogue=0, flags=0):
        """The fixed part of an ARM task message (pgemu-defined)."""
        return dict(PeripheralID=peripheral_id, MRDID=mrdid,
                    ICMAgentID=icm_agent_id, TaskGroupHigh=task[0],
                    TaskGroupLow=task[1], SequenceNumber=task[2],
                    DialogueID=dialogue, TaskFlags=flags)

    def task_ind(self, mtype, peripheral_id, mrdid, icm_agent_id,
                 task=(0, 0, 0), dialogue=0, flags=0, floating=()):
        """OFFER_TASK_IND, START_TASK_IND or END_TASK_IND, sent: an
        indication, answered only when refused (FAILURE_RESP or
        FAILURE_CONF).  Its InvokeID."""
        inv = self.next_invoke()
        f = self.task_fields(peripheral_id, mrdid, icm_agent_id, task,
                             dialogue, flags)
        f["InvokeID"] = inv
        self.send(mtype, f, floating)
        return inv

    def app_task(self, mtype, peripheral_id, mrdid, icm_agent_id,
                 task=(0, 0, 0), dialogue=0, flags=0, floating=(),
                 timeout=5.0):
        """OFFER_ or START_APPLICATION_TASK_REQ: its RESP, FAILURE_RESP
        or FAILURE_CONF."""
        return self.request(mtype, self.task_fields(
            peripheral_id, mrdid, icm_agent_id, task, dialogue, flags),
            floating, (TASK_RESP_OF[mtype], FAILURE_RESP), timeout)

    def init_bracket(self, mtype, peripheral_id, invoke=None):
        """BEGIN_ or END_AGENT_INIT_IND (pgemu-defined), sent: answered
        only when refused (FAILURE_RESP or FAILURE_CONF).  Its InvokeID."""
        inv = self.next_invoke() if invoke is None else invoke
        self.send(mtype, dict(InvokeID=inv, PeripheralID=peripheral_id))
        return inv

    def agent_init(self, peripheral_id, mrdid, icm_agent_id, state,
                   num_tasks=0, duration=0, reason=0, max_tasks=0,
                   agent_id=None, timeout=5.0):
        """AGENT_INIT_REQ (pgemu-defined): its AGENT_INIT_RESP,
        FAILURE_RESP or FAILURE_CONF."""
        return self.request(AGENT_INIT_REQ, dict(
            PeripheralID=peripheral_id, MRDID=mrdid,
            ICMAgentID=icm_agent_id, AgentState=state,
            EventReasonCode=reason, StateDuration=duration,
            NumTasks=num_tasks, MaxTaskLimit=max_tasks),
            flt_strings(True, (AGENT_ID_TAG, agent_id)),
            (AGENT_INIT_RESP, FAILURE_RESP), timeout)

    def task_init_fields(self, peripheral_id, mrdid, icm_agent_id, task,
                         dialogue, flags, state, offer_time, start_time):
        f = self.task_fields(peripheral_id, mrdid, icm_agent_id, task,
                             dialogue, flags)
        f.update(TaskState=state, OfferTime=offer_time,
                 StartTime=start_time)
        return f

    def task_init_ind(self, peripheral_id, mrdid, icm_agent_id, task,
                      dialogue=0, flags=0, state=TASK_INIT_OFFERED,
                      offer_time=0, start_time=0):
        """TASK_INIT_IND (pgemu-defined), sent: answered only when
        refused.  Its InvokeID."""
        inv = self.next_invoke()
        f = self.task_init_fields(peripheral_id, mrdid, icm_agent_id, task,
                                  dialogue, flags, state, offer_time,
                                  start_time)
        f["InvokeID"] = inv
        self.send(TASK_INIT_IND, f)
        return inv

    def task_init_req(self, peripheral_id, mrdid, icm_agent_id,
                      task=(0, 0, 0), dialogue=0, flags=0,
                      state=TASK_INIT_OFFERED, offer_time=0, start_time=0,
                      timeout=5.0):
        """TASK_INIT_REQ (pgemu-defined): its TASK_INIT_RESP,
        FAILURE_RESP or FAILURE_CONF."""
        return self.request(TASK_INIT_REQ, self.task_init_fields(
            peripheral_id, mrdid, icm_agent_id, task, dialogue, flags, state,
            offer_time, start_time), (), (TASK_INIT_RESP, FAILURE_RESP),
            timeout)

    def media_logout(self, peripheral_id, mrdid, reason=0,
                     icm_agent_id=NULL_ICM_AGENT_ID, agent_id=None):
        """MEDIA_LOGOUT_IND (pgemu-defined layout), sent: an indication,
        answered only when refused (FAILURE_RESP).  Its InvokeID."""
        inv = self.next_invoke()
        self.send(MEDIA_LOGOUT_IND, dict(
            InvokeID=inv, PeripheralID=peripheral_id, MRDID=mrdid,
            ICMAgentID=icm_agent_id, ReasonCode=reason),
            flt_strings(True, (AGENT_ID_TAG, agent_id)))
        return inv


def connect(host, port, name="cti", timeout=5.0):
    return Session(name=name).connect(host, port, timeout)
