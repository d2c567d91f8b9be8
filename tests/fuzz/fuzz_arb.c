/*
 * libFuzzer harness of the router's arbitration (src/rules/arb.c) as the
 * router applies it: a model of one peripheral of
 * src/roles/router/router.c (router_status_msg, router_decide and
 * router_apply with router_grant, router_lose and router_resettle,
 * router_link_up/down, the settle and grace timers, a restart that keeps
 * what the database keeps), driven by a sequence of events, each an
 * opcode byte and its operands:
 *
 *   0 f           side f&1 reports PG_STATUS, honestly: ACD link (f&2),
 *                 resigning (f&4, then no ACD), peer link (f&8), PIM state
 *                 (f>>4 & 3) with, when not idle, the last epoch granted
 *                 to it or (f&0x40) the one before (the last is on its
 *                 way); the peer's epoch (f&0x80) the other side's last
 *   1 f e e e e   a forged PG_STATUS: flags f as above, epoch e (4 bytes)
 *   2 s, 3 s      side s&1's router link goes (the router decides later,
 *                 as it does once pending input is read), comes back
 *   4 s           side s&1's link has closed, unread (peer_gone)
 *   5 f           the settle timer: the hold time is over (f&1), the
 *                 wait for a side too (f&2); until a restart or resettle
 *   6             the grace after a PIM went idle is over
 *   7 f           the router's loop is late (f&1) or not
 *   8             the router restarts: the epochs and the holder are kept
 *                 (its database), the rest is new, its links are down
 *   9             the router decides (a side's link went: router_decide_cb)
 *
 * Oracles, from arb.c's and router.c's comments:
 *
 *   - the epoch only grows, and only by grants, one at a time: max_epoch
 *     never goes down and changes only by grants of max_epoch + 1, or by
 *     the adoption of a forged report above it (arb_adopts() takes an
 *     epoch at or above the highest from anyone: the gap that issue 14's
 *     authenticated epochs close); an honest report is never adopted
 *     above it;
 *   - never two sides active: one active side at most, and a grant on its
 *     way only to the active side, with the active epoch; unless a forged
 *     report was adopted in the run, the active side's epoch and the
 *     holder's were granted to that side;
 *   - every decision is one the rules allow: GRANT only when nobody is
 *     active, settled, out of grace, to a live candidate (idle, or
 *     holding the PIM for a regrant) and never while an orphaned holder
 *     is not judged; LOSE only of the holder, DROP only of a side that
 *     held nothing, both of the active side (or, orphaned, of the holder
 *     with nobody active), RESETTLE only of the active side whose link
 *     went while the router was late; no failback (an active side that
 *     serves with its epoch is never judged); a standing candidate is
 *     granted when nobody is active and nothing waits;
 *   - the router's loop of decisions ends (NONE) within its four steps;
 *   - arb_waiting_for() names a side that has not reported, or none.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_GRANTS	4096

/* A side as the router sees it (struct rt_side), and what it holds. */
struct side {
	int		 link_up;
	int		 peer_gone;
	int		 reported;
	struct msg_pg_status st;
	uint64_t	 candidate_since;
	uint32_t	 granted;
	uint32_t	 got[2];	/* the side: its last two grants */
};

/* One peripheral at the router (struct rt_periph). */
struct rt {
	struct side	 sides[2];
	int		 active;
	uint32_t	 epoch;
	uint32_t	 max_epoch;
	int		 holder;	/* index, -1 */
	uint32_t	 holder_epoch;
	int		 settled;
	int		 in_grace;
	int		 late;
	int		 hold_over;	/* the hold time is over */
	int		 limit_over;	/* and the wait for a side */
	uint64_t	 now;
	/* The harness's own records. */
	int		 forged;	/* a forged report was adopted */
	uint32_t	 raised_to;	/* by one, in the event under way */
	uint32_t	 grant_epoch[MAX_GRANTS];
	int		 grant_side[MAX_GRANTS];
	int		 ngrants;
	int		 grants_now;	/* in the event under way */
};

/* The input, read an operand at a time; 0 when it has run out. */
struct input {
	const uint8_t	*p;
	size_t		 n;
};

static int
next(struct input *in, uint8_t *b)
{
	if (in->n == 0)
		return 0;
	*b = *in->p++;
	in->n--;
	return 1;
}

static __dead void
fail(const char *what, const struct rt *r)
{
	fprintf(stderr, "fuzz_arb: %s (active %d epoch %u, max %u, holder %d "
	    "epoch %u, settled %d, grace %d, late %d)\n", what, r->active,
	    r->epoch, r->max_epoch, r->holder, r->holder_epoch, r->settled,
	    r->in_grace, r->late);
	abort();
}

/* Was this epoch granted to this side (by the router, ever)? */
static int
granted_to(const struct rt *r, uint32_t epoch, int side)
{
	int	i;

	for (i = r->ngrants - 1; i >= 0; i--)
		if (r->grant_epoch[i] == epoch)
			return r->grant_side[i] == side;
	return 0;
}

/* router_arb(): the router's view for the pure arbitration. */
static void
view(const struct rt *r, struct arb *a)
{
	int	i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < 2; i++) {
		const struct side	*s = &r->sides[i];
		struct arb_side		*as = &a->sides[i];

		as->link_up = s->link_up;
		as->peer_gone = s->link_up && s->peer_gone;
		as->reported = s->reported;
		as->granted = s->granted;
		as->acd_up = s->st.acd_up;
		as->resigning = s->st.resigning;
		as->pim_state = s->st.pim_active;
		as->epoch = s->st.epoch;
		as->peer_epoch = s->st.peer_epoch;
		as->peer_up = s->st.peer_up;
		as->candidate_since = s->candidate_since;
	}
	a->holder = r->holder;
	a->active = r->active;
	a->epoch = r->epoch;
	a->settled = r->settled;
	a->in_grace = r->in_grace;
}

/* A side the arbitration may grant: live, heard, free to take it. */
static int
candidate(const struct arb_side *s)
{
	return s->link_up && !s->peer_gone && s->reported &&
	    s->granted == 0 && !s->resigning && s->acd_up &&
	    s->pim_state != PIM_STATE_ACTIVATING;
}

/* The decision against the rules, in the view it was taken in. */
static void
check_decision(const struct rt *r, const struct arb *a,
    const struct arb_decision *d)
{
	const struct arb_side	*s = d->side >= 0 && d->side < 2 ?
	    &a->sides[d->side] : NULL;
	const struct arb_side	*act = a->active >= 0 ?
	    &a->sides[a->active] : NULL;
	int			 i, any = 0;

	if (d->act >= ARB_ACT_MAX || (d->act == ARB_NONE) != (s == NULL))
		fail("a decision without its side, or a side without one", r);
	if (a->active < 0 && (!a->settled || a->in_grace) &&
	    d->act != ARB_NONE)
		fail("a decision before settling or in grace", r);
	/* No failback: an active side that serves is left alone. */
	if (act != NULL && act->link_up && act->reported &&
	    act->granted == 0 && !act->resigning &&
	    PIM_STATE_HOLDS(act->pim_state) && act->epoch == a->epoch &&
	    d->act != ARB_NONE)
		fail("the active side, serving, judged", r);
	switch (d->act) {
	case ARB_NONE:
		/* A standing candidate, nobody active, nothing to wait for. */
		if (a->active >= 0 || !a->settled || a->in_grace ||
		    a->holder >= 0)
			break;
		for (i = 0; i < 2; i++)
			any |= candidate(&a->sides[i]);
		if (any && r->max_epoch != UINT32_MAX)
			fail("a standing candidate not granted", r);
		break;
	case ARB_GRANT:
		if (a->active >= 0 || !a->settled || a->in_grace)
			fail("a grant while a side is active or unsettled", r);
		if (!candidate(s))
			fail("a grant to a side that is no candidate", r);
		if (d->regrant != PIM_STATE_HOLDS(s->pim_state))
			fail("a regrant to a side that holds nothing, or a "
			    "grant to one that holds", r);
		if (a->holder >= 0 && (!a->sides[a->holder].link_up ||
		    !a->sides[a->holder].reported ||
		    a->sides[a->holder].pim_state == PIM_STATE_IDLE))
			fail("a grant before the orphaned holder is judged", r);
		break;
	case ARB_LOSE:
	case ARB_DROP:
		if ((d->act == ARB_LOSE) != (d->side == a->holder))
			fail("a LOSE of a side that held nothing, or a DROP "
			    "of the holder", r);
		if (d->orphan ? a->active >= 0 || d->side != a->holder :
		    d->side != a->active)
			fail("a loss of a side that is not the active one", r);
		if (d->why != GRANT_PEER_LOST && d->why != GRANT_PEER_IDLE &&
		    d->why != GRANT_PEER_RESIGNED)
			fail("a loss for no reason", r);
		if ((d->why == GRANT_PEER_LOST) != !s->link_up)
			fail("a loss of a live side's link", r);
		break;
	case ARB_RESETTLE:
		if (d->side != a->active || s->link_up || !a->late)
			fail("a resettle of another than the active side "
			    "whose link went while the router was late", r);
		break;
	default:
		fail("an unknown decision", r);
	}
}

/* router_grant(), to a side whose link is up (check_decision()). */
static void
grant(struct rt *r, int side)
{
	struct side	*s = &r->sides[side];

	if (r->max_epoch == UINT32_MAX)
		return;			/* "no activation epoch left" */
	r->max_epoch++;
	r->active = side;
	r->epoch = r->max_epoch;
	s->granted = r->max_epoch;
	s->got[1] = s->got[0];
	s->got[0] = r->max_epoch;
	if (r->ngrants == MAX_GRANTS)
		fail("more grants than the harness keeps", r);
	r->grant_epoch[r->ngrants] = r->max_epoch;
	r->grant_side[r->ngrants++] = side;
	r->grants_now++;
}

/* router_decide(): one step at a time, at most four. */
static void
decide(struct rt *r)
{
	struct arb		a;
	struct arb_decision	d;
	int			n;

	for (n = 0; n < 4; n++) {
		view(r, &a);
		a.late = a.active >= 0 && !a.sides[a.active].link_up &&
		    r->late;
		arb_decide(&a, &d);
		check_decision(r, &a, &d);
		switch (d.act) {
		case ARB_NONE:
			return;
		case ARB_RESETTLE:	/* router_resettle() */
			r->active = -1;
			r->settled = 0;
			r->hold_over = r->limit_over = 0;
			break;
		case ARB_GRANT:
			grant(r, d.side);
			break;
		case ARB_DROP:		/* router_lose(), drop */
			r->active = -1;
			break;
		default:		/* router_lose() */
			if (d.why == GRANT_PEER_IDLE)
				r->in_grace = 1;
			r->holder = -1;
			r->holder_epoch = 0;
			r->active = -1;
			break;
		}
	}
	view(r, &a);
	a.late = a.active >= 0 && !a.sides[a.active].link_up && r->late;
	arb_decide(&a, &d);
	if (d.act != ARB_NONE && !(d.act == ARB_GRANT &&
	    r->max_epoch == UINT32_MAX))
		fail("four decisions and still not done", r);
}

/*
 * router_try_settle(), as a report or the settle timer calls it: the
 * times it waits are over when the timer has said so.
 */
static void
try_settle(struct rt *r)
{
	struct arb	a;
	int		w;

	if (r->settled)
		return;
	if (!r->sides[0].reported || !r->sides[1].reported) {
		if (!r->hold_over)
			return;
		view(r, &a);
		w = arb_waiting_for(&a);
		if (w < -1 || w > 1 || (w != -1 && r->sides[w].reported))
			fail("waiting for a side that reported", r);
		if (w != -1 && !r->limit_over)
			return;
	}
	r->settled = 1;
}

/* router_status_msg(). */
static void
status(struct rt *r, int side, const struct msg_pg_status *st, int forged)
{
	struct side	*s = &r->sides[side];
	struct arb	 a;
	int		 was_candidate = s->reported && s->st.acd_up &&
	    s->st.pim_active == PIM_STATE_IDLE;

	s->st = *st;
	s->reported = 1;
	if (st->acd_up && st->pim_active == PIM_STATE_IDLE && !was_candidate)
		s->candidate_since = r->now;
	if (s->granted != 0 && (st->epoch == s->granted || !st->acd_up))
		s->granted = 0;
	view(r, &a);
	if (arb_adopts(&a, side, st, r->max_epoch, r->holder_epoch)) {
		r->active = side;
		r->epoch = st->epoch;
		r->forged |= forged;
		if (st->epoch > r->max_epoch) {
			if (!forged)
				fail("an honest report adopted above the "
				    "highest grant", r);
			r->raised_to = st->epoch;
			r->max_epoch = st->epoch;
		}
	}
	if (r->active == side && PIM_STATE_HOLDS(st->pim_active) &&
	    st->epoch == r->epoch) {
		r->holder = side;
		r->holder_epoch = st->epoch;
	}
	try_settle(r);
	decide(r);
}

/* A report from the event's flags; 0 if the side cannot send one. */
static int
report(struct rt *r, uint8_t f, struct msg_pg_status *st)
{
	const struct side	*s = &r->sides[f & 1];
	const struct side	*o = &r->sides[!(f & 1)];

	memset(st, 0, sizeof(*st));
	st->peripheral = 5000;
	st->side = (f & 1) ? 'B' : 'A';
	st->resigning = (f & 4) != 0;
	st->acd_up = (f & 2) && !st->resigning;
	st->peer_up = (f & 8) != 0;
	st->pim_active = (f >> 4) & 3;
	st->epoch = s->got[(f & 0x40) != 0];
	if (st->epoch == 0)
		st->pim_active = PIM_STATE_IDLE;	/* never granted */
	if (st->pim_active == PIM_STATE_IDLE)
		st->epoch = 0;
	st->peer_epoch = (f & 0x80) ? o->got[0] : 0;
	return s->link_up;
}

/* The invariants that hold between events. */
static void
check_state(const struct rt *r, uint32_t max_before)
{
	int	i;

	if (r->max_epoch < max_before)
		fail("the epoch went down", r);
	if (r->max_epoch != (r->raised_to != 0 ? r->raised_to : max_before) +
	    (uint32_t)r->grants_now)
		fail("the epoch changed other than by grants", r);
	if (r->active < -1 || r->active > 1 || r->holder < -1 ||
	    r->holder > 1)
		fail("a side out of range", r);
	if (r->active >= 0 && (r->epoch == 0 || r->epoch > r->max_epoch))
		fail("an active epoch never granted", r);
	if (r->holder >= 0 && (r->holder_epoch == 0 ||
	    r->holder_epoch > r->max_epoch))
		fail("a holder's epoch never granted", r);
	for (i = 0; i < 2; i++)
		if (r->sides[i].granted != 0 && (i != r->active ||
		    r->sides[i].granted != r->epoch))
			fail("a grant on its way to a side not active", r);
	if (!r->forged && r->active >= 0 &&
	    !granted_to(r, r->epoch, r->active))
		fail("a side active with an epoch not granted to it", r);
	if (!r->forged && r->holder >= 0 &&
	    !granted_to(r, r->holder_epoch, r->holder))
		fail("a holder with an epoch not granted to it", r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rt	 r;
	struct input		 in = { data, size };
	struct msg_pg_status	 st;
	struct side		*s;
	uint32_t		 max_before;
	uint8_t			 op, b, x;
	int			 i;

	memset(&r, 0, sizeof(r));
	r.active = r.holder = -1;
	r.sides[0].link_up = r.sides[1].link_up = 1;
	while (next(&in, &op)) {
		max_before = r.max_epoch;
		r.raised_to = 0;
		r.grants_now = 0;
		r.now++;
		switch (op % 10) {
		case 0:
			if (!next(&in, &b))
				return 0;
			if (report(&r, b, &st))
				status(&r, b & 1, &st, 0);
			break;
		case 1:
			if (!next(&in, &b))
				return 0;
			report(&r, b, &st);
			st.pim_active = (b >> 4) & 3;
			st.epoch = 0;
			for (i = 0; i < 4; i++) {
				if (!next(&in, &x))
					return 0;
				st.epoch = st.epoch << 8 | x;
			}
			if (r.sides[b & 1].link_up)
				status(&r, b & 1, &st, 1);
			break;
		case 2:		/* router_link_down(): decides later */
		case 3:		/* router_link_up() */
			if (!next(&in, &b))
				return 0;
			s = &r.sides[b & 1];
			if (s->link_up == (op % 10 == 3))
				break;
			s->link_up = op % 10 == 3;
			s->peer_gone = 0;
			s->reported = 0;
			s->granted = 0;
			break;
		case 4:
			if (!next(&in, &b))
				return 0;
			if (r.sides[b & 1].link_up)
				r.sides[b & 1].peer_gone = 1;
			break;
		case 5:		/* router_settle_cb() */
			if (!next(&in, &b))
				return 0;
			r.hold_over |= b & 1;
			r.limit_over |= r.hold_over && (b & 2);
			try_settle(&r);
			decide(&r);
			break;
		case 6:		/* router_grace_cb() */
			r.in_grace = 0;
			decide(&r);
			break;
		case 7:
			if (!next(&in, &b))
				return 0;
			r.late = b & 1;
			break;
		case 8:		/* a new router: router_periph_init() */
			r.active = -1;
			r.epoch = 0;
			r.settled = 0;
			r.hold_over = r.limit_over = 0;
			r.in_grace = 0;
			r.late = 0;
			for (i = 0; i < 2; i++) {
				s = &r.sides[i];
				s->link_up = 0;
				s->peer_gone = 0;
				s->reported = 0;
				s->granted = 0;
				memset(&s->st, 0, sizeof(s->st));
				s->candidate_since = 0;
			}
			break;
		default:	/* router_decide_cb() */
			decide(&r);
			break;
		}
		check_state(&r, max_before);
	}
	return 0;
}
