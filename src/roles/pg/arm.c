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
 *   read them; it ignores one it has applied).  Every one that waited
 *   goes, flagged TASKF_CACHED, when the link is back (R22: nothing
 *   lost); then the application paths down, again (R21).
 * - The other side's CTI server keeps a copy of the table (PEER_TASK): the
 *   whole of it when this one becomes active, when the private link comes
 *   back or when the other steps down, then each change; a CTI server
 *   that takes over knows the tasks the application goes on reporting.
 * - Application paths (R18): each task belongs to the ApplicationPathID
 *   of the session that reported it.  While no session of a path is
 *   open, each of its tasks has a deadline, the time the path went plus
 *   its MRD's task_life; cti.c ends those whose deadline passes
 *   (arm_expire: END flagged TASKF_PATH_DOWN, disposition 42 at the
 *   router).  A session of the path before the deadline takes them back.
 *   The paths and deadlines are copied to the other side with the table.
 * - Tombstones (R20): a task ended so is remembered (at most
 *   ARM_TOMBS_MAX, the oldest forgotten first, counted), so that a START
 *   or END of it the application reports later resumes its report: a
 *   new segment, flagged TASKF_RESUMED.
 * - The other side's CTI server keeps a copy of the TASK_EVENTs too
 *   (PEER_TASK_CACHE, R22): every one this side has not sent, or sent
 *   within the window, in order; this side tells it each one it makes
 *   and how many it forgets from the front.  A CTI server that is active
 *   while the other side is gone (its private link down) takes the copy
 *   over and sends it (the router takes each step once), so TASK_EVENTs
 *   waiting for a router that is away do not die with their side.  While
 *   the other side is there it sends its own.
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
#define ARM_TOMBS_MAX	10000		/* tasks ended with 42 remembered */

struct arm_task {
	uint32_t	 id[3];
	uint32_t	 periph, agent, mrd, dialogue, flags;
	int		 started;
	int		 app;		/* the application's own task */
	double		 since;		/* when it was offered (or started) */
	uint32_t	 path;		/* ApplicationPathID of its session */
	uint32_t	 segment;	/* of its report: 1, 2 once resumed */
	double		 deadline;	/* its path is down: it ends then */
	uint32_t	 told;		/* the resync bracket that told it */
	LIST_ENTRY(arm_task) chain;
	TAILQ_ENTRY(arm_task) entry;	/* oldest first */
};

/* An application path: up while a session of it is open. */
struct arm_path {
	uint32_t	 id;
	int		 down;
	double		 since;		/* down since (wall clock) */
	TAILQ_ENTRY(arm_path) entry;
};

/* A task ended because its task life ran out (R18): R20 may resume it. */
struct arm_tomb {
	uint32_t	 id[3];
	uint32_t	 periph, agent, mrd, dialogue, flags, path, segment;
	int		 app;
	double		 ended;
	LIST_ENTRY(arm_tomb) chain;
	TAILQ_ENTRY(arm_tomb) entry;	/* oldest first */
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
	struct arm_evq	 copy;		/* the other side's, in its order */
	int		 ncopy;
	int		 router_up;
	uint32_t	 id_s, id_ms, id_n;	/* the last TaskID given */
	uint64_t	 taken[TASK_EV_MAX];
	uint64_t	 events, sent_total, cached, resent, dropped;
	uint64_t	 dropped_out;	/* during this outage */
	uint64_t	 mirrored;
	uint64_t	 adopted, copy_dropped;
	int		 active;	/* the CTI server that reports */
	TAILQ_HEAD(, arm_path) paths;
	int		 npaths;
	LIST_HEAD(, arm_tomb) tombs[ARM_BUCKETS];
	TAILQ_HEAD(, arm_tomb) tomb_order;
	int		 ntombs;
	uint64_t	 expired, resumed, tombs_forgotten;
	uint64_t	 resync_known, resync_recreated;	/* R19 */
	uint64_t	 resync_ended;
	uint32_t	 bracket;	/* the resync bracket going on */
};

static void	arm_copy_event(struct arm *, const struct msg_task *);
static void	arm_copy_forget(struct arm *, uint32_t);
static void	arm_copy_all(struct arm *);
static void	arm_router_back(struct arm *);

static const char *const arm_code_names[TASK_EV_MAX] = {
	[TASK_EV_TABLE] = "table", [TASK_EV_OFFER] = "offer",
	[TASK_EV_START] = "start", [TASK_EV_END] = "end",
	[TASK_EV_APP_OFFER] = "app_offer", [TASK_EV_APP_START] = "app_start",
	[TASK_EV_PATH_DOWN] = "path_down", [TASK_EV_PATH_UP] = "path_up"
};

static struct arm_path *arm_path_find(const struct arm *, uint32_t);
static double	 arm_life(const struct arm *, uint32_t);
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
	struct arm_path	*p;

	memcpy(k->id, t->task, sizeof(k->id));
	k->periph = t->peripheral;
	k->agent = t->agent;
	k->mrd = t->mrd;
	k->dialogue = t->dialogue;
	k->flags = t->flags;
	k->started = started;
	k->app = t->code == TASK_EV_APP_OFFER || t->code == TASK_EV_APP_START;
	k->since = (double)t->when + t->when_ms / 1000.0;
	k->path = t->path;
	k->segment = t->epoch != 0 ? t->epoch : 1;
	if ((p = arm_path_find(a, k->path)) != NULL && p->down)
		k->deadline = p->since + arm_life(a, k->mrd);
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

/* Tombstones (R20) ---------------------------------------------------- */

static struct arm_tomb *
arm_tomb_find(const struct arm *a, const uint32_t id[3])
{
	struct arm_tomb	*b;

	LIST_FOREACH(b, &a->tombs[arm_hash(id[0], id[1], id[2])], chain)
		if (memcmp(b->id, id, sizeof(b->id)) == 0)
			return b;
	return NULL;
}

static void
arm_tomb_del(struct arm *a, struct arm_tomb *b)
{
	LIST_REMOVE(b, chain);
	TAILQ_REMOVE(&a->tomb_order, b, entry);
	a->ntombs--;
	free(b);
}

/*
 * The task of t (an END flagged TASKF_PATH_DOWN) is remembered; app: it
 * was the application's own.  Past ARM_TOMBS_MAX the oldest is forgotten
 * (its report can no longer resume: a later message of it is refused as
 * an unknown task).
 */
static void
arm_tomb_add(struct arm *a, const struct msg_task *t, int app)
{
	struct arm_tomb	*b;

	if ((b = arm_tomb_find(a, t->task)) != NULL)
		arm_tomb_del(a, b);
	if (a->ntombs >= ARM_TOMBS_MAX) {
		if (a->tombs_forgotten++ == 0)
			log_warnx("%d tasks ended by their task life are "
			    "remembered already: the oldest are forgotten "
			    "(their reports cannot resume, R20)",
			    ARM_TOMBS_MAX);
		arm_tomb_del(a, TAILQ_FIRST(&a->tomb_order));
	}
	b = xcalloc(1, sizeof(*b));
	memcpy(b->id, t->task, sizeof(b->id));
	b->periph = t->peripheral;
	b->agent = t->agent;
	b->mrd = t->mrd;
	b->dialogue = t->dialogue;
	b->flags = t->flags & ~(TASKF_PATH_DOWN | TASKF_CACHED);
	b->path = t->path;
	b->segment = t->epoch != 0 ? t->epoch : 1;
	b->app = app;
	b->ended = (double)t->when + t->when_ms / 1000.0;
	LIST_INSERT_HEAD(&a->tombs[arm_hash(b->id[0], b->id[1], b->id[2])], b,
	    chain);
	TAILQ_INSERT_TAIL(&a->tomb_order, b, entry);
	a->ntombs++;
}

static void
arm_tomb_clear(struct arm *a)
{
	struct arm_tomb	*b;

	while ((b = TAILQ_FIRST(&a->tomb_order)) != NULL)
		arm_tomb_del(a, b);
}

uint32_t
arm_resuming(struct arm *a, struct msg_task *t)
{
	struct arm_tomb	*b;

	if (t->code != TASK_EV_START && t->code != TASK_EV_APP_START &&
	    t->code != TASK_EV_END)
		return 0;
	if (!arm_has_id(t->task) || arm_find(a, t->task) != NULL ||
	    (b = arm_tomb_find(a, t->task)) == NULL)
		return 0;
	if (b->periph != t->peripheral || b->agent != t->agent ||
	    b->mrd != t->mrd)
		return 0;
	t->flags |= TASKF_RESUMED;
	t->epoch = b->segment + 1;
	if (t->dialogue == 0)
		t->dialogue = b->dialogue;
	return b->app ? TASK_EV_APP_START : TASK_EV_START;
}

/* Application paths (R18) -------------------------------------------- */

/*
 * The task life of an MRD: how long a task outlives its path (the lab's
 * MRDs read here, not through cfg.c: tests/check_arm links this file
 * alone).
 */
static double
arm_life(const struct arm *a, uint32_t mrd)
{
	const struct cfg	*cf = a->node->cfg;
	int			 i;

	for (i = 0; i < cf->nmrds; i++)
		if (cf->mrds[i].id == (int)mrd)
			return (double)cf->mrds[i].task_life;
	return 1200.0;
}

static struct arm_path *
arm_path_find(const struct arm *a, uint32_t id)
{
	struct arm_path	*p;

	TAILQ_FOREACH(p, &a->paths, entry)
		if (p->id == id)
			return p;
	return NULL;
}

static void
arm_path_clear(struct arm *a)
{
	struct arm_path	*p;

	while ((p = TAILQ_FIRST(&a->paths)) != NULL) {
		TAILQ_REMOVE(&a->paths, p, entry);
		free(p);
	}
	a->npaths = 0;
}

int
arm_path_set(struct arm *a, uint32_t id, int down, double since,
    int *ntasks)
{
	struct arm_path	*p = arm_path_find(a, id);
	struct arm_task	*k;
	int		 n = 0;

	*ntasks = 0;
	if (p != NULL && p->down == down)
		return 0;
	if (p == NULL) {
		/* Past the bound, the oldest path known is forgotten: its
		   tasks keep their deadlines, a session of it takes them. */
		if (a->npaths >= ARM_PATHS_MAX) {
			p = TAILQ_FIRST(&a->paths);
			TAILQ_REMOVE(&a->paths, p, entry);
			free(p);
			a->npaths--;
		}
		p = xcalloc(1, sizeof(*p));
		p->id = id;
		TAILQ_INSERT_TAIL(&a->paths, p, entry);
		a->npaths++;
	}
	p->down = down;
	p->since = down ? since : 0;
	TAILQ_FOREACH(k, &a->order, entry) {
		if (k->path != id)
			continue;
		k->deadline = down ? since + arm_life(a, k->mrd) : 0;
		n++;
	}
	*ntasks = n;
	return 1;
}

int
arm_path_down(const struct arm *a, uint32_t id, double *since)
{
	const struct arm_path	*p = arm_path_find(a, id);

	if (p == NULL || !p->down)
		return 0;
	if (since != NULL)
		*since = p->since;
	return 1;
}

int
arm_path_ids(const struct arm *a, uint32_t *ids, int max)
{
	const struct arm_path	*p;
	int			 n = 0;

	TAILQ_FOREACH(p, &a->paths, entry)
		if (n < max)
			ids[n++] = p->id;
	return n;
}

void
arm_path_msg(const struct arm *a, uint32_t id, struct msg_task *t)
{
	const struct arm_path	*p = arm_path_find(a, id);
	double			 since = p != NULL ? p->since : 0;

	memset(t, 0, sizeof(*t));
	t->peripheral = t->agent_periph =
	    (uint32_t)a->node->cfg->mr.agent_periph;
	t->code = p != NULL && p->down ? TASK_EV_PATH_DOWN : TASK_EV_PATH_UP;
	t->path = id;
	t->when = (uint32_t)since;
	t->when_ms = (uint32_t)((since - (double)t->when) * 1000.0) % 1000;
}

double
arm_next_deadline(const struct arm *a)
{
	const struct arm_task	*k;
	double			 next = 0;

	TAILQ_FOREACH(k, &a->order, entry)
		if (k->deadline != 0 && (next == 0 || k->deadline < next))
			next = k->deadline;
	return next;
}

static void	arm_task_msg(const struct arm_task *, struct msg_task *);

int
arm_expire(struct arm *a, double now, arm_expired_fn *fn, void *arg)
{
	struct arm_task	*k, *next;
	struct msg_task	 t;
	int		 n = 0;

	for (k = TAILQ_FIRST(&a->order); k != NULL; k = next) {
		next = TAILQ_NEXT(k, entry);
		if (k->deadline == 0 || k->deadline > now)
			continue;
		arm_task_msg(k, &t);
		t.code = TASK_EV_END;
		t.flags |= TASKF_PATH_DOWN;
		t.when = (uint32_t)k->deadline;
		t.when_ms = (uint32_t)((k->deadline - (double)t.when) *
		    1000.0) % 1000;
		arm_tomb_add(a, &t, k->app);
		arm_del(a, k);
		a->expired++;
		n++;
		fn(arg, &t);
	}
	return n;
}

/*
 * A message about task k of the table, t: its agent and MRD must be k's
 * (else the E_ARM_STAT_ status); t takes k's DialogueID if it has none,
 * and k's segment (its report goes on there, R20).
 */
static uint32_t
arm_same_task(const struct arm_task *k, struct msg_task *t)
{
	if (k->periph != t->peripheral || k->agent != t->agent)
		return E_ARM_STAT_INCONSISTENT_AGENT_IDS;
	if (k->mrd != t->mrd)
		return E_ARM_STAT_INCONSISTENT_MEDIA_ROUTING_DOMAIN_IDS;
	if (t->dialogue == 0)
		t->dialogue = k->dialogue;
	t->flags |= k->flags & TASKF_RESUMED;
	t->epoch = k->segment;
	return E_ARM_STAT_OK;
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
	struct arm_tomb	*b = NULL;
	int		 app, offered, started, has_id = arm_has_id(t->task);
	int		 resumed = 0;
	uint32_t	 st;

	if (has_id && (k = arm_find(a, t->task)) != NULL) {
		if ((st = arm_same_task(k, t)) != E_ARM_STAT_OK)
			return st;
	} else if (has_id && (t->flags & TASKF_RESUMED))
		resumed = (b = arm_tomb_find(a, t->task)) != NULL;
	if (k == NULL && !resumed)
		t->epoch = 1;
	app = t->code == TASK_EV_APP_OFFER || t->code == TASK_EV_APP_START;
	arm_load(a, t->peripheral, t->agent, t->mrd, &offered, &started);
	if (max > ARM_TASKS_MAX)
		max = ARM_TASKS_MAX;
	switch (t->code) {
	case TASK_EV_END:
		if (k != NULL)
			arm_del(a, k);
		else if (!resumed)
			return E_ARM_STAT_TASK_OBJECT_NOT_FOUND;
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
		   the router's needs its PRECALL (the offer is optional); a
		   task whose report resumes (R20) goes on. */
		if (app && has_id && !resumed)
			return E_ARM_STAT_TASK_OBJECT_NOT_FOUND;
		if (!app && !precall && !resumed)
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
	if (resumed) {
		arm_tomb_del(a, b);
		a->resumed++;
	}
	a->taken[t->code]++;
	return E_ARM_STAT_OK;
}

/*
 * A task the application's resync bracket tells (R19; t->code the
 * TASK_EV_OFFER or _APP_OFFER of its kind, t->when its offer): one the
 * table has goes on from the state told (an offered one may have
 * started meanwhile, *changed then), one it lacks is added in that state
 * (*changed), with a new TaskID if t has none (TASK_INIT_REQ).  One whose
 * task life ended it while the path was down (R18) resumes its report
 * in its next segment (R20, *resumed: t flagged TASKF_RESUMED).  t's
 * epoch is the segment of its report.  0, or the E_ARM_STAT_ status that
 * refuses it: another agent 22, another MRD 20, past the agent's task
 * limit 34.
 */
uint32_t
arm_resync(struct arm *a, struct msg_task *t, int started, uint32_t max,
    int *changed, int *resumed)
{
	struct arm_task	*k = NULL;
	struct arm_tomb	*b = NULL;
	int		 offered, nstarted;
	uint32_t	 st;

	*changed = *resumed = 0;
	if (arm_has_id(t->task) && (k = arm_find(a, t->task)) != NULL) {
		if ((st = arm_same_task(k, t)) != E_ARM_STAT_OK)
			return st;
		if (started && !k->started) {
			arm_start(a, k);
			*changed = 1;
		}
		k->told = a->bracket;
		a->resync_known++;
		return E_ARM_STAT_OK;
	}
	if (arm_has_id(t->task) && (b = arm_tomb_find(a, t->task)) != NULL &&
	    (b->periph != t->peripheral || b->agent != t->agent ||
	    b->mrd != t->mrd))
		b = NULL;
	arm_load(a, t->peripheral, t->agent, t->mrd, &offered, &nstarted);
	if (max > ARM_TASKS_MAX)
		max = ARM_TASKS_MAX;
	if ((uint32_t)(offered + nstarted) >= max)
		return E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED;
	if (!arm_has_id(t->task))
		arm_new_id(a, t->task);
	t->epoch = 1;
	if (b != NULL) {
		t->flags |= TASKF_RESUMED;
		t->epoch = b->segment + 1;
		if (t->dialogue == 0)
			t->dialogue = b->dialogue;
		arm_tomb_del(a, b);
		a->resumed++;
		*resumed = 1;
	}
	arm_add(a, t, started);
	if ((k = arm_find(a, t->task)) != NULL)
		k->told = a->bracket;
	*changed = 1;
	a->resync_recreated++;
	return E_ARM_STAT_OK;
}

void
arm_bracket_begin(struct arm *a)
{
	a->bracket++;
}

int
arm_end_untold(struct arm *a, uint32_t periph, uint32_t path,
    int (*email)(void *, uint32_t), void (*fn)(void *,
    const struct msg_task *), void *arg)
{
	struct arm_task	*k, *next;
	struct msg_task	 t;
	double		 now = wall_now();
	int		 n = 0;

	for (k = TAILQ_FIRST(&a->order); k != NULL; k = next) {
		next = TAILQ_NEXT(k, entry);
		if (k->periph != periph || k->path != path ||
		    k->told == a->bracket || !email(arg, k->mrd))
			continue;
		arm_task_msg(k, &t);
		t.code = TASK_EV_END;
		t.flags |= TASKF_INIT_ENDED;
		t.when = (uint32_t)now;
		t.when_ms = (uint32_t)((now - (double)t.when) * 1000.0) % 1000;
		arm_del(a, k);
		a->resync_ended++;
		n++;
		fn(arg, &t);
	}
	return n;
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
	uint32_t	 n = 0;

	while ((e = TAILQ_FIRST(&a->sent)) != NULL &&
	    (now - e->sent_ms > win ||
	    a->nsent > a->node->cfg->cti_task_cache)) {
		TAILQ_REMOVE(&a->sent, e, entry);
		a->nsent--;
		free(e);
		n++;
	}
	arm_copy_forget(a, n);
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

/*
 * A TASK_EVENT to wait for the router; dropped past cti.task_cache: -1.
 */
static int
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
		return -1;
	}
	e = xcalloc(1, sizeof(*e));
	e->t = *t;
	e->held = 1;
	TAILQ_INSERT_TAIL(&a->waiting, e, entry);
	a->nwaiting++;
	a->nheld++;
	a->cached++;
	return 0;
}

void
arm_report(struct arm *a, const struct msg_task *t)
{
	struct arm_ev	*e;

	a->events++;
	if (a->router_up && TAILQ_EMPTY(&a->waiting)) {
		e = xcalloc(1, sizeof(*e));
		e->t = *t;
		/* The copy first: the send may forget older ones. */
		arm_copy_event(a, t);
		if (arm_send(a, e) == 0)
			return;
		free(e);
		/* Nothing waits, nothing is dropped: it waits, copied. */
		arm_wait(a, t);
		return;
	}
	if (arm_wait(a, t) == 0)
		arm_copy_event(a, t);
}

/* The router link went: what it may not have read waits again, first. */
static void
arm_router_lost(struct arm *a)
{
	struct arm_ev	*e;
	uint64_t	 now = mono_ms(), win = arm_window_ms(a);
	uint32_t	 old = 0;
	int		 n = 0;

	while ((e = TAILQ_LAST(&a->sent, arm_evq)) != NULL) {
		TAILQ_REMOVE(&a->sent, e, entry);
		a->nsent--;
		if (now - e->sent_ms > win) {
			free(e);
			old++;
			continue;
		}
		TAILQ_INSERT_HEAD(&a->waiting, e, entry);
		a->nwaiting++;
		n++;
	}
	arm_copy_forget(a, old);	/* the oldest: the front */
	a->resent += (uint64_t)n;
	if (a->active && a->node->cfg->mr.enabled)
		evt_emit(RULE_R22, "task_events_cached", json_pack("{s:i, "
		    "s:i, s:i}", "resent", n, "waiting", a->nwaiting,
		    "task_cache", a->node->cfg->cti_task_cache), "router link "
		    "down: TASK_EVENTs wait for it (up to %d more), the last "
		    "%d sent go again when it is back (maybe not read)",
		    a->node->cfg->cti_task_cache, n);
	else if (n > 0)
		log_info("router link down: the last %d TASK_EVENT%s sent "
		    "will be sent again (maybe not read)", n,
		    n == 1 ? "" : "s");
}

/*
 * The paths down, told the router again once what waited went: a router
 * that restarted knows of none (R21: it holds their tasks' start timers).
 * The active CTI server's word only; the router takes one it knows as
 * it is.
 */
static void
arm_paths_retell(struct arm *a)
{
	struct arm_path	*p;
	struct msg_task	 t;

	if (!a->active || !a->node->cfg->mr.enabled)
		return;
	TAILQ_FOREACH(p, &a->paths, entry)
		if (p->down) {
			arm_path_msg(a, p->id, &t);
			arm_report(a, &t);
		}
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
		evt_emit(RULE_R22, "task_events_sent", json_pack("{s:i, s:I, "
		    "s:i}", "count", n, "dropped", (json_int_t)a->dropped_out,
		    "waiting", a->nwaiting), "router link back: %d cached "
		    "TASK_EVENT%s sent, %llu dropped while it was away "
		    "(cti.task_cache)", n, n == 1 ? "" : "s",
		    (unsigned long long)a->dropped_out);
	a->dropped_out = 0;
	arm_paths_retell(a);
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
	t->path = k->path;
	t->epoch = k->segment;
}

/* A tombstone as the PEER_TASK that ended its task. */
static void
arm_tomb_msg(const struct arm_tomb *b, struct msg_task *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->task, b->id, sizeof(t->task));
	t->peripheral = t->agent_periph = b->periph;
	t->agent = b->agent;
	t->mrd = b->mrd;
	t->dialogue = b->dialogue;
	t->flags = b->flags | TASKF_PATH_DOWN;
	t->code = TASK_EV_END;
	t->path = b->path;
	t->epoch = b->segment;
	t->when = (uint32_t)b->ended;
	t->when_ms = (uint32_t)((b->ended - (double)t->when) * 1000.0) % 1000;
}

void
arm_send_table(struct arm *a)
{
	struct arm_task	*k;
	struct arm_tomb	*b;
	struct arm_path	*p;
	struct msg_task	 t;

	memset(&t, 0, sizeof(t));
	t.code = TASK_EV_TABLE;
	if (pg_send_task(a->node, MSG_PEER_TASK, &t) == -1)
		return;
	TAILQ_FOREACH(k, &a->order, entry) {
		arm_task_msg(k, &t);
		pg_send_task(a->node, MSG_PEER_TASK, &t);
	}
	TAILQ_FOREACH(b, &a->tomb_order, entry) {
		arm_tomb_msg(b, &t);
		pg_send_task(a->node, MSG_PEER_TASK, &t);
	}
	/* The paths last: the copy's tasks get their deadlines. */
	TAILQ_FOREACH(p, &a->paths, entry) {
		arm_path_msg(a, p->id, &t);
		pg_send_task(a->node, MSG_PEER_TASK, &t);
	}
	log_debug("task table (%d task%s, %d ended by their task life, %d "
	    "application path%s) sent to the other side", a->ntasks,
	    a->ntasks == 1 ? "" : "s", a->ntombs, a->npaths,
	    a->npaths == 1 ? "" : "s");
	arm_copy_all(a);
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
	struct arm_tomb	*b;
	int		 offered, started, start, n;

	if (t->code == TASK_EV_TABLE) {
		arm_clear(a);
		arm_tomb_clear(a);
		arm_path_clear(a);
		a->mirrored++;
		return 0;
	}
	if (t->code == TASK_EV_PATH_DOWN || t->code == TASK_EV_PATH_UP) {
		arm_path_set(a, t->path, t->code == TASK_EV_PATH_DOWN,
		    (double)t->when + t->when_ms / 1000.0, &n);
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
	/* A report resumed (R20), or one its task life ended (R18). */
	if ((t->flags & TASKF_RESUMED) && k == NULL &&
	    (b = arm_tomb_find(a, t->task)) != NULL)
		arm_tomb_del(a, b);
	if (t->code == TASK_EV_END && (t->flags & TASKF_PATH_DOWN))
		arm_tomb_add(a, t, k != NULL ? k->app :
		    (t->flags & TASKF_APP_ROUTED) != 0);
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

/*
 * The other side's copy of the TASK_EVENTs this side has not sent, or sent
 * within the window (R22): PEER_TASK_CACHE, a struct msg_task.  Codes 1
 * to 7: a TASK_EVENT (a task's step, or an application path's state), the
 * next of the queue; code 0 (TASK_EV_TABLE): forget
 * the first `epoch` of the copy (ARM_COPY_ALL: all of it).  The private
 * link is one ordered stream and the queue only grows at its end and
 * shrinks at its front, so the copy is the queue.
 */
#define ARM_COPY_ALL	0xffffffffU

static void
arm_copy_event(struct arm *a, const struct msg_task *t)
{
	pg_send_task(a->node, MSG_PEER_TASK_CACHE, t);
}

static void
arm_copy_forget(struct arm *a, uint32_t n)
{
	struct msg_task	t;

	if (n == 0)
		return;
	memset(&t, 0, sizeof(t));
	t.code = TASK_EV_TABLE;
	t.epoch = n;
	pg_send_task(a->node, MSG_PEER_TASK_CACHE, &t);
}

/* The whole queue, after the table: the copy starts again. */
static void
arm_copy_all(struct arm *a)
{
	struct arm_ev	*e;

	arm_copy_forget(a, ARM_COPY_ALL);
	TAILQ_FOREACH(e, &a->sent, entry)
		arm_copy_event(a, &e->t);
	TAILQ_FOREACH(e, &a->waiting, entry)
		arm_copy_event(a, &e->t);
}

/* Forget the first n of the copy. */
static void
arm_copy_drop(struct arm *a, uint32_t n)
{
	struct arm_ev	*e;

	while (n-- > 0 && (e = TAILQ_FIRST(&a->copy)) != NULL) {
		TAILQ_REMOVE(&a->copy, e, entry);
		a->ncopy--;
		free(e);
	}
}

/*
 * A PEER_TASK_CACHE of the other side, kept until it is gone (whether
 * this one is active or not: a CTI server that stepped down still sends
 * what it made).  Bounded by what the other side may hold, twice
 * cti.task_cache (made while the router is away, and the window): past
 * it the oldest goes, counted.  -1 and why for a bad one.
 */
int
arm_mirror_cache(struct arm *a, const struct msg_task *t, char *err,
    size_t errlen)
{
	struct arm_ev	*e;

	/*
	 * A task's step names its TaskID; a path's state and an agent's
	 * state a resync bracket told (R19) do not.
	 */
	if ((t->code >= TASK_EV_MAX && t->code != TASK_EV_RESYNC) ||
	    (t->code != TASK_EV_TABLE && t->code != TASK_EV_PATH_DOWN &&
	    t->code != TASK_EV_PATH_UP && t->code != TASK_EV_RESYNC &&
	    !arm_has_id(t->task))) {
		snprintf(err, errlen, "PEER_TASK_CACHE: %s", t->code >=
		    TASK_EV_MAX ? "unknown code" : "no TaskID");
		return -1;
	}
	if (t->code == TASK_EV_TABLE) {
		arm_copy_drop(a, t->epoch);
		return 0;
	}
	if (a->ncopy >= 2 * a->node->cfg->cti_task_cache) {
		arm_copy_drop(a, 1);
		if (a->copy_dropped++ == 0)
			log_warnx("[R22] the other side's copy of its "
			    "TASK_EVENTs is past twice cti.task_cache: its "
			    "oldest are forgotten");
	}
	e = xcalloc(1, sizeof(*e));
	e->t = *t;
	TAILQ_INSERT_TAIL(&a->copy, e, entry);
	a->ncopy++;
	return 0;
}

/*
 * The CTI server is active or standby, the other side there (its private
 * link up) or gone.  Active with the other side gone: the copy of its
 * TASK_EVENTs becomes this one's, after what waits here already and
 * before what it makes next, and goes to the router with the rest (R22:
 * the other side may have died with them; if it did not, the router
 * takes each step once).
 */
void
arm_adopt(struct arm *a, int active, int peer_up)
{
	struct arm_ev	*e;
	int		 n = 0;

	arm_set_active(a, active);
	if (!active || peer_up)
		return;
	while ((e = TAILQ_FIRST(&a->copy)) != NULL) {
		TAILQ_REMOVE(&a->copy, e, entry);
		a->ncopy--;
		e->held = 1;
		TAILQ_INSERT_TAIL(&a->waiting, e, entry);
		a->nwaiting++;
		a->nheld++;
		n++;
	}
	if (n == 0)
		return;
	a->adopted += (uint64_t)n;
	evt_emit(RULE_R22, "task_events_adopted", json_pack("{s:i, s:b}",
	    "count", n, "router_up", a->router_up), "the other side is gone: "
	    "%d TASK_EVENT%s of its CTI server taken over (its copy), sent to "
	    "the router %s", n, n == 1 ? "" : "s", a->router_up ? "now" :
	    "when its link is back");
	if (a->router_up)
		arm_router_back(a);
}

static json_t *
arm_task_json(const struct arm_task *k, double now)
{
	json_t	*j;
	double	 left = k->deadline - now;

	j = json_pack("{s:[I, I, I], s:I, s:I, s:I, s:I, s:I, s:s, s:b, "
	    "s:f, s:I, s:I}", "task", (json_int_t)k->id[0],
	    (json_int_t)k->id[1], (json_int_t)k->id[2], "peripheral",
	    (json_int_t)k->periph, "agent", (json_int_t)k->agent, "mrd",
	    (json_int_t)k->mrd, "dialogue", (json_int_t)k->dialogue, "flags",
	    (json_int_t)k->flags, "state", k->started ? "started" : "offered",
	    "app", k->app, "since", k->since, "path", (json_int_t)k->path,
	    "segment", (json_int_t)k->segment);
	/* Its path down: the task life left, and what then (R18). */
	json_object_set_new(j, "life_left_s", k->deadline != 0 ?
	    json_real(left > 0 ? left : 0) : json_null());
	json_object_set_new(j, "fate", json_string(k->deadline != 0 ?
	    "ends with disposition 42 when its task life runs out, unless a "
	    "session of its application path opens (R18)" :
	    "reported as the application reports it"));
	return j;
}

static json_t *
arm_paths_json(const struct arm *a)
{
	const struct arm_path	*p;
	const struct arm_task	*k;
	json_t			*all = json_array();
	int			 n;

	TAILQ_FOREACH(p, &a->paths, entry) {
		n = 0;
		TAILQ_FOREACH(k, &a->order, entry)
			n += k->path == p->id;
		json_array_append_new(all, json_pack("{s:I, s:b, s:o, s:i}",
		    "path", (json_int_t)p->id, "up", !p->down, "down_since",
		    p->down ? json_real(p->since) : json_null(), "tasks", n));
	}
	return all;
}

/*
 * Counters (the status's), and with table every task, oldest first, and
 * the application paths.
 */
json_t *
arm_json(const struct arm *a, int table)
{
	const struct arm_task	*k;
	json_t			*j, *taken = json_object(), *all;
	double			 now = wall_now();
	int			 i;

	for (i = TASK_EV_OFFER; i <= TASK_EV_APP_START; i++)
		json_object_set_new(taken, arm_code_names[i],
		    json_integer((json_int_t)a->taken[i]));
	j = json_pack("{s:i, s:o, s:I, s:I, s:I, s:i, s:I, s:I, s:I}",
	    "tasks", a->ntasks, "taken", taken, "events",
	    (json_int_t)a->events, "sent", (json_int_t)a->sent_total,
	    "cached", (json_int_t)a->cached, "waiting", a->nwaiting,
	    "resent", (json_int_t)a->resent, "dropped",
	    (json_int_t)a->dropped, "mirrored", (json_int_t)a->mirrored);
	json_object_set_new(j, "peer_copy", json_pack("{s:i, s:I, s:I}",
	    "held", a->ncopy, "adopted", (json_int_t)a->adopted, "dropped",
	    (json_int_t)a->copy_dropped));
	json_object_set_new(j, "expired", json_integer((json_int_t)
	    a->expired));
	json_object_set_new(j, "resumed", json_integer((json_int_t)
	    a->resumed));
	json_object_set_new(j, "ended_by_life", json_integer(a->ntombs));
	json_object_set_new(j, "ended_by_life_forgotten",
	    json_integer((json_int_t)a->tombs_forgotten));
	json_object_set_new(j, "resync", json_pack("{s:I, s:I, s:I}",
	    "known", (json_int_t)a->resync_known, "recreated",
	    (json_int_t)a->resync_recreated, "ended_untold",
	    (json_int_t)a->resync_ended));
	if (table) {
		all = json_array();
		TAILQ_FOREACH(k, &a->order, entry)
			json_array_append_new(all, arm_task_json(k, now));
		json_object_set_new(j, "table", all);
		json_object_set_new(j, "paths", arm_paths_json(a));
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
	TAILQ_INIT(&a->copy);
	TAILQ_INIT(&a->paths);
	for (i = 0; i < ARM_BUCKETS; i++)
		LIST_INIT(&a->tombs[i]);
	TAILQ_INIT(&a->tomb_order);
	return a;
}

void
arm_set_active(struct arm *a, int active)
{
	a->active = active;
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
		log_warnx("[R22] %d TASK_EVENT%s not sent to the router here: "
		    "the side stops (the other side's CTI server sends its "
		    "copy when it becomes active)", a->nwaiting,
		    a->nwaiting == 1 ? "" : "s");
	arm_clear(a);
	arm_tomb_clear(a);
	arm_path_clear(a);
	arm_free_evq(&a->waiting);
	arm_free_evq(&a->sent);
	arm_free_evq(&a->copy);
	free(a);
}
