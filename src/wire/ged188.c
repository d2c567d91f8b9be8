/*
 * The GED-188 codec: the layout tables of ged188.h, the one decoder and the
 * one encoder that read them, and docs/protocol.md's tables made from them.
 * Nothing here reads a byte before checking that it is there; the encoder
 * refuses what the decoder would refuse, so that what pgemu sends, pgemu
 * takes back.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ged188.h"

#define GED_MAX_BODY	(GED_MAX_MESSAGE - WIRE_HDR_LEN)
#define GED_END		{ NULL, GF_UINT, 0 }

/* Bytes of each kind of value; 0: as long as its field says. */
static const uint8_t ged_fsizes[GF_FTYPE_MAX] = {
	[GF_UCHAR] = 1, [GF_USHORT] = 2, [GF_SHORT] = 2, [GF_UINT] = 4,
	[GF_INT] = 4, [GF_BOOL] = 2, [GF_TIME] = 4, [GF_STRING] = 0,
	[GF_UNSPEC] = 0
};
static const char *const ged_ftype_names[GF_FTYPE_MAX] = {
	[GF_UCHAR] = "UCHAR", [GF_USHORT] = "USHORT", [GF_SHORT] = "SHORT",
	[GF_UINT] = "UINT", [GF_INT] = "INT", [GF_BOOL] = "BOOL",
	[GF_TIME] = "TIME", [GF_STRING] = "STRING", [GF_UNSPEC] = "UNSPEC"
};

/* Fixed parts, in wire order (ged188.h's index enums follow them). */
static const struct ged_field f_invoke[] = {
	{ "InvokeID", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_invoke_status[] = {
	{ "InvokeID", GF_UINT, 0 }, { "Status", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_failure_event[] = {
	{ "Status", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_open_req[] = {
	{ "InvokeID", GF_UINT, 0 }, { "VersionNumber", GF_UINT, 0 },
	{ "IdleTimeout", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 },
	{ "ServicesRequested", GF_UINT, 0 }, { "CallMsgMask", GF_UINT, 0 },
	{ "AgentStateMask", GF_UINT, 0 }, { "ConfigMsgMask", GF_UINT, 0 },
	{ "Reserved1", GF_UINT, 0 }, { "Reserved2", GF_UINT, 0 },
	{ "Reserved3", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_open_conf[] = {
	{ "InvokeID", GF_UINT, 0 }, { "ServicesGranted", GF_UINT, 0 },
	{ "MonitorID", GF_UINT, 0 }, { "PGStatus", GF_UINT, 0 },
	{ "ICMCentralControllerTime", GF_TIME, 0 },
	{ "PeripheralOnline", GF_BOOL, 5 }, { "PeripheralType", GF_USHORT, 0 },
	{ "AgentState", GF_USHORT, 0 }, { "DepartmentID", GF_INT, 19 },
	{ "SessionType", GF_USHORT, 24 }, GED_END
};
static const struct ged_field f_system_event[] = {
	{ "PGStatus", GF_UINT, 0 }, { "ICMCentralControllerTime", GF_TIME, 0 },
	{ "SystemEventID", GF_UINT, 0 }, { "SystemEventArg1", GF_UINT, 0 },
	{ "SystemEventArg2", GF_UINT, 0 }, { "SystemEventArg3", GF_UINT, 0 },
	{ "EventDeviceType", GF_USHORT, 0 }, GED_END
};
/* NumFltSkillGroups: "v10..13" in the reference, in every version here. */
static const struct ged_field f_agent_state_event[] = {
	{ "MonitorID", GF_UINT, 5 }, { "PeripheralID", GF_UINT, 0 },
	{ "SessionID", GF_UINT, 8 }, { "PeripheralType", GF_USHORT, 0 },
	{ "SkillGroupState", GF_USHORT, 0 }, { "StateDuration", GF_UINT, 0 },
	{ "SkillGroupNumber", GF_UINT, 0 }, { "SkillGroupID", GF_UINT, 0 },
	{ "SkillGroupPriority", GF_USHORT, 0 }, { "AgentState", GF_USHORT, 0 },
	{ "EventReasonCode", GF_USHORT, 6 }, { "MRDID", GF_INT, 0 },
	{ "NumTasks", GF_UINT, 0 }, { "AgentMode", GF_USHORT, 0 },
	{ "MaxTaskLimit", GF_UINT, 0 }, { "ICMAgentID", GF_INT, 9 },
	{ "AgentAvailabilityStatus", GF_UINT, 9 },
	{ "NumFltSkillGroups", GF_USHORT, 0 }, { "DepartmentID", GF_INT, 19 },
	GED_END
};
static const struct ged_field f_query_agent_state_req[] = {
	{ "InvokeID", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 },
	{ "MRDID", GF_INT, 0 }, { "ICMAgentID", GF_INT, 0 }, GED_END
};
static const struct ged_field f_query_agent_state_conf[] = {
	{ "InvokeID", GF_UINT, 0 }, { "AgentState", GF_USHORT, 0 },
	{ "NumSkillGroups", GF_USHORT, 0 }, { "MRDID", GF_INT, 0 },
	{ "NumTasks", GF_UINT, 0 }, { "AgentMode", GF_USHORT, 0 },
	{ "MaxTaskLimit", GF_UINT, 0 }, { "ICMAgentID", GF_INT, 0 },
	{ "AgentAvailabilityStatus", GF_UINT, 0 },
	{ "DepartmentID", GF_INT, 19 }, GED_END
};
static const struct ged_field f_set_agent_state_req[] = {
	{ "InvokeID", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 },
	{ "AgentState", GF_USHORT, 0 }, { "AgentWorkMode", GF_USHORT, 0 },
	{ "NumSkillGroups", GF_USHORT, 0 }, { "EventReasonCode", GF_USHORT, 0 },
	{ "ForcedFlag", GF_UCHAR, 0 }, { "AgentServiceReq", GF_UINT, 0 },
	GED_END
};
static const struct ged_field f_control_failure_conf[] = {
	{ "InvokeID", GF_UINT, 0 }, { "FailureCode", GF_USHORT, 0 },
	{ "PeripheralErrorCode", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_media_login_req[] = {
	{ "InvokeID", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 },
	{ "MRDID", GF_INT, 0 }, { "ICMAgentID", GF_INT, 0 },
	{ "MaxTaskLimit", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_media_login_resp[] = {
	{ "InvokeID", GF_UINT, 0 }, { "Status", GF_UINT, 0 },
	{ "MRDID", GF_INT, 0 }, { "ICMAgentID", GF_INT, 0 }, GED_END
};
static const struct ged_field f_media_logout_ind[] = {
	{ "InvokeID", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 },
	{ "MRDID", GF_INT, 0 }, { "ICMAgentID", GF_INT, 0 },
	{ "ReasonCode", GF_UINT, 0 }, GED_END
};

/* ARM task messages (pgemu-defined: the reference gives no layout). */
static const struct ged_field f_task[] = {
	{ "InvokeID", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 },
	{ "MRDID", GF_INT, 0 }, { "ICMAgentID", GF_INT, 0 },
	{ "TaskGroupHigh", GF_INT, 0 }, { "TaskGroupLow", GF_INT, 0 },
	{ "SequenceNumber", GF_INT, 0 }, { "DialogueID", GF_UINT, 0 },
	{ "TaskFlags", GF_UINT, 0 }, GED_END
};
/* The resync bracket (pgemu-defined, R19). */
static const struct ged_field f_init_ready[] = {
	{ "PeripheralID", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_init_bracket[] = {
	{ "InvokeID", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_agent_init_req[] = {
	{ "InvokeID", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 },
	{ "MRDID", GF_INT, 0 }, { "ICMAgentID", GF_INT, 0 },
	{ "AgentState", GF_USHORT, 0 }, { "EventReasonCode", GF_USHORT, 0 },
	{ "StateDuration", GF_UINT, 0 }, { "NumTasks", GF_UINT, 0 },
	{ "MaxTaskLimit", GF_UINT, 0 }, GED_END
};
static const struct ged_field f_task_init[] = {
	{ "InvokeID", GF_UINT, 0 }, { "PeripheralID", GF_UINT, 0 },
	{ "MRDID", GF_INT, 0 }, { "ICMAgentID", GF_INT, 0 },
	{ "TaskGroupHigh", GF_INT, 0 }, { "TaskGroupLow", GF_INT, 0 },
	{ "SequenceNumber", GF_INT, 0 }, { "DialogueID", GF_UINT, 0 },
	{ "TaskFlags", GF_UINT, 0 }, { "TaskState", GF_USHORT, 0 },
	{ "OfferTime", GF_TIME, 0 }, { "StartTime", GF_TIME, 0 }, GED_END
};
static const struct ged_field f_task_resp[] = {
	{ "InvokeID", GF_UINT, 0 }, { "Status", GF_UINT, 0 },
	{ "TaskGroupHigh", GF_INT, 0 }, { "TaskGroupLow", GF_INT, 0 },
	{ "SequenceNumber", GF_INT, 0 }, GED_END
};

/* The floating fields each message may carry, in the reference's order. */
static const uint16_t t_none[] = { 0 };
static const uint16_t t_open_req[] = {
	TAG_CLIENT_ID, TAG_CLIENT_PASSWORD, TAG_CLIENT_SIGNATURE,
	TAG_AGENT_EXTENSION, TAG_AGENT_ID, TAG_AGENT_INSTRUMENT,
	TAG_APP_PATH_ID, TAG_AGENT_ID_LONG, 0
};
static const uint16_t t_open_conf[] = {
	TAG_AGENT_EXTENSION, TAG_AGENT_ID, TAG_AGENT_INSTRUMENT,
	TAG_NUM_PERIPHERALS, TAG_PERIPHERAL_ID, TAG_MULTI_LINE_AGENT_CONTROL, 0
};
static const uint16_t t_system_event[] = {
	TAG_GED_TEXT, TAG_EVENT_DEVICE_ID, 0
};
static const uint16_t t_agent_state_event[] = {
	TAG_CLIENT_SIGNATURE, TAG_AGENT_ID, TAG_AGENT_EXTENSION,
	TAG_AGENT_INSTRUMENT, TAG_DURATION, TAG_EXT_AGENT_STATE, TAG_DIRECTION,
	TAG_SKILL_GROUP_NUMBER, TAG_SKILL_GROUP_ID, TAG_SKILL_GROUP_PRIORITY,
	TAG_SKILL_GROUP_STATE, TAG_MAX_BEYOND_TASK_LIMIT, TAG_AGENT_ID_LONG, 0
};
static const uint16_t t_agent_ids[] = {
	TAG_AGENT_EXTENSION, TAG_AGENT_ID, TAG_AGENT_INSTRUMENT, 0
};
static const uint16_t t_query_agent_state_conf[] = {
	TAG_AGENT_ID, TAG_AGENT_EXTENSION, TAG_AGENT_INSTRUMENT,
	TAG_SKILL_GROUP_NUMBER, TAG_SKILL_GROUP_ID, TAG_SKILL_GROUP_PRIORITY,
	TAG_SKILL_GROUP_STATE, TAG_MAX_BEYOND_TASK_LIMIT, 0
};
static const uint16_t t_set_agent_state_req[] = {
	TAG_AGENT_INSTRUMENT, TAG_AGENT_ID, TAG_AGENT_PASSWORD, TAG_POSITION_ID,
	TAG_SUPERVISOR_ID, TAG_SSO_ENABLED, TAG_SKILL_GROUP_NUMBER,
	TAG_SKILL_GROUP_PRIORITY, 0
};
static const uint16_t t_media_login_req[] = {
	TAG_AGENT_ID, TAG_AGENT_EXTENSION, TAG_MAX_BEYOND_TASK_LIMIT, 0
};
static const uint16_t t_media_logout_ind[] = {
	TAG_AGENT_ID, TAG_FLT_ICM_DISP, TAG_FLT_APP_DISP, 0
};
/* protocol-facts 1.11: 266 in AGENT_INIT_REQ. */
static const uint16_t t_agent_init_req[] = {
	TAG_AGENT_ID, TAG_MAX_BEYOND_TASK_LIMIT, 0
};
/* protocol-facts 1.11: 268 in OFFER/START_APPLICATION_TASK_REQ. */
static const uint16_t t_app_task_req[] = { TAG_XFER_IN_WHILE_LOGGED_OUT, 0 };

#define TO_S	GED_DIR_TO_SERVER
#define TO_C	GED_DIR_TO_CLIENT
#define PGEMU	"pgemu-defined"

const struct ged_layout ged_layouts[] = {
	{ MSG_FAILURE_CONF, "FAILURE_CONF", TO_C, f_invoke_status, t_none,
	    "protocol-facts 1.4 (S8, S12, S13)" },
	{ MSG_FAILURE_EVENT, "FAILURE_EVENT", TO_C, f_failure_event, t_none,
	    "protocol-facts 1.4 (S8, S12, S13)" },
	{ MSG_OPEN_REQ, "OPEN_REQ", TO_S, f_open_req, t_open_req,
	    "protocol-facts 1.4 (S1, S8, S12, S13, S14)" },
	{ MSG_OPEN_CONF, "OPEN_CONF", TO_C, f_open_conf, t_open_conf,
	    "protocol-facts 1.4 (S1, S12, S13)" },
	{ MSG_HEARTBEAT_REQ, "HEARTBEAT_REQ", TO_S, f_invoke, t_none,
	    "protocol-facts 1.4 (S1)" },
	{ MSG_HEARTBEAT_CONF, "HEARTBEAT_CONF", TO_C, f_invoke, t_none,
	    "protocol-facts 1.4 (S1)" },
	{ MSG_CLOSE_REQ, "CLOSE_REQ", TO_S, f_invoke_status, t_none,
	    "protocol-facts 1.4 (S1, S8, S13)" },
	{ MSG_CLOSE_CONF, "CLOSE_CONF", TO_C, f_invoke, t_none,
	    "protocol-facts 1.4 (S1, S8, S13)" },
	{ MSG_AGENT_STATE_EVENT, "AGENT_STATE_EVENT", TO_C,
	    f_agent_state_event, t_agent_state_event,
	    "protocol-facts 1.8 (S3, S12, S13, S14)" },
	{ MSG_SYSTEM_EVENT, "SYSTEM_EVENT", TO_C, f_system_event,
	    t_system_event, "protocol-facts 1.8 (S3, S12)" },
	{ MSG_CONTROL_FAILURE_CONF, "CONTROL_FAILURE_CONF", TO_C,
	    f_control_failure_conf, t_none, "protocol-facts 1.4 (S3, S12)" },
	{ MSG_QUERY_AGENT_STATE_REQ, "QUERY_AGENT_STATE_REQ", TO_S,
	    f_query_agent_state_req, t_agent_ids, "protocol-facts 1.8 (S3)" },
	{ MSG_QUERY_AGENT_STATE_CONF, "QUERY_AGENT_STATE_CONF", TO_C,
	    f_query_agent_state_conf, t_query_agent_state_conf,
	    "protocol-facts 1.8 (S3)" },
	{ MSG_SET_AGENT_STATE_REQ, "SET_AGENT_STATE_REQ", TO_S,
	    f_set_agent_state_req, t_set_agent_state_req,
	    "protocol-facts 1.8 (S3)" },
	{ MSG_SET_AGENT_STATE_CONF, "SET_AGENT_STATE_CONF", TO_C, f_invoke,
	    t_none, "protocol-facts 1.8 (S3)" },
	{ MSG_MEDIA_LOGIN_REQ, "MEDIA_LOGIN_REQ", TO_S, f_media_login_req,
	    t_media_login_req, PGEMU },
	{ MSG_MEDIA_LOGIN_RESP, "MEDIA_LOGIN_RESP", TO_C, f_media_login_resp,
	    t_none, PGEMU },
	{ MSG_MEDIA_LOGOUT_IND, "MEDIA_LOGOUT_IND", TO_S, f_media_logout_ind,
	    t_media_logout_ind, PGEMU },
	{ MSG_OFFER_TASK_IND, "OFFER_TASK_IND", TO_S, f_task, t_none, PGEMU },
	{ MSG_OFFER_APPLICATION_TASK_REQ, "OFFER_APPLICATION_TASK_REQ", TO_S,
	    f_task, t_app_task_req, PGEMU },
	{ MSG_OFFER_APPLICATION_TASK_RESP, "OFFER_APPLICATION_TASK_RESP",
	    TO_C, f_task_resp, t_none, PGEMU },
	{ MSG_START_TASK_IND, "START_TASK_IND", TO_S, f_task, t_none, PGEMU },
	{ MSG_START_APPLICATION_TASK_REQ, "START_APPLICATION_TASK_REQ", TO_S,
	    f_task, t_app_task_req, PGEMU },
	{ MSG_START_APPLICATION_TASK_RESP, "START_APPLICATION_TASK_RESP",
	    TO_C, f_task_resp, t_none, PGEMU },
	{ MSG_END_TASK_IND, "END_TASK_IND", TO_S, f_task, t_none, PGEMU },
	{ MSG_BEGIN_AGENT_INIT_IND, "BEGIN_AGENT_INIT_IND", TO_S,
	    f_init_bracket, t_none, PGEMU },
	{ MSG_AGENT_INIT_REQ, "AGENT_INIT_REQ", TO_S, f_agent_init_req,
	    t_agent_init_req, PGEMU },
	{ MSG_AGENT_INIT_RESP, "AGENT_INIT_RESP", TO_C, f_media_login_resp,
	    t_none, PGEMU },
	{ MSG_END_AGENT_INIT_IND, "END_AGENT_INIT_IND", TO_S, f_init_bracket,
	    t_none, PGEMU },
	{ MSG_TASK_INIT_IND, "TASK_INIT_IND", TO_S, f_task_init, t_none,
	    PGEMU },
	{ MSG_AGENT_INIT_READY_EVENT, "AGENT_INIT_READY_EVENT", TO_C,
	    f_init_ready, t_none, PGEMU },
	{ MSG_FAILURE_RESP, "FAILURE_RESP", TO_C, f_invoke_status, t_none,
	    PGEMU },
	{ MSG_TASK_INIT_REQ, "TASK_INIT_REQ", TO_S, f_task_init, t_none,
	    PGEMU },
	{ MSG_TASK_INIT_RESP, "TASK_INIT_RESP", TO_C, f_task_resp, t_none,
	    PGEMU },
	{ 0, NULL, 0, NULL, NULL, NULL }
};

/*
 * For link.c's frame check: the smallest fixed part over the versions and
 * the largest body GED-188 allows.  check_ged188 holds it to ged_layouts[].
 */
#define GT(type, name, min)	{ type, name, min, GED_MAX_BODY }
const struct wire_type_info ged_types[] = {
	GT(MSG_FAILURE_CONF,		"FAILURE_CONF",			 8),
	GT(MSG_FAILURE_EVENT,		"FAILURE_EVENT",		 4),
	GT(MSG_OPEN_REQ,		"OPEN_REQ",			44),
	GT(MSG_OPEN_CONF,		"OPEN_CONF",			26),
	GT(MSG_HEARTBEAT_REQ,		"HEARTBEAT_REQ",		 4),
	GT(MSG_HEARTBEAT_CONF,		"HEARTBEAT_CONF",		 4),
	GT(MSG_CLOSE_REQ,		"CLOSE_REQ",			 8),
	GT(MSG_CLOSE_CONF,		"CLOSE_CONF",			 4),
	GT(MSG_AGENT_STATE_EVENT,	"AGENT_STATE_EVENT",		58),
	GT(MSG_SYSTEM_EVENT,		"SYSTEM_EVENT",			26),
	GT(MSG_CONTROL_FAILURE_CONF,	"CONTROL_FAILURE_CONF",		10),
	GT(MSG_QUERY_AGENT_STATE_REQ,	"QUERY_AGENT_STATE_REQ",	16),
	GT(MSG_QUERY_AGENT_STATE_CONF,	"QUERY_AGENT_STATE_CONF",	30),
	GT(MSG_SET_AGENT_STATE_REQ,	"SET_AGENT_STATE_REQ",		21),
	GT(MSG_SET_AGENT_STATE_CONF,	"SET_AGENT_STATE_CONF",		 4),
	GT(MSG_MEDIA_LOGIN_REQ,		"MEDIA_LOGIN_REQ",		20),
	GT(MSG_MEDIA_LOGIN_RESP,	"MEDIA_LOGIN_RESP",		16),
	GT(MSG_MEDIA_LOGOUT_IND,	"MEDIA_LOGOUT_IND",		20),
	GT(MSG_OFFER_TASK_IND,		"OFFER_TASK_IND",		36),
	GT(MSG_OFFER_APPLICATION_TASK_REQ, "OFFER_APPLICATION_TASK_REQ", 36),
	GT(MSG_OFFER_APPLICATION_TASK_RESP, "OFFER_APPLICATION_TASK_RESP", 20),
	GT(MSG_START_TASK_IND,		"START_TASK_IND",		36),
	GT(MSG_START_APPLICATION_TASK_REQ, "START_APPLICATION_TASK_REQ", 36),
	GT(MSG_START_APPLICATION_TASK_RESP, "START_APPLICATION_TASK_RESP", 20),
	GT(MSG_END_TASK_IND,		"END_TASK_IND",			36),
	GT(MSG_BEGIN_AGENT_INIT_IND,	"BEGIN_AGENT_INIT_IND",		 8),
	GT(MSG_AGENT_INIT_REQ,		"AGENT_INIT_REQ",		32),
	GT(MSG_AGENT_INIT_RESP,		"AGENT_INIT_RESP",		16),
	GT(MSG_END_AGENT_INIT_IND,	"END_AGENT_INIT_IND",		 8),
	GT(MSG_TASK_INIT_IND,		"TASK_INIT_IND",		46),
	GT(MSG_AGENT_INIT_READY_EVENT,	"AGENT_INIT_READY_EVENT",	 4),
	GT(MSG_FAILURE_RESP,		"FAILURE_RESP",			 8),
	GT(MSG_TASK_INIT_REQ,		"TASK_INIT_REQ",		46),
	GT(MSG_TASK_INIT_RESP,		"TASK_INIT_RESP",		20),
	{ 0,				NULL,			 0, 0 }
};

#define F14	"protocol-facts 1.4"
#define F18	"protocol-facts 1.8"
#define F110	"protocol-facts 1.10"

/*
 * Every floating field the layouts name, by tag.  Where the reference gives
 * the tag but not the type or size, pgemu chose one and says so.
 */
const struct ged_tag_def ged_tags[] = {
	{ TAG_CLIENT_ID, "ClientID", GF_STRING, 64, 0, F14 },
	{ TAG_CLIENT_PASSWORD, "ClientPassword", GF_UNSPEC, 64, 0, F14 },
	{ TAG_CLIENT_SIGNATURE, "ClientSignature", GF_STRING, 64, 0, F14 },
	{ TAG_AGENT_EXTENSION, "AgentExtension", GF_STRING, 16, 0, F14 },
	{ TAG_AGENT_ID, "AgentID", GF_STRING, 12, 0, F14 },
	{ TAG_AGENT_INSTRUMENT, "AgentInstrument", GF_STRING, 64, 0, F14 },
	{ TAG_GED_TEXT, "Text", GF_STRING, 255, 0, F18 },
	{ TAG_AGENT_PASSWORD, "AgentPassword", GF_STRING, 64, 0,
	    F18 "; size " PGEMU },
	{ TAG_SKILL_GROUP_NUMBER, "SkillGroupNumber", GF_INT, 4, 0, F18 },
	{ TAG_SKILL_GROUP_ID, "SkillGroupID", GF_UINT, 4, 0, F18 },
	{ TAG_SKILL_GROUP_PRIORITY, "SkillGroupPriority", GF_USHORT, 2, 0,
	    F18 },
	{ TAG_SKILL_GROUP_STATE, "SkillGroupState", GF_USHORT, 2, 0, F18 },
	{ TAG_POSITION_ID, "PositionID", GF_STRING, 12, 0,
	    F18 "; size " PGEMU },
	{ TAG_SUPERVISOR_ID, "SupervisorID", GF_STRING, 12, 0,
	    F18 "; size " PGEMU },
	{ TAG_APP_PATH_ID, "ApplicationPathID", GF_INT, 4, 0, F14 },
	{ TAG_EXT_AGENT_STATE, "NextAgentState", GF_USHORT, 2, 0, F18 },
	{ TAG_DURATION, "Duration", GF_UINT, 4, 0, F18 },
	{ TAG_AGENT_ID_LONG, "AgentIDLong", GF_STRING, 129, 0,
	    F14 "; size " PGEMU },
	{ TAG_EVENT_DEVICE_ID, "EventDeviceID", GF_STRING, 64, 0, F18 },
	{ TAG_PERIPHERAL_ID, "FltPeripheralID", GF_UINT, 4, 0,
	    F14 "; tag " PGEMU },
	{ TAG_MR_DOMAIN_ID, "MRDomainID", GF_INT, 4, 0, F110 "; type " PGEMU },
	{ TAG_MULTI_LINE_AGENT_CONTROL, "MultilineAgentControl", GF_USHORT, 2,
	    0, F14 },
	{ TAG_NUM_PERIPHERALS, "NumPeripherals", GF_USHORT, 2, 0, F14 },
	{ TAG_DIRECTION, "Direction", GF_UINT, 4, 0, F18 },
	{ TAG_SSO_ENABLED, "SSOEnabled", GF_BOOL, 2, 20,
	    F18 "; type " PGEMU },
	{ TAG_FLT_ICM_DISP, "ICMDisposition", GF_UINT, 4, 20,
	    F110 "; type " PGEMU },
	{ TAG_FLT_APP_DISP, "AppDisposition", GF_UINT, 4, 20,
	    F110 "; type " PGEMU },
	{ TAG_MAX_BEYOND_TASK_LIMIT, "MaxBeyondTaskLimit", GF_UINT, 4, 22,
	    F18 },
	{ TAG_XFER_IN_WHILE_LOGGED_OUT, "XferInWhileLoggedOut", GF_BOOL, 2, 20,
	    "protocol-facts 1.11; type " PGEMU },
	{ 0, NULL, GF_UINT, 0, 0, NULL }
};

static const struct {
	uint32_t	 code;
	const char	*name;
} ged_statuses[] = {
	{ E_CTI_NO_ERROR, "E_CTI_NO_ERROR" },
	{ E_CTI_INVALID_VERSION, "E_CTI_INVALID_VERSION" },
	{ E_CTI_INVALID_MESSAGE_LENGTH, "E_CTI_INVALID_MESSAGE_LENGTH" },
	{ E_CTI_INVALID_FIELD_TAG, "E_CTI_INVALID_FIELD_TAG" },
	{ E_CTI_SESSION_NOT_OPEN, "E_CTI_SESSION_NOT_OPEN" },
	{ E_CTI_SESSION_ALREADY_OPEN, "E_CTI_SESSION_ALREADY_OPEN" },
	{ E_CTI_REQUIRED_DATA_MISSING, "E_CTI_REQUIRED_DATA_MISSING" },
	{ E_CTI_INVALID_PERIPHERAL_ID, "E_CTI_INVALID_PERIPHERAL_ID" },
	{ E_CTI_INVALID_AGENT_DATA, "E_CTI_INVALID_AGENT_DATA" },
	{ E_CTI_AGENT_NOT_LOGGED_ON, "E_CTI_AGENT_NOT_LOGGED_ON" },
	{ E_CTI_DEVICE_IN_USE, "E_CTI_DEVICE_IN_USE" },
	{ E_CTI_NEW_SESSION_OPENED, "E_CTI_NEW_SESSION_OPENED" },
	{ E_CTI_FUNCTION_NOT_AVAILABLE, "E_CTI_FUNCTION_NOT_AVAILABLE" },
	{ E_CTI_CTI_SERVER_OFFLINE, "E_CTI_CTI_SERVER_OFFLINE" },
	{ E_CTI_TIMEOUT, "E_CTI_TIMEOUT" },
	{ E_CTI_UNSPECIFIED_FAILURE, "E_CTI_UNSPECIFIED_FAILURE" },
	{ E_CTI_INVALID_TIMEOUT, "E_CTI_INVALID_TIMEOUT" },
	{ E_CTI_INVALID_SERVICE_MASK, "E_CTI_INVALID_SERVICE_MASK" },
	{ E_CTI_INVALID_CALL_MSG_MASK, "E_CTI_INVALID_CALL_MSG_MASK" },
	{ E_CTI_INVALID_AGENT_STATE_MASK, "E_CTI_INVALID_AGENT_STATE_MASK" },
	{ E_CTI_INVALID_RESERVED_FIELD, "E_CTI_INVALID_RESERVED_FIELD" },
	{ E_CTI_INVALID_FIELD_LENGTH, "E_CTI_INVALID_FIELD_LENGTH" },
	{ E_CTI_BAD_MESSAGE_FORMAT, "E_CTI_BAD_MESSAGE_FORMAT" },
	{ E_CTI_INVALID_TAG_FOR_MSG_TYPE, "E_CTI_INVALID_TAG_FOR_MSG_TYPE" },
	{ E_CTI_INCONSISTENT_AGENT_DATA, "E_CTI_INCONSISTENT_AGENT_DATA" },
	{ E_CTI_INVALID_PASSWORD, "E_CTI_INVALID_PASSWORD" },
	{ E_CTI_INVALID_OBJECT_STATE, "E_CTI_INVALID_OBJECT_STATE" },
	{ E_CTI_INVALID_MSG_TYPE_FOR_VERSION,
	    "E_CTI_INVALID_MSG_TYPE_FOR_VERSION" },
	{ E_CTI_INVALID_TAG_FOR_VERSION, "E_CTI_INVALID_TAG_FOR_VERSION" },
	{ E_CTI_INVALID_CHARACTER, "E_CTI_INVALID_CHARACTER" },
	{ E_CTI_TOO_MUCH_DATA, "E_CTI_TOO_MUCH_DATA" },
	{ E_CTI_INVALID_MR_DOMAIN, "E_CTI_INVALID_MR_DOMAIN" },
	{ E_CTI_INVALID_CLIENT_FOR_STANDBY,
	    "E_CTI_INVALID_CLIENT_FOR_STANDBY" },
};

/* The name of a status; "E_CTI_<number>" for one pgemu has no name for. */
const char *
ged_status_name(uint32_t code)
{
	static char	buf[24];
	size_t		i;

	for (i = 0; i < sizeof(ged_statuses) / sizeof(ged_statuses[0]); i++)
		if (ged_statuses[i].code == code)
			return ged_statuses[i].name;
	snprintf(buf, sizeof(buf), "E_CTI_%u", code);
	return buf;
}

/* AgentStateMask bit of an AgentState: HOLD (10) is bit 9, UNKNOWN none. */
uint32_t
ged_agent_state_bit(int state)
{
	if (state >= 0 && state <= 8)
		return 1U << state;
	if (state >= 10 && state <= 14)
		return 1U << (state - 1);
	return 0;
}

const struct ged_layout *
ged_layout(uint32_t type)
{
	const struct ged_layout	*l;

	for (l = ged_layouts; l->name != NULL; l++)
		if (l->type == type)
			return l;
	return NULL;
}

/* The message's name; "MSG_<number>" (one static buffer) if unknown. */
const char *
ged_type_name(uint32_t type)
{
	static char		 buf[24];
	const struct ged_layout	*l = ged_layout(type);

	if (l != NULL)
		return l->name;
	snprintf(buf, sizeof(buf), "MSG_%u", type);
	return buf;
}

const struct ged_tag_def *
ged_tag(uint16_t tag)
{
	const struct ged_tag_def *d;

	for (d = ged_tags; d->name != NULL; d++)
		if (d->tag == tag)
			return d;
	return NULL;
}

static const char *
ged_tag_name(uint16_t tag)
{
	const struct ged_tag_def *d = ged_tag(tag);

	return d != NULL ? d->name : "unknown";
}

int
ged_version_ok(uint32_t version)
{
	return version >= GED_VERSION_MIN && version <= GED_VERSION_MAX;
}

int
ged_wide(uint32_t version)
{
	return version >= GED_VERSION_WIDE;
}

int
ged_fixed_len(const struct ged_layout *l, uint32_t version)
{
	const struct ged_field	*f;
	int			 n = 0;

	if (l == NULL || !ged_version_ok(version))
		return -1;
	for (f = l->fixed; f->name != NULL; f++)
		if (f->since <= version)
			n += ged_fsizes[f->type];
	return n;
}

static uint32_t
get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

int
ged_open_version(const struct wire_msg *m, uint32_t *version)
{
	if (m->type != MSG_OPEN_REQ || m->len < 8)
		return -1;
	*version = get32(m->body + 4);
	return 0;
}

/* Set *status and err; -1 for the caller to return. */
static int __attribute__((format(printf, 5, 6)))
ged_refuse(uint32_t *status, uint32_t code, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list	ap;

	*status = code;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Check the data of a floating field against its tag's definition (none:
 * anything goes): a number of its exact size, a string or raw bytes within
 * the maximum, a string of printable ASCII with or without its NUL.
 */
static int
ged_flt_check(const struct ged_tag_def *d, const uint8_t *data, size_t len,
    uint32_t *status, char *why, size_t whylen)
{
	size_t	n, i;

	if (d == NULL)
		return 0;
	if (d->type != GF_STRING && d->type != GF_UNSPEC) {
		if (len == ged_fsizes[d->type])
			return 0;
		return ged_refuse(status, E_CTI_INVALID_FIELD_LENGTH, why,
		    whylen, "length %zu where %s takes %u", len,
		    ged_ftype_names[d->type], ged_fsizes[d->type]);
	}
	if (len > d->max)
		return ged_refuse(status, E_CTI_INVALID_FIELD_LENGTH, why,
		    whylen, "length %zu over its maximum %u", len, d->max);
	if (d->type == GF_UNSPEC)
		return 0;
	n = len > 0 && data[len - 1] == '\0' ? len - 1 : len;
	if (n + 1 > d->max)
		return ged_refuse(status, E_CTI_INVALID_FIELD_LENGTH, why,
		    whylen, "%zu characters without a NUL, over its maximum "
		    "%u with the NUL", n, d->max);
	for (i = 0; i < n; i++)
		if (data[i] < 0x20 || data[i] > 0x7e)
			return ged_refuse(status, E_CTI_INVALID_CHARACTER, why,
			    whylen, "byte 0x%02x at %zu is not printable "
			    "ASCII", data[i], i);
	return 0;
}

/* Read a fixed field; INT, SHORT as two's complement. */
static uint32_t
ged_get_fixed(const uint8_t *p, enum ged_ftype type)
{
	switch (type) {
	case GF_UCHAR:
		return p[0];
	case GF_SHORT:
		return (uint32_t)(int32_t)(int16_t)get16(p);
	case GF_USHORT:
	case GF_BOOL:
		return get16(p);
	default:
		return get32(p);
	}
}

/* The floating part from off on, into g. */
static int
ged_decode_flt(const struct wire_msg *m, size_t off, struct ged_msg *g,
    uint32_t *status, char *err, size_t errlen)
{
	const char	*name = g->layout->name;
	size_t		 hl = ged_wide(g->version) ? 4 : 2, left;
	const uint8_t	*p;
	uint16_t	 tag, len;
	char		 why[128];

	while (off < m->len) {
		left = m->len - off;
		p = m->body + off;
		if (left < hl)
			return ged_refuse(status, E_CTI_BAD_MESSAGE_FORMAT, err,
			    errlen, "%s: floating field header at offset %zu: "
			    "%zu byte%s left, a header takes %zu", name, off,
			    left, left == 1 ? "" : "s", hl);
		if (hl == 4) {
			tag = (uint16_t)get16(p);
			len = (uint16_t)get16(p + 2);
		} else {
			tag = p[0];
			len = p[1];
		}
		if (len > left - hl)
			return ged_refuse(status, E_CTI_BAD_MESSAGE_FORMAT, err,
			    errlen, "%s: floating field tag %u (%s) at offset "
			    "%zu: length %u runs past the end (%zu byte%s "
			    "left)", name, tag, ged_tag_name(tag), off, len,
			    left - hl, left - hl == 1 ? "" : "s");
		if (g->nflt == GED_FLT_MAX)
			return ged_refuse(status, E_CTI_TOO_MUCH_DATA, err,
			    errlen, "%s: floating field tag %u (%s) at offset "
			    "%zu: more than %d floating fields", name, tag,
			    ged_tag_name(tag), off, GED_FLT_MAX);
		if (ged_flt_check(ged_tag(tag), p + hl, len, status, why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: floating field tag %u (%s) "
			    "at offset %zu: %s", name, tag, ged_tag_name(tag),
			    off, why);
			return -1;
		}
		g->flt[g->nflt].tag = tag;
		g->flt[g->nflt].len = len;
		g->flt[g->nflt].data = p + hl;
		g->nflt++;
		off += hl + len;
	}
	return 0;
}

int
ged_decode(const struct wire_msg *m, uint32_t version, struct ged_msg *g,
    uint32_t *status, char *err, size_t errlen)
{
	const struct ged_layout	*l;
	const struct ged_field	*f;
	size_t			 off = 0;
	int			 flen, i;

	memset(g, 0, sizeof(*g));
	g->type = m->type;
	g->version = version;
	*status = E_CTI_NO_ERROR;
	if (errlen > 0)
		err[0] = '\0';
	if (!ged_version_ok(version))
		return ged_refuse(status, E_CTI_INVALID_VERSION, err, errlen,
		    "%s: protocol version %u is not one of %d..%d",
		    ged_type_name(m->type), version, GED_VERSION_MIN,
		    GED_VERSION_MAX);
	if ((l = ged_layout(m->type)) == NULL ||
	    (flen = ged_fixed_len(l, version)) == -1)
		return ged_refuse(status, E_CTI_INVALID_MSG_TYPE_FOR_VERSION,
		    err, errlen, "message type %u: none at version %u",
		    m->type, version);
	g->layout = l;
	if (m->len < (uint32_t)flen)
		return ged_refuse(status, E_CTI_INVALID_MESSAGE_LENGTH, err,
		    errlen, "%s: body of %u bytes, shorter than the %d of the "
		    "fixed part at version %u", l->name, m->len, flen, version);
	if (m->len > GED_MAX_BODY)
		return ged_refuse(status, E_CTI_INVALID_MESSAGE_LENGTH, err,
		    errlen, "%s: body of %u bytes, over the maximum %d",
		    l->name, m->len, GED_MAX_BODY);
	for (f = l->fixed, i = 0; f->name != NULL; f++, i++) {
		if (f->since > version)
			continue;
		g->fixed[i] = ged_get_fixed(m->body + off, f->type);
		off += ged_fsizes[f->type];
	}
	return ged_decode_flt(m, off, g, status, err, errlen);
}

const struct ged_flt *
ged_find(const struct ged_msg *g, uint16_t tag)
{
	int	i;

	for (i = 0; i < g->nflt; i++)
		if (g->flt[i].tag == tag)
			return &g->flt[i];
	return NULL;
}

int
ged_get_str(const struct ged_msg *g, uint16_t tag, char *out, size_t outlen)
{
	const struct ged_flt	*f = ged_find(g, tag);
	const struct ged_tag_def *d = ged_tag(tag);

	if (f == NULL)
		return 0;
	if (d != NULL && d->type != GF_STRING)
		return -1;
	return wire_flt_string(f->data, f->len, out, outlen) == -1 ? -1 : 1;
}

/* The number of a tag's field of n bytes: 1, 0 absent, -1 another size. */
static int
ged_get_num(const struct ged_msg *g, uint16_t tag, uint16_t n, uint32_t *v)
{
	const struct ged_flt	*f = ged_find(g, tag);

	if (f == NULL)
		return 0;
	if (f->len != n)
		return -1;
	*v = n == 4 ? get32(f->data) : get16(f->data);
	return 1;
}

int
ged_get_u32(const struct ged_msg *g, uint16_t tag, uint32_t *v)
{
	return ged_get_num(g, tag, 4, v);
}

int
ged_get_u16(const struct ged_msg *g, uint16_t tag, uint16_t *v)
{
	uint32_t	x;
	int		rc;

	if ((rc = ged_get_num(g, tag, 2, &x)) == 1)
		*v = (uint16_t)x;
	return rc;
}

void
ged_init(struct ged_msg *g, uint32_t type, uint32_t version)
{
	memset(g, 0, sizeof(*g));
	g->type = type;
	g->version = version;
	g->layout = ged_layout(type);
}

/* Whether a fixed value fits its field. */
static int
ged_fits(uint32_t v, enum ged_ftype type)
{
	switch (type) {
	case GF_UCHAR:
		return v <= 0xff;
	case GF_USHORT:
	case GF_BOOL:
		return v <= 0xffff;
	case GF_SHORT:
		return (int32_t)v >= -32768 && (int32_t)v <= 32767;
	default:
		return 1;
	}
}

void
ged_begin(struct wire_writer *w, const struct ged_msg *g)
{
	const struct ged_field	*f;
	int			 i;

	wire_begin(w, g->type);
	if (g->layout == NULL || g->layout->type != g->type ||
	    ged_fixed_len(g->layout, g->version) == -1) {
		w->overflow = 1;
		return;
	}
	for (f = g->layout->fixed, i = 0; f->name != NULL; f++, i++) {
		if (f->since > g->version)
			continue;
		if (!ged_fits(g->fixed[i], f->type)) {
			w->overflow = 1;
			return;
		}
		switch (ged_fsizes[f->type]) {
		case 1:
			wire_u8(w, (uint8_t)g->fixed[i]);
			break;
		case 2:
			wire_u16(w, (uint16_t)g->fixed[i]);
			break;
		default:
			wire_u32(w, g->fixed[i]);
			break;
		}
	}
}

void
ged_put(struct wire_writer *w, uint32_t version, uint16_t tag,
    const void *data, size_t n)
{
	uint32_t	status;

	if (!ged_version_ok(version) ||
	    ged_flt_check(ged_tag(tag), data, n, &status, NULL, 0) == -1) {
		w->overflow = 1;
		return;
	}
	if (ged_wide(version)) {
		if (n > UINT16_MAX) {
			w->overflow = 1;
			return;
		}
		wire_u16(w, tag);
		wire_u16(w, (uint16_t)n);
	} else {
		if (tag > UINT8_MAX || n > UINT8_MAX) {
			w->overflow = 1;
			return;
		}
		wire_u8(w, (uint8_t)tag);
		wire_u8(w, (uint8_t)n);
	}
	wire_bytes(w, data, n);
}

void
ged_put_str(struct wire_writer *w, uint32_t version, uint16_t tag,
    const char *s)
{
	ged_put(w, version, tag, s, strlen(s) + 1);
}

void
ged_put_u16(struct wire_writer *w, uint32_t version, uint16_t tag,
    uint16_t v)
{
	uint8_t	b[2] = { v >> 8, v & 0xff };

	ged_put(w, version, tag, b, 2);
}

void
ged_put_u32(struct wire_writer *w, uint32_t version, uint16_t tag,
    uint32_t v)
{
	uint8_t	b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
	    v & 0xff };

	ged_put(w, version, tag, b, 4);
}

int
ged_end(struct wire_writer *w, struct wire_msg *m)
{
	return wire_end(w, GED_MAX_BODY, m);
}

/* "26 bytes (versions 13..18), 30 bytes (19..23)": per run of versions. */
static void
ged_doc_lengths(FILE *fp, const struct ged_layout *l)
{
	uint32_t	v, from = GED_VERSION_MIN;
	int		len;

	fprintf(fp, "Fixed part:");
	for (v = GED_VERSION_MIN; v <= GED_VERSION_MAX; v++) {
		len = ged_fixed_len(l, v);
		if (v < GED_VERSION_MAX && ged_fixed_len(l, v + 1) == len)
			continue;
		fprintf(fp, "%s %d bytes (version%s %u", from ==
		    GED_VERSION_MIN ? "" : ",", len, from == v ? "" : "s",
		    from);
		if (from != v)
			fprintf(fp, "..%u", v);
		fprintf(fp, ")");
		from = v + 1;
	}
	fprintf(fp, ".\n\n");
}

/* The since column: empty for a field of every version. */
static const char *
ged_doc_since(uint8_t since, char *buf, size_t len)
{
	if (since == 0)
		return "";
	snprintf(buf, len, "%u", since);
	return buf;
}

/* One message: its header line, fixed part and floating fields. */
static void
ged_doc_layout(FILE *fp, const struct ged_layout *l)
{
	const struct ged_field	*f;
	const struct ged_tag_def *d;
	const uint16_t		*t;
	unsigned int		 off = 0;
	char			 since[8];

	fprintf(fp, "### %s (%u)\n\n", l->name, l->type);
	fprintf(fp, "%s.  Source: %s.\n", l->dir == GED_DIR_TO_SERVER ?
	    "Client to server" : "Server to client", l->source);
	ged_doc_lengths(fp, l);
	fprintf(fp, "| Offset | Fixed field | Type | Size | Since |\n");
	fprintf(fp, "|---:|---|---|---:|---:|\n");
	for (f = l->fixed; f->name != NULL; f++) {
		fprintf(fp, "| %u | %s | %s | %u | %s |\n", off, f->name,
		    ged_ftype_names[f->type], ged_fsizes[f->type],
		    ged_doc_since(f->since, since, sizeof(since)));
		off += ged_fsizes[f->type];
	}
	fprintf(fp, "\n");
	if (l->tags[0] == 0) {
		fprintf(fp, "Floating fields: none.\n\n");
		return;
	}
	fprintf(fp, "Floating fields it may carry:\n\n");
	fprintf(fp, "| Tag | Field | Type | Max | Since |\n");
	fprintf(fp, "|---:|---|---|---:|---:|\n");
	for (t = l->tags; *t != 0; t++) {
		if ((d = ged_tag(*t)) == NULL)
			continue;	/* check_ged188 sees that none is */
		fprintf(fp, "| %u | %s | %s | %u | %s |\n", d->tag, d->name,
		    ged_ftype_names[d->type], d->max,
		    ged_doc_since(d->since, since, sizeof(since)));
	}
	fprintf(fp, "\n");
}

/*
 * docs/protocol.md's generated part: every message, then every tag.  -1
 * when the stream has failed.
 */
int
ged_doc(FILE *fp)
{
	const struct ged_layout	*l;
	const struct ged_tag_def *d;
	char			 since[8];

	fprintf(fp, "## Messages\n\n");
	for (l = ged_layouts; l->name != NULL; l++)
		ged_doc_layout(fp, l);
	fprintf(fp, "## Floating field tags\n\n");
	fprintf(fp, "Max is the largest data, a string's NUL included.\n\n");
	fprintf(fp, "| Tag | Name | Type | Max | Since | Source |\n");
	fprintf(fp, "|---:|---|---|---:|---:|---|\n");
	for (d = ged_tags; d->name != NULL; d++)
		fprintf(fp, "| %u | %s | %s | %u | %s | %s |\n", d->tag,
		    d->name, ged_ftype_names[d->type], d->max,
		    ged_doc_since(d->since, since, sizeof(since)), d->source);
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}
