/*
 * Media routing at the router: the MR peripheral's NEW_TASK requests
 * (ROUTE_TASK from its active side), the queues, and the task table that
 * the CTI servers' TASK_EVENTs keep.  The decisions are taskq.c's pure
 * functions; this file applies them, answers, and records history.
 *
 *   ROUTE_TASK --not the active side, or an old epoch--> logged, dropped
 *       |      --dialogue known: a resend--> answered as before
 *       |      --dialogue known, not a resend--> TASK_FAIL_DUPLICATE
 *       |      --no such MRD / selector--> TASK_FAIL_BAD_MRD / _SELECTOR
 *       v
 *   an agent of the route AVAILABLE: the one longest so; reserved in the
 *   real-time table at once, PRECALL_RESERVE to the agent peripheral's
 *   active side, ROUTE_RESULT routed with a new TaskID
 *       |  none: the MRD's queue, first in first out (max_tasks_in_queue,
 *       |  max_time_in_queue; past either TASK_FAIL_NO_AGENT); an agent
 *       |  who becomes available takes the oldest request of its MRD
 *       v
 *   TASK_EVENT OFFER, START ... END: Termination_Call_Detail at its end,
 *   or pgemu_left_out (R15, R17, R21); no START within the MRD's
 *   task_start_timeout: PRECALL_RELEASE, the task ends (RONA, 19); an END
 *   of a task whose task life ran out while its application path was
 *   down: disposition 42 (R18); a report resumed (R20): a row of its own,
 *   its Segment
 *
 * The CTI server tells when an application path goes down and comes back
 * (TASK_EVENT PATH_DOWN, PATH_UP): meanwhile the start timers of the
 * path's routed tasks are held (R21: the application cannot report their
 * START), and run again, whole, from the path's return.
 *
 * When the MR peripheral goes offline (R12: its active side lost the
 * application; R17: the router lost that side) every queued request is
 * discarded and recorded (pgemu_task_discard, event tasks_discarded):
 * the application resends what it got no answer for.  Route_Call_Detail
 * has one row per request answered, routed or failed; a resend answered
 * as before adds none (one routing, one row).
 *
 * TaskIDs: TaskGroupHigh is RouterCallKeyDay (days since 1970-01-01,
 * UTC), TaskGroupLow RouterCallKey, which counts from 1 each day; keys are
 * reserved in blocks in pgemu_meta (call_key: day << 32 | the first key
 * not reserved), so that a restarted router never hands one out twice.
 */
#include "config.h"

#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define ROUTE_BUCKETS		1024	/* of each index (a power of 2) */
#define ROUTE_KEY_BLOCK		1000	/* RouterCallKeys reserved at once */
#define ROUTE_DOWNS		32	/* offline times kept (R15, R17) */
#define ROUTE_EVENT_NAMES	100	/* dialogues an event names, at most */
#define ROUTE_TOMBS		16384	/* ended tasks remembered (R22) */
#define ROUTE_PATHS		64	/* application paths down, at most */

struct rt_mrd;

/* A request, or a task: routed by the router, or the application's. */
struct rt_task {
	uint32_t	 dialogue, mrd, agent, agent_periph, path;
	uint32_t	 task[3];	/* TaskID; 0 0 0 while queued */
	uint32_t	 flags;		/* TASKF_* of its events */
	char		 selector[33];
	int		 state;		/* TQ_* */
	unsigned int	 seen;		/* TASK_EV_* codes had (1 << code) */
	int		 skill_group;	/* a request's route's */
	struct rt_mrd	*m;
	struct rt_agent	*held;		/* the agent it holds, not started */
	double		 reserved_since;	/* the router reserved it */
	double		 received, routed, offered, started;	/* wall */
	uint64_t	 queued_ms, routed_ms;	/* monotonic */
	uint64_t	 wait_ms;	/* its start timeout runs from */
	uint32_t	 segment;	/* of its report (R20): 1, 2 ... */
	int		 indexed;	/* ROUTE_BY_* it is in */
	LIST_ENTRY(rt_task) by_dialogue, by_task;
	TAILQ_ENTRY(rt_task) wait;	/* its MRD's queue or starting list */
	TAILQ_ENTRY(rt_task) all;
};
#define ROUTE_BY_DIALOGUE	0x1	/* a request: its dialogue is known */
#define ROUTE_BY_TASK		0x2	/* a task: by its TaskID */
#define ROUTE_WAITING		0x4	/* in its MRD's queue or starting */
TAILQ_HEAD(rt_task_list, rt_task);
LIST_HEAD(rt_task_bucket, rt_task);

/*
 * An MRD: its requests waiting for an agent, its tasks not started.  The
 * lab file's settings are copied (a reload frees the old ones).
 */
struct rt_mrd {
	struct cfg_mrd	 cfg;
	struct rt_task_list queue;	/* oldest first */
	int		 nqueued;
	struct rt_task_list starting;	/* routed, START awaited, oldest
					   first */
};

/* A route and its agents: the agent peripheral's, in its MRD and skill. */
struct rt_route {
	struct cfg_route cfg;
	struct rt_agent	**agents;
	struct taskq_cand *cand;
	int		 n;
};

/*
 * A task that ended, remembered (the last ROUTE_TOMBS): a TASK_EVENT of it
 * sent again (a CTI server's resend window, the other side's copy: R22)
 * is a duplicate, not a new task.
 */
struct rt_tomb {
	uint32_t	 task[3];
	uint32_t	 dialogue;
	uint32_t	 segment;	/* R20: a resumed report is another */
	int		 used;
	LIST_ENTRY(rt_tomb) chain;
};
LIST_HEAD(rt_tomb_bucket, rt_tomb);

/* Tasks left out of reports under one rule, told once a turn. */
struct rt_left_out {
	int		 rule;
	int		 count;
	json_t		*dialogues;
};
#define ROUTE_LEFT_OUT	3	/* R15, R17, R21 */

/* An application path down, as the agent peripheral's CTI server says. */
struct rt_path {
	uint32_t	 periph, id;
	double		 since;
};

struct route {
	struct router	*r;
	struct rt_periph *mr;		/* the MR peripheral */
	struct rt_periph *ap;		/* the agent peripheral */
	struct rt_mrd	*mrds;
	int		 nmrds;
	struct rt_route	*routes;
	int		 nroutes;
	struct rt_task_bucket dialogues[ROUTE_BUCKETS];
	struct rt_task_bucket tasks[ROUTE_BUCKETS];
	struct rt_task_list all;
	int		 ntasks;	/* routed or the application's */
	struct event	*ev_timer;	/* the next time in queue or start */
	struct event	*ev_left_out;
	struct rt_left_out left_out[ROUTE_LEFT_OUT];
	struct rt_path	 paths[ROUTE_PATHS];	/* down */
	int		 npaths;
	struct rt_path	 last_down[ROUTE_PATHS]; /* each path's last down */
	int		 nlast_down;
	uint32_t	 key_day, key_next, key_reserved;
	struct taskq_down downs[ROUTE_DOWNS];
	size_t		 ndowns;
	struct rt_tomb	*tombs;		/* a ring of ROUTE_TOMBS */
	struct rt_tomb_bucket tomb_idx[ROUTE_BUCKETS];
	size_t		 tomb_next;
	uint64_t	 after_end;	/* events of tasks ended already */
	uint64_t	 received, routed, failed[TASK_FAIL_MAX], discarded;
	uint64_t	 resends, dropped, ended, rona, left_out_n, events;
	uint64_t	 duplicates, path_down_ended, resumed_ended, held;
	uint64_t	 resynced, recreated;	/* R19 */
};

static const char *const route_fail_names[TASK_FAIL_MAX] = {
	"routed", "no_agent", "routing_down", "bad_mrd", "bad_selector",
	"duplicate"
};

static void	route_arm(struct route *);

/*
 * Every bit of both into the bucket: the TaskIDs of the application's own
 * tasks differ in their millisecond (bits 20..29 of TaskGroupLow) more
 * than in their low bits, which a product alone leaves out.
 */
static unsigned int
route_hash(uint32_t a, uint32_t b)
{
	uint32_t	h = a * 0x9e3779b1U ^ b * 0x85ebca77U;

	h ^= h >> 15;
	h *= 0x2c1b3c6dU;
	h ^= h >> 13;
	return h & (ROUTE_BUCKETS - 1);
}

/* A task's bucket: by TaskID, or by dialogue when it has none. */
static struct rt_task_bucket *
route_task_bucket(struct route *rt, const uint32_t *task, uint32_t dialogue)
{
	if (task[0] == 0 && task[1] == 0 && task[2] == 0)
		return &rt->tasks[route_hash(dialogue, 0)];
	return &rt->tasks[route_hash(task[1] ^ task[2], task[0])];
}

/* The request of a dialogue the router knows (queued or routed). */
static struct rt_task *
route_dialogue(struct route *rt, uint32_t dialogue)
{
	struct rt_task	*k;

	LIST_FOREACH(k, &rt->dialogues[route_hash(dialogue, 0)], by_dialogue)
		if (k->dialogue == dialogue)
			return k;
	return NULL;
}

/* The segment of a task's report a TASK_EVENT tells (R20). */
static uint32_t
route_segment(const struct msg_task *t)
{
	return t->epoch != 0 ? t->epoch : 1;
}

/* The application path of a peripheral's, if down: its index, else -1. */
static int
route_path_down(const struct route *rt, uint32_t periph, uint32_t id)
{
	int	i;

	for (i = 0; i < rt->npaths; i++)
		if (rt->paths[i].periph == periph && rt->paths[i].id == id)
			return i;
	return -1;
}

/* A routed task whose start timer is held: its path is down (R21). */
static int
route_held(const struct route *rt, const struct rt_task *k)
{
	return route_path_down(rt, k->agent_periph, k->path) != -1;
}

/* The task a TASK_EVENT names: by TaskID, or dialogue without one. */
static struct rt_task *
route_task(struct route *rt, const struct msg_task *t)
{
	struct rt_task	*k;
	int		 none = t->task[0] == 0 && t->task[1] == 0 &&
	    t->task[2] == 0;

	LIST_FOREACH(k, route_task_bucket(rt, t->task, t->dialogue), by_task)
		if (memcmp(k->task, t->task, sizeof(k->task)) == 0 &&
		    (!none || k->dialogue == t->dialogue) &&
		    k->segment == route_segment(t))
			return k;
	return NULL;
}

static struct rt_mrd *
route_mrd(struct route *rt, uint32_t id)
{
	int	i;

	for (i = 0; i < rt->nmrds; i++)
		if ((uint32_t)rt->mrds[i].cfg.id == id)
			return &rt->mrds[i];
	return NULL;
}

static struct rt_route *
route_of(struct route *rt, const char *selector)
{
	int	i;

	for (i = 0; i < rt->nroutes; i++)
		if (strcmp(rt->routes[i].cfg.selector, selector) == 0)
			return &rt->routes[i];
	return NULL;
}

static struct rt_task *
route_task_new(struct route *rt)
{
	struct rt_task	*k = xcalloc(1, sizeof(*k));

	k->segment = 1;
	TAILQ_INSERT_TAIL(&rt->all, k, all);
	return k;
}

/* Out of every list and index, freed. */
static void
route_task_free(struct route *rt, struct rt_task *k)
{
	if (k->held != NULL)
		k->held->held--;
	if (k->indexed & ROUTE_WAITING) {
		if (k->state == TQ_QUEUED) {
			TAILQ_REMOVE(&k->m->queue, k, wait);
			k->m->nqueued--;
		} else
			TAILQ_REMOVE(&k->m->starting, k, wait);
	}
	if (k->indexed & ROUTE_BY_DIALOGUE)
		LIST_REMOVE(k, by_dialogue);
	if (k->indexed & ROUTE_BY_TASK) {
		LIST_REMOVE(k, by_task);
		rt->ntasks--;
	}
	TAILQ_REMOVE(&rt->all, k, all);
	free(k);
}

/*
 * A new TaskID.  The day's keys are reserved a block ahead in pgemu_meta,
 * so that a router that restarts starts past every key it may have given.
 */
static void
route_task_id(struct route *rt, uint32_t *task)
{
	uint32_t	day = (uint32_t)(wall_now() / 86400);

	if (day != rt->key_day) {
		rt->key_day = day;
		rt->key_next = 1;
		rt->key_reserved = 0;
	}
	if (rt->key_next + ROUTE_KEY_BLOCK / 2 >= rt->key_reserved) {
		rt->key_reserved = rt->key_next + ROUTE_KEY_BLOCK;
		db_set_meta(rt->r->db, "call_key", (int64_t)rt->key_day << 32 |
		    rt->key_reserved);
	}
	task[0] = rt->key_day;
	task[1] = rt->key_next++;
	task[2] = 0;
}

/* A task message of this task, as the router sends it. */
static void
route_msg_of(struct route *rt, const struct rt_task *k, uint32_t code,
    const char *text, struct msg_task *t)
{
	double	now = wall_now();

	memset(t, 0, sizeof(*t));
	t->peripheral = rt->mr->id;
	t->epoch = rt->mr->epoch;
	t->dialogue = k->dialogue;
	t->mrd = k->mrd;
	t->agent = k->agent;
	t->agent_periph = k->agent != 0 ? rt->ap->id : 0;
	memcpy(t->task, k->task, sizeof(t->task));
	t->code = code;
	t->path = k->path;
	t->when = (uint32_t)now;
	t->when_ms = (uint32_t)((now - (double)t->when) * 1000) % 1000;
	snprintf(t->selector, sizeof(t->selector), "%s", k->selector);
	snprintf(t->text, sizeof(t->text), "%s", text);
}

/*
 * Answer a request (ROUTE_RESULT) through the MR peripheral's active side;
 * with row, its Route_Call_Detail.
 */
static void
route_answer(struct route *rt, const struct rt_task *k, uint32_t code,
    const char *text, int row)
{
	struct rt_periph	*mr = rt->mr;
	struct wire_writer	 w;
	struct msg_task		 t;
	struct db_task		 d;

	route_msg_of(rt, k, code, text, &t);
	if (mr->active >= 0) {
		msg_task_encode(&w, MSG_ROUTE_RESULT, &t);
		link_send(mr->sides[mr->active].link, &w);
	} else
		log_warnx("dialogue %u: no active MR PIM to answer (%s)",
		    k->dialogue, route_fail_names[code]);
	if (!row)
		return;
	memset(&d, 0, sizeof(d));
	d.t = wall_now();
	d.peripheral = mr->id;
	d.agent_periph = t.agent_periph;
	d.dialogue = k->dialogue;
	d.mrd = k->mrd;
	d.agent = k->agent;
	memcpy(d.task, k->task, sizeof(d.task));
	d.skill_group = k->skill_group;
	d.code = (int)code;
	d.queue_time = k->queued_ms != 0 && k->state != TQ_QUEUED ?
	    (double)(k->routed_ms - k->queued_ms) / 1000 :
	    k->queued_ms != 0 ? (double)(mono_ms() - k->queued_ms) / 1000 : 0;
	snprintf(d.selector, sizeof(d.selector), "%s", k->selector);
	db_route_call(rt->r->db, &d);
}

/* A request fails: answered, recorded, forgotten. */
static void
route_fail(struct route *rt, struct rt_task *k, uint32_t code,
    const char *text)
{
	rt->failed[code]++;
	log_debug("dialogue %u not routed (%s): %s", k->dialogue,
	    route_fail_names[code], text);
	route_answer(rt, k, code, text, 1);
	route_task_free(rt, k);
}

/*
 * PRECALL to the side whose PIM serves the agent's peripheral, or with no
 * PIM the side that keeps its agents' non-voice states (R23).
 */
static void
route_precall(struct route *rt, const struct rt_task *k, uint32_t code)
{
	struct rt_periph	*ap = rt->ap;
	struct rt_side		*s = router_keeper(ap);
	struct wire_writer	 w;
	struct msg_task		 t;

	route_msg_of(rt, k, code, "", &t);
	t.peripheral = ap->id;
	t.epoch = ap->epoch;
	if (ap->active >= 0)
		s = &ap->sides[ap->active];
	if (s == NULL) {
		log_warnx("PRECALL %s of agent %u for dialogue %u not sent: "
		    "peripheral %u has no active side",
		    code == PRECALL_RESERVE ? "RESERVE" : "RELEASE", k->agent,
		    k->dialogue, ap->id);
		return;
	}
	msg_task_encode(&w, MSG_PRECALL, &t);
	link_send(s->link, &w);
}

/* The agent of the selector's route that gets the task, or NULL. */
static struct rt_agent *
route_pick(struct route *rt, const char *selector)
{
	struct rt_route	*ro = route_of(rt, selector);
	int		 i;

	/* Its PIM serves the peripheral, or a side keeps its non-voice
	   states (R23: voice is down, the rest is routed). */
	if (ro == NULL || (!(rt->ap->active >= 0 && rt->ap->online) &&
	    router_keeper(rt->ap) == NULL))
		return NULL;
	for (i = 0; i < ro->n; i++) {
		const struct rt_agent *a = ro->agents[i];

		ro->cand[i].id = a->id;
		ro->cand[i].state = a->state;
		ro->cand[i].logged_in = a->login > 0;
		ro->cand[i].held = a->held > 0;
		ro->cand[i].since = a->since;
	}
	i = taskq_pick(ro->cand, (size_t)ro->n);
	return i == -1 ? NULL : ro->agents[i];
}

/*
 * Route the request to the agent: reserved in the real-time table at
 * once, PRECALL_RESERVE, ROUTE_RESULT with a new TaskID; its START is
 * awaited for the MRD's task_start_timeout.
 */
static void
route_to(struct route *rt, struct rt_task *k, struct rt_agent *a)
{
	double	now = wall_now();

	if (k->state == TQ_QUEUED && (k->indexed & ROUTE_WAITING)) {
		TAILQ_REMOVE(&k->m->queue, k, wait);
		k->m->nqueued--;
	}
	route_task_id(rt, k->task);
	k->agent = a->id;
	k->agent_periph = rt->ap->id;
	k->held = a;
	a->held++;
	a->state = AS_RESERVED;
	a->since = now;
	k->reserved_since = now;
	k->state = TQ_ROUTED;
	k->routed = now;
	k->routed_ms = k->wait_ms = mono_ms();
	LIST_INSERT_HEAD(route_task_bucket(rt, k->task, k->dialogue), k,
	    by_task);
	k->indexed |= ROUTE_BY_TASK | ROUTE_WAITING;
	rt->ntasks++;
	TAILQ_INSERT_TAIL(&k->m->starting, k, wait);
	rt->routed++;
	log_debug("dialogue %u (%s) routed to agent %u in MRD %u: task %u.%u",
	    k->dialogue, k->selector, a->id, k->mrd, k->task[0], k->task[1]);
	route_precall(rt, k, PRECALL_RESERVE);
	route_answer(rt, k, TASK_ROUTED, "", 1);
}

/* A request routed now, or queued, or failed: no agent, queue full. */
static void
route_try(struct route *rt, struct rt_task *k)
{
	struct rt_agent	*a;
	char		 text[128];

	if ((a = route_pick(rt, k->selector)) != NULL) {
		route_to(rt, k, a);
		return;
	}
	if (!taskq_admit(k->m->nqueued, k->m->cfg.max_tasks_in_queue)) {
		snprintf(text, sizeof(text), "no agent available in MRD %u and "
		    "its queue is full (%d requests)", k->mrd,
		    k->m->cfg.max_tasks_in_queue);
		route_fail(rt, k, TASK_FAIL_NO_AGENT, text);
		return;
	}
	k->state = TQ_QUEUED;
	TAILQ_INSERT_TAIL(&k->m->queue, k, wait);
	k->indexed |= ROUTE_WAITING;
	k->m->nqueued++;
	log_debug("dialogue %u queued in MRD %u (%d waiting)", k->dialogue,
	    k->mrd, k->m->nqueued);
	route_arm(rt);
}

/* A NEW_TASK of the MR peripheral's active side (ROUTE_TASK). */
static void
route_request(struct route *rt, const struct msg_task *t)
{
	const struct cfg *cf = rt->r->node->cfg;
	const struct cfg_route *cr = cfg_route(cf, t->selector);
	const struct cfg_mrd *cm = t->mrd != 0 ? cfg_mrd(cf, (int)t->mrd) :
	    NULL;
	struct rt_task	*k;
	char		 text[128];

	rt->received++;
	if ((k = route_dialogue(rt, t->dialogue)) != NULL) {
		if (t->flags & TASKF_RESEND) {
			rt->resends++;
			if (k->state == TQ_QUEUED)
				log_debug("dialogue %u sent again: still "
				    "queued, answered once", t->dialogue);
			else
				route_answer(rt, k, TASK_ROUTED, "", 0);
			return;
		}
		k = route_task_new(rt);
		k->dialogue = t->dialogue;
		k->mrd = t->mrd;
		k->path = t->path;
		snprintf(k->selector, sizeof(k->selector), "%s", t->selector);
		snprintf(text, sizeof(text), "dialogue %u is in use",
		    t->dialogue);
		route_fail(rt, k, TASK_FAIL_DUPLICATE, text);
		return;
	}
	k = route_task_new(rt);
	k->dialogue = t->dialogue;
	k->mrd = t->mrd;
	k->path = t->path;
	k->received = wall_now();
	k->queued_ms = mono_ms();
	snprintf(k->selector, sizeof(k->selector), "%s", t->selector);
	if (t->mrd != 0 && (cm == NULL || cfg_mrd_voice(cf, (int)t->mrd))) {
		snprintf(text, sizeof(text), "no non-voice MRD %u", t->mrd);
		route_fail(rt, k, TASK_FAIL_BAD_MRD, text);
		return;
	}
	if (cr == NULL) {
		snprintf(text, sizeof(text), "no route for script selector "
		    "\"%s\"", t->selector);
		route_fail(rt, k, TASK_FAIL_BAD_SELECTOR, text);
		return;
	}
	if (t->mrd != 0 && t->mrd != (uint32_t)cr->mrd) {
		snprintf(text, sizeof(text), "selector \"%s\" routes to MRD "
		    "%d, not %u", t->selector, cr->mrd, t->mrd);
		route_fail(rt, k, TASK_FAIL_BAD_MRD, text);
		return;
	}
	k->skill_group = cr->skill_group;
	k->mrd = (uint32_t)cr->mrd;
	if ((k->m = route_mrd(rt, k->mrd)) == NULL) {
		snprintf(text, sizeof(text), "MRD %u takes tasks once the "
		    "router restarts", k->mrd);
		route_fail(rt, k, TASK_FAIL_BAD_MRD, text);
		return;
	}
	LIST_INSERT_HEAD(&rt->dialogues[route_hash(k->dialogue, 0)], k,
	    by_dialogue);
	k->indexed |= ROUTE_BY_DIALOGUE;
	route_try(rt, k);
}

int
route_msg_task(struct role_msg_in *in, const union msg_body *b)
{
	struct router		*r = in->node->role_data;
	struct route		*rt = r->route;
	const struct msg_task	*t = &b->task;
	struct rt_side		*s;

	if (rt == NULL || t->peripheral != rt->mr->id) {
		snprintf(in->err, sizeof(in->err), "ROUTE_TASK: peripheral %u "
		    "is not this lab's MR peripheral", t->peripheral);
		return -1;
	}
	s = router_side(rt->mr, in->link);
	if (!router_current(rt->mr, s, t->epoch, "NEW_TASK")) {
		rt->dropped++;
		log_info("NEW_TASK of dialogue %u from side %c dropped: its MR "
		    "PIM is not the active one", t->dialogue, s->side);
		return 0;
	}
	route_request(rt, t);
	return 0;
}

/*
 * Agents became available: each MRD's oldest requests that an agent of
 * their route can take are routed, in order.
 */
void
route_dispatch(struct route *rt)
{
	struct rt_task	*k, *next;
	struct rt_agent	*a;
	int		 i;

	/* No active MR PIM to answer (the router resettles): they wait. */
	for (i = 0; i < rt->nmrds && rt->mr->active >= 0; i++) {
		struct rt_mrd *m = &rt->mrds[i];

		for (k = TAILQ_FIRST(&m->queue); k != NULL; k = next) {
			next = TAILQ_NEXT(k, wait);
			if ((a = route_pick(rt, k->selector)) != NULL)
				route_to(rt, k, a);
			else if (k->skill_group == 0)
				break;		/* nobody in the MRD */
		}
	}
	route_arm(rt);
}

/*
 * The router let go of the task's agent: it no longer holds it; if the
 * table still shows the router's own reservation, the agent is available
 * again there (its PIM's change follows, if it had the reservation).
 */
static void
route_unhold(struct route *rt, struct rt_task *k, int release)
{
	struct rt_agent	*a = k->held;

	(void)rt;
	if (k->indexed & ROUTE_WAITING) {
		TAILQ_REMOVE(&k->m->starting, k, wait);
		k->indexed &= ~ROUTE_WAITING;
	}
	if (a == NULL)
		return;
	a->held--;
	k->held = NULL;
	if (release && a->state == AS_RESERVED &&
	    a->since == k->reserved_since) {
		a->state = AS_AVAILABLE;
		a->since = wall_now();
	}
}

/* Tell the tasks left out of reports, one event per rule, once a turn. */
static void
route_left_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct route	*rt = arg;
	int		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < ROUTE_LEFT_OUT; i++) {
		struct rt_left_out *lo = &rt->left_out[i];

		if (lo->count == 0)
			continue;
		/* The event keeps the array: a new one for the next. */
		evt_emit(lo->rule, "tasks_left_out", json_pack("{s:i, s:i, "
		    "s:o}", "peripheral", (int)rt->ap->id, "count", lo->count,
		    "dialogues", lo->dialogues), "%d tasks %s are left out of "
		    "reports (pgemu_left_out)", lo->count,
		    lo->rule == RULE_R21 ? "that began and ended while the "
		    "application's ARM session was down" : "the application "
		    "assigned and ended while routing was down");
		lo->count = 0;
		lo->dialogues = json_array();
	}
}

/* The task ended: remembered, over the oldest remembered (R22). */
static void
route_tomb_add(struct route *rt, const struct rt_task *k)
{
	struct rt_tomb	*b = &rt->tombs[rt->tomb_next++ % ROUTE_TOMBS];

	if (b->used)
		LIST_REMOVE(b, chain);
	memcpy(b->task, k->task, sizeof(b->task));
	b->dialogue = k->dialogue;
	b->segment = k->segment;
	b->used = 1;
	LIST_INSERT_HEAD(&rt->tomb_idx[route_hash(k->task[1] ^ k->task[2],
	    k->task[0])], b, chain);
}

/*
 * A task ends: Termination_Call_Detail, or left out of reports (R15,
 * R17).  timed_out: the router ends it, not started in time (RONA).
 */
static void
route_end(struct route *rt, struct rt_task *k, double when, int timed_out)
{
	struct taskq_end	 e;
	struct db_task		 d;
	struct rt_left_out	*lo;
	int			 rule;

	route_unhold(rt, k, timed_out);
	taskq_end(k->flags, timed_out, &e);
	memset(&d, 0, sizeof(d));
	d.t = when;
	d.start = k->started > 0 ? k->started : k->offered > 0 ? k->offered :
	    k->routed > 0 ? k->routed : when;
	d.peripheral = k->agent_periph != 0 ? k->agent_periph : rt->ap->id;
	d.dialogue = k->dialogue;
	d.mrd = k->mrd;
	d.agent = k->agent;
	memcpy(d.task, k->task, sizeof(d.task));
	d.call_type = e.call_type;
	d.disposition = e.disposition;
	d.disposition_flag = e.disposition_flag;
	d.flags = k->flags;
	d.segment = (int)k->segment;
	if (e.left_out) {
		rule = k->flags & TASKF_CTI_DOWN ? RULE_R21 :
		    taskq_left_out_rule(rt->downs, rt->ndowns, d.start,
		    (double)router_hold_ms(rt->r->node) / 1000 + 1);
		snprintf(d.rule, sizeof(d.rule), "%s", rule_tag(rule));
		db_left_out(rt->r->db, &d);
		rt->left_out_n++;
		lo = &rt->left_out[rule == RULE_R21 ? 2 : rule == RULE_R17];
		if (lo->count++ < ROUTE_EVENT_NAMES)
			json_array_append_new(lo->dialogues,
			    json_integer(k->dialogue));
		event_active(rt->ev_left_out, 0, 0);
		log_debug("task of dialogue %u left out of reports (%s)",
		    k->dialogue, d.rule);
	} else {
		db_task_end(rt->r->db, &d);
		rt->ended++;
		rt->rona += timed_out;
		rt->path_down_ended += e.disposition == TCD_DISP_PATH_DOWN;
		rt->resumed_ended += k->segment > 1;
		rt->recreated += (k->flags & TASKF_RECREATED) != 0;
		log_debug("task %u.%u.%u of dialogue %u ended: disposition %d",
		    k->task[0], k->task[1], k->task[2], k->dialogue,
		    e.disposition);
	}
	route_tomb_add(rt, k);
	route_task_free(rt, k);
}

/* A task of the CTI server's: one the router does not know yet. */
static struct rt_task *
route_task_seen(struct route *rt, const struct msg_task *t)
{
	struct rt_task	*k = route_task_new(rt);

	k->dialogue = t->dialogue;
	k->mrd = t->mrd;
	k->agent = t->agent;
	k->agent_periph = t->peripheral;
	k->path = t->path;
	k->segment = route_segment(t);
	memcpy(k->task, t->task, sizeof(k->task));
	k->state = TQ_ROUTED;
	snprintf(k->selector, sizeof(k->selector), "%s", t->selector);
	LIST_INSERT_HEAD(route_task_bucket(rt, k->task, k->dialogue), k,
	    by_task);
	k->indexed |= ROUTE_BY_TASK;
	rt->ntasks++;
	return k;
}

/* The routed tasks of a path, not started: their start timers (R21). */
static int
route_path_tasks(struct route *rt, uint32_t periph, uint32_t id, int restart)
{
	struct rt_task	*k, *next;
	uint64_t	 now = mono_ms();
	int		 i, n = 0;

	for (i = 0; i < rt->nmrds; i++) {
		struct rt_task_list held;

		TAILQ_INIT(&held);
		for (k = TAILQ_FIRST(&rt->mrds[i].starting); k != NULL;
		    k = next) {
			next = TAILQ_NEXT(k, wait);
			if (k->agent_periph != periph || k->path != id)
				continue;
			n++;
			if (!restart)
				continue;
			/* Whole again from now: to the end, in order. */
			k->wait_ms = now;
			TAILQ_REMOVE(&rt->mrds[i].starting, k, wait);
			TAILQ_INSERT_TAIL(&held, k, wait);
		}
		TAILQ_CONCAT(&rt->mrds[i].starting, &held, wait);
	}
	return n;
}

/*
 * A path's PATH_DOWN the router took already, its PATH_UP too: sent
 * again (R22: the CTI server's resend window after its router link went)
 * it is a duplicate, not the path going down again.  A down is known by
 * its since; the path's last one is kept.
 */
static int
route_path_seen(struct route *rt, uint32_t periph, uint32_t id,
    double since)
{
	struct rt_path	*p = NULL;
	int		 i;

	for (i = 0; i < rt->nlast_down; i++)
		if (rt->last_down[i].periph == periph &&
		    rt->last_down[i].id == id)
			p = &rt->last_down[i];
	if (p != NULL && since <= p->since) {
		rt->duplicates++;
		log_debug("TASK_EVENT PATH_DOWN of path %u of peripheral %u "
		    "(since %.3f) taken already: a duplicate", id, periph,
		    since);
		return 1;
	}
	if (p == NULL) {
		if (rt->nlast_down == ROUTE_PATHS) {
			memmove(rt->last_down, rt->last_down + 1,
			    (ROUTE_PATHS - 1) * sizeof(*rt->last_down));
			rt->nlast_down--;
		}
		p = &rt->last_down[rt->nlast_down++];
		p->periph = periph;
		p->id = id;
	}
	p->since = since;
	return 0;
}

/*
 * TASK_EVENT PATH_DOWN, PATH_UP: an application path of the agent
 * peripheral went down, came back.  Meanwhile the start timers of its
 * routed tasks are held; they run again, whole, from its return (R21:
 * the application reports their START once its session is back).
 */
static void
route_path(struct route *rt, const struct msg_task *t)
{
	struct rt_path	*p;
	double		 since = t->when + t->when_ms / 1000.0;
	int		 i = route_path_down(rt, t->peripheral, t->path), n;

	if (t->code == TASK_EV_PATH_DOWN) {
		if (i != -1)
			return;		/* told again */
		if (route_path_seen(rt, t->peripheral, t->path, since))
			return;
		if (rt->npaths == ROUTE_PATHS) {
			memmove(rt->paths, rt->paths + 1, (ROUTE_PATHS - 1) *
			    sizeof(*rt->paths));
			rt->npaths--;
		}
		p = &rt->paths[rt->npaths++];
		p->periph = t->peripheral;
		p->id = t->path;
		p->since = since;
		n = route_path_tasks(rt, t->peripheral, t->path, 0);
		evt_emit(RULE_R21, "app_path_down", json_pack("{s:i, s:I, "
		    "s:i, s:f}", "peripheral", (int)t->peripheral, "path",
		    (json_int_t)t->path, "held", n, "since", since),
		    "application path %u of peripheral %u down: routing goes "
		    "on, the start timers of its %d routed task%s are held "
		    "until it is back (no RONA meanwhile)", t->path,
		    t->peripheral, n, n == 1 ? "" : "s");
	} else {
		if (i == -1)
			return;
		rt->paths[i] = rt->paths[--rt->npaths];
		n = route_path_tasks(rt, t->peripheral, t->path, 1);
		rt->held += (uint64_t)n;
		evt_emit(RULE_R21, "app_path_up", json_pack("{s:i, s:I, s:i}",
		    "peripheral", (int)t->peripheral, "path",
		    (json_int_t)t->path, "held", n), "application path %u of "
		    "peripheral %u back: the start timers of its %d routed "
		    "task%s run again", t->path, t->peripheral, n,
		    n == 1 ? "" : "s");
	}
	route_arm(rt);
}

/*
 * TASK_EV_RESYNC (R19): an agent's state in an email MRD as the
 * application's resync bracket told it.  Agent_Event_Detail gets a row
 * of it at the time it began, flagged Recreated, and the real-time entry
 * takes it (logged in there all along: R19 keeps email sign-ins); told
 * twice (a TASK_EVENT sent again), it is taken once.
 */
static int
route_resync(struct route *rt, struct rt_periph *p, const struct msg_task *t,
    char *err, size_t errlen)
{
	struct rt_agent	*a;
	struct db_key	 k;
	double		 when = t->when != 0 ? t->when + t->when_ms / 1000.0 :
	    wall_now();
	int		 st = (int)t->task[0];

	if (t->task[0] >= AGENT_NSTATES ||
	    (a = router_agent(p, t->agent, t->mrd)) == NULL) {
		snprintf(err, errlen, "TASK_EVENT resync: %s", t->task[0] >=
		    AGENT_NSTATES ? "no such agent state" : "no such agent "
		    "in the MRD");
		return -1;
	}
	rt->events++;
	if (a->resynced == when) {
		rt->duplicates++;
		return 0;
	}
	a->resynced = when;
	rt->resynced++;
	k.peripheral = p->id;
	k.agent = a->id;
	k.mrd = a->mrd;
	db_resync_event(rt->r->db, &k, when, a->login, st);
	log_debug("agent %u resynced in MRD %u: %s since %.3f, %u task(s) "
	    "(%s)", a->id, a->mrd, agent_state_name(st), when, t->task[1],
	    a->login > 0 ? "corrected" : "logged out here: not applied");
	if (a->login <= 0 || a->state == st)
		return 0;
	a->state = st;
	a->since = when;
	if (st == AS_AVAILABLE)
		route_dispatch(rt);
	return 0;
}

/*
 * A TASK_EVENT of a task that ended already (sent again: a CTI server's
 * resend window, or the other side's copy taken over, R22): a duplicate,
 * counted and dropped.  A resumed report is not one (R20: another
 * segment); a resync's rebuilt step (TASKF_RECREATED, R19) of a segment
 * that ended is (sent again, or told of a task whose end the router has:
 * its history is written).
 */
static int
route_ended_already(struct route *rt, const struct msg_task *t)
{
	struct rt_tomb	*b;

	LIST_FOREACH(b, &rt->tomb_idx[route_hash(t->task[1] ^ t->task[2],
	    t->task[0])], chain)
		if (memcmp(b->task, t->task, sizeof(b->task)) == 0 &&
		    b->dialogue == t->dialogue &&
		    b->segment == route_segment(t)) {
			rt->duplicates++;
			rt->after_end++;
			log_debug("TASK_EVENT %u of task %u.%u.%u, which "
			    "ended already: a duplicate", t->code, t->task[0],
			    t->task[1], t->task[2]);
			return 1;
		}
	return 0;
}

/*
 * TASK_EVENT: a task's life as the application reports it to a CTI
 * server.  Each step is taken once (a cached event sent again is a
 * duplicate); the end writes the task's history.
 */
int
route_msg_event(struct role_msg_in *in, const union msg_body *b)
{
	struct router		*r = in->node->role_data;
	struct route		*rt = r->route;
	const struct msg_task	*t = &b->task;
	struct rt_periph	*p;
	struct rt_task		*k;
	enum taskq_act		 act;
	double			 when;
	int			 next;

	if (rt == NULL) {
		snprintf(in->err, sizeof(in->err), "TASK_EVENT: this lab "
		    "routes no media");
		return -1;
	}
	if ((p = router_periph(r, t->peripheral, in->msg, in->err,
	    sizeof(in->err))) == NULL)
		return -1;
	if (p->is_mr) {
		snprintf(in->err, sizeof(in->err), "TASK_EVENT: peripheral %u "
		    "is the MR peripheral, not an agent's", t->peripheral);
		return -1;
	}
	if (t->code == TASK_EV_RESYNC)
		return route_resync(rt, p, t, in->err, sizeof(in->err));
	if (t->code == 0 || t->code >= TASK_EV_MAX) {
		snprintf(in->err, sizeof(in->err), "TASK_EVENT: unknown code "
		    "%u", t->code);
		return -1;
	}
	rt->events++;
	if (t->code == TASK_EV_PATH_DOWN || t->code == TASK_EV_PATH_UP) {
		route_path(rt, t);
		return 0;
	}
	if ((k = route_task(rt, t)) == NULL) {
		if (route_ended_already(rt, t))
			return 0;
		k = route_task_seen(rt, t);
	}
	act = taskq_event(k->state, k->seen, t->code, &next);
	if (act == TQA_DUPLICATE) {
		rt->duplicates++;
		log_debug("TASK_EVENT %u of task %u.%u.%u seen already",
		    t->code, t->task[0], t->task[1], t->task[2]);
		return 0;
	}
	k->seen |= 1u << t->code;
	k->flags |= t->flags;
	if (k->agent == 0)
		k->agent = t->agent;
	if (k->mrd == 0)
		k->mrd = t->mrd;
	when = t->when != 0 ? t->when + t->when_ms / 1000.0 : wall_now();
	switch (act) {
	case TQA_OFFER:
		k->offered = when;
		break;
	case TQA_START:
		k->started = when;
		route_unhold(rt, k, 0);
		break;
	case TQA_END:
		route_end(rt, k, when, 0);
		route_arm(rt);
		return 0;
	default:
		break;
	}
	k->state = next;
	route_arm(rt);
	return 0;
}

/*
 * The times: requests that waited max_time_in_queue fail; routed tasks
 * not started within task_start_timeout are released and end (RONA).
 */
static void
route_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct route	*rt = arg;
	struct rt_task	*k, *next;
	uint64_t	 now = mono_ms();
	char		 text[128];
	int		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < rt->nmrds; i++) {
		struct rt_mrd *m = &rt->mrds[i];

		while (rt->mr->active >= 0 &&
		    (k = TAILQ_FIRST(&m->queue)) != NULL &&
		    taskq_expired(k->queued_ms, now,
		    m->cfg.max_time_in_queue)) {
			snprintf(text, sizeof(text), "no agent available in "
			    "MRD %u within %d s", k->mrd,
			    m->cfg.max_time_in_queue);
			route_fail(rt, k, TASK_FAIL_NO_AGENT, text);
		}
		/* In order of their timers; those held skipped (R21). */
		for (k = TAILQ_FIRST(&m->starting); k != NULL; k = next) {
			next = TAILQ_NEXT(k, wait);
			if (route_held(rt, k))
				continue;
			if (!taskq_expired(k->wait_ms, now,
			    m->cfg.task_start_timeout))
				break;
			log_info("task %u.%u of dialogue %u not started by "
			    "agent %u within %d s: released (RONA)", k->task[0],
			    k->task[1], k->dialogue, k->agent,
			    m->cfg.task_start_timeout);
			route_precall(rt, k, PRECALL_RELEASE);
			route_end(rt, k, wall_now(), 1);
		}
	}
	route_arm(rt);
}

/*
 * The timer at the next time a request or a routed task runs out.  With
 * no active MR PIM to answer, requests do not run out: they wait.
 */
static void
route_arm(struct route *rt)
{
	struct rt_task	*k;
	struct timeval	 tv;
	uint64_t	 now = mono_ms(), next = UINT64_MAX, t;
	int		 i;

	for (i = 0; i < rt->nmrds; i++) {
		struct rt_mrd *m = &rt->mrds[i];

		if (rt->mr->active >= 0 &&
		    (k = TAILQ_FIRST(&m->queue)) != NULL) {
			t = k->queued_ms +
			    (uint64_t)m->cfg.max_time_in_queue * 1000;
			next = t < next ? t : next;
		}
		TAILQ_FOREACH(k, &m->starting, wait)
			if (!route_held(rt, k))
				break;
		if (k != NULL) {
			t = k->wait_ms +
			    (uint64_t)m->cfg.task_start_timeout * 1000;
			next = t < next ? t : next;
		}
	}
	if (next == UINT64_MAX) {
		evtimer_del(rt->ev_timer);
		return;
	}
	ms_to_tv(next > now ? (int)(next - now) : 0, &tv);
	evtimer_add(rt->ev_timer, &tv);
}

/*
 * The MR peripheral is offline (R12, R17): every pending request is
 * discarded and recorded; the application resends what it got no answer
 * for.  Tasks routed already go on.
 */
void
route_mr_offline(struct route *rt, int rule, const char *why)
{
	struct rt_task	*k;
	struct db_task	 d;
	json_t		*names = json_array();
	double		 now = wall_now();
	int		 i, n = 0;

	for (i = 0; i < rt->nmrds; i++)
		while ((k = TAILQ_FIRST(&rt->mrds[i].queue)) != NULL) {
			memset(&d, 0, sizeof(d));
			d.t = now;
			d.peripheral = rt->mr->id;
			d.dialogue = k->dialogue;
			d.mrd = k->mrd;
			snprintf(d.selector, sizeof(d.selector), "%s",
			    k->selector);
			snprintf(d.rule, sizeof(d.rule), "%s", rule_tag(rule));
			snprintf(d.cause, sizeof(d.cause), "%s", why);
			db_task_discard(rt->r->db, &d);
			if (n++ < ROUTE_EVENT_NAMES)
				json_array_append_new(names,
				    json_integer(k->dialogue));
			route_task_free(rt, k);
		}
	rt->discarded += (uint64_t)n;
	if (n > 0)
		evt_emit(rule, "tasks_discarded", json_pack("{s:i, s:i, s:o, "
		    "s:s}", "peripheral", (int)rt->mr->id, "count", n,
		    "dialogues", names, "reason", why), "%d pending NEW_TASK "
		    "requests of MR peripheral %u discarded "
		    "(pgemu_task_discard): %s", n, rt->mr->id, why);
	else
		json_decref(names);
	if (rt->ndowns == 0 || rt->downs[rt->ndowns - 1].to != 0) {
		if (rt->ndowns == ROUTE_DOWNS) {
			memmove(rt->downs, rt->downs + 1, (ROUTE_DOWNS - 1) *
			    sizeof(*rt->downs));
			rt->ndowns--;
		}
		rt->downs[rt->ndowns].from = now;
		rt->downs[rt->ndowns].to = 0;
		rt->downs[rt->ndowns++].rule = rule;
	}
	route_arm(rt);
}

/* The MR peripheral routes again: its offline time ends. */
void
route_mr_online(struct route *rt)
{
	if (rt->ndowns > 0 && rt->downs[rt->ndowns - 1].to == 0)
		rt->downs[rt->ndowns - 1].to = wall_now();
}

/*
 * Each route's agents: the agent peripheral's, in its MRD and skill.  A
 * route to an MRD the router does not know (added by a reload) has none.
 */
static void
route_agents_init(struct route *rt, const struct cfg *cf)
{
	const struct cfg_periph	*cp = cfg_periph(cf, rt->ap->id);
	int			 i, j, k;

	rt->nroutes = cf->mr.nroutes;
	rt->routes = xcalloc((size_t)rt->nroutes, sizeof(*rt->routes));
	for (i = 0; i < rt->nroutes; i++) {
		struct rt_route		*ro = &rt->routes[i];
		const struct cfg_route	*cr = &cf->mr.routes[i];

		ro->cfg = *cr;
		if (cp == NULL || route_mrd(rt, (uint32_t)cr->mrd) == NULL)
			continue;
		ro->agents = xcalloc((size_t)cp->nagents,
		    sizeof(*ro->agents));
		ro->cand = xcalloc((size_t)cp->nagents, sizeof(*ro->cand));
		for (j = 0; j < cp->nagents; j++) {
			const struct cfg_agent	*ca = &cp->agents[j];
			struct rt_agent		*a;
			int			 skilled = cr->skill_group == 0;

			for (k = 0; k < ca->nskill_groups && !skilled; k++)
				skilled = ca->skill_groups[k] ==
				    cr->skill_group;
			if (skilled && (a = router_agent(rt->ap,
			    (uint32_t)ca->id, (uint32_t)cr->mrd)) != NULL)
				ro->agents[ro->n++] = a;
		}
	}
}

/* Media routing of the router's MR peripheral (r->mr). */
struct route *
route_new(struct router *r)
{
	const struct cfg	*cf = r->node->cfg;
	struct route		*rt = xcalloc(1, sizeof(*rt));
	int64_t			 key;
	int			 i;

	rt->r = r;
	rt->mr = r->mr;
	for (i = 0; i < r->nperiphs; i++)
		if (r->periphs[i].id == (uint32_t)cf->mr.agent_periph)
			rt->ap = &r->periphs[i];
	TAILQ_INIT(&rt->all);
	for (i = 0; i < ROUTE_BUCKETS; i++) {
		LIST_INIT(&rt->dialogues[i]);
		LIST_INIT(&rt->tasks[i]);
		LIST_INIT(&rt->tomb_idx[i]);
	}
	rt->tombs = xcalloc(ROUTE_TOMBS, sizeof(*rt->tombs));
	rt->nmrds = cf->nmrds;
	rt->mrds = xcalloc((size_t)rt->nmrds, sizeof(*rt->mrds));
	for (i = 0; i < rt->nmrds; i++) {
		rt->mrds[i].cfg = cf->mrds[i];
		TAILQ_INIT(&rt->mrds[i].queue);
		TAILQ_INIT(&rt->mrds[i].starting);
	}
	route_agents_init(rt, cf);
	for (i = 0; i < ROUTE_LEFT_OUT; i++) {
		rt->left_out[i].rule = i == 2 ? RULE_R21 : i ? RULE_R17 :
		    RULE_R15;
		rt->left_out[i].dialogues = json_array();
	}
	rt->ev_timer = evtimer_new(r->node->base, route_timer_cb, rt);
	rt->ev_left_out = event_new(r->node->base, -1, 0, route_left_out_cb,
	    rt);
	/* Past every key of the day the last run may have given. */
	key = db_get_meta(r->db, "call_key", 0);
	rt->key_day = (uint32_t)(key >> 32);
	rt->key_next = (uint32_t)key != 0 ? (uint32_t)key : 1;
	rt->key_reserved = rt->key_next;
	/* Before it starts, the router was the path that was down (R17). */
	rt->downs[0].rule = RULE_R17;
	rt->ndowns = 1;
	return rt;
}

static void
route_routes_free(struct route *rt)
{
	int	i;

	for (i = 0; i < rt->nroutes; i++) {
		free(rt->routes[i].agents);
		free(rt->routes[i].cand);
	}
	free(rt->routes);
	rt->routes = NULL;
	rt->nroutes = 0;
}

/*
 * The lab file was read again: the MRDs' limits and the routes as it says
 * now (an MRD it adds, like an agent, waits for a restart).
 */
void
route_reload(struct route *rt)
{
	const struct cfg	*cf = rt->r->node->cfg;
	const struct cfg_mrd	*cm;
	int			 i;

	for (i = 0; i < rt->nmrds; i++)
		if ((cm = cfg_mrd(cf, rt->mrds[i].cfg.id)) != NULL)
			rt->mrds[i].cfg = *cm;
	route_routes_free(rt);
	route_agents_init(rt, cf);
	route_dispatch(rt);
}

void
route_free(struct route *rt)
{
	struct rt_task	*k;
	int		 i;

	if (rt == NULL)
		return;
	while ((k = TAILQ_FIRST(&rt->all)) != NULL)
		route_task_free(rt, k);
	route_routes_free(rt);
	for (i = 0; i < ROUTE_LEFT_OUT; i++)
		json_decref(rt->left_out[i].dialogues);
	free(rt->mrds);
	free(rt->tombs);
	if (rt->ev_timer != NULL)
		event_free(rt->ev_timer);
	if (rt->ev_left_out != NULL)
		event_free(rt->ev_left_out);
	free(rt);
}

/* What becomes of a task, in words. */
static void
route_fate(const struct route *rt, const struct rt_task *k, char *buf,
    size_t len)
{
	double	left;

	if ((k->indexed & ROUTE_WAITING) && route_held(rt, k))
		snprintf(buf, len, "its application path %u is down: its start "
		    "timer is held (R21); released (RONA, disposition %d) "
		    "unless started within %d s of the path's return", k->path,
		    TCD_DISP_RONA, k->m->cfg.task_start_timeout);
	else if (k->state == TQ_QUEUED) {
		left = k->m->cfg.max_time_in_queue -
		    (double)(mono_ms() - k->queued_ms) / 1000;
		snprintf(buf, len, "routed when an agent of MRD %u is "
		    "available, else fails (no agent) in %.1f s", k->mrd, left);
	} else if (k->held != NULL || (k->indexed & ROUTE_WAITING))
		snprintf(buf, len, "released (RONA, disposition %d) unless "
		    "started in %.1f s", TCD_DISP_RONA,
		    k->m->cfg.task_start_timeout -
		    (double)(mono_ms() - k->wait_ms) / 1000);
	else if ((k->flags & (TASKF_APP_ROUTED | TASKF_ROUTING_DOWN)) ==
	    (TASKF_APP_ROUTED | TASKF_ROUTING_DOWN))
		snprintf(buf, len, "assigned while routing was down: left out "
		    "of reports if it ends before routing is back");
	else if (route_path_down(rt, k->agent_periph, k->path) != -1)
		snprintf(buf, len, "its application path %u is down: "
		    "Termination_Call_Detail with disposition %d if its task "
		    "life runs out first (R18), else at its end", k->path,
		    TCD_DISP_PATH_DOWN);
	else if (k->segment > 1)
		snprintf(buf, len, "its report resumed (R20): "
		    "Termination_Call_Detail of segment %u at its end",
		    k->segment);
	else
		snprintf(buf, len, "Termination_Call_Detail at its end");
}

static json_t *
route_task_json(const struct route *rt, const struct rt_task *k)
{
	char	fate[256];
	double	now = wall_now(), left = -1;
	int	held = (k->indexed & ROUTE_WAITING) && route_held(rt, k);
	json_t	*j;

	route_fate(rt, k, fate, sizeof(fate));
	if (k->state == TQ_QUEUED)
		left = k->m->cfg.max_time_in_queue -
		    (double)(mono_ms() - k->queued_ms) / 1000;
	else if ((k->indexed & ROUTE_WAITING) && !held)
		left = k->m->cfg.task_start_timeout -
		    (double)(mono_ms() - k->wait_ms) / 1000;
	if ((k->state == TQ_QUEUED || (k->indexed & ROUTE_WAITING)) &&
	    !held && left < 0)
		left = 0;
	j = json_pack("{s:i, s:[i, i, i], s:i, s:s, s:i, s:i, s:s, s:b, "
	    "s:f, s:o, s:s}", "dialogue", (int)k->dialogue, "task",
	    (int)k->task[0], (int)k->task[1], (int)k->task[2], "mrd",
	    (int)k->mrd, "selector", k->selector, "agent", (int)k->agent,
	    "agent_peripheral", (int)k->agent_periph, "state",
	    taskq_state_names[k->state], "application",
	    (k->flags & TASKF_APP_ROUTED) != 0, "age_s",
	    now - (k->received > 0 ? k->received : k->routed > 0 ?
	    k->routed : k->offered > 0 ? k->offered : now),
	    "time_left_s", left < 0 ? json_null() : json_real(left), "fate",
	    fate);
	json_object_set_new(j, "path", json_integer((json_int_t)k->path));
	json_object_set_new(j, "segment", json_integer((json_int_t)
	    k->segment));
	json_object_set_new(j, "held", json_boolean(held));
	/* Rebuilt by the application's resync (R19). */
	json_object_set_new(j, "recreated",
	    json_boolean((k->flags & TASKF_RECREATED) != 0));
	return j;
}

/* The counts of `router status` and `router tasks`. */
json_t *
route_counts_json(const struct route *rt)
{
	json_t		*failed = json_object(), *j;
	uint64_t	 nfailed = 0;
	int		 i, queued = 0;

	for (i = TASK_FAIL_NO_AGENT; i < TASK_FAIL_MAX; i++) {
		nfailed += rt->failed[i];
		json_object_set_new(failed, route_fail_names[i],
		    json_integer((json_int_t)rt->failed[i]));
	}
	for (i = 0; i < rt->nmrds; i++)
		queued += rt->mrds[i].nqueued;
	j = json_pack("{s:I, s:I, s:I, s:o, s:I, s:i, s:i, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I}", "received", (json_int_t)rt->received,
	    "routed", (json_int_t)rt->routed, "failed", (json_int_t)nfailed,
	    "failed_by", failed, "discarded", (json_int_t)rt->discarded,
	    "queued", queued, "in_progress", rt->ntasks, "resends_answered",
	    (json_int_t)rt->resends, "dropped", (json_int_t)rt->dropped,
	    "ended", (json_int_t)rt->ended, "rona", (json_int_t)rt->rona,
	    "left_out", (json_int_t)rt->left_out_n, "task_events",
	    (json_int_t)rt->events, "task_events_duplicate",
	    (json_int_t)rt->duplicates);
	json_object_set_new(j, "ended_path_down", json_integer((json_int_t)
	    rt->path_down_ended));
	json_object_set_new(j, "ended_resumed", json_integer((json_int_t)
	    rt->resumed_ended));
	json_object_set_new(j, "start_timers_held", json_integer((json_int_t)
	    rt->held));
	json_object_set_new(j, "paths_down", json_integer(rt->npaths));
	/* R22: of the duplicates, those of tasks ended already. */
	json_object_set_new(j, "task_events_after_end",
	    json_integer((json_int_t)rt->after_end));
	json_object_set_new(j, "agents_resynced", json_integer((json_int_t)
	    rt->resynced));
	json_object_set_new(j, "ended_recreated", json_integer((json_int_t)
	    rt->recreated));
	return j;
}

/* pgemuctl router tasks: the queues, the tasks, the counts. */
json_t *
route_json(const struct route *rt)
{
	const struct rt_task	*k;
	json_t			*queued = json_array(), *tasks = json_array();
	json_t			*paths = json_array();
	int			 i;

	for (i = 0; i < rt->nmrds; i++)
		TAILQ_FOREACH(k, &rt->mrds[i].queue, wait)
			json_array_append_new(queued, route_task_json(rt, k));
	TAILQ_FOREACH(k, &rt->all, all)
		if (k->state != TQ_QUEUED)
			json_array_append_new(tasks, route_task_json(rt, k));
	for (i = 0; i < rt->npaths; i++)
		json_array_append_new(paths, json_pack("{s:i, s:I, s:f}",
		    "peripheral", (int)rt->paths[i].periph, "path",
		    (json_int_t)rt->paths[i].id, "since", rt->paths[i].since));
	return json_pack("{s:i, s:i, s:o, s:o, s:o, s:o}", "peripheral",
	    (int)rt->mr->id, "agent_peripheral", (int)rt->ap->id, "queued",
	    queued, "tasks", tasks, "paths_down", paths, "counts",
	    route_counts_json(rt));
}
