/*
 * Arbitration, as pure functions: which side of a duplex peripheral holds
 * its PIM, and what the router does next.  The router describes each
 * peripheral (its two sides as it hears them, who is active, who the ACD
 * accepted) in a struct arb and applies the decisions it gets back, one at
 * a time, until there is none: losing a side, re-settling after its own
 * stall, dropping a grant nobody took up, granting.  Nothing here does I/O;
 * tests/check_arb.c checks every row.
 *
 *   active side's link gone ---------- late? --yes--> RESETTLE
 *          |                                  `-no--> LOSE (PEER_LOST)
 *   active side resigned ------------------------------> LOSE (RESIGNED)
 *   active side's PIM idle, or another epoch ---------> LOSE (PEER_IDLE)
 *   (LOSE of a side the ACD never accepted is a DROP: it held nothing)
 *   nobody active, settled, not in grace:
 *          the holder is gone, or back idle ----------> LOSE (orphan)
 *          a live side holds the ACD, older epoch ----> GRANT (regrant)
 *          the standing candidate waiting longest ----> GRANT
 */
#include "config.h"

#include <string.h>

#include "pgemu.h"
#include "wire.h"

const char *const arb_act_names[ARB_ACT_MAX] = {
	"NONE", "RESETTLE", "LOSE", "DROP", "GRANT"
};

/* A side that lost the PIM: a loss if the ACD had accepted it. */
static void
arb_lose(const struct arb *a, int side, int why, int orphan,
    struct arb_decision *d)
{
	d->act = a->holder == side ? ARB_LOSE : ARB_DROP;
	d->side = side;
	d->why = why;
	d->orphan = orphan;
}

/* The side that holds the PIM no longer does, or never took it. */
static int
arb_judge_active(const struct arb *a, struct arb_decision *d)
{
	const struct arb_side	*s = &a->sides[a->active];

	if (!s->link_up) {
		if (a->late) {
			d->act = ARB_RESETTLE;
			d->side = a->active;
		} else
			arb_lose(a, a->active, GRANT_PEER_LOST, 0, d);
		return 1;
	}
	if (s->granted != 0 || !s->reported)
		return 0;
	if (s->resigning) {
		arb_lose(a, a->active, GRANT_PEER_RESIGNED, 0, d);
		return 1;
	}
	if (s->pim_state == PIM_STATE_IDLE || s->epoch != a->epoch) {
		arb_lose(a, a->active, GRANT_PEER_IDLE, 0, d);
		return 1;
	}
	return 0;
}

/*
 * Nobody active, and the holder the router remembers was not adopted:
 * lost while the router was away, unless it is there holding the PIM
 * with another epoch (the grant below gives it a new one) or its report
 * is on the way.
 */
static int
arb_judge_orphan(const struct arb *a, struct arb_decision *d)
{
	const struct arb_side	*h = &a->sides[a->holder];

	if (h->link_up && !h->reported)
		return -1;
	if (h->link_up) {
		if (h->pim_state != PIM_STATE_IDLE)
			return 0;
		arb_lose(a, a->holder, GRANT_PEER_IDLE, 1, d);
		return 1;
	}
	arb_lose(a, a->holder, GRANT_PEER_LOST, 1, d);
	return 1;
}

/*
 * Who gets the PIM: a live side whose PIM the ACD still obeys with an
 * older epoch first (a new epoch, nothing moves); otherwise the standing
 * candidate that has waited longest.  A side whose link has closed,
 * unread, is no candidate.
 */
static int
arb_pick(const struct arb *a, struct arb_decision *d)
{
	const struct arb_side	*s;
	int			 i, best = -1, holding = -1;

	for (i = 0; i < 2; i++) {
		s = &a->sides[i];
		if (!s->link_up || s->peer_gone || !s->reported ||
		    s->granted != 0 || s->resigning || !s->acd_up)
			continue;
		if (PIM_STATE_HOLDS(s->pim_state)) {
			if (holding == -1 ||
			    s->epoch > a->sides[holding].epoch)
				holding = i;
			continue;
		}
		if (s->pim_state != PIM_STATE_IDLE)
			continue;
		if (best == -1 ||
		    s->candidate_since < a->sides[best].candidate_since)
			best = i;
	}
	if (holding != -1) {
		d->act = ARB_GRANT;
		d->side = holding;
		d->regrant = 1;
		return 1;
	}
	if (best != -1) {
		d->act = ARB_GRANT;
		d->side = best;
		return 1;
	}
	return 0;
}

/* The next thing to do for this peripheral; ARB_NONE when nothing. */
void
arb_decide(const struct arb *a, struct arb_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->act = ARB_NONE;
	d->side = -1;
	if (a->active >= 0) {
		arb_judge_active(a, d);
		return;
	}
	if (!a->settled || a->in_grace)
		return;
	if (a->holder >= 0 && arb_judge_orphan(a, d) != 0)
		return;
	arb_pick(a, d);
}

/*
 * A side that reports it holds the PIM while nobody is active (after a
 * restart or a stall) is adopted with its epoch: the highest granted or
 * above (granted by a router that then died), or the holder's own.
 */
int
arb_adopts(const struct arb *a, int side, const struct msg_pg_status *st,
    uint32_t max_epoch, uint32_t holder_epoch)
{
	return a->active < 0 && st->pim_active != PIM_STATE_IDLE &&
	    st->epoch != 0 && st->epoch != UINT32_MAX &&
	    (st->epoch >= max_epoch || (side == a->holder &&
	    st->epoch == holder_epoch));
}

/*
 * Before it settles, the router waits for a side it is told is there:
 * one its peer says holds the PIM, or the holder it remembers, unless
 * the holder's peer has reported and says (from the private link) that
 * the holder is gone.  The side waited for, or -1.
 */
int
arb_waiting_for(const struct arb *a)
{
	const struct arb_side	*s, *o;
	int			 i;

	for (i = 0; i < 2; i++) {
		s = &a->sides[i];
		o = &a->sides[1 - i];
		if (o->reported)
			continue;
		if (s->reported && s->peer_epoch != 0)
			return 1 - i;
		if (a->holder != 1 - i)
			continue;
		if (!s->reported || s->peer_up)
			return 1 - i;
	}
	return -1;
}
