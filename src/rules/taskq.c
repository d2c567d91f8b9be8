/*
 * Media routing at the router, as pure functions (route.c applies them;
 * tests/check_taskq.c checks them row by row):
 *
 *   which agent     the route's agent AVAILABLE in its MRD for the longest
 *                   time, not already reserved by the router for a task
 *                   that has not started (ties: the lower id);
 *   the queue       a request waits in its MRD's queue while fewer than
 *                   max_tasks_in_queue wait, at most max_time_in_queue;
 *   a task's life   each TASK_EVENT moves it on, once: an event seen
 *                   before (a cached one sent again) is a duplicate, an
 *                   older step after a newer one changes nothing;
 *
 *       ROUTED --OFFER--> OFFERED --START--> STARTED --END--> ENDED
 *          `----------------START----------'      (END from any state)
 *
 *   its end         the Termination_Call_Detail it gets, or none: a task
 *                   the application assigned while routing was down and
 *                   ended before routing came back appears in no report
 *                   (R15; R17 when the router path was what was down), nor
 *                   one that began and ended while the application's ARM
 *                   session was down (R21); a task whose task life ran out
 *                   while its application path was down ends with
 *                   disposition 42 (R18).
 */
#include "config.h"

#include "pgemu.h"
#include "wire.h"

const char *const taskq_state_names[TQ_STATE_MAX] = {
	"queued", "routed", "offered", "started", "ended"
};

const char *const taskq_act_names[TQA_MAX] = {
	"BAD", "DUPLICATE", "LATE", "OFFER", "START", "END"
};

/*
 * The agent a task goes to: the index of the one AVAILABLE and logged in
 * for the longest time, not held; -1 if none.
 */
int
taskq_pick(const struct taskq_cand *c, size_t n)
{
	size_t	i;
	int	best = -1;

	for (i = 0; i < n; i++) {
		if (!c[i].logged_in || c[i].state != AS_AVAILABLE ||
		    c[i].held)
			continue;
		if (best == -1 || c[i].since < c[best].since ||
		    (c[i].since == c[best].since && c[i].id < c[best].id))
			best = (int)i;
	}
	return best;
}

/* May one more request wait in a queue that holds `queued`? */
int
taskq_admit(int queued, int max_in_queue)
{
	return queued >= 0 && queued < max_in_queue;
}

/* Has a request queued at since_ms waited its limit_s seconds? */
int
taskq_expired(uint64_t since_ms, uint64_t now_ms, int limit_s)
{
	return now_ms >= since_ms &&
	    now_ms - since_ms >= (uint64_t)limit_s * 1000;
}

/*
 * A TASK_EVENT (code TASK_EV_*) for a task in `state` that has seen the
 * codes of `seen` (bit 1 << code): what it does, the state after in next.
 */
enum taskq_act
taskq_event(int state, unsigned int seen, uint32_t code, int *next)
{
	*next = state;
	if (code == 0 || code >= TASK_EV_MAX || code == TASK_EV_PATH_DOWN ||
	    code == TASK_EV_PATH_UP)
		return TQA_BAD;
	if (state == TQ_ENDED || (seen & (1u << code)) != 0)
		return TQA_DUPLICATE;
	switch (code) {
	case TASK_EV_END:
		*next = TQ_ENDED;
		return TQA_END;
	case TASK_EV_OFFER:
	case TASK_EV_APP_OFFER:
		if (state >= TQ_OFFERED)
			return TQA_LATE;
		*next = TQ_OFFERED;
		return TQA_OFFER;
	default:
		if (state >= TQ_STARTED)
			return TQA_LATE;
		*next = TQ_STARTED;
		return TQA_START;
	}
}

/*
 * What a task's end records: the flags it was reported with (TASKF_*),
 * and whether the router ended it because it did not start in time.
 */
void
taskq_end(uint32_t flags, int timed_out, struct taskq_end *e)
{
	uint32_t	down = TASKF_APP_ROUTED | TASKF_ROUTING_DOWN |
	    TASKF_ENDED_DOWN;

	e->left_out = (flags & down) == down || (flags & TASKF_CTI_DOWN) != 0;
	e->call_type = flags & TASKF_APP_ROUTED ? TCD_CALLTYPE_APP :
	    TCD_CALLTYPE_ROUTED;
	if (timed_out) {
		e->disposition = TCD_DISP_RONA;
		e->disposition_flag = TCD_FLAG_ABANDONED;
	} else if (flags & TASKF_PATH_DOWN) {
		e->disposition = TCD_DISP_PATH_DOWN;
		e->disposition_flag = TCD_FLAG_ERROR;
	} else if (flags & TASKF_INIT_ENDED) {
		e->disposition = TCD_DISP_INIT_ENDED;
		e->disposition_flag = TCD_FLAG_ERROR;
	} else {
		e->disposition = TCD_DISP_HANDLED;
		e->disposition_flag = TCD_FLAG_HANDLED;
	}
}

/*
 * The rule a task left out of reports falls under: R17 when it began
 * while the MR peripheral was offline because the router path was down
 * (within slack seconds of that time: the application hears of it first
 * or last), R15 otherwise.  An outage that holds the start itself says
 * which: an R12 outage that began just after an R17 one ended (the
 * router's start, say) is the application's path, not the router's.
 */
int
taskq_left_out_rule(const struct taskq_down *d, size_t n, double when,
    double slack)
{
	size_t	i;

	for (i = n; i-- > 0;)
		if (when >= d[i].from && (d[i].to == 0 || when <= d[i].to))
			return d[i].rule == RULE_R17 ? RULE_R17 : RULE_R15;
	for (i = 0; i < n; i++)
		if (d[i].rule == RULE_R17 && when >= d[i].from - slack &&
		    (d[i].to == 0 || when <= d[i].to + slack))
			return RULE_R17;
	return RULE_R15;
}
