/*
 * The acd node: the simulated switch.  It holds the truth of every voice
 * agent's state, moves agents through calls by itself (simulated traffic),
 * and offers a primary and a backup "CTI Manager" endpoint to the PIMs of
 * both PG sides.
 *
 * Fencing (fencer.c): the ACD accepts a PIM only with the highest
 * activation epoch it has seen.  A newer epoch fences the PIM that held
 * the older one; an older or equal epoch from another side is refused,
 * logged and counted.  Only the accepted PIM receives agent events, and
 * only its commands are obeyed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"

#define RESERVE_MS		150	/* a routed call rings this long */
#define TRAFFIC_MAX_RATE	1000000	/* calls a second, asked live */

struct acd_agent {
	uint32_t	 id;		/* first: the sort key */
	const struct cfg_agent *cfg;	/* the lab's: kept across reloads */
	int		 state;
	int		 before_call;
	uint64_t	 since_ms;	/* monotonic */
	int32_t		 reason;
	int		 manual;	/* driven by hand: no traffic */
	int		 ready;		/* its place in the ready set, or -1 */
};

struct acd {
	struct node	*node;
	struct acd_agent *agents;
	int		  nagents;
	struct fencer	  f;		/* the PIMs of both sides */
	uint64_t	  commands_refused;
	int		  primary_up, backup_up;
	struct pace	  pace;		/* the calls */
	uint64_t	  calls, no_agent;
	int		 *ready;	/* available agents traffic may take */
	int		  nready;
	struct timeq	  steps;		/* each agent's next traffic step */
	/*
	 * The changes of this turn of the loop, for the accepted PIM: one
	 * ACD_AGENTS message at its end (acd_changes_cb), not one per change.
	 */
	struct msg_agent *changes;
	int		  nchanges, capchanges;
	struct event	 *ev_changes;
	uint64_t	  change_msgs;	/* ACD_AGENTS of changes sent */
	uint64_t	  changes_sent;	/* the changes they carried */
};

static struct acd_agent *
acd_agent(struct acd *a, uint32_t id)
{
	return bsearch(&id, a->agents, (size_t)a->nagents, sizeof(*a->agents), cmp_u32_key);
}

/* An agent's record as of now (mono_ms(): one clock read a snapshot). */
static void
acd_agent_rec(const struct acd *a, const struct acd_agent *ag,
    uint64_t now, struct msg_agent *m)
{
	m->id = ag->id;
	m->state = (uint16_t)ag->state;
	m->before_call = (uint16_t)ag->before_call;
	m->ms_in_state = (uint32_t)(now - ag->since_ms);
	m->reason = ag->reason;
	m->mrd = (uint32_t)a->node->cfg->voice_mrd;
}

/*
 * The turn's changes to the accepted PIM, MSG_AGENTS_MAX a message: they
 * go once the loop is done with what woke it, before it waits again, so
 * nothing waits for a timer.  With no PIM accepted they go nowhere (the
 * next PIM gets a snapshot).
 */
static void
acd_changes_flush(struct acd *a)
{
	struct fencer_pim	*p = fencer_accepted(&a->f);
	int			 i, n;

	for (i = 0; p != NULL && i < a->nchanges; i += n) {
		struct wire_writer	w;
		int			j;

		n = a->nchanges - i < MSG_AGENTS_MAX ? a->nchanges - i :
		    MSG_AGENTS_MAX;
		msg_agents_begin(&w, MSG_ACD_AGENTS, a->f.fence.peripheral,
		    p->epoch, AGENTS_CHANGE, 1, (uint16_t)n);
		for (j = 0; j < n; j++)
			msg_agent_put(&w, &a->changes[i + j]);
		link_send(p->link, &w);
		a->change_msgs++;
		a->changes_sent += (uint64_t)n;
	}
	a->nchanges = 0;
}

static void
acd_changes_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	acd_changes_flush(arg);
}

/* Every agent to a newly accepted PIM, in batches. */
static void
acd_snapshot(struct acd *a, struct fencer_pim *p)
{
	int		batch = a->node->cfg->snapshot_batch, i, n;
	uint64_t	now = mono_ms();

	/* Changes made before it was accepted: the snapshot has them. */
	a->nchanges = 0;
	for (i = 0; i < a->nagents || i == 0; i += batch) {
		struct wire_writer	w;
		struct msg_agent	m;
		int			j;

		n = a->nagents - i < batch ? a->nagents - i : batch;
		if (n < 0)
			n = 0;
		msg_agents_begin(&w, MSG_ACD_AGENTS, a->f.fence.peripheral,
		    p->epoch, AGENTS_SNAPSHOT, i + n >= a->nagents, (uint16_t)n);
		for (j = 0; j < n; j++) {
			acd_agent_rec(a, &a->agents[i + j], now, &m);
			msg_agent_put(&w, &m);
		}
		link_send(p->link, &w);
		if (a->nagents == 0)
			break;
	}
}

/*
 * The ready set: the agents a call may take (available, not driven by
 * hand), so that a call finds one at once whatever the load.
 */
static void
acd_ready_update(struct acd *a, struct acd_agent *ag)
{
	int	want = ag->state == AS_AVAILABLE && !ag->manual;
	int	i = (int)(ag - a->agents), last;

	if (want && ag->ready == -1) {
		ag->ready = a->nready;
		a->ready[a->nready++] = i;
	} else if (!want && ag->ready != -1) {
		last = a->ready[--a->nready];
		a->ready[ag->ready] = last;
		a->agents[last].ready = ag->ready;
		ag->ready = -1;
	}
}

/* One agent's new state; the accepted PIM hears of it this turn. */
static void
acd_set_state(struct acd *a, struct acd_agent *ag, int state, int32_t reason)
{
	/* Not Ready with another reason code is a change too. */
	if (state == ag->state && reason == ag->reason)
		return;
	if (agent_in_call(state) && !agent_in_call(ag->state))
		ag->before_call = ag->state;
	ag->state = state;
	ag->reason = reason;
	ag->since_ms = mono_ms();
	acd_ready_update(a, ag);
	if (fencer_accepted(&a->f) == NULL)
		return;
	if (a->nchanges == a->capchanges) {
		a->capchanges = a->capchanges ? a->capchanges * 2 : 64;
		a->changes = xreallocarray(a->changes, (size_t)a->capchanges,
		    sizeof(*a->changes));
	}
	acd_agent_rec(a, ag, ag->since_ms, &a->changes[a->nchanges++]);
	if (!event_pending(a->ev_changes, EV_TIMEOUT, NULL))
		event_active(a->ev_changes, EV_TIMEOUT, 0);
}

static void
acd_agent_timer(struct acd *a, struct acd_agent *ag, int ms)
{
	timeq_add(&a->steps, (int)(ag - a->agents), ms < 1 ? 1 : ms);
}

/* The next step of an agent on a simulated call (timeq.c: its slot). */
static void
acd_agent_cb(void *arg, int slot)
{
	struct acd		*a = arg;
	struct acd_agent	*ag = &a->agents[slot];
	const struct cfg_traffic *t = &a->node->cfg->traffic;
	double			 u;

	if (ag->manual)
		return;
	switch (ag->state) {
	case AS_RESERVED:
		acd_set_state(a, ag, AS_TALKING, 0);
		u = 0.5 + pace_uniform(&a->pace);
		acd_agent_timer(a, ag, (int)(t->handle_time_ms * u));
		break;
	case AS_TALKING:
		if (pace_uniform(&a->pace) < t->not_ready_share)
			acd_set_state(a, ag, AS_WORK_NOT_READY, 0);
		else
			acd_set_state(a, ag, AS_WORK_READY, 0);
		acd_agent_timer(a, ag, t->wrapup_time_ms);
		break;
	case AS_WORK_READY:
		acd_set_state(a, ag, AS_AVAILABLE, 0);
		break;
	case AS_WORK_NOT_READY:
		acd_set_state(a, ag, AS_NOT_READY, 0);
		acd_agent_timer(a, ag, t->handle_time_ms);
		break;
	case AS_NOT_READY:
		acd_set_state(a, ag, AS_AVAILABLE, 0);
		break;
	default:
		break;
	}
}

/*
 * A call arrives (pace.c): it takes a random agent of the ready set
 * (available, not driven by hand), or finds none and is counted.
 */
static int
acd_call(void *arg)
{
	struct acd		*a = arg;
	struct acd_agent	*ag;

	if (a->nready == 0) {
		a->no_agent++;
		return 0;
	}
	ag = &a->agents[a->ready[(int)(pace_uniform(&a->pace) * a->nready) %
	    a->nready]];
	a->calls++;
	acd_set_state(a, ag, AS_RESERVED, 0);
	acd_agent_timer(a, ag, RESERVE_MS);
	return 0;
}

/* A PIM accepted gets a snapshot of every agent at once. */
static int
acd_msg_activate(struct role_msg_in *in, const union msg_body *b)
{
	struct acd		*a = in->node->role_data;
	struct fencer_pim	*p;

	if ((p = fencer_activate(&a->f, in->link, &b->epoch,
	    (uint32_t)a->nagents)) == NULL)
		return 0;
	evt_emit(RULE_R5, "pim_accepted", json_pack("{s:s, s:i, s:i}", "pim",
	    p->link->peer_node, "epoch", (int)p->epoch, "agents", a->nagents),
	    "PIM of %s accepted (epoch %u), snapshot of %d agents",
	    p->link->peer_node, p->epoch, a->nagents);
	/* The PIM is active once it has the accept: before the snapshot. */
	link_flush(p->link);
	acd_snapshot(a, p);
	return 0;
}

static int
acd_msg_deactivate(struct role_msg_in *in, const union msg_body *b)
{
	struct acd	*a = in->node->role_data;

	fencer_release(&a->f, in->link, b->epoch.a);
	return 0;
}

static int
acd_msg_set_agent(struct role_msg_in *in, const union msg_body *b)
{
	struct acd			*a = in->node->role_data;
	struct fencer_pim		*p = fencer_pim(&a->f, in->link);
	const struct msg_set_agent	*s = &b->set_agent;
	struct acd_agent		*ag;

	if (p == NULL)
		return 0;
	if (!p->accepted || p->epoch != s->epoch) {
		a->commands_refused++;
		log_warnx("refused agent command from %s with epoch %u "
		    "(accepted: %s)", in->link->peer_node, s->epoch,
		    p->accepted ? "yes" : "no");
		return 0;
	}
	if ((ag = acd_agent(a, s->id)) == NULL) {
		log_link_warnx(in->link, "ACD_SET_AGENT: no agent %u", s->id);
		return 0;
	}
	timeq_del(&a->steps, (int)(ag - a->agents));
	acd_set_state(a, ag, s->state, s->reason);
	return 0;
}

static void
acd_link_down(struct node *n, struct link *l, const char *why)
{
	struct acd		*a = n->role_data;
	struct fencer_pim	*p;

	if ((p = fencer_lost(&a->f, l)) != NULL)
		evt_emit(RULE_NONE, "pim_lost", json_pack("{s:s, s:i, s:s}",
		    "pim", l->peer_node, "epoch", (int)p->epoch, "reason", why),
		    "accepted PIM of %s (epoch %u) lost: %s", l->peer_node,
		    p->epoch, why);
}

/* Open or close one CTI Manager endpoint. */
static int
acd_endpoint(struct acd *a, int backup, int up, char *err, size_t errlen)
{
	struct node	*n = a->node;
	const char	*name = backup ? "backup" : "primary";
	int		 i, port = backup ? n->self->backup_port : n->self->port;
	int		*flag = backup ? &a->backup_up : &a->primary_up;

	if (port == 0) {
		snprintf(err, errlen, "no %s CTI Manager endpoint (set "
		    "nodes.%s.backup_port)", name, n->self->name);
		return -1;
	}
	if (up == *flag) {
		snprintf(err, errlen, "CTI Manager %s is already %s", name,
		    up ? "running" : "stopped");
		return -1;
	}
	if (up) {
		if (node_listen(n, name, port, err, errlen) == -1)
			return -1;
	} else {
		for (i = 0; i < n->nlisteners; i++)
			if (listener_port(n->listeners[i]) == port) {
				listener_free(n->listeners[i]);
				n->listeners[i] = n->listeners[--n->nlisteners];
				break;
			}
		for (i = 0; i < 2; i++) {
			struct link		*l = a->f.pims[i].link;
			struct wire_writer	 w;
			char			 text[64];

			if (!link_is_up(l) || strcmp(l->via, name) != 0)
				continue;
			snprintf(text, sizeof(text), "CTI Manager %s stopping",
			    name);
			wire_bye_encode(&w, BYE_CTI_MANAGER_STOP, text);
			link_send(l, &w);
			link_fsm(l, LEV_STOP, text);
		}
	}
	*flag = up;
	evt_emit(up ? RULE_NONE : 6, up ? "cti_manager_started" :
	    "cti_manager_stopped",
	    json_pack("{s:s, s:i}", "endpoint", name, "port", port),
	    "CTI Manager %s %s (port %d)", name, up ? "started" : "stopped",
	    port);
	return 0;
}

static int
acd_init(struct node *n, char *err, size_t errlen)
{
	struct acd		*a = xcalloc(1, sizeof(*a));
	const struct cfg_periph	*periph;
	int			 i, j;

	a->node = n;
	n->role_data = a;
	/* The lab file's check gave every acd node its peripheral. */
	periph = cfg_periph_of_acd(n->cfg, n->self->name);
	a->f.fence.peripheral = (uint32_t)periph->id;
	pace_init(&a->pace, n->base, n->cfg->traffic.seed, acd_call, a);
	a->ev_changes = event_new(n->base, -1, 0, acd_changes_cb, a);
	a->nagents = periph->nagents;
	a->agents = xcalloc((size_t)a->nagents, sizeof(*a->agents));
	a->ready = xcalloc((size_t)a->nagents + 1, sizeof(*a->ready));
	for (i = 0; i < a->nagents; i++) {
		a->agents[i].cfg = &periph->agents[i];
		a->agents[i].id = (uint32_t)periph->agents[i].id;
	}
	qsort(a->agents, (size_t)a->nagents, sizeof(*a->agents), cmp_u32_key);
	for (i = 0; i < a->nagents; i++) {
		struct acd_agent *ag = &a->agents[i];

		/* An agent with a desktop: its desktop logs it in. */
		ag->state = ag->cfg->desktop ? AS_LOGOUT :
		    ag->cfg->initial_state;
		ag->before_call = ag->state;
		ag->since_ms = mono_ms();
		ag->ready = -1;
		acd_ready_update(a, ag);
	}
	timeq_init(&a->steps, n->base, a->nagents, acd_agent_cb, a);
	for (j = 0; j < 2; j++)
		a->f.pims[j].link = node_new_link(n, periph->sides[j],
		    cfg_node(n->cfg, periph->sides[j]), LINK_KIND_ACD, 0);
	if (acd_endpoint(a, 0, 1, err, errlen) == -1)
		return -1;
	if (n->self->backup_port != 0 &&
	    acd_endpoint(a, 1, 1, err, errlen) == -1)
		return -1;
	pace_set(&a->pace, n->cfg->traffic.enabled,
	    n->cfg->traffic.calls_per_second);
	return 0;
}

/* Also after an init that failed half way: what was not made is NULL. */
static void
acd_fini(struct node *n)
{
	struct acd	*a = n->role_data;

	timeq_free(&a->steps);
	free(a->agents);
	free(a->ready);
	free(a->changes);
	if (a->ev_changes != NULL)
		event_free(a->ev_changes);
	pace_free(&a->pace);
	free(a);
	n->role_data = NULL;
}

static json_t *
acd_agent_json(const struct acd_agent *ag)
{
	json_t	*sg = json_array();
	int	 i;

	for (i = 0; i < ag->cfg->nskill_groups; i++)
		json_array_append_new(sg, json_integer(ag->cfg->skill_groups[i]));
	return json_pack("{s:i, s:s, s:s, s:o, s:s, s:f, s:s, s:i, s:b}",
	    "id", (int)ag->id, "name", ag->cfg->name,
	    "extension", ag->cfg->extension, "skill_groups", sg,
	    "state", agent_state_name(ag->state),
	    "seconds_in_state", (double)(mono_ms() - ag->since_ms) / 1000.0,
	    "before_call", agent_state_name(ag->before_call),
	    "reason", (int)ag->reason, "manual", ag->manual);
}

static void
acd_status(struct node *n, json_t *j)
{
	struct acd	*a = n->role_data;
	json_t		*states = json_object(), *o;
	int		 i;

	for (i = 0; i < a->nagents; i++) {
		const char *s = agent_state_name(a->agents[i].state);

		json_object_set_new(states, s, json_integer(
		    json_integer_value(json_object_get(states, s)) + 1));
	}
	o = json_pack("{s:i, s:i, s:o}", "peripheral",
	    (int)a->f.fence.peripheral, "agents", a->nagents, "states", states);
	fencer_json(&a->f, o);
	json_object_update_new(o, json_pack("{s:{s:b, s:b}, s:b, s:f, s:I, "
	    "s:I, s:I, s:I, s:I}",
	    "cti_manager", "primary", a->primary_up, "backup", a->backup_up,
	    "traffic", a->pace.on,
	    "calls_per_second", a->pace.rate,
	    "calls", (json_int_t)a->calls,
	    "calls_no_agent", (json_int_t)a->no_agent,
	    "commands_refused", (json_int_t)a->commands_refused,
	    "change_messages", (json_int_t)a->change_msgs,
	    "changes_sent", (json_int_t)a->changes_sent));
	json_object_set_new(j, "acd", o);
}

static int
acd_cmd_agents(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct acd	*a = n->role_data;
	int		 i;

	(void)argc;
	(void)argv;
	res->data = json_array();
	for (i = 0; i < a->nagents; i++)
		json_array_append_new(res->data,
		    acd_agent_json(&a->agents[i]));
	return 0;
}

/* agent ID, agent ID set STATE, agent ID auto */
static int
acd_cmd_agent(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct acd		*a = n->role_data;
	struct acd_agent	*ag;
	long			 id;
	int			 st;

	if (parse_int(argv[1], 0, INT32_MAX, &id) == -1 ||
	    (ag = acd_agent(a, (uint32_t)id)) == NULL) {
		snprintf(res->err, sizeof(res->err), "no agent \"%s\"",
		    argv[1]);
		return -1;
	}
	if (argc == 4 && strcmp(argv[2], "set") == 0) {
		if ((st = agent_state_parse(argv[3])) == -1 ||
		    st == AS_UNKNOWN) {
			snprintf(res->err, sizeof(res->err), "unknown state "
			    "\"%s\" (logout, not_ready, available, reserved, "
			    "talking, hold, work_ready, work_not_ready, ...)",
			    argv[3]);
			return -1;
		}
		ag->manual = 1;
		timeq_del(&a->steps, (int)(ag - a->agents));
		acd_ready_update(a, ag);
		acd_set_state(a, ag, st, 0);
	} else if (argc == 3 && strcmp(argv[2], "auto") == 0) {
		ag->manual = 0;
		acd_ready_update(a, ag);
		acd_agent_timer(a, ag, 1);
	} else if (argc != 2)
		return CMD_USAGE;
	res->data = acd_agent_json(ag);
	return 0;
}

/* stop|start cti-manager primary|backup */
static int
acd_cmd_endpoint(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct acd	*a = n->role_data;

	(void)argc;
	if (strcmp(argv[1], "cti-manager") != 0 ||
	    !choice_ok("primary|backup", argv[2]))
		return CMD_USAGE;
	if (acd_endpoint(a, strcmp(argv[2], "backup") == 0,
	    strcmp(argv[0], "start") == 0, res->err, sizeof(res->err)) == -1)
		return -1;
	res->data = json_pack("{s:b, s:b}", "primary", a->primary_up,
	    "backup", a->backup_up);
	node_update_summary(n);
	return 0;
}

/* traffic on|off, traffic rate N */
static int
acd_cmd_traffic(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct acd	*a = n->role_data;

	return pace_cmd(&a->pace, argc, argv, TRAFFIC_MAX_RATE, "calls",
	    "calls_per_second", res);
}

static void
acd_summary(struct node *n, char *buf, size_t len)
{
	struct acd		*a = n->role_data;
	struct fencer_pim	*p = a ? fencer_accepted(&a->f) : NULL;
	const struct cfg_periph	*periph;

	if (p != NULL)
		snprintf(buf, len, "ACD %u: %d agents, PIM of %s (epoch %u)",
		    a->f.fence.peripheral, a->nagents, p->link->peer_node,
		    p->epoch);
	else if (a != NULL)
		snprintf(buf, len, "ACD %u: %d agents, no PIM",
		    a->f.fence.peripheral, a->nagents);
	else if ((periph = cfg_periph_of_acd(n->cfg, n->self->name)) != NULL)
		snprintf(buf, len, "ACD %d: %d agents, no PIM", periph->id,
		    periph->nagents);
}

static const struct cmd acd_cmds[] = {
	{ "agents", "", 0, 0, acd_cmd_agents,
	  "the ACD's agents and their states" },
	{ "agent", "ID", 1, 1, acd_cmd_agent,
	  "one agent" },
	{ "agent", "ID set STATE|auto", 2, 3, acd_cmd_agent,
	  "drive an agent by hand, or give it back" },
	{ "stop|start", "cti-manager primary|backup", 2, 2, acd_cmd_endpoint,
	  "a CTI Manager endpoint (failover)" },
	{ "traffic", "on|off", 1, 1, acd_cmd_traffic,
	  "the simulated calls" },
	{ "traffic", "rate N", 2, 2, acd_cmd_traffic,
	  "calls a second of the simulated traffic, live" },
	{ NULL, NULL, 0, 0, NULL, NULL }
};

static const struct role_msg acd_msgs[] = {
	{ MSG_PIM_ACTIVATE, LINK_KIND_ACD, msg_epoch_body, acd_msg_activate },
	{ MSG_PIM_DEACTIVATE, LINK_KIND_ACD, msg_epoch_body,
	  acd_msg_deactivate },
	{ MSG_ACD_SET_AGENT, LINK_KIND_ACD, msg_set_agent_body,
	  acd_msg_set_agent },
	{ 0, 0, NULL, NULL }
};

const struct role_ops acd_ops = {
	.init = acd_init,
	.fini = acd_fini,
	.cmds = acd_cmds,
	.msgs = acd_msgs,
	.status = acd_status,
	.link_down = acd_link_down,
	.summary = acd_summary,
};
