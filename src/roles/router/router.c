/*
 * The router node: the central controller.  CallRouter (which PG side is
 * active, the real-time table of each peripheral and its agents) and
 * Logger (the history database).  Each peripheral of the lab is arbitrated
 * on its own (struct rt_periph), with its own epochs, over the links to
 * the two PG sides that every peripheral shares.
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

#include "router.h"

/* A record of a side at the history database's writer. */
struct rt_record {
	struct rt_periph	*p;
	struct rt_side		*s;
	struct msg_discard	 d;		/* a loss record */
	char			 why[128];	/* a refused interval */
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
/* router_agent(): entries tried after the last found (an agent's MRDs). */
#define ROUTER_AHEAD		4

static void	router_decide(struct rt_periph *);

struct rt_side *
router_side(struct rt_periph *p, const struct link *l)
{
	int	i;

	for (i = 0; i < 2; i++)
		if (p->sides[i].link == l)
			return &p->sides[i];
	return NULL;
}

static int
router_agent_cmp(const void *a, const void *b)
{
	const struct rt_agent	*x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->mrd < y->mrd ? -1 : x->mrd > y->mrd;
}

/*
 * An agent's entry of an MRD, or NULL.  Records come in the table's order
 * (a relogin, a snapshot: every agent's voice record, then the others):
 * the next few entries after the one found last are tried first, so that
 * 100,000 of them cost no search each.
 */
struct rt_agent *
router_agent(struct rt_periph *p, uint32_t id, uint32_t mrd)
{
	struct rt_agent	 key = { .id = id, .mrd = mrd }, *a;
	int		 i;

	for (i = p->hint; i < p->nagents && i <= p->hint + ROUTER_AHEAD; i++)
		if (p->agents[i].id == id && p->agents[i].mrd == mrd) {
			p->hint = i;
			return &p->agents[i];
		}
	a = bsearch(&key, p->agents, (size_t)p->nagents, sizeof(*p->agents),
	    router_agent_cmp);
	if (a != NULL)
		p->hint = (int)(a - p->agents);
	return a;
}

/* Agents logged in to at least one MRD (entries sorted by agent). */
static int
router_logged_in(const struct rt_periph *p)
{
	int		i, n = 0;
	uint32_t	last = 0;

	for (i = 0; i < p->nagents; i++) {
		if (p->agents[i].login <= 0 || (n > 0 &&
		    p->agents[i].id == last))
			continue;
		last = p->agents[i].id;
		n++;
	}
	return n;
}

/*
 * Interval rows in progress: one per agent and MRD it is logged in to
 * (Agent_Interval has a row for each).
 */
static int
router_rows_logged_in(const struct rt_periph *p)
{
	int	i, n = 0;

	for (i = 0; i < p->nagents; i++)
		n += p->agents[i].login > 0;
	return n;
}

uint64_t
router_hold_ms(const struct node *n)
{
	return (uint64_t)n->cfg->hb_router.interval_ms *
	    (uint64_t)n->cfg->hb_router.misses;
}

/*
 * How long after this router started a PG side alive has reached it:
 * its router link tries again at most backoff_max_ms apart, then says
 * what it has within a hold time.
 */
static uint64_t
router_back_ms(const struct node *n)
{
	return (uint64_t)n->cfg->backoff_max_ms + 2 * router_hold_ms(n);
}

/* The logins open in non-voice MRDs, those of email MRDs if email. */
static int
router_media_open(const struct rt_periph *p, int email)
{
	uint32_t	voice = (uint32_t)p->node->cfg->voice_mrd;
	int		i, n = 0;

	for (i = 0; i < p->nagents; i++)
		n += p->agents[i].login > 0 && p->agents[i].mrd != voice &&
		    (email || !cfg_mrd_email(p->node->cfg,
		    (int)p->agents[i].mrd));
	return n;
}

/*
 * A pgemu_meta key of the peripheral: the first peripheral's keys are
 * the names alone, as in a lab of one peripheral; others end in its id.
 */
static const char *
router_key(const struct rt_periph *p, const char *name, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s%s", name, p->key_suffix);
	return buf;
}

static void
router_set_meta(struct rt_periph *p, const char *name, int64_t v)
{
	char	key[64];

	db_set_meta(p->db, router_key(p, name, key, sizeof(key)), v);
}

/* The side the ACD accepted, with its epoch; kept across restarts. */
static void
router_set_holder(struct rt_periph *p, char side, uint32_t epoch)
{
	if (p->holder == side && p->holder_epoch == epoch)
		return;
	p->holder = side;
	p->holder_epoch = epoch;
	p->holder_since = side != 0 ? wall_now() : 0;
	router_set_meta(p, "holder_side", side);
	router_set_meta(p, "holder_epoch", epoch);
	router_set_meta(p, "holder_since_ms", (int64_t)(p->holder_since *
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
	uint64_t	hold = router_hold_ms(r->node);

	if (gap > ROUTER_TICK_MS + hold / 2) {
		r->last_tick_ms = now;
		r->late_until_ms = now + hold;
		r->stalls++;
		evt_emit(RULE_NONE, "router_stalled", json_pack("{s:I, s:I}",
		    "stalled_ms", (json_int_t)(gap - ROUTER_TICK_MS), "hold_ms",
		    (json_int_t)hold), "the router's loop stalled "
		    "for %llu ms (hold time %llu ms): links lost now are the "
		    "router's own silence, the sides are not judged until they "
		    "report", (unsigned long long)(gap - ROUTER_TICK_MS),
		    (unsigned long long)hold);
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
 * R23: a voice PIM that went leaves its agents' non-voice MRD logins as
 * they are (the router still routes tasks to them, through the side that
 * keeps their states): said once per outage.
 */
static void
router_media_kept(struct rt_periph *p, int kept)
{
	if (kept == 0 || p->media_kept)
		return;
	p->media_kept = 1;
	evt_emit(RULE_R23, "media_kept", json_pack("{s:i, s:i}",
	    "peripheral", (int)p->id, "logins", kept), "peripheral %u: %d "
	    "non-voice MRD logins kept; its agents still get non-voice tasks, "
	    "voice waits for a PIM", p->id, kept);
}

/* Agent a logged out now at the router, with the code and the rule. */
static void
router_agent_out(struct rt_periph *p, struct rt_agent *a, double now,
    int32_t code, const char *rtag)
{
	struct db_key	k = { p->id, a->id, a->mrd };

	db_logout(p->db, &k, a->login, now, code, rtag);
	a->login = 0;
	a->state = AS_LOGOUT;
	a->since = now;
	a->reason = code;
}

/* R7: the reason code of n logouts, recorded. */
static void
router_logout_reason(struct rt_periph *p, int n, int32_t code)
{
	evt_emit(RULE_R7, "logout_reason", json_pack("{s:i, s:i, s:i}",
	    "peripheral", (int)p->id, "agents", n, "reason_code", (int)code),
	    "logout reason code %d recorded for %d agents (Agent_Logout, "
	    "Agent_Event_Detail)", (int)code, n);
}

/*
 * R2 and R3 (or R6 and R7): the peripheral goes offline and its agents
 * are logged out, with the reason code, in the history database: of
 * every MRD but email after a PG failover (R6; R19 keeps the email
 * MRDs' sign-ins, the PIM that takes over keeps them), of the voice MRD
 * after a PIM failure (R3; R23 keeps the others).
 */
static void
router_offline(struct rt_periph *p, int rule, int32_t code, const char *why)
{
	uint32_t	 periph = p->id;
	uint32_t	 voice = (uint32_t)p->node->cfg->voice_mrd;
	double		 now = wall_now();
	int		 i, n = 0, kept = 0;
	const char	*rtag = rule_tag(rule == RULE_R6 ? RULE_R6 : RULE_R3);

	if (p->online || p->offline_since == 0) {
		p->online = 0;
		p->offline_since = now;
		snprintf(p->offline_reason, sizeof(p->offline_reason), "%s",
		    why);
		evt_emit(RULE_R2, "peripheral_offline", json_pack("{s:i, s:s}",
		    "peripheral", (int)periph, "reason", why),
		    "peripheral %u offline: %s", periph, why);
	}
	for (i = 0; i < p->nagents; i++) {
		struct rt_agent *a = &p->agents[i];

		if (a->login <= 0 || (rule == RULE_R6 &&
		    cfg_mrd_email(p->node->cfg, (int)a->mrd)))
			continue;
		if (rule != RULE_R6 && a->mrd != voice) {
			kept++;
			continue;
		}
		router_agent_out(p, a, now, code, rtag);
		n++;
	}
	if (rule == RULE_R6)
		p->media_kept = 0;
	if (n == 0) {
		router_media_kept(p, kept);
		return;
	}
	if (rule == RULE_R6) {
		evt_emit(RULE_R6, "agents_logged_out", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)periph, "agents", n, "reason_code",
		    (int)code), "%d agents of peripheral %u temporarily logged "
		    "out", n, periph);
		router_logout_reason(p, n, code);
	} else
		evt_emit(RULE_R3, "agents_logged_out", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)periph, "agents", n, "reason_code",
		    (int)code), "%d agents of peripheral %u logged out "
		    "(reason code %d)", n, periph, (int)code);
	router_media_kept(p, kept);
}

/*
 * Side `side` no longer holds the PIM.  What that does to the data and
 * the agents (R1, R2, R3 or R6/R7) is applied by router_aftermath(),
 * after the next grant has gone out, so the takeover does not wait for
 * the history database.  A side that was granted the PIM but never held
 * it (the ACD never accepted it) lost nothing: no aftermath.
 */
static void
router_lose(struct rt_periph *p, char side, int drop, int why, const char *text)
{
	uint32_t	 periph = p->id;
	uint32_t	 epoch = p->active >= 0 ? p->epoch : p->holder_epoch;

	if (drop) {
		p->grants_unused++;
		evt_emit(RULE_NONE, "grant_unused", json_pack("{s:i, s:s, s:i, "
		    "s:s}", "peripheral", (int)periph, "side", side == 'A' ?
		    "A" : "B", "epoch", (int)epoch, "reason", text), "side %c "
		    "never took up PIM %u (epoch %u), so it lost nothing: %s",
		    side, periph, epoch, text);
		p->active = -1;
		node_update_summary(p->node);
		return;
	}
	evt_emit(RULE_R5, "pim_lost", json_pack("{s:i, s:s, s:i, s:s}", "peripheral",
	    (int)periph, "side", side == 'A' ? "A" : "B", "epoch",
	    (int)epoch, "reason", text), "PIM %u of side %c (epoch %u) "
	    "lost: %s", periph, side, epoch, text);
	if (why == GRANT_PEER_IDLE) {
		struct timeval tv;

		p->in_grace = 1;
		ms_to_tv(ROUTER_IDLE_GRACE_MS, &tv);
		evtimer_add(p->ev_grace, &tv);
	}
	p->aftermath = why;
	p->aftermath_side = side;
	p->aftermath_rows = router_rows_logged_in(p);
	p->aftermath_since = p->holder_since;
	router_set_holder(p, 0, 0);
	p->active = -1;
	p->last_loss = why;
	snprintf(p->last_loss_text, sizeof(p->last_loss_text), "%s", text);
	node_update_summary(p->node);
}

/*
 * R1 at the router for a side that vanished: what it had not delivered
 * died with it.  The router knows the last interval it stored: every
 * interval since (in memory or spool of the dead side, or in progress)
 * is counted, one row per agent and MRD logged in.
 */
static void
router_discard_vanished(struct rt_periph *p, char side, int logged_in,
    double since, const char *text)
{
	uint32_t	periph = p->id;
	uint32_t	len = (uint32_t)p->node->cfg->interval_s;
	uint32_t	cur = ivl_start_of((uint32_t)wall_now(), len);
	uint32_t	first = cur, last, intervals, rows;

	last = p->last_stored;
	if (last != 0 && last + len < cur)
		first = last + len;
	if (since > 0 && first < ivl_start_of((uint32_t)since, len))
		first = ivl_start_of((uint32_t)since, len);
	if (first > cur)
		first = cur;
	intervals = (cur - first) / len + 1;
	rows = (uint32_t)logged_in * intervals;
	if (rows == 0) {
		log_info("side %c had no agent logged in: nothing of it lost",
		    side);
		return;
	}
	db_discard(p->db, periph, first, intervals, rows, rule_tag(RULE_R1),
	    side, text);
	p->discards++;
	evt_emit(RULE_R1, "data_discarded", json_pack("{s:i, s:s, s:i, s:i, s:i, "
	    "s:s}", "peripheral", (int)periph, "side", side == 'A' ? "A" : "B",
	    "interval", (int)first, "intervals", (int)intervals, "rows",
	    (int)rows, "reason", text), "undelivered reporting data of "
	    "peripheral %u died with side %c: %u interval%s from %u, %u agent "
	    "rows", periph, side, intervals, intervals == 1 ? "" : "s", first,
	    rows);
}

/*
 * The MR peripheral goes offline: R17 when the router lost the active
 * side's link, R12 when that side lost its application (its MR PIM went
 * idle, resigned or stopped).  No agents, no reporting data: what it
 * loses is the pending NEW_TASK table (route.c).
 */
static void
router_mr_offline(struct rt_periph *p, int rule, const char *why)
{
	if (p->online || p->offline_since == 0) {
		p->online = 0;
		p->offline_since = wall_now();
		p->offline_rule = rule;
		snprintf(p->offline_reason, sizeof(p->offline_reason), "%s",
		    why);
		evt_emit(rule, "peripheral_offline", json_pack("{s:i, s:s}",
		    "peripheral", (int)p->id, "reason", why), "MR peripheral "
		    "%u offline: %s", p->id, why);
	}
	route_mr_offline(p->rt->route, rule, why);
	node_update_summary(p->node);
}

/*
 * The MR peripheral's active side holds its PIM with the current epoch:
 * online, routing (R14 after an R12 loss, R17 after an R17 one).
 */
static void
router_mr_online(struct rt_periph *p, struct rt_side *s)
{
	double	now = wall_now();
	int	rule = p->offline_since == 0 ? RULE_NONE :
	    p->offline_rule == RULE_R12 ? RULE_R14 : RULE_R17;

	p->online = 1;
	p->online_since = now;
	evt_emit(rule, "peripheral_online", json_pack("{s:i, s:s, s:f}",
	    "peripheral", (int)p->id, "side", s->side == 'A' ? "A" : "B",
	    "outage_ms", p->offline_since > 0 ? (now - p->offline_since) *
	    1000 : 0.0), "MR peripheral %u online: side %c's MR PIM routes "
	    "the application's tasks", p->id, s->side);
	route_mr_online(p->rt->route);
	node_update_summary(p->node);
}

static void
router_aftermath(struct rt_periph *p)
{
	const char	*text = p->last_loss_text;
	int		 why = p->aftermath, rows = p->aftermath_rows;
	char		 side = p->aftermath_side;

	p->aftermath = 0;
	if (p->is_mr)
		router_mr_offline(p, why == GRANT_PEER_LOST ? RULE_R17 :
		    RULE_R12, text);
	else if (why == GRANT_PEER_LOST) {
		router_discard_vanished(p, side, rows, p->aftermath_since,
		    text);
		router_offline(p, RULE_R6, REASON_CTI_FAILURE, text);
	} else if (p->online || router_logged_in(p) > 0)
		router_offline(p, why == GRANT_PEER_RESIGNED ? RULE_R6 : RULE_R2,
		    why == GRANT_PEER_RESIGNED ? REASON_CTI_FAILURE :
		    REASON_PERIPHERAL_RESTART, text);
}

/*
 * Did this router grant st's epoch to side s?  With a lab key only the
 * grant's token says so (the router may have granted an epoch above what
 * it stored just before it was killed, and an epoch it stored may have
 * been another side's): the lab key alone can make one.  Without a key a
 * side is believed.
 */
static int
router_epoch_granted(struct rt_periph *p, struct rt_side *s,
    const struct msg_pg_status *st)
{
	return auth_grant_ok(st->token, st->has_token, p->id, st->epoch,
	    s->side);
}

/* Grant the PIM to s; regrant: s holds it already, with an older epoch. */
static void
router_grant(struct rt_periph *p, struct rt_side *s, int regrant)
{
	struct wire_writer	w;
	struct msg_grant	g;
	uint32_t		periph = p->id;

	if (p->max_epoch == UINT32_MAX) {
		log_warnx("no activation epoch left: not granting");
		return;
	}
	p->max_epoch++;
	router_set_meta(p, "max_epoch", p->max_epoch);
	memset(&g, 0, sizeof(g));
	g.peripheral = periph;
	g.epoch = p->max_epoch;
	g.reason = (uint32_t)p->last_loss;
	if (regrant)
		snprintf(g.text, sizeof(g.text), "side %c still holds the PIM "
		    "with epoch %u, older than %u: a new epoch for it",
		    s->side, s->st.epoch, p->max_epoch - 1);
	else
		snprintf(g.text, sizeof(g.text), "%s", p->last_loss_text);
	if (auth_enabled()) {
		auth_grant_token(g.token, periph, g.epoch, s->side);
		g.has_token = 1;
	}
	msg_grant_encode(&w, &g);
	if (link_send(s->link, &w) == -1)
		return;
	/* Out now: the aftermath of the loss (every agent out) comes next. */
	link_flush(s->link);
	p->active = (int)(s - p->sides);
	p->epoch = g.epoch;
	s->granted = g.epoch;
	snprintf(s->grant_text, sizeof(s->grant_text), "%s", g.text);
	p->grants++;
	p->regrants += regrant;
	evt_emit(p->last_loss == GRANT_FIRST ? RULE_NONE : 5, "pim_granted",
	    json_pack("{s:i, s:s, s:i, s:s, s:b}", "peripheral", (int)periph,
	    "side", s->side == 'A' ? "A" : "B", "epoch", (int)g.epoch,
	    "reason", g.text, "regrant", regrant), "PIM %u granted to side "
	    "%c (epoch %u): %s", periph, s->side, g.epoch, g.text);
	node_update_summary(p->node);
}

/* Wait for the sides to report before judging them (a stall). */
static void
router_resettle(struct rt_periph *p, struct rt_side *s)
{
	struct timeval	tv;
	char		text[160];

	evt_emit(RULE_NONE, "router_resettle", json_pack("{s:s, s:i, s:s}",
	    "side", s->side == 'A' ? "A" : "B", "epoch", (int)p->epoch,
	    "reason", s->link->last_error), "side %c's router link went while "
	    "the router was late (%s): waiting for the sides to report, as "
	    "after a restart", s->side, s->link->last_error);
	p->active = -1;
	p->settled = 0;
	p->waiting = 0;
	p->started_ms = mono_ms();
	ms_to_tv((int)router_hold_ms(p->node), &tv);
	evtimer_add(p->ev_settle, &tv);
	/*
	 * The MR PG connection failed all the same (R17; its MR PIM told the
	 * application ROUTING_DISABLED): the pending requests go, as a
	 * restarted router has none, and come again when it routes again.
	 */
	if (p->is_mr) {
		snprintf(text, sizeof(text), "side %c's router link went while "
		    "the router was late: %s", s->side, s->link->last_error);
		router_mr_offline(p, RULE_R17, text);
	}
	node_update_summary(p->node);
}

/* The router's view of the peripheral, for the pure arbitration. */
static void
router_arb(struct rt_periph *p, struct arb *a)
{
	int	i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < 2; i++) {
		struct rt_side	*s = &p->sides[i];
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
		if (p->holder != 0 && p->holder == s->side)
			a->holder = i;
	}
	if (p->holder == 0)
		a->holder = -1;
	a->active = p->active;
	a->epoch = p->epoch;
	a->settled = p->settled;
	a->in_grace = p->in_grace;
}

/* Carry out one decision of the arbitration. */
static void
router_apply(struct rt_periph *p, const struct arb_decision *d)
{
	struct rt_side	*s = &p->sides[d->side];
	char		 text[160];

	switch (d->act) {
	case ARB_RESETTLE:
		router_resettle(p, s);
		return;
	case ARB_GRANT:
		router_grant(p, s, d->regrant);
		return;
	case ARB_LOSE:
	case ARB_DROP:
		break;
	default:
		return;
	}
	if (d->orphan && d->why == GRANT_PEER_LOST)
		snprintf(text, sizeof(text), "side %c (epoch %u) was gone when "
		    "the router came back", s->side, p->holder_epoch);
	else if (d->orphan)
		snprintf(text, sizeof(text), "side %c lost PIM %d (epoch %u) "
		    "while the router was away", s->side,
		    (int)p->id, p->holder_epoch);
	else if (d->why == GRANT_PEER_LOST)
		snprintf(text, sizeof(text), "side %c's router link went: %s",
		    s->side, s->link->last_error);
	else if (d->why == GRANT_PEER_RESIGNED)
		snprintf(text, sizeof(text), "side %c resigned", s->side);
	else
		snprintf(text, sizeof(text), "side %c's PIM went idle",
		    s->side);
	router_lose(p, s->side, d->act == ARB_DROP, d->why, text);
}

/*
 * Who holds the PIM now; called on every change.  The arbitration decides
 * one step at a time (lose, then grant); what the loss does to the data
 * and the agents follows the grant.
 */
static void
router_decide(struct rt_periph *p)
{
	struct arb		a;
	struct arb_decision	d;
	int			n;

	for (n = 0; n < 4; n++) {
		router_arb(p, &a);
		/* Only a lost link asks whether the router itself was late. */
		a.late = a.active >= 0 && !a.sides[a.active].link_up &&
		    router_late(p->rt);
		arb_decide(&a, &d);
		log_debug("arbitration of %u: %s%s side %d", p->id,
		    arb_act_names[d.act], d.regrant ? " (regrant)" : "",
		    d.side);
		if (d.act == ARB_NONE)
			break;
		router_apply(p, &d);
	}
	if (p->aftermath != 0)
		router_aftermath(p);
}

/*
 * R23 kept the non-voice MRD logins of a peripheral no PIM holds, their
 * states kept by a side's CTI server; both PG sides are gone now, that
 * one too, and nobody keeps them: the agents' PG stopped (R6, R7), they
 * are logged out with 50002, but of the email MRDs (R19).  Not left for
 * the next PIM's snapshot to log out with no rule.
 */
static void
router_media_orphaned(struct rt_periph *p, const char *why)
{
	if (p->is_mr || p->active >= 0 || !p->media_kept || p->keeper >= 0 ||
	    link_is_up(p->sides[0].link) || link_is_up(p->sides[1].link))
		return;
	router_offline(p, RULE_R6, REASON_CTI_FAILURE, why);
}

/*
 * R23 was in effect when this router last ran (router_periph_init()),
 * and in the time a side alive takes to reach a router that starts no
 * side has said it keeps the states, and no PIM serves the peripheral:
 * both sides were gone meanwhile (those up now started again, with
 * nothing to keep), nobody keeps them.
 */
static void
router_orphan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rt_periph	*p = arg;

	(void)fd;
	(void)what;
	if (p->active >= 0 || !p->media_kept || p->keeper >= 0)
		return;
	router_offline(p, RULE_R6, REASON_CTI_FAILURE, "no PG side keeps the "
	    "non-voice MRD states since the router started (R23): both "
	    "sides were gone");
}

/*
 * R23 kept these non-voice logins, and the PIM that serves the
 * peripheral now has the agents signed out of them in its snapshot: it
 * never had them (both PG sides went meanwhile, with the states).  The
 * agents' PG stopped: R6, R7 (50002), not a logout with no rule.  Not
 * the email MRDs (R19): a PIM that never had them leaves them out of
 * its snapshot; one that has them signed out was told so.
 */
static void
router_media_lost(struct rt_periph *p, const struct msg_agents *m,
    double now)
{
	uint32_t	voice = (uint32_t)p->node->cfg->voice_mrd;
	int		i, n = 0;

	for (i = 0; i < m->count; i++) {
		struct msg_agent	 ma;
		struct rt_agent		*a;

		msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN, &ma);
		if (ma.mrd == voice || agent_logged_in(ma.state) ||
		    cfg_mrd_email(p->node->cfg, (int)ma.mrd) ||
		    (a = router_agent(p, ma.id, ma.mrd)) == NULL ||
		    a->login <= 0)
			continue;
		router_agent_out(p, a, now, REASON_CTI_FAILURE,
		    rule_tag(RULE_R6));
		n++;
	}
	if (n == 0)
		return;
	evt_emit(RULE_R6, "agents_logged_out", json_pack("{s:i, s:i, s:i}",
	    "peripheral", (int)p->id, "agents", n, "reason_code",
	    REASON_CTI_FAILURE), "%d non-voice MRD logins of peripheral %u "
	    "kept (R23) are not in the snapshot of the PIM that serves it "
	    "now: its PG stopped, temporarily logged out", n, p->id);
	router_logout_reason(p, n, REASON_CTI_FAILURE);
}

/* A side's link went: every peripheral decides. */
static void
router_decide_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router	*r = arg;
	uint64_t	 t0 = mono_us();
	int		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < r->nperiphs; i++) {
		router_decide(&r->periphs[i]);
		router_media_orphaned(&r->periphs[i], "both PG sides gone: "
		    "nobody keeps the non-voice MRD states (R23)");
	}
	node_busy(r->node, "decide", t0);
}

/* The writer's answers handled: counted as the messages are. */
static void
router_db_busy(void *arg, const char *what, uint64_t since)
{
	node_busy(arg, what, since);
}

static void
router_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rt_periph	*p = arg;

	(void)fd;
	(void)what;
	p->in_grace = 0;
	router_decide(p);
}

/* Why the router waits for side w before it settles. */
static void
router_waiting_why(const struct rt_periph *p, int w, char *why, size_t len)
{
	const struct rt_side	*o = &p->sides[1 - w], *s = &p->sides[w];

	if (o->reported && o->st.peer_epoch != 0)
		snprintf(why, len, "side %c says side %c holds the PIM (epoch "
		    "%u)", o->side, s->side, o->st.peer_epoch);
	else if (o->reported)
		snprintf(why, len, "side %c says side %c, which held the PIM, "
		    "is alive", o->side, s->side);
	else
		snprintf(why, len, "side %c held the PIM (epoch %u) and "
		    "neither side has reported yet", s->side, p->holder_epoch);
}

/*
 * Settle: from now on the router judges and grants.  At start (or after a
 * stall) it waits the router hold time, or less if both sides reported;
 * for a side it is told is there (above), up to that side's reconnection
 * back-off plus twice the hold time.
 */
static void
router_try_settle(struct rt_periph *p)
{
	uint64_t	 hold = router_hold_ms(p->node);
	uint64_t	 limit = router_back_ms(p->node);
	uint64_t	 waited = mono_ms() - p->started_ms;
	struct timeval	 tv;
	struct arb	 a;
	char		 why[160];
	int		 w;

	if (p->settled)
		return;
	if (!p->sides[0].reported || !p->sides[1].reported) {
		if (waited < hold) {
			/* The timer may fire a little early on our clock. */
			if (!evtimer_pending(p->ev_settle, NULL)) {
				ms_to_tv((int)(hold - waited), &tv);
				evtimer_add(p->ev_settle, &tv);
			}
			return;
		}
		router_arb(p, &a);
		w = arb_waiting_for(&a);
		if (w != -1 && waited < limit) {
			if (!p->waiting) {
				router_waiting_why(p, w, why, sizeof(why));
				log_info("%s: waiting for it up to %llu ms",
				    why, (unsigned long long)(limit - waited));
				ms_to_tv((int)(limit - waited), &tv);
				evtimer_add(p->ev_settle, &tv);
			}
			p->waiting = p->sides[w].side;
			return;
		}
	}
	p->settled = 1;
	p->waiting = 0;
	event_del(p->ev_settle);
	log_info("settled: %s", p->active >= 0 ? "a side is active" :
	    p->holder != 0 ? "the side that held the PIM is not back" :
	    "no side active yet");
}

static void
router_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rt_periph	*p = arg;

	(void)fd;
	(void)what;
	router_try_settle(p);
	router_decide(p);
}

static void
router_status_msg(struct rt_periph *p, struct rt_side *s,
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
	router_arb(p, &a);
	if (arb_adopts(&a, (int)(s - p->sides), st, p->max_epoch,
	    p->holder_epoch) && !router_epoch_granted(p, s, st))
		log_warnx("side %c says it holds PIM %u with epoch %u, which "
		    "this router did not grant it (highest %u; no grant token "
		    "of the lab key for it): not adopted", s->side, p->id,
		    st->epoch, p->max_epoch);
	else if (arb_adopts(&a, (int)(s - p->sides), st, p->max_epoch,
	    p->holder_epoch)) {
		p->active = (int)(s - p->sides);
		p->epoch = st->epoch;
		if (st->epoch > p->max_epoch) {
			p->max_epoch = st->epoch;
			router_set_meta(p, "max_epoch", p->max_epoch);
		}
		snprintf(s->grant_text, sizeof(s->grant_text), "adopted by "
		    "the router");
		evt_emit(RULE_NONE, "pim_adopted", json_pack("{s:s, s:i}",
		    "side", s->side == 'A' ? "A" : "B", "epoch",
		    (int)st->epoch), "side %c holds PIM %d (epoch %u): "
		    "adopted", s->side, (int)p->id, st->epoch);
		/* The requests that waited for an MR PIM to answer. */
		if (p->is_mr)
			route_dispatch(p->rt->route);
	}
	/* The ACD accepted the active side's epoch: it holds the PIM. */
	if (p->active >= 0 && &p->sides[p->active] == s &&
	    PIM_STATE_HOLDS(st->pim_active) && st->epoch == p->epoch &&
	    (p->holder != s->side || p->holder_epoch != st->epoch)) {
		router_set_holder(p, s->side, st->epoch);
		/*
		 * Once per epoch: a side the router lost and adopts again
		 * with the same epoch (its router link back) was not granted
		 * anew.
		 */
		if (st->epoch > p->recorded_epoch) {
			p->recorded_epoch = st->epoch;
			router_set_meta(p, "recorded_epoch", st->epoch);
			db_activation(p->db, p->id,
			    s->side, st->epoch, s->grant_text);
		}
	}
	if (p->is_mr && !p->online && p->active >= 0 &&
	    &p->sides[p->active] == s && st->pim_active == PIM_STATE_ACTIVE &&
	    st->epoch == p->epoch)
		router_mr_online(p, s);
	router_try_settle(p);
	router_decide(p);
}

/* Is this message from the side that holds the current epoch? */
int
router_current(struct rt_periph *p, struct rt_side *s, uint32_t epoch,
    const char *what)
{
	if (p->active >= 0 && &p->sides[p->active] == s && epoch == p->epoch)
		return 1;
	p->stale_refused++;
	log_warnx("refused %s from side %c with epoch %u (active: %c, epoch "
	    "%u)", what, s->side, epoch, p->active >= 0 ?
	    p->sides[p->active].side : '-', p->epoch);
	return 0;
}

/*
 * One agent record into the real-time table and the history (logins,
 * logouts, not ready); 1 if the agent became available there.
 */
static int
router_agent_rec(struct rt_periph *p, const struct msg_agent *ma, int kind,
    double now)
{
	struct rt_agent		*a;
	struct db_key		 k;
	int			 available;

	if ((a = router_agent(p, ma->id, ma->mrd)) == NULL)
		return 0;
	k.peripheral = p->id;
	k.agent = a->id;
	k.mrd = a->mrd;
	if (a->login <= 0 && agent_logged_in(ma->state)) {
		a->login = now;
		db_event(p->db, &k, now, now,
		    DB_EVENT_LOGIN, ma->state, 0, 0,
		    rule_tag(kind == AGENTS_RELOGIN ? RULE_R8 :
		    kind == AGENTS_SNAPSHOT ? RULE_R4 : RULE_NONE));
	} else if (a->login > 0 && !agent_logged_in(ma->state)) {
		db_logout(p->db, &k, a->login, now, ma->reason, NULL);
		a->login = 0;
	}
	if (ma->state == AS_NOT_READY && a->state != AS_NOT_READY)
		db_event(p->db, &k, now, a->login,
		    DB_EVENT_NOT_READY, ma->state, ma->reason, 0, NULL);
	available = ma->state == AS_AVAILABLE && a->state != AS_AVAILABLE;
	a->state = ma->state;
	a->before_call = ma->before_call;
	a->since = now - ma->ms_in_state / 1000.0;
	a->reason = ma->reason;
	return available;
}

/* The side keeping a peripheral's non-voice MRD states (R23), or NULL. */
struct rt_side *
router_keeper(struct rt_periph *p)
{
	if (p->active >= 0 || p->keeper < 0 ||
	    !link_is_up(p->sides[p->keeper].link))
		return NULL;
	return &p->sides[p->keeper];
}

/*
 * R23: no side holds the voice PIM; the side whose CTI server is active
 * keeps the agents' non-voice MRD states and reports them (epoch 0).
 * Their records are taken (voice ones are not: voice waits for a PIM),
 * and that side gets the PRECALLs of the tasks routed to them.
 */
static void
router_keeper_msg(struct rt_periph *p, struct rt_side *s,
    const struct msg_agents *m)
{
	uint32_t	voice = (uint32_t)p->node->cfg->voice_mrd;
	double		now = wall_now();
	int		i, available = 0;

	if (p->keeper != (int)(s - p->sides)) {
		p->keeper = (int)(s - p->sides);
		log_info("[R23] side %c keeps the non-voice MRD states of "
		    "peripheral %u: tasks routed to its agents go through it",
		    s->side, p->id);
	}
	for (i = 0; i < m->count; i++) {
		struct msg_agent ma;

		msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN, &ma);
		if (ma.mrd != voice)
			available += router_agent_rec(p, &ma, AGENTS_CHANGE,
			    now);
	}
	/*
	 * A router started again while R23 was in effect learns it here:
	 * if the keeper goes too, router_media_orphaned() logs them out.
	 */
	if (!p->online)
		router_media_kept(p, router_media_open(p, 1));
	if (available > 0 && p->rt->route != NULL)
		route_dispatch(p->rt->route);
}

/*
 * R23: the peripheral online again after a voice PIM went with its
 * agents' non-voice logins kept: voice routing is back.
 */
static void
router_voice_back(struct rt_periph *p)
{
	uint32_t	voice = (uint32_t)p->node->cfg->voice_mrd;
	int		i, v = 0, o = 0;

	p->keeper = -1;
	if (!p->media_kept)
		return;
	p->media_kept = 0;
	for (i = 0; i < p->nagents; i++)
		if (p->agents[i].login > 0) {
			v += p->agents[i].mrd == voice;
			o += p->agents[i].mrd != voice;
		}
	evt_emit(RULE_R23, "voice_back", json_pack("{s:i, s:i, s:i}",
	    "peripheral", (int)p->id, "voice", v, "media", o), "peripheral "
	    "%u: voice routing back (%d agents logged in to voice); the "
	    "non-voice MRD logins were kept all along (%d)", p->id, v, o);
}

static void
router_agents_msg(struct rt_periph *p, struct rt_side *s,
    const struct msg_agents *m)
{
	uint32_t	periph = p->id;
	double		now = wall_now();
	int		i, available = 0;

	if (m->epoch == 0 && !p->is_mr && p->active < 0) {
		router_keeper_msg(p, s, m);
		return;
	}
	/*
	 * R23: a side that saw the PIM go before this router did: its
	 * states are the PIM's of a moment ago; it keeps them from now on.
	 */
	if (m->epoch == 0 && !p->is_mr && &p->sides[p->active] != s) {
		p->keeper = (int)(s - p->sides);
		log_debug("side %c keeps the non-voice MRD states of "
		    "peripheral %u (its PIM still active here)", s->side,
		    p->id);
		return;
	}
	if (!router_current(p, s, m->epoch, "agent states"))
		return;
	if (p->media_kept && m->kind != AGENTS_CHANGE)
		router_media_lost(p, m, now);
	for (i = 0; i < m->count; i++) {
		struct msg_agent ma;

		msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN, &ma);
		available += router_agent_rec(p, &ma, m->kind, now);
	}
	/* An agent who becomes available takes the oldest request. */
	if (m->kind == AGENTS_CHANGE || !m->last || p->online) {
		if (available > 0 && p->rt->route != NULL)
			route_dispatch(p->rt->route);
		return;
	}
	p->online = 1;
	p->online_since = now;
	if (m->kind == AGENTS_RELOGIN)
		evt_emit(RULE_R8, "peripheral_online", json_pack("{s:i, s:i, s:f}",
		    "peripheral", (int)periph, "agents", router_logged_in(p),
		    "outage_ms", p->offline_since > 0 ?
		    (now - p->offline_since) * 1000 : 0.0),
		    "peripheral %u online: %d agents logged back in, in the "
		    "states side %c gave them by Table 1", periph,
		    router_logged_in(p), s->side);
	else
		evt_emit(p->offline_since > 0 ? RULE_R4 : RULE_NONE,
		    "peripheral_online", json_pack("{s:i, s:i, s:f}",
		    "peripheral", (int)periph, "agents", router_logged_in(p),
		    "outage_ms", p->offline_since > 0 ?
		    (now - p->offline_since) * 1000 : 0.0),
		    "peripheral %u online: real-time state of %d agents from "
		    "the ACD snapshot%s", periph, router_logged_in(p),
		    p->offline_since > 0 ? "; the outage intervals stay "
		    "incomplete" : "");
	router_voice_back(p);
	node_update_summary(p->node);
	/*
	 * Requests that came before the peripheral was online waited for
	 * it (route_pick() takes agents of an online peripheral only).
	 */
	if (p->rt->route != NULL)
		route_dispatch(p->rt->route);
}

/*
 * Answer a record of a peripheral's PIM: ACK_STORED, ACK_REFUSED or
 * ACK_NOT_STORED (wire.h).
 */
static void
router_ack(struct link *l, uint32_t periph, uint32_t seq, int flags,
    const char *text)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	memset(&e, 0, sizeof(e));
	e.a = seq;
	e.peripheral = periph;
	e.flags = (uint8_t)flags;
	snprintf(e.text, sizeof(e.text), "%s", text);
	msg_epoch_encode(&w, MSG_DELIVERY_ACK, &e);
	link_send(l, &w);
}

/* The history database did not take a record: the side keeps it. */
static void
router_not_stored(struct rt_periph *p, struct rt_side *s, uint32_t seq,
    const char *what, const char *why)
{
	char	text[128];

	p->records_not_stored++;
	log_debug("%s (seq %u) from side %c not stored: %s", what, seq,
	    s->side, why);
	snprintf(text, sizeof(text), "history database: %s", why);
	router_ack(s->link, p->id, seq, ACK_NOT_STORED, text);
}

/* A record for the writer: whose it is, for the answer. */
static struct rt_record *
router_record(struct rt_periph *p, struct rt_side *s)
{
	struct rt_record	*rec = xcalloc(1, sizeof(*rec));

	rec->p = p;
	rec->s = s;
	return rec;
}

/*
 * A record came back from the writer: 0 if it was stored (the caller
 * answers the side and frees rec); -1 if not, the side told so (or the
 * router stops), rec freed.
 */
static int
router_record_back(struct rt_record *rec, const struct db_result *r,
    uint32_t seq, const char *what)
{
	if (!r->closing && r->rc == -1)
		router_not_stored(rec->p, rec->s, seq, what, r->error);
	if (!r->closing && r->rc != -1)
		return 0;
	free(rec);
	return -1;
}

/* The loss of a refused interval is recorded, or not: answer the side. */
static void
router_refusal_done(void *arg, const struct db_result *r)
{
	struct rt_record		*rec = arg;
	struct rt_periph		*p = rec->p;
	struct rt_side			*s = rec->s;
	const struct msg_interval	*iv = r->iv;

	if (router_record_back(rec, r, iv->seq, "refused interval") == -1)
		return;
	if (r->rc == 1) {
		p->discards++;
		p->records_refused++;
		p->rows_refused += iv->count;
		evt_emit(RULE_R1, "data_discarded", json_pack("{s:i, s:s, s:i, s:i, "
		    "s:i, s:i, s:s}", "peripheral", (int)p->id, "side",
		    s->side == 'A' ? "A" : "B", "intervals", 1, "rows",
		    (int)iv->count, "start", (int)iv->start, "seq",
		    (int)iv->seq, "reason", rec->why), "reporting data of "
		    "peripheral %u from side %c lost: interval %u, %u agent "
		    "rows (%s)", p->id, s->side, iv->start, iv->count,
		    rec->why);
	} else
		log_debug("interval %u (seq %u) from side %c %s; its loss was "
		    "recorded already", iv->start, iv->seq, s->side, rec->why);
	router_ack(s->link, iv->peripheral, iv->seq, ACK_REFUSED, rec->why);
	free(rec);
}

/*
 * An interval the router does not take (not from the PIM that holds the
 * peripheral): its rows are lost.  The router records that loss itself,
 * once (R1, pgemu_discard keyed by side, epoch and seq), then tells the
 * side, which forgets the record and counts it refused.
 */
static void
router_refuse_interval(struct rt_periph *p, struct rt_side *s,
    const struct msg_interval *iv)
{
	uint32_t	 periph = p->id;
	struct rt_record *rec;
	char		 why[128];

	if (iv->peripheral != periph)
		snprintf(why, sizeof(why), "refused: peripheral %u is not %u",
		    iv->peripheral, periph);
	else if (iv->side != (uint8_t)s->side)
		snprintf(why, sizeof(why), "refused: an interval of side %c on "
		    "the link of side %c", iv->side >= 0x20 && iv->side < 0x7f ?
		    iv->side : '?', s->side);
	else if (iv->epoch > p->max_epoch)
		snprintf(why, sizeof(why), "refused: epoch %u was never "
		    "granted (highest %u)", iv->epoch, p->max_epoch);
	else
		snprintf(why, sizeof(why), "refused: stale epoch %u (current "
		    "%u, side %c active)", iv->epoch, p->epoch, p->active >= 0 ?
		    p->sides[p->active].side : '-');
	p->stale_refused++;
	rec = router_record(p, s);
	snprintf(rec->why, sizeof(rec->why), "%s", why);
	db_put_refusal(p->db, periph, iv, s->side, why, router_refusal_done,
	    rec);
}

/* An interval's rows are committed, or not: answer the side. */
static void
router_interval_done(void *arg, const struct db_result *r)
{
	struct rt_record		*rec = arg;
	struct rt_periph		*p = rec->p;
	struct rt_side			*s = rec->s;
	const struct msg_interval	*iv = r->iv;

	if (router_record_back(rec, r, iv->seq, "interval") == -1)
		return;
	if (iv->start > p->last_stored)
		p->last_stored = iv->start;
	p->rows_stored += (uint64_t)r->rc;
	p->rows_duplicate += (uint64_t)(iv->count - r->rc);
	evt_emit(RULE_NONE, "interval_stored", json_pack("{s:i, s:i, s:i, "
	    "s:i, s:b, s:s}", "seq", (int)iv->seq, "start", (int)iv->start,
	    "rows", r->rc, "duplicates", iv->count - r->rc, "incomplete",
	    iv->incomplete, "side", s->side == 'A' ? "A" : "B"),
	    "interval %u (seq %u) from side %c: %d rows stored, %d already "
	    "there%s", iv->start, iv->seq, s->side, r->rc, iv->count - r->rc,
	    iv->incomplete ? ", incomplete" : "");
	router_ack(s->link, p->id, iv->seq, ACK_STORED, "");
	free(rec);
}

/*
 * Store an interval's rows, all or none, at the history database's
 * writer; acknowledge once committed (router_interval_done).  The writer
 * too far behind: "not stored" at once.
 */
static void
router_interval_msg(struct rt_periph *p, struct rt_side *s,
    const struct msg_interval *iv)
{
	struct rt_record	*rec;
	const char		*why;

	/*
	 * The active side's own older epochs are its data too (it was
	 * given a new epoch while it held the PIM); another side's older
	 * epoch is a PIM that no longer holds the peripheral.
	 */
	if ((iv->epoch < p->epoch && (p->active < 0 ||
	    &p->sides[p->active] != s)) || iv->epoch > p->max_epoch ||
	    iv->side != (uint8_t)s->side ||
	    iv->peripheral != p->id) {
		router_refuse_interval(p, s, iv);
		return;
	}
	rec = router_record(p, s);
	if (db_put_interval(p->db, iv, wall_now(), router_interval_done, rec,
	    &why) == -1) {
		free(rec);
		router_not_stored(p, s, iv->seq, "interval", why);
	}
}

/*
 * The peripheral a message names.  Unknown: NULL, and with err, why (the
 * message is bad).
 */
struct rt_periph *
router_periph(struct router *r, uint32_t id, const struct wire_msg *m,
    char *err, size_t errlen)
{
	int	i;

	for (i = 0; i < r->nperiphs; i++)
		if (r->periphs[i].id == id)
			return &r->periphs[i];
	if (err != NULL)
		snprintf(err, errlen, "%s: no peripheral %u in this lab",
		    wire_type_name(m->type), id);
	return NULL;
}

/* The peripheral a message names, on a link of side s; NULL: why. */
static struct rt_periph *
router_msg_periph(struct role_msg_in *in, uint32_t id, struct rt_side **s)
{
	struct router		*r = in->node->role_data;
	struct rt_periph	*p;

	if ((p = router_periph(r, id, in->msg, in->err,
	    sizeof(in->err))) != NULL)
		*s = router_side(p, in->link);
	return p != NULL && *s != NULL ? p : NULL;
}

static int
router_msg_status(struct role_msg_in *in, const union msg_body *b)
{
	struct rt_periph	*p;
	struct rt_side		*s;

	if ((p = router_msg_periph(in, b->pg_status.peripheral, &s)) == NULL)
		return -1;
	router_status_msg(p, s, &b->pg_status);
	return 0;
}

static int
router_msg_agents(struct role_msg_in *in, const union msg_body *b)
{
	struct rt_periph	*p;
	struct rt_side		*s;

	if ((p = router_msg_periph(in, b->agents.peripheral, &s)) == NULL)
		return -1;
	if (p->is_mr) {
		snprintf(in->err, sizeof(in->err), "AGENT_STATES: peripheral "
		    "%u is the MR peripheral, which has no agents", p->id);
		return -1;
	}
	router_agents_msg(p, s, &b->agents);
	return 0;
}

/* Another peripheral's interval is refused, its loss kept, as before. */
static int
router_msg_interval(struct role_msg_in *in, const union msg_body *b)
{
	struct router		*r = in->node->role_data;
	struct rt_periph	*p;

	if ((p = router_periph(r, b->interval.peripheral, in->msg, NULL,
	    0)) == NULL)
		p = &r->periphs[0];
	router_interval_msg(p, router_side(p, in->link), &b->interval);
	return 0;
}

/* A side's loss record is stored, or not: answer the side. */
static void
router_discard_done(void *arg, const struct db_result *r)
{
	struct rt_record	*rec = arg;

	if (router_record_back(rec, r, rec->d.seq, "loss record") == -1)
		return;
	router_ack(rec->s->link, rec->p->id, rec->d.seq, ACK_STORED, "");
	free(rec);
}

static int
router_msg_discard(struct role_msg_in *in, const union msg_body *b)
{
	struct router			*r = in->node->role_data;
	const struct msg_discard	*d = &b->discard;
	struct rt_periph		*p;
	struct rt_side			*s = router_side(&r->periphs[0],
	    in->link);
	struct rt_record		*rec;

	p = router_periph(r, d->peripheral, in->msg, NULL, 0);
	if (d->side != (uint8_t)s->side || d->rule != RULE_R1 || p == NULL) {
		snprintf(in->err, sizeof(in->err), "DISCARD: side 0x%02x, "
		    "rule %u, peripheral %u on the link of side %c", d->side,
		    d->rule, d->peripheral, s->side);
		return -1;
	}
	/*
	 * The loss is told as it arrives, in the order of the side's
	 * messages (its deletion before its peripheral offline), once: a
	 * record sent again after "not stored" is not told again.
	 */
	s = router_side(p, in->link);
	if (s->loss_seq != d->seq + 1) {
		s->loss_seq = d->seq + 1;
		p->discards++;
		evt_emit((int)d->rule, "data_discarded", json_pack("{s:i, s:s, "
		    "s:i, s:i, s:s}", "peripheral", (int)d->peripheral, "side",
		    d->side == 'A' ? "A" : "B", "intervals", (int)d->intervals,
		    "rows", (int)d->rows, "reason", d->text), "side %c deleted "
		    "undelivered reporting data of peripheral %u: %u intervals, "
		    "%u rows (%s)", d->side, d->peripheral, d->intervals,
		    d->rows, d->text);
	}
	rec = router_record(p, s);
	rec->d = *d;
	db_put_discard(p->db, d, rule_tag(RULE_R1), router_discard_done, rec);
	return 0;
}

static int
router_msg_offline(struct role_msg_in *in, const union msg_body *b)
{
	const struct msg_periph_offline	*o = &b->offline;
	struct rt_periph		*p;
	struct rt_side			*s;

	if ((p = router_msg_periph(in, o->peripheral, &s)) == NULL)
		return -1;
	if (o->rule != RULE_R2 && o->rule != RULE_R6) {
		snprintf(in->err, sizeof(in->err), "PERIPH_OFFLINE: rule %u "
		    "is neither R2 nor R6", o->rule);
		return -1;
	}
	if (router_current(p, s, o->epoch, "peripheral offline"))
		router_offline(p, (int)o->rule, o->reason_code, o->text);
	return 0;
}

/* A side's router link: what it had said of each peripheral is void. */
static void
router_link_up(struct node *n, struct link *l)
{
	struct router	*r = n->role_data;
	struct rt_side	*s;
	int		 i;

	for (i = 0; i < r->nperiphs; i++)
		if ((s = router_side(&r->periphs[i], l)) != NULL) {
			s->reported = 0;
			s->granted = 0;
		}
}

static void
router_link_down(struct node *n, struct link *l, const char *why)
{
	struct router	*r = n->role_data;
	struct rt_side	*s;
	int		 i;

	(void)why;
	for (i = 0; i < r->nperiphs; i++)
		if ((s = router_side(&r->periphs[i], l)) != NULL) {
			s->reported = 0;
			s->granted = 0;
			if (r->periphs[i].keeper == (int)(s -
			    r->periphs[i].sides))
				r->periphs[i].keeper = -1;	/* R23 */
		}
	/*
	 * Decide once the loop has read what else is pending: when both
	 * sides die at once, the other side's end is read first, and the
	 * PIM is not granted to a side that is already gone.
	 */
	if (router_side(&r->periphs[0], l) != NULL)
		event_active(r->ev_decide, 0, 0);
}

static void
router_session_cb(void *arg, uint32_t agent, uint32_t mrd, double login)
{
	struct rt_periph	*p = arg;
	struct rt_agent		*a = router_agent(p, agent, mrd);

	if (a == NULL)
		return;
	a->login = login;
	a->state = AS_UNKNOWN;
}

/*
 * The real-time table: every agent in the lab's voice MRD, and in each
 * MRD its desktop signs in to.
 */
static void
router_agents_init(struct rt_periph *p, const struct cfg_periph *cp)
{
	uint32_t	voice = (uint32_t)p->node->cfg->voice_mrd;
	int		i, k, n = 0;

	for (i = 0; i < cp->nagents; i++)
		n += 1 + cp->agents[i].nmrds;
	p->agents = xcalloc((size_t)n, sizeof(*p->agents));
	for (i = 0; i < cp->nagents; i++) {
		const struct cfg_agent *ca = &cp->agents[i];

		p->agents[p->nagents].id = (uint32_t)ca->id;
		p->agents[p->nagents].mrd = voice;
		p->agents[p->nagents++].state = AS_LOGOUT;
		for (k = 0; k < ca->nmrds; k++) {
			if ((uint32_t)ca->mrds[k] == voice)
				continue;
			p->agents[p->nagents].id = (uint32_t)ca->id;
			p->agents[p->nagents].mrd = (uint32_t)ca->mrds[k];
			p->agents[p->nagents++].state = AS_LOGOUT;
		}
	}
	qsort(p->agents, (size_t)p->nagents, sizeof(*p->agents),
	    router_agent_cmp);
	/* An MRD listed twice for one agent: keep one entry. */
	for (i = k = 0; i < p->nagents; i++)
		if (k == 0 || router_agent_cmp(&p->agents[k - 1],
		    &p->agents[i]) != 0)
			p->agents[k++] = p->agents[i];
	p->nagents = k;
}

/* One peripheral of the lab: its state kept in the database, its agents. */
static void
router_periph_init(struct router *r, struct rt_periph *p,
    const struct cfg_periph *cp, int first)
{
	struct node	*n = r->node;
	struct timeval	 tv;
	char		 key[64];
	int		 i, kept;

	p->rt = r;
	p->node = n;
	p->db = r->db;
	p->id = (uint32_t)cp->id;
	snprintf(p->name, sizeof(p->name), "%s", cp->name);
	if (!first)
		snprintf(p->key_suffix, sizeof(p->key_suffix), ".%u", p->id);
	p->active = -1;
	p->keeper = -1;
	p->last_loss = GRANT_FIRST;
	snprintf(p->last_loss_text, sizeof(p->last_loss_text),
	    "first side to reach the %s", p->is_mr ? "application" : "ACD");
	p->max_epoch = (uint32_t)db_get_meta(p->db, router_key(p,
	    "max_epoch", key, sizeof(key)), 0);
	p->holder = (char)db_get_meta(p->db, router_key(p, "holder_side",
	    key, sizeof(key)), 0);
	p->holder_epoch = (uint32_t)db_get_meta(p->db, router_key(p,
	    "holder_epoch", key, sizeof(key)), 0);
	p->holder_since = (double)db_get_meta(p->db, router_key(p,
	    "holder_since_ms", key, sizeof(key)), 0) / 1000;
	p->recorded_epoch = (uint32_t)db_get_meta(p->db, router_key(p,
	    "recorded_epoch", key, sizeof(key)), 0);
	if (p->holder != 'A' && p->holder != 'B')
		p->holder = 0;
	router_agents_init(p, cp);
	/* Sessions left open by the last run: still open until judged. */
	db_open_sessions(p->db, p->id, router_session_cb, p);
	p->last_stored = db_last_interval(p->db, p->id);
	if (p->holder != 0)
		log_info("side %c held PIM %u (epoch %u) when the router last "
		    "ran; %d login sessions open", p->holder, p->id,
		    p->holder_epoch, router_logged_in(p));
	else if (!p->is_mr && (kept = router_media_open(p, 0)) > 0) {
		/* No PIM, non-voice logins open (but email): R23 was on. */
		p->media_kept = 1;
		log_info("[R23] no PIM held peripheral %u when the router "
		    "last ran; %d non-voice MRD logins kept", p->id, kept);
	}
	for (i = 0; i < 2; i++) {
		p->sides[i].side = i == 0 ? 'A' : 'B';
		p->sides[i].link = r->links[i];
	}
	p->ev_settle = evtimer_new(n->base, router_settle_cb, p);
	p->ev_grace = evtimer_new(n->base, router_grace_cb, p);
	p->ev_orphan = evtimer_new(n->base, router_orphan_cb, p);
	p->started_ms = mono_ms();
	ms_to_tv((int)router_hold_ms(n), &tv);
	evtimer_add(p->ev_settle, &tv);
	if (p->media_kept) {
		ms_to_tv((int)router_back_ms(n), &tv);
		evtimer_add(p->ev_orphan, &tv);
	}
}

static int
router_init(struct node *n, char *err, size_t errlen)
{
	struct router	*r = xcalloc(1, sizeof(*r));
	struct timeval	 tv;
	int		 i;

	r->node = n;
	n->role_data = r;
	if ((r->db = db_open(n->base, n->cfg->history_db, DB_QUEUE_ROWS,
	    n->cfg->voice_mrd, err, errlen)) == NULL)
		return -1;
	db_on_busy(r->db, router_db_busy, n);
	if (db_lost_last_run(r->db) > 0)
		evt_emit(RULE_NONE, "history_lost", json_pack("{s:I}", "rows",
		    (json_int_t)db_lost_last_run(r->db)), "history database: "
		    "the router's last run queued %llu rows to be written "
		    "behind and never wrote them (logins, logouts and state "
		    "changes, each its Agent_Logout, Agent_Event_Detail and "
		    "pgemu_session rows; its own: losses, activations, meta, "
		    "tasks): lost, recorded in pgemu_discard (Rule none)",
		    (unsigned long long)db_lost_last_run(r->db));
	/* The lab has one pg node of each side: every peripheral's sides. */
	for (i = 0; i < 2; i++) {
		const struct cfg_node *pg = cfg_node_role(n->cfg, ROLE_PG,
		    i == 0 ? 'A' : 'B');

		r->links[i] = node_new_link(n, pg->name, pg, LINK_KIND_ROUTER,
		    0);
	}
	r->nvoice = n->cfg->nperiphs;
	r->periphs = xcalloc((size_t)r->nvoice + 1, sizeof(*r->periphs));
	for (i = 0; i < r->nvoice; i++)
		router_periph_init(r, &r->periphs[r->nperiphs++],
		    &n->cfg->periphs[i], i == 0);
	if (n->cfg->mr.enabled) {
		struct cfg_periph mr;

		memset(&mr, 0, sizeof(mr));
		mr.id = n->cfg->mr.peripheral;
		snprintf(mr.name, sizeof(mr.name), "%s", n->cfg->mr.name);
		r->mr = &r->periphs[r->nperiphs++];
		r->mr->is_mr = 1;
		router_periph_init(r, r->mr, &mr, 0);
		r->route = route_new(r);
	}
	r->ev_decide = event_new(n->base, -1, 0, router_decide_cb, r);
	r->ev_tick = event_new(n->base, -1, EV_PERSIST, router_tick_cb, r);
	ms_to_tv(ROUTER_TICK_MS, &tv);
	event_add(r->ev_tick, &tv);
	r->last_tick_ms = mono_ms();
	return node_listen(n, "router", n->self->port, err, errlen);
}

/* Also after an init that failed half way: what was not made is NULL. */
static void
router_fini(struct node *n)
{
	struct router	*r = n->role_data;
	int		 i;

	route_free(r->route);
	for (i = 0; i < r->nperiphs; i++) {
		struct rt_periph *p = &r->periphs[i];

		if (p->ev_settle != NULL)
			event_free(p->ev_settle);
		if (p->ev_grace != NULL)
			event_free(p->ev_grace);
		if (p->ev_orphan != NULL)
			event_free(p->ev_orphan);
		free(p->agents);
	}
	free(r->periphs);
	db_close(r->db);
	if (r->ev_decide != NULL)
		event_free(r->ev_decide);
	if (r->ev_tick != NULL)
		event_free(r->ev_tick);
	free(r);
	n->role_data = NULL;
}

static json_t *
router_peripheral_json(struct rt_periph *p)
{
	json_t	*sides = json_array(), *j;
	int	 i;

	for (i = 0; i < 2; i++) {
		struct rt_side *s = &p->sides[i];

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
	j = json_pack("{s:i, s:s, s:b, s:s?, s:I, s:I, s:s?, s:I, s:s, "
	    "s:i, s:b, s:o}",
	    "id", (int)p->id,
	    "name", p->name,
	    "online", p->online,
	    "active_side", p->active >= 0 ?
	    (p->sides[p->active].side == 'A' ? "A" : "B") : NULL,
	    "epoch", (json_int_t)p->epoch,
	    "max_epoch", (json_int_t)p->max_epoch,
	    "holder", p->holder == 0 ? NULL : p->holder == 'A' ? "A" : "B",
	    "holder_epoch", (json_int_t)p->holder_epoch,
	    "offline_reason", p->online ? "" : p->offline_reason,
	    "agents_logged_in", router_logged_in(p),
	    "settled", p->settled,
	    "sides", sides);
	/* R23: who keeps the non-voice MRD states while no side is active. */
	json_object_set_new(j, "media_keeper", router_keeper(p) != NULL ?
	    json_string(router_keeper(p)->side == 'A' ? "A" : "B") :
	    json_null());
	json_object_set_new(j, "media_kept", json_boolean(p->media_kept));
	return j;
}

static json_t *
router_agent_json(const struct rt_periph *p, const struct rt_agent *a)
{
	return json_pack("{s:i, s:i, s:s, s:b, s:f, s:s, s:i, s:i}", "id",
	    (int)a->id, "mrd", (int)a->mrd, "state",
	    agent_state_name(a->state), "logged_in",
	    a->login > 0, "seconds_in_state", a->since > 0 ? wall_now() -
	    a->since : 0.0, "before_call", agent_state_name(a->before_call),
	    "reason", (int)a->reason, "peripheral", (int)p->id);
}

/* The counters of every peripheral, summed, and the router's own. */
static json_t *
router_counters_json(const struct router *r)
{
	struct rt_periph	t;
	int			i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < r->nperiphs; i++) {
		const struct rt_periph *p = &r->periphs[i];

		t.grants += p->grants;
		t.stale_refused += p->stale_refused;
		t.rows_stored += p->rows_stored;
		t.rows_duplicate += p->rows_duplicate;
		t.discards += p->discards;
		t.grants_unused += p->grants_unused;
		t.regrants += p->regrants;
		t.records_refused += p->records_refused;
		t.rows_refused += p->rows_refused;
		t.records_not_stored += p->records_not_stored;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I}", "grants", (json_int_t)t.grants,
	    "stale_refused", (json_int_t)t.stale_refused, "rows_stored",
	    (json_int_t)t.rows_stored, "rows_duplicate",
	    (json_int_t)t.rows_duplicate, "discards",
	    (json_int_t)t.discards, "stalls", (json_int_t)r->stalls,
	    "grants_unused", (json_int_t)t.grants_unused, "regrants",
	    (json_int_t)t.regrants, "records_refused",
	    (json_int_t)t.records_refused, "rows_refused",
	    (json_int_t)t.rows_refused, "records_not_stored",
	    (json_int_t)t.records_not_stored, "session_rows_waiting",
	    (json_int_t)db_pending(r->db), "interval_rows_waiting",
	    (json_int_t)db_queued_rows(r->db), "rows_lost_last_run",
	    (json_int_t)db_lost_last_run(r->db));
}

static json_t *
router_peripherals_json(struct router *r)
{
	json_t	*a = json_array();
	int	 i;

	for (i = 0; i < r->nperiphs; i++)
		json_array_append_new(a, router_peripheral_json(
		    &r->periphs[i]));
	return a;
}

/* The first peripheral as "peripheral", as in a lab of one; all too. */
static void
router_status(struct node *n, json_t *j)
{
	struct router	*r = n->role_data;

	json_object_set_new(j, "peripheral", router_peripheral_json(
	    &r->periphs[0]));
	json_object_set_new(j, "peripherals", router_peripherals_json(r));
	json_object_set_new(j, "counters", router_counters_json(r));
	if (r->mr != NULL) {
		json_t	*mr = router_peripheral_json(r->mr);

		json_object_set_new(mr, "tasks", route_counts_json(r->route));
		json_object_set_new(j, "media_routing", mr);
	}
	json_object_set_new(j, "history_db", json_string(n->cfg->history_db));
}

static int
router_cmd_peripherals(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	(void)argc;
	(void)argv;
	res->data = router_peripherals_json(n->role_data);
	return 0;
}

static int
router_cmd_agents(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct router	*r = n->role_data;
	int		 i, k;

	(void)argc;
	(void)argv;
	res->data = json_array();
	for (k = 0; k < r->nperiphs; k++)
		for (i = 0; i < r->periphs[k].nagents; i++)
			json_array_append_new(res->data, router_agent_json(
			    &r->periphs[k], &r->periphs[k].agents[i]));
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

/* The lab file was read again: media routing's MRDs and routes. */
static void
router_reload(struct node *n, const struct cfg *old)
{
	struct router	*r = n->role_data;

	(void)old;
	if (r->route != NULL)
		route_reload(r->route);
}

/* pgemuctl router tasks */
static int
router_cmd_tasks(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct router	*r = n->role_data;

	(void)argc;
	(void)argv;
	if (r->route == NULL) {
		snprintf(res->err, sizeof(res->err), "tasks: this lab routes "
		    "no media (it has no app node)");
		return -1;
	}
	res->data = route_json(r->route);
	return 0;
}

/* One peripheral as in a lab of one; several: how many are online. */
static void
router_summary(struct node *n, char *buf, size_t len)
{
	struct router		*r = n->role_data;
	struct rt_periph	*p = r != NULL ? &r->periphs[0] : NULL;
	int			 i, on = 0;

	if (r != NULL && r->nvoice > 1) {
		for (i = 0; i < r->nvoice; i++)
			on += r->periphs[i].online;
		snprintf(buf, len, "router: %d peripherals, %d online",
		    r->nvoice, on);
	} else if (p == NULL || p->active < 0)
		snprintf(buf, len, "router: peripheral %d %s, no active side",
		    n->cfg->peripheral_id, p && p->online ? "online" :
		    "offline");
	else
		snprintf(buf, len, "router: peripheral %d %s, side %c active "
		    "(epoch %u)", n->cfg->peripheral_id, p->online ? "online" :
		    "offline", p->sides[p->active].side, p->epoch);
}

static const struct cmd router_cmds[] = {
	{ "peripherals", "", 0, 0, router_cmd_peripherals,
	  "every peripheral: online or not, active side, epoch" },
	{ "agents", "", 0, 0, router_cmd_agents,
	  "the real-time agent table, with each agent's peripheral" },
	{ "intervals", "[N]", 0, 1, router_cmd_intervals,
	  "the last N Agent_Interval rows (default 100)" },
	{ "tasks", "", 0, 0, router_cmd_tasks,
	  "media routing: the queued requests, the tasks, their counts" },
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
	{ MSG_ROUTE_TASK, LINK_KIND_ROUTER, msg_task_body, route_msg_task },
	{ MSG_TASK_EVENT, LINK_KIND_ROUTER, msg_task_body, route_msg_event },
	{ 0, 0, NULL, NULL }
};

const struct role_ops router_ops = {
	.init = router_init,
	.fini = router_fini,
	.cmds = router_cmds,
	.msgs = router_msgs,
	.status = router_status,
	.reload = router_reload,
	.link_up = router_link_up,
	.link_down = router_link_down,
	.summary = router_summary,
};
