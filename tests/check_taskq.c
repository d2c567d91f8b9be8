/*
 * Check tests of media routing's pure rules (src/rules/taskq.c), row by
 * row: which agent a task goes to (the one AVAILABLE longest, none held
 * or logged out), whether a request may wait in its MRD's queue and when
 * its time there is out, a task's life as TASK_EVENTs tell it (each step
 * once; older steps after newer ones change nothing), what its end
 * records, and the rule of a task left out of reports (R15, R17).
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "pgemu.h"
#include "check_run.h"
#include "wire.h"

#define AV	AS_AVAILABLE
#define NR	AS_NOT_READY
#define RS	AS_RESERVED

static const struct {
	const char		*what;
	struct taskq_cand	 c[4];
	size_t			 n;
	int			 pick;
} picks[] = {
	{ "nobody", { { 0 } }, 0, -1 },
	{ "the one available", { { 1, NR, 1, 0, 5 }, { 2, AV, 1, 0, 9 } },
	  2, 1 },
	{ "available the longest (the earliest since)",
	  { { 1, AV, 1, 0, 30 }, { 2, AV, 1, 0, 10 }, { 3, AV, 1, 0, 20 } },
	  3, 1 },
	{ "a tie: the lower id", { { 7, AV, 1, 0, 10 }, { 3, AV, 1, 0, 10 } },
	  2, 1 },
	{ "held by the router: skipped", { { 1, AV, 1, 1, 5 },
	  { 2, AV, 1, 0, 9 } }, 2, 1 },
	{ "logged out: skipped", { { 1, AV, 0, 0, 5 }, { 2, AV, 1, 0, 9 } },
	  2, 1 },
	{ "reserved, not ready: none", { { 1, RS, 1, 0, 5 },
	  { 2, NR, 1, 0, 9 } }, 2, -1 },
	{ "every one held: none", { { 1, AV, 1, 1, 5 }, { 2, AV, 1, 2, 9 } },
	  2, -1 },
};

START_TEST(test_pick)
{
	ck_assert_msg(taskq_pick(picks[_i].c, picks[_i].n) == picks[_i].pick,
	    "%s: %d, expected %d", picks[_i].what,
	    taskq_pick(picks[_i].c, picks[_i].n), picks[_i].pick);
}
END_TEST

START_TEST(test_queue)
{
	ck_assert(taskq_admit(0, 2));
	ck_assert(taskq_admit(1, 2));
	ck_assert(!taskq_admit(2, 2));
	ck_assert(!taskq_admit(0, 0));		/* no queue at all */
	ck_assert(!taskq_admit(-1, 2));
	ck_assert(!taskq_expired(1000, 2999, 2));
	ck_assert(taskq_expired(1000, 3000, 2));
	ck_assert(taskq_expired(1000, 9000, 2));
	ck_assert(!taskq_expired(5000, 1000, 2));	/* not before it */
}
END_TEST

#define SEEN(c)		(1u << (c))
static const struct {
	const char	*what;
	int		 state;
	unsigned int	 seen;
	uint32_t	 code;
	enum taskq_act	 act;
	int		 next;
} events[] = {
	{ "offer of a routed task", TQ_ROUTED, 0, TASK_EV_OFFER, TQA_OFFER,
	  TQ_OFFERED },
	{ "start after the offer", TQ_OFFERED, SEEN(TASK_EV_OFFER),
	  TASK_EV_START, TQA_START, TQ_STARTED },
	{ "start without an offer", TQ_ROUTED, 0, TASK_EV_START, TQA_START,
	  TQ_STARTED },
	{ "end of a started task", TQ_STARTED, SEEN(TASK_EV_START),
	  TASK_EV_END, TQA_END, TQ_ENDED },
	{ "end of a task never started", TQ_ROUTED, 0, TASK_EV_END, TQA_END,
	  TQ_ENDED },
	{ "the offer again: a duplicate", TQ_OFFERED, SEEN(TASK_EV_OFFER),
	  TASK_EV_OFFER, TQA_DUPLICATE, TQ_OFFERED },
	{ "the start again (cached, resent)", TQ_STARTED,
	  SEEN(TASK_EV_OFFER) | SEEN(TASK_EV_START), TASK_EV_START,
	  TQA_DUPLICATE, TQ_STARTED },
	{ "anything after the end", TQ_ENDED, SEEN(TASK_EV_END),
	  TASK_EV_END, TQA_DUPLICATE, TQ_ENDED },
	{ "an offer after the start: late", TQ_STARTED, SEEN(TASK_EV_START),
	  TASK_EV_OFFER, TQA_LATE, TQ_STARTED },
	{ "the application's offer", TQ_ROUTED, 0, TASK_EV_APP_OFFER,
	  TQA_OFFER, TQ_OFFERED },
	{ "the application's start", TQ_OFFERED, SEEN(TASK_EV_APP_OFFER),
	  TASK_EV_APP_START, TQA_START, TQ_STARTED },
	{ "code 0", TQ_ROUTED, 0, 0, TQA_BAD, TQ_ROUTED },
	{ "code past the last", TQ_ROUTED, 0, TASK_EV_MAX, TQA_BAD,
	  TQ_ROUTED },
	{ "a path down: no step of a task", TQ_ROUTED, 0, TASK_EV_PATH_DOWN,
	  TQA_BAD, TQ_ROUTED },
	{ "a path back: no step of a task", TQ_OFFERED,
	  SEEN(TASK_EV_OFFER), TASK_EV_PATH_UP, TQA_BAD, TQ_OFFERED },
};

START_TEST(test_event)
{
	int		next = -1;
	enum taskq_act	act;

	act = taskq_event(events[_i].state, events[_i].seen, events[_i].code,
	    &next);
	ck_assert_msg(act == events[_i].act && next == events[_i].next,
	    "%s: %s to %s, expected %s to %s", events[_i].what,
	    taskq_act_names[act], taskq_state_names[next],
	    taskq_act_names[events[_i].act],
	    taskq_state_names[events[_i].next]);
}
END_TEST

static const struct {
	const char	*what;
	uint32_t	 flags;
	int		 timed_out;
	struct taskq_end e;
} ends[] = {
	{ "routed, handled", 0, 0, { 0, 25, 13, 1 } },
	{ "routed, not started in time (RONA)", 0, 1, { 0, 25, 19, 2 } },
	{ "routed, resent and cached", TASKF_RESEND | TASKF_CACHED, 0,
	  { 0, 25, 13, 1 } },
	{ "the application's", TASKF_APP_ROUTED, 0, { 0, 26, 13, 1 } },
	{ "the application's while down, ended after", TASKF_APP_ROUTED |
	  TASKF_ROUTING_DOWN, 0, { 0, 26, 13, 1 } },
	{ "the application's while down, ended down", TASKF_APP_ROUTED |
	  TASKF_ROUTING_DOWN | TASKF_ENDED_DOWN, 0, { 1, 26, 13, 1 } },
	{ "ended down without the application's flag", TASKF_ROUTING_DOWN |
	  TASKF_ENDED_DOWN, 0, { 0, 25, 13, 1 } },
	{ "its task life ran out, path down (R18)", TASKF_PATH_DOWN, 0,
	  { 0, 25, 42, 4 } },
	{ "the application's, its task life ran out", TASKF_APP_ROUTED |
	  TASKF_ROUTING_DOWN | TASKF_PATH_DOWN, 0, { 0, 26, 42, 4 } },
	{ "its report resumed, ended (R20)", TASKF_RESUMED, 0,
	  { 0, 25, 13, 1 } },
	{ "began and ended with the ARM session down (R21)", TASKF_CTI_DOWN,
	  0, { 1, 25, 13, 1 } },
	{ "R21, the application's", TASKF_CTI_DOWN | TASKF_APP_ROUTED, 0,
	  { 1, 26, 13, 1 } },
};

START_TEST(test_end)
{
	struct taskq_end	e;

	taskq_end(ends[_i].flags, ends[_i].timed_out, &e);
	ck_assert_msg(memcmp(&e, &ends[_i].e, sizeof(e)) == 0, "%s: left out "
	    "%d, call type %d, disposition %d, flag %d", ends[_i].what,
	    e.left_out, e.call_type, e.disposition, e.disposition_flag);
}
END_TEST

START_TEST(test_left_out_rule)
{
	/* Before the router started (R17), then an R12 and an R17 outage. */
	struct taskq_down d[] = {
		{ 0, 100, RULE_R17 }, { 200, 300, RULE_R12 },
		{ 400, 0, RULE_R17 }
	};

	ck_assert_int_eq(taskq_left_out_rule(d, 3, 50, 1), RULE_R17);
	ck_assert_int_eq(taskq_left_out_rule(d, 3, 100.5, 1), RULE_R17);
	ck_assert_int_eq(taskq_left_out_rule(d, 3, 150, 1), RULE_R15);
	ck_assert_int_eq(taskq_left_out_rule(d, 3, 250, 1), RULE_R15);
	ck_assert_int_eq(taskq_left_out_rule(d, 3, 399.5, 1), RULE_R17);
	ck_assert_int_eq(taskq_left_out_rule(d, 3, 9999, 1), RULE_R17);
	ck_assert_int_eq(taskq_left_out_rule(d + 1, 1, 250, 1), RULE_R15);
	ck_assert_int_eq(taskq_left_out_rule(NULL, 0, 250, 1), RULE_R15);
	/* An R12 outage just after the router's start: R15 in it. */
	d[1].from = 100.2;
	ck_assert_int_eq(taskq_left_out_rule(d, 3, 100.1, 1), RULE_R17);
	ck_assert_int_eq(taskq_left_out_rule(d, 3, 100.5, 1), RULE_R15);
	d[1].to = 0;
	ck_assert_int_eq(taskq_left_out_rule(d, 2, 101, 1), RULE_R15);
}
END_TEST

static Suite *
taskq_suite(void)
{
	Suite	*s = suite_create("taskq");
	TCase	*tc;

	tc = tcase_create("pick");
	tcase_add_loop_test(tc, test_pick, 0,
	    (int)(sizeof(picks) / sizeof(picks[0])));
	tcase_add_test(tc, test_queue);
	suite_add_tcase(s, tc);
	tc = tcase_create("life");
	tcase_add_loop_test(tc, test_event, 0,
	    (int)(sizeof(events) / sizeof(events[0])));
	tcase_add_loop_test(tc, test_end, 0,
	    (int)(sizeof(ends) / sizeof(ends[0])));
	tcase_add_test(tc, test_left_out_rule);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(taskq_suite(), CK_NORMAL);
}
