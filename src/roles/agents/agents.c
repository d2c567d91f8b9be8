/*
 * The agents node: the agents' desktops, one TCP connection each (that is
 * what a desktop is), up to tens of thousands in one process.  Each
 * desktop is a client link (proto_desktop) to the primary desktop server
 * (desk A) with the backup (desk B) as its second endpoint: when its
 * server is lost (closed, refused, silent past the hold) it tries the
 * other one, in turn, with the link's back-off.
 *
 * A desktop remembers its agent's last state and the state before the
 * current call (DESKTOP_STATE of the voice MRD), and its state in each
 * non-voice MRD it signs in to.  At its first login it asks for the lab
 * file's initial state; after losing its server, for Table 2's state
 * (agent_after_desktop_failover: R11) with the relogin flag (R10).  The
 * losses and the logins again of one burst make one event each.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"

#define AGENTS_BURST_MS		200	/* losses this close: one burst */
#define AGENTS_SETTLE_MS	5000	/* no login again for this long */

struct agents;

struct desktop {
	uint32_t	 id;		/* first: the sort key */
	uint32_t	 peripheral;
	int		 initial_state;	/* at its first login */
	uint32_t	 mrds[DESKTOP_MRDS_MAX];
	int		 nmrds;
	int		 mrd_state[DESKTOP_MRDS_MAX];	/* non-voice ones */
	int32_t		 mrd_reason[DESKTOP_MRDS_MAX];
	struct link	*link;
	struct agents	*ags;
	char		 server[PGEMU_NAME_MAX];	/* the one it is on */

	int		 state;		/* AS_*, AS_UNKNOWN before any */
	int		 before_call;
	int32_t		 reason;
	int		 last_in;	/* last logged-in state, or -1 */
	int		 last_before;	/* its before-call state */
	int32_t		 last_reason;	/* of its last Not Ready */
	int		 user_out;	/* logged out through the desktop */
	int		 asked;		/* the state its login asked for */
	int		 lost;		/* lost its server, not back yet */
	int		 welcomed;	/* a server took it once: relogins */
	struct timespec	 since;
};

struct agents {
	struct node	*node;
	struct desktop	*dts;
	int		 ndts;

	/* The losses of one burst (R9), the logins again after it (R10). */
	struct event	*ev_lost;
	int		 lost;
	char		 lost_server[PGEMU_NAME_MAX];
	char		 lost_why[160];
	uint64_t	 burst_ms;	/* the first loss of the burst */
	uint64_t	 back_ms;	/* the last relogin of the burst */
	double		 back_wall;	/* the same, wall clock */
	int		 pending;	/* lost, not logged in again yet */
	int		 back;		/* logged in again */
	char		 back_server[PGEMU_NAME_MAX];
	struct event	*ev_settle;
};

static struct desktop *
agents_desktop(struct agents *a, uint32_t id)
{
	return bsearch(&id, a->dts, (size_t)a->ndts, sizeof(*a->dts),
	    cmp_u32_key);
}

/* The state a login asks for: the lab's at first, then Table 2 (R11). */
static int
desktop_wanted(const struct desktop *dt)
{
	if (dt->user_out)
		return AS_LOGOUT;
	if (dt->last_in == -1)
		return dt->initial_state;
	return agent_after_desktop_failover(dt->last_in, dt->last_before);
}

/* The desktop connected: DESKTOP_LOGIN, its greeting. */
static void
desktop_greeting(struct link *l)
{
	struct desktop		*dt = l->data;
	struct msg_desktop_login lg;
	struct wire_writer	 w;
	int			 i;

	memset(&lg, 0, sizeof(lg));
	lg.agent = dt->id;
	lg.peripheral = dt->peripheral;
	dt->asked = desktop_wanted(dt);
	lg.state = (uint16_t)dt->asked;
	if (dt->asked == AS_NOT_READY)
		lg.reason = dt->last_reason;
	lg.flags = dt->welcomed ? DESKTOP_RELOGIN : 0;
	lg.nmrds = (uint16_t)dt->nmrds;
	for (i = 0; i < dt->nmrds; i++)
		lg.mrds[i] = dt->mrds[i];
	msg_desktop_login_encode(&w, &lg);
	link_send(l, &w);
}

/* The losses of a burst (R9): one event, told before any relogin. */
static void
agents_lost_event(struct agents *a)
{
	event_del(a->ev_lost);
	if (a->lost == 0)
		return;
	evt_emit(RULE_R9, "desktop_lost", json_pack("{s:i, s:s, s:s}",
	    "desktops", a->lost, "server", a->lost_server, "reason",
	    a->lost_why), "%d desktop%s lost %s (%s): logged out there",
	    a->lost, a->lost == 1 ? "" : "s", a->lost_server, a->lost_why);
	a->lost = 0;
}

/* The relogins of a burst: one event, when all are back or it settles. */
static void
agents_relogin_event(struct agents *a)
{
	uint64_t	ms = a->back_ms - a->burst_ms;

	if (a->back == 0)
		return;
	/* Back sooner than the losses' burst closed: the losses first. */
	agents_lost_event(a);
	evt_emit(RULE_R10, "desktop_relogin", json_pack("{s:i, s:i, s:s, "
	    "s:I, s:f}", "agents", a->back, "missing", a->pending, "server",
	    a->back_server, "ms", (json_int_t)ms, "last_back", a->back_wall),
	    "%d agent%s logged back in through %s in %llu ms%s", a->back,
	    a->back == 1 ? "" : "s", a->back_server, (unsigned long long)ms,
	    a->pending ? " (some not yet)" : "");
	a->back = 0;
	if (a->pending == 0)
		event_del(a->ev_settle);
}

static void
agents_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	agents_relogin_event(arg);
}

static void
agents_lost_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agents	*a = arg;

	(void)fd;
	(void)what;
	agents_lost_event(a);
	if (a->pending == 0)
		agents_relogin_event(a);
}

/* R9 seen from the desktop: its server is gone. */
static void
agents_link_down(struct node *n, struct link *l, const char *why)
{
	struct agents	*a = n->role_data;
	struct desktop	*dt = l->data;
	struct timeval	 tv;

	if (dt == NULL || dt->lost)
		return;
	dt->lost = 1;
	/* A new burst, unless this one's losses are still coming (some
	   may be back already, before the others' losses are read). */
	if (a->pending++ == 0 && !evtimer_pending(a->ev_lost, NULL)) {
		a->burst_ms = mono_ms();
		a->back = 0;
	}
	if (a->lost++ == 0) {
		snprintf(a->lost_server, sizeof(a->lost_server), "%s",
		    dt->server);
		snprintf(a->lost_why, sizeof(a->lost_why), "%s", why);
	}
	/* The burst closes AGENTS_BURST_MS after its last loss. */
	ms_to_tv(AGENTS_BURST_MS, &tv);
	evtimer_add(a->ev_lost, &tv);
	mono_now(&dt->since);
}

/* DESKTOP_WELCOME: the server that took the desktop. */
static int
agents_msg_welcome(struct role_msg_in *in, const union msg_body *b)
{
	struct desktop	*dt = in->link->data;

	snprintf(dt->server, sizeof(dt->server), "%s",
	    b->desktop_welcome.server);
	dt->welcomed = 1;
	return 0;
}

/*
 * DESKTOP_STATE: the agent's state in a non-voice MRD, kept; in the
 * voice MRD, back after a loss (R10, R11)?
 */
static int
agents_msg_state(struct role_msg_in *in, const union msg_body *b)
{
	struct agents			*a = in->node->role_data;
	struct desktop			*dt = in->link->data;
	const struct msg_desktop_state	*s = &b->desktop_state;
	struct timeval			 tv;
	int				 i;

	if (!cfg_mrd_voice(in->node->cfg, (int)s->mrd)) {
		for (i = 0; i < dt->nmrds && dt->mrds[i] != s->mrd; i++)
			;
		if (i == dt->nmrds)
			log_link_debug(in->link, "state of MRD %u ignored: "
			    "not one of the desktop's", s->mrd);
		else {
			dt->mrd_state[i] = s->state;
			dt->mrd_reason[i] = s->reason;
		}
		return 0;
	}

	dt->state = s->state;
	dt->before_call = s->before_call;
	dt->reason = s->reason;
	mono_now(&dt->since);
	if (agent_logged_in(s->state) && s->state != AS_LOGIN) {
		dt->last_in = s->state;
		dt->last_before = s->before_call;
	}
	if (s->state == AS_NOT_READY)
		dt->last_reason = s->reason;
	if (!dt->lost || s->state != dt->asked)
		return 0;
	dt->lost = 0;
	a->pending--;
	a->back++;
	a->back_ms = mono_ms();
	a->back_wall = wall_now();
	snprintf(a->back_server, sizeof(a->back_server), "%s", dt->server);
	/* All back; told once the burst of losses has closed (some may be
	   back before the others' losses are even read). */
	if (a->pending == 0 && !evtimer_pending(a->ev_lost, NULL))
		agents_relogin_event(a);
	else {
		ms_to_tv(AGENTS_SETTLE_MS, &tv);
		evtimer_add(a->ev_settle, &tv);
	}
	return 0;
}

static int
agents_init(struct node *n, char *err, size_t errlen)
{
	struct agents		*a = xcalloc(1, sizeof(*a));
	const struct cfg_node	*da, *db;
	int			 i, j, k;

	a->node = n;
	n->role_data = a;
	da = cfg_node_role(n->cfg, ROLE_DESK, 'A');
	db = cfg_node_role(n->cfg, ROLE_DESK, 'B');
	for (i = 0; i < n->cfg->nperiphs; i++)
		for (j = 0; j < n->cfg->periphs[i].nagents; j++)
			a->ndts += n->cfg->periphs[i].agents[j].desktop;
	if (node_raise_nofile(a->ndts + 64, err, errlen) == -1) {
		char why[200];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "cannot hold %d desktops: %s", a->ndts,
		    why);
		return -1;
	}
	a->dts = xcalloc((size_t)a->ndts + 1, sizeof(*a->dts));
	a->ndts = 0;
	for (i = 0; i < n->cfg->nperiphs; i++)
		for (j = 0; j < n->cfg->periphs[i].nagents; j++) {
			const struct cfg_agent *ca =
			    &n->cfg->periphs[i].agents[j];
			struct desktop *dt;

			if (!ca->desktop)
				continue;
			dt = &a->dts[a->ndts++];
			dt->id = (uint32_t)ca->id;
			dt->peripheral = (uint32_t)n->cfg->periphs[i].id;
			dt->initial_state = ca->initial_state;
			for (k = 0; k < ca->nmrds; k++)
				dt->mrds[dt->nmrds++] = (uint32_t)ca->mrds[k];
			if (dt->nmrds == 0)
				dt->mrds[dt->nmrds++] =
				    (uint32_t)n->cfg->voice_mrd;
		}
	qsort(a->dts, (size_t)a->ndts, sizeof(*a->dts), cmp_u32_key);
	proto_desktop_set_greeting(desktop_greeting);
	for (i = 0; i < a->ndts; i++) {
		struct desktop	*dt = &a->dts[i];
		char		 name[PGEMU_NAME_MAX];

		dt->ags = a;
		dt->state = dt->before_call = AS_UNKNOWN;
		for (j = 0; j < dt->nmrds; j++)
			dt->mrd_state[j] = AS_UNKNOWN;
		dt->last_in = dt->last_before = -1;
		mono_now(&dt->since);
		snprintf(name, sizeof(name), "%u", dt->id);
		dt->link = link_new(n->base, name, da->name, LINK_KIND_DESKTOP,
		    1, da->address, da->port, n->cfg, &proto_desktop,
		    &node_link_ops, n);
		dt->link->data = dt;
		dt->link->quiet = 1;
		if (db != NULL)
			link_set_alt_port(dt->link, db->port);
	}
	a->ev_lost = evtimer_new(n->base, agents_lost_cb, a);
	a->ev_settle = evtimer_new(n->base, agents_settle_cb, a);
	for (i = 0; i < a->ndts; i++)
		link_fsm(a->dts[i].link, LEV_START, NULL);
	return 0;
}

/* Also after an init that failed half way: what was not made is NULL. */
static void
agents_fini(struct node *n)
{
	struct agents	*a = n->role_data;
	int		 i;

	for (i = 0; a->dts != NULL && i < a->ndts; i++)
		link_free(a->dts[i].link);
	free(a->dts);
	if (a->ev_lost != NULL)
		event_free(a->ev_lost);
	if (a->ev_settle != NULL)
		event_free(a->ev_settle);
	free(a);
	n->role_data = NULL;
}

/* Which server a desktop's link is on now, by its port. */
static const char *
desktop_server(const struct node *n, const struct desktop *dt)
{
	const struct cfg_node *db = cfg_node_role(n->cfg, ROLE_DESK, 'B');

	if (!link_is_up(dt->link))
		return NULL;
	if (dt->server[0] != '\0')
		return dt->server;
	return db != NULL && dt->link->port == db->port ? db->name :
	    dt->link->peer_node;
}

static void
agents_status(struct node *n, json_t *j)
{
	struct agents	*a = n->role_data;
	json_t		*servers = json_object(), *states = json_object();
	const char	*srv, *st;
	int		 i, in = 0, up = 0;

	for (i = 0; i < a->ndts; i++) {
		const struct desktop *dt = &a->dts[i];

		if ((srv = desktop_server(n, dt)) != NULL) {
			up++;
			json_object_set_new(servers, srv, json_integer(
			    json_integer_value(json_object_get(servers,
			    srv)) + 1));
		}
		st = agent_state_name(dt->state);
		json_object_set_new(states, st, json_integer(
		    json_integer_value(json_object_get(states, st)) + 1));
		in += dt->state != AS_UNKNOWN && agent_logged_in(dt->state);
	}
	json_object_set_new(j, "agents", json_pack("{s:i, s:i, s:o, s:i, "
	    "s:o, s:i}", "desktops", a->ndts, "connected", up, "servers",
	    servers, "logged_in", in, "states", states, "lost", a->pending));
}

/* Its MRDs: [{mrd, media, state, reason}], the voice MRD's the agent's. */
static json_t *
desktop_mrds_json(const struct node *n, const struct desktop *dt)
{
	const struct cfg_mrd	*cm;
	json_t			*a = json_array();
	int			 i, voice;

	for (i = 0; i < dt->nmrds; i++) {
		cm = cfg_mrd(n->cfg, (int)dt->mrds[i]);
		voice = cfg_mrd_voice(n->cfg, (int)dt->mrds[i]);
		json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:i}",
		    "mrd", (int)dt->mrds[i], "media", cm != NULL ? cm->media :
		    "voice", "state", agent_state_name(voice ? dt->state :
		    dt->mrd_state[i]), "reason", (int)(voice ? dt->reason :
		    dt->mrd_reason[i])));
	}
	return a;
}

static json_t *
desktop_json(const struct node *n, const struct desktop *dt)
{
	const char	*srv = desktop_server(n, dt);

	return json_pack("{s:i, s:s?, s:s, s:s, s:s, s:s, s:i, s:f, s:b, "
	    "s:b, s:o}", "agent", (int)dt->id, "server", srv,
	    "link", link_state_names[dt->link->state],
	    "state", agent_state_name(dt->state),
	    "last_state", dt->last_in == -1 ? "none" :
	    agent_state_name(dt->last_in),
	    "before_call", agent_state_name(dt->before_call),
	    "reason", (int)dt->reason,
	    "seconds_in_state", mono_since(&dt->since),
	    "lost", dt->lost, "user_logout", dt->user_out,
	    "mrds", desktop_mrds_json(n, dt));
}

/*
 * agent ID, agent ID set ready|not_ready [REASON]|logout [REASON], and
 * ready or not ready in one MRD: agent ID set ready|not_ready [REASON]
 * mrd MRD.
 */
static int
agents_cmd_agent(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct agents		*a = n->role_data;
	struct desktop		*dt;
	struct msg_desktop_state s;
	struct wire_writer	 w;
	long			 id, reason = 0, mrd = 0;
	int			 i;

	if (parse_int(argv[1], 0, INT32_MAX, &id) == -1 ||
	    (dt = agents_desktop(a, (uint32_t)id)) == NULL) {
		snprintf(res->err, sizeof(res->err), "no desktop of agent "
		    "\"%s\"", argv[1]);
		return -1;
	}
	if (argc == 2) {
		res->data = desktop_json(n, dt);
		return 0;
	}
	if (argc >= 6 && strcmp(argv[argc - 2], "mrd") == 0) {
		if (strcmp(argv[3], "logout") == 0)
			return CMD_USAGE;	/* of every MRD */
		i = 0;
		if (parse_int(argv[argc - 1], 1, 65535, &mrd) == 0)
			while (i < dt->nmrds && dt->mrds[i] != (uint32_t)mrd)
				i++;
		if (mrd == 0 || i == dt->nmrds) {
			snprintf(res->err, sizeof(res->err), "agent %ld signs "
			    "in to no MRD \"%s\"", id, argv[argc - 1]);
			return -1;
		}
		argc -= 2;
	}
	if (argc < 4 || argc > 5 || strcmp(argv[2], "set") != 0 ||
	    !choice_ok("ready|not_ready|logout", argv[3]) ||
	    (argc == 5 && strcmp(argv[3], "ready") == 0))
		return CMD_USAGE;
	if (argc == 5 && parse_int(argv[4], 0, 65535, &reason) == -1) {
		snprintf(res->err, sizeof(res->err), "bad reason code \"%s\" "
		    "(0 to 65535)", argv[4]);
		return -1;
	}
	if (dt->link->state != LINK_UP) {
		snprintf(res->err, sizeof(res->err), "the desktop of agent %ld "
		    "is not connected (%s)", id,
		    link_state_names[dt->link->state]);
		return -1;
	}
	memset(&s, 0, sizeof(s));
	s.state = strcmp(argv[3], "ready") == 0 ? AS_AVAILABLE :
	    strcmp(argv[3], "logout") == 0 ? AS_LOGOUT : AS_NOT_READY;
	s.reason = (int32_t)reason;
	s.mrd = (uint32_t)mrd;
	if (mrd == 0)
		dt->user_out = s.state == AS_LOGOUT;
	msg_desktop_state_encode(&w, MSG_DESKTOP_SET_STATE, &s);
	if (link_send(dt->link, &w) == -1) {
		snprintf(res->err, sizeof(res->err), "the desktop of agent %ld "
		    "cannot send now", id);
		return -1;
	}
	res->data = desktop_json(n, dt);
	return 0;
}

static struct link *
agents_find_link(struct node *n, const char *name)
{
	struct agents	*a = n->role_data;
	struct desktop	*dt;
	long		 id;

	if (parse_int(name, 0, INT32_MAX, &id) == -1 ||
	    (dt = agents_desktop(a, (uint32_t)id)) == NULL)
		return NULL;
	return dt->link;
}

static void
agents_summary(struct node *n, char *buf, size_t len)
{
	struct agents	*a = n->role_data;

	if (a != NULL)
		snprintf(buf, len, "%d desktop%s", a->ndts,
		    a->ndts == 1 ? "" : "s");
}

static const struct cmd agents_cmds[] = {
	{ "agent", "ID", 1, 1, agents_cmd_agent,
	  "one agent's desktop: server, state, last state, before-call, "
	  "its state in each MRD" },
	{ "agent", "ID set ready|not_ready [REASON]|logout [REASON]", 3, 4,
	  agents_cmd_agent,
	  "drive an agent through its desktop" },
	{ "agent", "ID set ready|not_ready [REASON] mrd MRD", 5, 6,
	  agents_cmd_agent,
	  "ready or not ready in one of the agent's non-voice MRDs (after a "
	  "failover it signs in there Not Ready), the others as they are" },
	{ NULL, NULL, 0, 0, NULL, NULL }
};

static const struct role_msg agents_msgs[] = {
	{ MSG_DESKTOP_WELCOME, LINK_KIND_DESKTOP, msg_desktop_welcome_body,
	  agents_msg_welcome },
	{ MSG_DESKTOP_STATE, LINK_KIND_DESKTOP, msg_desktop_state_body,
	  agents_msg_state },
	{ 0, 0, NULL, NULL }
};

const struct role_ops agents_ops = {
	.init = agents_init,
	.fini = agents_fini,
	.cmds = agents_cmds,
	.msgs = agents_msgs,
	.link_down = agents_link_down,
	.status = agents_status,
	.summary = agents_summary,
	.find_link = agents_find_link,
};
