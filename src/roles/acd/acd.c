/*
 * The acd node: the simulated switch.  It holds the truth of every voice
 * agent's state, moves agents through calls by itself (simulated traffic),
 * and offers a primary and a backup "CTI Manager" endpoint to the PIMs of
 * both PG sides.
 *
 * Fencing: the ACD accepts a PIM only with the highest activation epoch it
 * has seen.  A newer epoch fences the PIM that held the older one; an
 * older or equal epoch from another side is refused, logged and counted.
 * Only the accepted PIM receives agent events, and only its commands are
 * obeyed.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "pgemu.h"
#include "wire.h"

#define RESERVE_MS		150	/* a routed call rings this long */
#define ARRIVAL_MIN_MS		1	/* calls due start at most this often */
#define TRAFFIC_MAX_RATE	1000000	/* calls a second, asked live */

struct acd_agent {
	uint32_t	 id;		/* first: the sort key */
	struct cfg_agent cfg;		/* a copy: a reload frees the lab */
	int		 state;
	int		 before_call;
	uint64_t	 since_ms;	/* monotonic */
	int32_t		 reason;
	int		 manual;	/* driven by hand: no traffic */
	int		 ready;		/* its place in the ready set, or -1 */
	struct event	*ev;		/* next traffic step */
	struct acd	*acd;
};

struct acd_pim {
	struct link	*link;
	int		 accepted;
	uint32_t	 epoch;
};

struct acd {
	struct node	*node;
	struct acd_agent *agents;
	int		  nagents;
	struct acd_pim	  pims[2];
	struct fence	  fence;	/* the highest epoch, its holder */
	uint64_t	  accepts, fences, stale_refused, commands_refused;
	int		  max_accepted;	/* most PIMs accepted at once, ever */
	int		  primary_up, backup_up;
	int		  traffic;
	double		  rate;		/* calls a second asked */
	struct event	 *ev_arrival;
	uint64_t	  next_call_us;	/* when the next call arrives */
	unsigned int	  seed;
	uint64_t	  calls, no_agent;
	int		 *ready;	/* available agents traffic may take */
	int		  nready;
};

static void	acd_traffic_cb(evutil_socket_t, short, void *);

static struct acd_pim *
acd_pim(struct acd *a, const struct link *l)
{
	int	i;

	for (i = 0; i < 2; i++)
		if (a->pims[i].link == l)
			return &a->pims[i];
	return NULL;
}

static struct acd_pim *
acd_accepted(struct acd *a)
{
	int	i;

	for (i = 0; i < 2; i++)
		if (a->pims[i].accepted)
			return &a->pims[i];
	return NULL;
}

/* The invariant, checked on every change: never two accepted PIMs. */
static void
acd_check_invariant(struct acd *a)
{
	int	i, n = 0;

	for (i = 0; i < 2; i++)
		n += a->pims[i].accepted;
	if (n > a->max_accepted)
		a->max_accepted = n;
	if (n > 1)
		log_msg(LOG_ERR, "SPLIT BRAIN: %d PIMs accepted at once", n);
}

static struct acd_agent *
acd_agent(struct acd *a, uint32_t id)
{
	return bsearch(&id, a->agents, (size_t)a->nagents, sizeof(*a->agents), cmp_u32_key);
}

static void
acd_agent_rec(const struct acd_agent *ag, struct msg_agent *m)
{
	m->id = ag->id;
	m->state = (uint16_t)ag->state;
	m->before_call = (uint16_t)ag->before_call;
	m->ms_in_state = (uint32_t)(mono_ms() - ag->since_ms);
	m->reason = ag->reason;
	m->mrd = (uint32_t)ag->acd->node->cfg->voice_mrd;
}

/* Every agent to a newly accepted PIM, in batches. */
static void
acd_snapshot(struct acd *a, struct acd_pim *p)
{
	int		batch = a->node->cfg->snapshot_batch, i, n;

	for (i = 0; i < a->nagents || i == 0; i += batch) {
		struct wire_writer	w;
		struct msg_agent	m;
		int			j;

		n = a->nagents - i < batch ? a->nagents - i : batch;
		if (n < 0)
			n = 0;
		msg_agents_begin(&w, MSG_ACD_AGENTS, a->fence.peripheral,
		    p->epoch, AGENTS_SNAPSHOT, i + n >= a->nagents, (uint16_t)n);
		for (j = 0; j < n; j++) {
			acd_agent_rec(&a->agents[i + j], &m);
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

/* One agent's new state; the accepted PIM hears of it at once. */
static void
acd_set_state(struct acd *a, struct acd_agent *ag, int state, int32_t reason)
{
	struct acd_pim		*p;
	struct wire_writer	 w;
	struct msg_agent	 m;

	/* Not Ready with another reason code is a change too. */
	if (state == ag->state && reason == ag->reason)
		return;
	if (agent_in_call(state) && !agent_in_call(ag->state))
		ag->before_call = ag->state;
	ag->state = state;
	ag->reason = reason;
	ag->since_ms = mono_ms();
	acd_ready_update(a, ag);
	if ((p = acd_accepted(a)) == NULL)
		return;
	msg_agents_begin(&w, MSG_ACD_AGENTS, a->fence.peripheral,
	    p->epoch, AGENTS_CHANGE, 1, 1);
	acd_agent_rec(ag, &m);
	msg_agent_put(&w, &m);
	link_send(p->link, &w);
}

/* Random numbers of the traffic generator: same seed, same traffic. */
static double
acd_uniform(struct acd *a)
{
	return ((double)rand_r(&a->seed) + 1.0) / ((double)RAND_MAX + 2.0);
}

static void
acd_agent_timer(struct acd_agent *ag, int ms)
{
	struct timeval	tv;

	ms_to_tv(ms < 1 ? 1 : ms, &tv);
	evtimer_add(ag->ev, &tv);
}

/* The next step of an agent on a simulated call. */
static void
acd_agent_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acd_agent	*ag = arg;
	struct acd		*a = ag->acd;
	const struct cfg_traffic *t = &a->node->cfg->traffic;
	double			 u;

	(void)fd;
	(void)what;
	if (ag->manual)
		return;
	switch (ag->state) {
	case AS_RESERVED:
		acd_set_state(a, ag, AS_TALKING, 0);
		u = 0.5 + acd_uniform(a);
		acd_agent_timer(ag, (int)(t->handle_time_ms * u));
		break;
	case AS_TALKING:
		if (acd_uniform(a) < t->not_ready_share)
			acd_set_state(a, ag, AS_WORK_NOT_READY, 0);
		else
			acd_set_state(a, ag, AS_WORK_READY, 0);
		acd_agent_timer(ag, t->wrapup_time_ms);
		break;
	case AS_WORK_READY:
		acd_set_state(a, ag, AS_AVAILABLE, 0);
		break;
	case AS_WORK_NOT_READY:
		acd_set_state(a, ag, AS_NOT_READY, 0);
		acd_agent_timer(ag, t->handle_time_ms);
		break;
	case AS_NOT_READY:
		acd_set_state(a, ag, AS_AVAILABLE, 0);
		break;
	default:
		break;
	}
}

/* The gap to the next call of a Poisson stream of a->rate calls a second. */
static uint64_t
acd_call_gap_us(struct acd *a)
{
	double	gap = -log(acd_uniform(a)) / a->rate;

	return gap > 3600 ? 3600000000ULL : (uint64_t)(gap * 1e6);
}

/* The pacing timer: when the next call is due, at most every 1 ms. */
static void
acd_schedule_arrival(struct acd *a)
{
	struct timeval	tv;
	uint64_t	now = mono_us(), us;

	if (!a->traffic || a->rate <= 0)
		return;
	us = a->next_call_us > now ? a->next_call_us - now : 0;
	if (us < ARRIVAL_MIN_MS * 1000)
		us = ARRIVAL_MIN_MS * 1000;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(a->ev_arrival, &tv);
}

/*
 * Every call due since the last run arrives now: each takes a random agent
 * of the ready set (available, not driven by hand), or finds none and is
 * counted.  Calls a second are what was asked, however late the timer, up
 * to what the agents and the machine carry; a run that fell more than a
 * second behind drops the backlog rather than bursting.
 */
static void
acd_traffic_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acd		*a = arg;
	struct acd_agent	*ag;
	uint64_t		 now = mono_us();

	(void)fd;
	(void)what;
	if (a->next_call_us + 1000000 < now)
		a->next_call_us = now;
	while (a->next_call_us <= now) {
		a->next_call_us += acd_call_gap_us(a);
		if (a->nready == 0) {
			a->no_agent++;
			continue;
		}
		ag = &a->agents[a->ready[(int)(acd_uniform(a) * a->nready) %
		    a->nready]];
		a->calls++;
		acd_set_state(a, ag, AS_RESERVED, 0);
		acd_agent_timer(ag, RESERVE_MS);
	}
	acd_schedule_arrival(a);
}

/* Traffic on or off, at a rate (< 0: the one it has). */
static void
acd_set_traffic(struct acd *a, int on, double rate)
{
	a->traffic = on;
	if (rate >= 0)
		a->rate = rate;
	event_del(a->ev_arrival);
	if (on && a->rate > 0) {
		a->next_call_us = mono_us() + acd_call_gap_us(a);
		acd_schedule_arrival(a);
	}
}

static void
acd_accept(struct acd *a, struct acd_pim *p, uint32_t epoch)
{
	struct acd_pim		*old = acd_accepted(a);
	struct wire_writer	 w;
	struct msg_epoch	 e;

	if (old != NULL && old != p) {
		memset(&e, 0, sizeof(e));
		e.a = epoch;
		e.b = old->epoch;
		snprintf(e.text, sizeof(e.text), "PIM of %s accepted with "
		    "epoch %u", p->link->peer_node, epoch);
		msg_epoch_encode(&w, MSG_PIM_FENCED, &e);
		link_send(old->link, &w);
		old->accepted = 0;
		a->fences++;
		evt_emit(RULE_R5, "pim_fenced", json_pack("{s:s, s:i, s:i}", "pim",
		    old->link->peer_node, "epoch", (int)old->epoch, "by",
		    (int)epoch), "PIM of %s (epoch %u) fenced by epoch %u of %s",
		    old->link->peer_node, old->epoch, epoch,
		    p->link->peer_node);
	}
	p->accepted = 1;
	p->epoch = epoch;
	fence_accept(&a->fence, epoch, p->link->peer_node);
	a->accepts++;
	acd_check_invariant(a);
	memset(&e, 0, sizeof(e));
	e.a = epoch;
	e.b = (uint32_t)a->nagents;
	msg_epoch_encode(&w, MSG_PIM_ACCEPT, &e);
	link_send(p->link, &w);
	evt_emit(RULE_R5, "pim_accepted", json_pack("{s:s, s:i, s:i}", "pim",
	    p->link->peer_node, "epoch", (int)epoch, "agents", a->nagents),
	    "PIM of %s accepted (epoch %u), snapshot of %d agents",
	    p->link->peer_node, epoch, a->nagents);
	acd_snapshot(a, p);
}

/*
 * Refuse an activation.  The PIM is told the verdict, never the epoch
 * that holds the peripheral (an impostor would come back with the next
 * one); the log says it all.
 */
static void
acd_refuse(struct acd *a, struct acd_pim *p, uint32_t epoch,
    const char *verdict, const char *why)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	a->stale_refused++;
	memset(&e, 0, sizeof(e));
	e.a = epoch;
	snprintf(e.text, sizeof(e.text), "%s", verdict);
	msg_epoch_encode(&w, MSG_PIM_REJECT, &e);
	link_send(p->link, &w);
	log_warnx("refused PIM activation of %s with epoch %u: %s (%llu "
	    "refused so far)", p->link->peer_node, epoch, why,
	    (unsigned long long)a->stale_refused);
	evt_emit(RULE_NONE, "pim_refused", json_pack("{s:s, s:i, s:i, s:s}",
	    "pim", p->link->peer_node, "epoch", (int)epoch, "current",
	    (int)a->fence.max_epoch, "reason", why), "PIM of %s refused: %s",
	    p->link->peer_node, why);
}

/* The side of the PG node at the other end of a PIM's link. */
static char
acd_pim_side(struct node *n, const struct link *l)
{
	const struct cfg_node	*pg = cfg_node(n->cfg, l->peer_node);

	return pg != NULL ? pg->side : 0;
}

static int
acd_msg_activate(struct role_msg_in *in, const union msg_body *b)
{
	struct acd		*a = in->node->role_data;
	struct acd_pim		*p = acd_pim(a, in->link);
	const struct msg_epoch	*e = &b->epoch;
	char			 why[160];

	enum fence_verdict	 v;

	if (p == NULL)
		return 0;
	if (!auth_grant_ok(e->token, e->has_token, e->b, e->a,
	    acd_pim_side(in->node, in->link))) {
		acd_refuse(a, p, e->a, "grant not signed by the router",
		    e->has_token ? "its grant token is not the router's (lab "
		    "key)" : "it shows no grant token");
		return 0;
	}
	v = fence_judge(&a->fence, e->b, e->a, in->link->peer_node, why,
	    sizeof(why));
	if (v == FENCE_ACCEPT)
		acd_accept(a, p, e->a);
	else
		acd_refuse(a, p, e->a, v == FENCE_STALE ? "stale epoch: another "
		    "PIM holds the peripheral" : v == FENCE_FOREIGN ? "not this "
		    "peripheral" : "implausible epoch", why);
	return 0;
}

static int
acd_msg_deactivate(struct role_msg_in *in, const union msg_body *b)
{
	struct acd_pim		*p = acd_pim(in->node->role_data, in->link);
	const struct msg_epoch	*e = &b->epoch;
	const char		*pim = in->link->peer_node;

	if (p != NULL && p->accepted && p->epoch == e->a) {
		p->accepted = 0;
		evt_emit(RULE_NONE, "pim_released", json_pack("{s:s, s:i}",
		    "pim", pim, "epoch", (int)e->a), "PIM of %s released "
		    "epoch %u", pim, e->a);
	}
	return 0;
}

static int
acd_msg_set_agent(struct role_msg_in *in, const union msg_body *b)
{
	struct acd			*a = in->node->role_data;
	struct acd_pim			*p = acd_pim(a, in->link);
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
	if (ag->ev != NULL)
		event_del(ag->ev);
	acd_set_state(a, ag, s->state, s->reason);
	return 0;
}

static void
acd_link_down(struct node *n, struct link *l, const char *why)
{
	struct acd	*a = n->role_data;
	struct acd_pim	*p = acd_pim(a, l);

	if (p != NULL && p->accepted) {
		p->accepted = 0;
		evt_emit(RULE_NONE, "pim_lost", json_pack("{s:s, s:i, s:s}",
		    "pim", l->peer_node, "epoch", (int)p->epoch, "reason", why),
		    "accepted PIM of %s (epoch %u) lost: %s", l->peer_node,
		    p->epoch, why);
	}
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
			struct link		*l = a->pims[i].link;
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
	a->fence.peripheral = (uint32_t)periph->id;
	a->seed = n->cfg->traffic.seed;
	a->nagents = periph->nagents;
	a->agents = xcalloc((size_t)a->nagents, sizeof(*a->agents));
	a->ready = xcalloc((size_t)a->nagents + 1, sizeof(*a->ready));
	for (i = 0; i < a->nagents; i++) {
		a->agents[i].cfg = periph->agents[i];
		a->agents[i].id = (uint32_t)periph->agents[i].id;
	}
	qsort(a->agents, (size_t)a->nagents, sizeof(*a->agents), cmp_u32_key);
	for (i = 0; i < a->nagents; i++) {
		struct acd_agent *ag = &a->agents[i];

		ag->acd = a;
		/* An agent with a desktop: its desktop logs it in. */
		ag->state = ag->cfg.desktop ? AS_LOGOUT :
		    ag->cfg.initial_state;
		ag->before_call = ag->state;
		ag->since_ms = mono_ms();
		ag->ev = evtimer_new(n->base, acd_agent_cb, ag);
		ag->ready = -1;
		acd_ready_update(a, ag);
	}
	for (j = 0; j < 2; j++)
		a->pims[j].link = node_new_link(n, periph->sides[j],
		    cfg_node(n->cfg, periph->sides[j]), LINK_KIND_ACD, 0);
	a->ev_arrival = evtimer_new(n->base, acd_traffic_cb, a);
	if (acd_endpoint(a, 0, 1, err, errlen) == -1)
		return -1;
	if (n->self->backup_port != 0 &&
	    acd_endpoint(a, 1, 1, err, errlen) == -1)
		return -1;
	acd_set_traffic(a, n->cfg->traffic.enabled,
	    n->cfg->traffic.calls_per_second);
	return 0;
}

/* Also after an init that failed half way: what was not made is NULL. */
static void
acd_fini(struct node *n)
{
	struct acd	*a = n->role_data;
	int		 i;

	for (i = 0; a->agents != NULL && i < a->nagents; i++)
		if (a->agents[i].ev != NULL)
			event_free(a->agents[i].ev);
	free(a->agents);
	free(a->ready);
	if (a->ev_arrival != NULL)
		event_free(a->ev_arrival);
	free(a);
	n->role_data = NULL;
}

static json_t *
acd_agent_json(const struct acd_agent *ag)
{
	json_t	*sg = json_array();
	int	 i;

	for (i = 0; i < ag->cfg.nskill_groups; i++)
		json_array_append_new(sg, json_integer(ag->cfg.skill_groups[i]));
	return json_pack("{s:i, s:s, s:s, s:o, s:s, s:f, s:s, s:i, s:b}",
	    "id", (int)ag->id, "name", ag->cfg.name,
	    "extension", ag->cfg.extension, "skill_groups", sg,
	    "state", agent_state_name(ag->state),
	    "seconds_in_state", (double)(mono_ms() - ag->since_ms) / 1000.0,
	    "before_call", agent_state_name(ag->before_call),
	    "reason", (int)ag->reason, "manual", ag->manual);
}

static void
acd_status(struct node *n, json_t *j)
{
	struct acd	*a = n->role_data;
	struct acd_pim	*p = acd_accepted(a);
	json_t		*states = json_object();
	int		 i;

	for (i = 0; i < a->nagents; i++) {
		const char *s = agent_state_name(a->agents[i].state);

		json_object_set_new(states, s, json_integer(
		    json_integer_value(json_object_get(states, s)) + 1));
	}
	json_object_set_new(j, "acd", json_pack("{s:i, s:i, s:o, s:s?, s:i,"
	    " s:s, s:I, s:I, s:I, s:I, s:i, s:{s:b, s:b}, s:b, s:f, s:I, s:I}",
	    "peripheral", (int)a->fence.peripheral,
	    "agents", a->nagents,
	    "states", states,
	    "accepted_pim", p ? p->link->peer_node : NULL,
	    "accepted_epoch", p ? (int)p->epoch : 0,
	    "epoch_holder", a->fence.holder,
	    "max_epoch", (json_int_t)a->fence.max_epoch,
	    "accepts", (json_int_t)a->accepts,
	    "fences", (json_int_t)a->fences,
	    "stale_refused", (json_int_t)a->stale_refused,
	    "max_accepted_at_once", a->max_accepted,
	    "cti_manager", "primary", a->primary_up, "backup", a->backup_up,
	    "traffic", a->traffic,
	    "calls_per_second", a->rate,
	    "calls", (json_int_t)a->calls,
	    "calls_no_agent", (json_int_t)a->no_agent));
	json_object_set_new(json_object_get(j, "acd"), "commands_refused",
	    json_integer((json_int_t)a->commands_refused));
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
		event_del(ag->ev);
		acd_ready_update(a, ag);
		acd_set_state(a, ag, st, 0);
	} else if (argc == 3 && strcmp(argv[2], "auto") == 0) {
		ag->manual = 0;
		acd_ready_update(a, ag);
		acd_agent_timer(ag, 1);
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
	char		*end;
	double		 rate;

	if (argc == 3 && strcmp(argv[1], "rate") == 0) {
		rate = strtod(argv[2], &end);
		if (end == argv[2] || *end != '\0' || !(rate >= 0) ||
		    rate > TRAFFIC_MAX_RATE) {
			snprintf(res->err, sizeof(res->err), "bad rate \"%s\" "
			    "(calls a second, 0 to %d)", argv[2],
			    TRAFFIC_MAX_RATE);
			return -1;
		}
		acd_set_traffic(a, a->traffic, rate);
	} else if (argc == 2 && choice_ok("on|off", argv[1]))
		acd_set_traffic(a, strcmp(argv[1], "on") == 0, -1);
	else
		return CMD_USAGE;
	res->data = json_pack("{s:b, s:f}", "traffic", a->traffic,
	    "calls_per_second", a->rate);
	return 0;
}

static void
acd_summary(struct node *n, char *buf, size_t len)
{
	struct acd		*a = n->role_data;
	struct acd_pim		*p = a ? acd_accepted(a) : NULL;
	const struct cfg_periph	*periph;

	if (p != NULL)
		snprintf(buf, len, "ACD %u: %d agents, PIM of %s (epoch %u)",
		    a->fence.peripheral, a->nagents, p->link->peer_node,
		    p->epoch);
	else if (a != NULL)
		snprintf(buf, len, "ACD %u: %d agents, no PIM",
		    a->fence.peripheral, a->nagents);
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
