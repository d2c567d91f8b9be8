/*
 * pgemu-scenario: run a scenario file against a lab, or report a failover
 * (pgemu-lab run, pgemu-lab report; pgemu-scenario(5)).
 *
 *   pgemu-scenario run [-c LAB] [-o DIR] [-v] SCENARIO
 *   pgemu-scenario report [-c LAB] [-f text|json|svg] [-o FILE]
 *       [-p PERIPHERAL] [-a] [--from T] [--to T] [-i EVENTS]
 *
 * run: the lab's nodes that do not answer are started (and stopped at the
 * end); every node's events are followed on its control socket ("watch",
 * again after a restart, with its ring of recent events); each step is
 * printed as it runs; the first step that fails ends the run.  The
 * failovers the run caused are reported in DIR (text, JSON, SVG), with
 * every event in DIR/events.jsonl.  Exit 0: PASS; 1: FAIL; 2: the
 * scenario or the command is wrong.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libconfig.h>
#include <sqlite3.h>

#include "pgemu.h"
#include "scenario.h"

#define SC_MAX_NODES	32
#define SC_MAX_ITEMS	32	/* events of one expect */
#define SC_MAX_CONDS	4	/* field=value of one expected event */
#define SC_MAX_FRAME	(64 * 1024 * 1024)
#define SC_CALL_MS	2000	/* a command to a node */
#define SC_POLL_MS	20	/* conditions polled this often */
#define SC_RETRY_MS	100	/* a node's watch, again */
#define SC_START_MS	10000	/* a node started, answering */
#define SC_HISTORY_MS	1500	/* the end: a failover's history written */

enum sc_kind {
	SC_WAIT_ONLINE, SC_KILL, SC_FAULT, SC_AGENT, SC_WAIT, SC_EXPECT,
	SC_EXPECT_ROWS, SC_EXPECT_AGENT, SC_START
};

/* The step keys, each naming its kind. */
static const char *const sc_keys[] = {
	"wait_online", "kill", "fault", "agent", "wait_ms", "expect",
	"expect_rows", "expect_agent", "start"
};
#define SC_NKEYS	(sizeof(sc_keys) / sizeof(sc_keys[0]))

/* The optional settings of a step, each valid with some kinds. */
static const struct {
	const char	*name;
	unsigned	 kinds;
} sc_opts[] = {
	{ "peripheral", 1u << SC_WAIT_ONLINE | 1u << SC_KILL |
	    1u << SC_FAULT | 1u << SC_AGENT | 1u << SC_EXPECT_AGENT },
	{ "agents", 1u << SC_WAIT_ONLINE },
	{ "within_ms", 1u << SC_WAIT_ONLINE | 1u << SC_EXPECT |
	    1u << SC_EXPECT_ROWS | 1u << SC_EXPECT_AGENT | 1u << SC_START },
	{ "signal", 1u << SC_KILL },
	{ "link", 1u << SC_FAULT },
	{ "set", 1u << SC_FAULT | 1u << SC_AGENT },
	{ "in_order", 1u << SC_EXPECT },
	{ "where", 1u << SC_EXPECT_ROWS },
	{ "count", 1u << SC_EXPECT_ROWS },
	{ "at_least", 1u << SC_EXPECT_ROWS },
	{ "state", 1u << SC_EXPECT_AGENT },
	{ "node", 1u << SC_EXPECT_AGENT },
};
#define SC_NOPTS	(sizeof(sc_opts) / sizeof(sc_opts[0]))

/* One expected event: "NODE [RULE] EVENT [FIELD=VALUE ...]". */
struct sc_item {
	char		 node[PGEMU_NAME_MAX + 16];
	char		 rule[8];
	char		 event[48];
	char		 key[SC_MAX_CONDS][32];
	char		 val[SC_MAX_CONDS][64];
	int		 nconds;
	char		 text[200];
};

struct sc_step {
	enum sc_kind	 kind;
	int		 line;
	char		 target[PGEMU_NAME_MAX + 16];	/* node, or table */
	long		 periph;
	long		 agents;		/* -1: all of them */
	long		 within_ms;
	long		 ms;
	int		 sig;
	char		 link[64];
	char		 set[32];
	long		 agent;
	struct sc_item	*items;
	int		 nitems;
	int		 in_order;
	char		 where[512];
	long		 count;			/* -1: at_least */
	long		 at_least;
	char		 node[PGEMU_NAME_MAX];	/* expect_agent: acd or router */
	long		 baseline;		/* expect_rows: rows before */
};

struct sc_conn {
	int		 fd;
	unsigned char	*buf;
	size_t		 len, cap;
};

struct sc_node {
	const struct cfg_node *cfg;
	pid_t		 pid;		/* last known */
	pid_t		 child;		/* started by us */
	int		 stopped;	/* we sent SIGSTOP */
	struct sc_conn	 watch;
	uint64_t	 retry_ms;
	int		 lost;		/* its watch went: read its ring */
	int		 live;		/* its watch answered */
};

struct sc_run {
	struct cfg	*cf;
	const char	*labfile;
	const char	*outdir;
	int		 verbose;
	struct sc_node	 nodes[SC_MAX_NODES];
	int		 nnodes;
	json_t		*events;	/* every event, as they came */
	json_t		*triggers;	/* {time, what, node} of each action */
	double		 trigger_t;	/* the last action */
	uint64_t	 trigger_ms;
	char		 former[8][PGEMU_NAME_MAX];	/* per peripheral */
	long		 former_id[8];
	double		 t_start;
	int		 owned;		/* we started nodes */
	char		 name[128];
	struct sc_step	*steps;
	int		 nsteps;
};

static volatile sig_atomic_t sc_interrupted;

static __dead void
usage(int rc)
{
	fprintf(rc ? stderr : stdout,
	    "usage: pgemu-scenario run [-c LAB] [-o DIR] [-v] SCENARIO\n"
	    "       pgemu-scenario report [-c LAB] [-f text|json|svg] "
	    "[-o FILE] [-p ID] [-a]\n"
	    "                      [--from TIME] [--to TIME] [-i EVENTS]\n"
	    "  -c LAB    the lab file (default %s)\n"
	    "  -o DIR    run: where the reports go (default: a new directory"
	    " in $TMPDIR)\n"
	    "  -o FILE   report: write it there (default: standard output)\n"
	    "  -f FMT    report: text (default), json, or svg (needs -o)\n"
	    "  -p ID     report: that peripheral's failovers only\n"
	    "  -a        report: every failover, not only the last one\n"
	    "  --from, --to TIME\n"
	    "            report: failovers in that time range (epoch seconds,"
	    " or\n"
	    "            HH:MM[:SS] of today)\n"
	    "  -i EVENTS report: the events of that file (JSON lines, as run "
	    "writes\n"
	    "            events.jsonl), not the nodes' recent events\n"
	    "  -v        run: print every rule the nodes apply as it comes\n",
	    PGEMU_DEFAULT_CONFIG);
	exit(rc);
}

static void
sc_on_signal(int sig)
{
	(void)sig;
	sc_interrupted = 1;
}

/* The control socket ------------------------------------------------- */

static int
sc_connect(const struct cfg *cf, const char *node)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock",
	    cf->control_dir, node) >= sizeof(sun.sun_path))
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A request: the frame's length, then its JSON (ctl.c). */
static int
sc_send(int fd, const char *const *argv, int argc)
{
	json_t	*args = json_array(), *req;
	char	*s;
	size_t	 n, off = 0;
	ssize_t	 w;
	int	 i;
	uint8_t	 hdr[4];

	for (i = 0; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	req = json_pack("{s:o}", "argv", args);
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (s == NULL)
		return -1;
	n = strlen(s);
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	if (send(fd, hdr, 4, MSG_NOSIGNAL) != 4) {
		free(s);
		return -1;
	}
	while (off < n) {
		if ((w = send(fd, s + off, n - off, MSG_NOSIGNAL)) <= 0) {
			free(s);
			return -1;
		}
		off += (size_t)w;
	}
	free(s);
	return 0;
}

/*
 * Read what waits on a connection; 0 and *out a frame if a whole one is
 * there (NULL if not yet), -1 if the connection ended or is bad.
 */
static int
sc_take(struct sc_conn *c, json_t **out)
{
	uint32_t	 len;
	ssize_t		 r;

	*out = NULL;
	for (;;) {
		if (c->len >= 4) {
			len = (uint32_t)c->buf[0] << 24 |
			    (uint32_t)c->buf[1] << 16 |
			    (uint32_t)c->buf[2] << 8 | c->buf[3];
			if (len == 0 || len > SC_MAX_FRAME)
				return -1;
			if (c->len >= 4 + (size_t)len) {
				*out = json_loadb((char *)c->buf + 4, len, 0,
				    NULL);
				memmove(c->buf, c->buf + 4 + len,
				    c->len - 4 - len);
				c->len -= 4 + len;
				return *out != NULL ? 0 : -1;
			}
		}
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 131072;
			c->buf = xreallocarray(c->buf, c->cap, 1);
		}
		r = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (r == 0)
			return -1;
		if (r == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->len += (size_t)r;
	}
}

static void
sc_conn_close(struct sc_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* One command's data, or NULL and why. */
static json_t *
sc_call(struct sc_run *run, const char *node, char *err, size_t errlen,
    int argc, const char *const *argv)
{
	struct sc_conn	 c = { -1, NULL, 0, 0 };
	struct pollfd	 pfd;
	uint64_t	 deadline = mono_ms() + SC_CALL_MS, now;
	json_t		*reply = NULL, *data = NULL;

	if ((c.fd = sc_connect(run->cf, node)) == -1) {
		snprintf(err, errlen, "%s does not answer: %s", node,
		    strerror(errno));
		return NULL;
	}
	if (sc_send(c.fd, argv, argc) == -1) {
		snprintf(err, errlen, "%s: %s", node, strerror(errno));
		goto out;
	}
	while (reply == NULL) {
		if ((now = mono_ms()) >= deadline) {
			snprintf(err, errlen, "%s: no reply within %d ms", node,
			    SC_CALL_MS);
			goto out;
		}
		pfd.fd = c.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - now)) == -1 &&
		    errno != EINTR)
			goto out;
		if (sc_take(&c, &reply) == -1) {
			snprintf(err, errlen, "%s: connection lost", node);
			goto out;
		}
	}
	if (!json_is_true(json_object_get(reply, "ok")))
		snprintf(err, errlen, "%s: %s", node, json_string_value(
		    json_object_get(reply, "error")) ? json_string_value(
		    json_object_get(reply, "error")) : "failed");
	else
		data = json_incref(json_object_get(reply, "data"));
out:
	json_decref(reply);
	sc_conn_close(&c);
	free(c.buf);
	return data;
}

#define SC_CALL(run, node, err, ...) sc_call(run, node, err, sizeof(err), \
	(int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
	(const char *const []){ __VA_ARGS__ })

/* Events ------------------------------------------------------------- */

static double
sc_time(const json_t *e)
{
	return json_number_value(json_object_get(e, "time"));
}

static void
sc_add_event(struct sc_run *run, json_t *e, int ring)
{
	json_t	*x;
	size_t	 i;

	if (!json_is_object(e))
		return;
	if (ring)	/* a ring read after a restart: those not seen yet */
		json_array_foreach(run->events, i, x)
			if (json_equal(x, e))
				return;
	json_array_append(run->events, e);
	if (run->verbose && json_is_string(json_object_get(e, "rule")))
		printf("    %s: [%s] %s\n", json_string_value(json_object_get(e,
		    "node")), json_string_value(json_object_get(e, "rule")),
		    json_string_value(json_object_get(e, "message")));
}

/* Watch a node; its ring too if it came back (it started before us). */
static void
sc_watch(struct sc_run *run, struct sc_node *n)
{
	static const char *const watch[] = { "watch" };
	json_t	*ring, *e;
	char	 err[200];
	size_t	 i;

	n->retry_ms = mono_ms() + SC_RETRY_MS;
	if ((n->watch.fd = sc_connect(run->cf, n->cfg->name)) == -1)
		return;
	if (sc_send(n->watch.fd, watch, 1) == -1) {
		sc_conn_close(&n->watch);
		return;
	}
	if (n->lost && (ring = SC_CALL(run, n->cfg->name, err, "events",
	    "512")) != NULL) {
		json_array_foreach(ring, i, e)
			if (sc_time(e) >= run->t_start)
				sc_add_event(run, e, 1);
		json_decref(ring);
	}
	n->lost = 0;
}

/* Read every watch for up to ms; reconnect those that went. */
static void
sc_pump(struct sc_run *run, int ms)
{
	struct pollfd	 pfd[SC_MAX_NODES];
	struct sc_node	*n;
	json_t		*f;
	uint64_t	 now = mono_ms();
	int		 i, k = 0, map[SC_MAX_NODES];

	for (i = 0; i < run->nnodes; i++) {
		n = &run->nodes[i];
		if (n->watch.fd == -1 && now >= n->retry_ms && !n->stopped)
			sc_watch(run, n);
		if (n->watch.fd == -1)
			continue;
		pfd[k].fd = n->watch.fd;
		pfd[k].events = POLLIN;
		map[k++] = i;
	}
	if (poll(pfd, (nfds_t)k, ms) <= 0)
		return;
	for (i = 0; i < k; i++) {
		if (pfd[i].revents == 0)
			continue;
		n = &run->nodes[map[i]];
		for (;;) {
			if (sc_take(&n->watch, &f) == -1) {
				sc_conn_close(&n->watch);
				n->lost = 1;
				break;
			}
			if (f == NULL)
				break;
			sc_add_event(run, json_object_get(f, "event"), 0);
			json_decref(f);
		}
	}
}

/* Pump for ms, polling as it goes (interruptible). */
static void
sc_sleep(struct sc_run *run, int ms)
{
	uint64_t	end = mono_ms() + (uint64_t)ms, now;

	while (!sc_interrupted && (now = mono_ms()) < end)
		sc_pump(run, (int)(end - now < SC_POLL_MS ? end - now :
		    SC_POLL_MS));
}

/* Nodes and the router's view ---------------------------------------- */

static struct sc_node *
sc_node(struct sc_run *run, const char *name)
{
	int	i;

	for (i = 0; i < run->nnodes; i++)
		if (strcmp(run->nodes[i].cfg->name, name) == 0)
			return &run->nodes[i];
	return NULL;
}

/* The first router's status, NULL if none answers. */
static json_t *
sc_router(struct sc_run *run, char *err, size_t errlen)
{
	json_t	*st;
	int	 i;

	snprintf(err, errlen, "no router in the lab file");
	for (i = 0; i < run->nnodes; i++)
		if (run->nodes[i].cfg->role == ROLE_ROUTER && (st = sc_call(run,
		    run->nodes[i].cfg->name, err, errlen, 1, (const char *[]){
		    "status" })) != NULL)
			return st;
	return NULL;
}

/* The peripheral id of the router's status (0: the lab's first). */
static json_t *
sc_periph(json_t *st, long id)
{
	json_t	*p;
	size_t	 i;

	json_array_foreach(json_object_get(st, "peripherals"), i, p)
		if (id == 0 || json_integer_value(json_object_get(p, "id")) ==
		    id)
			return p;
	return NULL;
}

/* The node of side "A" or "B" of a peripheral in the router's status. */
static const char *
sc_side_node(json_t *p, const char *side, int other)
{
	json_t	*s;
	size_t	 i;

	if (side == NULL)
		return NULL;
	json_array_foreach(json_object_get(p, "sides"), i, s)
		if ((strcmp(json_string_value(json_object_get(s, "side")),
		    side) == 0) != other)
			return json_string_value(json_object_get(s, "node"));
	return NULL;
}

static long
sc_periph_id(struct sc_run *run, long id)
{
	return id != 0 ? id : run->cf->nperiphs > 0 ?
	    run->cf->periphs[0].id : run->cf->peripheral_id;
}

static char *
sc_former(struct sc_run *run, long id)
{
	int	i;

	for (i = 0; i < 8 && run->former_id[i] != 0; i++)
		if (run->former_id[i] == id)
			return run->former[i];
	if (i == 8)
		return NULL;
	run->former_id[i] = id;
	return run->former[i];
}

/*
 * A node reference: a node's name; "active[:ID]" or "standby[:ID]", the
 * active side of a peripheral now and the other one; "former[:ID]", the
 * side that was active at the last action, and "takeover[:ID]", the other
 * one; "*", any node.  The name into out, or -1 and why.
 */
static int
sc_resolve(struct sc_run *run, const char *ref, char *out, size_t outlen,
    char *err, size_t errlen)
{
	char		 word[32];
	const char	*colon = strchr(ref, ':'), *n = NULL, *f;
	long		 id = 0;
	json_t		*st, *p;

	if (colon == NULL && (strcmp(ref, "*") == 0 || cfg_node(run->cf,
	    ref) != NULL)) {
		snprintf(out, outlen, "%s", ref);
		return 0;
	}
	snprintf(word, sizeof(word), "%.*s", colon ? (int)(colon - ref) :
	    (int)strlen(ref), ref);
	if (colon != NULL)
		id = strtol(colon + 1, NULL, 10);
	id = sc_periph_id(run, id);
	if (strcmp(word, "former") == 0 || strcmp(word, "takeover") == 0) {
		if ((f = sc_former(run, id)) == NULL || f[0] == '\0') {
			snprintf(err, errlen, "%s: no side of peripheral %ld "
			    "was active at the last action", ref, id);
			return -1;
		}
		if (word[0] == 'f') {
			snprintf(out, outlen, "%s", f);
			return 0;
		}
	}
	if ((st = sc_router(run, err, errlen)) == NULL)
		return -1;
	if ((p = sc_periph(st, id)) == NULL)
		snprintf(err, errlen, "%s: the router has no peripheral %ld",
		    ref, id);
	else if (strcmp(word, "takeover") == 0) {
		const char	*side = NULL;
		json_t		*s;
		size_t		 i;

		json_array_foreach(json_object_get(p, "sides"), i, s)
			if (strcmp(json_string_value(json_object_get(s,
			    "node")), sc_former(run, id)) == 0)
				side = json_string_value(json_object_get(s,
				    "side"));
		n = sc_side_node(p, side, 1);
	} else if (strcmp(word, "active") == 0 || strcmp(word,
	    "standby") == 0) {
		n = sc_side_node(p, json_string_value(json_object_get(p,
		    "active_side")), word[0] == 's');
		if (n == NULL)
			snprintf(err, errlen, "%s: peripheral %ld has no "
			    "active side now", ref, id);
	} else
		snprintf(err, errlen, "%s: no such node (a node of the lab "
		    "file, active, standby, former, takeover, with :ID, or *)",
		    ref);
	if (n != NULL)
		snprintf(out, outlen, "%s", n);
	json_decref(st);
	return n != NULL ? 0 : -1;
}

/* An action: the active side of every peripheral is its former one. */
static void
sc_action(struct sc_run *run, const char *what, const char *node)
{
	json_t		*st, *p;
	char		 err[200], *f;
	const char	*n;
	size_t		 i;

	if ((st = sc_router(run, err, sizeof(err))) != NULL) {
		json_array_foreach(json_object_get(st, "peripherals"), i, p) {
			n = sc_side_node(p, json_string_value(json_object_get(p,
			    "active_side")), 0);
			f = sc_former(run, (long)json_integer_value(
			    json_object_get(p, "id")));
			if (n != NULL && f != NULL)
				snprintf(f, PGEMU_NAME_MAX, "%s", n);
		}
		json_decref(st);
	}
	run->trigger_t = wall_now();
	run->trigger_ms = mono_ms();
	json_array_append_new(run->triggers, json_pack("{s:f, s:s, s:s}",
	    "time", run->trigger_t, "what", what, "node", node));
}

/* Starting and ending nodes ------------------------------------------ */

/* A child of ours that ended: no longer ours. */
static void
sc_reap(struct sc_run *run)
{
	pid_t	pid;
	int	i, status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < run->nnodes; i++)
			if (run->nodes[i].child == pid)
				run->nodes[i].child = 0;
}

/*
 * A lab with desktops (an agents node): every desktop connected to a
 * desktop server and its agent's state known there, so logged in through
 * the CTI server (a desktop server killed before that owns no agent yet).
 * 1 when so, or when the lab has no agents node; else 0 and why.
 */
static int
sc_desktops_in(struct sc_run *run, char *err, size_t errlen)
{
	const struct cfg_node	*a = cfg_node_role(run->cf, ROLE_AGENTS, 0);
	json_t			*st, *ag;
	long long		 n, up;
	int			 ok;

	if (a == NULL)
		return 1;
	if ((st = SC_CALL(run, a->name, (char[200]){ 0 }, "status")) == NULL) {
		snprintf(err, errlen, "%s does not answer", a->name);
		return 0;
	}
	ag = json_object_get(st, "agents");
	n = json_integer_value(json_object_get(ag, "desktops"));
	up = json_integer_value(json_object_get(ag, "connected"));
	ok = up == n && json_object_get(json_object_get(ag, "states"),
	    "unknown") == NULL;
	if (!ok)
		snprintf(err, errlen, "%s: %lld of %lld desktops connected, "
		    "%lld agents' states unknown", a->name, up, n,
		    json_integer_value(json_object_get(json_object_get(ag,
		    "states"), "unknown")));
	json_decref(st);
	return ok;
}

/* The node answers: its pid; or -1 and why (start_ms: give it time). */
static int
sc_answers(struct sc_run *run, struct sc_node *n, int wait_ms, char *err,
    size_t errlen)
{
	uint64_t	 deadline = mono_ms() + (uint64_t)wait_ms;
	json_t		*st;

	for (;;) {
		st = SC_CALL(run, n->cfg->name, (char[200]){ 0 }, "status");
		if (st != NULL) {
			n->pid = (pid_t)json_integer_value(json_object_get(st,
			    "pid"));
			json_decref(st);
			return 0;
		}
		sc_reap(run);
		if (n->child == 0 && wait_ms > 0 && n->pid == -2) {
			snprintf(err, errlen, "%s exited as it started (see "
			    "%s/%s.log)", n->cfg->name, run->outdir,
			    n->cfg->name);
			return -1;
		}
		if (mono_ms() >= deadline) {
			snprintf(err, errlen, "%s does not answer on its "
			    "control socket%s", n->cfg->name, wait_ms ?
			    " after its start" : "");
			return -1;
		}
		sc_sleep(run, SC_POLL_MS);
	}
}

/* Start a node as a child: pgemud -f, its output in OUTDIR/NODE.log. */
static int
sc_spawn(struct sc_run *run, struct sc_node *n, char *err, size_t errlen)
{
	char	 path[PGEMU_PATH_MAX + 64], pgemud[PGEMU_PATH_MAX];
	pid_t	 pid;
	int	 fd;

	snprintf(pgemud, sizeof(pgemud), "%s", getenv("PGEMUD") ?
	    getenv("PGEMUD") : PGEMU_SBINDIR "/pgemud");
	snprintf(path, sizeof(path), "%s/%s.log", run->outdir, n->cfg->name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		unsetenv("WATCHDOG_PID");
		execl(pgemud, "pgemud", "-f", "-c", run->labfile, "-n",
		    n->cfg->name, (char *)NULL);
		dprintf(2, "pgemu-scenario: %s: %s\n", pgemud,
		    strerror(errno));
		_exit(127);
	}
	close(fd);
	n->child = pid;
	n->pid = -2;
	n->lost = 1;
	printf("(started %s, pid %ld, log %s) ", n->cfg->name, (long)pid,
	    path);
	fflush(stdout);
	return sc_answers(run, n, SC_START_MS, err, errlen);
}

/* The end: nodes we stopped go on; nodes we started stop. */
static void
sc_cleanup(struct sc_run *run)
{
	struct sc_node	*n;
	uint64_t	 deadline;
	int		 i, left;

	for (i = 0; i < run->nnodes; i++) {
		n = &run->nodes[i];
		if (n->stopped && n->pid > 0)
			kill(n->pid, SIGCONT);
		if (n->child > 0)
			kill(n->child, SIGTERM);
	}
	deadline = mono_ms() + 10000;
	do {
		sc_reap(run);
		for (i = left = 0; i < run->nnodes; i++)
			left += run->nodes[i].child > 0;
		if (left)
			poll(NULL, 0, SC_POLL_MS);
	} while (left && mono_ms() < deadline);
	for (i = 0; i < run->nnodes; i++)
		if (run->nodes[i].child > 0) {
			kill(run->nodes[i].child, SIGKILL);
			waitpid(run->nodes[i].child, NULL, 0);
		}
}

/* The scenario file -------------------------------------------------- */

static int
sc_signal(const char *s)
{
	static const struct {
		const char	*name;
		int		 sig;
	} sigs[] = { { "KILL", SIGKILL }, { "TERM", SIGTERM },
	    { "STOP", SIGSTOP }, { "CONT", SIGCONT }, { "INT", SIGINT } };
	size_t	i;

	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcmp(sigs[i].name, s) == 0)
			return sigs[i].sig;
	return -1;
}

/* "NODE [RULE] EVENT [FIELD=VALUE ...]" into it; -1 if malformed. */
static int
sc_item_parse(struct sc_item *it, const char *text)
{
	char	 buf[200], *tok, *save = NULL, *eq;
	int	 n = 0;

	memset(it, 0, sizeof(*it));
	snprintf(it->text, sizeof(it->text), "%s", text);
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save), n++) {
		if (n == 0)
			snprintf(it->node, sizeof(it->node), "%s", tok);
		else if ((eq = strchr(tok, '=')) != NULL) {
			if (it->event[0] == '\0' || it->nconds == SC_MAX_CONDS)
				return -1;
			snprintf(it->key[it->nconds], sizeof(it->key[0]),
			    "%.*s", (int)(eq - tok), tok);
			snprintf(it->val[it->nconds++], sizeof(it->val[0]),
			    "%s", eq + 1);
		} else if (it->event[0] != '\0')
			return -1;
		else if (tok[0] == 'R' && tok[1] >= '1' && tok[1] <= '9' &&
		    it->rule[0] == '\0')
			snprintf(it->rule, sizeof(it->rule), "%s", tok);
		else
			snprintf(it->event, sizeof(it->event), "%s", tok);
	}
	return it->node[0] != '\0' && it->event[0] != '\0' ? 0 : -1;
}

static int
sc_bad(const char *file, int line, int step, const char *fmt, ...)
    __printflike(4, 5);
static int
sc_bad(const char *file, int line, int step, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s:%d: step %d: ", file, line, step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int
sc_lookup_int(config_setting_t *g, const char *name, long min, long max,
    long *out, const char *file, int step)
{
	config_setting_t	*s = config_setting_get_member(g, name);
	long long		 v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return sc_bad(file, config_setting_source_line(s), step,
		    "%s: an integer is expected", name);
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return sc_bad(file, config_setting_source_line(s), step,
		    "%s = %lld: out of range (%ld..%ld)", name, v, min, max);
	*out = (long)v;
	return 0;
}

static int
sc_lookup_str(config_setting_t *g, const char *name, char *out, size_t len,
    const char *file, int step)
{
	config_setting_t	*s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return sc_bad(file, config_setting_source_line(s), step,
		    "%s: a string is expected", name);
	if ((size_t)snprintf(out, len, "%s", config_setting_get_string(s)) >=
	    len)
		return sc_bad(file, config_setting_source_line(s), step,
		    "%s: too long (at most %zu characters)", name, len - 1);
	return 0;
}

/* One step of the list, checked; -1 (said) if it is wrong. */
static int
sc_parse_step(struct sc_run *run, config_setting_t *g, struct sc_step *st,
    const char *file, int idx)
{
	config_setting_t	*s, *m;
	const char		*name;
	char			 sig[16] = "KILL", word[64];
	int			 i, j, found = -1;
	size_t			 k;

	memset(st, 0, sizeof(*st));
	st->line = config_setting_source_line(g);
	st->agents = -1;
	st->count = -1;
	st->in_order = 1;
	st->within_ms = 5000;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return sc_bad(file, st->line, idx, "a group { ... } is "
		    "expected");
	for (i = 0; i < config_setting_length(g); i++) {
		m = config_setting_get_elem(g, (unsigned)i);
		name = config_setting_name(m);
		for (k = 0; k < SC_NKEYS; k++)
			if (strcmp(name, sc_keys[k]) == 0)
				break;
		if (k < SC_NKEYS) {
			if (found != -1)
				return sc_bad(file, st->line, idx, "both %s "
				    "and %s: one action a step", sc_keys[found],
				    name);
			found = (int)k;
			continue;
		}
		for (j = 0; j < (int)SC_NOPTS; j++)
			if (strcmp(name, sc_opts[j].name) == 0)
				break;
		if (j == (int)SC_NOPTS)
			return sc_bad(file, config_setting_source_line(m), idx,
			    "unknown setting %s", name);
	}
	if (found == -1)
		return sc_bad(file, st->line, idx, "no action (one of "
		    "wait_online, kill, fault, agent, wait_ms, expect, "
		    "expect_rows, expect_agent, start)");
	st->kind = (enum sc_kind)found;
	for (i = 0; i < config_setting_length(g); i++) {
		name = config_setting_name(config_setting_get_elem(g,
		    (unsigned)i));
		for (j = 0; j < (int)SC_NOPTS; j++)
			if (strcmp(name, sc_opts[j].name) == 0 &&
			    !(sc_opts[j].kinds & 1u << st->kind))
				return sc_bad(file, st->line, idx, "%s does not "
				    "go with %s", name, sc_keys[st->kind]);
	}
	s = config_setting_get_member(g, sc_keys[st->kind]);
	if (sc_lookup_int(g, "peripheral", 1, 0x7fffffff, &st->periph, file,
	    idx) || sc_lookup_int(g, "agents", 0, 1000000, &st->agents, file,
	    idx) || sc_lookup_int(g, "within_ms", 0, 3600000, &st->within_ms,
	    file, idx) || sc_lookup_str(g, "signal", sig, sizeof(sig), file,
	    idx) || sc_lookup_str(g, "link", st->link, sizeof(st->link), file,
	    idx) || sc_lookup_str(g, "set", st->set, sizeof(st->set), file,
	    idx) || sc_lookup_str(g, "where", st->where, sizeof(st->where),
	    file, idx) || sc_lookup_int(g, "count", 0, 0x7fffffff, &st->count,
	    file, idx) || sc_lookup_int(g, "at_least", 0, 0x7fffffff,
	    &st->at_least, file, idx) || sc_lookup_str(g, "state", word,
	    sizeof(word), file, idx) || sc_lookup_str(g, "node", st->node,
	    sizeof(st->node), file, idx))
		return -1;
	if ((m = config_setting_get_member(g, "in_order")) != NULL)
		st->in_order = config_setting_get_bool(m);
	switch (st->kind) {
	case SC_WAIT_ONLINE:
		if (config_setting_type(s) == CONFIG_TYPE_BOOL)
			break;
		if (sc_lookup_int(g, "wait_online", 1, 0x7fffffff, &st->periph,
		    file, idx))
			return -1;
		break;
	case SC_WAIT:
		if (sc_lookup_int(g, "wait_ms", 0, 3600000, &st->ms, file, idx))
			return -1;
		break;
	case SC_AGENT:
	case SC_EXPECT_AGENT:
		if (sc_lookup_int(g, sc_keys[st->kind], 0, 0x7fffffff,
		    &st->agent, file, idx))
			return -1;
		if (st->kind == SC_AGENT && st->set[0] == '\0')
			return sc_bad(file, st->line, idx, "agent: set = "
			    "\"STATE\" (or \"auto\") is missing");
		if (st->kind == SC_EXPECT_AGENT) {
			if (word[0] == '\0')
				return sc_bad(file, st->line, idx,
				    "expect_agent: state = \"STATE\" is "
				    "missing");
			snprintf(st->set, sizeof(st->set), "%s", word);
		}
		if (st->node[0] != '\0' && strcmp(st->node, "acd") != 0 &&
		    strcmp(st->node, "router") != 0)
			return sc_bad(file, st->line, idx, "node = \"%s\": "
			    "\"acd\" or \"router\"", st->node);
		break;
	case SC_KILL:
	case SC_FAULT:
	case SC_START:
	case SC_EXPECT_ROWS:
		if (sc_lookup_str(g, sc_keys[st->kind], st->target,
		    sizeof(st->target), file, idx))
			return -1;
		if (st->kind == SC_KILL && (st->sig = sc_signal(sig)) == -1)
			return sc_bad(file, st->line, idx, "signal = \"%s\": "
			    "KILL, TERM, STOP, CONT or INT", sig);
		if (st->kind == SC_FAULT && (st->link[0] == '\0' ||
		    !choice_ok("down|up|freeze|thaw", st->set)))
			return sc_bad(file, st->line, idx, "fault: link = "
			    "\"LINK\" and set = \"down|up|freeze|thaw\" are "
			    "needed");
		if (st->kind == SC_EXPECT_ROWS) {
			for (k = 0; st->target[k] != '\0'; k++)
				if (!(st->target[k] == '_' ||
				    (st->target[k] >= 'a' && st->target[k] <= 'z')
				    || (st->target[k] >= 'A' &&
				    st->target[k] <= 'Z') || (k > 0 &&
				    st->target[k] >= '0' && st->target[k] <= '9')))
					return sc_bad(file, st->line, idx,
					    "expect_rows = \"%s\": a table "
					    "name", st->target);
			if ((st->count == -1) == (config_setting_get_member(g,
			    "at_least") == NULL))
				return sc_bad(file, st->line, idx, "expect_rows:"
				    " count = N or at_least = N (one of them)");
		}
		break;
	case SC_EXPECT:
		if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
		    config_setting_type(s) != CONFIG_TYPE_LIST)
			return sc_bad(file, st->line, idx, "expect: a list of "
			    "\"NODE [RULE] EVENT [FIELD=VALUE ...]\"");
		st->nitems = config_setting_length(s);
		if (st->nitems == 0 || st->nitems > SC_MAX_ITEMS)
			return sc_bad(file, st->line, idx, "expect: 1 to %d "
			    "events", SC_MAX_ITEMS);
		st->items = xcalloc((size_t)st->nitems, sizeof(*st->items));
		for (i = 0; i < st->nitems; i++) {
			name = config_setting_get_string_elem(s, (unsigned)i);
			if (name == NULL || sc_item_parse(&st->items[i], name) ==
			    -1)
				return sc_bad(file, st->line, idx, "expect: "
				    "event %d: \"NODE [RULE] EVENT "
				    "[FIELD=VALUE ...]\" is expected", i + 1);
		}
		break;
	}
	(void)run;
	return 0;
}

static int
sc_load(struct sc_run *run, const char *file)
{
	config_t		 c;
	config_setting_t	*list;
	const char		*s;
	int			 i, rc = 0;

	config_init(&c);
	if (config_read_file(&c, file) != CONFIG_TRUE) {
		fprintf(stderr, "%s:%d: %s\n", config_error_file(&c) ?
		    config_error_file(&c) : file, config_error_line(&c),
		    config_error_text(&c));
		config_destroy(&c);
		return -1;
	}
	snprintf(run->name, sizeof(run->name), "%s", file);
	if (config_lookup_string(&c, "scenario.name", &s) == CONFIG_TRUE)
		snprintf(run->name, sizeof(run->name), "%s", s);
	if ((list = config_lookup(&c, "steps")) == NULL ||
	    !config_setting_is_list(list) || config_setting_length(list) == 0) {
		fprintf(stderr, "%s: steps = ( { ... }, ... ); is missing\n",
		    file);
		config_destroy(&c);
		return -1;
	}
	run->nsteps = config_setting_length(list);
	run->steps = xcalloc((size_t)run->nsteps, sizeof(*run->steps));
	for (i = 0; i < run->nsteps && rc == 0; i++)
		rc = sc_parse_step(run, config_setting_get_elem(list,
		    (unsigned)i), &run->steps[i], file, i + 1);
	if (rc == 0 && config_lookup_string(&c, "scenario.description", &s)
	    == CONFIG_TRUE)
		printf("%s: %s\n", run->name, s);
	config_destroy(&c);
	return rc;
}

/* The steps ---------------------------------------------------------- */

/* Rows of table matching where, in the history database; -1 and why. */
static long
sc_rows(struct sc_run *run, const struct sc_step *st, char *err,
    size_t errlen)
{
	sqlite3		*h = NULL;
	sqlite3_stmt	*q = NULL;
	char		*sql;
	long		 n = -1;

	if (sqlite3_open_v2(run->cf->history_db, &h, SQLITE_OPEN_READONLY,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "history database %s: %s",
		    run->cf->history_db, sqlite3_errmsg(h));
		sqlite3_close(h);
		return -1;
	}
	sqlite3_busy_timeout(h, 500);
	xasprintf(&sql, "SELECT count(*) FROM \"%s\"%s%s", st->target,
	    st->where[0] ? " WHERE " : "", st->where);
	if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) != SQLITE_OK)
		snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(h));
	else if (sqlite3_step(q) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(q, 0);
	else
		snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(h));
	sqlite3_finalize(q);
	sqlite3_close(h);
	free(sql);
	return n;
}

/* Does the event match the item (its node already resolved)? */
static int
sc_item_match(const struct sc_item *it, const char *node, json_t *e)
{
	json_t		*v;
	const char	*rule = json_string_value(json_object_get(e, "rule"));
	char		 buf[64];
	int		 i;

	if (strcmp(node, "*") != 0 && strcmp(node, json_string_value(
	    json_object_get(e, "node"))) != 0)
		return 0;
	if (strcmp(it->event, json_string_value(json_object_get(e,
	    "event"))) != 0)
		return 0;
	if (it->rule[0] != '\0' && (rule == NULL || strcmp(rule, it->rule)))
		return 0;
	for (i = 0; i < it->nconds; i++) {
		v = json_object_get(e, it->key[i]);
		if (json_is_string(v))
			snprintf(buf, sizeof(buf), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(buf, sizeof(buf), "%lld",
			    (long long)json_integer_value(v));
		else if (json_is_boolean(v))
			snprintf(buf, sizeof(buf), "%s", json_is_true(v) ?
			    "true" : "false");
		else
			return 0;
		if (strcmp(buf, it->val[i]) != 0)
			return 0;
	}
	return 1;
}

/*
 * Are the items among the events since the last action?  In order: each
 * after the items before it of the same node, as that node emitted them
 * (between nodes, the order is when each heard of it, and a node that
 * acts on a message may log before the sender does).  The first missing
 * one's index, or -1 when all are there; *last the time of the last one.
 */
static int
sc_expect_check(struct sc_run *run, const struct sc_step *st,
    char nodes[][PGEMU_NAME_MAX + 16], double *last)
{
	json_t	*ev = report_sorted(run->events), *e;
	size_t	 i, from, at[SC_MAX_ITEMS];
	int	 k, j, missing = -1, *used;

	used = xcalloc(json_array_size(ev) + 1, sizeof(*used));
	*last = run->trigger_t;
	for (k = 0; k < st->nitems && missing == -1; k++) {
		missing = k;
		for (j = from = 0; st->in_order && j < k; j++)
			if ((strcmp(nodes[j], nodes[k]) == 0 ||
			    strcmp(nodes[k], "*") == 0) && at[j] + 1 > from)
				from = at[j] + 1;
		for (i = from; i < json_array_size(ev); i++) {
			e = json_array_get(ev, i);
			if (used[i] || sc_time(e) < run->trigger_t ||
			    !sc_item_match(&st->items[k], nodes[k], e))
				continue;
			used[i] = 1;
			at[k] = i;
			if (sc_time(e) > *last)
				*last = sc_time(e);
			missing = -1;
			break;
		}
	}
	free(used);
	json_decref(ev);
	return missing;
}

/* Run one step: 0 ok, -1 failed (why in err). */
static int
sc_step(struct sc_run *run, struct sc_step *st, char *err, size_t errlen,
    char *note, size_t notelen)
{
	char		 node[PGEMU_NAME_MAX + 16], what[200];
	char		 nodes[SC_MAX_ITEMS][PGEMU_NAME_MAX + 16];
	uint64_t	 t0 = mono_ms(), deadline;
	json_t		*st_r, *p, *a;
	struct sc_node	*n;
	const char	*cur;
	long		 id, want, rows;
	double		 last;
	int		 k, missing;
	size_t		 i;

	deadline = t0 + (uint64_t)st->within_ms;
	switch (st->kind) {
	case SC_WAIT_ONLINE:
		id = sc_periph_id(run, st->periph);
		want = st->agents;
		if (want < 0) {
			const struct cfg_periph *cp = cfg_periph(run->cf,
			    (uint32_t)id);

			want = cp != NULL ? cp->nagents : run->cf->nagents;
		}
		printf("wait until peripheral %ld is online with %ld agents "
		    "logged in (within %ld ms) ... ", id, want, st->within_ms);
		fflush(stdout);
		for (;;) {
			if ((st_r = sc_router(run, err, errlen)) != NULL) {
				p = sc_periph(st_r, id);
				k = p != NULL && json_is_true(json_object_get(p,
				    "online")) && json_integer_value(
				    json_object_get(p, "agents_logged_in")) ==
				    want;
				if (!k && p != NULL)
					snprintf(err, errlen, "peripheral %ld: "
					    "%s, %lld agents logged in", id,
					    json_is_true(json_object_get(p,
					    "online")) ? "online" : "offline",
					    (long long)json_integer_value(
					    json_object_get(p,
					    "agents_logged_in")));
				else if (p == NULL)
					snprintf(err, errlen, "the router has "
					    "no peripheral %ld", id);
				json_decref(st_r);
				if (k && id == sc_periph_id(run, 0) &&
				    !sc_desktops_in(run, err, errlen))
					k = 0;
				if (k) {
					snprintf(note, notelen, "%llu ms",
					    (unsigned long long)(mono_ms() -
					    t0));
					return 0;
				}
			}
			if (mono_ms() >= deadline || sc_interrupted)
				return -1;
			sc_sleep(run, SC_POLL_MS);
		}
	case SC_KILL:
		if (sc_resolve(run, st->target, node, sizeof(node), err,
		    errlen) == -1)
			return -1;
		n = sc_node(run, node);
		if (n == NULL || strcmp(node, "*") == 0) {
			snprintf(err, errlen, "%s: not one node", st->target);
			return -1;
		}
		if (n->pid <= 0 && sc_answers(run, n, 0, err, errlen) == -1)
			return -1;
		printf("kill -%s %s (%s, pid %ld) ... ", sigabbrev_np(st->sig),
		    node, st->target, (long)n->pid);
		snprintf(what, sizeof(what), "kill -%s %s (%s, pid %ld)",
		    sigabbrev_np(st->sig), node, st->target, (long)n->pid);
		sc_action(run, what, node);
		if (kill(n->pid, st->sig) == -1) {
			snprintf(err, errlen, "kill %ld: %s", (long)n->pid,
			    strerror(errno));
			return -1;
		}
		n->stopped = st->sig == SIGSTOP ? 1 : st->sig == SIGCONT ? 0 :
		    n->stopped;
		if (st->sig == SIGSTOP) {	/* its ring when it wakes */
			sc_conn_close(&n->watch);
			n->lost = 1;
		}
		return 0;
	case SC_FAULT:
		if (sc_resolve(run, st->target, node, sizeof(node), err,
		    errlen) == -1)
			return -1;
		printf("fault %s (%s) %s %s ... ", node, st->target, st->link,
		    st->set);
		snprintf(what, sizeof(what), "pgemuctl %s fault %s %s", node,
		    st->link, st->set);
		sc_action(run, what, node);
		if ((a = sc_call(run, node, err, errlen, 3, (const char *[]){
		    "fault", st->link, st->set })) == NULL)
			return -1;
		json_decref(a);
		return 0;
	case SC_AGENT:
		id = sc_periph_id(run, st->periph);
		cur = cfg_periph(run->cf, (uint32_t)id) != NULL ?
		    cfg_periph(run->cf, (uint32_t)id)->acd : "acd";
		snprintf(node, sizeof(node), "%ld", st->agent);
		printf("agent %s of %s: set %s ... ", node, cur, st->set);
		snprintf(what, sizeof(what), "pgemuctl %s agent %s set %s",
		    cur, node, st->set);
		sc_action(run, what, cur);
		if ((a = sc_call(run, cur, err, errlen, 4, (const char *[]){
		    "agent", node, "set", st->set })) == NULL)
			return -1;
		json_decref(a);
		return 0;
	case SC_WAIT:
		printf("wait %ld ms ... ", st->ms);
		fflush(stdout);
		sc_sleep(run, (int)st->ms);
		return sc_interrupted ? -1 : 0;
	case SC_START:
		if (sc_resolve(run, st->target, node, sizeof(node), err,
		    errlen) == -1 || (n = sc_node(run, node)) == NULL)
			return -1;
		printf("start %s again ... ", node);
		fflush(stdout);
		sc_reap(run);
		if (sc_answers(run, n, 0, err, errlen) == 0)
			return 0;
		if (run->owned)		/* ours: as Restart= would */
			return sc_spawn(run, n, err, errlen);
		return sc_answers(run, n, (int)st->within_ms, err, errlen);
	case SC_EXPECT:
		printf("expect within %ld ms%s:", st->within_ms,
		    st->in_order && st->nitems > 1 ? ", each node's in this "
		    "order" : "");
		for (k = 0; k < st->nitems; k++)
			printf("%s %s", k ? "," : "", st->items[k].text);
		printf(" ... ");
		fflush(stdout);
		for (k = 0; k < st->nitems; k++) {
			if (sc_resolve(run, st->items[k].node, nodes[k],
			    sizeof(nodes[k]), err, errlen) == -1)
				return -1;
		}
		deadline = run->trigger_ms + (uint64_t)st->within_ms;
		for (;;) {
			sc_pump(run, 0);
			if ((missing = sc_expect_check(run, st, nodes,
			    &last)) == -1) {
				snprintf(note, notelen, "the last at %.3f ms "
				    "after the action", (last -
				    run->trigger_t) * 1000);
				if ((last - run->trigger_t) * 1000 >
				    (double)st->within_ms) {
					snprintf(err, errlen, "all came, but "
					    "%s", note);
					return -1;
				}
				return 0;
			}
			if (mono_ms() >= deadline || sc_interrupted) {
				snprintf(err, errlen, "not seen%s: %s (as %s)",
				    missing > 0 && st->in_order ?
				    " after the node's ones before" : "",
				    st->items[missing].text, nodes[missing]);
				return -1;
			}
			sc_sleep(run, SC_POLL_MS);
		}
	case SC_EXPECT_ROWS:
		want = st->count >= 0 ? st->count : st->at_least;
		printf("expect %s%ld new row%s in %s%s%s (within %ld ms) ... ",
		    st->count >= 0 ? "" : "at least ", want, want == 1 ? "" :
		    "s", st->target, st->where[0] ? " where " : "", st->where,
		    st->within_ms);
		fflush(stdout);
		deadline = run->trigger_ms + (uint64_t)st->within_ms;
		for (;;) {
			if ((rows = sc_rows(run, st, err, errlen)) == -1)
				return -1;
			rows -= st->baseline;
			if (st->count >= 0 ? rows == want : rows >= want) {
				snprintf(note, notelen, "%ld", rows);
				return 0;
			}
			snprintf(err, errlen, "%ld new rows", rows);
			if (mono_ms() >= deadline || sc_interrupted)
				return -1;
			sc_sleep(run, SC_POLL_MS);
		}
	case SC_EXPECT_AGENT:
		id = sc_periph_id(run, st->periph);
		cur = strcmp(st->node, "router") == 0 ? NULL :
		    cfg_periph(run->cf, (uint32_t)id) != NULL ?
		    cfg_periph(run->cf, (uint32_t)id)->acd : "acd";
		printf("expect agent %ld %s at the %s (within %ld ms) ... ",
		    st->agent, st->set, cur ? cur : "router", st->within_ms);
		fflush(stdout);
		snprintf(node, sizeof(node), "%ld", st->agent);
		for (;;) {
			const char	*state = NULL;

			if (cur != NULL)
				a = sc_call(run, cur, err, errlen, 2,
				    (const char *[]){ "agent", node });
			else {
				a = NULL;
				for (k = 0; k < run->nnodes && a == NULL; k++)
					if (run->nodes[k].cfg->role ==
					    ROLE_ROUTER)
						a = sc_call(run,
						    run->nodes[k].cfg->name,
						    err, errlen, 1,
						    (const char *[]){
						    "agents" });
			}
			if (cur != NULL && a != NULL)
				state = json_string_value(json_object_get(a,
				    "state"));
			json_array_foreach(cur == NULL ? a : NULL, i, p)
				if (json_integer_value(json_object_get(p, "id"))
				    == st->agent && (json_object_get(p,
				    "peripheral") == NULL || json_integer_value(
				    json_object_get(p, "peripheral")) == id))
					state = json_is_false(json_object_get(p,
					    "logged_in")) ? "logged_out" :
					    json_string_value(json_object_get(p,
					    "state"));
			if (state != NULL && strcmp(state, st->set) == 0) {
				json_decref(a);
				return 0;
			}
			if (a != NULL)
				snprintf(err, errlen, "agent %ld is %s",
				    st->agent, state ? state : "unknown");
			json_decref(a);
			if (mono_ms() >= deadline || sc_interrupted)
				return -1;
			sc_sleep(run, SC_POLL_MS);
		}
	}
	return -1;
}

/* Reports ------------------------------------------------------------ */

/* Every event into DIR/events.jsonl, each failover into failover-N.*. */
static void
sc_reports(struct sc_run *run, json_t *fo)
{
	char	 path[PGEMU_PATH_MAX + 64], err[200], *s;
	json_t	*r, *m, *ev = report_sorted(run->events);
	FILE	*fp;
	size_t	 i;

	snprintf(path, sizeof(path), "%s/events.jsonl", run->outdir);
	if ((fp = fopen(path, "w")) != NULL) {
		json_array_foreach(ev, i, r) {
			s = json_dumps(r, JSON_COMPACT);
			fprintf(fp, "%s\n", s);
			free(s);
		}
		fclose(fp);
	}
	json_decref(ev);
	json_array_foreach(fo, i, r) {
		snprintf(path, sizeof(path), "%s/failover-%zu.json",
		    run->outdir, i + 1);
		json_dump_file(r, path, JSON_INDENT(2));
		snprintf(path, sizeof(path), "%s/failover-%zu.txt",
		    run->outdir, i + 1);
		if ((fp = fopen(path, "w")) != NULL) {
			report_text(fp, r);
			fclose(fp);
		}
		m = json_object_get(json_object_get(r, "milestones_ms"),
		    "online");
		printf("failover %zu: peripheral %lld, %s; ", i + 1,
		    (long long)json_integer_value(json_object_get(r,
		    "peripheral")), json_string_value(json_object_get(
		    json_object_get(r, "trigger"), "what")));
		if (json_is_number(m))
			printf("online after %.3f ms", json_number_value(m));
		else
			printf("not online again");
		printf(": %s\n", path);
		snprintf(path, sizeof(path), "%s/failover-%zu.svg",
		    run->outdir, i + 1);
		if (report_svg(path, r, err, sizeof(err)) == -1)
			fprintf(stderr, "pgemu-scenario: %s\n", err);
	}
}

/* Wait (a little) for the history of each failover to be written. */
static json_t *
sc_failovers(struct sc_run *run)
{
	uint64_t	 deadline = mono_ms() + SC_HISTORY_MS;
	json_t		*fo, *r;
	size_t		 i;
	int		 waiting;

	for (;;) {
		/* Those the run caused: from its first action on. */
		fo = report_failovers(run->events, run->cf, 0,
		    json_array_size(run->triggers) > 0 ? sc_time(
		    json_array_get(run->triggers, 0)) : wall_now(), 0,
		    run->triggers);
		waiting = 0;
		json_array_foreach(fo, i, r)
			waiting |= json_is_true(json_object_get(r, "online")) &&
			    json_is_null(json_object_get(json_object_get(r,
			    "milestones_ms"), "history"));
		if (!waiting || mono_ms() >= deadline || sc_interrupted)
			return fo;
		json_decref(fo);
		sc_sleep(run, 50);
	}
}

/* Every node watched, its watch live; nodes that do not answer started. */
static int
sc_lab(struct sc_run *run)
{
	struct sc_node	*n;
	char		 err[300];
	uint64_t	 deadline;
	int		 i, k, pass, down = 0, live;
	json_t		*f;

	for (i = 0; i < run->nnodes; i++)
		down += sc_answers(run, &run->nodes[i], 0, err,
		    sizeof(err)) == -1;
	if (down > 0) {
		mkdir(run->cf->control_dir, 0755);
		mkdir(run->cf->state_dir, 0750);
		run->owned = 1;
		printf("lab %s: %d node%s not running: starting %s\n",
		    run->labfile, down, down == 1 ? "" : "s", down ==
		    run->nnodes ? "the lab" : "them");
	}
	/* Routers first, so that the others find them at once. */
	for (pass = 0; pass < 2 && down > 0; pass++)
		for (i = 0; i < run->nnodes; i++) {
			n = &run->nodes[i];
			if ((n->cfg->role == ROLE_ROUTER) != (pass == 0) ||
			    n->pid > 0)
				continue;
			printf("    ");
			if (sc_spawn(run, n, err, sizeof(err)) == -1) {
				printf("FAIL: %s\n", err);
				return -1;
			}
			printf("\n");
		}
	/* The watches: live once each node said "watching". */
	for (i = 0; i < run->nnodes; i++) {
		n = &run->nodes[i];
		sc_watch(run, n);
		if (n->watch.fd == -1) {
			printf("FAIL: cannot watch %s\n", n->cfg->name);
			return -1;
		}
	}
	deadline = mono_ms() + SC_CALL_MS;
	for (live = 0; live < run->nnodes && mono_ms() < deadline;) {
		struct pollfd pfd[SC_MAX_NODES];

		for (i = 0; i < run->nnodes; i++) {
			pfd[i].fd = run->nodes[i].watch.fd;
			pfd[i].events = POLLIN;
		}
		poll(pfd, (nfds_t)run->nnodes, SC_POLL_MS);
		for (i = live = 0; i < run->nnodes; i++) {
			n = &run->nodes[i];
			while (pfd[i].revents && sc_take(&n->watch, &f) == 0 &&
			    f != NULL) {
				if (json_is_true(json_object_get(f, "ok")))
					n->live = 1;
				else
					sc_add_event(run, json_object_get(f,
					    "event"), 0);
				json_decref(f);
			}
		}
		for (i = k = 0; i < run->nnodes; i++)
			k += run->nodes[i].live;
		live = k;
	}
	for (i = 0; i < run->nnodes; i++) {
		if (!run->nodes[i].live) {
			printf("FAIL: %s does not answer its watch\n",
			    run->nodes[i].cfg->name);
			return -1;
		}
	}
	return 0;
}

/* What a run holds: its steps, watches, events and lab file. */
static void
sc_free(struct sc_run *run)
{
	int	i;

	for (i = 0; i < run->nsteps; i++)
		free(run->steps[i].items);
	free(run->steps);
	for (i = 0; i < run->nnodes; i++) {
		sc_conn_close(&run->nodes[i].watch);
		free(run->nodes[i].watch.buf);
	}
	json_decref(run->events);
	json_decref(run->triggers);
	cfg_free(run->cf);
}

static int
run_main(int argc, char *argv[])
{
	struct sc_run	 run;
	struct sigaction sa;
	char		 dir[PGEMU_PATH_MAX], err[600], note[200];
	const char	*tmp;
	json_t		*fo;
	uint64_t	 t0 = mono_ms();
	int		 ch, i, nerrs, failed = -1;

	memset(&run, 0, sizeof(run));
	run.labfile = PGEMU_DEFAULT_CONFIG;
	while ((ch = getopt(argc, argv, "c:o:vh")) != -1) {
		switch (ch) {
		case 'c':
			run.labfile = optarg;
			break;
		case 'o':
			run.outdir = optarg;
			break;
		case 'v':
			run.verbose = 1;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (argc - optind != 1)
		usage(2);
	if ((run.cf = cfg_load(run.labfile, stderr, &nerrs)) == NULL) {
		fprintf(stderr, "pgemu-scenario: the lab file %s has %d "
		    "error%s\n", run.labfile, nerrs, nerrs == 1 ? "" : "s");
		return 2;
	}
	if (sc_load(&run, argv[optind]) == -1) {
		sc_free(&run);
		return 2;
	}
	if (run.outdir == NULL) {
		tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(dir, sizeof(dir), "%s/pgemu-run.XXXXXX", tmp);
		if (mkdtemp(dir) == NULL) {
			fprintf(stderr, "pgemu-scenario: %s: %s\n", dir,
			    strerror(errno));
			sc_free(&run);
			return 2;
		}
		run.outdir = dir;
	} else if (mkdir(run.outdir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "pgemu-scenario: %s: %s\n", run.outdir,
		    strerror(errno));
		sc_free(&run);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sc_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	run.events = json_array();
	run.triggers = json_array();
	for (i = 0; i < run.cf->nnodes && i < SC_MAX_NODES; i++) {
		run.nodes[i].cfg = &run.cf->nodes[i];
		run.nodes[i].watch.fd = -1;
	}
	run.nnodes = i;
	run.t_start = wall_now();
	run.trigger_t = run.t_start;
	run.trigger_ms = mono_ms();
	printf("scenario %s: %d steps, lab %s, reports in %s\n", run.name,
	    run.nsteps, run.labfile, run.outdir);
	fflush(stdout);
	if (sc_lab(&run) == -1)
		failed = 0;
	for (i = 0; i < run.nsteps && failed == -1; i++)
		if (run.steps[i].kind == SC_EXPECT_ROWS &&
		    (run.steps[i].baseline = sc_rows(&run, &run.steps[i], err,
		    sizeof(err))) < 0)
			run.steps[i].baseline = 0;	/* none yet */
	for (i = 0; i < run.nsteps && failed == -1; i++) {
		printf("[%d/%d] ", i + 1, run.nsteps);
		note[0] = err[0] = '\0';
		if (sc_step(&run, &run.steps[i], err, sizeof(err), note,
		    sizeof(note)) == -1) {
			printf("FAIL\n    %s:%d: %s\n", argv[optind],
			    run.steps[i].line, sc_interrupted ? "interrupted" :
			    err[0] ? err : "failed");
			failed = i + 1;
		} else
			printf("ok%s%s%s\n", note[0] ? " (" : "", note,
			    note[0] ? ")" : "");
		fflush(stdout);
	}
	fo = sc_failovers(&run);
	sc_reports(&run, fo);
	json_decref(fo);
	sc_cleanup(&run);
	if (failed == -1)
		printf("PASS: %s (%d steps, %.1f s); reports in %s\n",
		    run.name, run.nsteps, (mono_ms() - t0) / 1000.0,
		    run.outdir);
	else
		printf("FAIL: %s (%s %d of %d); reports in %s\n", run.name,
		    failed ? "step" : "lab, before step", failed ? failed : 1,
		    run.nsteps, run.outdir);
	fflush(stdout);	/* the verdict, whatever happens at exit */
	sc_free(&run);
	return failed == -1 ? 0 : 1;
}

/* "1712345678.5" (epoch seconds) or "HH:MM[:SS]" of today; -1 if not. */
static double
sc_parse_time(const char *s)
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		*end;
	double		 t = strtod(s, &end);
	int		 h, m, sec = 0, n;

	if (end != s && *end == '\0' && t > 0)
		return t;
	if ((sscanf(s, "%d:%d%n:%d%n", &h, &m, &n, &sec, &n) < 2) ||
	    s[n] != '\0' || h > 23 || m > 59 || sec > 60 || h < 0 || m < 0 ||
	    sec < 0)
		return -1;
	localtime_r(&now, &tm);
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	return (double)mktime(&tm);
}

/* The events of a file of JSON lines; NULL (said) if it cannot be read. */
static json_t *
sc_read_events(const char *path)
{
	FILE	*fp;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;
	json_t	*a, *e;
	int	 lineno = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "pgemu-scenario: %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	a = json_array();
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (len <= 1)
			continue;
		if ((e = json_loadb(line, (size_t)len, 0, NULL)) == NULL ||
		    !json_is_object(e)) {
			fprintf(stderr, "pgemu-scenario: %s:%d: not a JSON "
			    "event\n", path, lineno);
			json_decref(e);
			continue;
		}
		json_array_append_new(a, e);
	}
	free(line);
	fclose(fp);
	return a;
}

static int
report_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "from",	required_argument, NULL, 'F' },
		{ "to",		required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	struct sc_run	 run;
	const char	*fmt = "text", *out = NULL, *in = NULL;
	double		 from = 0, to = 0;
	long		 id = 0;
	char		 err[300], *end;
	json_t		*events, *ring, *fo, *r, *e;
	FILE		*fp = stdout;
	size_t		 i, j, first;
	int		 ch, all = 0, nerrs, rc = 0;

	memset(&run, 0, sizeof(run));
	run.labfile = PGEMU_DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "c:f:o:p:ai:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			run.labfile = optarg;
			break;
		case 'f':
			if (!choice_ok("text|json|svg", optarg)) {
				fprintf(stderr, "pgemu-scenario: -f %s: text, "
				    "json or svg\n", optarg);
				usage(2);
			}
			fmt = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			id = strtol(optarg, &end, 10);
			if (*end != '\0' || id <= 0)
				usage(2);
			break;
		case 'a':
			all = 1;
			break;
		case 'i':
			in = optarg;
			break;
		case 'F':
		case 'T':
			if ((ch == 'F' ? (from = sc_parse_time(optarg)) :
			    (to = sc_parse_time(optarg))) < 0) {
				fprintf(stderr, "pgemu-scenario: %s: not a time"
				    " (epoch seconds, or HH:MM[:SS])\n", optarg);
				usage(2);
			}
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (argc != optind || (strcmp(fmt, "svg") == 0 && (out == NULL ||
	    all)))
		usage(2);
	if ((run.cf = cfg_load(run.labfile, stderr, &nerrs)) == NULL) {
		fprintf(stderr, "pgemu-scenario: the lab file %s has %d "
		    "error%s\n", run.labfile, nerrs, nerrs == 1 ? "" : "s");
		return 2;
	}
	if (in != NULL) {
		if ((events = sc_read_events(in)) == NULL) {
			cfg_free(run.cf);
			return 1;
		}
	} else {
		events = json_array();
		for (i = 0; i < (size_t)run.cf->nnodes; i++) {
			ring = sc_call(&run, run.cf->nodes[i].name, err,
			    sizeof(err), 2, (const char *[]){ "events",
			    "512" });
			if (ring == NULL) {
				fprintf(stderr, "pgemu-scenario: %s (its events"
				    " are left out)\n", err);
				continue;
			}
			json_array_foreach(ring, j, e)
				json_array_append(events, e);
			json_decref(ring);
		}
	}
	fo = report_failovers(events, run.cf, (int)id, from, to, NULL);
	if (json_array_size(fo) == 0) {
		fprintf(stderr, "pgemu-scenario: no failover in %zu events%s\n",
		    json_array_size(events), from || to ? " of that time" : "");
		rc = 1;
		goto out;
	}
	first = all ? 0 : json_array_size(fo) - 1;
	if (out != NULL && strcmp(fmt, "svg") != 0 &&
	    (fp = fopen(out, "w")) == NULL) {
		fprintf(stderr, "pgemu-scenario: %s: %s\n", out,
		    strerror(errno));
		rc = 1;
		goto out;
	}
	if (strcmp(fmt, "svg") == 0) {
		if (report_svg(out, json_array_get(fo, first), err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "pgemu-scenario: %s\n", err);
			rc = 1;
		}
	} else if (strcmp(fmt, "json") == 0) {
		r = all ? fo : json_array_get(fo, first);
		json_dumpf(r, fp, JSON_INDENT(2));
		fputc('\n', fp);
	} else
		for (i = first; i < json_array_size(fo); i++) {
			if (i > first)
				fputc('\n', fp);
			report_text(fp, json_array_get(fo, i));
		}
	if (fp != stdout)
		fclose(fp);
out:
	json_decref(fo);
	json_decref(events);
	cfg_free(run.cf);
	return rc;
}

int
main(int argc, char *argv[])
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "report") == 0)
		return report_main(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0))
		usage(0);
	usage(2);
}
