/*
 * Check tests of the timer queue (src/node/timeq.c): many deadlines
 * behind one libevent timer.  Every slot due fires once, in deadline
 * order and never before its deadline; a deadline set again replaces the
 * one before; a cleared slot does not fire; a callback may set or clear
 * any slot, its own too; the loop ends when no deadline is left.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "pgemu.h"
#include "check_run.h"

#define SLOTS	1000

static struct event_base	*base;
static struct timeq		 q;
static int			 fired[4 * SLOTS], nfired;
static uint64_t			 due[SLOTS], when[4 * SLOTS];
static int			 again[SLOTS];	/* fire this many times more */
static int			 clears = -1;	/* slot 0's callback clears */

static void
record(void *arg, int slot)
{
	(void)arg;
	ck_assert_int_lt(nfired, 4 * SLOTS);
	when[nfired] = mono_us();
	fired[nfired++] = slot;
	ck_assert(!timeq_pending(&q, slot));
	if (slot == 0 && clears >= 0)
		timeq_del(&q, clears);
	if (again[slot] > 0) {
		again[slot]--;
		timeq_add(&q, slot, 2);
		due[slot] = q.at[slot];
	}
}

static void
setup(void)
{
	base = event_base_new();
	timeq_init(&q, base, SLOTS, record, NULL);
	nfired = 0;
	clears = -1;
	memset(again, 0, sizeof(again));
}

static void
teardown(void)
{
	timeq_free(&q);
	event_base_free(base);
}

/*
 * Slot s due in ms: the deadline the queue took from its own clock,
 * remembered for the checks (one read here could be later or earlier by
 * however long this process was not scheduled).
 */
static void
set(int s, int ms)
{
	uint64_t	before = mono_us();

	timeq_add(&q, s, ms);
	ck_assert(timeq_pending(&q, s));
	due[s] = q.at[s];
	ck_assert_uint_ge(due[s], before + (uint64_t)ms * 1000);
	ck_assert_uint_le(due[s], mono_us() + (uint64_t)ms * 1000);
}

/* Until no deadline is left: 1, no event pending (the timer unset). */
static void
run_all(void)
{
	ck_assert_int_eq(event_base_dispatch(base), 1);
	ck_assert_int_eq(q.n, 0);
}

START_TEST(test_order)
{
	set(0, 30);
	set(1, 10);
	set(2, 20);
	set(3, 0);
	run_all();
	ck_assert_int_eq(nfired, 4);
	ck_assert_int_eq(fired[0], 3);
	ck_assert_int_eq(fired[1], 1);
	ck_assert_int_eq(fired[2], 2);
	ck_assert_int_eq(fired[3], 0);
}
END_TEST

START_TEST(test_replace_and_clear)
{
	set(0, 50);
	set(0, 5);		/* replaces: fires once, early */
	set(1, 10);
	set(2, 15);
	timeq_del(&q, 1);
	ck_assert(!timeq_pending(&q, 1));
	timeq_del(&q, 1);	/* twice: nothing */
	run_all();
	ck_assert_int_eq(nfired, 2);
	ck_assert_int_eq(fired[0], 0);
	ck_assert_int_eq(fired[1], 2);
	ck_assert_uint_lt(when[0], due[2]);
}
END_TEST

/* A callback sets its own slot again, and clears another's. */
START_TEST(test_from_callback)
{
	again[0] = 3;
	clears = 5;
	set(0, 1);
	set(5, 100);
	set(6, 200);
	run_all();
	ck_assert_int_eq(nfired, 5);
	ck_assert_int_eq(fired[0], 0);
	ck_assert_int_eq(fired[1], 0);
	ck_assert_int_eq(fired[2], 0);
	ck_assert_int_eq(fired[3], 0);
	ck_assert_int_eq(fired[4], 6);
}
END_TEST

/*
 * Many slots, set, set again and cleared at random: exactly those left
 * set fire, once each, in deadline order, none before its deadline.
 */
START_TEST(test_random)
{
	int	 set_now[SLOTS], i, s, n = 0;
	unsigned int seed = 12345;

	memset(set_now, 0, sizeof(set_now));
	for (i = 0; i < 4 * SLOTS; i++) {
		s = rand_r(&seed) % SLOTS;
		if (rand_r(&seed) % 4 == 0) {
			timeq_del(&q, s);
			set_now[s] = 0;
		} else {
			set(s, rand_r(&seed) % 40);
			set_now[s] = 1;
		}
	}
	for (s = 0; s < SLOTS; s++) {
		ck_assert_int_eq(timeq_pending(&q, s), set_now[s]);
		n += set_now[s];
	}
	run_all();
	ck_assert_int_eq(nfired, n);
	for (i = 0; i < nfired; i++) {
		s = fired[i];
		ck_assert(set_now[s]);
		set_now[s] = 0;			/* once */
		ck_assert_uint_ge(when[i], due[s]);
		if (i > 0)
			ck_assert_uint_le(due[fired[i - 1]], due[s]);
	}
}
END_TEST

static Suite *
timeq_suite(void)
{
	Suite	*s = suite_create("timeq");
	TCase	*tc = tcase_create("timeq");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_replace_and_clear);
	tcase_add_test(tc, test_from_callback);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(timeq_suite(), CK_NORMAL);
}
