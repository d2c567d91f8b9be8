/*
 * Check tests of the duplex rules, the pure functions every PIM and
 * peripheral shares.  Arbitration (src/rules/arb.c), row by row: what the
 * router does next for a peripheral, given how it hears the two sides;
 * when a side is adopted after a restart; whom a restarted router waits
 * for.  Fencing (src/rules/fence.c): whose PIM a peripheral obeys.  The PIM
 * state machine (src/rules/pimfsm.c): every state and event, and the order in
 * which its one entry point acts, changes state and runs entry actions.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "check_run.h"
#include "wire.h"

/* How the router hears a side. */
enum look {
	DOWN,		/* router link down */
	NEW,		/* link up, no PG_STATUS yet */
	CAND,		/* idle, ACD link up: a standing candidate */
	CAND_LATE,	/* the same, waiting since later */
	NOACD,		/* idle, no ACD link */
	GONE,		/* a candidate whose link has closed, unread */
	RESIGN,		/* resigning */
	ACT1, ACT2, ACT3,	/* holds the PIM (ACTIVE) with epoch 1, 2, 3 */
	PEND2,		/* granted epoch 2, its status not seen yet */
	ACTIVATING2,	/* activating with epoch 2 */
	IDLE_NOW	/* idle (it was active) */
};

static struct arb_side
side_of(enum look l)
{
	struct arb_side	s;

	memset(&s, 0, sizeof(s));
	if (l == DOWN)
		return s;
	s.link_up = 1;
	if (l == NEW)
		return s;
	s.reported = 1;
	s.acd_up = 1;
	s.candidate_since = l == CAND_LATE ? 20 : 10;
	switch (l) {
	case NOACD:
		s.acd_up = 0;
		break;
	case GONE:
		s.peer_gone = 1;
		break;
	case RESIGN:
		s.resigning = 1;
		s.pim_state = PIM_STATE_ACTIVE;
		s.epoch = 2;
		break;
	case ACT1: case ACT2: case ACT3:
		s.pim_state = PIM_STATE_ACTIVE;
		s.epoch = (uint32_t)(l - ACT1 + 1);
		break;
	case PEND2:
		s.granted = 2;
		break;
	case ACTIVATING2:
		s.pim_state = PIM_STATE_ACTIVATING;
		s.epoch = 2;
		break;
	default:
		break;
	}
	return s;
}

#define A	0
#define B	1
#define NO	(-1)

static const struct {
	const char	*what;
	enum look	 a, b;
	int		 active;	/* index, NO */
	uint32_t	 epoch;		/* of the active side */
	int		 holder;	/* index, NO */
	int		 settled, in_grace, late;
	enum arb_act	 act;
	int		 side, why, orphan, regrant;
} rows[] = {
	{ "first start: the candidate waiting longest", CAND, CAND_LATE,
	  NO, 0, NO, 1, 0, 0, ARB_GRANT, A, 0, 0, 0 },
	{ "first start: B waited longer", CAND_LATE, CAND,
	  NO, 0, NO, 1, 0, 0, ARB_GRANT, B, 0, 0, 0 },
	{ "not settled: nothing yet", CAND, CAND,
	  NO, 0, NO, 0, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "grace after a PIM went idle: nothing yet", CAND, CAND,
	  NO, 0, NO, 1, 1, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "no candidate without an ACD link", NOACD, NOACD,
	  NO, 0, NO, 1, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "a resigning side is no candidate", RESIGN, CAND,
	  NO, 0, NO, 1, 0, 0, ARB_GRANT, B, 0, 0, 0 },
	{ "a closed link, unread, is no candidate", GONE, CAND_LATE,
	  NO, 0, NO, 1, 0, 0, ARB_GRANT, B, 0, 0, 0 },
	{ "only a closed link: nobody", GONE, DOWN,
	  NO, 0, NO, 1, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "a side not heard yet is no candidate", NEW, DOWN,
	  NO, 0, NO, 1, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "an activating side is no candidate", ACTIVATING2, DOWN,
	  NO, 0, NO, 1, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "active side killed: lost", DOWN, CAND,
	  A, 1, A, 1, 0, 0, ARB_LOSE, A, GRANT_PEER_LOST, 0, 0 },
	{ "active side's link lost while the router was late", DOWN, CAND,
	  A, 1, A, 1, 0, 1, ARB_RESETTLE, A, 0, 0, 0 },
	{ "granted side gone before the ACD took it: nothing lost", CAND,
	  DOWN, B, 2, NO, 1, 0, 0, ARB_DROP, B, GRANT_PEER_LOST, 0, 0 },
	{ "active side resigned", CAND, RESIGN,
	  B, 2, B, 1, 0, 0, ARB_LOSE, B, GRANT_PEER_RESIGNED, 0, 0 },
	{ "active side's PIM went idle", IDLE_NOW, CAND,
	  A, 1, A, 1, 0, 0, ARB_LOSE, A, GRANT_PEER_IDLE, 0, 0 },
	{ "active side reports another epoch", ACT1, CAND,
	  A, 3, A, 1, 0, 0, ARB_LOSE, A, GRANT_PEER_IDLE, 0, 0 },
	{ "granted side's status not seen yet: wait", PEND2, CAND,
	  A, 2, NO, 1, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "granted side refused by the ACD: dropped", IDLE_NOW, CAND,
	  A, 2, NO, 1, 0, 0, ARB_DROP, A, GRANT_PEER_IDLE, 0, 0 },
	{ "active side serves: nothing", ACT2, CAND,
	  A, 2, A, 1, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "active side adopted, not reported: nothing", NEW, CAND,
	  A, 2, A, 1, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "holder gone while the router was away", DOWN, CAND,
	  NO, 0, A, 1, 0, 0, ARB_LOSE, A, GRANT_PEER_LOST, 1, 0 },
	{ "holder back idle: lost its PIM while the router was away",
	  IDLE_NOW, CAND, NO, 0, A, 1, 0, 0, ARB_LOSE, A, GRANT_PEER_IDLE, 1,
	  0 },
	{ "holder's link up, its report on the way: wait", NEW, CAND,
	  NO, 0, A, 1, 0, 0, ARB_NONE, NO, 0, 0, 0 },
	{ "holder there with an older epoch: a new epoch for it", ACT1,
	  CAND, NO, 0, A, 1, 0, 0, ARB_GRANT, A, 0, 0, 1 },
	{ "a side holding the ACD comes before a candidate", CAND, ACT1,
	  NO, 0, NO, 1, 0, 0, ARB_GRANT, B, 0, 0, 1 },
	{ "two holding: the newer epoch", ACT2, ACT3,
	  NO, 0, NO, 1, 0, 0, ARB_GRANT, B, 0, 0, 1 },
	{ "holder gone, not settled: nothing yet", DOWN, CAND,
	  NO, 0, A, 0, 0, 0, ARB_NONE, NO, 0, 0, 0 },
};

START_TEST(test_decide_row)
{
	struct arb		a;
	struct arb_decision	d;

	memset(&a, 0, sizeof(a));
	a.sides[A] = side_of(rows[_i].a);
	a.sides[B] = side_of(rows[_i].b);
	a.active = rows[_i].active;
	a.epoch = rows[_i].epoch;
	a.holder = rows[_i].holder;
	a.settled = rows[_i].settled;
	a.in_grace = rows[_i].in_grace;
	a.late = rows[_i].late;
	arb_decide(&a, &d);
	ck_assert_msg(d.act == rows[_i].act, "%s: %s, expected %s",
	    rows[_i].what, arb_act_names[d.act], arb_act_names[rows[_i].act]);
	ck_assert_msg(d.side == rows[_i].side, "%s: side %d, expected %d",
	    rows[_i].what, d.side, rows[_i].side);
	ck_assert_msg(d.why == rows[_i].why && d.orphan == rows[_i].orphan &&
	    d.regrant == rows[_i].regrant, "%s: why %d orphan %d regrant %d",
	    rows[_i].what, d.why, d.orphan, d.regrant);
}
END_TEST

START_TEST(test_adopts)
{
	struct arb		a;
	struct msg_pg_status	st;

	memset(&a, 0, sizeof(a));
	memset(&st, 0, sizeof(st));
	a.active = NO;
	a.holder = A;
	st.pim_active = PIM_STATE_ACTIVE;
	st.epoch = 7;
	ck_assert_int_eq(arb_adopts(&a, B, &st, 7, 5), 1);	/* the highest */
	ck_assert_int_eq(arb_adopts(&a, B, &st, 6, 5), 1);	/* above it */
	ck_assert_int_eq(arb_adopts(&a, B, &st, 8, 5), 0);	/* older */
	st.epoch = 5;
	ck_assert_int_eq(arb_adopts(&a, A, &st, 8, 5), 1);	/* the holder's */
	ck_assert_int_eq(arb_adopts(&a, B, &st, 8, 5), 0);	/* not B's */
	st.pim_active = PIM_STATE_ACTIVATING;
	ck_assert_int_eq(arb_adopts(&a, A, &st, 8, 5), 1);
	st.pim_active = PIM_STATE_IDLE;
	ck_assert_int_eq(arb_adopts(&a, A, &st, 8, 5), 0);	/* holds nothing */
	st.pim_active = PIM_STATE_ACTIVE;
	st.epoch = 0;
	ck_assert_int_eq(arb_adopts(&a, A, &st, 0, 0), 0);
	st.epoch = UINT32_MAX;
	ck_assert_int_eq(arb_adopts(&a, A, &st, 3, 5), 0);	/* implausible */
	st.epoch = 9;
	a.active = B;
	ck_assert_int_eq(arb_adopts(&a, A, &st, 3, 5), 0);	/* B is active */
}
END_TEST

START_TEST(test_waiting_for)
{
	struct arb	a;

	memset(&a, 0, sizeof(a));
	a.active = NO;
	a.holder = NO;
	ck_assert_int_eq(arb_waiting_for(&a), -1);	/* nothing to wait for */
	a.holder = A;
	ck_assert_int_eq(arb_waiting_for(&a), A);	/* nobody reported */
	a.sides[B] = side_of(CAND);
	a.sides[B].peer_up = 1;
	ck_assert_int_eq(arb_waiting_for(&a), A);	/* B: A is alive */
	a.sides[B].peer_up = 0;
	ck_assert_int_eq(arb_waiting_for(&a), -1);	/* B: A is gone */
	a.holder = NO;
	a.sides[B].peer_epoch = 4;
	ck_assert_int_eq(arb_waiting_for(&a), A);	/* B: A holds epoch 4 */
	a.sides[A] = side_of(ACT2);
	ck_assert_int_eq(arb_waiting_for(&a), -1);	/* both reported */
	a.sides[A] = side_of(NEW);
	a.sides[B] = side_of(DOWN);
	a.holder = B;
	ck_assert_int_eq(arb_waiting_for(&a), B);	/* A not reported yet */
}
END_TEST

/* Fencing: whose PIM a peripheral obeys. */
START_TEST(test_fence)
{
	struct fence	f;
	char		why[160];

	memset(&f, 0, sizeof(f));
	f.peripheral = 5000;
	ck_assert_int_eq(fence_judge(&f, 5001, 1, "pg-a", why, sizeof(why)),
	    FENCE_FOREIGN);
	ck_assert_str_eq(why, "peripheral 5001 is not 5000");
	ck_assert_int_eq(fence_judge(&f, 5000, 0, "pg-a", why, sizeof(why)),
	    FENCE_STALE);			/* epoch 0 is never granted */
	ck_assert_int_eq(fence_judge(&f, 5000, 2000, "pg-a", why,
	    sizeof(why)), FENCE_ACCEPT);	/* the first, whatever it is */
	fence_accept(&f, 3, "pg-a");
	ck_assert_int_eq(fence_judge(&f, 5000, 3, "pg-a", why, sizeof(why)),
	    FENCE_ACCEPT);			/* the holder again */
	ck_assert_int_eq(fence_judge(&f, 5000, 3, "pg-b", why, sizeof(why)),
	    FENCE_STALE);			/* the same from another */
	ck_assert_str_eq(why, "stale epoch 3, current 3 (held by pg-a)");
	ck_assert_int_eq(fence_judge(&f, 5000, 2, "pg-a", why, sizeof(why)),
	    FENCE_STALE);			/* older */
	ck_assert_int_eq(fence_judge(&f, 5000, 4, "pg-b", why, sizeof(why)),
	    FENCE_ACCEPT);			/* newer fences pg-a */
	ck_assert_int_eq(fence_judge(&f, 5000, 3 + FENCE_MAX_JUMP, "pg-b",
	    why, sizeof(why)), FENCE_ACCEPT);
	ck_assert_int_eq(fence_judge(&f, 5000, 4 + FENCE_MAX_JUMP, "pg-b",
	    why, sizeof(why)), FENCE_IMPLAUSIBLE);
	ck_assert_str_eq(why, "epoch 1004 is implausible: current 3");
}
END_TEST

/* The PIM state machine: every state x event, as the table must say. */
#define I	PIM_STATE_IDLE
#define G	PIM_STATE_ACTIVATING
#define V	PIM_STATE_ACTIVE
#define R	PIM_STATE_RECOVERING
static const struct {
	int		 state;
	enum pim_event	 ev;
	enum pim_action	 act;
	int		 next;
} fsm[] = {
	{ I, PEV_GRANT, PACT_ACTIVATE, G },
	{ G, PEV_GRANT, PACT_ACTIVATE, G },	/* a newer epoch */
	{ V, PEV_GRANT, PACT_ACTIVATE, G },	/* a re-grant */
	{ R, PEV_GRANT, PACT_ACTIVATE, G },
	{ I, PEV_ACCEPTED, PACT_IGNORE, I },
	{ G, PEV_ACCEPTED, PACT_SERVE, V },
	{ V, PEV_ACCEPTED, PACT_IGNORE, V },
	{ R, PEV_ACCEPTED, PACT_IGNORE, R },
	{ I, PEV_REFUSED, PACT_IGNORE, I },
	{ G, PEV_REFUSED, PACT_LOSE, I },
	{ V, PEV_REFUSED, PACT_LOSE, I },	/* fenced */
	{ R, PEV_REFUSED, PACT_LOSE, I },
	{ I, PEV_LINK_LOST, PACT_IGNORE, I },
	{ G, PEV_LINK_LOST, PACT_LOSE, I },
	{ V, PEV_LINK_LOST, PACT_LOSE, I },
	{ R, PEV_LINK_LOST, PACT_LOSE, I },
	{ I, PEV_ENDPOINT_STOPPED, PACT_IGNORE, I },
	{ G, PEV_ENDPOINT_STOPPED, PACT_LOSE, I },
	{ V, PEV_ENDPOINT_STOPPED, PACT_RECOVER, R },
	{ R, PEV_ENDPOINT_STOPPED, PACT_LOSE, I },
	{ I, PEV_LINK_BACK, PACT_IGNORE, I },
	{ G, PEV_LINK_BACK, PACT_IGNORE, G },
	{ V, PEV_LINK_BACK, PACT_IGNORE, V },
	{ R, PEV_LINK_BACK, PACT_RECONNECT, G },
};

/* What the fake peripheral saw, in order. */
static char	fsm_trace[256];

static void
fake_act(void *arg, enum pim_action act, const char *why)
{
	const struct pim_fsm *f = arg;
	size_t	o = strlen(fsm_trace);

	snprintf(fsm_trace + o, sizeof(fsm_trace) - o, "act %s in %s (%s); ",
	    pim_action_names[act], pim_state_names[f->state], why);
}

static void
fake_entered(void *arg, int prev, int next, const char *why)
{
	const struct pim_fsm *f = arg;
	size_t	o = strlen(fsm_trace);

	(void)why;
	snprintf(fsm_trace + o, sizeof(fsm_trace) - o, "entered %s from %s, "
	    "now %s", pim_state_names[next], pim_state_names[prev],
	    pim_state_names[f->state]);
}

static const struct pim_fsm_ops fake_ops = { fake_act, fake_entered };

START_TEST(test_fsm_cell)
{
	struct pim_fsm		 f = { fsm[_i].state, 5000, &fake_ops, NULL };
	const struct pim_fsm_row *row = pim_fsm_lookup(fsm[_i].state,
	    fsm[_i].ev);
	char			 want[256];

	f.arg = &f;
	fsm_trace[0] = '\0';
	ck_assert_msg(fsm[_i].act == PACT_IGNORE ? row == NULL : row != NULL &&
	    row->act == fsm[_i].act && row->next == fsm[_i].next,
	    "%s on %s: %s -> %s", pim_event_names[fsm[_i].ev],
	    pim_state_names[fsm[_i].state], row ? pim_action_names[row->act] :
	    "no row", row ? pim_state_names[row->next] : "-");
	ck_assert_int_eq(pim_fsm_event(&f, fsm[_i].ev, "why"), fsm[_i].act);
	ck_assert_int_eq(f.state, fsm[_i].next);
	if (fsm[_i].act == PACT_IGNORE)
		snprintf(want, sizeof(want), "%s", "");
	else
		snprintf(want, sizeof(want), "act %s in %s (why); entered %s "
		    "from %s, now %s", pim_action_names[fsm[_i].act],
		    pim_state_names[fsm[_i].state],
		    pim_state_names[fsm[_i].next],
		    pim_state_names[fsm[_i].state],
		    pim_state_names[fsm[_i].next]);
	ck_assert_str_eq(fsm_trace, want);
}
END_TEST

/* Every row of the table is reached by some cell above. */
START_TEST(test_fsm_rows_used)
{
	size_t	i, j, n = sizeof(fsm) / sizeof(fsm[0]);

	for (i = 0; i < pim_fsm_nrows; i++) {
		int used = 0;

		for (j = 0; j < n && !used; j++)
			used = pim_fsm_lookup(fsm[j].state, fsm[j].ev) ==
			    &pim_fsm_rows[i];
		ck_assert_msg(used, "row %zu (%s) is never reached", i,
		    pim_event_names[pim_fsm_rows[i].ev]);
	}
	ck_assert_int_eq(n, PIM_STATE_MAX * PEV_MAX);
	ck_assert_ptr_null(pim_fsm_lookup(PIM_STATE_MAX, PEV_GRANT));
}
END_TEST

static Suite *
duplex_suite(void)
{
	Suite	*s = suite_create("duplex");
	TCase	*tc;

	tc = tcase_create("decide");
	tcase_add_loop_test(tc, test_decide_row, 0,
	    (int)(sizeof(rows) / sizeof(rows[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("restart");
	tcase_add_test(tc, test_adopts);
	tcase_add_test(tc, test_waiting_for);
	suite_add_tcase(s, tc);
	tc = tcase_create("fence");
	tcase_add_test(tc, test_fence);
	suite_add_tcase(s, tc);
	tc = tcase_create("pim_fsm");
	tcase_add_loop_test(tc, test_fsm_cell, 0,
	    (int)(sizeof(fsm) / sizeof(fsm[0])));
	tcase_add_test(tc, test_fsm_rows_used);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(duplex_suite(), CK_NORMAL);
}
