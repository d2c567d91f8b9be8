/*
 * The application instance's ARM session: a GED-188 client of the CTI
 * server of the agent peripheral's PG (media_routing.agent_peripheral),
 * side A's cti_port first, side B's when refused or lost, as the desktop
 * server's session (proto_cti_client.c).
 *
 *   app --OPEN_REQ (AGENT_REPORTING, ApplicationPathID)--> CTI server
 *   app --QUERY_AGENT_STATE_REQ (each agent, each MRD)---> (its view)
 *   app <--AGENT_STATE_EVENT, QUERY_AGENT_STATE_CONF------
 *   app --OFFER_TASK_IND, START_TASK_IND, END_TASK_IND---> (routed tasks)
 *   app --OFFER_/START_APPLICATION_TASK_REQ--------------> (its own)
 *   app <--OFFER_/START_APPLICATION_TASK_RESP, FAILURE_RESP
 *
 * The view: each agent's state in each of its non-voice MRDs, and how
 * many of the application's tasks it holds there; it is forgotten when
 * the session goes (the next one asks again).  Task messages wait in a
 * bounded queue while the session is down and go, in order, when it is
 * back; a request sent and not answered when the session goes is sent
 * again first.  Before they go, app.c hears that the session is back
 * (app_arm_back: the reports its task life interrupted, R20); those of
 * a task that began and ended while it was down are flagged
 * TASKF_CTI_DOWN (app_arm_mark; R21, told here when they go).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"
#include "ged188.h"

#define ARM_VERSION		24
#define ARM_QUEUE_MAX		10000	/* task messages while down */

/* An agent in one of its non-voice MRDs. */
struct arm_media {
	uint32_t	 mrd;
	int		 state;		/* AS_*, as the CTI server says */
	uint64_t	 since_ms;	/* monotonic: the state's start */
	int		 ntasks;	/* the application's tasks there */
};

struct arm_agent {
	uint32_t	 id;		/* first: the sort key */
	int		 skill_groups[8];
	int		 nskill_groups;
	struct arm_media media[CFG_AGENT_MRDS];
	int		 nmedia;
};

struct arm_msg {
	struct app_arm_msg m;
	TAILQ_ENTRY(arm_msg) entry;
};
TAILQ_HEAD(arm_msgs, arm_msg);

struct app_arm {
	struct node	*node;
	struct link	*link;		/* "cti-link" */
	uint32_t	 periph;	/* the agent peripheral */
	struct arm_agent *agents;
	int		 nagents;
	struct arm_msgs	 queue;		/* waiting for the session */
	struct arm_msgs	 flight;	/* requests sent, not answered */
	int		 nqueued, nflight;
	uint64_t	 sent, dropped, opens;
	int		 queued_max;	/* most at once, ever */
	double		 down_since;	/* wall clock; 0 while open */
	char		 server[PGEMU_NAME_MAX];
};

static struct arm_agent *
arm_agent(struct app_arm *arm, uint32_t id)
{
	return bsearch(&id, arm->agents, (size_t)arm->nagents,
	    sizeof(*arm->agents), cmp_u32_key);
}

static struct arm_media *
arm_media(struct arm_agent *ag, uint32_t mrd)
{
	int	i;

	for (i = 0; ag != NULL && i < ag->nmedia; i++)
		if (ag->media[i].mrd == mrd)
			return &ag->media[i];
	return NULL;
}

static int
arm_is_request(uint32_t type)
{
	return type == MSG_OFFER_APPLICATION_TASK_REQ ||
	    type == MSG_START_APPLICATION_TASK_REQ;
}

/* One task message on the open session; a request waits for its answer. */
static void
arm_write(struct app_arm *arm, struct arm_msg *q)
{
	struct ged_msg		g;
	struct wire_writer	w;

	ged_init(&g, q->m.type, arm->link->version);
	g.fixed[TK_INVOKE_ID] = q->m.dialogue;
	g.fixed[TK_PERIPHERAL_ID] = q->m.periph;
	g.fixed[TK_MRD_ID] = q->m.mrd;
	g.fixed[TK_ICM_AGENT_ID] = q->m.agent;
	g.fixed[TK_GROUP_HIGH] = q->m.task[0];
	g.fixed[TK_GROUP_LOW] = q->m.task[1];
	g.fixed[TK_SEQUENCE] = q->m.task[2];
	g.fixed[TK_DIALOGUE_ID] = q->m.dialogue;
	g.fixed[TK_FLAGS] = q->m.flags;
	ged_begin(&w, &g);
	link_send(arm->link, &w);
	arm->sent++;
	log_link_debug(arm->link, "%s of dialogue %u (agent %u, MRD %u, "
	    "flags 0x%x)", ged_type_name(q->m.type), q->m.dialogue,
	    q->m.agent, q->m.mrd, q->m.flags);
	if (arm_is_request(q->m.type)) {
		TAILQ_INSERT_TAIL(&arm->flight, q, entry);
		arm->nflight++;
	} else
		free(q);
}

/*
 * A task message: on the session if it is open (1), else queued (0; at
 * most ARM_QUEUE_MAX: past that dropped and counted, -1).
 */
int
app_arm_send(struct app_arm *arm, const struct app_arm_msg *m)
{
	struct arm_msg	*q;

	if (!link_is_up(arm->link) && arm->nqueued >= ARM_QUEUE_MAX) {
		if (arm->dropped++ == 0 || arm->dropped % 1000 == 0)
			log_warnx("ARM session down: %d task messages queued, "
			    "the most it keeps; %s of dialogue %u dropped "
			    "(%llu so far)", arm->nqueued,
			    ged_type_name(m->type), m->dialogue,
			    (unsigned long long)arm->dropped);
		return -1;
	}
	q = xcalloc(1, sizeof(*q));
	q->m = *m;
	if (link_is_up(arm->link)) {
		arm_write(arm, q);
		return 1;
	}
	TAILQ_INSERT_TAIL(&arm->queue, q, entry);
	if (++arm->nqueued > arm->queued_max)
		arm->queued_max = arm->nqueued;
	return 0;
}

/*
 * The agent of the peripheral to give a task of mrd (skill_group, 0:
 * any): available there, or busy there with the application's tasks
 * only and room for one more (max_tasks); the fewest of them, then the
 * longest in its state.  0: none.
 */
uint32_t
app_arm_pick(struct app_arm *arm, uint32_t mrd, int skill_group,
    int max_tasks)
{
	struct arm_agent	*ag, *best = NULL;
	struct arm_media	*m, *bm = NULL;
	int			 i, j, in;

	for (i = 0; i < arm->nagents; i++) {
		ag = &arm->agents[i];
		if ((m = arm_media(ag, mrd)) == NULL || m->ntasks >= max_tasks)
			continue;
		if (m->state != AS_AVAILABLE && !(m->ntasks > 0 &&
		    (m->state == AS_ACTIVE || m->state == AS_RESERVED)))
			continue;
		for (j = 0, in = skill_group == 0; j < ag->nskill_groups; j++)
			in |= ag->skill_groups[j] == skill_group;
		if (!in)
			continue;
		if (bm == NULL || m->ntasks < bm->ntasks ||
		    (m->ntasks == bm->ntasks && m->since_ms < bm->since_ms)) {
			best = ag;
			bm = m;
		}
	}
	return best != NULL ? best->id : 0;
}

/* The application gives (delta 1) or takes back (-1) a task of agent's. */
void
app_arm_hold(struct app_arm *arm, uint32_t agent, uint32_t mrd, int delta)
{
	struct arm_media	*m = arm_media(arm_agent(arm, agent), mrd);

	if (m != NULL && m->ntasks + delta >= 0)
		m->ntasks += delta;
}

int
app_arm_up(const struct app_arm *arm)
{
	return link_is_up(arm->link);
}

double
app_arm_down_since(const struct app_arm *arm)
{
	return link_is_up(arm->link) ? 0 : arm->down_since;
}

uint64_t
app_arm_opens(const struct app_arm *arm)
{
	return arm->opens;
}

int
app_arm_mark(struct app_arm *arm, uint32_t dialogue, uint32_t flags)
{
	struct arm_msg	*q;
	int		 n = 0;

	TAILQ_FOREACH(q, &arm->queue, entry)
		if (q->m.dialogue == dialogue) {
			q->m.flags |= flags;
			n++;
		}
	return n;
}

/* The PG side whose CTI server the session is with, NULL if none. */
const char *
app_arm_server(const struct app_arm *arm)
{
	return link_is_up(arm->link) ? arm->server : NULL;
}

json_t *
app_arm_json(const struct app_arm *arm)
{
	json_t	*j;
	int	 i, k, avail = 0, known = 0;

	for (i = 0; i < arm->nagents; i++)
		for (k = 0; k < arm->agents[i].nmedia; k++) {
			avail += arm->agents[i].media[k].state ==
			    AS_AVAILABLE;
			known += arm->agents[i].media[k].state != AS_UNKNOWN;
		}
	j = json_pack("{s:s, s:s?, s:i, s:I, s:i, s:i, s:i, s:I, s:I, "
	    "s:i, s:i, s:i}",
	    "state", link_state_names[arm->link->state],
	    "server", app_arm_server(arm),
	    "version", (int)arm->link->version,
	    "opens", (json_int_t)arm->opens,
	    "queued", arm->nqueued,
	    "queue_max", ARM_QUEUE_MAX,
	    "queued_most", arm->queued_max,
	    "sent", (json_int_t)arm->sent,
	    "dropped", (json_int_t)arm->dropped,
	    "in_flight", arm->nflight,
	    "agents_known", known,
	    "agents_available", avail);
	json_object_set_new(j, "down_since", app_arm_down_since(arm) != 0 ?
	    json_real(app_arm_down_since(arm)) : json_null());
	return j;
}

/* The PG side of the port the session is on. */
static void
arm_set_server(struct app_arm *arm)
{
	const struct cfg	*cf = arm->node->cfg;
	const struct cfg_periph	*p = cfg_periph(cf, arm->periph);
	const struct cfg_node	*b = cfg_node(cf, p->sides[1]);

	snprintf(arm->server, sizeof(arm->server), "%s",
	    b != NULL && arm->link->port == b->cti_port ? p->sides[1] :
	    p->sides[0]);
}

/* Each agent's state in each of its non-voice MRDs, asked anew. */
static void
arm_query_all(struct app_arm *arm)
{
	struct ged_msg		g;
	struct wire_writer	w;
	int			i, j;

	for (i = 0; i < arm->nagents; i++)
		for (j = 0; j < arm->agents[i].nmedia; j++) {
			ged_init(&g, MSG_QUERY_AGENT_STATE_REQ,
			    arm->link->version);
			g.fixed[QQ_INVOKE_ID] = arm->agents[i].id;
			g.fixed[QQ_PERIPHERAL_ID] = arm->periph;
			g.fixed[QQ_MRD_ID] = arm->agents[i].media[j].mrd;
			g.fixed[QQ_ICM_AGENT_ID] = arm->agents[i].id;
			ged_begin(&w, &g);
			link_send(arm->link, &w);
		}
}

/*
 * The session opened: what waited goes, oldest first (the requests left
 * unanswered by the last session before the rest), then the view is
 * asked for.
 */
static void
arm_up(struct link *l, void *arg)
{
	struct app_arm	*arm = arg;
	struct arm_msg	*q;
	json_t		*names = json_array();
	int		 n = arm->nqueued, out = 0;

	arm->opens++;
	arm_set_server(arm);
	evt_emit(RULE_NONE, "cti_session_open", json_pack("{s:s, s:i, s:i, "
	    "s:i}", "server", arm->server, "port", l->port, "version",
	    (int)l->version, "queued", n), "ARM session open with the CTI "
	    "server of %s (port %d, version %u)%s", arm->server, l->port,
	    l->version, n > 0 ? ": queued task messages sent" : "");
	if (arm->down_since != 0)
		app_arm_back(arm->node, arm->down_since);
	TAILQ_FOREACH(q, &arm->queue, entry)
		if (q->m.type == MSG_END_TASK_IND &&
		    (q->m.flags & TASKF_CTI_DOWN) && out++ < 100)
			json_array_append_new(names,
			    json_integer(q->m.dialogue));
	if (out > 0)
		evt_emit(RULE_R21, "tasks_left_out", json_pack("{s:i, s:o}",
		    "count", out, "dialogues", names), "%d task%s began and "
		    "ended while the ARM session was down: their messages go "
		    "flagged TASKF_CTI_DOWN, left out of reports", out,
		    out == 1 ? "" : "s");
	else
		json_decref(names);
	while ((q = TAILQ_FIRST(&arm->queue)) != NULL) {
		TAILQ_REMOVE(&arm->queue, q, entry);
		arm->nqueued--;
		arm_write(arm, q);
	}
	arm_query_all(arm);
	node_update_summary(arm->node);
}

/* The session ended: the view is forgotten, unanswered requests wait. */
static void
arm_down(struct link *l, void *arg, const char *why)
{
	struct app_arm	*arm = arg;
	struct arm_msg	*q;
	int		 i, j;

	(void)l;
	while ((q = TAILQ_LAST(&arm->flight, arm_msgs)) != NULL) {
		TAILQ_REMOVE(&arm->flight, q, entry);
		arm->nflight--;
		TAILQ_INSERT_HEAD(&arm->queue, q, entry);
		arm->nqueued++;
	}
	for (i = 0; i < arm->nagents; i++)
		for (j = 0; j < arm->agents[i].nmedia; j++)
			arm->agents[i].media[j].state = AS_UNKNOWN;
	arm->down_since = wall_now();
	evt_emit(RULE_NONE, "cti_session_lost", json_pack("{s:s, s:s, s:i}",
	    "server", arm->server, "reason", why, "queued", arm->nqueued),
	    "ARM session with the CTI server of %s lost: %s; task messages "
	    "wait for the next (%d now)", arm->server, why, arm->nqueued);
	node_update_summary(arm->node);
}

/* An agent's state in one MRD, from an event or a query's answer. */
static void
arm_state(struct app_arm *arm, uint32_t agent, uint32_t mrd, uint32_t st)
{
	struct arm_media	*m = arm_media(arm_agent(arm, agent), mrd);

	if (m == NULL || st >= AGENT_NSTATES || (int)st == m->state)
		return;
	m->state = (int)st;
	m->since_ms = mono_ms();
}

static void
arm_agent_event(struct app_arm *arm, const struct ged_msg *g)
{
	char	id[16];
	long	v;

	if (g->fixed[AE_PERIPHERAL_ID] != arm->periph)
		return;
	if (ged_get_str(g, TAG_AGENT_ID, id, sizeof(id)) == 1 &&
	    parse_int(id, 0, INT32_MAX, &v) == 0)
		arm_state(arm, (uint32_t)v, g->fixed[AE_MRD_ID],
		    g->fixed[AE_AGENT_STATE]);
	else
		arm_state(arm, g->fixed[AE_ICM_AGENT_ID], g->fixed[AE_MRD_ID],
		    g->fixed[AE_AGENT_STATE]);
}

/*
 * The answer to a request in flight (its InvokeID: the dialogue), to
 * app.c.  An answer to none is logged.
 */
static void
arm_answer(struct app_arm *arm, const struct ged_msg *g, uint32_t type)
{
	struct arm_msg	*q;
	uint32_t	 invoke, status, req;

	if (type == MSG_FAILURE_RESP) {
		invoke = g->fixed[FR_INVOKE_ID];
		status = g->fixed[FR_STATUS];
	} else {
		invoke = g->fixed[TR_INVOKE_ID];
		status = g->fixed[TR_STATUS];
	}

	req = type == MSG_OFFER_APPLICATION_TASK_RESP ?
	    MSG_OFFER_APPLICATION_TASK_REQ : type ==
	    MSG_START_APPLICATION_TASK_RESP ? MSG_START_APPLICATION_TASK_REQ :
	    0;
	TAILQ_FOREACH(q, &arm->flight, entry)
		if (q->m.dialogue == invoke && (req == 0 || q->m.type == req))
			break;
	if (q == NULL) {
		log_link_warnx(arm->link, "%s with InvokeID %u answers no "
		    "request of the application (status %u)%s",
		    ged_type_name(type), invoke, status,
		    type == MSG_FAILURE_RESP ? ": a task indication refused" :
		    "");
		return;
	}
	TAILQ_REMOVE(&arm->flight, q, entry);
	arm->nflight--;
	free(q);
	app_task_answer(arm->node, type, invoke, status,
	    type == MSG_FAILURE_RESP ? NULL : &g->fixed[TR_GROUP_HIGH]);
}

/* What the CTI server says on the open session. */
static void
arm_msg(struct link *l, void *arg, const struct wire_msg *m)
{
	struct app_arm	*arm = arg;
	struct ged_msg	 g;
	uint32_t	 status;
	char		 err[160];

	if (ged_decode(m, l->version, &g, &status, err, sizeof(err)) == -1) {
		link_bad_msg(l, m, err);
		return;
	}
	switch (m->type) {
	case MSG_AGENT_STATE_EVENT:
		arm_agent_event(arm, &g);
		break;
	case MSG_QUERY_AGENT_STATE_CONF:
		arm_state(arm, g.fixed[QC_ICM_AGENT_ID], g.fixed[QC_MRD_ID],
		    g.fixed[QC_AGENT_STATE]);
		break;
	case MSG_OFFER_APPLICATION_TASK_RESP:
	case MSG_START_APPLICATION_TASK_RESP:
	case MSG_FAILURE_RESP:
		arm_answer(arm, &g, m->type);
		break;
	case MSG_FAILURE_CONF:
		log_link_warnx(l, "request %u refused: %s (%u)",
		    g.fixed[FC_INVOKE_ID], ged_status_name(g.fixed[FC_STATUS]),
		    g.fixed[FC_STATUS]);
		break;
	default:
		log_link_debug(l, "%s ignored", ged_type_name(m->type));
		break;
	}
}

static const struct link_ops arm_ops = { arm_up, arm_down, arm_msg };

/*
 * The session and the view: the agents of the agent peripheral with
 * their non-voice MRDs.  The link is the node's (started, faulted and
 * freed with the others).
 */
struct app_arm *
app_arm_new(struct node *n)
{
	struct app_arm		*arm = xcalloc(1, sizeof(*arm));
	const struct cfg	*cf = n->cfg;
	const struct cfg_periph	*p = cfg_periph(cf,
	    (uint32_t)cf->mr.agent_periph);
	const struct cfg_node	*a = cfg_node(cf, p->sides[0]);
	const struct cfg_node	*b = cfg_node(cf, p->sides[1]);
	struct cti_client_open	 o;
	char			 peers[2 * PGEMU_NAME_MAX + 1];
	int			 i, j, idle, ids[CFG_AGENT_MRDS];

	arm->node = n;
	arm->periph = (uint32_t)p->id;
	TAILQ_INIT(&arm->queue);
	TAILQ_INIT(&arm->flight);
	arm->agents = xcalloc((size_t)p->nagents + 1, sizeof(*arm->agents));
	for (i = 0; i < p->nagents; i++) {
		struct arm_agent	*ag = &arm->agents[arm->nagents];
		const struct cfg_agent	*ca = &p->agents[i];

		if ((ag->nmedia = cfg_agent_media(cf, ca, ids)) == 0)
			continue;
		ag->id = (uint32_t)ca->id;
		ag->nskill_groups = ca->nskill_groups;
		memcpy(ag->skill_groups, ca->skill_groups,
		    sizeof(ag->skill_groups));
		for (j = 0; j < ag->nmedia; j++) {
			ag->media[j].mrd = (uint32_t)ids[j];
			ag->media[j].state = AS_UNKNOWN;
		}
		arm->nagents++;
	}
	qsort(arm->agents, (size_t)arm->nagents, sizeof(*arm->agents),
	    cmp_u32_key);
	snprintf(arm->server, sizeof(arm->server), "%s", p->sides[0]);

	memset(&o, 0, sizeof(o));
	o.version = ARM_VERSION;
	idle = (int)((int64_t)cf->hb_cti.interval_ms * cf->hb_cti.misses /
	    1000);
	o.idle_timeout = (uint32_t)(idle < GED_MIN_IDLE_TIMEOUT ?
	    GED_MIN_IDLE_TIMEOUT : idle);
	o.peripheral = GED_NULL_PERIPHERAL_ID;
	o.services = CTI_SERVICE_AGENT_REPORTING | CTI_SERVICE_ALL_EVENTS;
	o.agent_state_mask = AGENT_STATE_MASK_KNOWN;
	snprintf(o.client_id, sizeof(o.client_id), "%s", n->self->name);
	o.app_path = (uint32_t)cf->mr.path;
	proto_cti_client_set_open(&o);
	snprintf(peers, sizeof(peers), "%s|%s", p->sides[0], p->sides[1]);
	arm->link = link_new(n->base, "cti-link", peers, LINK_KIND_CTI, 1,
	    a->address, a->cti_port, cf, &proto_cti_client, &arm_ops, arm);
	link_set_alt_port(arm->link, b->cti_port);
	node_add_link(n, arm->link);
	return arm;
}

void
app_arm_free(struct app_arm *arm)
{
	struct arm_msg	*q;

	if (arm == NULL)
		return;
	while ((q = TAILQ_FIRST(&arm->queue)) != NULL) {
		TAILQ_REMOVE(&arm->queue, q, entry);
		free(q);
	}
	while ((q = TAILQ_FIRST(&arm->flight)) != NULL) {
		TAILQ_REMOVE(&arm->flight, q, entry);
		free(q);
	}
	free(arm->agents);
	free(arm);
}
