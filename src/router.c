/*
 * The router node: the central controller.  CallRouter (which PG side is
 * active, the real-time table of the peripheral and its agents) and Logger
 * (the history database).
 *
 * Which side is active.  The router grants the PIM of a peripheral to one
 * side at a time, with an activation epoch that only grows (kept in the
 * database across restarts).  Every idle side whose PIM reaches the ACD is
 * a standing candidate.  The router grants when nobody holds the PIM: at
 * start (once both sides have spoken or the router hold time has passed,
 * so a restarted router adopts the side that is still active), when the
 * active side's router link goes (closed: at once; missed heartbeats: once
 * it has timed out here too), when the active side reports that its PIM
 * went idle, or when it resigns.  It never takes the PIM from a side that
 * holds it: no failback.  The ACD fences any older epoch.
 *
 * The holder.  The side whose PIM the ACD accepted (it reported ACTIVE
 * with the current epoch) is the holder, kept in the database with its
 * epoch, and so are the agents' open login sessions.  A router that was
 * away (restarted, or its loop stalled past the sides' hold time) waits
 * for the sides to report before it judges anyone: the holder is adopted
 * if it still holds the PIM, re-granted a new epoch if it holds it with an
 * older one, and otherwise lost as if the router had seen it go (R5, R1,
 * R2, R6, R7, then R8 on the other side).  A side that was granted but
 * never held the PIM lost nothing when it goes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"

struct rt_agent {
	uint32_t	 id;
	int		 state;
	int		 before_call;
	double		 since;		/* wall clock */
	double		 login;		/* 0: logged out */
	int32_t		 reason;
};

struct rt_side {
	struct link	*link;
	char		 side;
	int		 reported;	/* a PG_STATUS since the link came up */
	struct msg_pg_status st;
	uint64_t	 candidate_since;
	uint32_t	 granted;	/* grant sent, its status not seen yet */
	char		 grant_text[128];
};

struct router {
	struct node	*node;
	struct db	*db;
	struct rt_side	 sides[2];
	int		 active;	/* index into sides, or -1 */
	uint32_t	 epoch;		/* of the active side */
	uint32_t	 max_epoch;
	char		 holder;	/* side the ACD accepted, 0: none */
	uint32_t	 holder_epoch;
	double		 holder_since;	/* wall clock */
	int		 last_loss;	/* GRANT_* of the next grant */
	int		 aftermath;	/* GRANT_* of a loss not applied yet */
	char		 aftermath_side;
	int		 aftermath_rows;
	double		 aftermath_since;
	char		 last_loss_text[160];
	int		 online;
	double		 online_since, offline_since;
	char		 offline_reason[160];
	struct rt_agent	*agents;
	int		 nagents;
	int		 settled;
	char		 waiting;	/* for this side before settling */
	uint64_t	 started_ms;
	struct event	*ev_settle;
	int		 in_grace;	/* wait before granting: see below */
	struct event	*ev_grace;
	struct event	*ev_tick;	/* the loop's own pulse */
	struct event	*ev_decide;	/* decide once pending input is read */
	uint64_t	 last_tick_ms;
	uint64_t	 late_until_ms;	/* a stall ended: links not judged */
	uint64_t	 stale_refused, rows_stored, rows_duplicate;
	uint64_t	 grants, discards, stalls, grants_unused, regrants;
	uint64_t	 records_refused, rows_refused;	/* lost: R1 */
	uint64_t	 records_not_stored;	/* the side sends them again */
};

/*
 * When the active side's PIM goes idle, the ACD may have died: the other
 * side is about to lose its ACD link too, and its last status is stale.
 * Wait this long for its news before granting.
 */
#define ROUTER_IDLE_GRACE_MS	100
/*
 * The loop's pulse.  A gap between two pulses longer than this plus half
 * the router hold time means the router itself was stopped or blocked:
 * its peers' silence in that time was its own.
 */
#define ROUTER_TICK_MS		100

static void	router_decide(struct router *);

static struct rt_side *
router_side(struct router *r, const struct link *l)
{
	int	i;

	for (i = 0; i < 2; i++)
		if (r->sides[i].link == l)
			return &r->sides[i];
	return NULL;
}

static struct rt_agent *
router_agent(struct router *r, uint32_t id)
{
	return bsearch(&id, r->agents, (size_t)r->nagents, sizeof(*r->agents),
	    cmp_u32_key);
}

static int
router_logged_in(const struct router *r)
{
	int	i, n = 0;

	for (i = 0; i < r->nagents; i++)
		n += r->agents[i].login > 0;
	return n;
}

static uint64_t
router_hold_ms(const struct router *r)
{
	return (uint64_t)r->node->cfg->hb_router.interval_ms *
	    (uint64_t)r->node->cfg->hb_router.misses;
}

/* The side the ACD accepted, with its epoch; kept across restarts. */
static void
router_set_holder(struct router *r, char side, uint32_t epoch)
{
	if (r->holder == side && r->holder_epoch == epoch)
		return;
	r->holder = side;
	r->holder_epoch = epoch;
	r->holder_since = side != 0 ? wall_now() : 0;
	db_set_meta(r->db, "holder_side", side);
	db_set_meta(r->db, "holder_epoch", epoch);
	db_set_meta(r->db, "holder_since_ms", (int64_t)(r->holder_since *
	    1000));
}

/*
 * Was the loop late?  A gap in its pulse longer than half the hold time:
 * the sides may have dropped their router links for our silence.  Until
 * one hold time after such a stall, a lost link is not judged.
 */
static int
router_late(struct router *r)
{
	uint64_t	now = mono_ms(), gap = now - r->last_tick_ms;

	if (gap > ROUTER_TICK_MS + router_hold_ms(r) / 2) {
		r->last_tick_ms = now;
		r->late_until_ms = now + router_hold_ms(r);
		r->stalls++;
		evt_emit(RULE_NONE, "router_stalled", json_pack("{s:I, s:I}",
		    "stalled_ms", (json_int_t)(gap - ROUTER_TICK_MS), "hold_ms",
		    (json_int_t)router_hold_ms(r)), "the router's loop stalled "
		    "for %llu ms (hold time %llu ms): links lost now are the "
		    "router's own silence, the sides are not judged until they "
		    "report", (unsigned long long)(gap - ROUTER_TICK_MS),
		    (unsigned long long)router_hold_ms(r));
	}
	return now < r->late_until_ms;
}

static void
router_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router	*r = arg;

	(void)fd;
	(void)what;
	router_late(r);
	r->last_tick_ms = mono_ms();
}

/*
 * R2 and R3 (or R6 and R7): the peripheral goes offline and every agent
 * of it is logged out, with the reason code, in the history database.
 */
static void
router_offline(struct router *r, int rule, int32_t code, const char *why)
{
	uint32_t	 periph = (uint32_t)r->node->cfg->peripheral_id;
	double		 now = wall_now();
	int		 i, n = 0;
	const char	*rtag = rule_tag(rule == RULE_R6 ? RULE_R6 : RULE_R3);

	if (r->online || r->offline_since == 0) {
		r->online = 0;
		r->offline_since = now;
		snprintf(r->offline_reason, sizeof(r->offline_reason), "%s",
		    why);
		evt_emit(RULE_R2, "peripheral_offline", json_pack("{s:i, s:s}",
		    "peripheral", (int)periph, "reason", why),
		    "peripheral %u offline: %s", periph, why);
	}
	for (i = 0; i < r->nagents; i++) {
		struct rt_agent *a = &r->agents[i];

		if (a->login <= 0)
			continue;
		db_logout(r->db, periph, a->id, a->login, now, code, rtag);
		a->login = 0;
		a->state = AS_LOGOUT;
		a->since = now;
		a->reason = code;
		n++;
	}
	if (n == 0)
		return;
	if (rule == RULE_R6) {
		evt_emit(RULE_R6, "agents_logged_out", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)periph, "agents", n, "reason_code",
		    (int)code), "%d agents of peripheral %u temporarily logged "
		    "out", n, periph);
		evt_emit(RULE_R7, "logout_reason", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)periph, "agents", n, "reason_code",
		    (int)code), "logout reason code %d recorded for %d agents "
		    "(Agent_Logout, Agent_Event_Detail)", (int)code, n);
	} else
		evt_emit(RULE_R3, "agents_logged_out", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)periph, "agents", n, "reason_code",
		    (int)code), "%d agents of peripheral %u logged out "
		    "(reason code %d)", n, periph, (int)code);
}

/*
 * Side `side` no longer holds the PIM.  What that does to the data and
 * the agents (R1, R2, R3 or R6/R7) is applied by router_aftermath(),
 * after the next grant has gone out, so the takeover does not wait for
 * the history database.  A side that was granted the PIM but never held
 * it (the ACD never accepted it) lost nothing: no aftermath.
 */
static void
router_lose(struct router *r, char side, int drop, int why, const char *text)
{
	uint32_t	 periph = (uint32_t)r->node->cfg->peripheral_id;
	uint32_t	 epoch = r->active >= 0 ? r->epoch : r->holder_epoch;

	if (drop) {
		r->grants_unused++;
		evt_emit(RULE_NONE, "grant_unused", json_pack("{s:i, s:s, s:i, "
		    "s:s}", "peripheral", (int)periph, "side", side == 'A' ?
		    "A" : "B", "epoch", (int)epoch, "reason", text), "side %c "
		    "never took up PIM %u (epoch %u), so it lost nothing: %s",
		    side, periph, epoch, text);
		r->active = -1;
		node_update_summary(r->node);
		return;
	}
	evt_emit(RULE_R5, "pim_lost", json_pack("{s:i, s:s, s:i, s:s}", "peripheral",
	    (int)periph, "side", side == 'A' ? "A" : "B", "epoch",
	    (int)epoch, "reason", text), "PIM %u of side %c (epoch %u) "
	    "lost: %s", periph, side, epoch, text);
	if (why == GRANT_PEER_IDLE) {
		struct timeval tv;

		r->in_grace = 1;
		ms_to_tv(ROUTER_IDLE_GRACE_MS, &tv);
		evtimer_add(r->ev_grace, &tv);
	}
	r->aftermath = why;
	r->aftermath_side = side;
	r->aftermath_rows = router_logged_in(r);
	r->aftermath_since = r->holder_since;
	router_set_holder(r, 0, 0);
	r->active = -1;
	r->last_loss = why;
	snprintf(r->last_loss_text, sizeof(r->last_loss_text), "%s", text);
	node_update_summary(r->node);
}

/*
 * R1 at the router for a side that vanished: what it had not delivered
 * died with it.  The router knows the last interval it stored: every
 * interval since (in memory or spool of the dead side, or in progress)
 * is counted, one row per agent logged in.
 */
static void
router_discard_vanished(struct router *r, char side, int agents,
    double since, const char *text)
{
	uint32_t	periph = (uint32_t)r->node->cfg->peripheral_id;
	uint32_t	len = (uint32_t)r->node->cfg->interval_s;
	uint32_t	cur = ivl_start_of((uint32_t)wall_now(), len);
	uint32_t	first = cur, last, intervals, rows;

	last = db_last_interval(r->db, periph);
	if (last != 0 && last + len < cur)
		first = last + len;
	if (since > 0 && first < ivl_start_of((uint32_t)since, len))
		first = ivl_start_of((uint32_t)since, len);
	if (first > cur)
		first = cur;
	intervals = (cur - first) / len + 1;
	rows = (uint32_t)agents * intervals;
	if (rows == 0) {
		log_info("side %c had no agent logged in: nothing of it lost",
		    side);
		return;
	}
	db_discard(r->db, periph, first, intervals, rows, rule_tag(RULE_R1),
	    side, text, 1);
	r->discards++;
	evt_emit(RULE_R1, "data_discarded", json_pack("{s:i, s:s, s:i, s:i, s:i, "
	    "s:s}", "peripheral", (int)periph, "side", side == 'A' ? "A" : "B",
	    "interval", (int)first, "intervals", (int)intervals, "rows",
	    (int)rows, "reason", text), "undelivered reporting data of "
	    "peripheral %u died with side %c: %u interval%s from %u, %u agent "
	    "rows", periph, side, intervals, intervals == 1 ? "" : "s", first,
	    rows);
}

static void
router_aftermath(struct router *r)
{
	const char	*text = r->last_loss_text;
	int		 why = r->aftermath, rows = r->aftermath_rows;
	char		 side = r->aftermath_side;

	r->aftermath = 0;
	if (why == GRANT_PEER_LOST) {
		router_discard_vanished(r, side, rows, r->aftermath_since,
		    text);
		router_offline(r, RULE_R6, REASON_CTI_FAILURE, text);
	} else if (r->online || router_logged_in(r) > 0)
		router_offline(r, why == GRANT_PEER_RESIGNED ? RULE_R6 : RULE_R2,
		    why == GRANT_PEER_RESIGNED ? REASON_CTI_FAILURE :
		    REASON_PERIPHERAL_RESTART, text);
}

static void
router_grant(struct router *r, struct rt_side *s)
{
	struct wire_writer	w;
	struct msg_grant	g;
	uint32_t		periph = (uint32_t)r->node->cfg->peripheral_id;
	int			regrant = s->st.pim_active != PIM_STATE_IDLE;

	if (r->max_epoch == UINT32_MAX) {
		log_warnx("no activation epoch left: not granting");
		return;
	}
	r->max_epoch++;
	db_set_meta(r->db, "max_epoch", r->max_epoch);
	memset(&g, 0, sizeof(g));
	g.peripheral = periph;
	g.epoch = r->max_epoch;
	g.reason = (uint32_t)r->last_loss;
	if (regrant)
		snprintf(g.text, sizeof(g.text), "side %c still holds the PIM "
		    "with epoch %u, older than %u: a new epoch for it",
		    s->side, s->st.epoch, r->max_epoch - 1);
	else
		snprintf(g.text, sizeof(g.text), "%s", r->last_loss_text);
	msg_grant_encode(&w, &g);
	if (link_send(s->link, &w) == -1)
		return;
	r->active = (int)(s - r->sides);
	r->epoch = g.epoch;
	s->granted = g.epoch;
	snprintf(s->grant_text, sizeof(s->grant_text), "%s", g.text);
	r->grants++;
	r->regrants += regrant;
	evt_emit(r->last_loss == GRANT_FIRST ? RULE_NONE : 5, "pim_granted",
	    json_pack("{s:i, s:s, s:i, s:s, s:b}", "peripheral", (int)periph,
	    "side", s->side == 'A' ? "A" : "B", "epoch", (int)g.epoch,
	    "reason", g.text, "regrant", regrant), "PIM %u granted to side "
	    "%c (epoch %u): %s", periph, s->side, g.epoch, g.text);
	node_update_summary(r->node);
}

/* Wait for the sides to report before judging them (a stall). */
static void
router_resettle(struct router *r, struct rt_side *s)
{
	struct timeval	tv;

	evt_emit(RULE_NONE, "router_resettle", json_pack("{s:s, s:i, s:s}",
	    "side", s->side == 'A' ? "A" : "B", "epoch", (int)r->epoch,
	    "reason", s->link->last_error), "side %c's router link went while "
	    "the router was late (%s): waiting for the sides to report, as "
	    "after a restart", s->side, s->link->last_error);
	r->active = -1;
	r->settled = 0;
	r->waiting = 0;
	r->started_ms = mono_ms();
	ms_to_tv((int)router_hold_ms(r), &tv);
	evtimer_add(r->ev_settle, &tv);
	node_update_summary(r->node);
}

/* The router's view of the peripheral, for the pure arbitration. */
static void
router_arb(struct router *r, struct arb *a)
{
	int	i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < 2; i++) {
		struct rt_side	*s = &r->sides[i];
		struct arb_side	*as = &a->sides[i];

		as->link_up = link_is_up(s->link);
		as->peer_gone = as->link_up && link_peer_gone(s->link);
		as->reported = s->reported;
		as->granted = s->granted;
		as->acd_up = s->st.acd_up;
		as->resigning = s->st.resigning;
		as->pim_state = s->st.pim_active;
		as->epoch = s->st.epoch;
		as->peer_epoch = s->st.peer_epoch;
		as->peer_up = s->st.peer_up;
		as->candidate_since = s->candidate_since;
		if (r->holder != 0 && r->holder == s->side)
			a->holder = i;
	}
	if (r->holder == 0)
		a->holder = -1;
	a->active = r->active;
	a->epoch = r->epoch;
	a->settled = r->settled;
	a->in_grace = r->in_grace;
}

/* Carry out one decision of the arbitration. */
static void
router_apply(struct router *r, const struct arb_decision *d)
{
	struct rt_side	*s = &r->sides[d->side];
	char		 text[160];

	switch (d->act) {
	case ARB_RESETTLE:
		router_resettle(r, s);
		return;
	case ARB_GRANT:
		router_grant(r, s);
		return;
	case ARB_LOSE:
	case ARB_DROP:
		break;
	default:
		return;
	}
	if (d->orphan && d->why == GRANT_PEER_LOST)
		snprintf(text, sizeof(text), "side %c (epoch %u) was gone when "
		    "the router came back", s->side, r->holder_epoch);
	else if (d->orphan)
		snprintf(text, sizeof(text), "side %c lost PIM %d (epoch %u) "
		    "while the router was away", s->side,
		    r->node->cfg->peripheral_id, r->holder_epoch);
	else if (d->why == GRANT_PEER_LOST)
		snprintf(text, sizeof(text), "side %c's router link went: %s",
		    s->side, s->link->last_error);
	else if (d->why == GRANT_PEER_RESIGNED)
		snprintf(text, sizeof(text), "side %c resigned", s->side);
	else
		snprintf(text, sizeof(text), "side %c's PIM went idle",
		    s->side);
	router_lose(r, s->side, d->act == ARB_DROP, d->why, text);
}

/*
 * Who holds the PIM now; called on every change.  The arbitration decides
 * one step at a time (lose, then grant); what the loss does to the data
 * and the agents follows the grant.
 */
static void
router_decide(struct router *r)
{
	struct arb		a;
	struct arb_decision	d;
	int			n;

	for (n = 0; n < 4; n++) {
		router_arb(r, &a);
		/* Only a lost link asks whether the router itself was late. */
		a.late = a.active >= 0 && !a.sides[a.active].link_up &&
		    router_late(r);
		arb_decide(&a, &d);
		log_debug("arbitration: %s%s side %d", arb_act_names[d.act],
		    d.regrant ? " (regrant)" : "", d.side);
		if (d.act == ARB_NONE)
			break;
		router_apply(r, &d);
	}
	if (r->aftermath != 0)
		router_aftermath(r);
}

static void
router_decide_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	router_decide(arg);
}

static void
router_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router	*r = arg;

	(void)fd;
	(void)what;
	r->in_grace = 0;
	router_decide(r);
}

/* Why the router waits for side w before it settles. */
static void
router_waiting_why(const struct router *r, int w, char *why, size_t len)
{
	const struct rt_side	*o = &r->sides[1 - w], *s = &r->sides[w];

	if (o->reported && o->st.peer_epoch != 0)
		snprintf(why, len, "side %c says side %c holds the PIM (epoch "
		    "%u)", o->side, s->side, o->st.peer_epoch);
	else if (o->reported)
		snprintf(why, len, "side %c says side %c, which held the PIM, "
		    "is alive", o->side, s->side);
	else
		snprintf(why, len, "side %c held the PIM (epoch %u) and "
		    "neither side has reported yet", s->side, r->holder_epoch);
}

/*
 * Settle: from now on the router judges and grants.  At start (or after a
 * stall) it waits the router hold time, or less if both sides reported;
 * for a side it is told is there (above), up to that side's reconnection
 * back-off plus twice the hold time.
 */
static void
router_try_settle(struct router *r)
{
	const struct cfg *cf = r->node->cfg;
	uint64_t	 hold = router_hold_ms(r);
	uint64_t	 limit = (uint64_t)cf->backoff_max_ms + 2 * hold;
	uint64_t	 waited = mono_ms() - r->started_ms;
	struct timeval	 tv;
	struct arb	 a;
	char		 why[160];
	int		 w;

	if (r->settled)
		return;
	if (!r->sides[0].reported || !r->sides[1].reported) {
		if (waited < hold) {
			/* The timer may fire a little early on our clock. */
			if (!evtimer_pending(r->ev_settle, NULL)) {
				ms_to_tv((int)(hold - waited), &tv);
				evtimer_add(r->ev_settle, &tv);
			}
			return;
		}
		router_arb(r, &a);
		w = arb_waiting_for(&a);
		if (w != -1 && waited < limit) {
			if (!r->waiting) {
				router_waiting_why(r, w, why, sizeof(why));
				log_info("%s: waiting for it up to %llu ms",
				    why, (unsigned long long)(limit - waited));
				ms_to_tv((int)(limit - waited), &tv);
				evtimer_add(r->ev_settle, &tv);
			}
			r->waiting = r->sides[w].side;
			return;
		}
	}
	r->settled = 1;
	r->waiting = 0;
	event_del(r->ev_settle);
	log_info("settled: %s", r->active >= 0 ? "a side is active" :
	    r->holder != 0 ? "the side that held the PIM is not back" :
	    "no side active yet");
}

static void
router_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router	*r = arg;

	(void)fd;
	(void)what;
	router_try_settle(r);
	router_decide(r);
}

static void
router_status_msg(struct router *r, struct rt_side *s,
    const struct msg_pg_status *st)
{
	int		was_candidate = s->reported && s->st.acd_up &&
	    s->st.pim_active == PIM_STATE_IDLE;
	struct arb	a;

	s->st = *st;
	s->reported = 1;
	if (st->acd_up && st->pim_active == PIM_STATE_IDLE && !was_candidate)
		s->candidate_since = mono_ms();
	if (s->granted != 0 && (st->epoch == s->granted || !st->acd_up))
		s->granted = 0;
	/* A side still active from before the router was away. */
	router_arb(r, &a);
	if (arb_adopts(&a, (int)(s - r->sides), st, r->max_epoch,
	    r->holder_epoch)) {
		r->active = (int)(s - r->sides);
		r->epoch = st->epoch;
		if (st->epoch > r->max_epoch) {
			r->max_epoch = st->epoch;
			db_set_meta(r->db, "max_epoch", r->max_epoch);
		}
		snprintf(s->grant_text, sizeof(s->grant_text), "adopted by "
		    "the router");
		evt_emit(RULE_NONE, "pim_adopted", json_pack("{s:s, s:i}",
		    "side", s->side == 'A' ? "A" : "B", "epoch",
		    (int)st->epoch), "side %c holds PIM %d (epoch %u): "
		    "adopted", s->side, r->node->cfg->peripheral_id, st->epoch);
	}
	/* The ACD accepted the active side's epoch: it holds the PIM. */
	if (r->active >= 0 && &r->sides[r->active] == s &&
	    PIM_STATE_HOLDS(st->pim_active) && st->epoch == r->epoch &&
	    (r->holder != s->side || r->holder_epoch != st->epoch)) {
		router_set_holder(r, s->side, st->epoch);
		db_activation(r->db, (uint32_t)r->node->cfg->peripheral_id,
		    s->side, st->epoch, s->grant_text);
	}
	router_try_settle(r);
	router_decide(r);
}

/* Is this message from the side that holds the current epoch? */
static int
router_current(struct router *r, struct rt_side *s, uint32_t epoch,
    const char *what)
{
	if (r->active >= 0 && &r->sides[r->active] == s && epoch == r->epoch)
		return 1;
	r->stale_refused++;
	log_warnx("refused %s from side %c with epoch %u (active: %c, epoch "
	    "%u)", what, s->side, epoch, r->active >= 0 ?
	    r->sides[r->active].side : '-', r->epoch);
	return 0;
}

static void
router_agents_msg(struct router *r, struct rt_side *s,
    const struct msg_agents *m)
{
	uint32_t	periph = (uint32_t)r->node->cfg->peripheral_id;
	double		now = wall_now();
	int		i;

	if (!router_current(r, s, m->epoch, "agent states"))
		return;
	for (i = 0; i < m->count; i++) {
		struct msg_agent	 ma;
		struct rt_agent		*a;

		msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN, &ma);
		if ((a = router_agent(r, ma.id)) == NULL)
			continue;
		if (a->login <= 0 && agent_logged_in(ma.state)) {
			a->login = now;
			db_event(r->db, periph, a->id, now, now,
			    DB_EVENT_LOGIN, ma.state, 0, 0,
			    rule_tag(m->kind == AGENTS_RELOGIN ? RULE_R8 :
			    m->kind == AGENTS_SNAPSHOT ? RULE_R4 : RULE_NONE));
		} else if (a->login > 0 && !agent_logged_in(ma.state)) {
			db_logout(r->db, periph, a->id, a->login, now,
			    ma.reason, NULL);
			a->login = 0;
		}
		if (ma.state == AS_NOT_READY && a->state != AS_NOT_READY)
			db_event(r->db, periph, a->id, now, a->login,
			    DB_EVENT_NOT_READY, ma.state, ma.reason, 0, NULL);
		a->state = ma.state;
		a->before_call = ma.before_call;
		a->since = now - ma.ms_in_state / 1000.0;
		a->reason = ma.reason;
	}
	if (m->kind == AGENTS_CHANGE || !m->last || r->online)
		return;
	r->online = 1;
	r->online_since = now;
	if (m->kind == AGENTS_RELOGIN)
		evt_emit(RULE_R8, "peripheral_online", json_pack("{s:i, s:i, s:f}",
		    "peripheral", (int)periph, "agents", router_logged_in(r),
		    "outage_ms", r->offline_since > 0 ?
		    (now - r->offline_since) * 1000 : 0.0),
		    "peripheral %u online: %d agents logged back in, in the "
		    "states side %c gave them by Table 1", periph,
		    router_logged_in(r), s->side);
	else
		evt_emit(r->offline_since > 0 ? RULE_R4 : RULE_NONE,
		    "peripheral_online", json_pack("{s:i, s:i, s:f}",
		    "peripheral", (int)periph, "agents", router_logged_in(r),
		    "outage_ms", r->offline_since > 0 ?
		    (now - r->offline_since) * 1000 : 0.0),
		    "peripheral %u online: real-time state of %d agents from "
		    "the ACD snapshot%s", periph, router_logged_in(r),
		    r->offline_since > 0 ? "; the outage intervals stay "
		    "incomplete" : "");
	node_update_summary(r->node);
}

/* Answer a record: ACK_STORED, ACK_REFUSED or ACK_NOT_STORED (wire.h). */
static void
router_ack(struct link *l, uint32_t seq, int flags, const char *text)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	memset(&e, 0, sizeof(e));
	e.a = seq;
	e.flags = (uint8_t)flags;
	snprintf(e.text, sizeof(e.text), "%s", text);
	msg_epoch_encode(&w, MSG_DELIVERY_ACK, &e);
	link_send(l, &w);
}

/* The history database did not take a record: the side keeps it. */
static void
router_not_stored(struct router *r, struct rt_side *s, uint32_t seq,
    const char *what)
{
	char	text[128];

	r->records_not_stored++;
	log_debug("%s (seq %u) from side %c not stored: %s", what, seq,
	    s->side, db_error(r->db));
	snprintf(text, sizeof(text), "history database: %s",
	    db_error(r->db));
	router_ack(s->link, seq, ACK_NOT_STORED, text);
}

/*
 * An interval the router does not take (not from the PIM that holds the
 * peripheral): its rows are lost.  The router records that loss itself,
 * once (R1, pgemu_discard keyed by side, epoch and seq), then tells the
 * side, which forgets the record and counts it refused.
 */
static void
router_refuse_interval(struct router *r, struct rt_side *s,
    const struct msg_interval *iv)
{
	uint32_t	 periph = (uint32_t)r->node->cfg->peripheral_id;
	char		 why[128];
	int		 rc;

	if (iv->peripheral != periph)
		snprintf(why, sizeof(why), "refused: peripheral %u is not %u",
		    iv->peripheral, periph);
	else if (iv->side != (uint8_t)s->side)
		snprintf(why, sizeof(why), "refused: an interval of side %c on "
		    "the link of side %c", iv->side >= 0x20 && iv->side < 0x7f ?
		    iv->side : '?', s->side);
	else if (iv->epoch > r->max_epoch)
		snprintf(why, sizeof(why), "refused: epoch %u was never "
		    "granted (highest %u)", iv->epoch, r->max_epoch);
	else
		snprintf(why, sizeof(why), "refused: stale epoch %u (current "
		    "%u, side %c active)", iv->epoch, r->epoch, r->active >= 0 ?
		    r->sides[r->active].side : '-');
	r->stale_refused++;
	db_begin(r->db);
	rc = db_refusal(r->db, periph, iv, s->side, why);
	if (db_commit(r->db) == -1) {
		router_not_stored(r, s, iv->seq, "refused interval");
		return;
	}
	if (rc == 1) {
		r->discards++;
		r->records_refused++;
		r->rows_refused += iv->count;
		evt_emit(RULE_R1, "data_discarded", json_pack("{s:i, s:s, s:i, s:i, "
		    "s:i, s:i, s:s}", "peripheral", (int)periph, "side",
		    s->side == 'A' ? "A" : "B", "intervals", 1, "rows",
		    (int)iv->count, "start", (int)iv->start, "seq",
		    (int)iv->seq, "reason", why), "reporting data of "
		    "peripheral %u from side %c lost: interval %u, %u agent "
		    "rows (%s)", periph, s->side, iv->start, iv->count, why);
	} else
		log_debug("interval %u (seq %u) from side %c %s; its loss was "
		    "recorded already", iv->start, iv->seq, s->side, why);
	router_ack(s->link, iv->seq, ACK_REFUSED, why);
}

/* Store an interval's rows, all or none; acknowledge once committed. */
static void
router_interval_msg(struct router *r, struct rt_side *s,
    const struct msg_interval *iv)
{
	double	now = wall_now();
	int	i, rc, stored = 0;

	/*
	 * The active side's own older epochs are its data too (it was
	 * given a new epoch while it held the PIM); another side's older
	 * epoch is a PIM that no longer holds the peripheral.
	 */
	if ((iv->epoch < r->epoch && (r->active < 0 ||
	    &r->sides[r->active] != s)) || iv->epoch > r->max_epoch ||
	    iv->side != (uint8_t)s->side ||
	    iv->peripheral != (uint32_t)r->node->cfg->peripheral_id) {
		router_refuse_interval(r, s, iv);
		return;
	}
	rc = db_begin(r->db);
	for (i = 0; i < iv->count && rc != -1; i++) {
		uint32_t agent, f[IVL_NFIELDS];

		msg_interval_row_get(iv->rows + (size_t)i * MSG_IVL_ROW_LEN,
		    &agent, f);
		if ((rc = db_interval(r->db, iv, agent, f, now)) > 0)
			stored++;
	}
	if (db_commit(r->db) == -1) {
		router_not_stored(r, s, iv->seq, "interval");
		return;
	}
	r->rows_stored += (uint64_t)stored;
	r->rows_duplicate += (uint64_t)(iv->count - stored);
	evt_emit(RULE_NONE, "interval_stored", json_pack("{s:i, s:i, s:i, "
	    "s:i, s:b, s:s}", "seq", (int)iv->seq, "start", (int)iv->start,
	    "rows", stored, "duplicates", iv->count - stored, "incomplete",
	    iv->incomplete, "side", s->side == 'A' ? "A" : "B"),
	    "interval %u (seq %u) from side %c: %d rows stored, %d already "
	    "there%s", iv->start, iv->seq, s->side, stored, iv->count - stored,
	    iv->incomplete ? ", incomplete" : "");
	router_ack(s->link, iv->seq, ACK_STORED, "");
}

static int
router_msg_status(struct role_msg_in *in, const union msg_body *b)
{
	struct router	*r = in->node->role_data;
	struct rt_side	*s = router_side(r, in->link);

	if (s != NULL)
		router_status_msg(r, s, &b->pg_status);
	return 0;
}

static int
router_msg_agents(struct role_msg_in *in, const union msg_body *b)
{
	struct router	*r = in->node->role_data;
	struct rt_side	*s = router_side(r, in->link);

	if (s != NULL)
		router_agents_msg(r, s, &b->agents);
	return 0;
}

static int
router_msg_interval(struct role_msg_in *in, const union msg_body *b)
{
	struct router	*r = in->node->role_data;
	struct rt_side	*s = router_side(r, in->link);

	if (s != NULL)
		router_interval_msg(r, s, &b->interval);
	return 0;
}

static int
router_msg_discard(struct role_msg_in *in, const union msg_body *b)
{
	struct router		*r = in->node->role_data;
	struct rt_side		*s = router_side(r, in->link);
	const struct msg_discard *d = &b->discard;

	if (s == NULL)
		return 0;
	if (d->side != (uint8_t)s->side || d->rule != RULE_R1 ||
	    d->peripheral != (uint32_t)in->node->cfg->peripheral_id) {
		snprintf(in->err, sizeof(in->err), "DISCARD: side 0x%02x, "
		    "rule %u, peripheral %u on the link of side %c", d->side,
		    d->rule, d->peripheral, s->side);
		return -1;
	}
	db_begin(r->db);
	db_discard(r->db, d->peripheral, d->interval_start, d->intervals,
	    d->rows, rule_tag(RULE_R1), (char)d->side, d->text, 0);
	if (db_commit(r->db) == -1) {
		router_not_stored(r, s, d->seq, "loss record");
		return 0;
	}
	r->discards++;
	evt_emit((int)d->rule, "data_discarded", json_pack("{s:i, s:s, s:i, "
	    "s:i, s:s}", "peripheral", (int)d->peripheral, "side",
	    d->side == 'A' ? "A" : "B", "intervals", (int)d->intervals,
	    "rows", (int)d->rows, "reason", d->text), "side %c deleted "
	    "undelivered reporting data of peripheral %u: %u intervals, %u "
	    "rows (%s)", d->side, d->peripheral, d->intervals, d->rows,
	    d->text);
	router_ack(in->link, d->seq, ACK_STORED, "");
	return 0;
}

static int
router_msg_offline(struct role_msg_in *in, const union msg_body *b)
{
	struct router			*r = in->node->role_data;
	struct rt_side			*s = router_side(r, in->link);
	const struct msg_periph_offline	*o = &b->offline;

	if (s == NULL)
		return 0;
	if (o->rule != RULE_R2 && o->rule != RULE_R6) {
		snprintf(in->err, sizeof(in->err), "PERIPH_OFFLINE: rule %u "
		    "is neither R2 nor R6", o->rule);
		return -1;
	}
	if (router_current(r, s, o->epoch, "peripheral offline"))
		router_offline(r, (int)o->rule, o->reason_code, o->text);
	return 0;
}

static void
router_link_up(struct node *n, struct link *l)
{
	struct rt_side	*s = router_side(n->role_data, l);

	if (s != NULL) {
		s->reported = 0;
		s->granted = 0;
	}
}

static void
router_link_down(struct node *n, struct link *l, const char *why)
{
	struct router	*r = n->role_data;
	struct rt_side	*s = router_side(r, l);

	(void)why;
	if (s == NULL)
		return;
	s->reported = 0;
	s->granted = 0;
	/*
	 * Decide once the loop has read what else is pending: when both
	 * sides die at once, the other side's end is read first, and the
	 * PIM is not granted to a side that is already gone.
	 */
	event_active(r->ev_decide, 0, 0);
}

static void
router_session_cb(void *arg, uint32_t agent, double login)
{
	struct router	*r = arg;
	struct rt_agent	*a = router_agent(r, agent);

	if (a == NULL)
		return;
	a->login = login;
	a->state = AS_UNKNOWN;
}

static int
router_init(struct node *n, char *err, size_t errlen)
{
	struct router	*r = xcalloc(1, sizeof(*r));
	struct timeval	 tv;
	int		 i, j;

	r->node = n;
	n->role_data = r;
	r->active = -1;
	r->last_loss = GRANT_FIRST;
	snprintf(r->last_loss_text, sizeof(r->last_loss_text),
	    "first side to reach the ACD");
	if ((r->db = db_open(n->base, n->cfg->history_db, err,
	    errlen)) == NULL)
		return -1;
	r->max_epoch = (uint32_t)db_get_meta(r->db, "max_epoch", 0);
	r->holder = (char)db_get_meta(r->db, "holder_side", 0);
	r->holder_epoch = (uint32_t)db_get_meta(r->db, "holder_epoch", 0);
	r->holder_since = (double)db_get_meta(r->db, "holder_since_ms", 0) /
	    1000;
	if (r->holder != 'A' && r->holder != 'B')
		r->holder = 0;
	r->nagents = n->cfg->nagents;
	r->agents = xcalloc((size_t)r->nagents, sizeof(*r->agents));
	for (i = 0; i < r->nagents; i++) {
		r->agents[i].id = (uint32_t)n->cfg->agents[i].id;
		r->agents[i].state = AS_LOGOUT;
	}
	qsort(r->agents, (size_t)r->nagents, sizeof(*r->agents), cmp_u32_key);
	/* Sessions left open by the last run: still open until judged. */
	db_open_sessions(r->db, (uint32_t)n->cfg->peripheral_id,
	    router_session_cb, r);
	if (r->holder != 0)
		log_info("side %c held PIM %d (epoch %u) when the router last "
		    "ran; %d login sessions open", r->holder,
		    n->cfg->peripheral_id, r->holder_epoch,
		    router_logged_in(r));
	j = 0;
	for (i = 0; i < n->cfg->nnodes; i++)
		if (n->cfg->nodes[i].role == ROLE_PG && j < 2) {
			r->sides[j].side = n->cfg->nodes[i].side;
			r->sides[j++].link = node_new_link(n,
			    n->cfg->nodes[i].name, &n->cfg->nodes[i],
			    LINK_KIND_ROUTER, 0);
		}
	r->ev_settle = evtimer_new(n->base, router_settle_cb, r);
	r->ev_grace = evtimer_new(n->base, router_grace_cb, r);
	r->ev_decide = event_new(n->base, -1, 0, router_decide_cb, r);
	r->ev_tick = event_new(n->base, -1, EV_PERSIST, router_tick_cb, r);
	ms_to_tv(ROUTER_TICK_MS, &tv);
	event_add(r->ev_tick, &tv);
	r->started_ms = r->last_tick_ms = mono_ms();
	ms_to_tv(n->cfg->hb_router.interval_ms * n->cfg->hb_router.misses,
	    &tv);
	evtimer_add(r->ev_settle, &tv);
	return node_listen(n, "router", n->self->port, err, errlen);
}

/* Also after an init that failed half way: what was not made is NULL. */
static void
router_fini(struct node *n)
{
	struct router	*r = n->role_data;

	db_close(r->db);
	if (r->ev_settle != NULL)
		event_free(r->ev_settle);
	if (r->ev_grace != NULL)
		event_free(r->ev_grace);
	if (r->ev_decide != NULL)
		event_free(r->ev_decide);
	if (r->ev_tick != NULL)
		event_free(r->ev_tick);
	free(r->agents);
	free(r);
	n->role_data = NULL;
}

static json_t *
router_peripheral_json(struct router *r)
{
	json_t	*sides = json_array();
	int	 i;

	for (i = 0; i < 2; i++) {
		struct rt_side *s = &r->sides[i];

		json_array_append_new(sides, json_pack("{s:s, s:s, s:s, s:b, "
		    "s:b, s:b, s:s, s:b, s:i}", "side", s->side == 'A' ? "A" :
		    "B", "node", s->link->peer_node,
		    "link", link_state_names[s->link->state],
		    "reported", s->reported, "acd_up", s->st.acd_up,
		    "pim_active", s->st.pim_active != PIM_STATE_IDLE,
		    "pim_state", s->st.pim_active < PIM_STATE_MAX ?
		    pim_state_names[s->st.pim_active] : "?",
		    "resigning", s->st.resigning, "epoch", (int)s->st.epoch));
	}
	return json_pack("{s:i, s:s, s:b, s:s?, s:I, s:I, s:s?, s:I, s:s, "
	    "s:i, s:b, s:o}",
	    "id", r->node->cfg->peripheral_id,
	    "name", r->node->cfg->peripheral_name,
	    "online", r->online,
	    "active_side", r->active >= 0 ?
	    (r->sides[r->active].side == 'A' ? "A" : "B") : NULL,
	    "epoch", (json_int_t)r->epoch,
	    "max_epoch", (json_int_t)r->max_epoch,
	    "holder", r->holder == 0 ? NULL : r->holder == 'A' ? "A" : "B",
	    "holder_epoch", (json_int_t)r->holder_epoch,
	    "offline_reason", r->online ? "" : r->offline_reason,
	    "agents_logged_in", router_logged_in(r),
	    "settled", r->settled,
	    "sides", sides);
}

static json_t *
router_agent_json(const struct rt_agent *a)
{
	return json_pack("{s:i, s:s, s:b, s:f, s:s, s:i}", "id", (int)a->id,
	    "state", agent_state_name(a->state), "logged_in", a->login > 0,
	    "seconds_in_state", a->since > 0 ? wall_now() - a->since : 0.0,
	    "before_call", agent_state_name(a->before_call),
	    "reason", (int)a->reason);
}

static void
router_status(struct node *n, json_t *j)
{
	struct router	*r = n->role_data;

	json_object_set_new(j, "peripheral", router_peripheral_json(r));
	json_object_set_new(j, "counters", json_pack("{s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "grants",
	    (json_int_t)r->grants,
	    "stale_refused", (json_int_t)r->stale_refused, "rows_stored",
	    (json_int_t)r->rows_stored, "rows_duplicate",
	    (json_int_t)r->rows_duplicate, "discards",
	    (json_int_t)r->discards, "stalls", (json_int_t)r->stalls,
	    "grants_unused", (json_int_t)r->grants_unused, "regrants",
	    (json_int_t)r->regrants, "records_refused",
	    (json_int_t)r->records_refused, "rows_refused",
	    (json_int_t)r->rows_refused, "records_not_stored",
	    (json_int_t)r->records_not_stored, "session_rows_waiting",
	    (json_int_t)db_pending(r->db)));
	json_object_set_new(j, "history_db", json_string(n->cfg->history_db));
}

static int
router_cmd_peripherals(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	(void)argc;
	(void)argv;
	res->data = json_array();
	json_array_append_new(res->data, router_peripheral_json(n->role_data));
	return 0;
}

static int
router_cmd_agents(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct router	*r = n->role_data;
	int		 i;

	(void)argc;
	(void)argv;
	res->data = json_array();
	for (i = 0; i < r->nagents; i++)
		json_array_append_new(res->data,
		    router_agent_json(&r->agents[i]));
	return 0;
}

static int
router_cmd_intervals(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct router	*r = n->role_data;
	long		 lim = 100;

	if (argc == 2 && parse_int(argv[1], 1, 1000000, &lim) == -1) {
		snprintf(res->err, sizeof(res->err), "intervals: bad count "
		    "\"%s\"", argv[1]);
		return -1;
	}
	res->data = db_intervals(r->db, (int)lim);
	return 0;
}

static void
router_summary(struct node *n, char *buf, size_t len)
{
	struct router	*r = n->role_data;

	if (r == NULL || r->active < 0)
		snprintf(buf, len, "router: peripheral %d %s, no active side",
		    n->cfg->peripheral_id, r && r->online ? "online" :
		    "offline");
	else
		snprintf(buf, len, "router: peripheral %d %s, side %c active "
		    "(epoch %u)", n->cfg->peripheral_id, r->online ? "online" :
		    "offline", r->sides[r->active].side, r->epoch);
}

static const struct cmd router_cmds[] = {
	{ "peripherals", "", 0, 0, router_cmd_peripherals,
	  "the peripheral: online or not, active side, epoch" },
	{ "agents", "", 0, 0, router_cmd_agents,
	  "the real-time agent table" },
	{ "intervals", "[N]", 0, 1, router_cmd_intervals,
	  "the last N Agent_Interval rows (default 100)" },
	{ NULL, NULL, 0, 0, NULL, NULL }
};

static const struct role_msg router_msgs[] = {
	{ MSG_PG_STATUS, LINK_KIND_ROUTER, msg_pg_status_body,
	  router_msg_status },
	{ MSG_AGENT_STATES, LINK_KIND_ROUTER, msg_agents_body,
	  router_msg_agents },
	{ MSG_INTERVAL, LINK_KIND_ROUTER, msg_interval_body,
	  router_msg_interval },
	{ MSG_DISCARD, LINK_KIND_ROUTER, msg_discard_body,
	  router_msg_discard },
	{ MSG_PERIPH_OFFLINE, LINK_KIND_ROUTER, msg_offline_body,
	  router_msg_offline },
	{ 0, 0, NULL, NULL }
};

const struct role_ops router_ops = {
	.init = router_init,
	.fini = router_fini,
	.cmds = router_cmds,
	.msgs = router_msgs,
	.status = router_status,
	.link_up = router_link_up,
	.link_down = router_link_down,
	.summary = router_summary,
};
