/*
 * The lab file.  One table of settings drives validation, defaults,
 * --dump-config and the settings section of pgemu.conf(5).
 *
 * Loading is three passes over a libconfig tree: check every setting
 * against the table (unknown, type, range, enumerations, roles); fill in
 * the defaults; check what spans settings (one router, sides A and B,
 * unique ports and ids).  Every error is printed as file:line: message and
 * counted; any error rejects the file.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "pgemu.h"
#include "wire.h"

enum cfg_type {
	T_GROUP, T_LIST, T_INT, T_FLOAT, T_STRING, T_BOOL, T_INTS, T_STRS
};
static const char *const cfg_type_names[] = {
	"group", "list of groups", "integer", "number", "string", "boolean",
	"array of integers", "array of strings"
};

/* The kinds of peripheral; each row a type the lab file may name. */
const char *const periph_type_names[PT_MAX] = { "voice" };

#define F_REQUIRED	0x01
#define F_ROLE		0x02	/* a string naming a role of role.c */
#define R_ALL		0
#define R_ROUTER	(1 << ROLE_ROUTER)
#define R_ACD		(1 << ROLE_ACD)
#define R_PG		(1 << ROLE_PG)
#define R_DESK		(1 << ROLE_DESK)
#define R_APP		(1 << ROLE_APP)

struct cfg_setting {
	const char	*path;		/* '*' any member name, '[]' list element */
	enum cfg_type	 type;
	double		 min, max;
	const char	*def;		/* NULL: no default */
	const char	*choices;	/* "a|b|c" for strings; F_ROLE: roles */
	int		 flags;
	int		 roles;		/* node settings: which roles take it */
	const char	*help;
};

static const struct cfg_setting settings[] = {
	{ "lab", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Settings of the whole lab." },
	{ "lab.name", T_STRING, 1, 31, "lab", NULL, 0, 0,
	  "Name of the lab; nodes refuse a peer that names another lab." },
	{ "lab.control_dir", T_STRING, 1, 200, "/run/pgemu", NULL, 0, 0,
	  "Directory of the control sockets, one NODE.sock per node; a "
	  "node makes it (mode 0755) if only its last component is "
	  "missing.  An absolute path, short enough for NODE.sock to fit "
	  "a UNIX socket path (107 bytes)." },
	{ "lab.state_dir", T_STRING, 1, 200, "/var/lib/pgemu", NULL, 0, 0,
	  "Directory of the history database, the spool files and the app "
	  "node's pending table; the router, the PG sides and the app node "
	  "make it (mode 0750) if only its last "
	  "component is missing, and refuse to start if they cannot write "
	  "in it.  An absolute path." },
	{ "lab.history_db", T_STRING, 1, 200, "history.db", NULL, 0, 0,
	  "History database of the router (SQLite); relative to state_dir "
	  "unless absolute.  Beside it the router keeps the count of the "
	  "rows it queued to be written (the same name and \".queued\"), "
	  "so that a router killed with rows not yet written records their "
	  "loss when it starts again." },
	{ "lab.key_file", T_STRING, 0, 200, "lab.key", NULL, 0, 0,
	  "The lab key: a secret file every node of the lab reads (relative "
	  "to state_dir unless absolute).  With it every link between nodes "
	  "is authenticated (a challenge and an HMAC-SHA-256 of both ends' "
	  "nonces on HELLO) and every grant of the router is signed, so a "
	  "process that merely knows the ports can neither pose as a node "
	  "nor forge an epoch.  A node that finds no key file makes one "
	  "(mode 0600); a key file another user can read is refused.  Every "
	  "node of a lab must read the same file.  Empty: links are not "
	  "authenticated and a peer is who its HELLO says.  What is "
	  "authenticated and what is not, and every limit: docs/security.md "
	  "in the source." },
	{ "lab.interval", T_INT, 1, 3600, "1800", NULL, 0, 0,
	  "Reporting interval in seconds (the product uses 900 or 1800)." },
	{ "lab.max_message", T_INT, 1024, WIRE_MAX_BODY, "65536", NULL, 0, 0,
	  "Largest message body in bytes accepted on an internal link." },
	{ "lab.max_pending", T_INT, 1, 10000, "64", NULL, 0, 0,
	  "Connections a listener holds before they say HELLO; past it a new "
	  "one is closed at once, so a flood of silent connections cannot "
	  "keep a real peer out (each has lab's 5 s to greet)." },
	{ "lab.max_output", T_INT, 65536, INT_MAX, "16777216", NULL, 0, 0,
	  "Bytes a node may owe one peer (a link or a CTI session); a peer "
	  "that reads nothing while more would wait is cut, logged once, "
	  "instead of growing the node's memory without end.  A frozen link "
	  "(fault freeze) holds what it owes." },
	{ "lab.log_rate", T_INT, 0, 100000, "10", NULL, 0, 0,
	  "Log lines a second of one cause (a listener's refusals): past it "
	  "lines are counted and one line says how many were suppressed.  "
	  "0: no limit." },
	{ "lab.snapshot_batch", T_INT, 1, 1000, "200", NULL, 0, 0,
	  "Agents per message in an ACD snapshot." },

	{ "heartbeat", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Heartbeats of each kind of link." },
	{ "heartbeat.private", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Private link between side A and side B." },
	{ "heartbeat.private.interval_ms", T_INT, 10, 60000, "100", NULL, 0, 0,
	  "Heartbeat interval in milliseconds (product: 100)." },
	{ "heartbeat.private.misses", T_INT, 2, 100, "5", NULL, 0, 0,
	  "Missed heartbeats that mean the peer is lost (product: 5)." },
	{ "heartbeat.router", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Links between each PG side and the router." },
	{ "heartbeat.router.interval_ms", T_INT, 10, 60000, "400", NULL, 0, 0,
	  "Heartbeat interval in milliseconds (product: 400)." },
	{ "heartbeat.router.misses", T_INT, 2, 100, "5", NULL, 0, 0,
	  "Missed heartbeats that mean the link is lost (product: 5)." },
	{ "heartbeat.acd", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Links between each PG side (PIM) and the ACD." },
	{ "heartbeat.acd.interval_ms", T_INT, 10, 60000, "400", NULL, 0, 0,
	  "Heartbeat interval in milliseconds." },
	{ "heartbeat.acd.misses", T_INT, 2, 100, "5", NULL, 0, 0,
	  "Missed heartbeats that mean the link is lost." },
	{ "heartbeat.desktop", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Links between each agent desktop and its desktop server." },
	{ "heartbeat.desktop.interval_ms", T_INT, 10, 120000, "5000", NULL, 0,
	  0, "Heartbeat interval in milliseconds.  The product tells "
	  "desktops 90 s or more; 5 s sees a hung server or desktop in 15 s "
	  "while 10,000 desktops cost their servers ~3 % of a core (1 s: "
	  "~16 %)." },
	{ "heartbeat.desktop.misses", T_INT, 2, 100, "3", NULL, 0, 0,
	  "Missed heartbeats that mean the desktop (or its server) is "
	  "lost: R9." },
	{ "heartbeat.mr", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Links between each PG side's MR PIM and the application "
	  "instance (the app node)." },
	{ "heartbeat.mr.interval_ms", T_INT, 10, 60000, "5000", NULL, 0, 0,
	  "Heartbeat interval in milliseconds (the product's MR PG setup "
	  "offers 5 s)." },
	{ "heartbeat.mr.misses", T_INT, 2, 100, "3", NULL, 0, 0,
	  "Missed heartbeats that mean the other end is lost: R12 (the "
	  "application) or R16's ROUTING_DISABLED is not involved." },
	{ "heartbeat.cti", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "A desktop server's GED-188 session with the CTI server." },
	{ "heartbeat.cti.interval_ms", T_INT, 10, 60000, "5000", NULL, 0, 0,
	  "HEARTBEAT_REQ interval in milliseconds, scaled as cti."
	  "idle_scale_ms scales the server's idle time-out." },
	{ "heartbeat.cti.misses", T_INT, 2, 100, "4", NULL, 0, 0,
	  "Unanswered heartbeats that mean the CTI server is lost; the "
	  "session's IdleTimeout (OPEN_REQ) is interval_ms x misses, in "
	  "seconds, at least 20." },

	{ "reconnect", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Reconnection of the links a node opens." },
	{ "reconnect.min_ms", T_INT, 10, 60000, "100", NULL, 0, 0,
	  "First retry delay in milliseconds; doubled on each failure.  A "
	  "client refused by both ends of a pair (two standby CTI servers) "
	  "tries again every min_ms." },
	{ "reconnect.max_ms", T_INT, 10, 600000, "5000", NULL, 0, 0,
	  "Largest retry delay in milliseconds." },
	{ "reconnect.stable_ms", T_INT, 0, 3600000, "10000", NULL, 0, 0,
	  "A link up this long resets the retry delay to min_ms." },

	{ "control", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "The control socket of each node (pgemuctl)." },
	{ "control.max_clients", T_INT, 1, 1000, "64", NULL, 0, 0,
	  "Clients a control socket serves at once, watchers included; "
	  "one more gets an error reply and is closed." },
	{ "control.idle_ms", T_INT, 100, 3600000, "60000", NULL, 0, 0,
	  "A client that does not watch and sends nothing for this long "
	  "is closed." },

	{ "nodes", T_GROUP, 0, 0, NULL, NULL, F_REQUIRED, 0,
	  "The nodes of the lab, each a group named after the node "
	  "(pgemud -n NAME)." },
	{ "nodes.*", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "One node." },
	{ "nodes.*.role", T_STRING, 0, 0, NULL, NULL, F_REQUIRED | F_ROLE, 0,
	  "What the node plays." },
	{ "nodes.*.address", T_STRING, 1, 63, "127.0.0.1", NULL, 0, 0,
	  "IPv4 or IPv6 address the node listens on and peers connect to." },
	{ "nodes.*.port", T_INT, 1, 65535, NULL, NULL, 0, 0,
	  "TCP port: the router port, the ACD port, a PG side's private "
	  "port, the port a desktop server serves desktops on, or an app "
	  "node's MR port (the product's 38001), which the MR PIMs connect "
	  "to.  Required, but for an agents node, which listens on "
	  "nothing." },
	{ "nodes.*.backup_port", T_INT, 0, 65535, "0", NULL, 0, R_ACD,
	  "ACD: port of the backup CTI Manager endpoint; 0: none.  A PIM "
	  "tries the primary (port) and the backup in turn." },
	{ "nodes.*.cti_port", T_INT, 0, 65535, "0", NULL, 0, R_PG,
	  "PG: port of the side's CTI server (GED-188); 0: the product's, "
	  "42027 on side A and 43027 on side B." },
	{ "nodes.*.side", T_STRING, 0, 0, NULL, "A|B", F_REQUIRED,
	  R_PG | R_DESK, "Side of the duplex PG; for a desktop server, A "
	  "the primary (where desktops go first), B the backup." },

	{ "peripheral", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "The peripheral (ACD) the duplex PG serves, when the lab has one; "
	  "its type is voice, its ACD the lab's acd node, its sides the "
	  "lab's two pg nodes.  A lab with several peripherals lists them "
	  "in peripherals instead." },
	{ "peripheral.id", T_INT, 1, INT_MAX, "5000", NULL, 0, 0,
	  "Peripheral id." },
	{ "peripheral.name", T_STRING, 1, 31, "ACD1", NULL, 0, 0,
	  "Peripheral name." },
	{ "peripheral.agents", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Agents of the peripheral: a generated count and/or a list." },
	{ "peripheral.agents.count", T_INT, 0, 100000, "0", NULL, 0, 0,
	  "Number of generated agents." },
	{ "peripheral.agents.first_id", T_INT, 1, 100000000, "1001", NULL, 0, 0,
	  "Id of the first generated agent; the others follow." },
	{ "peripheral.agents.skill_groups", T_INTS, 1, INT_MAX, "", NULL, 0, 0,
	  "Skill groups of every generated agent." },
	{ "peripheral.agents.state", T_STRING, 0, 0, "available",
	  "logout|not_ready|available", 0, 0,
	  "State of generated agents when the ACD starts." },
	{ "peripheral.agents.desktops", T_BOOL, 0, 0, "false", NULL, 0, 0,
	  "Generated agents have a desktop (the agents node): they start "
	  "logged out at the ACD and their desktop logs them in, into "
	  "state, through the desktop server and the CTI server." },
	{ "peripheral.agents.mrds", T_INTS, 1, INT_MAX, "", NULL, 0, 0,
	  "MRDs the desktops of generated agents sign in to (ids of mrds); "
	  "empty: the lab's voice MRD." },
	{ "peripheral.agents.list", T_LIST, 0, 0, NULL, NULL, 0, 0,
	  "Agents listed one by one." },
	{ "peripheral.agents.list.[]", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "One agent." },
	{ "peripheral.agents.list.[].id", T_INT, 1, 100000000, NULL, NULL,
	  F_REQUIRED, 0, "Agent id (peripheral number)." },
	{ "peripheral.agents.list.[].name", T_STRING, 0, 31, "", NULL, 0, 0,
	  "Agent name; empty: agent<id>." },
	{ "peripheral.agents.list.[].extension", T_STRING, 0, 15, "", NULL, 0,
	  0, "Extension; empty: the id." },
	{ "peripheral.agents.list.[].skill_groups", T_INTS, 1, INT_MAX, "",
	  NULL, 0, 0, "Skill groups of this agent." },
	{ "peripheral.agents.list.[].state", T_STRING, 0, 0, "available",
	  "logout|not_ready|available", 0, 0,
	  "State when the ACD starts." },
	{ "peripheral.agents.list.[].desktop", T_BOOL, 0, 0, "false", NULL,
	  0, 0, "This agent has a desktop (see desktops)." },
	{ "peripheral.agents.list.[].mrds", T_INTS, 1, INT_MAX, "", NULL, 0,
	  0, "MRDs its desktop signs in to; empty: the lab's voice MRD." },

	{ "peripherals", T_LIST, 0, 0, NULL, NULL, 0, 0,
	  "The peripherals of the lab, instead of peripheral: any number, "
	  "each arbitrated by the router with its own activation epochs." },
	{ "peripherals.[]", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "One peripheral." },
	{ "peripherals.[].id", T_INT, 1, INT_MAX, NULL, NULL, F_REQUIRED, 0,
	  "PeripheralID; unique in the lab." },
	{ "peripherals.[].name", T_STRING, 0, 31, "", NULL, 0, 0,
	  "Peripheral name; empty: PERIPHERAL followed by the id." },
	{ "peripherals.[].type", T_STRING, 0, 0, "voice", "voice", 0, 0,
	  "What the peripheral is: voice (an ACD with agents)." },
	{ "peripherals.[].acd", T_STRING, 0, 31, "", NULL, 0, 0,
	  "The acd node of the peripheral; an acd node serves one "
	  "peripheral.  Empty: the lab's only acd node." },
	{ "peripherals.[].sides", T_STRS, 1, 31, "", NULL, 0, 0,
	  "The PG sides that serve it, a pg node of side A and one of side "
	  "B.  Empty: the lab's two pg nodes." },
	{ "peripherals.[].agents", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Agents of the peripheral, with the settings of peripheral.agents; "
	  "agent ids are unique in the lab (they are the agents' "
	  "SkillTargetID)." },

	{ "mrds", T_LIST, 0, 0, NULL, NULL, 0, 0,
	  "Media Routing Domains." },
	{ "mrds.[]", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "One MRD." },
	{ "mrds.[].id", T_INT, 1, INT_MAX, NULL, NULL, F_REQUIRED, 0,
	  "MRD id." },
	{ "mrds.[].name", T_STRING, 1, 31, NULL, NULL, F_REQUIRED, 0,
	  "MRD name." },
	{ "mrds.[].media", T_STRING, 0, 0, "voice", "voice|email|chat|other",
	  0, 0, "Kind of media." },
	{ "mrds.[].task_life", T_INT, 1, 86400, "1200", NULL, 0, 0,
	  "Seconds a task is kept while the application path is down; then "
	  "it ends with disposition 42 (product default 1200)." },
	{ "mrds.[].task_start_timeout", T_INT, 1, 3600, "30", NULL, 0, 0,
	  "Seconds to start an offered task (product default 30)." },
	{ "mrds.[].max_task_duration", T_INT, 1, 604800, "28800", NULL, 0, 0,
	  "Longest task in seconds; longer ones end with disposition 41 "
	  "(product default 28800)." },
	{ "mrds.[].max_tasks", T_INT, 1, 10, "1", NULL, 0, 0,
	  "Tasks an agent may hold at once in this MRD." },
	{ "mrds.[].interruptible", T_BOOL, 0, 0, "false", NULL, 0, 0,
	  "Whether tasks of this MRD can be interrupted." },
	{ "mrds.[].max_tasks_in_queue", T_INT, 0, 1000000, "1000", NULL, 0,
	  0, "NEW_TASK requests the router queues in this MRD while no "
	  "agent is available; one more fails with NEW_TASK_FAILURE." },
	{ "mrds.[].max_time_in_queue", T_INT, 1, 86400, "1000", NULL, 0, 0,
	  "Seconds a queued NEW_TASK waits for an agent; then it fails "
	  "with NEW_TASK_FAILURE." },

	{ "media_routing", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Media routing, when the lab has an app node (an application "
	  "instance): the MR peripheral, whose PIM runs on each pg node and "
	  "connects to the app node's port (the product's 38001), the "
	  "router's routes and the application's task traffic." },
	{ "media_routing.peripheral", T_INT, 1, INT_MAX, "5001", NULL, 0, 0,
	  "Id of the MR peripheral (PeripheralType 19, MEDIA_ROUTING); it "
	  "has its own active side and epochs, as a voice peripheral." },
	{ "media_routing.name", T_STRING, 1, 31, "MR1", NULL, 0, 0,
	  "Name of the MR peripheral." },
	{ "media_routing.agent_peripheral", T_INT, 0, INT_MAX, "0", NULL, 0,
	  0, "The peripheral whose agents take the tasks and whose CTI "
	  "server the application reports them to; 0: the lab's first." },
	{ "media_routing.application_path", T_INT, 1, INT_MAX, "1", NULL, 0,
	  0, "The application's ApplicationPathID (OPEN_REQ of its ARM "
	  "session)." },
	{ "media_routing.routes", T_LIST, 0, 0, NULL, NULL, 0, 0,
	  "The router's routes; none: one per non-voice MRD, its name as "
	  "the script selector, any skill group." },
	{ "media_routing.routes.[]", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "One route." },
	{ "media_routing.routes.[].selector", T_STRING, 1, 32, NULL, NULL,
	  F_REQUIRED, 0, "Script selector of the NEW_TASK requests it "
	  "routes." },
	{ "media_routing.routes.[].mrd", T_INT, 1, INT_MAX, NULL, NULL,
	  F_REQUIRED, 0, "The non-voice MRD its tasks are in." },
	{ "media_routing.routes.[].skill_group", T_INT, 0, INT_MAX, "0", NULL,
	  0, 0, "The skill group whose agents take them; 0: any." },
	{ "media_routing.traffic", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "The application's simulated tasks." },
	{ "media_routing.traffic.enabled", T_BOOL, 0, 0, "false", NULL, 0, 0,
	  "Whether the application sends NEW_TASK requests by itself." },
	{ "media_routing.traffic.tasks_per_second", T_FLOAT, 0, 100000, "0.5",
	  NULL, 0, 0, "New tasks per second (a Poisson stream), over the "
	  "routes in turn.  pgemuctl app traffic rate N changes it live." },
	{ "media_routing.traffic.handle_time_ms", T_INT, 1, 86400000, "20000",
	  NULL, 0, 0, "Milliseconds from a task's start to its end." },
	{ "media_routing.traffic.offer_ms", T_INT, 0, 3600000, "500", NULL, 0,
	  0, "Milliseconds from DO_THIS_WITH_TASK (or the application's own "
	  "assignment) to the start of the task." },
	{ "media_routing.traffic.seed", T_INT, 0, INT_MAX, "1", NULL, 0, 0,
	  "Seed of the task generator." },

	{ "cti", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "The CTI servers (GED-188) of the PG sides." },
	{ "cti.max_sessions", T_INT, 1, 20000, "64", NULL, 0, 0,
	  "Client sessions a CTI server serves at once; past it a client "
	  "is refused with FAILURE_CONF (E_CTI_UNSPECIFIED_FAILURE)." },
	{ "cti.client_password", T_STRING, 0, 64, "", NULL, 0, 0,
	  "The ClientPassword a CTI client's OPEN_REQ must carry; another "
	  "gets FAILURE_CONF E_CTI_INVALID_PASSWORD.  Empty: any (a lab's "
	  "default, as a product lab without passwords)." },
	{ "cti.open_timeout_ms", T_INT, 100, 600000, "10000", NULL, 0, 0,
	  "A CTI client sends its OPEN_REQ within this time of connecting; "
	  "past it the server closes the connection (FAILURE_EVENT "
	  "E_CTI_TIMEOUT), so silent connections do not hold "
	  "cti.max_sessions." },
	{ "cti.task_cache", T_INT, 1, 1000000, "10000", NULL, 0, 0,
	  "TASK_EVENTs (the ARM tasks' life) a CTI server keeps, in order, "
	  "while its side's router link is down, to send when it is back; "
	  "past it the newer ones are dropped, counted and logged." },
	{ "cti.idle_scale_ms", T_INT, 1, 1000, "1000", NULL, 0, 0,
	  "Milliseconds a CTI server counts for each second of a client's "
	  "IdleTimeout (the product's: 1000).  A lab may shrink it to see "
	  "idle time-outs without waiting the protocol's 20 s minimum." },

	{ "traffic", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "Simulated call traffic at the ACD." },
	{ "traffic.enabled", T_BOOL, 0, 0, "false", NULL, 0, 0,
	  "Whether the ACD generates calls." },
	{ "traffic.calls_per_second", T_FLOAT, 0, 1000000, "1.0", NULL, 0, 0,
	  "Offered calls per second over the whole peripheral (a Poisson "
	  "stream), started as asked up to what the available agents and "
	  "the machine carry; a call that finds no available agent is "
	  "counted (calls_no_agent).  pgemuctl acd traffic rate N changes "
	  "it live." },
	{ "traffic.handle_time_ms", T_INT, 1, 86400000, "10000", NULL, 0, 0,
	  "Talk time of a call in milliseconds." },
	{ "traffic.wrapup_time_ms", T_INT, 0, 86400000, "3000", NULL, 0, 0,
	  "Wrap-up (after-call work) time in milliseconds." },
	{ "traffic.not_ready_share", T_FLOAT, 0, 1, "0.1", NULL, 0, 0,
	  "Share of calls after which the agent goes not ready." },
	{ "traffic.seed", T_INT, 0, INT_MAX, "1", NULL, 0, 0,
	  "Seed of the traffic generator (same seed, same traffic)." },

	{ "hooks", T_LIST, 0, 0, NULL, NULL, 0, 0,
	  "Notify hooks: programs a node runs on chosen events, as "
	  "keepalived's notify scripts.  The program gets the event's "
	  "fields in its environment (PGEMU_EVENT, PGEMU_RULE, PGEMU_NODE, "
	  "PGEMU_MESSAGE, PGEMU_TIME, and PGEMU_ then the name upper-cased "
	  "of every other field that is not an object or an array) and the "
	  "event's name as its argument; no shell, its standard input and "
	  "output /dev/null, its standard error the node's.  The node never "
	  "waits for it: at most 16 hooks run at once, the next ones are "
	  "dropped (logged, counted in status).  A program that cannot be "
	  "started, exits non-zero, is killed by a signal or runs past its "
	  "timeout (then it is killed) is logged at warning." },
	{ "hooks.[]", T_GROUP, 0, 0, NULL, NULL, 0, 0,
	  "One hook." },
	{ "hooks.[].events", T_STRS, 1, 31, NULL, NULL, F_REQUIRED, 0,
	  "The events that run it, by name (pgemu-failover(7) lists "
	  "them)." },
	{ "hooks.[].program", T_STRING, 2, 200, NULL, NULL, F_REQUIRED, 0,
	  "The program to run: an absolute path." },
	{ "hooks.[].nodes", T_STRS, 1, 31, "", NULL, 0, 0,
	  "The nodes that run it; empty: every node." },
	{ "hooks.[].timeout_ms", T_INT, 100, 3600000, "10000", NULL, 0, 0,
	  "Milliseconds the program may run; then it is killed (SIGKILL, "
	  "its process group)." },
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

struct cfg_ctx {
	const char	*file;
	FILE		*errs;
	int		 nerrs;
	FILE		*warns;		/* NULL: no warnings (not --check-config) */
};

size_t
cfg_nsettings(void)
{
	return NSETTINGS;
}

/* One line, file:line: PREFIXmessage, at the setting s (NULL: line 0). */
static void
cfg_vprint(struct cfg_ctx *ctx, FILE *out, const config_setting_t *s,
    const char *prefix, const char *fmt, va_list ap)
{
	const char	*file = NULL;
	unsigned int	 line = 0;

	if (s != NULL) {
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	if (file == NULL)
		file = ctx->file;
	fprintf(out, "%s:%u: %s", file, line, prefix);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
}

static void cfg_error(struct cfg_ctx *, const config_setting_t *,
    const char *, ...) __printflike(3, 4);

static void
cfg_error(struct cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	va_list		 ap;

	va_start(ap, fmt);
	cfg_vprint(ctx, ctx->errs, s, "", fmt, ap);
	va_end(ap);
	ctx->nerrs++;
}

static void cfg_warn(struct cfg_ctx *, const config_setting_t *,
    const char *, ...) __printflike(3, 4);

/* A warning of --check-config: file:line: warning: message, not counted. */
static void
cfg_warn(struct cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	va_list		 ap;

	if (ctx->warns == NULL)
		return;
	va_start(ap, fmt);
	cfg_vprint(ctx, ctx->warns, s, "warning: ", fmt, ap);
	va_end(ap);
}

/*
 * The path of a setting.  As a table pattern, member names under nodes
 * become '*' and list elements '[]'; as a concrete path (for messages),
 * they stay names and become [N], counted from 1.
 */
static void
cfg_path(const config_setting_t *s, char *out, size_t outlen, int concrete)
{
	char			 idx[16];
	const config_setting_t	*chain[32];
	int			 n = 0, i;
	size_t			 o = 0;

	out[0] = '\0';
	for (; s != NULL && config_setting_parent(s) != NULL;
	    s = config_setting_parent(s))
		if (n < 32)
			chain[n++] = s;
	for (i = n - 1; i >= 0; i--) {
		const config_setting_t	*p = config_setting_parent(chain[i]);
		const char		*seg = config_setting_name(chain[i]);

		if (config_setting_is_list(p) && concrete) {
			snprintf(idx, sizeof(idx), "[%d]",
			    config_setting_index(chain[i]) + 1);
			seg = idx;
		} else if (config_setting_is_list(p))
			seg = "[]";
		else if (i == n - 2 && strcmp(out, "nodes") == 0 && !concrete)
			seg = "*";
		if (seg == NULL)
			seg = "?";
		o += (size_t)snprintf(out + o, o < outlen ? outlen - o : 0,
		    "%s%s", o && seg != idx ? "." : "", seg);
	}
}

/*
 * A peripheral of the peripherals list takes its agents with the settings
 * of peripheral.agents: its patterns are looked up there.
 */
#define CFG_LIST_AGENTS		"peripherals.[].agents."
#define CFG_ONE_AGENTS		"peripheral.agents."

static const struct cfg_setting *
cfg_find(const char *pattern)
{
	char	alias[256];
	size_t	i;

	if (strncmp(pattern, CFG_LIST_AGENTS, strlen(CFG_LIST_AGENTS)) == 0) {
		snprintf(alias, sizeof(alias), "%s%s", CFG_ONE_AGENTS,
		    pattern + strlen(CFG_LIST_AGENTS));
		pattern = alias;
	}
	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].path, pattern) == 0)
			return &settings[i];
	return NULL;
}

/* The role of the node a setting belongs to, or -1. */
static int
cfg_setting_role(const config_setting_t *s)
{
	const config_setting_t	*node = s, *role;
	const char		*r;

	/* Climb to the node group: the one whose grandparent is the root. */
	while (node != NULL && config_setting_parent(node) != NULL &&
	    config_setting_parent(config_setting_parent(node)) != NULL &&
	    config_setting_parent(config_setting_parent(
	    config_setting_parent(node))) != NULL)
		node = config_setting_parent(node);
	if (node == NULL || config_setting_parent(node) == NULL ||
	    config_setting_name(config_setting_parent(node)) == NULL ||
	    strcmp(config_setting_name(config_setting_parent(node)),
	    "nodes") != 0)
		return -1;
	if ((role = config_setting_get_member(node, "role")) == NULL ||
	    (r = config_setting_get_string(role)) == NULL)
		return -1;
	return role_find(r);
}

/* The words a string setting takes, "a|b|c", or NULL: any. */
static const char *
cfg_choices(const struct cfg_setting *t)
{
	return t->flags & F_ROLE ? role_choices() : t->choices;
}

static const char *
cfg_article(const char *word)
{
	return word[0] != '\0' && strchr("aeiou", word[0]) != NULL ? "an" :
	    "a";
}

static void
cfg_check_value(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_setting *t, const char *pattern)
{
	int		 type = config_setting_type(s);
	double		 v;
	const char	*str;
	int		 i, role;

	switch (t->type) {
	case T_GROUP:
		if (type != CONFIG_TYPE_GROUP)
			goto badtype;
		break;
	case T_LIST:
		if (type != CONFIG_TYPE_LIST)
			goto badtype;
		for (i = 0; i < config_setting_length(s); i++)
			if (!config_setting_is_group(
			    config_setting_get_elem(s, (unsigned)i)))
				cfg_error(ctx, config_setting_get_elem(s,
				    (unsigned)i), "%s: element %d is not a "
				    "group", pattern, i + 1);
		break;
	case T_INT:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			goto badtype;
		v = (double)config_setting_get_int64(s);
		if (v < t->min || v > t->max)
			cfg_error(ctx, s, "%s: %.0f is out of range %.0f..%.0f",
			    pattern, v, t->min, t->max);
		break;
	case T_FLOAT:
		if (type != CONFIG_TYPE_FLOAT && type != CONFIG_TYPE_INT &&
		    type != CONFIG_TYPE_INT64)
			goto badtype;
		v = type == CONFIG_TYPE_FLOAT ? config_setting_get_float(s) :
		    (double)config_setting_get_int64(s);
		if (v < t->min || v > t->max)
			cfg_error(ctx, s, "%s: %g is out of range %g..%g",
			    pattern, v, t->min, t->max);
		break;
	case T_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			goto badtype;
		break;
	case T_STRING:
		if (type != CONFIG_TYPE_STRING)
			goto badtype;
		str = config_setting_get_string(s);
		if (cfg_choices(t) != NULL && !choice_ok(cfg_choices(t), str))
			cfg_error(ctx, s, "%s: \"%s\" is not one of %s",
			    pattern, str, cfg_choices(t));
		else if (cfg_choices(t) == NULL && (strlen(str) < t->min ||
		    strlen(str) > t->max))
			cfg_error(ctx, s, "%s: length %zu is out of range "
			    "%.0f..%.0f", pattern, strlen(str), t->min, t->max);
		break;
	case T_INTS:
		if (type != CONFIG_TYPE_ARRAY)
			goto badtype;
		for (i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e =
			    config_setting_get_elem(s, (unsigned)i);

			if (config_setting_type(e) != CONFIG_TYPE_INT) {
				cfg_error(ctx, s, "%s: element %d is not an "
				    "integer", pattern, i + 1);
				break;
			}
			v = config_setting_get_int(e);
			if (v < t->min || v > t->max)
				cfg_error(ctx, s, "%s: element %d (%.0f) is "
				    "out of range %.0f..%.0f", pattern, i + 1,
				    v, t->min, t->max);
		}
		if (config_setting_length(s) > 8)
			cfg_error(ctx, s, "%s: more than 8 elements", pattern);
		break;
	case T_STRS:
		if (type != CONFIG_TYPE_ARRAY)
			goto badtype;
		for (i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e =
			    config_setting_get_elem(s, (unsigned)i);

			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				cfg_error(ctx, s, "%s: element %d is not a "
				    "string", pattern, i + 1);
				break;
			}
			str = config_setting_get_string(e);
			if (strlen(str) < t->min || strlen(str) > t->max)
				cfg_error(ctx, s, "%s: element %d: length %zu "
				    "is out of range %.0f..%.0f", pattern,
				    i + 1, strlen(str), t->min, t->max);
		}
		break;
	}
	if (t->roles != 0 && (role = cfg_setting_role(s)) != -1 &&
	    !(t->roles & (1 << role)))
		cfg_error(ctx, s, "%s: not a setting of %s %s node", pattern,
		    cfg_article(roles[role].name), roles[role].name);
	return;
badtype:
	cfg_error(ctx, s, "%s: expected %s %s", pattern,
	    cfg_article(cfg_type_names[t->type]), cfg_type_names[t->type]);
}

/* Pass 1: every setting present is known and well formed. */
static void
cfg_check_tree(struct cfg_ctx *ctx, const config_setting_t *parent)
{
	int	i, n = config_setting_length(parent);

	for (i = 0; i < n; i++) {
		config_setting_t	*s;
		const struct cfg_setting *t;
		char			 pattern[256], path[256];

		s = config_setting_get_elem(parent, (unsigned)i);
		if (config_setting_is_list(parent) &&
		    !config_setting_is_group(s))
			continue;	/* reported with the list */
		cfg_path(s, pattern, sizeof(pattern), 0);
		cfg_path(s, path, sizeof(path), 1);
		if ((t = cfg_find(pattern)) == NULL) {
			cfg_error(ctx, s, "unknown setting \"%s\"", path);
			continue;
		}
		cfg_check_value(ctx, s, t, path);
		if ((t->type == T_GROUP && config_setting_is_group(s)) ||
		    (t->type == T_LIST && config_setting_is_list(s)))
			cfg_check_tree(ctx, s);
	}
}

/* The last path segment of a table entry and the parent pattern. */
static const char *
cfg_leaf(const char *path, char *parent, size_t parentlen)
{
	const char *dot = strrchr(path, '.');

	if (dot == NULL) {
		parent[0] = '\0';
		return path;
	}
	snprintf(parent, parentlen, "%.*s", (int)(dot - path), path);
	return dot + 1;
}

static void
cfg_add_default(config_setting_t *parent, const struct cfg_setting *t,
    const char *leaf)
{
	config_setting_t	*s;

	switch (t->type) {
	case T_INT:
		s = config_setting_add(parent, leaf, CONFIG_TYPE_INT);
		config_setting_set_int(s, atoi(t->def));
		break;
	case T_FLOAT:
		s = config_setting_add(parent, leaf, CONFIG_TYPE_FLOAT);
		config_setting_set_float(s, atof(t->def));
		break;
	case T_BOOL:
		s = config_setting_add(parent, leaf, CONFIG_TYPE_BOOL);
		config_setting_set_bool(s, strcmp(t->def, "true") == 0);
		break;
	case T_STRING:
		s = config_setting_add(parent, leaf, CONFIG_TYPE_STRING);
		config_setting_set_string(s, t->def);
		break;
	case T_INTS:
	case T_STRS:
		config_setting_add(parent, leaf, CONFIG_TYPE_ARRAY);
		break;
	case T_GROUP:
		config_setting_add(parent, leaf, CONFIG_TYPE_GROUP);
		break;
	case T_LIST:
		config_setting_add(parent, leaf, CONFIG_TYPE_LIST);
		break;
	}
}

/*
 * Pass 2, for one table entry: under every instance of its parent, add the
 * default if the setting is missing, or report it if it is required.
 */
static void
cfg_fill_under(struct cfg_ctx *ctx, config_setting_t *s, const char *want,
    const char *cur, const struct cfg_setting *t, const char *leaf)
{
	int	i, n;

	if (strcmp(cur, want) == 0) {
		int role = -1;

		if (!config_setting_is_group(s))
			return;
		if (t->roles != 0) {
			config_setting_t *r = config_setting_get_member(s,
			    "role");
			const char *rs = r ? config_setting_get_string(r) :
			    NULL;

			if (rs != NULL)
				role = role_find(rs);
			if (role == -1 || !(t->roles & (1 << role)))
				return;
		}
		if (config_setting_get_member(s, leaf) != NULL)
			return;
		if (t->flags & F_REQUIRED) {
			char path[256];

			cfg_path(s, path, sizeof(path), 1);
			cfg_error(ctx, s, "%s%s%s: missing", path,
			    path[0] ? "." : "", leaf);
		}
		else if (t->def != NULL || t->type == T_GROUP)
			cfg_add_default(s, t, leaf);
		return;
	}
	if (!config_setting_is_group(s) && !config_setting_is_list(s))
		return;
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		config_setting_t *c = config_setting_get_elem(s, (unsigned)i);
		char		  pat[256];

		cfg_path(c, pat, sizeof(pat), 0);
		if (strncmp(want, pat, strlen(pat)) == 0 &&
		    (want[strlen(pat)] == '.' || want[strlen(pat)] == '\0'))
			cfg_fill_under(ctx, c, want, pat, t, leaf);
	}
}

/* Is path the setting one or under it? */
static int
cfg_under(const char *path, const char *one)
{
	size_t	n = strlen(one);

	return strncmp(path, one, n) == 0 && (path[n] == '\0' ||
	    path[n] == '.');
}

/*
 * Defaults.  The peripheral group is a default only in a lab without a
 * peripherals list; the agents of each peripheral of the list take the
 * defaults of peripheral.agents.
 */
static void
cfg_fill_defaults(struct cfg_ctx *ctx, config_t *c)
{
	int	list = config_lookup(c, "peripherals") != NULL;
	size_t	i, n = strlen(CFG_ONE_AGENTS);

	for (i = 0; i < NSETTINGS; i++) {
		char		 parent[256];
		const char	*leaf = cfg_leaf(settings[i].path, parent,
		    sizeof(parent));

		if (strcmp(leaf, "*") == 0 || strcmp(leaf, "[]") == 0 ||
		    (list && cfg_under(settings[i].path, "peripheral")))
			continue;
		cfg_fill_under(ctx, config_root_setting(c), parent, "",
		    &settings[i], leaf);
	}
	for (i = 0; list && i < NSETTINGS; i++) {
		char		 parent[256], alias[256];
		const char	*leaf = cfg_leaf(settings[i].path, parent,
		    sizeof(parent));

		if (strncmp(settings[i].path, CFG_ONE_AGENTS, n) != 0 ||
		    strcmp(leaf, "[]") == 0)
			continue;
		if (strlen(parent) >= n)
			snprintf(alias, sizeof(alias), "%s%s", CFG_LIST_AGENTS,
			    parent + n);
		else
			snprintf(alias, sizeof(alias), "%.*s", (int)strlen(
			    CFG_LIST_AGENTS) - 1, CFG_LIST_AGENTS);
		cfg_fill_under(ctx, config_root_setting(c), alias, "",
		    &settings[i], leaf);
	}
}

static const char *
cfg_str(const config_setting_t *s, const char *name)
{
	const char *v = NULL;

	config_setting_lookup_string(s, name, &v);
	return v ? v : "";
}

static int
cfg_int(const config_setting_t *s, const char *name)
{
	int	v = 0;

	config_setting_lookup_int(s, name, &v);
	return v;
}

static double
cfg_float(const config_setting_t *s, const char *name)
{
	double		 v = 0;
	long long	 ll;

	if (config_setting_lookup_float(s, name, &v) == CONFIG_TRUE)
		return v;
	if (config_setting_lookup_int64(s, name, &ll) == CONFIG_TRUE)
		return (double)ll;
	return 0;
}

static int
cfg_ints(const config_setting_t *s, const char *name, int *out, int max)
{
	config_setting_t *a = config_setting_get_member(s, name);
	int		  i, n = a ? config_setting_length(a) : 0;

	for (i = 0; i < n && i < max; i++)
		out[i] = config_setting_get_int_elem(a, i);
	return i < max ? i : max;
}

static int
cfg_agent_state(const char *s)
{
	if (strcmp(s, "logout") == 0)
		return 1;
	if (strcmp(s, "not_ready") == 0)
		return 2;
	return 3;
}

/* A boolean that the defaults pass filled in. */
static int
cfg_bool(const config_setting_t *s, const char *name)
{
	int	v = 0;

	config_setting_lookup_bool(s, name, &v);
	return v;
}

/* The agents of a peripheral from its agents group. */
static void
cfg_build_agents(const config_setting_t *ag, struct cfg_periph *p)
{
	config_setting_t	*list, *s;
	int			 i, n, count, first;

	count = cfg_int(ag, "count");
	first = cfg_int(ag, "first_id");
	list = config_setting_get_member(ag, "list");
	n = list ? config_setting_length(list) : 0;
	p->agents = xcalloc((size_t)(count + n), sizeof(*p->agents));
	for (i = 0; i < n; i++) {
		struct cfg_agent *a = &p->agents[p->nagents++];

		s = config_setting_get_elem(list, (unsigned)i);
		a->id = cfg_int(s, "id");
		snprintf(a->name, sizeof(a->name), "%s", cfg_str(s, "name"));
		snprintf(a->extension, sizeof(a->extension), "%s",
		    cfg_str(s, "extension"));
		a->nskill_groups = cfg_ints(s, "skill_groups", a->skill_groups,
		    8);
		a->initial_state = cfg_agent_state(cfg_str(s, "state"));
		a->desktop = cfg_bool(s, "desktop");
		a->nmrds = cfg_ints(s, "mrds", a->mrds, CFG_AGENT_MRDS);
	}
	for (i = 0; i < count; i++) {
		struct cfg_agent *a = &p->agents[p->nagents++];

		a->id = first + i;
		a->nskill_groups = cfg_ints(ag, "skill_groups", a->skill_groups,
		    8);
		a->initial_state = cfg_agent_state(cfg_str(ag, "state"));
		a->desktop = cfg_bool(ag, "desktops");
		a->nmrds = cfg_ints(ag, "mrds", a->mrds, CFG_AGENT_MRDS);
	}
	for (i = 0; i < p->nagents; i++) {
		struct cfg_agent *a = &p->agents[i];

		if (a->name[0] == '\0')
			snprintf(a->name, sizeof(a->name), "agent%d", a->id);
		if (a->extension[0] == '\0')
			snprintf(a->extension, sizeof(a->extension), "%d",
			    a->id);
	}
}

/*
 * The peripherals: the peripheral group or the peripherals list.  An ACD
 * left out is the lab's only acd node; sides left out, its two pg nodes.
 */
static void
cfg_build_periphs(config_t *c, struct cfg *cf)
{
	config_setting_t	*list = config_lookup(c, "peripherals");
	config_setting_t	*s, *sides;
	const struct cfg_node	*acd = NULL, *pg;
	int			 i, j, nacd = 0;

	for (i = 0; i < cf->nnodes; i++)
		if (cf->nodes[i].role == ROLE_ACD && nacd++ == 0)
			acd = &cf->nodes[i];
	cf->nperiphs = list != NULL ? config_setting_length(list) : 1;
	cf->periphs = xcalloc((size_t)cf->nperiphs + 1, sizeof(*cf->periphs));
	for (i = 0; i < cf->nperiphs; i++) {
		struct cfg_periph *p = &cf->periphs[i];
		const char	  *v;

		s = list != NULL ? config_setting_get_elem(list, (unsigned)i) :
		    config_lookup(c, "peripheral");
		p->id = cfg_int(s, "id");
		snprintf(p->name, sizeof(p->name), "%s", cfg_str(s, "name"));
		if (p->name[0] == '\0')
			snprintf(p->name, sizeof(p->name), "PERIPHERAL%d",
			    p->id);
		v = cfg_str(s, "type");
		for (j = 0; j < PT_MAX; j++)
			if (strcmp(v, periph_type_names[j]) == 0)
				p->type = (enum periph_type)j;
		v = cfg_str(s, "acd");
		snprintf(p->acd, sizeof(p->acd), "%s", v[0] != '\0' ? v :
		    nacd == 1 ? acd->name : "");
		sides = config_setting_get_member(s, "sides");
		for (j = 0; j < 2; j++) {
			if (sides != NULL && config_setting_length(sides) > 0)
				v = j < config_setting_length(sides) ?
				    config_setting_get_string_elem(sides, j) :
				    "";
			else
				v = (pg = cfg_node_role(cf, ROLE_PG, j == 0 ?
				    'A' : 'B')) != NULL ? pg->name : "";
			snprintf(p->sides[j], sizeof(p->sides[j]), "%s", v);
		}
		cfg_build_agents(config_setting_get_member(s, "agents"), p);
	}
	cf->peripheral_id = cf->periphs[0].id;
	snprintf(cf->peripheral_name, sizeof(cf->peripheral_name), "%s",
	    cf->periphs[0].name);
	cf->agents = cf->periphs[0].agents;
	cf->nagents = cf->periphs[0].nagents;
}

/* Build the struct from a checked, filled tree. */
/* The hooks: each event a bit of rule_events, its nodes by name. */
/* Media routing: the app node's MR peripheral, routes and traffic. */
static void
cfg_build_mr(config_t *c, struct cfg *cf)
{
	struct cfg_mr		*mr = &cf->mr;
	config_setting_t	*s = config_lookup(c, "media_routing"), *list;
	const struct cfg_node	*app = cfg_node_role(cf, ROLE_APP, 0);
	int			 i, n;

	mr->enabled = app != NULL;
	if (app != NULL)
		snprintf(mr->app, sizeof(mr->app), "%s", app->name);
	mr->peripheral = cfg_int(s, "peripheral");
	snprintf(mr->name, sizeof(mr->name), "%s", cfg_str(s, "name"));
	mr->agent_periph = cfg_int(s, "agent_peripheral");
	if (mr->agent_periph == 0 && cf->nperiphs > 0)
		mr->agent_periph = cf->periphs[0].id;
	mr->path = cfg_int(s, "application_path");
	list = config_setting_get_member(s, "routes");
	n = list != NULL ? config_setting_length(list) : 0;
	mr->routes = xcalloc((size_t)(n > 0 ? n : cf->nmrds) + 1,
	    sizeof(*mr->routes));
	for (i = 0; i < n; i++) {
		struct cfg_route	*r = &mr->routes[mr->nroutes++];
		config_setting_t	*e = config_setting_get_elem(list,
		    (unsigned)i);

		snprintf(r->selector, sizeof(r->selector), "%s",
		    cfg_str(e, "selector"));
		r->mrd = cfg_int(e, "mrd");
		r->skill_group = cfg_int(e, "skill_group");
	}
	for (i = 0; n == 0 && i < cf->nmrds; i++) {
		struct cfg_route	*r;

		if (strcmp(cf->mrds[i].media, "voice") == 0)
			continue;
		r = &mr->routes[mr->nroutes++];
		snprintf(r->selector, sizeof(r->selector), "%s",
		    cf->mrds[i].name);
		r->mrd = cf->mrds[i].id;
	}
	s = config_setting_get_member(s, "traffic");
	config_setting_lookup_bool(s, "enabled", &mr->traffic.enabled);
	mr->traffic.tasks_per_second = cfg_float(s, "tasks_per_second");
	mr->traffic.handle_time_ms = cfg_int(s, "handle_time_ms");
	mr->traffic.offer_ms = cfg_int(s, "offer_ms");
	mr->traffic.seed = (unsigned int)cfg_int(s, "seed");
}

static config_setting_t *cfg_given(config_setting_t *, const char *);

/* Media routing: one app node, routes to non-voice MRDs, ids unique. */
static void
cfg_check_mr(struct cfg_ctx *ctx, config_t *c, const struct cfg *cf,
    int napps)
{
	const struct cfg_mr	*mr = &cf->mr;
	config_setting_t	*s = config_lookup(c, "media_routing");
	config_setting_t	*list = config_setting_get_member(s, "routes");
	int			 i, j;

	if (napps > 1)
		cfg_error(ctx, config_lookup(c, "nodes"), "nodes: %d app "
		    "nodes, at most 1", napps);
	if (!mr->enabled)
		return;
	if (cfg_periph(cf, (uint32_t)mr->peripheral) != NULL)
		cfg_error(ctx, cfg_given(s, "peripheral"), "media_routing."
		    "peripheral: %d is the id of a voice peripheral too",
		    mr->peripheral);
	if (cfg_periph(cf, (uint32_t)mr->agent_periph) == NULL)
		cfg_error(ctx, cfg_given(s, "agent_peripheral"),
		    "media_routing.agent_peripheral: no peripheral %d",
		    mr->agent_periph);
	if (mr->nroutes == 0)
		cfg_error(ctx, s, "media_routing.routes: none, and the lab "
		    "has no non-voice MRD to route to");
	for (i = 0; i < mr->nroutes; i++) {
		const struct cfg_route	*r = &mr->routes[i];
		const struct cfg_mrd	*m = cfg_mrd(cf, r->mrd);
		config_setting_t	*e = list != NULL ?
		    config_setting_get_elem(list, (unsigned)i) : s;

		if (m == NULL)
			cfg_error(ctx, e, "media_routing.routes: selector "
			    "\"%s\": no MRD %d in mrds", r->selector, r->mrd);
		else if (strcmp(m->media, "voice") == 0)
			cfg_error(ctx, e, "media_routing.routes: selector "
			    "\"%s\": MRD %d is a voice MRD (the MR PIM routes "
			    "non-voice tasks)", r->selector, r->mrd);
		for (j = 0; j < i; j++)
			if (strcmp(mr->routes[j].selector, r->selector) == 0)
				cfg_error(ctx, e, "media_routing.routes: "
				    "selector \"%s\" appears twice",
				    r->selector);
	}
}

static void
cfg_build_hooks(config_t *c, struct cfg *cf)
{
	config_setting_t	*list = config_lookup(c, "hooks"), *s, *a;
	const struct rule_event	*re;
	int			 i, j, n;

	n = list != NULL ? config_setting_length(list) : 0;
	cf->hooks = xcalloc((size_t)n, sizeof(*cf->hooks));
	for (i = 0; i < n; i++) {
		struct cfg_hook *h = &cf->hooks[cf->nhooks++];

		s = config_setting_get_elem(list, (unsigned)i);
		snprintf(h->program, sizeof(h->program), "%s",
		    cfg_str(s, "program"));
		h->timeout_ms = cfg_int(s, "timeout_ms");
		a = config_setting_get_member(s, "events");
		for (j = 0; j < config_setting_length(a); j++)
			if ((re = rule_event(config_setting_get_string_elem(a,
			    (unsigned)j))) != NULL)
				h->events |= UINT64_C(1) <<
				    (re - rule_events);
		a = config_setting_get_member(s, "nodes");
		h->nnodes = config_setting_length(a);
		h->nodes = xcalloc((size_t)h->nnodes + 1, sizeof(*h->nodes));
		for (j = 0; j < h->nnodes; j++)
			snprintf(h->nodes[j], sizeof(h->nodes[j]), "%s",
			    config_setting_get_string_elem(a, (unsigned)j));
	}
}

/*
 * The hooks: the program an absolute path, every event one of the
 * rules table, every node one of the lab.
 */
static void
cfg_check_hooks(struct cfg_ctx *ctx, config_t *c, const struct cfg *cf)
{
	config_setting_t	*list = config_lookup(c, "hooks"), *s, *a;
	const char		*str;
	int			 i, j;

	for (i = 0; i < cf->nhooks; i++) {
		s = config_setting_get_elem(list, (unsigned)i);
		if (cf->hooks[i].program[0] != '/')
			cfg_error(ctx, config_setting_get_member(s, "program"),
			    "hooks.[].program: \"%s\" is not an absolute path",
			    cf->hooks[i].program);
		a = config_setting_get_member(s, "events");
		if (config_setting_length(a) == 0)
			cfg_error(ctx, a, "hooks.[].events: no event");
		for (j = 0; j < config_setting_length(a); j++) {
			str = config_setting_get_string_elem(a, (unsigned)j);
			if (rule_event(str) == NULL)
				cfg_error(ctx, a, "hooks.[].events: \"%s\" is "
				    "not an event (pgemu-failover(7) lists "
				    "them)", str);
		}
		for (j = 0; j < cf->hooks[i].nnodes; j++)
			if (cfg_node(cf, cf->hooks[i].nodes[j]) == NULL)
				cfg_error(ctx, config_setting_get_member(s,
				    "nodes"), "hooks.[].nodes: no node \"%s\" "
				    "in the lab", cf->hooks[i].nodes[j]);
	}
}

static struct cfg *
cfg_build(config_t *c, const char *file)
{
	struct cfg		*cf = xcalloc(1, sizeof(*cf));
	config_setting_t	*root = config_root_setting(c);
	config_setting_t	*s, *nodes, *list;
	int			 i, n;

	snprintf(cf->file, sizeof(cf->file), "%s", file);
	s = config_setting_get_member(root, "lab");
	snprintf(cf->lab_name, sizeof(cf->lab_name), "%s", cfg_str(s, "name"));
	snprintf(cf->control_dir, sizeof(cf->control_dir), "%s",
	    cfg_str(s, "control_dir"));
	snprintf(cf->state_dir, sizeof(cf->state_dir), "%s",
	    cfg_str(s, "state_dir"));
	if (cfg_str(s, "history_db")[0] == '/')
		snprintf(cf->history_db, sizeof(cf->history_db), "%s",
		    cfg_str(s, "history_db"));
	else
		snprintf(cf->history_db, sizeof(cf->history_db), "%s/%s",
		    cf->state_dir, cfg_str(s, "history_db"));
	if (cfg_str(s, "key_file")[0] == '\0' ||
	    cfg_str(s, "key_file")[0] == '/')
		snprintf(cf->key_file, sizeof(cf->key_file), "%s",
		    cfg_str(s, "key_file"));
	else
		snprintf(cf->key_file, sizeof(cf->key_file), "%s/%s",
		    cf->state_dir, cfg_str(s, "key_file"));
	cf->interval_s = cfg_int(s, "interval");
	cf->max_message = cfg_int(s, "max_message");
	cf->max_pending = cfg_int(s, "max_pending");
	cf->max_output = cfg_int(s, "max_output");
	cf->log_rate = cfg_int(s, "log_rate");
	cf->snapshot_batch = cfg_int(s, "snapshot_batch");

	s = config_lookup(c, "heartbeat.private");
	cf->hb_private.interval_ms = cfg_int(s, "interval_ms");
	cf->hb_private.misses = cfg_int(s, "misses");
	s = config_lookup(c, "heartbeat.router");
	cf->hb_router.interval_ms = cfg_int(s, "interval_ms");
	cf->hb_router.misses = cfg_int(s, "misses");
	s = config_lookup(c, "heartbeat.acd");
	cf->hb_acd.interval_ms = cfg_int(s, "interval_ms");
	cf->hb_acd.misses = cfg_int(s, "misses");
	s = config_lookup(c, "heartbeat.desktop");
	cf->hb_desktop.interval_ms = cfg_int(s, "interval_ms");
	cf->hb_desktop.misses = cfg_int(s, "misses");
	s = config_lookup(c, "heartbeat.cti");
	cf->hb_cti.interval_ms = cfg_int(s, "interval_ms");
	cf->hb_cti.misses = cfg_int(s, "misses");
	s = config_lookup(c, "heartbeat.mr");
	cf->hb_mr.interval_ms = cfg_int(s, "interval_ms");
	cf->hb_mr.misses = cfg_int(s, "misses");
	s = config_lookup(c, "reconnect");
	cf->backoff_min_ms = cfg_int(s, "min_ms");
	cf->backoff_max_ms = cfg_int(s, "max_ms");
	cf->backoff_stable_ms = cfg_int(s, "stable_ms");
	s = config_lookup(c, "control");
	cf->ctl_max_clients = cfg_int(s, "max_clients");
	cf->ctl_idle_ms = cfg_int(s, "idle_ms");
	s = config_lookup(c, "cti");
	cf->cti_max_sessions = cfg_int(s, "max_sessions");
	cf->cti_idle_scale_ms = cfg_int(s, "idle_scale_ms");
	cf->cti_open_timeout_ms = cfg_int(s, "open_timeout_ms");
	cf->cti_task_cache = cfg_int(s, "task_cache");
	snprintf(cf->cti_password, sizeof(cf->cti_password), "%s",
	    cfg_str(s, "client_password"));

	nodes = config_lookup(c, "nodes");
	cf->nnodes = config_setting_length(nodes);
	cf->nodes = xcalloc((size_t)cf->nnodes, sizeof(*cf->nodes));
	for (i = 0; i < cf->nnodes; i++) {
		struct cfg_node	*nd = &cf->nodes[i];

		s = config_setting_get_elem(nodes, (unsigned)i);
		snprintf(nd->name, sizeof(nd->name), "%s",
		    config_setting_name(s));
		nd->role = (enum node_role)role_find(cfg_str(s, "role"));
		snprintf(nd->address, sizeof(nd->address), "%s",
		    cfg_str(s, "address"));
		nd->port = cfg_int(s, "port");
		nd->backup_port = cfg_int(s, "backup_port");
		nd->side = cfg_str(s, "side")[0];
		nd->cti_port = cfg_int(s, "cti_port");
		if (nd->role == ROLE_PG && nd->cti_port == 0)
			nd->cti_port = nd->side == 'B' ? CTI_PORT_B :
			    CTI_PORT_A;
	}

	cfg_build_periphs(c, cf);

	list = config_lookup(c, "mrds");
	n = list ? config_setting_length(list) : 0;
	cf->mrds = xcalloc((size_t)n, sizeof(*cf->mrds));
	for (i = 0; i < n; i++) {
		struct cfg_mrd *m = &cf->mrds[cf->nmrds++];

		s = config_setting_get_elem(list, (unsigned)i);
		m->id = cfg_int(s, "id");
		snprintf(m->name, sizeof(m->name), "%s", cfg_str(s, "name"));
		snprintf(m->media, sizeof(m->media), "%s", cfg_str(s, "media"));
		m->task_life = cfg_int(s, "task_life");
		m->task_start_timeout = cfg_int(s, "task_start_timeout");
		m->max_task_duration = cfg_int(s, "max_task_duration");
		m->max_tasks = cfg_int(s, "max_tasks");
		config_setting_lookup_bool(s, "interruptible",
		    &m->interruptible);
		m->max_tasks_in_queue = cfg_int(s, "max_tasks_in_queue");
		m->max_time_in_queue = cfg_int(s, "max_time_in_queue");
	}
	cf->voice_mrd = 1;
	for (i = cf->nmrds - 1; i >= 0; i--)
		if (strcmp(cf->mrds[i].media, "voice") == 0)
			cf->voice_mrd = cf->mrds[i].id;

	s = config_lookup(c, "traffic");
	config_setting_lookup_bool(s, "enabled", &cf->traffic.enabled);
	cf->traffic.calls_per_second = cfg_float(s, "calls_per_second");
	cf->traffic.handle_time_ms = cfg_int(s, "handle_time_ms");
	cf->traffic.wrapup_time_ms = cfg_int(s, "wrapup_time_ms");
	cf->traffic.not_ready_share = cfg_float(s, "not_ready_share");
	cf->traffic.seed = (unsigned int)cfg_int(s, "seed");
	cfg_build_mr(c, cf);
	cfg_build_hooks(c, cf);
	return cf;
}

struct cfg_agent_key {
	int	id;
	int	pos;		/* peripheral index << 20 | agent index */
};

/* Agent keys by id, then by position. */
static int
cfg_agent_cmp(const void *a, const void *b)
{
	const struct cfg_agent_key *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * The first agent whose id an earlier agent has, or -1.  Sorted, not
 * pairwise: 100000 generated agents took seconds.
 */
static int
cfg_dup_agent(const struct cfg *cf, int *first)
{
	struct cfg_agent_key	*k;
	int			 i, j, n = 0, dup = -1;

	for (i = 0; i < cf->nperiphs; i++)
		n += cf->periphs[i].nagents;
	if (n < 2)
		return -1;
	k = xcalloc((size_t)n, sizeof(*k));
	for (i = n = 0; i < cf->nperiphs; i++)
		for (j = 0; j < cf->periphs[i].nagents; j++) {
			k[n].id = cf->periphs[i].agents[j].id;
			k[n++].pos = i << 20 | j;
		}
	qsort(k, (size_t)n, sizeof(*k), cfg_agent_cmp);
	for (i = 1; i < n; i++)
		if (k[i].id == k[i - 1].id && (dup == -1 || k[i].pos < dup)) {
			dup = k[i].pos;
			*first = k[i - 1].pos;
		}
	free(k);
	return dup;
}

/* The setting of peripheral i, or its group, for an error's line. */
static config_setting_t *
cfg_periph_setting(config_t *c, int i, const char *name)
{
	config_setting_t	*list = config_lookup(c, "peripherals"), *s;

	s = list != NULL ? config_setting_get_elem(list, (unsigned)i) :
	    config_lookup(c, "peripheral");
	if (s != NULL && name != NULL &&
	    config_setting_get_member(s, name) != NULL)
		return config_setting_get_member(s, name);
	return s != NULL ? s : list;
}

/*
 * The peripherals: ids unique, each acd node serves exactly one, sides
 * one pg node of side A and one of side B, agent ids unique in the lab.
 */
/* Is id an MRD of the lab (the voice MRD 1 of a lab that lists none)? */
static int
cfg_mrd_known(const struct cfg *cf, int id)
{
	int	i;

	if (cf->nmrds == 0)
		return id == cf->voice_mrd;
	for (i = 0; i < cf->nmrds; i++)
		if (cf->mrds[i].id == id)
			return 1;
	return 0;
}

/* The MRDs a peripheral's desktops sign in to are MRDs of the lab. */
static void
cfg_check_agent_mrds(struct cfg_ctx *ctx, config_t *c, const struct cfg *cf,
    int pi)
{
	const struct cfg_periph	*p = &cf->periphs[pi];
	int			 i, k;

	for (i = 0; i < p->nagents; i++)
		for (k = 0; k < p->agents[i].nmrds; k++) {
			if (cfg_mrd_known(cf, p->agents[i].mrds[k]))
				continue;
			cfg_error(ctx, cfg_periph_setting(c, pi, "agents"),
			    "%s.agents: agent %d: MRD %d is not one of mrds",
			    config_lookup(c, "peripherals") != NULL ?
			    "peripherals.[]" : "peripheral",
			    p->agents[i].id, p->agents[i].mrds[k]);
			return;
		}
}

static void
cfg_check_periphs(struct cfg_ctx *ctx, config_t *c, const struct cfg *cf)
{
	const char	 *what = config_lookup(c, "peripherals") != NULL ?
	    "peripherals" : "peripheral";
	config_setting_t *sides;
	int		  i, j, nacd, given;

	if (cf->nperiphs == 0)
		cfg_error(ctx, config_lookup(c, "peripherals"), "peripherals: "
		    "no peripheral");
	for (i = 0; i < cf->nperiphs; i++) {
		const struct cfg_periph	*p = &cf->periphs[i];
		const struct cfg_node	*n;

		for (j = 0; j < i; j++)
			if (cf->periphs[j].id == p->id)
				cfg_error(ctx, cfg_periph_setting(c, i, "id"),
				    "%s: peripheral id %d appears twice", what,
				    p->id);
		n = cfg_node(cf, p->acd);
		if (p->acd[0] == '\0' && cfg_node_role(cf, ROLE_ACD, 0) != NULL)
			cfg_error(ctx, cfg_periph_setting(c, i, NULL),
			    "%s: peripheral %d: acd missing (the lab has "
			    "several acd nodes)", what, p->id);
		else if (p->acd[0] == '\0' && config_lookup(c, "peripherals")
		    != NULL)	/* else "0 acd nodes, expected 1" says it */
			cfg_error(ctx, cfg_periph_setting(c, i, NULL),
			    "%s: peripheral %d: no acd node serves it (the lab "
			    "has none)", what, p->id);
		else if (p->acd[0] != '\0' && (n == NULL ||
		    n->role != ROLE_ACD))
			cfg_error(ctx, cfg_periph_setting(c, i, "acd"),
			    "%s: peripheral %d: \"%s\" is not an acd node",
			    what, p->id, p->acd);
		for (j = 0; j < i && p->acd[0] != '\0'; j++)
			if (strcmp(cf->periphs[j].acd, p->acd) == 0)
				cfg_error(ctx, cfg_periph_setting(c, i, "acd"),
				    "%s: acd node %s serves peripheral %d "
				    "already", what, p->acd, cf->periphs[j].id);
		sides = cfg_periph_setting(c, i, "sides");
		given = config_setting_is_array(sides) ?
		    config_setting_length(sides) : 0;
		if (given != 0 && given != 2)
			cfg_error(ctx, sides, "%s: peripheral %d: sides: %d pg "
			    "nodes, expected 2 (side A, then side B)", what,
			    p->id, given);
		for (j = 0; j < 2 && (given == 2 || given == 0); j++) {
			n = cfg_node(cf, p->sides[j]);
			if (given == 0 && p->sides[j][0] == '\0')
				continue;	/* no such pg node: said above */
			if (n == NULL || n->role != ROLE_PG ||
			    n->side != (j == 0 ? 'A' : 'B'))
				cfg_error(ctx, sides, "%s: peripheral %d: "
				    "sides must be a pg node of side A, then "
				    "one of side B (\"%s\")", what, p->id,
				    p->sides[j]);
		}
	}
	/*
	 * Agent ids are unique in the lab, not only in a peripheral: they are
	 * the SkillTargetID of the history database's rows (Agent_Interval's
	 * key), and two agents with one id would store one row for both.
	 */
	if ((j = cfg_dup_agent(cf, &i)) != -1) {
		const struct cfg_periph *p = &cf->periphs[j >> 20];
		int			 id = p->agents[j & 0xfffff].id;

		if (i >> 20 == j >> 20)
			cfg_error(ctx, cfg_periph_setting(c, j >> 20, "agents"),
			    "%s.agents: agent id %d appears twice",
			    config_lookup(c, "peripherals") != NULL ?
			    "peripherals.[]" : "peripheral", id);
		else
			cfg_error(ctx, cfg_periph_setting(c, j >> 20, "agents"),
			    "peripherals.[].agents: agent id %d is an agent of "
			    "peripheral %d too: agent ids are unique in the lab "
			    "(the SkillTargetID of its history)", id,
			    cf->periphs[i >> 20].id);
	}
	for (j = 0; j < cf->nperiphs; j++)
		cfg_check_agent_mrds(ctx, c, cf, j);
	for (i = 0; i < cf->nnodes; i++) {
		if (cf->nodes[i].role != ROLE_ACD)
			continue;
		for (j = nacd = 0; j < cf->nperiphs; j++)
			nacd += strcmp(cf->periphs[j].acd,
			    cf->nodes[i].name) == 0;
		if (nacd == 0)
			cfg_error(ctx, config_setting_get_member(config_lookup(
			    c, "nodes"), cf->nodes[i].name), "nodes.%s: "
			    "an acd node that serves no peripheral",
			    cf->nodes[i].name);
	}
}

/*
 * The desktop servers and the desktops: at most one desk per side, at
 * most one agents node, and desktops need a primary desktop server.
 */
static void
cfg_check_desks(struct cfg_ctx *ctx, config_setting_t *nodes,
    const struct cfg *cf, const int *nrole, const int *desks)
{
	const struct cfg_node	*ag = cfg_node_role(cf, ROLE_AGENTS, 0);
	const struct cfg_node	*da = cfg_node_role(cf, ROLE_DESK, 'A');
	const struct cfg_node	*db = cfg_node_role(cf, ROLE_DESK, 'B');
	config_setting_t	*s = nodes;
	int			 i;

	for (i = 0; i < 2; i++)
		if (desks[i] > 1)
			cfg_error(ctx, nodes, "nodes: %d desk nodes of side %c, "
			    "at most 1", desks[i], i ? 'B' : 'A');
	if (nrole[ROLE_AGENTS] > 1)
		cfg_error(ctx, nodes, "nodes: %d agents nodes, at most 1",
		    nrole[ROLE_AGENTS]);
	if (ag != NULL && desks[0] == 0) {
		if (config_setting_get_member(nodes, ag->name) != NULL)
			s = config_setting_get_member(nodes, ag->name);
		cfg_error(ctx, s, "nodes.%s: an agents node needs a desk node "
		    "of side A (the desktops' primary server)", ag->name);
	}
	/* A desktop tries the backup on the primary's address. */
	if (da != NULL && db != NULL && strcmp(da->address, db->address) != 0)
		cfg_error(ctx, config_setting_get_member(config_setting_get_member(
		    nodes, db->name), "address"), "nodes.%s.address: \"%s\", "
		    "not the address of desk node %s (\"%s\"): the desktops "
		    "reach both desktop servers at one address", db->name,
		    db->address, da->name, da->address);
}

/* A member as the file gives it, or its group when it is a default. */
static config_setting_t *
cfg_given(config_setting_t *s, const char *name)
{
	config_setting_t	*m = config_setting_get_member(s, name);

	return m != NULL && config_setting_source_line(m) != 0 ? m : s;
}

/* Pass 3: what spans settings. */
static void
cfg_check_lab(struct cfg_ctx *ctx, config_t *c, const struct cfg *cf)
{
	config_setting_t *nodes = config_lookup(c, "nodes");
	config_setting_t *list;
	int		  i, j, nrole[ROLE_MAX] = { 0 }, sides[2] = { 0 };
	int		  desks[2] = { 0 };
	unsigned char	  addr[16];

	for (i = 0; i < cf->nnodes; i++) {
		const struct cfg_node	*a = &cf->nodes[i];
		config_setting_t	*s = config_setting_get_elem(nodes,
		    (unsigned)i);

		nrole[a->role]++;
		if (a->role == ROLE_PG)
			sides[a->side == 'B']++;
		if (a->role == ROLE_DESK)
			desks[a->side == 'B']++;
		if (a->port == 0 && a->role != ROLE_AGENTS)
			cfg_error(ctx, s, "nodes.%s.port: missing", a->name);
		if (inet_pton(AF_INET, a->address, addr) != 1 &&
		    inet_pton(AF_INET6, a->address, addr) != 1)
			cfg_error(ctx, config_setting_get_member(s, "address"),
			    "nodes.%s.address: \"%s\" is not an IPv4 or IPv6 "
			    "address", a->name, a->address);
		if (strlen(config_setting_name(s)) > PGEMU_NAME_MAX - 1)
			cfg_error(ctx, s, "nodes.%s: node name longer than %d",
			    config_setting_name(s), PGEMU_NAME_MAX - 1);
		for (j = 0; j < i && a->port != 0; j++)
			if (cf->nodes[j].port == a->port &&
			    strcmp(cf->nodes[j].address, a->address) == 0)
				cfg_error(ctx, config_setting_get_member(s,
				    "port"), "nodes.%s.port: %s port %d is "
				    "already used by node %s", a->name,
				    a->address, a->port, cf->nodes[j].name);
		for (j = 0; j < cf->nnodes && a->cti_port != 0; j++)
			if ((cf->nodes[j].port == a->cti_port ||
			    cf->nodes[j].backup_port == a->cti_port ||
			    (j < i && cf->nodes[j].cti_port ==
			    a->cti_port)) &&
			    strcmp(cf->nodes[j].address, a->address) == 0)
				cfg_error(ctx, cfg_given(s, "cti_port"),
				    "nodes.%s.cti_port: %s "
				    "port %d is already used by node %s",
				    a->name, a->address, a->cti_port,
				    cf->nodes[j].name);
		for (j = 0; j < cf->nnodes && a->backup_port != 0; j++)
			if ((cf->nodes[j].port == a->backup_port ||
			    (j != i && cf->nodes[j].backup_port ==
			    a->backup_port)) &&
			    strcmp(cf->nodes[j].address, a->address) == 0)
				cfg_error(ctx, config_setting_get_member(s,
				    "backup_port"), "nodes.%s.backup_port: %s "
				    "port %d is already used by node %s",
				    a->name, a->address, a->backup_port,
				    cf->nodes[j].name);
	}
	if (nrole[ROLE_ROUTER] != 1)
		cfg_error(ctx, nodes, "nodes: %d router nodes, expected 1",
		    nrole[ROLE_ROUTER]);
	if (nrole[ROLE_ACD] != 1 && config_lookup(c, "peripherals") == NULL)
		cfg_error(ctx, nodes, "nodes: %d acd nodes, expected 1",
		    nrole[ROLE_ACD]);
	if (sides[0] != 1 || sides[1] != 1)
		cfg_error(ctx, nodes, "nodes: a duplex PG needs one pg node "
		    "with side A and one with side B (found %d A, %d B)",
		    sides[0], sides[1]);
	cfg_check_desks(ctx, nodes, cf, nrole, desks);
	cfg_check_periphs(ctx, c, cf);
	cfg_check_mr(ctx, c, cf, nrole[ROLE_APP]);
	list = config_lookup(c, "mrds");
	for (i = 0; i < cf->nmrds; i++)
		for (j = 0; j < i; j++)
			if (cf->mrds[i].id == cf->mrds[j].id)
				cfg_error(ctx, config_setting_get_elem(list,
				    (unsigned)i), "mrds: MRD id %d appears "
				    "twice", cf->mrds[i].id);
	if (strlen(cf->history_db) >= sizeof(cf->history_db) - 1)
		cfg_error(ctx, config_lookup(c, "lab.history_db"),
		    "lab.history_db: the path under lab.state_dir is longer "
		    "than %zu", sizeof(cf->history_db) - 2);
	if (12 + MSG_AGENT_LEN * cf->snapshot_batch > cf->max_message)
		cfg_error(ctx, config_lookup(c, "lab"), "lab.max_message: %d "
		    "bytes cannot carry a snapshot batch of %d agents (lab."
		    "snapshot_batch: %d bytes)", cf->max_message,
		    cf->snapshot_batch, 12 + MSG_AGENT_LEN * cf->snapshot_batch);
	for (i = 0; cf->lab_name[i] != '\0'; i++)
		if ((unsigned char)cf->lab_name[i] < 0x20 ||
		    (unsigned char)cf->lab_name[i] > 0x7e) {
			cfg_error(ctx, config_lookup(c, "lab.name"), "lab.name: "
			    "\"%s\" is not printable ASCII (it goes in every "
			    "HELLO)", cf->lab_name);
			break;
		}
	if (cf->backoff_min_ms > cf->backoff_max_ms)
		cfg_error(ctx, config_lookup(c, "reconnect"), "reconnect: "
		    "min_ms %d is over max_ms %d", cf->backoff_min_ms,
		    cf->backoff_max_ms);
}

/*
 * The kernel's ephemeral port range (path: NULL for /proc's); 32768-60999,
 * Linux's default, and -1 if it cannot be read.
 */
int
cfg_ephemeral_ports(const char *path, int *lo, int *hi)
{
	FILE	*f;
	int	 ok = 0;

	if (path == NULL)
		path = "/proc/sys/net/ipv4/ip_local_port_range";
	if ((f = fopen(path, "r")) != NULL) {
		ok = fscanf(f, "%d %d", lo, hi) == 2 && *lo >= 1 &&
		    *lo <= *hi && *hi <= 65535;
		fclose(f);
	}
	if (!ok) {
		*lo = 32768;
		*hi = 60999;
	}
	return ok ? 0 : -1;
}

/*
 * The lab's files and sockets: absolute directories (history_db may be
 * relative to state_dir), control sockets that fit a UNIX socket path;
 * with --check-config, a warning for each port the kernel may give to an
 * outgoing connection (a node restarted then fails with EADDRINUSE).
 */
static void
cfg_check_paths(struct cfg_ctx *ctx, config_t *c, const struct cfg *cf)
{
	struct sockaddr_un	 sun;
	config_setting_t	*s;
	const char		*longest = "";
	int			 i, lo, hi;

	if (cf->state_dir[0] != '/')
		cfg_error(ctx, config_lookup(c, "lab.state_dir"),
		    "lab.state_dir: \"%s\" is a relative path; give an "
		    "absolute one", cf->state_dir);
	if (cf->control_dir[0] != '/')
		cfg_error(ctx, config_lookup(c, "lab.control_dir"),
		    "lab.control_dir: \"%s\" is a relative path; give an "
		    "absolute one", cf->control_dir);
	for (i = 0; i < cf->nnodes; i++)
		if (strlen(cf->nodes[i].name) > strlen(longest))
			longest = cf->nodes[i].name;
	if (strlen(cf->control_dir) + strlen(longest) + 6 >
	    sizeof(sun.sun_path) - 1)
		cfg_error(ctx, config_lookup(c, "lab.control_dir"),
		    "lab.control_dir: control socket %s/%s.sock is longer "
		    "than a UNIX socket path (%zu bytes)", cf->control_dir,
		    longest, sizeof(sun.sun_path) - 1);
	if (ctx->warns == NULL)
		return;
	cfg_ephemeral_ports(NULL, &lo, &hi);
	for (i = 0; i < cf->nnodes; i++) {
		const struct cfg_node *a = &cf->nodes[i];

		s = config_setting_get_elem(config_lookup(c, "nodes"),
		    (unsigned)i);
		if (a->port >= lo && a->port <= hi)
			cfg_warn(ctx, config_setting_get_member(s, "port"),
			    "nodes.%s.port: %d is in the kernel's ephemeral "
			    "port range %d-%d (net.ipv4.ip_local_port_range): "
			    "an outgoing connection may hold it when the node "
			    "starts", a->name, a->port, lo, hi);
		if (a->cti_port >= lo && a->cti_port <= hi)
			cfg_warn(ctx, cfg_given(s, "cti_port"),
			    "nodes.%s.cti_port: %d is in "
			    "the kernel's ephemeral port range %d-%d (net.ipv4."
			    "ip_local_port_range): an outgoing connection may "
			    "hold it when the node starts", a->name,
			    a->cti_port, lo, hi);
		if (a->backup_port >= lo && a->backup_port <= hi)
			cfg_warn(ctx, config_setting_get_member(s,
			    "backup_port"), "nodes.%s.backup_port: %d is in "
			    "the kernel's ephemeral port range %d-%d (net.ipv4."
			    "ip_local_port_range): an outgoing connection may "
			    "hold it when the node starts", a->name,
			    a->backup_port, lo, hi);
	}
}

/* Parse and check into c (warnings to warns if not NULL); error count. */
static int
cfg_parse(config_t *c, const char *file, FILE *errs, FILE *warns,
    struct cfg **out)
{
	struct cfg_ctx	 ctx = { file, errs, 0, warns };
	struct cfg	*cf;

	*out = NULL;
	config_init(c);
	if (config_read_file(c, file) != CONFIG_TRUE) {
		if (config_error_type(c) == CONFIG_ERR_FILE_IO)
			fprintf(errs, "%s:0: cannot read the file\n", file);
		else
			fprintf(errs, "%s:%d: %s\n", config_error_file(c) ?
			    config_error_file(c) : file, config_error_line(c),
			    config_error_text(c));
		return 1;
	}
	cfg_check_tree(&ctx, config_root_setting(c));
	if (config_lookup(c, "peripheral") != NULL &&
	    config_lookup(c, "peripherals") != NULL)
		cfg_error(&ctx, config_lookup(c, "peripherals"), "peripherals: "
		    "the lab has a peripheral group already; give one of the "
		    "two");
	if (ctx.nerrs)
		return ctx.nerrs;
	cfg_fill_defaults(&ctx, c);
	if (ctx.nerrs)
		return ctx.nerrs;
	cf = cfg_build(c, file);
	cfg_check_lab(&ctx, c, cf);
	cfg_check_hooks(&ctx, c, cf);
	cfg_check_paths(&ctx, c, cf);
	if (ctx.nerrs) {
		cfg_free(cf);
		return ctx.nerrs;
	}
	*out = cf;
	return 0;
}

struct cfg *
cfg_load(const char *file, FILE *errs, int *nerrs)
{
	config_t	 c;
	struct cfg	*cf;

	*nerrs = cfg_parse(&c, file, errs, NULL, &cf);
	config_destroy(&c);
	return cf;
}

/* cfg_load for --check-config: warnings too, as file:line: warning: ... */
struct cfg *
cfg_check(const char *file, FILE *errs, int *nerrs)
{
	config_t	 c;
	struct cfg	*cf;

	*nerrs = cfg_parse(&c, file, errs, errs, &cf);
	config_destroy(&c);
	return cf;
}

/* The lab in normal form: every setting, defaults included. */
int
cfg_dump(const char *file, FILE *out, FILE *errs)
{
	config_t	 c;
	struct cfg	*cf;
	int		 nerrs;

	if ((nerrs = cfg_parse(&c, file, errs, NULL, &cf)) == 0) {
		config_write(&c, out);
		cfg_free(cf);
	}
	config_destroy(&c);
	return nerrs;
}

void
cfg_free(struct cfg *cf)
{
	int	i;

	if (cf == NULL)
		return;
	free(cf->nodes);
	for (i = 0; i < cf->nperiphs; i++)
		free(cf->periphs[i].agents);
	free(cf->periphs);
	free(cf->mrds);
	free(cf->mr.routes);
	for (i = 0; i < cf->nhooks; i++)
		free(cf->hooks[i].nodes);
	free(cf->hooks);
	free(cf);
}

/*
 * A reload's new lab file takes the running node's peripherals and agents
 * (and the old one the new file's, freed with it): the agent tables change
 * only when the node restarts, so the roles keep pointers into them
 * instead of a copy of every agent.
 */
void
cfg_keep_periphs(struct cfg *to, struct cfg *from)
{
	struct cfg_periph	*p = to->periphs;
	int			 n = to->nperiphs;
	char			 name[PGEMU_NAME_MAX];

	to->periphs = from->periphs;
	to->nperiphs = from->nperiphs;
	from->periphs = p;
	from->nperiphs = n;
	n = to->peripheral_id;
	to->peripheral_id = from->peripheral_id;
	from->peripheral_id = n;
	memcpy(name, to->peripheral_name, sizeof(name));
	memcpy(to->peripheral_name, from->peripheral_name, sizeof(name));
	memcpy(from->peripheral_name, name, sizeof(name));
	to->agents = to->nperiphs > 0 ? to->periphs[0].agents : NULL;
	to->nagents = to->nperiphs > 0 ? to->periphs[0].nagents : 0;
	from->agents = from->nperiphs > 0 ? from->periphs[0].agents : NULL;
	from->nagents = from->nperiphs > 0 ? from->periphs[0].nagents : 0;
}

const struct cfg_node *
cfg_node(const struct cfg *cf, const char *name)
{
	int	i;

	for (i = 0; i < cf->nnodes; i++)
		if (strcmp(cf->nodes[i].name, name) == 0)
			return &cf->nodes[i];
	return NULL;
}

const struct cfg_node *
cfg_node_role(const struct cfg *cf, enum node_role role, char side)
{
	int	i;

	for (i = 0; i < cf->nnodes; i++)
		if (cf->nodes[i].role == role &&
		    (side == 0 || cf->nodes[i].side == side))
			return &cf->nodes[i];
	return NULL;
}

const struct cfg_node *
cfg_pg_peer(const struct cfg *cf, const struct cfg_node *pg)
{
	return cfg_node_role(cf, ROLE_PG, pg->side == 'A' ? 'B' : 'A');
}

/* The peripheral of that id, or NULL. */
const struct cfg_periph *
cfg_periph(const struct cfg *cf, uint32_t id)
{
	int	i;

	for (i = 0; i < cf->nperiphs; i++)
		if ((uint32_t)cf->periphs[i].id == id)
			return &cf->periphs[i];
	return NULL;
}

/* The peripheral an acd node serves, or NULL. */
const struct cfg_periph *
cfg_periph_of_acd(const struct cfg *cf, const char *acd)
{
	int	i;

	for (i = 0; i < cf->nperiphs; i++)
		if (strcmp(cf->periphs[i].acd, acd) == 0)
			return &cf->periphs[i];
	return NULL;
}

/* Which side of the peripheral a pg node is (0: A, 1: B), or -1. */
int
cfg_periph_side(const struct cfg_periph *p, const char *pg)
{
	int	i;

	for (i = 0; i < 2; i++)
		if (strcmp(p->sides[i], pg) == 0)
			return i;
	return -1;
}

/* The lab's MRD of that id, or NULL. */
const struct cfg_mrd *
cfg_mrd(const struct cfg *cf, int id)
{
	int	i;

	for (i = 0; i < cf->nmrds; i++)
		if (cf->mrds[i].id == id)
			return &cf->mrds[i];
	return NULL;
}

/* The route of a script selector, or NULL. */
const struct cfg_route *
cfg_route(const struct cfg *cf, const char *selector)
{
	int	i;

	for (i = 0; i < cf->mr.nroutes; i++)
		if (strcmp(cf->mr.routes[i].selector, selector) == 0)
			return &cf->mr.routes[i];
	return NULL;
}

/* Is id a voice MRD: the lab's voice MRD, or one of media "voice"? */
int
cfg_mrd_voice(const struct cfg *cf, int id)
{
	const struct cfg_mrd	*m = cfg_mrd(cf, id);

	return id == cf->voice_mrd || (m != NULL &&
	    strcmp(m->media, "voice") == 0);
}

/*
 * An MRD of media "email": its agents stay signed in when the CTI server
 * or the path to it goes, and the application resyncs them (R19).
 */
int
cfg_mrd_email(const struct cfg *cf, int id)
{
	const struct cfg_mrd	*m = cfg_mrd(cf, id);

	return m != NULL && strcmp(m->media, "email") == 0;
}

/*
 * The non-voice MRDs an agent's desktop signs in to, each once, in the
 * lab file's order, into out (room for CFG_AGENT_MRDS): how many.
 */
int
cfg_agent_media(const struct cfg *cf, const struct cfg_agent *a, int *out)
{
	int	i, j, n = 0;

	for (i = 0; i < a->nmrds && i < CFG_AGENT_MRDS; i++) {
		if (cfg_mrd(cf, a->mrds[i]) == NULL ||
		    cfg_mrd_voice(cf, a->mrds[i]))
			continue;
		for (j = 0; j < n && out[j] != a->mrds[i]; j++)
			;
		if (j == n)
			out[n++] = a->mrds[i];
	}
	return n;
}

/* The settings as man(7) paragraphs, for pgemu.conf(5). */
void
cfg_man_settings(FILE *out)
{
	size_t	i;

	for (i = 0; i < NSETTINGS; i++) {
		const struct cfg_setting *t = &settings[i];
		const char		 *h;

		fprintf(out, ".TP\n.B %s\n", t->path);
		fprintf(out, "%s", cfg_type_names[t->type]);
		if (t->type == T_INT)
			fprintf(out, ", %.0f to %.0f", t->min, t->max);
		else if (t->type == T_FLOAT)
			fprintf(out, ", %g to %g", t->min, t->max);
		else if (t->type == T_INTS)
			fprintf(out, " (at most 8)");
		if (cfg_choices(t) != NULL)
			fprintf(out, ", one of %s", cfg_choices(t));
		if (t->roles != 0) {
			int r;

			fprintf(out, "; nodes of role");
			for (r = 0; r < ROLE_MAX; r++)
				if (t->roles & (1 << r))
					fprintf(out, " %s", roles[r].name);
		}
		if (t->flags & F_REQUIRED)
			fprintf(out, "; required");
		else if (t->def != NULL && t->type == T_STRING)
			fprintf(out, "; default \\(dq%s\\(dq", t->def);
		else if (t->def != NULL && (t->type == T_INTS ||
		    t->type == T_STRS))
			fprintf(out, "; default empty");
		else if (t->def != NULL)
			fprintf(out, "; default %s", t->def);
		fprintf(out, ".\n");
		for (h = t->help; *h != '\0'; h++)	/* a hyphen, not a dash */
			fprintf(out, *h == '-' ? "\\-" : "%c", *h);
		fputc('\n', out);
	}
}
