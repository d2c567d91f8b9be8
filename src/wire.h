/*
 * The one framing every pgemu link speaks, the one GED-188 uses:
 *
 *   +----------------+----------------+------------+----------------------+
 *   | length (UINT)  | type (UINT)    | fixed part | floating fields ...  |
 *   +----------------+----------------+------------+----------------------+
 *     body length      message type                 USHORT tag, USHORT len,
 *     (no header)                                    len bytes of data
 *
 * Every number is big-endian and fields are packed with no padding.  Every
 * message type has an explicit number that is never reused: numbers below
 * 0x4000 are the product's GED-188 numbers, the private range 0x4000 and up
 * is pgemu's own (PG <-> router, PG <-> PG, PIM <-> ACD).
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_PROTO_VERSION	3	/* 2: agent records carry the MRD;
					   3: interval rows too */
#define WIRE_HDR_LEN		8
#define WIRE_FLT_HDR_LEN	4
#define WIRE_MAX_BODY		(1024 * 1024)	/* hard ceiling */
#define WIRE_DEFAULT_MAX_BODY	65536		/* lab default */
#define WIRE_CTI_MAX_MESSAGE	12500		/* GED-188, header included */

enum wire_type {
	/* GED-188 session, agent and system messages (product numbers). */
	MSG_FAILURE_CONF		= 1,
	MSG_FAILURE_EVENT		= 2,
	MSG_OPEN_REQ			= 3,
	MSG_OPEN_CONF			= 4,
	MSG_HEARTBEAT_REQ		= 5,
	MSG_HEARTBEAT_CONF		= 6,
	MSG_CLOSE_REQ			= 7,
	MSG_CLOSE_CONF			= 8,
	MSG_AGENT_STATE_EVENT		= 30,
	MSG_SYSTEM_EVENT		= 31,
	MSG_QUERY_AGENT_STATE_REQ	= 36,
	MSG_QUERY_AGENT_STATE_CONF	= 37,
	MSG_SET_AGENT_STATE_REQ		= 38,
	MSG_SET_AGENT_STATE_CONF	= 39,

	/* pgemu private range: every link. */
	MSG_HELLO			= 0x4001,
	MSG_HELLO_ACK			= 0x4002,
	MSG_HEARTBEAT			= 0x4003,
	MSG_BYE				= 0x4004,
	MSG_CHALLENGE			= 0x4005,	/* server's nonce */

	/* pgemu private range: PG side <-> router. */
	MSG_PG_STATUS			= 0x4101,
	MSG_GRANT			= 0x4102,
	MSG_AGENT_STATES		= 0x4104,
	MSG_PERIPH_OFFLINE		= 0x4105,
	MSG_INTERVAL			= 0x4106,
	MSG_DELIVERY_ACK		= 0x4107,
	MSG_DISCARD			= 0x4108,

	/* pgemu private range: PG side <-> PG side. */
	MSG_PEER_STATE			= 0x4201,
	MSG_PEER_AGENTS			= 0x4202,
	MSG_PEER_SET_AGENT		= 0x4203,
	MSG_PEER_TASK			= 0x4204,	/* struct msg_task */
	MSG_PEER_TASK_CACHE		= 0x4205,	/* struct msg_task */

	/* pgemu private range: PIM <-> ACD. */
	MSG_PIM_ACTIVATE		= 0x4301,
	MSG_PIM_ACCEPT			= 0x4302,
	MSG_PIM_REJECT			= 0x4303,
	MSG_PIM_FENCED			= 0x4304,
	MSG_PIM_DEACTIVATE		= 0x4305,
	MSG_ACD_AGENTS			= 0x4306,
	MSG_ACD_SET_AGENT		= 0x4307,

	/* pgemu private range: agent desktop <-> desktop server. */
	MSG_DESKTOP_LOGIN		= 0x4401,
	MSG_DESKTOP_WELCOME		= 0x4402,
	MSG_DESKTOP_STATE		= 0x4403,
	MSG_DESKTOP_SET_STATE		= 0x4404,

	/*
	 * pgemu private range: application instance <-> MR PIM (names from
	 * the product, reference/protocol-facts.md 2.1; layouts ours: every
	 * one is a struct msg_task).
	 */
	MSG_MR_NEW_TASK			= 0x4501,
	MSG_MR_DO_THIS_WITH_TASK	= 0x4502,
	MSG_MR_NEW_TASK_FAILURE		= 0x4503,
	MSG_MR_ROUTING_ENABLED		= 0x4504,
	MSG_MR_ROUTING_DISABLED		= 0x4505,

	/* pgemu private range: tasks, PG side <-> router (struct msg_task). */
	MSG_ROUTE_TASK			= 0x4601,	/* MR PIM -> router */
	MSG_ROUTE_RESULT		= 0x4602,	/* router -> MR PIM */
	MSG_PRECALL			= 0x4603,	/* router -> agent PG */
	MSG_TASK_EVENT			= 0x4604,	/* CTI server -> router */
};

/* Why a BYE: the one a resigning active side sends says so. */
#define BYE_STOPPING		0
#define BYE_RESIGNING		1
#define BYE_CTI_MANAGER_STOP	2

/* Floating field tags of the private range. */
enum wire_tag {
	TAG_NODE_NAME			= 0x4001,
	TAG_LAB_NAME			= 0x4002,
	TAG_TEXT			= 0x4003,
	TAG_PERIPHERAL			= 0x4004,	/* u32 */
	TAG_CTI_SERVER			= 0x4005,	/* u32: PEER_CTI_* */
	TAG_MRD				= 0x4006,	/* u32: MRDomainID */
	TAG_SELECTOR			= 0x4007,	/* script selector */
	TAG_AUTH			= 0x4008,	/* HELLO: nonce, MAC */
	TAG_GRANT_TOKEN			= 0x4009,	/* GRANT, PIM_ACTIVATE */
	TAG_HANDLED			= 0x400a,	/* u32: tasks ended */
};

/* A frame as received: points into the receive buffer. */
struct wire_msg {
	uint32_t	 type;
	uint32_t	 len;		/* body length */
	const uint8_t	*body;
};

struct wire_type_info {
	uint32_t	 type;
	const char	*name;
	uint32_t	 min_len;	/* fixed part */
	uint32_t	 max_len;	/* 0: the link's maximum */
};

/* Every type pgemu knows; a table ends with a NULL name. */
extern const struct wire_type_info wire_types[];

/* The desktop protocol's own rows, in wire_types and proto_desktop's. */
#define WIRE_DESKTOP_TYPES						\
	{ MSG_DESKTOP_LOGIN,		"DESKTOP_LOGIN",	18, 50 },	\
	{ MSG_DESKTOP_WELCOME,		"DESKTOP_WELCOME",	 4, 256 },	\
	{ MSG_DESKTOP_STATE,		"DESKTOP_STATE",	12, 12 },	\
	{ MSG_DESKTOP_SET_STATE,	"DESKTOP_SET_STATE",	 8, 8 }

/*
 * What wire_check_frame() found: a good header; a length over the maximum
 * (the stream cannot be read on); a bad frame that can be skipped whole.
 */
#define WIRE_FRAME_OK		0
#define WIRE_FRAME_LOST		(-1)
#define WIRE_FRAME_BAD		(-2)

const struct wire_type_info *wire_type_find(const struct wire_type_info *,
		    uint32_t);
const struct wire_type_info *wire_type_info(uint32_t);
const char	*wire_type_name(uint32_t);
int		 wire_check_frame(const struct wire_type_info *,
		    const uint8_t *hdr, uint32_t max_body, uint32_t *type,
		    uint32_t *len, char *err, size_t errlen);
int		 wire_check_header(const uint8_t *hdr, uint32_t max_body,
		    uint32_t *type, uint32_t *len, char *err, size_t errlen);

/* Building a message. */
struct wire_writer {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	int		 overflow;
};

void		 wire_begin(struct wire_writer *, uint32_t type);
void		 wire_u8(struct wire_writer *, uint8_t);
void		 wire_u16(struct wire_writer *, uint16_t);
void		 wire_u32(struct wire_writer *, uint32_t);
void		 wire_bytes(struct wire_writer *, const void *, size_t);
void		 wire_reserve(struct wire_writer *, size_t);
void		 wire_flt(struct wire_writer *, uint16_t tag, const void *,
		    size_t);
void		 wire_flt_str(struct wire_writer *, uint16_t, const char *);
void		 wire_flt_u32(struct wire_writer *, uint16_t, uint32_t);
int		 wire_end(struct wire_writer *, uint32_t max_body,
		    struct wire_msg *);
void		 wire_writer_free(struct wire_writer *);

/* Reading one: every read is checked against what is left. */
struct wire_reader {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	int		 short_read;
};

void		 wire_reader_init(struct wire_reader *, const struct wire_msg *);
int		 wire_get_u8(struct wire_reader *, uint8_t *);
int		 wire_get_u16(struct wire_reader *, uint16_t *);
int		 wire_get_u32(struct wire_reader *, uint32_t *);
int		 wire_get_bytes(struct wire_reader *, void *, size_t);
int		 wire_skip(struct wire_reader *, size_t);
int		 wire_next_flt(struct wire_reader *, uint16_t *tag,
		    const uint8_t **data, uint16_t *len);
int		 wire_flt_string(const uint8_t *, uint16_t, char *, size_t);

/* The link-level messages every link exchanges. */
struct wire_hello {
	uint32_t	 version;
	uint32_t	 hb_interval_ms;
	uint32_t	 flags;
	char		 side;
	char		 node[32];
	char		 lab[32];
	int		 has_auth;	/* TAG_AUTH: the sender's nonce (16
					   bytes), then its MAC (32) */
	uint8_t		 auth[48];
};

int		 wire_hello_encode(const struct wire_hello *, int ack,
		    struct wire_writer *);
int		 wire_hello_decode(const struct wire_msg *, struct wire_hello *,
		    char *err, size_t errlen);
int		 wire_bye_decode(const struct wire_msg *, uint32_t *reason,
		    char *text, size_t textlen, char *err, size_t errlen);
void		 wire_bye_encode(struct wire_writer *, uint32_t reason,
		    const char *text);

/*
 * Internal messages.  Each has a struct, an encoder and a checked decoder
 * (msg.c); decoders return -1 with the problem in err.
 */

/*
 * One agent in one Media Routing Domain, as the ACD, the PIM and the
 * router exchange it: the ACD's records are of the lab's voice MRD.
 */
struct msg_agent {
	uint32_t	 id;
	uint16_t	 state;		/* CTI AgentState */
	uint16_t	 before_call;	/* state before the current call */
	uint32_t	 ms_in_state;
	int32_t		 reason;
	uint32_t	 mrd;		/* MRDomainID */
};
#define MSG_AGENT_LEN		20
#define MSG_AGENTS_MAX		1000	/* per message */

/* AGENT_STATES kinds (PG -> router) and ACD_AGENTS kinds (ACD -> PIM) */
#define AGENTS_CHANGE		1	/* real-time change */
#define AGENTS_SNAPSHOT		2	/* (re)connection: R4 */
#define AGENTS_RELOGIN		3	/* after a failover: R8 */

struct msg_agents {
	uint32_t	 peripheral;
	uint32_t	 epoch;
	uint8_t		 kind;
	uint8_t		 last;		/* last batch of a snapshot */
	uint16_t	 count;
	const uint8_t	*recs;		/* count x MSG_AGENT_LEN, wire order */
};

struct msg_pg_status {
	uint32_t	 peripheral;
	uint8_t		 side;
	uint8_t		 acd_up;
	uint8_t		 pim_active;	/* PIM_STATE_*: 0 idle */
	uint8_t		 resigning;
	uint32_t	 epoch;
	uint32_t	 peer_epoch;	/* the peer holds the PIM, per the
					   private link; 0: no */
	uint8_t		 peer_up;	/* the private link is up */
	int		 has_token;	/* TAG_GRANT_TOKEN: the grant of the
					   epoch, as the router signed it */
	uint8_t		 token[32];
};

struct msg_grant {
	uint32_t	 peripheral;
	uint32_t	 epoch;
	uint32_t	 reason;	/* GRANT_* */
	char		 text[128];
	int		 has_token;	/* TAG_GRANT_TOKEN (auth.c) */
	uint8_t		 token[32];
};
#define GRANT_FIRST		1	/* nobody was active */
#define GRANT_PEER_LOST		2	/* the active side's link went */
#define GRANT_PEER_IDLE		3	/* the active side lost its PIM */
#define GRANT_PEER_RESIGNED	4	/* the active side stopped cleanly */

/* A PIM's state, as PG_STATUS and PEER_STATE carry it. */
#define PIM_STATE_IDLE		0
#define PIM_STATE_ACTIVATING	1	/* granted, not accepted yet */
#define PIM_STATE_ACTIVE	2	/* accepted by the ACD */
#define PIM_STATE_RECOVERING	3	/* accepted, endpoint lost */
#define PIM_STATE_MAX		4
extern const char *const pim_state_names[PIM_STATE_MAX];
#define PIM_STATE_HOLDS(s)	((s) == PIM_STATE_ACTIVE || \
				    (s) == PIM_STATE_RECOVERING)

struct msg_periph_offline {
	uint32_t	 peripheral;
	uint32_t	 epoch;
	uint32_t	 rule;
	int32_t		 reason_code;	/* logout reason for the agents */
	char		 text[128];
};

/*
 * Interval rows: per agent and MRD, milliseconds in each state (in a
 * non-voice MRD, TALK is the time ACTIVE with a task, CALLS the tasks
 * that ended).  A row: the agent, the MRDomainID, the fields.  Lab
 * protocol 2 had no MRD (MSG_IVL_ROW_LEN_V2: rows of the voice MRD), as
 * a spool left by an older pgemu may hold (msg_interval_upgrade).
 */
enum ivl_field {
	IVL_LOGGED_ON, IVL_AVAIL, IVL_NOT_READY, IVL_RESERVED, IVL_TALK,
	IVL_WORK_READY, IVL_WORK_NOT_READY, IVL_CALLS, IVL_NFIELDS
};
#define MSG_IVL_ROW_LEN		(8 + 4 * IVL_NFIELDS)
#define MSG_IVL_ROW_LEN_V2	(4 + 4 * IVL_NFIELDS)

struct msg_interval {
	uint32_t	 peripheral;
	uint32_t	 epoch;
	uint32_t	 seq;
	uint32_t	 start;		/* unix time of the interval start */
	uint32_t	 length;	/* seconds */
	uint8_t		 incomplete;
	uint8_t		 side;
	uint16_t	 count;
	const uint8_t	*rows;		/* count x MSG_IVL_ROW_LEN */
};

struct msg_discard {
	uint32_t	 peripheral;
	uint32_t	 seq;
	uint32_t	 rule;
	uint32_t	 interval_start;
	uint32_t	 rows;
	uint32_t	 intervals;
	uint8_t		 side;
	char		 text[160];
};

struct msg_epoch {		/* PIM_ACTIVATE/ACCEPT/REJECT/FENCED/
				   DEACTIVATE, DELIVERY_ACK, PEER_STATE */
	uint32_t	 a;		/* epoch, or seq */
	uint32_t	 b;		/* peripheral, agents, current epoch */
	uint8_t		 flags;		/* DELIVERY_ACK: ACK_* */
	uint32_t	 peripheral;	/* DELIVERY_ACK, PEER_STATE; 0: the
					   lab's first (floating field) */
	uint32_t	 cti;		/* PEER_STATE: PEER_CTI_* (floating
					   field; absent from old peers: 0) */
	char		 text[128];
	int		 has_token;	/* PIM_ACTIVATE: the grant's token */
	uint8_t		 token[32];
};

/* The sender's CTI server, as PEER_STATE says (TAG_CTI_SERVER). */
#define PEER_CTI_RUNNING	0x1
#define PEER_CTI_ACTIVE		0x2

/*
 * The router's answer to a record (INTERVAL, DISCARD) in DELIVERY_ACK's
 * flags; text says why when it is not ACK_STORED.
 *   ACK_STORED      committed to the history database: the side forgets it
 *   ACK_REFUSED     not from the PIM that holds the peripheral (a stale
 *                   epoch): never stored; the router has recorded its rows
 *                   as lost (pgemu_discard, R1), the side forgets it
 *   ACK_NOT_STORED  the history database could not store it now: the side
 *                   keeps it queued and sends it again later
 */
#define ACK_STORED		0
#define ACK_REFUSED		1
#define ACK_NOT_STORED		2

/*
 * ACD_SET_AGENT (PIM -> ACD), PEER_SET_AGENT (the CTI server's side -> the
 * side holding the PIM, epoch 0, the peripheral as a floating field, and
 * for a non-voice MRD its id: the PIM, not the ACD, keeps those).
 */
struct msg_set_agent {
	uint32_t	 epoch;
	uint32_t	 id;
	uint16_t	 state;
	int32_t		 reason;
	uint32_t	 peripheral;	/* 0: none said */
	uint32_t	 mrd;		/* 0: the voice MRD */
	uint32_t	 handled;	/* PEER_SET_AGENT of a non-voice MRD:
					   its tasks that ended (TAG_HANDLED,
					   absent: 0) */
};

/*
 * A task, as every media-routing and task message carries it (MR_*,
 * ROUTE_TASK, ROUTE_RESULT, PRECALL, TASK_EVENT): fourteen u32 in this
 * order, then the floating fields TAG_SELECTOR and TAG_TEXT.  What each
 * field means in each message is in docs/media-routing.md.
 */
struct msg_task {
	uint32_t	 peripheral;	/* MR peripheral; PRECALL, TASK_EVENT:
					   the agent's peripheral */
	uint32_t	 epoch;		/* of the MR PIM that sends or is sent;
					   TASK_EVENT, PEER_TASK: the segment
					   of the task's report (R20) */
	uint32_t	 dialogue;	/* the application's DialogueID */
	uint32_t	 mrd;		/* MRDomainID */
	uint32_t	 agent;		/* SkillTargetID (agent id); 0: none */
	uint32_t	 agent_periph;	/* the agent's peripheral */
	uint32_t	 task[3];	/* TaskID: group high, low, sequence */
	uint32_t	 code;		/* TASK_FAIL_*, PRECALL_*, TASK_EV_* */
	uint32_t	 flags;		/* TASKF_* */
	uint32_t	 path;		/* ApplicationPathID */
	uint32_t	 when;		/* unix time (s) of what it tells */
	uint32_t	 when_ms;	/* and its milliseconds */
	char		 selector[33];	/* script selector, at most 32 */
	char		 text[128];
};
#define MSG_TASK_LEN		56

/* TASKF_*: flags of a task message. */
#define TASKF_RESEND		0x01	/* NEW_TASK sent again (R14, R17) */
#define TASKF_APP_ROUTED	0x02	/* assigned by the application */
#define TASKF_ROUTING_DOWN	0x04	/* assigned while routing was down */
#define TASKF_ENDED_DOWN	0x08	/* ended before routing came back */
#define TASKF_CACHED		0x10	/* held while the router was away */
#define TASKF_RECREATED		0x20	/* rebuilt by a resync (R19) */
#define TASKF_PATH_DOWN		0x40	/* END: its task life ran out while
					   its application path was down
					   (R18, disposition 42) */
#define TASKF_RESUMED		0x80	/* reported again after its END with
					   TASKF_PATH_DOWN (R20) */
#define TASKF_CTI_DOWN		0x100	/* offered, started and ended while
					   the ARM session was down (R21) */
#define TASKF_INIT_ENDED	0x200	/* END: a task of the application
					   path its resync bracket did not
					   tell (R19, disposition 51) */

/* MR_NEW_TASK_FAILURE and ROUTE_RESULT codes (0: routed). */
#define TASK_ROUTED		0
#define TASK_FAIL_NO_AGENT	1	/* queue full or time in queue out */
#define TASK_FAIL_ROUTING_DOWN	2	/* routing disabled (disposition 44) */
#define TASK_FAIL_BAD_MRD	3	/* no such MRD (45) */
#define TASK_FAIL_BAD_SELECTOR	4	/* no route for the selector */
#define TASK_FAIL_DUPLICATE	5	/* DialogueID in use (47) */
#define TASK_FAIL_MAX		6

/* PRECALL codes: reserve the agent, or release the reservation. */
#define PRECALL_RESERVE		0
#define PRECALL_RELEASE		1

/* TASK_EVENT codes: the task's life as the application reports it. */
#define TASK_EV_OFFER		1	/* OFFER_TASK_IND */
#define TASK_EV_START		2	/* START_TASK_IND */
#define TASK_EV_END		3	/* END_TASK_IND */
#define TASK_EV_APP_OFFER	4	/* OFFER_APPLICATION_TASK_REQ */
#define TASK_EV_APP_START	5	/* START_APPLICATION_TASK_REQ */
/* Not a task's: its application path (path) went down, came back (R21). */
#define TASK_EV_PATH_DOWN	6	/* when: since */
#define TASK_EV_PATH_UP		7
#define TASK_EV_MAX		8
/* PEER_TASK only: the sender's whole task table follows, forget yours. */
#define TASK_EV_TABLE		0
/*
 * Not a step of a task's life: an agent's state in an email MRD, as the
 * application's resync bracket corrected it (R19).  No TaskID: task[0]
 * is the AgentState, task[1] the agent's task count there, when the time
 * the state began.  After the codes R18-R21 add (6 and 7).
 */
#define TASK_EV_RESYNC		8

void	msg_task_encode(struct wire_writer *, uint32_t type,
	    const struct msg_task *);
int	msg_task_decode(const struct wire_msg *, struct msg_task *, char *,
	    size_t);

void	msg_agent_put(struct wire_writer *, const struct msg_agent *);
void	msg_agent_get(const uint8_t *, struct msg_agent *);
void	msg_agents_begin(struct wire_writer *, uint32_t type,
	    uint32_t peripheral, uint32_t epoch, uint8_t kind, uint8_t last,
	    uint16_t count);
int	msg_agents_decode(const struct wire_msg *, struct msg_agents *,
	    char *, size_t);
void	msg_pg_status_encode(struct wire_writer *,
	    const struct msg_pg_status *);
int	msg_pg_status_decode(const struct wire_msg *, struct msg_pg_status *,
	    char *, size_t);
void	msg_grant_encode(struct wire_writer *, const struct msg_grant *);
int	msg_grant_decode(const struct wire_msg *, struct msg_grant *, char *,
	    size_t);
void	msg_offline_encode(struct wire_writer *,
	    const struct msg_periph_offline *);
int	msg_offline_decode(const struct wire_msg *,
	    struct msg_periph_offline *, char *, size_t);
void	msg_interval_begin(struct wire_writer *, const struct msg_interval *);
void	msg_interval_row(struct wire_writer *, uint32_t agent, uint32_t mrd,
	    const uint32_t *fields);
int	msg_interval_decode(const struct wire_msg *, struct msg_interval *,
	    char *, size_t);
void	msg_interval_row_get(const uint8_t *, uint32_t *agent, uint32_t *mrd,
	    uint32_t *fields);
int	msg_interval_upgrade(const struct wire_msg *, uint32_t mrd,
	    struct wire_writer *, char *, size_t);
void	msg_discard_encode(struct wire_writer *, const struct msg_discard *);
int	msg_discard_decode(const struct wire_msg *, struct msg_discard *,
	    char *, size_t);
void	msg_epoch_encode(struct wire_writer *, uint32_t type,
	    const struct msg_epoch *);
int	msg_epoch_decode(const struct wire_msg *, struct msg_epoch *, char *,
	    size_t);
void	msg_set_agent_encode(struct wire_writer *,
	    const struct msg_set_agent *);
void	msg_peer_set_agent_encode(struct wire_writer *,
	    const struct msg_set_agent *);
int	msg_set_agent_decode(const struct wire_msg *, struct msg_set_agent *,
	    char *, size_t);

/*
 * A desktop's greeting: its agent, the MRDs it signs in to, the state it
 * wants, and whether it logs in again after losing its server (R10).
 *   agent u32, peripheral u32, state u16, flags u16, reason i32,
 *   nmrds u16, nmrds x mrd u32
 */
#define DESKTOP_RELOGIN		0x0001	/* flags: after a loss (R10) */
#define DESKTOP_MRDS_MAX	8
#define MSG_DESKTOP_LOGIN_LEN	18
struct msg_desktop_login {
	uint32_t	 agent;
	uint32_t	 peripheral;
	uint16_t	 state;		/* AVAILABLE, NOT_READY, or LOGOUT:
					   connected, not logged in */
	uint16_t	 flags;
	int32_t		 reason;
	uint16_t	 nmrds;
	uint32_t	 mrds[DESKTOP_MRDS_MAX];
};

/*
 * The server's answer (flags: WELCOME_CTI_UP when its CTI session is up,
 * the server's node name in TAG_NODE_NAME), and an agent's state
 * (DESKTOP_STATE: mrd u32, state u16, before_call u16, reason i32) or the
 * state a desktop asks for (DESKTOP_SET_STATE: state u16, mrd u16: 0 or
 * the voice MRD for the voice MRD, else one of its non-voice MRDs; reason
 * i32).
 */
#define WELCOME_CTI_UP		0x0001
struct msg_desktop_welcome {
	uint32_t	 flags;
	char		 server[32];
};
struct msg_desktop_state {
	uint32_t	 mrd;		/* SET_STATE: 0 the voice MRD */
	uint16_t	 state;
	uint16_t	 before_call;	/* SET_STATE: 0 */
	int32_t		 reason;
};

void	msg_desktop_login_encode(struct wire_writer *,
	    const struct msg_desktop_login *);
int	msg_desktop_login_decode(const struct wire_msg *,
	    struct msg_desktop_login *, char *, size_t);
void	msg_desktop_welcome_encode(struct wire_writer *,
	    const struct msg_desktop_welcome *);
int	msg_desktop_welcome_decode(const struct wire_msg *,
	    struct msg_desktop_welcome *, char *, size_t);
void	msg_desktop_state_encode(struct wire_writer *, uint32_t type,
	    const struct msg_desktop_state *);
int	msg_desktop_state_decode(const struct wire_msg *,
	    struct msg_desktop_state *, char *, size_t);

/*
 * The body of any internal message, for the roles' message tables
 * (role_msg): each msg_*_body() is the decoder of that name into the
 * union's member of that name.
 */
union msg_body {
	struct msg_agents	 agents;
	struct msg_pg_status	 pg_status;
	struct msg_grant	 grant;
	struct msg_periph_offline offline;
	struct msg_interval	 interval;
	struct msg_discard	 discard;
	struct msg_epoch	 epoch;
	struct msg_set_agent	 set_agent;
	struct msg_desktop_login desktop_login;
	struct msg_desktop_welcome desktop_welcome;
	struct msg_desktop_state desktop_state;
	struct msg_task		 task;
};
int	msg_agents_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);
int	msg_pg_status_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);
int	msg_grant_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);
int	msg_offline_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);
int	msg_interval_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);
int	msg_discard_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);
int	msg_epoch_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);
int	msg_set_agent_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);
int	msg_desktop_login_body(const struct wire_msg *, union msg_body *,
	    char *, size_t);
int	msg_desktop_welcome_body(const struct wire_msg *, union msg_body *,
	    char *, size_t);
int	msg_desktop_state_body(const struct wire_msg *, union msg_body *,
	    char *, size_t);
int	msg_task_body(const struct wire_msg *, union msg_body *, char *,
	    size_t);

#endif /* WIRE_H */
