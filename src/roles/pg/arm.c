/*
 * The ARM tasks of a PG side's CTI server (docs/media-routing.md, "ARM
 * task messages"): what cti.c took of the application's OFFER_TASK_IND,
 * START_TASK_IND, END_TASK_IND and OFFER_ / START_APPLICATION_TASK_REQ.
 *
 * - The task table: every task offered or started and not ended, by
 *   TaskID, and counted per agent and MRD (cti.c sets the agent's state
 *   there from the counts: RESERVED while one is offered, ACTIVE while one
 *   is started).
 * - The TaskIDs of the application's own tasks: TaskGroupHigh the unix
 *   second, TaskGroupLow the side (bit 30), the millisecond (bits 20..29)
 *   and a count within it, SequenceNumber 0.  Unique across restarts (the
 *   clock moves on) and across the sides, and never a router's, whose
 *   TaskGroupHigh is a RouterCallKeyDay (a day, not a second).
 * - TASK_EVENTs to the router over the side's router link, in order.
 *   While the link is down they wait, up to cti.task_cache (past it the
 *   newer ones are dropped, counted, logged); those sent in the last two
 *   hold times of the link before it went (at most cti.task_cache too)
 *   wait again in front of them (a router killed or hung may not have
 *   read them; it ignores one it has applied).  Every one that waited goes, flagged TASKF_CACHED, when the
 *   link is back (R22: nothing lost).
 * - The other side's CTI server keeps a copy of the table (PEER_TASK): the
 *   whole of it when this one becomes active, when the private link comes
 *   back or when the other steps down, then each change; a CTI server
 *   that takes over knows the tasks the application goes on reporting.
 *   The TASK_EVENTs waiting for the router are not copied: a side that
 *   dies with some loses them (logged when it stops).
 */
#include "config.h"

#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"
#include "ged188.h"

#define ARM_BUCKETS	4096		/* of each hash, a power of two */
#define ARM_ID_COUNT	0xfffffU	/* TaskIDs per millisecond */
/* Tasks of an agent in an MRD at most: the product's maxDialogLimit. */
#define ARM_TASKS_MAX	10

struct arm_task {
	uint32_t	 id[3];
	uint32_t	 periph, agent, mrd, dialogue, flags;
	int		 started;
	int		 app;		/* the application's own task */
	double		 since;		/* when it was offered (or started) */
	LIST_ENTRY(arm_task) chain;
	TAILQ_ENTRY(arm_task) entry;	/* oldest first */
};

/* An agent in an MRD with tasks. */
struct arm_load {
	uint32_t	 periph, agent, mrd;
	int		 offered, started;
	LIST_ENTRY(arm_load) chain;
};

/* A TASK_EVENT waiting for the router, or sent lately. */
struct arm_ev {
	struct msg_task	 t;
	int		 held;		/* made while the router was away */
	uint64_t	 sent_ms;	/* monotonic */
	TAILQ_ENTRY(arm_ev) entry;
};
TAILQ_HEAD(arm_evq, arm_ev);

struct arm {
	struct node	*node;
	LIST_HEAD(, arm_task) tasks[ARM_BUCKETS];
	LIST_HEAD(, arm_load) loads[ARM_BUCKETS];
	TAILQ_HEAD(, arm_task) order;
	int		 ntasks;
	struct arm_evq	 waiting;	/* for the router, not sent */
	int		 nwaiting;
	int		 nheld;		/* of them made while it was away */
	struct arm_evq	 sent;		/* sent within the resend window */
	int		 nsent;
	int		 router_up;
	uint32_t	 id_s, id_ms, id_n;	/* the last TaskID given */
	uint64_t	 taken[TASK_EV_MAX];
	uint64_t	 events, sent_total, cached, resent, dropped;
	uint64_t	 dropped_out;	/* during this outage */
	uint64_t	 mirrored;
	uint64_t	 resync_known, resync_recreated;	/* R19 */
};

static const char *const arm_code_names[TASK_EV_MAX] = {
	[TASK_EV_TABLE] = "table", [TASK_EV_OFFER] = "offer",
	[TASK_EV_START] = "start", [TASK_EV_END] = "end",
	[TASK_EV_APP_OFFER] = "app_offer", [TASK_EV_APP_START] = "app_start"
};

/* A TASK_EVENT code's name, for a log line. */
static const char *
arm_code_name(uint32_t code)
{
	if (code == TASK_EV_RESYNC)
		return "resync";
	return code < TASK_EV_MAX && arm_code_names[code] != NULL ?
	    arm_code_names[code] : "?";
}

static uint32_t
arm_hash(uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t	h = a * 0x9e3779b1U ^ b * 0x85ebca77U ^ c * 0xc2b2ae3dU;

	h ^= h >> 15;
	h *= 0x2c1b3c6dU;
	h ^= h >> 13;
	return h & (ARM_BUCKETS - 1);
}

static int
arm_has_id(const uint32_t id[3])
{
	return (id[0] | id[1] | id[2]) != 0;
}

static struct arm_task *
arm_find(const struct arm *a, const uint32_t id[3])
{
	struct arm_task	*k;

	LIST_FOREACH(k, &a->tasks[arm_hash(id[0], id[1], id[2])], chain)
		if (memcmp(k->id, id, sizeof(k->id)) == 0)
			return k;
	return NULL;
}

static struct arm_load *
arm_load_find(const struct arm *a, uint32_t periph, uint32_t agent,
    uint32_t mrd)
{
	struct arm_load	*l;

	LIST_FOREACH(l, &a->loads[arm_hash(periph, agent, mrd)], chain)
		if (l->periph == periph && l->agent == agent && l->mrd == mrd)
			return l;
	return NULL;
}

void
arm_load(const struct arm *a, uint32_t periph, uint32_t agent, uint32_t mrd,
    int *offered, int *started)
{
	const struct arm_load	*l = arm_load_find(a, periph, agent, mrd);

	*offered = l != NULL ? l->offered : 0;
	*started = l != NULL ? l->started : 0;
}

/* A task into the table, offered or started. */
static void
arm_add(struct arm *a, const struct msg_task *t, int started)
{
	struct arm_task	*k = xcalloc(1, sizeof(*k));
	struct arm_load	*l;

	memcpy(k->id, t->task, sizeof(k->id));
	k->periph = t->peripheral;
	k->agent = t->agent;
	k->mrd = t->mrd;
	k->dialogue = t->dialogue;
	k->flags = t->flags;
	k->started = started;
	k->app = t->code == TASK_EV_APP_OFFER || t->code == TASK_EV_APP_START;
	k->since = (double)t->when + t->when_ms / 1000.0;
	LIST_INSERT_HEAD(&a->tasks[arm_hash(k->id[0], k->id[1], k->id[2])], k,
	    chain);
	TAILQ_INSERT_TAIL(&a->order, k, entry);
	a->ntasks++;
	if ((l = arm_load_find(a, k->periph, k->agent, k->mrd)) == NULL) {
		l = xcalloc(1, sizeof(*l));
		l->periph = k->periph;
		l->agent = k->agent;
		l->mrd = k->mrd;
		LIST_INSERT_HEAD(&a->loads[arm_hash(l->periph, l->agent,
		    l->mrd)], l, chain);
	}
	if (started)
		l->started++;
	else
		l->offered++;
}

static void
arm_start(struct arm *a, struct arm_task *k)
{
	struct arm_load	*l = arm_load_find(a, k->periph, k->agent, k->mrd);

	k->started = 1;
	l->offered--;
	l->started++;
}

static void
arm_del(struct arm *a, struct arm_task *k)
{
	struct arm_load	*l = arm_load_find(a, k->periph, k->agent, k->mrd);

	if (k->started)
		l->started--;
	else
		l->offered--;
	if (l->offered == 0 && l->started == 0) {
		LIST_REMOVE(l, chain);
		free(l);
	}
	LIST_REMOVE(k, chain);
	TAILQ_REMOVE(&a->order, k, entry);
	a->ntasks--;
	free(k);
}

static void
arm_clear(struct arm *a)
{
	struct arm_task	*k;

	while ((k = TAILQ_FIRST(&a->order)) != NULL)
		arm_del(a, k);
}

/* A TaskID for the application's own task (see the top of the file). */
static void
arm_new_id(struct arm *a, uint32_t id[3])
{
	double		now = wall_now();
	uint32_t	s = (uint32_t)now;
	uint32_t	ms = (uint32_t)((now - (double)s) * 1000.0);

	if (ms > 999)
		ms = 999;
	if (s < a->id_s || (s == a->id_s && ms <= a->id_ms)) {
		/* The same millisecond as the last one, or the clock went
		   back: on from the last one. */
		s = a->id_s;
		ms = a->id_ms;
		if (++a->id_n > ARM_ID_COUNT) {
			a->id_n = 0;
			if (++ms == 1000) {
				ms = 0;
				s++;
			}
		}
	} else
		a->id_n = 0;
	a->id_s = s;
	a->id_ms = ms;
	id[0] = s;
	id[1] = (a->node->self->side == 'B' ? 1U << 30 : 0) | ms << 20 |
	    a->id_n;
	id[2] = 0;
}

uint32_t
arm_take(struct arm *a, struct msg_task *t, uint32_t max, int precall)
{
	struct arm_task	*k = NULL;
	int		 app, offered, started, has_id = arm_has_id(t->task);

	if (has_id && (k = arm_find(a, t->task)) != NULL) {
		if (k->periph != t->peripheral || k->agent != t->agent)
			return E_ARM_STAT_INCONSISTENT_AGENT_IDS;
		if (k->mrd != t->mrd)
			return E_ARM_STAT_INCONSISTENT_MEDIA_ROUTING_DOMAIN_IDS;
		if (t->dialogue == 0)
			t->dialogue = k->dialogue;
	}
	app = t->code == TASK_EV_APP_OFFER || t->code == TASK_EV_APP_START;
	arm_load(a, t->peripheral, t->agent, t->mrd, &offered, &started);
	if (max > ARM_TASKS_MAX)
		max = ARM_TASKS_MAX;
	switch (t->code) {
	case TASK_EV_END:
		if (k == NULL)
			return E_ARM_STAT_TASK_OBJECT_NOT_FOUND;
		arm_del(a, k);
		break;
	case TASK_EV_OFFER:
	case TASK_EV_APP_OFFER:
		if (k != NULL)
			return E_ARM_STAT_INVALID_MESSAGE_SEQUENCE;
		if ((uint32_t)(offered + started) >= max)
			return E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED;
		if (!has_id)
			arm_new_id(a, t->task);
		arm_add(a, t, 0);
		break;
	case TASK_EV_START:
	case TASK_EV_APP_START:
		if (k != NULL) {
			if (k->started)
				return E_ARM_STAT_INVALID_MESSAGE_SEQUENCE;
			arm_start(a, k);
			break;
		}
		/* Not offered: the application's own task starts at once;
		   the router's needs its PRECALL (the offer is optional). */
		if (app && has_id)
			return E_ARM_STAT_TASK_OBJECT_NOT_FOUND;
		if (!app && !precall)
			return E_ARM_STAT_NO_OFFER_OR_PRE_CALL_RECEIVED;
		if ((uint32_t)(offered + started) >= max)
			return E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED;
		if (!has_id)
			arm_new_id(a, t->task);
		arm_add(a, t, 1);
		break;
	default:
		return E_ARM_STAT_INVALID_MESSAGE_SEQUENCE;
	}
	a->taken[t->code]++;
	return E_ARM_STAT_OK;
}

/*
 * A task the application's resync bracket tells (R19; t->code the
 * TASK_EV_OFFER or _APP_OFFER of its kind, t->when its offer): one the
 * table has goes on from the state told (an offered one may have
 * started meanwhile, *changed then), one it lacks is added in that state
 * (*changed), with a new TaskID if t has none (TASK_INIT_REQ).  0, or the
 * E_ARM_STAT_ status that refuses it: another agent 22, another MRD 20,
 * past the agent's task limit 34.
 */
uint32_t
arm_resync(struct arm *a, struct msg_task *t, int started, uint32_t max,
    int *changed)
{
	struct arm_task	*k = NULL;
	int		 offered, nstarted;

	*changed = 0;
	if (arm_has_id(t->task) && (k = arm_find(a, t->task)) != NULL) {
		if (k->periph != t->peripheral || k->agent != t->agent)
			return E_ARM_STAT_INCONSISTENT_AGENT_IDS;
		if (k->mrd != t->mrd)
			return E_ARM_STAT_INCONSISTENT_MEDIA_ROUTING_DOMAIN_IDS;
		if (t->dialogue == 0)
			t->dialogue = k->dialogue;
		if (started && !k->started) {
			arm_start(a, k);
			*changed = 1;
		}
		a->resync_known++;
		return E_ARM_STAT_OK;
	}
	arm_load(a, t->peripheral, t->agent, t->mrd, &offered, &nstarted);
	if (max > ARM_TASKS_MAX)
		max = ARM_TASKS_MAX;
	if ((uint32_t)(offered + nstarted) >= max)
		return E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED;
	if (!arm_has_id(t->task))
		arm_new_id(a, t->task);
	arm_add(a, t, started);
	*changed = 1;
	a->resync_recreated++;
	return E_ARM_STAT_OK;
}

/* Sent within two hold times of the router link: maybe not read yet. */
static uint64_t
arm_window_ms(const struct arm *a)
{
	const struct cfg_hb	*hb = &a->node->cfg->hb_router;

	return 2 * (uint64_t)hb->interval_ms * (uint64_t)hb->misses;
}

/* Forget what was sent before the window, and past the bound. */
static void
arm_prune(struct arm *a)
{
	struct arm_ev	*e;
	uint64_t	 now = mono_ms(), win = arm_window_ms(a);

	while ((e = TAILQ_FIRST(&a->sent)) != NULL &&
	    (now - e->sent_ms > win ||
	    a->nsent > a->node->cfg->cti_task_cache)) {
		TAILQ_REMOVE(&a->sent, e, entry);
		a->nsent--;
		free(e);
	}
}

/* One TASK_EVENT on the router link; -1 (e untouched) if it is down. */
static int
arm_send(struct arm *a, struct arm_ev *e)
{
	if (pg_send_task(a->node, MSG_TASK_EVENT, &e->t) == -1)
		return -1;
	log_debug("TASK_EVENT %s of task %u.%u.%u (agent %u, MRD %u, "
	    "dialogue %u, path %u, flags 0x%02x) sent to the router",
	    arm_code_name(e->t.code), e->t.task[0], e->t.task[1],
	    e->t.task[2], e->t.agent, e->t.mrd, e->t.dialogue, e->t.path,
	    e->t.flags);
	e->sent_ms = mono_ms();
	TAILQ_INSERT_TAIL(&a->sent, e, entry);
	a->nsent++;
	a->sent_total++;
	arm_prune(a);
	return 0;
}

/* A TASK_EVENT to wait for the router; dropped past cti.task_cache. */
static void
arm_wait(struct arm *a, const struct msg_task *t)
{
	struct arm_ev	*e;
	int		 max = a->node->cfg->cti_task_cache;

	if (a->nheld >= max) {
		a->dropped++;
		if (a->dropped_out++ == 0)
			log_warnx("TASK_EVENT of task %u.%u.%u dropped: %d "
			    "wait for the router already (cti.task_cache); "
			    "newer ones are dropped until its link is back",
			    t->task[0], t->task[1], t->task[2], max);
		return;
	}
	e = xcalloc(1, sizeof(*e));
	e->t = *t;
	e->held = 1;
	TAILQ_INSERT_TAIL(&a->waiting, e, entry);
	a->nwaiting++;
	a->nheld++;
	a->cached++;
}

void
arm_report(struct arm *a, const struct msg_task *t)
{
	struct arm_ev	*e;

	a->events++;
	if (a->router_up && TAILQ_EMPTY(&a->waiting)) {
		e = xcalloc(1, sizeof(*e));
		e->t = *t;
		if (arm_send(a, e) == 0)
			return;
		free(e);
	}
	arm_wait(a, t);
}

/* The router link went: what it may not have read waits again, first. */
static void
arm_router_lost(struct arm *a)
{
	struct arm_ev	*e;
	uint64_t	 now = mono_ms(), win = arm_window_ms(a);
	int		 n = 0;

	while ((e = TAILQ_LAST(&a->sent, arm_evq)) != NULL) {
		TAILQ_REMOVE(&a->sent, e, entry);
		a->nsent--;
		if (now - e->sent_ms > win) {
			free(e);
			continue;
		}
		TAILQ_INSERT_HEAD(&a->waiting, e, entry);
		a->nwaiting++;
		n++;
	}
	a->resent += (uint64_t)n;
	if (n > 0)
		log_info("router link down: the last %d TASK_EVENT%s sent "
		    "will be sent again (maybe not read)", n,
		    n == 1 ? "" : "s");
}

/* The router link is back: everything that waited, in order. */
static void
arm_router_back(struct arm *a)
{
	struct arm_ev	*e;
	int		 n = 0;

	while ((e = TAILQ_FIRST(&a->waiting)) != NULL) {
		TAILQ_REMOVE(&a->waiting, e, entry);
		e->t.flags |= TASKF_CACHED;
		if (arm_send(a, e) == -1) {
			TAILQ_INSERT_HEAD(&a->waiting, e, entry);
			break;
		}
		a->nwaiting--;
		a->nheld -= e->held;
		e->held = 0;
		n++;
	}
	if (n > 0 || a->dropped_out > 0)
		log_info("router link back: %d cached TASK_EVENT%s sent, "
		    "%llu dropped while it was away", n, n == 1 ? "" : "s",
		    (unsigned long long)a->dropped_out);
	a->dropped_out = 0;
}

void
arm_router(struct arm *a, int up)
{
	a->router_up = up;
	if (up)
		arm_router_back(a);
	else
		arm_router_lost(a);
}

/* A task as the PEER_TASK that tells the other side it is there. */
static void
arm_task_msg(const struct arm_task *k, struct msg_task *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->task, k->id, sizeof(t->task));
	t->peripheral = t->agent_periph = k->periph;
	t->agent = k->agent;
	t->mrd = k->mrd;
	t->dialogue = k->dialogue;
	t->flags = k->flags;
	if (k->app)
		t->code = k->started ? TASK_EV_APP_START : TASK_EV_APP_OFFER;
	else
		t->code = k->started ? TASK_EV_START : TASK_EV_OFFER;
	t->when = (uint32_t)k->since;
	t->when_ms = (uint32_t)((k->since - (double)t->when) * 1000.0) % 1000;
}

void
arm_send_table(struct arm *a)
{
	struct arm_task	*k;
	struct msg_task	 t;

	memset(&t, 0, sizeof(t));
	t.code = TASK_EV_TABLE;
	if (pg_send_task(a->node, MSG_PEER_TASK, &t) == -1)
		return;
	TAILQ_FOREACH(k, &a->order, entry) {
		arm_task_msg(k, &t);
		pg_send_task(a->node, MSG_PEER_TASK, &t);
	}
	log_debug("task table (%d task%s) sent to the other side",
	    a->ntasks, a->ntasks == 1 ? "" : "s");
}

void
arm_send_change(struct arm *a, const struct msg_task *t)
{
	pg_send_task(a->node, MSG_PEER_TASK, t);
}

int
arm_mirror(struct arm *a, const struct msg_task *t, char *err, size_t errlen)
{
	struct arm_task	*k;
	int		 offered, started, start;

	if (t->code == TASK_EV_TABLE) {
		arm_clear(a);
		a->mirrored++;
		return 0;
	}
	if (t->code >= TASK_EV_MAX || !arm_has_id(t->task)) {
		snprintf(err, errlen, "PEER_TASK: %s", t->code >= TASK_EV_MAX ?
		    "unknown code" : "no TaskID");
		return -1;
	}
	k = arm_find(a, t->task);
	if (k != NULL && (k->periph != t->peripheral ||
	    k->agent != t->agent || k->mrd != t->mrd)) {
		arm_del(a, k);		/* the active side's word is newer */
		k = NULL;
	}
	start = t->code == TASK_EV_START || t->code == TASK_EV_APP_START;
	if (t->code == TASK_EV_END) {
		if (k != NULL)
			arm_del(a, k);
	} else if (k != NULL) {
		if (start && !k->started)
			arm_start(a, k);
	} else {
		arm_load(a, t->peripheral, t->agent, t->mrd, &offered,
		    &started);
		if (offered + started >= ARM_TASKS_MAX) {
			snprintf(err, errlen, "PEER_TASK: agent %u has %d "
			    "tasks in MRD %u already", t->agent, ARM_TASKS_MAX,
			    t->mrd);
			return -1;
		}
		arm_add(a, t, start);
	}
	a->mirrored++;
	return 0;
}

static json_t *
arm_task_json(const struct arm_task *k)
{
	return json_pack("{s:[I, I, I], s:I, s:I, s:I, s:I, s:I, s:s, s:b, "
	    "s:f}", "task", (json_int_t)k->id[0], (json_int_t)k->id[1],
	    (json_int_t)k->id[2], "peripheral", (json_int_t)k->periph,
	    "agent", (json_int_t)k->agent, "mrd", (json_int_t)k->mrd,
	    "dialogue", (json_int_t)k->dialogue, "flags",
	    (json_int_t)k->flags, "state", k->started ? "started" : "offered",
	    "app", k->app, "since", k->since);
}

/* Counters (the status's), and with table every task, oldest first. */
json_t *
arm_json(const struct arm *a, int table)
{
	const struct arm_task	*k;
	json_t			*j, *taken = json_object(), *all;
	int			 i;

	for (i = TASK_EV_OFFER; i < TASK_EV_MAX; i++)
		json_object_set_new(taken, arm_code_names[i],
		    json_integer((json_int_t)a->taken[i]));
	j = json_pack("{s:i, s:o, s:I, s:I, s:I, s:i, s:I, s:I, s:I}",
	    "tasks", a->ntasks, "taken", taken, "events",
	    (json_int_t)a->events, "sent", (json_int_t)a->sent_total,
	    "cached", (json_int_t)a->cached, "waiting", a->nwaiting,
	    "resent", (json_int_t)a->resent, "dropped",
	    (json_int_t)a->dropped, "mirrored", (json_int_t)a->mirrored);
	json_object_set_new(j, "resync", json_pack("{s:I, s:I}", "known",
	    (json_int_t)a->resync_known, "recreated",
	    (json_int_t)a->resync_recreated));
	if (table) {
		all = json_array();
		TAILQ_FOREACH(k, &a->order, entry)
			json_array_append_new(all, arm_task_json(k));
		json_object_set_new(j, "table", all);
	}
	return j;
}

struct arm *
arm_new(struct node *n)
{
	struct arm	*a = xcalloc(1, sizeof(*a));
	int		 i;

	a->node = n;
	for (i = 0; i < ARM_BUCKETS; i++) {
		LIST_INIT(&a->tasks[i]);
		LIST_INIT(&a->loads[i]);
	}
	TAILQ_INIT(&a->order);
	TAILQ_INIT(&a->waiting);
	TAILQ_INIT(&a->sent);
	return a;
}

static void
arm_free_evq(struct arm_evq *q)
{
	struct arm_ev	*e;

	while ((e = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, e, entry);
		free(e);
	}
}

void
arm_free(struct arm *a)
{
	if (a == NULL)
		return;
	if (a->nwaiting > 0)
		log_warnx("%d TASK_EVENT%s never sent to the router: the side "
		    "stops", a->nwaiting, a->nwaiting == 1 ? "" : "s");
	arm_clear(a);
	arm_free_evq(&a->waiting);
	arm_free_evq(&a->sent);
	free(a);
}
