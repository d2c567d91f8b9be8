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
 * the session goes (the next one asks again), but in the email MRDs
 * (R19): there the app goes on recording it from its own tasks (RESERVED
 * while one is only offered, ACTIVE once one started, AVAILABLE when the
 * last ends) and assigning tasks on it.  Task messages wait in a bounded
 * queue while the session is down and go, in order, when it is back; a
 * request sent and not answered when the session goes is sent again
 * first.  Those of the email MRDs wait on for the resync bracket: when
 * the CTI server says AGENT_INIT_READY_EVENT the app sends
 * BEGIN_AGENT_INIT_IND, AGENT_INIT_REQ per agent it knows signed in to
 * an email MRD (its state and task count as recorded), TASK_INIT_IND per
 * live task there with a TaskID, TASK_INIT_REQ per one without (begun
 * while the session was down: the RESP gives its TaskID),
 * END_AGENT_INIT_IND; the queued messages of those tasks are dropped
 * (the bracket tells where they are), the others go after it.  Before
 * they go, app.c hears that the session is back (app_arm_back: the
 * reports its task life interrupted, R20); those of a task that began
 * and ended while it was down are flagged TASKF_CTI_DOWN (app_arm_mark;
 * R21, told here when they go).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"
#include "ged188.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define ARM_VERSION		24
#define ARM_QUEUE_MAX		10000	/* task messages while down */
/*
 * InvokeIDs of the resync bracket (R19): BEGIN, END, then one per agent
 * and MRD (its index << 3 | the MRD's index); a task's is its DialogueID.
 */
#define ARM_INIT_INVOKE		0x80000000U
#define ARM_INIT_BEGIN		ARM_INIT_INVOKE
#define ARM_INIT_END		(ARM_INIT_INVOKE + 1)
#define ARM_INIT_AGENT(i, j)	(ARM_INIT_INVOKE + 2 + ((uint32_t)(i) << 3 | \
				 (uint32_t)(j)))

/* An agent in one of its non-voice MRDs. */
struct arm_media {
	uint32_t	 mrd;
	int		 state;		/* AS_*, as the CTI server says */
	uint64_t	 since_ms;	/* monotonic: the state's start */
	int		 ntasks;	/* the application's tasks there */
	int		 nstarted;	/* of them, started */
	int		 email;		/* an email MRD: kept, resynced */
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
	int		 resync_wait;	/* open, its bracket not sent yet */
	struct event	*ev_ready;	/* AGENT_INIT_READY_EVENT awaited */
	struct {
		uint64_t brackets, agents, corrected, refused;
		uint64_t known, begun, dropped;
	}		 resync;	/* R19 */
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

/*
 * A message of an email MRD's task while the session waits for its
 * resync bracket: it waits too (R19).
 */
static int
arm_waits(const struct app_arm *arm, uint32_t mrd)
{
	return (!link_is_up(arm->link) || arm->resync_wait) &&
	    cfg_mrd_email(arm->node->cfg, (int)mrd);
}

/*
 * R19: while the session is down (or its bracket not yet sent), the app's
 * own record of an agent in an email MRD follows its tasks: ACTIVE once
 * one started, RESERVED while one is only offered, AVAILABLE when none is
 * left (unless it was Not Ready).  A state it never knew stays unknown.
 */
static void
arm_record(struct app_arm *arm, struct arm_media *m)
{
	int	st;

	if (!m->email || (link_is_up(arm->link) && !arm->resync_wait))
		return;
	if (m->state != AS_NOT_READY && m->state != AS_AVAILABLE &&
	    m->state != AS_RESERVED && m->state != AS_ACTIVE)
		return;
	if (m->nstarted > 0)
		st = AS_ACTIVE;
	else if (m->ntasks > 0)
		st = AS_RESERVED;
	else if (m->state != AS_NOT_READY)
		st = AS_AVAILABLE;
	else
		return;
	if (st != m->state) {
		m->state = st;
		m->since_ms = mono_ms();
	}
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
	int		 wait = !link_is_up(arm->link) ||
	    arm_waits(arm, m->mrd);

	if (wait && arm->nqueued >= ARM_QUEUE_MAX) {
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
	if (!wait) {
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

	if (m != NULL && m->ntasks + delta >= 0) {
		m->ntasks += delta;
		arm_record(arm, m);
	}
}

/* One of the application's tasks of agent's starts (1) or ends started. */
void
app_arm_started(struct app_arm *arm, uint32_t agent, uint32_t mrd,
    int delta)
{
	struct arm_media	*m = arm_media(arm_agent(arm, agent), mrd);

	if (m != NULL && m->nstarted + delta >= 0) {
		m->nstarted += delta;
		arm_record(arm, m);
	}
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
	const struct arm_media	*m;
	json_t			*j, *email = json_object();
	int			 i, k, avail = 0, known = 0, n;

	for (i = 0; i < arm->nagents; i++)
		for (k = 0; k < arm->agents[i].nmedia; k++) {
			m = &arm->agents[i].media[k];
			avail += m->state == AS_AVAILABLE;
			known += m->state != AS_UNKNOWN;
			if (!m->email)
				continue;
			n = (int)json_integer_value(json_object_get(email,
			    agent_state_name(m->state)));
			json_object_set_new(email, agent_state_name(m->state),
			    json_integer(n + 1));
		}
	j = json_pack("{s:s, s:s?, s:i, s:I, s:i, s:i, s:i, s:I, s:I, "
	    "s:i, s:i, s:i, s:o}",
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
	    "agents_available", avail,
	    "resync", json_pack("{s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I}", "waiting", arm->resync_wait, "email_states", email,
	    "brackets",
	    (json_int_t)arm->resync.brackets, "agents",
	    (json_int_t)arm->resync.agents, "agents_corrected",
	    (json_int_t)arm->resync.corrected, "refused",
	    (json_int_t)arm->resync.refused, "tasks_known",
	    (json_int_t)arm->resync.known, "tasks_begun",
	    (json_int_t)arm->resync.begun, "messages_dropped",
	    (json_int_t)arm->resync.dropped));
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

/*
 * Each agent's state in each of its non-voice MRDs the app does not know
 * (every one at the first session; after an outage, not the email MRDs':
 * the app's record of those is what it resyncs), asked anew.
 */
static void
arm_query_all(struct app_arm *arm)
{
	struct ged_msg		g;
	struct wire_writer	w;
	int			i, j;

	for (i = 0; i < arm->nagents; i++)
		for (j = 0; j < arm->agents[i].nmedia; j++) {
			if (arm->agents[i].media[j].state != AS_UNKNOWN)
				continue;
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
 * The queued messages go, oldest first; those of the email MRDs only
 * when all is set (the bracket sent).
 */
static void
arm_flush(struct app_arm *arm, int all)
{
	struct arm_msg	*q, *next;

	for (q = TAILQ_FIRST(&arm->queue); q != NULL; q = next) {
		next = TAILQ_NEXT(q, entry);
		if (!all && cfg_mrd_email(arm->node->cfg, (int)q->m.mrd))
			continue;
		TAILQ_REMOVE(&arm->queue, q, entry);
		arm->nqueued--;
		arm_write(arm, q);
	}
}

/*
 * No AGENT_INIT_READY_EVENT one heartbeat interval after the session
 * opened: a CTI server that takes no resync.  What the email MRDs'
 * tasks left waiting goes as it is, and their states are asked as the
 * others' (the app's record is not the server's).
 */
static void
arm_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct app_arm	*arm = arg;
	int		 i, j;

	(void)fd;
	(void)what;
	if (!arm->resync_wait)
		return;
	log_link_warnx(arm->link, "[%s] no AGENT_INIT_READY_EVENT from the "
	    "CTI server of %s within %d ms: no resync; %d queued message%s "
	    "sent as they are, the email MRDs' states asked",
	    rule_tag(RULE_R19), arm->server,
	    arm->node->cfg->hb_cti.interval_ms, arm->nqueued,
	    arm->nqueued == 1 ? "" : "s");
	arm->resync_wait = 0;
	for (i = 0; i < arm->nagents; i++)
		for (j = 0; j < arm->agents[i].nmedia; j++)
			if (arm->agents[i].media[j].email)
				arm->agents[i].media[j].state = AS_UNKNOWN;
	arm_flush(arm, 1);
	arm_query_all(arm);
}

/*
 * The session opened: what waited goes, oldest first (the requests left
 * unanswered by the last session before the rest), but the email MRDs'
 * messages (they wait for the resync bracket, R19), then the view is
 * asked for.
 */
static void
arm_up(struct link *l, void *arg)
{
	struct app_arm	*arm = arg;
	struct arm_msg	*q;
	struct timeval	 tv;
	json_t		*names = json_array();
	int		 n = arm->nqueued, out = 0;

	arm->opens++;
	arm_set_server(arm);
	evt_emit(RULE_NONE, "cti_session_open", json_pack("{s:s, s:i, s:i, "
	    "s:i}", "server", arm->server, "port", l->port, "version",
	    (int)l->version, "queued", n), "ARM session open with the CTI "
	    "server of %s (port %d, version %u)%s", arm->server, l->port,
	    l->version, n > 0 ? ": queued task messages sent" : "");
	arm->resync_wait = 1;
	ms_to_tv(arm->node->cfg->hb_cti.interval_ms, &tv);
	evtimer_add(arm->ev_ready, &tv);
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
	arm_flush(arm, 0);
	arm_query_all(arm);
	node_update_summary(arm->node);
}

/*
 * The session ended: the view is forgotten but in the email MRDs (R19),
 * unanswered requests wait.
 */
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
	arm->resync_wait = 0;
	evtimer_del(arm->ev_ready);
	for (i = 0; i < arm->nagents; i++)
		for (j = 0; j < arm->agents[i].nmedia; j++)
			if (!arm->agents[i].media[j].email)
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
	/* Until its bracket is sent, the app's record of an email MRD is
	   what it corrects the CTI server's with (R19). */
	if (arm->resync_wait &&
	    cfg_mrd_email(arm->node->cfg, (int)g->fixed[AE_MRD_ID]))
		return;
	if (ged_get_str(g, TAG_AGENT_ID, id, sizeof(id)) == 1 &&
	    parse_int(id, 0, INT32_MAX, &v) == 0)
		arm_state(arm, (uint32_t)v, g->fixed[AE_MRD_ID],
		    g->fixed[AE_AGENT_STATE]);
	else
		arm_state(arm, g->fixed[AE_ICM_AGENT_ID], g->fixed[AE_MRD_ID],
		    g->fixed[AE_AGENT_STATE]);
}

/* One message of the bracket, of n fixed fields. */
static void
arm_init_send(struct app_arm *arm, uint32_t type, const uint32_t *v,
    size_t n, const char *agent_id)
{
	struct ged_msg		g;
	struct wire_writer	w;
	size_t			i;

	ged_init(&g, type, arm->link->version);
	for (i = 0; i < n && i < GED_FIXED_MAX; i++)
		g.fixed[i] = v[i];
	ged_begin(&w, &g);
	if (agent_id != NULL)
		ged_put_str(&w, arm->link->version, TAG_AGENT_ID, agent_id);
	link_send(arm->link, &w);
}

/* A task of app.c's into the bracket: TASK_INIT_IND, or _REQ if no id. */
void
app_arm_task_init(struct app_arm *arm, const struct app_arm_msg *m,
    int started, uint32_t offered, uint32_t start)
{
	int		has_id = (m->task[0] | m->task[1] | m->task[2]) != 0;
	uint32_t	v[] = {
		[TK_INVOKE_ID] = m->dialogue, [TK_PERIPHERAL_ID] = m->periph,
		[TK_MRD_ID] = m->mrd, [TK_ICM_AGENT_ID] = m->agent,
		[TK_GROUP_HIGH] = m->task[0], [TK_GROUP_LOW] = m->task[1],
		[TK_SEQUENCE] = m->task[2], [TK_DIALOGUE_ID] = m->dialogue,
		[TK_FLAGS] = m->flags, [TI_STATE] = started ?
		    TASK_INIT_STARTED : TASK_INIT_OFFERED,
		[TI_OFFER_TIME] = offered, [TI_START_TIME] = start
	};

	arm_init_send(arm, has_id ? MSG_TASK_INIT_IND : MSG_TASK_INIT_REQ, v,
	    NITEMS(v), NULL);
	if (has_id)
		arm->resync.known++;
	else
		arm->resync.begun++;
	log_link_debug(arm->link, "%s of dialogue %u (agent %u, MRD %u, %s)",
	    has_id ? "TASK_INIT_IND" : "TASK_INIT_REQ", m->dialogue, m->agent,
	    m->mrd, started ? "started" : "offered");
}

/*
 * AGENT_INIT_READY_EVENT of the agent peripheral (R19): the messages
 * waiting of the tasks the bracket tells are dropped, the bracket goes
 * (every agent the app knows signed in to an email MRD, as recorded;
 * app.c's live tasks there), then what still waits.
 */
static void
arm_bracket(struct app_arm *arm, uint32_t periph)
{
	struct arm_msg		*q, *next;
	struct arm_media	*m;
	uint32_t		 v[9], b[2] = { ARM_INIT_BEGIN, periph };
	uint64_t		 known = arm->resync.known;
	uint64_t		 begun = arm->resync.begun, now = mono_ms();
	int			 i, j, agents = 0, dropped = 0;
	char			 id[16];

	if (periph != arm->periph || !arm->resync_wait) {
		log_link_debug(arm->link, "AGENT_INIT_READY_EVENT of "
		    "peripheral %u ignored: %s", periph, periph !=
		    arm->periph ? "not the agent peripheral" : "resynced "
		    "already");
		return;
	}
	for (q = TAILQ_FIRST(&arm->queue); q != NULL; q = next) {
		next = TAILQ_NEXT(q, entry);
		if (!cfg_mrd_email(arm->node->cfg, (int)q->m.mrd) ||
		    !app_task_in_resync(arm->node, q->m.dialogue))
			continue;
		TAILQ_REMOVE(&arm->queue, q, entry);
		arm->nqueued--;
		free(q);
		dropped++;
	}
	arm->resync.dropped += (uint64_t)dropped;
	arm_init_send(arm, MSG_BEGIN_AGENT_INIT_IND, b, NITEMS(b), NULL);
	for (i = 0; i < arm->nagents; i++)
		for (j = 0; j < arm->agents[i].nmedia; j++) {
			m = &arm->agents[i].media[j];
			if (!m->email || (m->state != AS_NOT_READY &&
			    m->state != AS_AVAILABLE && m->state !=
			    AS_RESERVED && m->state != AS_ACTIVE))
				continue;
			v[AI_INVOKE_ID] = ARM_INIT_AGENT(i, j);
			v[AI_PERIPHERAL_ID] = arm->periph;
			v[AI_MRD_ID] = m->mrd;
			v[AI_ICM_AGENT_ID] = arm->agents[i].id;
			v[AI_AGENT_STATE] = (uint32_t)m->state;
			v[AI_REASON] = 0;
			v[AI_STATE_DURATION] = (uint32_t)((now - m->since_ms) /
			    1000);
			v[AI_NUM_TASKS] = (uint32_t)m->ntasks;
			v[AI_MAX_TASKS] = 0;
			snprintf(id, sizeof(id), "%u", arm->agents[i].id);
			arm_init_send(arm, MSG_AGENT_INIT_REQ, v, NITEMS(v),
			    id);
			agents++;
		}
	app_resync_tasks(arm->node);
	b[AB_INVOKE_ID] = ARM_INIT_END;
	arm_init_send(arm, MSG_END_AGENT_INIT_IND, b, NITEMS(b), NULL);
	arm->resync.brackets++;
	arm->resync.agents += (uint64_t)agents;
	arm->resync_wait = 0;
	evtimer_del(arm->ev_ready);
	evt_emit(RULE_R19, "agents_resynced", json_pack("{s:s, s:i, s:i, "
	    "s:I, s:I, s:i, s:i}", "server", arm->server, "peripheral",
	    (int)periph, "agents", agents, "tasks_known",
	    (json_int_t)(arm->resync.known - known), "tasks_begun",
	    (json_int_t)(arm->resync.begun - begun), "messages_dropped",
	    dropped, "queued", arm->nqueued), "resync bracket sent to the "
	    "CTI server of %s for peripheral %u: %d agent%s of the email "
	    "MRDs as recorded, %llu task%s known, %llu begun while the "
	    "session was down (%d queued message%s they replace); %d "
	    "queued message%s follow", arm->server, periph, agents,
	    agents == 1 ? "" : "s",
	    (unsigned long long)(arm->resync.known - known),
	    arm->resync.known - known == 1 ? "" : "s",
	    (unsigned long long)(arm->resync.begun - begun), dropped,
	    dropped == 1 ? "" : "s", arm->nqueued, arm->nqueued == 1 ? "" :
	    "s");
	arm_flush(arm, 1);
}

/*
 * An answer of the bracket (R19): AGENT_INIT_RESP, or a FAILURE_RESP of
 * one of its InvokeIDs.  An agent the CTI server says is not signed in
 * there (6) is out of the MRD in the view.
 */
static void
arm_init_answer(struct app_arm *arm, uint32_t type, uint32_t invoke,
    uint32_t status)
{
	struct arm_media	*m = NULL;
	uint32_t		 k = invoke - ARM_INIT_INVOKE - 2;

	if (invoke >= ARM_INIT_INVOKE + 2 &&
	    (k >> 3) < (uint32_t)arm->nagents &&
	    (k & 7) < (uint32_t)arm->agents[k >> 3].nmedia)
		m = &arm->agents[k >> 3].media[k & 7];
	if (type == MSG_AGENT_INIT_RESP) {
		arm->resync.corrected++;
		return;
	}
	arm->resync.refused++;
	log_link_warnx(arm->link, "[%s] the CTI server refused %s of the "
	    "resync bracket: status %u", rule_tag(RULE_R19), invoke ==
	    ARM_INIT_BEGIN ? "BEGIN_AGENT_INIT_IND" : invoke == ARM_INIT_END ?
	    "END_AGENT_INIT_IND" : m != NULL ? "an AGENT_INIT_REQ" : "a "
	    "message", status);
	if (m != NULL && status == E_ARM_STAT_AGENT_NOT_LOGGED_IN) {
		m->state = AS_LOGOUT;
		m->since_ms = mono_ms();
	}
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

	/* TASK_INIT_REQs are not in flight: app.c knows its tasks'. */
	req = type == MSG_OFFER_APPLICATION_TASK_RESP ?
	    MSG_OFFER_APPLICATION_TASK_REQ : type ==
	    MSG_START_APPLICATION_TASK_RESP ? MSG_START_APPLICATION_TASK_REQ :
	    type == MSG_TASK_INIT_RESP ? MSG_TASK_INIT_REQ : 0;
	TAILQ_FOREACH(q, &arm->flight, entry)
		if (q->m.dialogue == invoke && (req == 0 || q->m.type == req))
			break;
	if (q == NULL && app_task_resynced(arm->node, type, invoke, status,
	    type == MSG_FAILURE_RESP ? NULL : &g->fixed[TR_GROUP_HIGH]))
		return;
	if (q == NULL && type == MSG_FAILURE_RESP &&
	    invoke >= ARM_INIT_INVOKE) {
		arm_init_answer(arm, type, invoke, status);
		return;
	}
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
	case MSG_TASK_INIT_RESP:
	case MSG_FAILURE_RESP:
		arm_answer(arm, &g, m->type);
		break;
	case MSG_AGENT_INIT_READY_EVENT:
		arm_bracket(arm, g.fixed[AR_PERIPHERAL_ID]);
		break;
	case MSG_AGENT_INIT_RESP:
		arm_init_answer(arm, m->type, g.fixed[MLR_INVOKE_ID],
		    g.fixed[MLR_STATUS]);
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
	arm->ev_ready = evtimer_new(n->base, arm_ready_cb, arm);
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
			ag->media[j].email = cfg_mrd_email(cf, ids[j]);
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
	event_free(arm->ev_ready);
	free(arm->agents);
	free(arm);
}
