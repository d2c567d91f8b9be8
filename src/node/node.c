/*
 * The node runtime every role shares: the role's start from the registry
 * (role.c), the links and listeners of the node and their messages to the
 * role's table, the control socket and the commands of every node
 * (status, events, fault, reload, help) beside the role's, what the
 * service manager is told (READY=1, STATUS=, ...), and reload with a
 * per-link diff.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgemu.h"
#include "wire.h"

static int	node_dispatch(void *, int, const char **,
		    struct ctl_cmd_result *);
static void	node_set_summary(struct node *, const char *, ...)
		    __printflike(2, 3);
static void	node_summary_cb(evutil_socket_t, short, void *);
static void	node_summary_later(struct node *);
static json_t	*node_busy_json(const struct node *);

static void
node_evt_sink(json_t *e, void *arg)
{
	struct node	*n = arg;

	if (n->ctl != NULL)
		ctl_publish(n->ctl, e);
	hooks_event(n->hooks, n->cfg, n->self->name, e);
}

/*
 * The state directory of a router (history database), a PG side (spool)
 * or an app node (pending table): made if only its last component is
 * missing, and writable.
 */
static int
node_state_dir(const char *dir, char *err, size_t errlen)
{
	struct stat	st;

	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: cannot create it: "
		    "%s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "state directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s: not a directory",
		    dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "state directory %s: cannot write in it: "
		    "%s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Everything the node needs, in an order that touches no peer before it
 * can run: the control socket first (another pgemud serving this node
 * answers there), the state directory, then the role's listeners, files
 * and links; the links it opens connect only once all of that succeeded.
 * On failure err says why and nothing is left behind.
 */
struct node *
node_new(struct event_base *base, struct cfg *cf, const char *name,
    char *err, size_t errlen)
{
	struct node		*n;
	const struct cfg_node	*self;
	int			 i;

	if ((self = cfg_node(cf, name)) == NULL) {
		snprintf(err, errlen, "%s: no node \"%s\" in the lab file",
		    cf->file, name);
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->base = base;
	n->cfg = cf;
	n->self = self;
	n->role = roles[self->role].ops;
	mono_now(&n->started);
	n->ev_summary = event_new(base, -1, 0, node_summary_cb, n);
	n->hooks = hooks_new(base);
	log_set_node(name);
	proto_lab_set_identity(name, cf->lab_name, self->role == ROLE_PG ?
	    self->side : '-');
	evt_set_sink(node_evt_sink, n);
	listener_set_limits(cf->max_pending, cf->log_rate);
	link_set_max_output((size_t)cf->max_output);
	n->ctl = ctl_new(base, cf->control_dir, name, node_dispatch, n, err,
	    errlen);
	if (n->ctl != NULL)
		ctl_set_limits(n->ctl, cf->ctl_max_clients, cf->ctl_idle_ms);
	if (n->ctl == NULL ||
	    ((self->role == ROLE_ROUTER || self->role == ROLE_PG ||
	    self->role == ROLE_APP || cf->key_file[0] != '\0') &&
	    node_state_dir(cf->state_dir, err, errlen) == -1) ||
	    (cf->key_file[0] != '\0' &&
	    auth_load(cf->key_file, 1, err, errlen) == -1) ||
	    n->role->init(n, err, errlen) == -1) {
		node_free(n);
		return NULL;
	}
	for (i = 0; i < n->nlinks; i++)
		if (n->links[i]->client)
			link_fsm(n->links[i], LEV_START, NULL);
	return n;
}

void
node_free(struct node *n)
{
	int	i;

	if (n == NULL)
		return;
	if (n->role != NULL && n->role_data != NULL)
		n->role->fini(n);
	for (i = 0; i < n->nlinks; i++)
		link_free(n->links[i]);
	free(n->links);
	for (i = 0; i < n->nlisteners; i++)
		listener_free(n->listeners[i]);
	free(n->listeners);
	ctl_free(n->ctl);
	hooks_free(n->hooks);
	n->hooks = NULL;
	event_free(n->ev_summary);
	evt_set_sink(NULL, NULL);
	free(n);
}

/* A link the node frees, lists, starts and faults with the others. */
struct link *
node_add_link(struct node *n, struct link *l)
{
	n->links = xreallocarray(n->links, (size_t)n->nlinks + 1,
	    sizeof(*n->links));
	n->links[n->nlinks++] = l;
	return l;
}

static struct link *
node_link(struct node *n, const char *name)
{
	int	i;

	for (i = 0; i < n->nlinks; i++)
		if (strcmp(n->links[i]->name, name) == 0)
			return n->links[i];
	if (n->role->find_link != NULL && n->role_data != NULL)
		return n->role->find_link(n, name);
	return NULL;
}

/*
 * Room for need descriptors: the soft limit raised to the hard one if it
 * is lower.  -1, with what to do in err, when even the hard limit is
 * short.
 */
int
node_raise_nofile(int need, char *err, size_t errlen)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE): %s",
		    strerror(errno));
		return -1;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			snprintf(err, errlen, "setrlimit(RLIMIT_NOFILE, %llu): "
			    "%s", (unsigned long long)rl.rlim_max,
			    strerror(errno));
			return -1;
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
		snprintf(err, errlen, "%d file descriptors needed, the limit "
		    "is %llu (hard %llu): raise it (ulimit -n, or "
		    "LimitNOFILE= of the unit)", need,
		    (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
		return -1;
	}
	return 0;
}

static struct listener *
node_add_listener(struct node *n, struct listener *lst)
{
	n->listeners = xreallocarray(n->listeners, (size_t)n->nlisteners + 1,
	    sizeof(*n->listeners));
	n->listeners[n->nlisteners++] = lst;
	return lst;
}

/*
 * Tell the service manager (READY=1, STATUS=, WATCHDOG=1, RELOADING=1,
 * STOPPING=1), the one way every part of pgemud does, without ever
 * blocking: systemd drains its socket, but a supervisor that does not
 * would stop the daemon in sd_notify(), with its links and watchdog.  A
 * line that cannot go now is dropped (the next one says more).
 */
void
node_notify(const char *fmt, ...)
{
	static int		 dropping;
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;
	char			 msg[512];
	va_list			 ap;
	int			 fd, n;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return;
	if (sendto(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n :
	    sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1) {
		if (!dropping++)
			log_debug("notify: %.*s not sent: %s; dropping the "
			    "next ones until %s takes them", (int)strcspn(msg,
			    "="), msg, strerror(errno), path);
	} else if (dropping) {
		log_debug("notify: %s takes messages again (%d dropped)",
		    path, dropping);
		dropping = 0;
	}
	close(fd);
}

/* The one-line status systemd shows; sent only when it changes. */
static void
node_set_summary(struct node *n, const char *fmt, ...)
{
	char	buf[sizeof(n->summary)];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, n->summary) == 0)
		return;
	snprintf(n->summary, sizeof(n->summary), "%s", buf);
	node_notify("STATUS=%s", buf);
}

/*
 * A listener heard a peer say who it is: which of our server-side links
 * is it for?  NULL, with the reason, refuses the connection.
 */
static struct link *
node_match_peer(struct node *n, const struct link_peer_id *id, char *err,
    size_t errlen)
{
	int	i;

	if (strcmp(id->lab, n->cfg->lab_name) != 0) {
		snprintf(err, errlen, "node %s belongs to lab \"%s\", not "
		    "\"%s\"", id->node, id->lab, n->cfg->lab_name);
		return NULL;
	}
	for (i = 0; i < n->nlinks; i++) {
		struct link *l = n->links[i];

		if (l->client || strcmp(l->peer_node, id->node) != 0)
			continue;
		if (l->admin_down || l->frozen) {
			snprintf(err, errlen, "link %s is %s by a fault",
			    l->name, l->admin_down ? "down" : "frozen");
			return NULL;
		}
		/*
		 * A peer that is connected and alive keeps its link: a
		 * second connection in its name waits until the first is
		 * gone (closed, or silent for two heartbeat intervals).
		 */
		if (link_is_up(l) && !link_check_gone(l) &&
		    mono_us() - l->heard_us <
		    2 * (uint64_t)l->hb.interval_ms * 1000) {
			snprintf(err, errlen, "node %s is connected already "
			    "(link %s from %s, heard %llu ms ago): refused until "
			    "that connection is gone", id->node, l->name,
			    l->peer_addr, (unsigned long long)((mono_us() -
			    l->heard_us) / 1000));
			return NULL;
		}
		return l;
	}
	snprintf(err, errlen, "node \"%s\" has no link to this node",
	    id->node);
	return NULL;
}

static json_t *
node_status(struct node *n)
{
	json_t	*links = json_array(), *lsts = json_array(), *j;
	int	 i;

	for (i = 0; i < n->nlinks; i++)
		json_array_append_new(links, link_json(n->links[i]));
	for (i = 0; i < n->nlisteners; i++)
		json_array_append_new(lsts, listener_json(n->listeners[i]));
	j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:f, s:s, s:I, s:o, "
	    "s:o, s:i}",
	    "node", n->self->name,
	    "role", roles[n->self->role].name,
	    "lab", n->cfg->lab_name,
	    "config", n->cfg->file,
	    "pid", (int)getpid(),
	    "version", PACKAGE_VERSION,
	    "uptime", mono_since(&n->started),
	    "summary", node_update_summary(n),
	    "events", (json_int_t)evt_count(),
	    "links", links,
	    "listeners", lsts,
	    "watchers", ctl_nwatchers(n->ctl));
	json_object_set_new(j, "hooks", hooks_json(n->hooks));
	json_object_set_new(j, "loop", node_busy_json(n));
	if (n->self->role == ROLE_PG || n->self->role == ROLE_DESK)
		json_object_set_new(j, "side", json_sprintf("%c",
		    n->self->side));
	if (n->role->status != NULL)
		n->role->status(n, j);
	return j;
}

static int
node_cmd_status(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	(void)argc;
	(void)argv;
	res->data = node_status(n);
	return 0;
}

static int
node_cmd_events(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	long	count = 100;

	(void)n;
	if (argc == 2 && parse_int(argv[1], 1, 100000, &count) == -1) {
		snprintf(res->err, sizeof(res->err), "events: bad count "
		    "\"%s\"", argv[1]);
		return -1;
	}
	res->data = evt_recent((size_t)count);
	return 0;
}

static int
node_cmd_fault(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct link	*l;
	size_t		 o;
	int		 i;

	(void)argc;
	if ((l = node_link(n, argv[1])) == NULL) {
		o = (size_t)snprintf(res->err, sizeof(res->err), "no link "
		    "\"%s\" on node %s; links:", argv[1], n->self->name);
		for (i = 0; i < n->nlinks && o < sizeof(res->err); i++)
			o += (size_t)snprintf(res->err + o, sizeof(res->err) -
			    o, " %s", n->links[i]->name);
		return -1;
	}
	if (link_fault(l, argv[2], res->err, sizeof(res->err)) == -1)
		return -1;
	res->data = link_json(l);
	return 0;
}

static int
node_cmd_reload(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	(void)argc;
	(void)argv;
	if (node_reload(n, n->cfg->file, res->err, sizeof(res->err)) == -1)
		return -1;
	res->data = json_pack("{s:s}", "config", n->cfg->file);
	return 0;
}

static int
node_cmd_help(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	(void)argc;
	(void)argv;
	res->data = cmd_json((int)n->self->role);
	return 0;
}

/* The commands of every node; "watch" is the control socket's (ctl.c). */
const struct cmd node_cmds[] = {
	{ "status", "", 0, 0, node_cmd_status,
	  "node, role, uptime, links, counters" },
	{ "watch", "", 0, 0, NULL,
	  "events as they happen, until ^C" },
	{ "events", "[N]", 0, 1, node_cmd_events,
	  "the last N events (default 100)" },
	{ "fault", "LINK down|up|freeze|thaw", 2, 2, node_cmd_fault,
	  "cut, restore, hang or release a link" },
	{ "reload", "", 0, 0, node_cmd_reload,
	  "re-read the lab file" },
	{ "help", "", 0, 0, node_cmd_help,
	  "the node's commands, what each does" },
	{ NULL, NULL, 0, 0, NULL, NULL }
};

/*
 * A control command: its row of every node's commands or the role's, and
 * the row's handler.  Words that fit no row, or that the handler finds do
 * not fit (CMD_USAGE), get an error naming the valid ones.
 */
static int
node_dispatch(void *arg, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct node		*n = arg;
	const struct cmd	*tabs[] = { node_cmds, n->role->cmds, NULL };
	const struct cmd	*c;
	int			 rc;

	if ((c = cmd_find(tabs, argc, argv, n->self->name, res->err,
	    sizeof(res->err))) == NULL)
		return -1;
	if (c->fn == NULL || (rc = c->fn(n, argc, argv, res)) == CMD_USAGE) {
		cmd_usage(tabs, argv[0], res->err, sizeof(res->err));
		return -1;
	}
	return rc;
}

/* The same peripheral with the same agents, in the same order? */
static int
node_same_agents(const struct cfg *a, const struct cfg *b)
{
	int	i;

	if (a->peripheral_id != b->peripheral_id || a->nagents != b->nagents)
		return 0;
	for (i = 0; i < a->nagents; i++)
		if (a->agents[i].id != b->agents[i].id)
			return 0;
	return 1;
}

/*
 * Re-read the lab file aside.  On any error keep the old one.  Otherwise
 * compare link by link: a link whose peer moved is restarted, every other
 * link keeps its connection and only takes the new timers.
 */
int
node_reload(struct node *n, const char *path, char *err, size_t errlen)
{
	char			 file[PGEMU_PATH_MAX];
	struct cfg		*ncf, *old = n->cfg;
	const struct cfg_node	*nself, *peer;
	char			*ebuf = NULL;
	size_t			 esize = 0;
	FILE			*errs;
	int			 nerrs, i, kept = 0, restarted = 0;

	snprintf(file, sizeof(file), "%s", path);	/* may be old->file */
	node_notify("RELOADING=1");
	if ((errs = open_memstream(&ebuf, &esize)) == NULL)
		fatal("open_memstream");
	ncf = cfg_load(file, errs, &nerrs);
	fclose(errs);
	if (ncf == NULL) {
		char *line, *save = NULL;

		log_warnx("config has errors, not reloading");
		for (line = strtok_r(ebuf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_warnx("%s", line);
		snprintf(err, errlen, "config has %d error%s, not reloading%s%s",
		    nerrs, nerrs == 1 ? "" : "s", ebuf[0] ? ": " : "", ebuf);
		free(ebuf);
		node_notify("READY=1");
		return -1;
	}
	free(ebuf);
	nself = cfg_node(ncf, n->self->name);
	if (nself == NULL || nself->role != n->self->role ||
	    nself->side != n->self->side ||
	    strcmp(nself->address, n->self->address) != 0 ||
	    nself->port != n->self->port ||
	    strcmp(ncf->lab_name, old->lab_name) != 0 ||
	    strcmp(ncf->control_dir, old->control_dir) != 0) {
		snprintf(err, errlen, "node %s: its role, side, address, port, "
		    "lab name or control directory changed; restart it",
		    n->self->name);
		log_warnx("config not reloaded: %s", err);
		cfg_free(ncf);
		node_notify("READY=1");
		return -1;
	}
	for (i = 0; i < n->nlinks; i++) {
		struct link *l = n->links[i];

		link_reconfigure(l, ncf);
		peer = cfg_node(ncf, l->peer_node);
		if (l->client && peer != NULL &&
		    link_endpoint_differs(l, peer->address, peer->port)) {
			snprintf(l->address, sizeof(l->address), "%s",
			    peer->address);
			l->port = peer->port;
			link_fsm(l, LEV_STOP, "peer address changed");
			link_fsm(l, LEV_START, NULL);
			restarted++;
		} else
			kept++;
	}
	if (!node_same_agents(old, ncf))
		log_warnx("the peripheral or its agents changed: that takes "
		    "effect when the node restarts");
	cfg_keep_periphs(ncf, old);
	n->cfg = ncf;
	ctl_set_limits(n->ctl, ncf->ctl_max_clients, ncf->ctl_idle_ms);
	listener_set_limits(ncf->max_pending, ncf->log_rate);
	link_set_max_output((size_t)ncf->max_output);
	if (strcmp(ncf->key_file, old->key_file) != 0)
		log_warnx("lab.key_file changed: the key is read when the node "
		    "starts");
	n->self = nself;
	if (n->role->reload != NULL)
		n->role->reload(n, old);
	cfg_free(old);
	evt_emit(RULE_NONE, "config_reloaded", json_pack("{s:s, s:i, s:i}",
	    "config", file, "links_kept", kept, "links_restarted", restarted),
	    "config %s reloaded: %d link%s kept, %d restarted", file, kept,
	    kept == 1 ? "" : "s", restarted);
	node_notify("READY=1");
	return 0;
}

static void
node_link_up(struct link *l, void *arg)
{
	struct node	*n = arg;

	if (n->role->link_up != NULL)
		n->role->link_up(n, l);
	node_summary_later(n);
}

static void
node_link_down(struct link *l, void *arg, const char *why)
{
	struct node	*n = arg;

	if (n->role->link_down != NULL)
		n->role->link_down(n, l, why);
	node_summary_later(n);
}

static const uint64_t node_busy_bounds_us[NODE_BUSY_NBUCKETS - 1] = {
	1000, 2000, 5000, 10000, 20000, 50000, 100000
};

/*
 * One piece of work, begun at since (mono_us), is done: how long it held
 * the loop, counted.  Two clock reads a message: what a target such as
 * "an interval close never blocks the router's loop for more than 5 ms"
 * is measured with.
 */
void
node_busy(struct node *n, const char *what, uint64_t since)
{
	uint64_t	us = mono_us() - since;
	int		i;

	for (i = 0; i < NODE_BUSY_NBUCKETS - 1; i++)
		if (us <= node_busy_bounds_us[i])
			break;
	n->busy_hist[i]++;
	snprintf(n->busy_last[i], sizeof(n->busy_last[i]), "%s", what);
	if (us > n->busy_max_us) {
		n->busy_max_us = us;
		snprintf(n->busy_max_what, sizeof(n->busy_max_what), "%s",
		    what);
	}
}

static json_t *
node_busy_json(const struct node *n)
{
	json_t	*h = json_array(), *last = json_array();
	int	 i;

	for (i = 0; i < NODE_BUSY_NBUCKETS; i++) {
		json_array_append_new(h, json_integer((json_int_t)
		    n->busy_hist[i]));
		json_array_append_new(last, json_string(n->busy_last[i]));
	}
	return json_pack("{s:f, s:s, s:[i, i, i, i, i, i, i], s:o, s:o}",
	    "longest_ms", (double)n->busy_max_us / 1000.0,
	    "longest_what", n->busy_max_what,
	    "bounds_ms", 1, 2, 5, 10, 20, 50, 100, "counts", h, "last", last);
}

/* A message for the role: its row of the role's table, else ignored. */
static void
node_link_msg(struct link *l, void *arg, const struct wire_msg *m)
{
	struct role_msg_in	 in = { arg, l, m, "" };
	const struct role_msg	*rm;
	union msg_body		 b;
	uint64_t		 t0 = mono_us();

	if ((rm = role_msg_find(in.node->role->msgs, m->type,
	    l->kind)) == NULL) {
		log_link_debug(l, "%s ignored", wire_type_name(m->type));
		return;
	}
	if (rm->decode(m, &b, in.err, sizeof(in.err)) == -1 ||
	    rm->fn(&in, &b) == -1)
		link_bad_msg(l, m, in.err);
	node_busy(in.node, wire_type_name(m->type), t0);
}

const struct link_ops node_link_ops = {
	node_link_up, node_link_down, node_link_msg
};

/* A link of this node to peer, named name; node_new() starts it. */
struct link *
node_new_link(struct node *n, const char *name, const struct cfg_node *peer,
    enum link_kind kind, int client)
{
	struct link	*l;

	l = link_new(n->base, name, peer->name, kind, client, peer->address,
	    peer->port, n->cfg, &proto_lab, &node_link_ops, n);
	node_add_link(n, l);
	return l;
}

static struct link *
node_listener_match(void *arg, const struct link_peer_id *id, char *err,
    size_t errlen)
{
	return node_match_peer(arg, id, err, errlen);
}

/* Listen on this node's own address, at port. */
int
node_listen(struct node *n, const char *name, int port, char *err,
    size_t errlen)
{
	struct listener	*lst;

	lst = listener_new(n->base, name, n->self->address, port, &proto_lab,
	    n->cfg->max_message, node_listener_match, n, err, errlen);
	if (lst == NULL)
		return -1;
	node_add_listener(n, lst);
	return 0;
}

/*
 * STATUS=: the role's own words, then every link and its state; the
 * summary as it is now.
 */
const char *
node_update_summary(struct node *n)
{
	char	buf[200] = "";
	size_t	o = 0;
	int	i;

	if (n->role->summary != NULL)
		n->role->summary(n, buf, sizeof(buf));
	o = strlen(buf);
	for (i = 0; i < n->nlinks && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s %s",
		    o ? (i ? ", " : "; ") : "", n->links[i]->name,
		    link_state_names[n->links[i]->state]);
	node_set_summary(n, "%s", buf);
	return n->summary;
}

static void
node_summary_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_update_summary(arg);
}

/*
 * Links up and down change the summary: told once this turn of the loop
 * is done, one STATUS= for all of its changes (10,000 desktops logging in
 * to a desktop server are a few, not 10,000 datagrams).
 */
static void
node_summary_later(struct node *n)
{
	if (!event_pending(n->ev_summary, EV_TIMEOUT, NULL))
		event_active(n->ev_summary, EV_TIMEOUT, 0);
}
