/*
 * Check tests of a CTI server's ARM task table (arm.c) without a lab: what
 * each task message does to the table and which E_ARM_STAT_ status refuses
 * it (the START_TASK_IND that a PRECALL allows among them), the TaskIDs it
 * gives, the TASK_EVENTs it keeps while the router link is down and sends
 * again, and the copies the other side keeps (of the table, and of the
 * TASK_EVENTs: R22); the application paths, the deadlines of their
 * tasks while they are down, the tasks that outlive them ended (R18),
 * the reports that resume (R20), and the copy of all that.
 * pg_send_task() is this file's: it records what arm.c sends, on a link
 * the test raises and cuts.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "check_run.h"
#include "wire.h"
#include "ged188.h"

#define PERIPH	5000
#define EMAIL	2

static struct cfg	 cfg;
static struct cfg_mrd	 mrds[1];
static struct cfg_node	 self;
static struct node	 node;
static struct arm	*arm;

/* What arm.c sent, per link. */
static int		 router_up, peer_up;
static struct msg_task	 to_router[64], to_peer[64], to_copy[64];
static int		 nrouter, npeer, ncopy;

int
pg_send_task(struct node *n, uint32_t type, const struct msg_task *t)
{
	ck_assert_ptr_eq(n, &node);
	if (type == MSG_TASK_EVENT) {
		if (!router_up)
			return -1;
		ck_assert_int_lt(nrouter, 64);
		to_router[nrouter++] = *t;
		return 0;
	}
	if (!peer_up)
		return -1;
	if (type == MSG_PEER_TASK_CACHE) {
		ck_assert_int_lt(ncopy, 64);
		to_copy[ncopy++] = *t;
		return 0;
	}
	ck_assert_uint_eq(type, MSG_PEER_TASK);
	ck_assert_int_lt(npeer, 64);
	to_peer[npeer++] = *t;
	return 0;
}

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&self, 0, sizeof(self));
	memset(&node, 0, sizeof(node));
	self.side = 'A';
	cfg.cti_task_cache = 3;
	cfg.hb_router.interval_ms = 1000;	/* a window of 2 s */
	cfg.hb_router.misses = 1;
	memset(mrds, 0, sizeof(mrds));
	mrds[0].id = EMAIL;
	mrds[0].task_life = 10;
	cfg.mrds = mrds;
	cfg.nmrds = 1;
	cfg.mr.agent_periph = PERIPH;
	node.cfg = &cfg;
	node.self = &self;
	router_up = peer_up = 1;
	nrouter = npeer = ncopy = 0;
	arm = arm_new(&node);
	arm_router(arm, 1);
}

static void
teardown(void)
{
	arm_free(arm);
}

/* A task message of agent in the email MRD. */
static struct msg_task
task(uint32_t code, uint32_t agent, uint32_t lo)
{
	struct msg_task	t;

	memset(&t, 0, sizeof(t));
	t.peripheral = t.agent_periph = PERIPH;
	t.agent = agent;
	t.mrd = EMAIL;
	t.code = code;
	if (lo != 0) {
		t.task[0] = 20000;
		t.task[1] = lo;
	}
	t.dialogue = 40 + lo;
	return t;
}

static uint32_t
take(uint32_t code, uint32_t agent, uint32_t lo, uint32_t max, int precall)
{
	struct msg_task	t = task(code, agent, lo);

	return arm_take(arm, &t, max, precall);
}

static void
load_is(uint32_t agent, int offered, int started)
{
	int	o, s;

	arm_load(arm, PERIPH, agent, EMAIL, &o, &s);
	ck_assert_int_eq(o, offered);
	ck_assert_int_eq(s, started);
}

static json_int_t
counter(const char *name)
{
	json_t		*j = arm_json(arm, 0);
	json_int_t	 v = json_integer_value(json_object_get(j, name));

	json_decref(j);
	return v;
}

/* OFFER, START, END and the statuses of each wrong one. */
START_TEST(test_life)
{
	struct msg_task	t;

	ck_assert_uint_eq(take(TASK_EV_OFFER, 1001, 1, 5, 0), E_ARM_STAT_OK);
	load_is(1001, 1, 0);
	ck_assert_uint_eq(take(TASK_EV_OFFER, 1001, 1, 5, 0),
	    E_ARM_STAT_INVALID_MESSAGE_SEQUENCE);
	ck_assert_uint_eq(take(TASK_EV_START, 1002, 1, 5, 0),
	    E_ARM_STAT_INCONSISTENT_AGENT_IDS);
	t = task(TASK_EV_START, 1001, 1);
	t.mrd = 3;
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0),
	    E_ARM_STAT_INCONSISTENT_MEDIA_ROUTING_DOMAIN_IDS);
	ck_assert_uint_eq(take(TASK_EV_START, 1001, 1, 5, 0), E_ARM_STAT_OK);
	load_is(1001, 0, 1);
	ck_assert_uint_eq(take(TASK_EV_START, 1001, 1, 5, 0),
	    E_ARM_STAT_INVALID_MESSAGE_SEQUENCE);
	ck_assert_uint_eq(take(TASK_EV_END, 1001, 2, 5, 0),
	    E_ARM_STAT_TASK_OBJECT_NOT_FOUND);
	/* An END without its dialogue gets the task's. */
	t = task(TASK_EV_END, 1001, 1);
	t.dialogue = 0;
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0), E_ARM_STAT_OK);
	ck_assert_uint_eq(t.dialogue, 41);
	load_is(1001, 0, 0);
	ck_assert_int_eq(counter("tasks"), 0);
	ck_assert_uint_eq(take(TASK_EV_END, 1001, 1, 5, 0),
	    E_ARM_STAT_TASK_OBJECT_NOT_FOUND);
}
END_TEST

/* START_TASK_IND never offered: taken after the router's PRECALL only. */
START_TEST(test_precall)
{
	ck_assert_uint_eq(take(TASK_EV_START, 1001, 3, 5, 0),
	    E_ARM_STAT_NO_OFFER_OR_PRE_CALL_RECEIVED);
	load_is(1001, 0, 0);
	ck_assert_uint_eq(take(TASK_EV_START, 1001, 3, 5, 1), E_ARM_STAT_OK);
	load_is(1001, 0, 1);
	ck_assert_uint_eq(take(TASK_EV_END, 1001, 3, 5, 0), E_ARM_STAT_OK);
	/* The application's: a TaskID the table lacks is not found, none
	   is a task started at once. */
	ck_assert_uint_eq(take(TASK_EV_APP_START, 1001, 4, 5, 1),
	    E_ARM_STAT_TASK_OBJECT_NOT_FOUND);
	ck_assert_uint_eq(take(TASK_EV_APP_START, 1001, 0, 5, 0),
	    E_ARM_STAT_OK);
	load_is(1001, 0, 1);
}
END_TEST

/* The agent's limit in the MRD, never over 10. */
START_TEST(test_limit)
{
	uint32_t	i;

	for (i = 1; i <= 2; i++)
		ck_assert_uint_eq(take(TASK_EV_OFFER, 1001, i, 2, 0),
		    E_ARM_STAT_OK);
	ck_assert_uint_eq(take(TASK_EV_OFFER, 1001, 3, 2, 0),
	    E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED);
	ck_assert_uint_eq(take(TASK_EV_START, 1001, 3, 2, 1),
	    E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED);
	ck_assert_uint_eq(take(TASK_EV_APP_OFFER, 1001, 0, 2, 0),
	    E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED);
	/* Another agent has its own count. */
	ck_assert_uint_eq(take(TASK_EV_OFFER, 1002, 3, 2, 0), E_ARM_STAT_OK);
	for (i = 10; i < 30; i++)
		take(TASK_EV_OFFER, 1003, i, 50, 0);
	load_is(1003, 10, 0);
}
END_TEST

/* TaskIDs: distinct, in order, the unix second, the side's bit. */
START_TEST(test_ids)
{
	struct msg_task	t;
	uint32_t	prev[2] = { 0, 0 };
	double		now = wall_now();
	int		i;

	for (i = 0; i < 2000; i++) {
		t = task(TASK_EV_APP_OFFER, 1000 + (uint32_t)i, 0);
		ck_assert_uint_eq(arm_take(arm, &t, 1, 0), E_ARM_STAT_OK);
		ck_assert_uint_le(t.task[0] - (uint32_t)now, 2);
		ck_assert_uint_eq(t.task[1] >> 30, 0);
		ck_assert_uint_eq(t.task[2], 0);
		ck_assert_msg(t.task[0] > prev[0] || (t.task[0] == prev[0] &&
		    t.task[1] > prev[1]), "TaskID %u.%u after %u.%u",
		    t.task[0], t.task[1], prev[0], prev[1]);
		prev[0] = t.task[0];
		prev[1] = t.task[1];
	}
	ck_assert_int_eq(counter("tasks"), 2000);
	arm_free(arm);
	self.side = 'B';
	arm = arm_new(&node);
	t = task(TASK_EV_APP_START, 1001, 0);
	ck_assert_uint_eq(arm_take(arm, &t, 1, 0), E_ARM_STAT_OK);
	ck_assert_uint_eq(t.task[1] >> 30, 1);
}
END_TEST

/*
 * The router link down: the last one sent waits again, the new ones wait
 * up to cti.task_cache (3) and the next is dropped; back: all in order,
 * flagged TASKF_CACHED.
 */
START_TEST(test_cache)
{
	struct msg_task	t;
	uint32_t	i;

	t = task(TASK_EV_OFFER, 1001, 1);
	arm_report(arm, &t);
	ck_assert_int_eq(nrouter, 1);
	ck_assert_uint_eq(to_router[0].flags & TASKF_CACHED, 0);
	router_up = 0;
	arm_router(arm, 0);
	ck_assert_int_eq(counter("resent"), 1);
	for (i = 2; i <= 5; i++) {
		t = task(TASK_EV_OFFER, 1001, i);
		arm_report(arm, &t);
	}
	ck_assert_int_eq(nrouter, 1);
	ck_assert_int_eq(counter("waiting"), 4);
	ck_assert_int_eq(counter("cached"), 3);
	ck_assert_int_eq(counter("dropped"), 1);
	router_up = 1;
	arm_router(arm, 1);
	ck_assert_int_eq(nrouter, 5);
	for (i = 1; i < 5; i++) {
		ck_assert_uint_eq(to_router[i].task[1], i);
		ck_assert_uint_eq(to_router[i].flags, TASKF_CACHED);
	}
	ck_assert_int_eq(counter("waiting"), 0);
	ck_assert_int_eq(counter("sent"), 5);
	/* Up again, nothing waits: the next goes at once, not cached. */
	t = task(TASK_EV_END, 1001, 5);
	arm_report(arm, &t);
	ck_assert_int_eq(nrouter, 6);
	ck_assert_uint_eq(to_router[5].flags, 0);
}
END_TEST

/* The table to the other side, and the copy kept from it. */
START_TEST(test_mirror)
{
	struct msg_task	t;
	char		err[160];

	ck_assert_uint_eq(take(TASK_EV_OFFER, 1001, 1, 5, 0), E_ARM_STAT_OK);
	ck_assert_uint_eq(take(TASK_EV_APP_START, 1002, 0, 5, 0),
	    E_ARM_STAT_OK);
	arm_send_table(arm);
	ck_assert_int_eq(npeer, 3);
	ck_assert_uint_eq(to_peer[0].code, TASK_EV_TABLE);
	ck_assert_uint_eq(to_peer[1].code, TASK_EV_OFFER);
	ck_assert_uint_eq(to_peer[2].code, TASK_EV_APP_START);
	ck_assert_uint_eq(to_peer[2].agent, 1002);
	/* The copy: the table replaced, then changes. */
	t = task(TASK_EV_OFFER, 1003, 9);
	ck_assert_int_eq(arm_mirror(arm, &t, err, sizeof(err)), 0);
	t.code = TASK_EV_TABLE;
	ck_assert_int_eq(arm_mirror(arm, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(counter("tasks"), 0);
	ck_assert_int_eq(arm_mirror(arm, &to_peer[1], err, sizeof(err)), 0);
	ck_assert_int_eq(arm_mirror(arm, &to_peer[2], err, sizeof(err)), 0);
	load_is(1001, 1, 0);
	load_is(1002, 0, 1);
	t = task(TASK_EV_START, 1001, 1);
	ck_assert_int_eq(arm_mirror(arm, &t, err, sizeof(err)), 0);
	load_is(1001, 0, 1);
	t.code = TASK_EV_END;
	ck_assert_int_eq(arm_mirror(arm, &t, err, sizeof(err)), 0);
	load_is(1001, 0, 0);
	/* What a copy refuses. */
	t = task(TASK_EV_MAX, 1001, 1);
	ck_assert_int_eq(arm_mirror(arm, &t, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "PEER_TASK"));
	t = task(TASK_EV_OFFER, 1001, 0);
	ck_assert_int_eq(arm_mirror(arm, &t, err, sizeof(err)), -1);
	ck_assert_int_eq(counter("mirrored"), 6);
}
END_TEST

/* A task of path 7 (or 8), offered or started. */
static uint32_t
take_path(uint32_t code, uint32_t agent, uint32_t lo, uint32_t path)
{
	struct msg_task	t = task(code, agent, lo);

	t.path = path;
	return arm_take(arm, &t, 5, code == TASK_EV_START);
}

/* What arm_expire() ended, in order. */
static struct msg_task	 ended[16];
static int		 nended;

static void
expired(void *arg, const struct msg_task *t)
{
	ck_assert_ptr_eq(arg, &nended);
	ck_assert_int_lt(nended, 16);
	ended[nended++] = *t;
}

static void
expired_count(void *arg, const struct msg_task *t)
{
	(void)t;
	(*(int *)arg)++;
}

/* R18: a path down gives its tasks deadlines; they end, or it is back. */
START_TEST(test_paths)
{
	double		since;
	uint32_t	ids[4];
	int		n;

	ck_assert_uint_eq(take_path(TASK_EV_OFFER, 1001, 1, 7), E_ARM_STAT_OK);
	ck_assert_uint_eq(take_path(TASK_EV_START, 1002, 2, 7), E_ARM_STAT_OK);
	ck_assert_uint_eq(take_path(TASK_EV_OFFER, 1003, 3, 8), E_ARM_STAT_OK);
	ck_assert_int_eq(arm_path_set(arm, 7, 0, 0, &n), 1);	/* new */
	ck_assert_int_eq(arm_path_set(arm, 7, 0, 0, &n), 0);
	ck_assert(arm_next_deadline(arm) == 0);
	ck_assert_int_eq(arm_path_set(arm, 7, 1, 1000.0, &n), 1);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(arm_path_set(arm, 7, 1, 1005.0, &n), 0);
	ck_assert_int_eq(arm_path_down(arm, 7, &since), 1);
	ck_assert(since == 1000.0);
	ck_assert_int_eq(arm_path_down(arm, 8, NULL), 0);
	ck_assert(arm_next_deadline(arm) == 1010.0);	/* task_life 10 */
	ck_assert_int_eq(arm_path_ids(arm, ids, 4), 1);
	/* Not yet; then both of path 7, not path 8's. */
	nended = 0;
	ck_assert_int_eq(arm_expire(arm, 1009.9, expired, &nended), 0);
	ck_assert_int_eq(arm_expire(arm, 1010.0, expired, &nended), 2);
	ck_assert_int_eq(nended, 2);
	ck_assert_uint_eq(ended[0].code, TASK_EV_END);
	ck_assert_uint_eq(ended[0].flags, TASKF_PATH_DOWN);
	ck_assert_uint_eq(ended[0].when, 1010);
	ck_assert_uint_eq(ended[0].path, 7);
	ck_assert_uint_eq(ended[0].epoch, 1);
	ck_assert_uint_eq(ended[1].agent, 1002);
	load_is(1001, 0, 0);
	load_is(1002, 0, 0);
	load_is(1003, 1, 0);
	ck_assert_int_eq(counter("expired"), 2);
	ck_assert_int_eq(counter("ended_by_life"), 2);
	ck_assert(arm_next_deadline(arm) == 0);
	/* A path back before the deadline: its task goes on. */
	ck_assert_int_eq(arm_path_set(arm, 8, 1, 2000.0, &n), 1);
	ck_assert_int_eq(n, 1);
	ck_assert(arm_next_deadline(arm) == 2010.0);
	ck_assert_int_eq(arm_path_set(arm, 8, 0, 0, &n), 1);
	ck_assert_int_eq(n, 1);
	ck_assert(arm_next_deadline(arm) == 0);
	ck_assert_int_eq(arm_expire(arm, 3000.0, expired, &nended), 0);
	load_is(1003, 1, 0);
	/* A task added to a path that is down (a copy) gets its deadline. */
	ck_assert_uint_eq(take_path(TASK_EV_OFFER, 1004, 4, 7), E_ARM_STAT_OK);
	ck_assert(arm_next_deadline(arm) == 1010.0);
}
END_TEST

/* The paths down told the router again when its link is back (R21). */
START_TEST(test_paths_retold)
{
	int	n;

	cfg.mr.enabled = 1;
	arm_set_active(arm, 1);
	ck_assert_int_eq(arm_path_set(arm, 7, 1, 1000.5, &n), 1);
	ck_assert_int_eq(arm_path_set(arm, 8, 0, 0, &n), 1);
	router_up = 0;
	arm_router(arm, 0);
	router_up = 1;
	arm_router(arm, 1);
	ck_assert_int_eq(nrouter, 1);
	ck_assert_uint_eq(to_router[0].code, TASK_EV_PATH_DOWN);
	ck_assert_uint_eq(to_router[0].path, 7);
	ck_assert_uint_eq(to_router[0].peripheral, PERIPH);
	ck_assert_uint_eq(to_router[0].when, 1000);
	ck_assert_uint_eq(to_router[0].when_ms, 500);
	/* A standby tells nothing again (the one sent lately goes again,
	   cached: the router may not have read it). */
	arm_set_active(arm, 0);
	arm_router(arm, 0);
	arm_router(arm, 1);
	ck_assert_int_eq(nrouter, 2);
	ck_assert_uint_eq(to_router[1].flags, TASKF_CACHED);
}
END_TEST

/* R20: the START or END of a task its task life ended resumes it. */
START_TEST(test_resume)
{
	struct msg_task	t;
	int		n;

	ck_assert_uint_eq(take_path(TASK_EV_OFFER, 1001, 1, 7), E_ARM_STAT_OK);
	ck_assert_uint_eq(take_path(TASK_EV_START, 1002, 2, 7), E_ARM_STAT_OK);
	ck_assert_uint_eq(take_path(TASK_EV_APP_START, 1003, 0, 7),
	    E_ARM_STAT_OK);
	arm_path_set(arm, 7, 1, 1000.0, &n);
	nended = 0;
	ck_assert_int_eq(arm_expire(arm, 1010.0, expired, &nended), 3);
	arm_path_set(arm, 7, 0, 0, &n);
	/* Its START after it ended: back in the table, segment 2. */
	t = task(TASK_EV_START, 1001, 1);
	t.path = 7;
	ck_assert_uint_eq(arm_resuming(arm, &t), TASK_EV_START);
	ck_assert_uint_eq(t.flags, TASKF_RESUMED);
	ck_assert_uint_eq(t.epoch, 2);
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0), E_ARM_STAT_OK);
	load_is(1001, 0, 1);
	ck_assert_int_eq(counter("resumed"), 1);
	ck_assert_int_eq(counter("ended_by_life"), 2);
	/* Its END: in the table, in its segment, flagged so. */
	t = task(TASK_EV_END, 1001, 1);
	ck_assert_uint_eq(arm_resuming(arm, &t), 0);
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0), E_ARM_STAT_OK);
	ck_assert_uint_eq(t.flags, TASKF_RESUMED);
	ck_assert_uint_eq(t.epoch, 2);
	load_is(1001, 0, 0);
	/* An END of one ended: resumed with the START of its kind. */
	t = task(TASK_EV_END, 1002, 2);
	ck_assert_uint_eq(arm_resuming(arm, &t), TASK_EV_START);
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0), E_ARM_STAT_OK);
	ck_assert_uint_eq(t.dialogue, 42);
	load_is(1002, 0, 0);
	t = task(TASK_EV_END, 1003, 0);
	memcpy(t.task, ended[2].task, sizeof(t.task));
	ck_assert_uint_eq(arm_resuming(arm, &t), TASK_EV_APP_START);
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0), E_ARM_STAT_OK);
	ck_assert_int_eq(counter("ended_by_life"), 0);
	ck_assert_int_eq(counter("resumed"), 3);
	/* Once only; not for another agent; an OFFER never. */
	t = task(TASK_EV_END, 1002, 2);
	ck_assert_uint_eq(arm_resuming(arm, &t), 0);
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0),
	    E_ARM_STAT_TASK_OBJECT_NOT_FOUND);
	ck_assert_uint_eq(take_path(TASK_EV_START, 1004, 4, 7), E_ARM_STAT_OK);
	arm_path_set(arm, 7, 1, 2000.0, &n);
	ck_assert_int_eq(arm_expire(arm, 2010.0, expired, &nended), 1);
	t = task(TASK_EV_END, 1005, 4);
	ck_assert_uint_eq(arm_resuming(arm, &t), 0);
	t = task(TASK_EV_OFFER, 1004, 4);
	ck_assert_uint_eq(arm_resuming(arm, &t), 0);
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0), E_ARM_STAT_OK);
	ck_assert_uint_eq(t.flags, 0);
}
END_TEST

/* The copy: paths, deadlines, tasks ended and resumed. */
START_TEST(test_mirror_paths)
{
	struct arm	*copy = arm_new(&node), *a;
	struct msg_task	 t;
	double		 since;
	char		 err[160];
	int		 i, n;

	ck_assert_uint_eq(take_path(TASK_EV_START, 1001, 1, 7), E_ARM_STAT_OK);
	ck_assert_uint_eq(take_path(TASK_EV_START, 1002, 2, 7), E_ARM_STAT_OK);
	arm_path_set(arm, 7, 1, 1000.0, &n);
	nended = 0;
	/* One ended by its life before the table goes: a tombstone. */
	arm_path_set(arm, 9, 0, 0, &n);
	arm_send_table(arm);
	ck_assert_int_eq(npeer, 5);
	ck_assert_uint_eq(to_peer[3].code, TASK_EV_PATH_DOWN);
	ck_assert_uint_eq(to_peer[4].code, TASK_EV_PATH_UP);
	for (i = 0; i < npeer; i++)
		ck_assert_int_eq(arm_mirror(copy, &to_peer[i], err,
		    sizeof(err)), 0);
	ck_assert_int_eq(arm_path_down(copy, 7, &since), 1);
	ck_assert(since == 1000.0);
	ck_assert(arm_next_deadline(copy) == 1010.0);
	/* The active one ends them: the copy keeps their tombstones. */
	ck_assert_int_eq(arm_expire(arm, 1010.0, expired, &nended), 2);
	for (i = 0; i < nended; i++)
		ck_assert_int_eq(arm_mirror(copy, &ended[i], err,
		    sizeof(err)), 0);
	a = arm;
	arm = copy;
	load_is(1001, 0, 0);
	ck_assert_int_eq(counter("ended_by_life"), 2);
	/* A whole table again: tombstones too. */
	npeer = 0;
	arm = a;
	arm_send_table(arm);
	arm = copy;
	for (i = 0; i < npeer; i++)
		ck_assert_int_eq(arm_mirror(copy, &to_peer[i], err,
		    sizeof(err)), 0);
	ck_assert_int_eq(counter("ended_by_life"), 2);
	/* A resumed START there, then copied: tombstone gone, task back. */
	arm = a;
	arm_path_set(arm, 7, 0, 0, &n);
	t = task(TASK_EV_START, 1001, 1);
	t.path = 7;
	ck_assert_uint_ne(arm_resuming(arm, &t), 0);
	ck_assert_uint_eq(arm_take(arm, &t, 5, 0), E_ARM_STAT_OK);
	arm = copy;
	ck_assert_int_eq(arm_mirror(copy, &t, err, sizeof(err)), 0);
	load_is(1001, 0, 1);
	ck_assert_int_eq(counter("ended_by_life"), 1);
	/* Its path's state copied: no deadline now. */
	arm = a;
	arm_path_msg(arm, 7, &t);
	ck_assert_uint_eq(t.code, TASK_EV_PATH_UP);
	ck_assert_int_eq(arm_mirror(copy, &t, err, sizeof(err)), 0);
	ck_assert(arm_next_deadline(copy) == 0);
	arm_free(copy);
}
END_TEST

/* Tombstones are bounded: the oldest forgotten, counted. */
START_TEST(test_tomb_bound)
{
	uint32_t	i;
	int		n;

	for (i = 0; i < 10001; i++)
		ck_assert_uint_eq(take_path(TASK_EV_START, 1000 + i / 5, i + 1,
		    7), E_ARM_STAT_OK);
	arm_path_set(arm, 7, 1, 1000.0, &n);
	ck_assert_int_eq(n, 10001);
	nended = 0;
	ck_assert_int_eq(arm_expire(arm, 1010.0, expired_count, &nended),
	    10001);
	ck_assert_int_eq(counter("ended_by_life"), 10000);
	ck_assert_int_eq(counter("ended_by_life_forgotten"), 1);
}
END_TEST

static json_int_t
copy_counter(struct arm *a, const char *name)
{
	json_t		*j = arm_json(a, 0);
	json_t		*c = json_object_get(j, "peer_copy");
	json_int_t	 v = json_integer_value(json_object_get(c, name));

	json_decref(j);
	return v;
}

/* The copy of the copies sent so far, kept as the standby keeps it. */
static void
copy_replay(struct arm *b, int from)
{
	char	err[160];
	int	i;

	for (i = from; i < ncopy; i++)
		ck_assert_int_eq(arm_mirror_cache(b, &to_copy[i], err,
		    sizeof(err)), 0);
}

/*
 * R22: the other side's copy of the TASK_EVENTs is the queue: each one
 * made, each one forgotten from the front once past the window; the
 * whole queue with the table.  The active CTI server sends what it
 * holds of the other's once the other is gone, flagged TASKF_CACHED.
 */
START_TEST(test_copy)
{
	struct arm	*b;
	struct msg_task	 t;
	char		 err[160];
	uint32_t	 i;

	b = arm_new(&node);
	arm_set_active(arm, 1);
	t = task(TASK_EV_OFFER, 1001, 1);
	arm_report(arm, &t);
	ck_assert_int_eq(ncopy, 1);
	ck_assert_uint_eq(to_copy[0].code, TASK_EV_OFFER);
	/* The router away: what is made waits, and is copied. */
	router_up = 0;
	arm_router(arm, 0);
	for (i = 2; i <= 5; i++) {
		t = task(TASK_EV_OFFER, 1001, i);
		arm_report(arm, &t);
	}
	/* 1 sent again, 2..4 cached, 5 dropped: not copied. */
	ck_assert_int_eq(ncopy, 4);
	copy_replay(b, 0);
	ck_assert_int_eq(copy_counter(b, "held"), 4);
	/* The table sends the whole queue again: the copy starts over. */
	i = (uint32_t)ncopy;
	arm_send_table(arm);
	ck_assert_int_eq(ncopy, (int)i + 5);
	ck_assert_uint_eq(to_copy[i].code, TASK_EV_TABLE);
	copy_replay(b, (int)i);
	ck_assert_int_eq(copy_counter(b, "held"), 4);
	/* This side dies; the other becomes active with the router back. */
	arm_free(arm);
	arm = b;
	nrouter = 0;
	router_up = 1;
	arm_router(arm, 1);
	ck_assert_int_eq(nrouter, 0);
	arm_adopt(arm, 1, 1);		/* the other side is there */
	ck_assert_int_eq(nrouter, 0);
	arm_adopt(arm, 1, 0);		/* gone */
	ck_assert_int_eq(nrouter, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(to_router[i].task[1], i + 1);
		ck_assert_uint_eq(to_router[i].flags, TASKF_CACHED);
	}
	ck_assert_int_eq(copy_counter(arm, "held"), 0);
	ck_assert_int_eq(copy_counter(arm, "adopted"), 4);
	/* A path's state is copied without a TaskID; what a copy refuses. */
	t = task(TASK_EV_PATH_DOWN, 0, 0);
	t.path = 7;
	ck_assert_int_eq(arm_mirror_cache(arm, &t, err, sizeof(err)), 0);
	/* So is an agent's state a resync bracket told (R19). */
	t = task(TASK_EV_RESYNC, 0, 0);
	ck_assert_int_eq(arm_mirror_cache(arm, &t, err, sizeof(err)), 0);
	t = task(TASK_EV_RESYNC + 1, 1001, 1);
	ck_assert_int_eq(arm_mirror_cache(arm, &t, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "PEER_TASK_CACHE"));
	t = task(TASK_EV_END, 1001, 0);
	ck_assert_int_eq(arm_mirror_cache(arm, &t, err, sizeof(err)), -1);
}
END_TEST

/* The copy forgets what the window let go of, and keeps its bound. */
START_TEST(test_copy_forget)
{
	struct arm	*b = arm_new(&node);
	struct msg_task	 t;
	char		 err[160];
	uint32_t	 i;

	/* Sent, at most cti.task_cache (3) kept: 4 and 5 forget 1 each. */
	for (i = 1; i <= 5; i++) {
		t = task(TASK_EV_OFFER, 1001, i);
		arm_report(arm, &t);
	}
	ck_assert_int_eq(ncopy, 7);
	ck_assert_uint_eq(to_copy[4].code, TASK_EV_TABLE);
	ck_assert_uint_eq(to_copy[4].epoch, 1);
	copy_replay(b, 0);
	ck_assert_int_eq(copy_counter(b, "held"), 3);
	arm_free(arm);
	arm = b;
	/* Forgotten, all of it; past twice cti.task_cache (6) the oldest
	   goes. */
	t = task(TASK_EV_TABLE, 0, 0);
	t.epoch = 0xffffffffU;
	ck_assert_int_eq(arm_mirror_cache(arm, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(copy_counter(arm, "held"), 0);
	for (i = 1; i <= 8; i++) {
		t = task(TASK_EV_OFFER, 1001, i);
		ck_assert_int_eq(arm_mirror_cache(arm, &t, err, sizeof(err)),
		    0);
	}
	ck_assert_int_eq(copy_counter(arm, "held"), 6);
	ck_assert_int_eq(copy_counter(arm, "dropped"), 2);
}
END_TEST

static Suite *
arm_suite(void)
{
	Suite	*s = suite_create("arm");
	TCase	*tc = tcase_create("tasks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_life);
	tcase_add_test(tc, test_precall);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_mirror);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_paths_retold);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_mirror_paths);
	tcase_add_test(tc, test_tomb_bound);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_copy_forget);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(arm_suite(), CK_NORMAL);
}
