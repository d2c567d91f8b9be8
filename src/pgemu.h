/*
 * pgemu: a lab emulator of a duplex contact-center Peripheral Gateway.
 *
 * One header for the daemon, laid out in sections named after the file
 * that implements them (tmux style).  Wire message numbers live in
 * wire.h, the settings table in cfg.c.
 */
#ifndef PGEMU_H
#define PGEMU_H

#include <sys/types.h>
#include <sys/queue.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <jansson.h>

#define PGEMU_NAME_MAX		32
#define PGEMU_PATH_MAX		256

#define __dead		__attribute__((__noreturn__))
#define __printflike(a, b) __attribute__((__format__(__printf__, a, b)))

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
int		 xasprintf(char **, const char *, ...) __printflike(2, 3);

/* auth.c: the lab key, MACs of links and grants (libsodium) */
#define AUTH_KEY_LEN	32
#define AUTH_NONCE_LEN	16
#define AUTH_MAC_LEN	32
struct auth_part {
	const void	*p;		/* NULL ends a list */
	size_t		 len;
};
int		 auth_load(const char *, int create, char *, size_t);
int		 auth_enabled(void);
void		 auth_nonce(uint8_t *);
void		 auth_mac(uint8_t *, const char *, const struct auth_part *);
int		 auth_check(const uint8_t *, const char *,
		    const struct auth_part *);
void		 auth_grant_token(uint8_t *, uint32_t, uint32_t, char);
int		 auth_grant_ok(const uint8_t *, int, uint32_t, uint32_t, char);

/* fmt.c: replies for people (text, tables) or scripts (keyvalue) */
#define FMT_TEXT	0
#define FMT_JSON	1
#define FMT_KEYVALUE	2
int		 fmt_parse(const char *);
void		 fmt_text(FILE *, const char *, json_t *, int);
void		 fmt_table(FILE *, json_t *, int);
void		 fmt_keyvalue(FILE *, const char *, json_t *);

/* log.c */
void		 log_init(int foreground, int verbose);
void		 log_set_node(const char *);
const char	*log_node(void);
void		 log_warn(const char *, ...) __printflike(1, 2);
void		 log_warnx(const char *, ...) __printflike(1, 2);
void		 log_notice(const char *, ...) __printflike(1, 2);
void		 log_info(const char *, ...) __printflike(1, 2);
void		 log_debug(const char *, ...) __printflike(1, 2);
void		 log_msg(int, const char *, ...) __printflike(2, 3);
void		 log_vmsg(int, const char *, va_list) __printflike(2, 0);
__dead void	 fatal(const char *, ...) __printflike(1, 2);
__dead void	 fatalx(const char *, ...) __printflike(1, 2);
void		 log_journal_send(int, const char *, json_t *);
/* At most N lines a second of one cause (log.c: log_rate_ok). */
struct log_rate {
	uint64_t	 window_ms;
	int		 count;
	uint64_t	 suppressed;	/* in this second */
	uint64_t	 total_suppressed;
};
int		 log_rate_ok(struct log_rate *, int per_second, int pri,
		    const char *what);
int		 log_to_journal(void);
struct link;				/* "link NAME: ..." */
void		 log_link_warnx(const struct link *, const char *, ...)
		    __printflike(2, 3);
void		 log_link_info(const struct link *, const char *, ...)
		    __printflike(2, 3);
void		 log_link_debug(const struct link *, const char *, ...)
		    __printflike(2, 3);

/* agent.c */
enum agent_state {			/* CTI AgentState (GED-188) */
	AS_LOGIN = 0, AS_LOGOUT = 1, AS_NOT_READY = 2, AS_AVAILABLE = 3,
	AS_TALKING = 4, AS_WORK_NOT_READY = 5, AS_WORK_READY = 6,
	AS_BUSY_OTHER = 7, AS_RESERVED = 8, AS_UNKNOWN = 9, AS_HOLD = 10,
	AS_ACTIVE = 11, AS_PAUSED = 12, AS_INTERRUPTED = 13,
	AS_NOT_ACTIVE = 14
};
#define AGENT_NSTATES	15
extern const char *const agent_state_names[AGENT_NSTATES];

/* Logout reason codes (reference/ucce-facts.md) */
#define REASON_PERIPHERAL_RESTART	(-1)
#define REASON_PG_RESET			(-2)
#define REASON_CTI_FAILURE		50002

const char	*agent_state_name(int);
int		 agent_state_parse(const char *);
int		 agent_state_db(int);
int		 agent_logged_in(int);
int		 agent_in_call(int);
int		 agent_after_pg_failover(int, int);
int		 agent_after_desktop_failover(int, int);
int		 ivl_field_of(int);
void		 ivl_add(uint32_t *, int, uint32_t);
int		 ivl_call_handled(int, int);
uint32_t	 ivl_start_of(uint32_t, uint32_t);

/* cfg.c */
enum node_role {
	ROLE_ROUTER,
	ROLE_ACD,
	ROLE_PG,
	ROLE_DESK,		/* an agent desktop server (side A primary) */
	ROLE_AGENTS,		/* the agents' desktops */
	ROLE_APP,		/* an application instance (media routing) */
	ROLE_MAX
};

struct cfg_hb {
	int		 interval_ms;
	int		 misses;
};

struct cfg_node {
	char		 name[PGEMU_NAME_MAX];
	enum node_role	 role;
	char		 side;			/* 'A' or 'B': pg, desk */
	char		 address[64];
	int		 port;			/* router, acd primary, pg private,
						   desk's desktops; agents: 0 */
	int		 backup_port;		/* acd: backup CTI Manager */
	int		 cti_port;		/* pg: its CTI server */
};
#define CTI_PORT_A	42027		/* the product's, protocol-facts 1.1 */
#define CTI_PORT_B	43027

#define CFG_AGENT_MRDS	8
struct cfg_agent {
	int		 id;
	char		 name[PGEMU_NAME_MAX];
	char		 extension[16];
	int		 skill_groups[8];
	int		 nskill_groups;
	int		 initial_state;		/* CTI AgentState */
	int		 desktop;		/* has one (the agents node) */
	int		 mrds[CFG_AGENT_MRDS];	/* its desktop signs in to */
	int		 nmrds;			/* 0: the lab's voice MRD */
};

struct cfg_mrd {
	int		 id;
	char		 name[PGEMU_NAME_MAX];
	char		 media[16];
	int		 task_life;
	int		 task_start_timeout;
	int		 max_task_duration;
	int		 max_tasks;
	int		 interruptible;
	int		 max_tasks_in_queue;	/* router's queue of NEW_TASKs */
	int		 max_time_in_queue;	/* seconds */
};

/* A route of the router: a script selector to an MRD and skill group. */
struct cfg_route {
	char		 selector[33];
	int		 mrd;
	int		 skill_group;		/* 0: any */
};

/*
 * Media routing: the MR peripheral, whose device is the lab's app node
 * (an application instance) and whose PIM runs on the lab's two pg nodes,
 * with the router's routes and the application's traffic.
 */
struct cfg_mr {
	int		 enabled;		/* the lab has an app node */
	int		 peripheral;		/* its id */
	char		 name[PGEMU_NAME_MAX];
	char		 app[PGEMU_NAME_MAX];	/* the app node */
	int		 agent_periph;		/* whose CTI server the app
						   reports tasks to */
	int		 path;			/* ApplicationPathID */
	struct cfg_route *routes;
	int		 nroutes;
	struct {
		int	 enabled;
		double	 tasks_per_second;
		int	 handle_time_ms;	/* START_TASK to END_TASK */
		int	 offer_ms;		/* DO_THIS_WITH_TASK to START */
		unsigned int seed;
	}		 traffic;
};

/* The kinds of peripheral (cfg.c: periph_type_names). */
enum periph_type {
	PT_VOICE,		/* an ACD with agents, a voice PIM */
	PT_MAX
};
extern const char *const periph_type_names[PT_MAX];

struct cfg_periph {
	int		 id;
	char		 name[PGEMU_NAME_MAX];
	enum periph_type type;
	char		 acd[PGEMU_NAME_MAX];	/* its acd node */
	char		 sides[2][PGEMU_NAME_MAX];	/* pg nodes A, B */
	struct cfg_agent *agents;
	int		 nagents;
};

struct cfg_traffic {
	int		 enabled;
	double		 calls_per_second;
	int		 handle_time_ms;
	int		 wrapup_time_ms;
	double		 not_ready_share;
	unsigned int	 seed;
};

/* A notify hook: a program a node runs on chosen events (hooks.c). */
struct cfg_hook {
	char		 program[PGEMU_PATH_MAX];
	uint64_t	 events;	/* bit i: rule_events[i] */
	char		(*nodes)[PGEMU_NAME_MAX];	/* none: every node */
	int		 nnodes;
	int		 timeout_ms;
};

struct cfg {
	char		 file[PGEMU_PATH_MAX];
	char		 lab_name[PGEMU_NAME_MAX];
	char		 control_dir[PGEMU_PATH_MAX];
	char		 state_dir[PGEMU_PATH_MAX];
	char		 history_db[PGEMU_PATH_MAX];
	char		 key_file[PGEMU_PATH_MAX];	/* "": links not
							   authenticated */
	int		 interval_s;		/* reporting interval */
	int		 snapshot_batch;
	struct cfg_hb	 hb_private;
	struct cfg_hb	 hb_router;
	struct cfg_hb	 hb_acd;
	struct cfg_hb	 hb_desktop;		/* desktop <-> desktop server */
	struct cfg_hb	 hb_cti;		/* a desk's CTI session */
	struct cfg_hb	 hb_mr;			/* MR PIM <-> application */
	int		 backoff_min_ms;
	int		 backoff_max_ms;
	int		 backoff_stable_ms;
	int		 max_message;		/* largest internal frame */
	int		 max_pending;		/* connections before HELLO */
	int		 max_output;		/* bytes a link may owe */
	int		 log_rate;		/* lines a second per cause */
	int		 ctl_max_clients;	/* control socket */
	int		 ctl_idle_ms;
	int		 cti_max_sessions;	/* per CTI server */
	int		 cti_idle_scale_ms;	/* per second of IdleTimeout */
	char		 cti_password[65];	/* "": any ClientPassword */
	int		 cti_open_timeout_ms;	/* connect to OPEN_REQ */
	int		 cti_task_cache;	/* TASK_EVENTs kept for the
						   router while it is away */

	struct cfg_node	*nodes;
	int		 nnodes;

	struct cfg_periph *periphs;
	int		 nperiphs;
	/* The first peripheral's, as a lab of one peripheral has them. */
	int		 peripheral_id;
	char		 peripheral_name[PGEMU_NAME_MAX];
	struct cfg_agent *agents;	/* periphs[0].agents */
	int		 nagents;
	struct cfg_mrd	*mrds;
	int		 nmrds;
	int		 voice_mrd;	/* id of the first voice MRD; 1 if none */
	struct cfg_traffic traffic;
	struct cfg_mr	 mr;
	struct cfg_hook	*hooks;
	int		 nhooks;
};

struct cfg	*cfg_load(const char *file, FILE *errs, int *nerrs);
struct cfg	*cfg_check(const char *file, FILE *errs, int *nerrs);
int		 cfg_ephemeral_ports(const char *path, int *lo, int *hi);
void		 cfg_free(struct cfg *);
void		 cfg_keep_periphs(struct cfg *, struct cfg *);
int		 cfg_dump(const char *file, FILE *out, FILE *errs);
const struct cfg_node *cfg_node(const struct cfg *, const char *);
const struct cfg_node *cfg_node_role(const struct cfg *, enum node_role,
		    char side);
const struct cfg_node *cfg_pg_peer(const struct cfg *,
		    const struct cfg_node *);
const struct cfg_periph *cfg_periph(const struct cfg *, uint32_t);
const struct cfg_periph *cfg_periph_of_acd(const struct cfg *,
		    const char *);
int		 cfg_periph_side(const struct cfg_periph *, const char *);
const struct cfg_mrd *cfg_mrd(const struct cfg *, int);
const struct cfg_route *cfg_route(const struct cfg *, const char *);
int		 cfg_mrd_voice(const struct cfg *, int);
int		 cfg_mrd_email(const struct cfg *, int);
int		 cfg_agent_media(const struct cfg *, const struct cfg_agent *,
		    int *);
void		 cfg_man_settings(FILE *);
size_t		 cfg_nsettings(void);

/* link.c */
enum link_state {
	LINK_IDLE,		/* not started, or server side waiting */
	LINK_CONNECT,		/* TCP connect in progress */
	LINK_HELLO,		/* TCP up, waiting for the peer's hello */
	LINK_UP,
	LINK_BACKOFF,		/* client waiting before the next attempt */
	LINK_FROZEN,		/* fault freeze: silent, peer not yet lost */
	LINK_FROZEN_LOST,	/* frozen and the hold time ran out */
	LINK_ADMIN_DOWN,	/* fault down */
	LINK_STATE_MAX
};
extern const char *const link_state_names[LINK_STATE_MAX];

enum link_event {
	LEV_START,
	LEV_TCP_OK,
	LEV_TCP_FAIL,
	LEV_HELLO,
	LEV_HOLD_EXPIRED,
	LEV_CLOSED,
	LEV_PROTO_ERROR,
	LEV_RETRY_TIMER,
	LEV_FAULT_DOWN,
	LEV_FAULT_UP,
	LEV_FAULT_FREEZE,
	LEV_FAULT_THAW,
	LEV_STOP,
	LEV_MAX
};
extern const char *const link_event_names[LEV_MAX];

enum link_kind {
	LINK_KIND_PRIVATE,
	LINK_KIND_ROUTER,
	LINK_KIND_ACD,
	LINK_KIND_SESSION,	/* an anonymous client of a session listener */
	LINK_KIND_DESKTOP,	/* a desktop to its desktop server */
	LINK_KIND_CTI,		/* a CTI client (desk) to a CTI server */
	LINK_KIND_MR,		/* an MR PIM to its application */
	LINK_KIND_MAX
};
extern const char *const link_kind_names[LINK_KIND_MAX];

struct link;
struct listener;
struct wire_msg;
struct wire_writer;
struct wire_type_info;

/*
 * What the owner of a link (the node role) is told.  For a session of a
 * session listener: up is "opened", down is "closed" (after it the link is
 * freed), msg a message of the open session.
 */
struct link_ops {
	void	(*up)(struct link *, void *);
	void	(*down)(struct link *, void *, const char *why);
	void	(*msg)(struct link *, void *, const struct wire_msg *);
};

/* Who sends heartbeats; the hold timer runs on both ends unless none. */
enum proto_hb {
	PROTO_HB_BOTH,		/* each end, every interval (the lab's) */
	PROTO_HB_CLIENT,	/* the client asks, the server answers */
	PROTO_HB_NONE		/* none: a silent peer is not detected */
};

/* What a protocol's control() did with a frame. */
enum proto_verdict {
	PROTO_PASS,		/* not a control frame: the role's */
	PROTO_TAKEN,		/* handled (it may have closed the link) */
	PROTO_HEARTBEAT		/* a heartbeat, counted as one */
};

/* What a protocol's bad_msg() decided. */
#define PROTO_CLOSE	0	/* a protocol error: close the link */
#define PROTO_KEEP	1	/* answered: the link stays */

/* Who a named peer says it is, in its greeting. */
struct link_peer_id {
	char		 node[PGEMU_NAME_MAX];
	char		 lab[PGEMU_NAME_MAX];
	char		 side;
	uint8_t		 challenge[AUTH_NONCE_LEN];	/* ours, sent */
	uint8_t		 nonce[AUTH_NONCE_LEN];		/* the peer's */
};

/*
 * A protocol spoken over a link.  link.c is the transport (connect,
 * back-off, reads, writes, faults, the hold timer, counters); the protocol
 * says which frames exist, how a link greets, who heartbeats, what a bad
 * message gets and which frames are its own.  Frames flow: socket ->
 * header check with types -> control() -> the role's msg().
 */
struct link_proto {
	const char	*name;
	const struct wire_type_info *types;	/* per-type min/max, ends
						   with a NULL name */
	uint32_t	 max_body;	/* 0: the link's max_message */
	enum proto_hb	 hb;
	/* Build the heartbeat frame numbered seq (an end that sends). */
	void		(*heartbeat)(struct link *, uint32_t seq,
			    struct wire_writer *);
	/*
	 * The greeting.  hello_type is the frame a client opens with; 0: no
	 * greeting, a link is up once connected.  hello() sends it (client,
	 * on connect).  A named listener reads it, identify() says who the
	 * peer is and welcome() answers once the link is found.  A session
	 * waits in HELLO until control() takes the greeting (LEV_HELLO).
	 * Either end sets the link's version as the greeting settles it.
	 */
	uint32_t	 hello_type;
	void		(*hello)(struct link *);
	/* A named listener's first frame, before the client's greeting. */
	void		(*challenge)(struct wire_writer *, uint8_t *nonce);
	int		(*identify)(const struct wire_msg *,
			    struct link_peer_id *, char *err, size_t errlen);
	void		(*welcome)(struct link *);
	/* The protocol's own frames, before the role sees any. */
	enum proto_verdict (*control)(struct link *, const struct wire_msg *);
	/* A bad message: may answer; PROTO_KEEP or PROTO_CLOSE.  NULL: close. */
	int		(*bad_msg)(struct link *, const struct wire_msg *,
			    const char *why);
	/* A session listener refuses: the frame saying why (NULL: none). */
	void		(*refuse)(struct wire_writer *, const char *why);
	/* The hold time ran out: a last word before the close (or NULL). */
	void		(*hold_expired)(struct link *);
};

struct link_stats {
	uint64_t	 msgs_in, msgs_out;
	uint64_t	 bytes_in, bytes_out;
	uint64_t	 hb_in, hb_out;
	uint64_t	 connects, drops, proto_errors;
};

struct link {
	char		 name[PGEMU_NAME_MAX];	/* acd-link, pg-a, ... */
	char		 peer_node[PGEMU_NAME_MAX];
	enum link_kind	 kind;
	int		 client;		/* we connect */
	char		 address[64];
	int		 port;
	struct cfg_hb	 hb;
	int		 backoff_min_ms, backoff_max_ms, backoff_stable_ms;
	int		 max_message;
	const struct link_proto *proto;

	enum link_state	 state;
	enum link_state	 prev_state;
	int		 fd;
	struct bufferevent *bev;
	struct event	*ev_hb;		/* send heartbeat */
	struct event	*ev_hold;	/* nothing heard for interval x misses */
	struct event	*ev_retry;	/* reconnect back-off */
	struct event	*ev_stable;	/* reset back-off after a stable period */
	int		 backoff_ms;
	int		 refusals;	/* refused at HELLO, in a row */
	int		 left_refused;	/* the close is such a refusal */
	int		 frozen;	/* freeze requested */
	int		 admin_down;
	char		 peer_addr[80];	/* of the current connection */
	char		 last_error[160];
	struct timespec	 since;		/* entered current state */
	struct link_stats stats;
	struct {
		uint32_t type;
		uint64_t in, out;
	}		 types[24];	/* per message type counters */
	int		 ntypes;
	uint32_t	 hb_seq;
	char		 bye_text[128];	/* what the peer said on leaving */
	uint32_t	 bye_reason;
	int		 primary_port;
	int		 alt_port;	/* a second endpoint, tried in turn */
	char		 via[PGEMU_NAME_MAX];	/* listener it came through */
	struct event	*ev_more;	/* more frames waiting to be read */
	struct event	*ev_flush;	/* send what this turn queued */
	struct evbuffer	*pending;	/* queued this turn, not yet sent */
	uint64_t	 heard_us;	/* last frame in (monotonic) */
	uint64_t	 sent_us;	/* last frame out */
	uint64_t	 hb_fire_us;	/* the heartbeat timer's time */
	uint64_t	 hb_late_us;	/* how late it wakes, smoothed */
	int		 hold_rechecked; /* ran out late: reading first */
	TAILQ_ENTRY(link) hb_entry;	/* in the duplex's links (link.c) */
	uint8_t		 nonce_self[AUTH_NONCE_LEN];	/* authentication */
	uint8_t		 nonce_peer[AUTH_NONCE_LEN];
	uint32_t	 version;	/* of the protocol, as the greeting
					   settled it for this connection (the
					   protocol's codecs read it) */
	int		 quiet;		/* one of many (desktops): state
					   changes at debug, its role sums
					   them up in its own events */

	const struct link_ops *ops;
	void		*arg;
	void		*data;		/* its owner's, for this link alone
					   (a session's state) */
	struct event_base *base;
	struct listener	*lst;		/* a session: its listener */
	TAILQ_ENTRY(link) entry;	/* in the listener's sessions */
};

struct link	*link_new(struct event_base *, const char *name,
		    const char *peer_node, enum link_kind, int client,
		    const char *address, int port, const struct cfg *,
		    const struct link_proto *, const struct link_ops *,
		    void *);
void		 link_free(struct link *);
void		 link_fsm(struct link *, enum link_event, const char *why);
void		 link_attach(struct link *, struct bufferevent *,
		    const char *peer_addr, const char *via);
void		 link_set_alt_port(struct link *, int);
void		 link_bad_msg(struct link *, const struct wire_msg *,
		    const char *);
void		 link_proto_error(struct link *, const char *);
void		 link_peer_left(struct link *, uint32_t reason,
		    const char *text, int endpoint_stops);
const char	*link_type_name(const struct link *, uint32_t);
int		 link_send(struct link *, struct wire_writer *);
void		 link_flush(struct link *);
int		 link_is_up(const struct link *);
int		 link_peer_gone(const struct link *);
int		 link_check_gone(struct link *);
int		 link_fault(struct link *, const char *action, char *err,
		    size_t errlen);
json_t		*link_json(const struct link *);
void		 link_reconfigure(struct link *, const struct cfg *);
void		 link_set_max_output(size_t);
int		 link_endpoint_differs(const struct link *, const char *, int);

/* What a session listener gives each session. */
struct session_conf {
	const struct link_proto *proto;
	int		 limit;		/* sessions at once; past it, refused */
	int		 max_message;	/* largest frame body */
	struct cfg_hb	 hb;		/* heartbeat interval and misses */
	int		 quiet;		/* sessions log at debug (link.quiet) */
	const struct link_ops *ops;	/* opened, closed, message */
	void		*arg;
};
struct link	*link_new_session(struct event_base *, const char *name,
		    const struct session_conf *, struct listener *);
void		 link_accept(struct link *, struct bufferevent *,
		    const char *peer_addr, const char *via);
void		 link_set_hold(struct link *, int hold_ms);

/* proto_cti.c: GED-188, the server end (the PG side's CTI server) */
extern const struct link_proto proto_cti;
void		 proto_cti_set_idle_scale(int);
void		 cti_proto_failure(struct link *, uint32_t invoke,
		    uint32_t status);
void		 cti_proto_failure_event(struct link *, uint32_t status);
void		 cti_proto_malformed(struct link *, const struct wire_msg *,
		    uint32_t status, const char *err);
uint32_t	 cti_proto_invoke(const struct wire_msg *);

/* proto_lab.c: the lab's internal protocol (HELLO, HEARTBEAT, BYE) */
extern const struct link_proto proto_lab;
void		 proto_lab_set_identity(const char *node, const char *lab,
		    char side);

/*
 * proto_desktop.c: agent desktop <-> desktop server (lab framing): the
 * desktop greets with DESKTOP_LOGIN, the server answers DESKTOP_WELCOME;
 * HEARTBEAT from both ends, BYE.  A desktop's greeting is its owner's:
 * the client end calls the function given here.
 */
extern const struct link_proto proto_desktop;
void		 proto_desktop_set_greeting(void (*)(struct link *));

/*
 * proto_cti_client.c: the client end of GED-188 (a desktop server's
 * session, an application instance's ARM session): OPEN_REQ as set
 * here, HEARTBEAT_REQ, the end of a session.
 */
struct cti_client_open {
	uint32_t	 version;
	uint32_t	 idle_timeout;		/* seconds */
	uint32_t	 peripheral;
	uint32_t	 services;
	uint32_t	 call_mask;
	uint32_t	 agent_state_mask;
	char		 client_id[PGEMU_NAME_MAX];
	uint32_t	 app_path;		/* ApplicationPathID; 0: none */
};
extern const struct link_proto proto_cti_client;
void		 proto_cti_client_set_open(const struct cti_client_open *);

/*
 * listen.c: accept connections.  A named-peer listener identifies the
 * peer by its greeting and hands the connection to the link the owner
 * matches it to; a session listener makes each connection a session.
 */
typedef struct link *(*listener_match_cb)(void *, const struct link_peer_id *,
		    char *err, size_t errlen);
struct listener	*listener_new(struct event_base *, const char *name,
		    const char *address, int port, const struct link_proto *,
		    int max_message, listener_match_cb, void *, char *err,
		    size_t errlen);
struct listener	*listener_new_sessions(struct event_base *,
		    const char *name, const char *address, int port,
		    const struct session_conf *, char *err, size_t errlen);
void		 listener_free(struct listener *);
void		 listener_session_ended(struct listener *, struct link *);
int		 listener_nsessions(const struct listener *);
json_t		*listener_json(const struct listener *);
int		 listener_port(const struct listener *);
void		 listener_set_limits(int max_pending, int log_rate);

/*
 * The rules of the documentation (reference/failover-rules.md), R1-R23:
 * every event that applies one names it with these, never a bare number
 * (rules.c: rule_tag() gives "R5").
 */
enum rule {
	RULE_NONE,
	RULE_R1, RULE_R2, RULE_R3, RULE_R4, RULE_R5, RULE_R6, RULE_R7,
	RULE_R8, RULE_R9, RULE_R10, RULE_R11, RULE_R12, RULE_R13, RULE_R14,
	RULE_R15, RULE_R16, RULE_R17, RULE_R18, RULE_R19, RULE_R20, RULE_R21,
	RULE_R22, RULE_R23,
	RULE_MAX
};
const char	*rule_tag(int);

/* evt.c: one state change = one syslog line + one JSON event */
void		 evt_emit(int rule, const char *name, json_t *fields,
		    const char *fmt, ...) __printflike(4, 5);
void		 evt_set_sink(void (*)(json_t *, void *), void *);
uint64_t	 evt_count(void);
json_t		*evt_recent(size_t);
void		 evt_clear(void);

/*
 * rules.c: the rules table.  Each event's priority; each trigger's rules,
 * node by node, as the {rule, event} steps it emits, in their order.
 */
struct rule_event {
	const char	*name;
	int		 pri;		/* LOG_ERR ... LOG_INFO */
	int		(*raise)(const json_t *);	/* then raised_pri */
	int		 raised_pri;
	const char	*raised_when;	/* for the documentation */
};
/*
 * The nodes a trigger's steps are told for: the router, the PG side that
 * held the PIM and the one that holds it after (of the voice PIM, or of
 * the MR PIM where the trigger says so), the ACD, the PG side whose CTI
 * server is active, the desktop server the desktops were on, the
 * desktops (the agents node), the application instance (the app node).
 */
enum rule_node {
	RN_ROUTER, RN_OLD, RN_NEW, RN_ACD, RN_CTI, RN_DESK, RN_AGENTS, RN_APP,
	RN_MAX
};
#define RULE_STEPS_MAX	12
struct rule_step {
	int		 rule;		/* 1 for R1 */
	const char	*event;		/* NULL ends the list */
};
struct rule_trigger {
	const char	*id;
	const char	*name;
	const char	*how;
	int32_t		 reason;	/* logout ReasonCode of its agents,
					   RULE_NO_REASON: none logged out */
	struct rule_step steps[RN_MAX][RULE_STEPS_MAX];
};
#define RULE_NO_REASON	INT32_MIN
extern const struct rule_event rule_events[];
extern const size_t rule_nevents;
extern const struct rule_trigger rule_triggers[];
extern const size_t rule_ntriggers;
extern const char *const rule_node_names[RN_MAX];
const struct rule_event *rule_event(const char *);
int		 rule_event_pri(const char *, const json_t *);
const char	*rule_pri_name(int);
int		 rules_doc(FILE *, const char *what, const char *format);
json_t		*rules_json(void);

/* ctl.c: the control socket */
struct ctl;
struct ctl_cmd_result {
	json_t		*data;		/* reply on success */
	char		 err[256];	/* reply on failure */
};
typedef int (*ctl_dispatch_cb)(void *, int argc, const char **argv,
		    struct ctl_cmd_result *);
struct ctl	*ctl_new(struct event_base *, const char *dir,
		    const char *node, ctl_dispatch_cb, void *, char *err,
		    size_t errlen);
void		 ctl_free(struct ctl *);
void		 ctl_set_limits(struct ctl *, int max_clients, int idle_ms);
void		 ctl_publish(struct ctl *, json_t *);
const char	*ctl_path(const struct ctl *);
int		 ctl_nwatchers(const struct ctl *);
/* The protocol's parse steps, apart for tests/fuzz/fuzz_ctl.c. */
#define CTL_MAX_FRAME		(64 * 1024)
#define CTL_MAX_ARGS		32
#define CTL_REQ_BAD		(-1)	/* not a request: close the client */
#define CTL_REQ_REFUSED		(-2)	/* no command, too many words */
int		 ctl_frame_len(const uint8_t *, uint32_t *, char *, size_t);
int		 ctl_request_parse(const char *, size_t, json_t **,
		    const char **, char *, size_t);
json_t		*ctl_error_reply(const char *);

/*
 * cmd.c: control commands as tables.  A node answers the commands of
 * every node (node.c) and those of its role; pgemuctl lists them all.
 * A row's words select it ("stop|start": either), args says what follows
 * for people, min and max count what follows.  Rows of one word follow
 * each other, their counts apart: "agent ID" and "agent ID set STATE|auto".
 */
struct node;
struct cmd {
	const char	*words;		/* NULL ends a table */
	const char	*args;		/* "LINK down|up|freeze|thaw", "" */
	int		 min, max;	/* words after the first */
	int		(*fn)(struct node *, int argc, const char **argv,
			    struct ctl_cmd_result *);	/* NULL: ctl.c's */
	const char	*help;
};
#define CMD_USAGE	(-2)	/* fn's answer: the words do not fit */
int		 cmd_word_is(const struct cmd *, const char *);
const struct cmd *cmd_find(const struct cmd *const *tabs, int argc,
		    const char **argv, const char *node, char *err,
		    size_t errlen);
void		 cmd_usage(const struct cmd *const *tabs, const char *word,
		    char *err, size_t errlen);
json_t		*cmd_json(int role);
void		 cmd_print(FILE *, const json_t *);
void		 cmd_help(FILE *);
void		 cmd_man(FILE *);

/* node.c: the node runtime shared by every role */
union msg_body;
/* A message as its handler gets it, with room to say why it is bad. */
struct role_msg_in {
	struct node	*node;
	struct link	*link;
	const struct wire_msg *msg;
	char		 err[160];
};
/*
 * A message a role takes: its type, the kind of link it comes on, the
 * decoder of its body and the handler.  A decoder or handler that returns
 * -1 says why in err: a bad message (link_bad_msg).  Type 0 ends a table.
 */
struct role_msg {
	uint32_t	 type;
	enum link_kind	 kind;
	int		(*decode)(const struct wire_msg *, union msg_body *,
			    char *err, size_t errlen);
	int		(*fn)(struct role_msg_in *, const union msg_body *);
};
struct role_ops {
	int	(*init)(struct node *, char *err, size_t errlen);
	void	(*fini)(struct node *);
	const struct cmd *cmds;		/* NULL: only every node's */
	const struct role_msg *msgs;	/* NULL: it takes none */
	void	(*status)(struct node *, json_t *);
	void	(*reload)(struct node *, const struct cfg *old);
	void	(*link_up)(struct node *, struct link *);
	void	(*link_down)(struct node *, struct link *, const char *);
	void	(*summary)(struct node *, char *, size_t);
	void	(*shutdown)(struct node *);
	/* A link the role keeps beside the node's (a desktop), by name. */
	struct link *(*find_link)(struct node *, const char *);
};

/* node_busy()'s buckets: up to 1, 2, 5, 10, 20, 50, 100 ms, longer. */
#define NODE_BUSY_NBUCKETS	8

struct node {
	struct event_base *base;
	struct cfg	*cfg;
	const struct cfg_node *self;
	const struct role_ops *role;
	void		*role_data;
	struct ctl	*ctl;
	struct link	**links;
	int		 nlinks;
	struct listener	**listeners;
	int		 nlisteners;
	struct timespec	 started;
	struct hooks	*hooks;
	char		 summary[200];
	struct event	*ev_summary;	/* the summary, told after this turn */
	int		 quitting;
	/*
	 * How long the loop was held by one piece of work (a message's
	 * handler, a role's own callback): the longest and what it was,
	 * how many took up to each bound of node_busy() and the last of
	 * each.
	 */
	uint64_t	 busy_max_us;
	char		 busy_max_what[32];
	uint64_t	 busy_hist[NODE_BUSY_NBUCKETS];
	char		 busy_last[NODE_BUSY_NBUCKETS][32];	/* the last
						   work of each bucket */
};

extern const struct role_ops router_ops, acd_ops, pg_ops, desk_ops,
		    agents_ops, app_ops;
extern const struct cmd node_cmds[];
extern const struct link_ops node_link_ops;	/* to the role's tables */

void		 node_busy(struct node *, const char *, uint64_t);
struct node	*node_new(struct event_base *, struct cfg *, const char *name,
		    char *err, size_t errlen);
void		 node_free(struct node *);
struct link	*node_new_link(struct node *, const char *name,
		    const struct cfg_node *peer, enum link_kind, int client);
struct link	*node_add_link(struct node *, struct link *);
int		 node_raise_nofile(int need, char *err, size_t errlen);
int		 node_listen(struct node *, const char *name, int port,
		    char *, size_t);
const char	*node_update_summary(struct node *);
int		 node_reload(struct node *, const char *file, char *err,
		    size_t errlen);
void		 node_notify(const char *, ...) __printflike(1, 2);

/* hooks.c: programs the lab file runs on chosen events */
struct hooks;
struct hooks	*hooks_new(struct event_base *);
void		 hooks_free(struct hooks *);
void		 hooks_event(struct hooks *, const struct cfg *, const char *,
		    json_t *);
json_t		*hooks_json(const struct hooks *);

/* role.c: the roles a node can play, one row each */
struct role {
	const char	*name;		/* as nodes.NAME.role says it */
	const struct role_ops *ops;
	const char	*help;
	const char	*links;		/* the links fault names */
};
extern const struct role roles[ROLE_MAX];
int		 role_find(const char *);
const char	*role_choices(void);
const struct role_msg *role_msg_find(const struct role_msg *, uint32_t,
		    enum link_kind);

/* arb.c: which side holds a peripheral's PIM (pure functions) */
struct msg_pg_status;
struct arb_side {
	int		 link_up;	/* the side's router link */
	int		 peer_gone;	/* its end waits on the socket, unread */
	int		 reported;	/* a PG_STATUS since the link came up */
	uint32_t	 granted;	/* grant sent, its status not seen yet */
	int		 acd_up;
	int		 resigning;
	int		 pim_state;	/* PIM_STATE_* */
	uint32_t	 epoch;
	uint32_t	 peer_epoch;	/* its peer holds the PIM, it says */
	int		 peer_up;	/* its private link is up */
	uint64_t	 candidate_since;
};
struct arb {
	struct arb_side	 sides[2];
	int		 active;	/* index of the active side, -1 */
	uint32_t	 epoch;		/* of the active side */
	int		 holder;	/* index of the side the ACD accepted */
	int		 settled;	/* the router may judge and grant */
	int		 in_grace;	/* wait before granting */
	int		 late;		/* the router's own loop stalled */
};
enum arb_act {
	ARB_NONE,
	ARB_RESETTLE,	/* the router was late: wait for the sides */
	ARB_LOSE,	/* the side that held the PIM lost it */
	ARB_DROP,	/* a side granted the PIM went without taking it */
	ARB_GRANT,
	ARB_ACT_MAX
};
extern const char *const arb_act_names[ARB_ACT_MAX];
struct arb_decision {
	enum arb_act	 act;
	int		 side;		/* index */
	int		 why;		/* LOSE, DROP: GRANT_* */
	int		 orphan;	/* LOSE: judged after the router was away */
	int		 regrant;	/* GRANT: to a side that holds the PIM */
};
void		 arb_decide(const struct arb *, struct arb_decision *);
int		 arb_adopts(const struct arb *, int,
		    const struct msg_pg_status *, uint32_t, uint32_t);
int		 arb_waiting_for(const struct arb *);

/* fence.c: whose PIM a peripheral obeys (pure functions) */
/*
 * The router grants one epoch at a time; a few grants may never reach the
 * peripheral (the side had no link to it).  A jump larger than this is a
 * peer that is not a PIM of this lab.
 */
#define FENCE_MAX_JUMP	1000
struct fence {
	uint32_t	 peripheral;
	uint32_t	 max_epoch;	/* the highest accepted */
	char		 holder[PGEMU_NAME_MAX];	/* who has it */
};
enum fence_verdict {
	FENCE_ACCEPT,
	FENCE_FOREIGN,		/* not this peripheral */
	FENCE_IMPLAUSIBLE,	/* far above the last epoch */
	FENCE_STALE,		/* older, or the same from another PIM */
	FENCE_MAX
};
extern const char *const fence_verdict_names[FENCE_MAX];
enum fence_verdict fence_judge(const struct fence *, uint32_t, uint32_t,
		    const char *, char *, size_t);
void		 fence_accept(struct fence *, uint32_t, const char *);

/*
 * fencer.c: a peripheral's device (the ACD, the application instance)
 * fences the PIMs of the two PG sides with fence.c's judgement: one link
 * to each, one PIM accepted at most.
 */
struct msg_epoch;
struct fencer_pim {
	struct link	*link;
	int		 accepted;
	uint32_t	 epoch;
};
struct fencer {
	struct fence	 fence;		/* the highest epoch, its holder */
	struct fencer_pim pims[2];	/* side A's, side B's */
	uint64_t	 accepts, fences, stale_refused;
	int		 max_accepted;	/* most PIMs accepted at once, ever */
};
struct fencer_pim *fencer_pim(struct fencer *, const struct link *);
struct fencer_pim *fencer_accepted(struct fencer *);
struct fencer_pim *fencer_activate(struct fencer *, struct link *,
		    const struct msg_epoch *, uint32_t);
int		 fencer_release(struct fencer *, struct link *, uint32_t);
struct fencer_pim *fencer_lost(struct fencer *, const struct link *);
void		 fencer_json(struct fencer *, json_t *);

/* pace.c: simulated traffic, a Poisson stream of arrivals at a rate */
struct pace {
	struct event	*ev;
	int		 on;
	double		 rate;		/* arrivals a second */
	unsigned int	 seed;
	uint64_t	 next_us;	/* monotonic: the next one is due */
	int		(*arrive)(void *);	/* -1: no more this run */
	void		*arg;
};
void		 pace_init(struct pace *, struct event_base *, unsigned int,
		    int (*)(void *), void *);
void		 pace_free(struct pace *);
void		 pace_set(struct pace *, int, double);
double		 pace_uniform(struct pace *);
int		 pace_cmd(struct pace *, int, const char **, double,
		    const char *, const char *, struct ctl_cmd_result *);

/* timeq.c: many deadlines (slots 0..n-1) behind one libevent timer */
struct timeq {
	struct event	*ev;
	uint64_t	*at;		/* per slot: its deadline, mono_us */
	int		*pos;		/* per slot: its place in heap, or -1 */
	int		*heap;		/* slots, the earliest first */
	int		 n, nslots;
	uint64_t	 armed;		/* the deadline ev is set for, 0: none */
	int		 running;	/* in the callback: arm once, after */
	void		(*cb)(void *, int);
	void		*arg;
};
void		 timeq_init(struct timeq *, struct event_base *, int,
		    void (*)(void *, int), void *);
void		 timeq_free(struct timeq *);
void		 timeq_add(struct timeq *, int, int);
void		 timeq_del(struct timeq *, int);
int		 timeq_pending(const struct timeq *, int);

/* pimfsm.c: one PIM state machine, any peripheral (states PIM_STATE_*) */
enum pim_event {
	PEV_GRANT,		/* the router granted an epoch */
	PEV_ACCEPTED,		/* the peripheral accepted it */
	PEV_REFUSED,		/* the peripheral refused or fenced it */
	PEV_LINK_LOST,		/* the link to the peripheral went */
	PEV_ENDPOINT_STOPPED,	/* its endpoint stopped; a backup exists */
	PEV_LINK_BACK,		/* the link to the peripheral is back */
	PEV_MAX
};
enum pim_action {
	PACT_IGNORE,		/* not expected in this state */
	PACT_ACTIVATE,		/* ask the peripheral with the epoch */
	PACT_SERVE,		/* accepted: count, report, serve */
	PACT_LOSE,		/* lost for good: R1 here, offline there */
	PACT_RECOVER,		/* endpoint gone: R6 until the backup */
	PACT_RECONNECT,		/* the backup is there: ask again, R8 */
	PACT_MAX
};
extern const char *const pim_event_names[PEV_MAX];
extern const char *const pim_action_names[PACT_MAX];
struct pim_fsm_row {
	unsigned int	 from;		/* mask of PIM_STATE_* */
	enum pim_event	 ev;
	enum pim_action	 act;
	int		 next;
};
extern const struct pim_fsm_row pim_fsm_rows[];
extern const size_t pim_fsm_nrows;
struct pim_fsm_ops {
	/* the action, in the state it is taken in */
	void	(*act)(void *, enum pim_action, const char *why);
	/* entry actions once the state is next (it may be prev again) */
	void	(*entered)(void *, int prev, int next, const char *why);
};
struct pim_fsm {
	int		 state;		/* PIM_STATE_* */
	uint32_t	 peripheral;
	const struct pim_fsm_ops *ops;
	void		*arg;
};
const struct pim_fsm_row *pim_fsm_lookup(int, enum pim_event);
enum pim_action	 pim_fsm_event(struct pim_fsm *, enum pim_event,
		    const char *);

/* ctiact.c: which side's CTI server is active (a pure function) */
struct ctiact_in {
	int		 running;	/* not stopped by pgemuctl */
	int		 active;	/* it is now */
	int		 peer_up;	/* the private link */
	int		 peer_active;	/* the peer's, per its PEER_STATE */
	int		 holds;		/* this side holds the first PIM */
	int		 peer_holds;	/* the peer does, per PEER_STATE */
	char		 side;
};
enum ctiact_why {
	CTIACT_STOPPED,
	CTIACT_ALONE_HOLDS,
	CTIACT_ALONE_NOT_HOLDS,
	CTIACT_PEER_NOT_ACTIVE,
	CTIACT_PEER_ACTIVE,
	CTIACT_BOTH_HOLDS,
	CTIACT_BOTH_PEER_HOLDS,
	CTIACT_BOTH_SIDE_A,
	CTIACT_MAX
};
extern const char *const ctiact_why_names[CTIACT_MAX];
int		 ctiact_decide(const struct ctiact_in *, enum ctiact_why *);

/*
 * taskq.c: media routing at the router, as pure functions: which agent a
 * task goes to, whether a request may wait in its MRD's queue, a task's
 * life as the TASK_EVENTs tell it, what its end records, and under which
 * rule a task left out of reports falls.
 */
struct taskq_cand {		/* an agent of the route, in its MRD */
	uint32_t	 id;
	int		 state;		/* CTI AgentState in the MRD */
	int		 logged_in;
	int		 held;		/* the router's, task not started */
	double		 since;		/* in that state since (wall clock) */
};
int		 taskq_pick(const struct taskq_cand *, size_t);
int		 taskq_admit(int queued, int max_in_queue);
int		 taskq_expired(uint64_t since_ms, uint64_t now_ms, int limit_s);
enum taskq_state {
	TQ_QUEUED,		/* a request waiting for an agent */
	TQ_ROUTED,		/* routed: agent reserved, task not offered */
	TQ_OFFERED,
	TQ_STARTED,
	TQ_ENDED,
	TQ_STATE_MAX
};
extern const char *const taskq_state_names[TQ_STATE_MAX];
enum taskq_act {
	TQA_BAD,		/* not a TASK_EVENT code */
	TQA_DUPLICATE,		/* seen already: stored once */
	TQA_LATE,		/* an older step after a newer one: kept */
	TQA_OFFER,
	TQA_START,
	TQA_END,
	TQA_MAX
};
extern const char *const taskq_act_names[TQA_MAX];
enum taskq_act	 taskq_event(int state, unsigned int seen, uint32_t code,
		    int *next);
/* What the end of a task records (Termination_Call_Detail). */
#define TCD_CALLTYPE_ROUTED	25	/* PeripheralCallType: by the router */
#define TCD_CALLTYPE_APP	26	/* by the application */
#define TCD_DISP_HANDLED	13	/* CallDisposition: a normal end */
#define TCD_DISP_RONA		19	/* not started in task_start_timeout */
#define TCD_DISP_PATH_DOWN	42	/* task life ran out, path down (R18) */
#define TCD_DISP_INIT_ENDED	51	/* not told by the application's
					   resync bracket (R19) */
#define TCD_FLAG_HANDLED	1	/* CallDispositionFlag */
#define TCD_FLAG_ABANDONED	2
#define TCD_FLAG_ERROR		4
struct taskq_end {
	int		 left_out;	/* R15/R17/R21: no TCD row */
	int		 call_type;
	int		 disposition;
	int		 disposition_flag;
};
void		 taskq_end(uint32_t flags, int timed_out, struct taskq_end *);
/* A time the MR peripheral was offline, and the rule of its loss. */
struct taskq_down {
	double		 from, to;	/* wall clock; to 0: offline now */
	int		 rule;		/* RULE_R12 or RULE_R17 */
};
int		 taskq_left_out_rule(const struct taskq_down *, size_t,
		    double when, double slack);

/* db.c: the router's history database */
struct db;
struct msg_interval;
#define DB_EVENT_LOGIN		1
#define DB_EVENT_LOGOUT		2
#define DB_EVENT_NOT_READY	3
/* pgemu's: a state a resync rebuilt (the product's Extended Event Detail
   records state changes; R19) */
#define DB_EVENT_STATE		4
struct msg_discard;
/* Interval rows that may wait for the writer thread (then "not stored"). */
#define DB_QUEUE_ROWS		500000
/* What became of a record handed to the writer (db_put_*). */
struct db_result {
	int		 rc;		/* -1 not stored; rows stored, or 1
					   if a refusal was recorded now */
	const char	*error;		/* why not, when rc is -1 */
	const struct msg_interval *iv;	/* the record (its rows gone) */
	int		 closing;	/* the router stops: only free arg */
};
typedef void	 db_done_fn(void *, const struct db_result *);
struct db	*db_open(struct event_base *, const char *, size_t,
		    int voice_mrd, char *, size_t);
size_t		 db_pending(const struct db *);
uint64_t	 db_lost_last_run(const struct db *);
size_t		 db_queued_rows(const struct db *);
void		 db_close(struct db *);
int		 db_put_interval(struct db *, const struct msg_interval *,
		    double, db_done_fn *, void *, const char **);
void		 db_put_refusal(struct db *, uint32_t,
		    const struct msg_interval *, char, const char *,
		    db_done_fn *, void *);
void		 db_put_discard(struct db *, const struct msg_discard *,
		    const char *, db_done_fn *, void *);
/* Whose session row: a peripheral's agent in one MRD. */
struct db_key {
	uint32_t	 peripheral;
	uint32_t	 agent;		/* SkillTargetID */
	uint32_t	 mrd;		/* MRDomainID */
};
void		 db_logout(struct db *, const struct db_key *, double, double,
		    int32_t, const char *);
void		 db_event(struct db *, const struct db_key *, double, double,
		    int, int, int32_t, double, const char *);
void		 db_resync_event(struct db *, const struct db_key *, double,
		    double, int);
void		 db_discard(struct db *, uint32_t, double, uint32_t, uint32_t,
		    const char *, char, const char *);
void		 db_activation(struct db *, uint32_t, char, uint32_t,
		    const char *);
void		 db_set_meta(struct db *, const char *, int64_t);
int64_t		 db_get_meta(struct db *, const char *, int64_t);
json_t		*db_intervals(struct db *, int);
void		 db_on_busy(struct db *, void (*)(void *, const char *,
		    uint64_t), void *);
int		 db_open_sessions(struct db *, uint32_t,
		    void (*)(void *, uint32_t, uint32_t, double), void *);
uint32_t	 db_last_interval(struct db *, uint32_t);

/*
 * A task's row: Route_Call_Detail (a NEW_TASK answered), Termination_Call_
 * Detail (a task ended), pgemu_task_discard (a request discarded, R12,
 * R17), pgemu_left_out (a task left out of reports, R15, R17).
 */
struct db_task {
	double		 t;		/* DateTime */
	double		 start;		/* StartDateTime: TCD, left out */
	uint32_t	 peripheral;	/* RCD, discard: the MR peripheral;
					   TCD, left out: the agent's */
	uint32_t	 agent_periph;	/* RCD */
	uint32_t	 dialogue, mrd, agent;
	uint32_t	 task[3];	/* RouterCallKeyDay, RouterCallKey,
					   its SequenceNumber */
	int		 skill_group;	/* RCD: the route's */
	int		 code;		/* RCD: TASK_FAIL_*, 0 routed */
	double		 queue_time;	/* RCD: seconds in the queue */
	int		 call_type;	/* TCD */
	int		 disposition, disposition_flag;
	int		 segment;	/* TCD: of the task's report (R20) */
	uint32_t	 flags;		/* left out: TASKF_* */
	char		 selector[33];
	char		 rule[8];	/* discard, left out */
	char		 cause[96];	/* discard */
};
void		 db_route_call(struct db *, const struct db_task *);
void		 db_task_end(struct db *, const struct db_task *);
void		 db_task_discard(struct db *, const struct db_task *);
void		 db_left_out(struct db *, const struct db_task *);

/* pim.c: the PIM's reporting data on the active side */
struct pim;
struct msg_agent;
struct msg_task;
struct pim	*pim_new(struct node *, const struct cfg_periph *, int first,
		    struct link *router, char *, size_t);
void		 pim_free(struct pim *);
void		 pim_activate(struct pim *, uint32_t epoch, int continuing);
void		 pim_suspend(struct pim *);
void		 pim_deactivate(struct pim *);
int		 pim_update(struct pim *, const struct msg_agent *, int);
int		 pim_changes(struct pim *, struct msg_agent *, int);
void		 pim_discard(struct pim *, const char *why);
void		 pim_flush(struct pim *, int resend);
void		 pim_ack(struct pim *, uint32_t seq);
void		 pim_refused(struct pim *, uint32_t seq, const char *why);
void		 pim_not_stored(struct pim *, uint32_t seq, const char *why);
json_t		*pim_json(const struct pim *);
int		 pim_agent_state(const struct pim *, int, struct msg_agent *);
int		 pim_media_set(struct pim *, uint32_t agent, uint32_t mrd,
		    int state, int32_t reason, uint32_t handled,
		    struct msg_agent *);
void		 pim_media_reset(struct pim *, int32_t reason);
void		 pim_media_mirror(struct pim *, const struct msg_agent *, int);
int		 pim_media_count(const struct pim *);
int		 pim_media_states(const struct pim *, struct msg_agent *);
void		 pim_media_first(struct pim *);
int		 pim_media_state(const struct pim *, uint32_t agent,
		    uint32_t mrd, uint64_t *since_ms);

/* mrpim.c: the MR PIM of a PG side (media routing) */
struct mrpim;
struct msg_grant;
struct msg_epoch;
struct mrpim	*mrpim_new(struct node *, struct link *router,
		    struct link *peer);
void		 mrpim_free(struct mrpim *);
int		 mrpim_owns(const struct mrpim *, uint32_t);
void		 mrpim_link(struct mrpim *, struct link *, int up,
		    const char *);
void		 mrpim_grant(struct mrpim *, const struct msg_grant *);
void		 mrpim_peer_state(struct mrpim *, const struct msg_epoch *);
int		 mrpim_msg_accept(struct role_msg_in *, const union msg_body *);
int		 mrpim_msg_refused(struct role_msg_in *,
		    const union msg_body *);
int		 mrpim_msg_new_task(struct role_msg_in *,
		    const union msg_body *);
int		 mrpim_msg_result(struct role_msg_in *, const union msg_body *);
int		 mrpim_stop_start(struct mrpim *, int start, char *, size_t);
void		 mrpim_shutdown(struct mrpim *);
json_t		*mrpim_json(const struct mrpim *);

/* cti.c: the CTI server (GED-188) of a PG side */
struct cti;
/* What the side tells its CTI server of one peripheral. */
struct cti_periph_facts {
	uint32_t	 id;
	int		 online;	/* some side's PIM serves it */
	int		 holds;		/* this side's PIM */
	int		 peer_holds;	/* the other side's PIM */
	int		 media_kept;	/* R23: non-voice MRDs kept here */
};
struct cti	*cti_new(struct node *, char *, size_t);
void		 cti_free(struct cti *);
void		 cti_periph(struct cti *, const struct cti_periph_facts *);
void		 cti_peer(struct cti *, int up, uint32_t flags);
void		 cti_router(struct cti *, int up);
void		 cti_agents(struct cti *, uint32_t periph,
		    const struct msg_agent *, int, int snapshot);
uint32_t	 cti_flags(const struct cti *);	/* PEER_STATE's CTI_* */
int		 cti_cmd_stop_start(struct cti *, int start, char *, size_t);
void		 cti_shutdown(struct cti *);
json_t		*cti_json(const struct cti *);
json_t		*cti_summary_json(const struct cti *);
int		 cti_peer_task(struct cti *, const struct msg_task *, char *,
		    size_t);
int		 cti_peer_cache(struct cti *, const struct msg_task *, char *,
		    size_t);
/* Is the application path down (no ARM session of it open, R18)? */
int		 cti_path_is_down(const struct cti *, uint32_t);

/*
 * arm.c: the ARM tasks of a CTI server: its task table (by TaskID, and
 * counted per agent and MRD), the TaskIDs it gives the application's own
 * tasks, the TASK_EVENTs it owes the router (kept while the router link
 * is down) and the copy of the table the other side's CTI server keeps.
 */
struct arm;
struct arm	*arm_new(struct node *);
void		 arm_free(struct arm *);
/*
 * A task message the CTI server took (t: the agent's peripheral, agent,
 * mrd, task, dialogue, code TASK_EV_*, flags): 0 and the table changed
 * (an application task with no TaskID gets one in t, a task's dialogue
 * fills t's when 0), or the E_ARM_STAT_ status that refuses it.  max: the
 * agent's task limit in the MRD; precall: the router reserved the agent
 * there for a task (a START_TASK_IND without OFFER is taken).
 */
uint32_t	 arm_take(struct arm *, struct msg_task *, uint32_t max,
		    int precall);
/*
 * A task of the application's resync bracket (R19), offered or started:
 * 0 and whether the table changed (a new TaskID in t if it had none) and
 * whether its report resumed (R20: its task life had ended it), or the
 * E_ARM_STAT_ status that refuses it.
 */
uint32_t	 arm_resync(struct arm *, struct msg_task *, int started,
		    uint32_t max, int *changed, int *resumed);
/*
 * The bracket of a session begins (arm_bracket_begin), and ends: every
 * task of the peripheral in an email MRD (email(arg, mrd) true) on that
 * application path that it did not tell ends (arm_end_untold: out of the table, fn called with
 * its END flagged TASKF_INIT_ENDED, disposition 51: the application no
 * longer has it, its END lost with the session).  The count.
 */
void		 arm_bracket_begin(struct arm *);
int		 arm_end_untold(struct arm *, uint32_t periph, uint32_t path,
		    int (*email)(void *, uint32_t mrd),
		    void (*fn)(void *, const struct msg_task *), void *);
/* Tasks of an agent in an MRD: offered (not started), started. */
void		 arm_load(const struct arm *, uint32_t periph, uint32_t agent,
		    uint32_t mrd, int *offered, int *started);
/* TASK_EVENT to the router, kept in order while its link is down. */
void		 arm_report(struct arm *, const struct msg_task *);
void		 arm_router(struct arm *, int up);
/* To the other side's CTI server (PEER_TASK): the whole table, a change. */
void		 arm_send_table(struct arm *);
void		 arm_send_change(struct arm *, const struct msg_task *);
/* A PEER_TASK of the active side, kept by the standby; -1: bad. */
int		 arm_mirror(struct arm *, const struct msg_task *, char *,
		    size_t);
/*
 * R22: the other side's PEER_TASK_CACHE (its TASK_EVENTs), kept; taken
 * over when this one is active and the other side is gone (arm_adopt).
 */
int		 arm_mirror_cache(struct arm *, const struct msg_task *,
		    char *, size_t);
void		 arm_adopt(struct arm *, int active, int peer_up);
json_t		*arm_json(const struct arm *, int table);
/* The CTI server that reports (active): it alone tells the router. */
void		 arm_set_active(struct arm *, int);
/*
 * Application paths (R18).  arm_path_set: the path id went down at since
 * (its tasks get their deadlines: since + their MRD's task_life) or came
 * back (no deadline); 1 if that changed (a path not known yet is added),
 * *ntasks its tasks.  arm_path_down: 1 if the path is down, and since
 * when.  arm_path_ids: the paths known, at most max.  arm_path_msg: the
 * TASK_EVENT (and PEER_TASK) that tells the path's state.
 */
#define ARM_PATHS_MAX	256		/* application paths known */
int		 arm_path_set(struct arm *, uint32_t path, int down,
		    double since, int *ntasks);
int		 arm_path_down(const struct arm *, uint32_t path, double *);
int		 arm_path_ids(const struct arm *, uint32_t *, int max);
void		 arm_path_msg(const struct arm *, uint32_t path,
		    struct msg_task *);
/* The first deadline of a task (0: none), and the tasks past theirs. */
double		 arm_next_deadline(const struct arm *);
typedef void	 arm_expired_fn(void *, const struct msg_task *);
/*
 * Every task whose deadline is past now ends: out of the table, its
 * tombstone kept (R20), fn called with its END (flags with
 * TASKF_PATH_DOWN, when its deadline).  The count.
 */
int		 arm_expire(struct arm *, double now, arm_expired_fn *,
		    void *);
/*
 * R20: a START or END (t) of a task the table lacks and whose task life
 * ended it: t is flagged TASKF_RESUMED with its new segment (epoch), and
 * arm_take() takes it.  The code of the START that reports the
 * resumption (TASK_EV_START or _APP_START), 0 if t is no such message.
 */
uint32_t	 arm_resuming(struct arm *, struct msg_task *);

/* pg.c: what the CTI server asks of its side */
int		 pg_set_agent(struct node *, uint32_t periph, uint32_t agent,
		    uint32_t mrd, int state, int32_t reason);
int		 pg_task_handled(struct node *, uint32_t periph,
		    uint32_t agent, uint32_t mrd, int state, int32_t reason);
int		 pg_send_task(struct node *, uint32_t type,
		    const struct msg_task *);
void		 pg_cti_changed(struct node *);
struct mrpim	*pg_mrpim(struct node *);

/*
 * app_arm.c: the application instance's ARM session with the CTI server
 * of the agent peripheral's PG (GED-188, CTI_SERVICE_AGENT_REPORTING):
 * its view of the agents in their non-voice MRDs, and its task messages,
 * kept in order while the session is down.
 */
struct app_arm;
/* A task message of the session (ged188.h's TK_* fields). */
struct app_arm_msg {
	uint32_t	 type;		/* MSG_OFFER_TASK_IND ... END_TASK_IND */
	uint32_t	 periph;	/* the agent's peripheral */
	uint32_t	 mrd;
	uint32_t	 agent;
	uint32_t	 task[3];	/* TaskID; 0s: the CTI server gives it */
	uint32_t	 dialogue;	/* also the InvokeID */
	uint32_t	 flags;		/* TASKF_* */
};
struct app_arm	*app_arm_new(struct node *);
void		 app_arm_free(struct app_arm *);
int		 app_arm_send(struct app_arm *, const struct app_arm_msg *);
uint32_t	 app_arm_pick(struct app_arm *, uint32_t mrd, int skill_group,
		    int max_tasks);
void		 app_arm_hold(struct app_arm *, uint32_t agent, uint32_t mrd,
		    int);
int		 app_arm_up(const struct app_arm *);
/* Since when the session that was open is down (wall clock), 0: open. */
double		 app_arm_down_since(const struct app_arm *);
uint64_t	 app_arm_opens(const struct app_arm *);
/* Flags added to the queued messages of a dialogue; their count. */
int		 app_arm_mark(struct app_arm *, uint32_t dialogue, uint32_t);
void		 app_arm_started(struct app_arm *, uint32_t agent,
		    uint32_t mrd, int);
/* A task into the resync bracket (R19): TASK_INIT_IND, _REQ without id. */
void		 app_arm_task_init(struct app_arm *, const struct app_arm_msg *,
		    int started, uint32_t offered, uint32_t start);
const char	*app_arm_server(const struct app_arm *);
json_t		*app_arm_json(const struct app_arm *);

/* app.c: what the ARM session answers a request of the application */
void		 app_task_answer(struct node *, uint32_t type,
		    uint32_t dialogue, uint32_t status, const uint32_t *task);
/* app.c: the session is back after it was down since; its queue next. */
void		 app_arm_back(struct node *, double since);
/*
 * R19: is the task of dialogue one the resync bracket tells (live, in an
 * email MRD)?  Its tasks into the bracket; the answer to a TASK_INIT_REQ
 * (1: it was one).
 */
int		 app_task_in_resync(struct node *, uint32_t dialogue);
void		 app_resync_tasks(struct node *);
int		 app_task_resynced(struct node *, uint32_t type,
		    uint32_t dialogue, uint32_t status, const uint32_t *task);

/* util.c */
void		 mono_now(struct timespec *);
double		 mono_since(const struct timespec *);
uint64_t	 mono_ms(void);
uint64_t	 mono_us(void);
double		 wall_now(void);
void		 ms_to_tv(int, struct timeval *);
int		 parse_int(const char *, long, long, long *);
int		 cmp_u32_key(const void *, const void *);
void		*find_u32_key(uint32_t, void *, size_t, size_t, size_t *);
int		 choice_ok(const char *, const char *);
void		 man_text(FILE *, const char *);

#endif /* PGEMU_H */
