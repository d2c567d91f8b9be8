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
};

struct router {
	struct node	*node;
	struct db	*db;
	struct rt_side	 sides[2];
	int		 active;	/* index into sides, or -1 */
	uint32_t	 epoch;		/* of the active side */
	uint32_t	 max_epoch;
	int		 last_loss;	/* GRANT_* of the next grant */
	int		 aftermath;	/* GRANT_* of a loss not applied yet */
	char		 aftermath_side;
	int		 aftermath_rows;
	char		 last_loss_text[160];
	int		 online;
	double		 online_since, offline_since;
	char		 offline_reason[160];
	struct rt_agent	*agents;
	int		 nagents;
	int		 settled;
	uint64_t	 started_ms;
	struct event	*ev_settle;
	int		 in_grace;	/* wait before granting: see below */
	struct event	*ev_grace;
	uint64_t	 stale_refused, rows_stored, rows_duplicate;
	uint64_t	 grants, discards;
};

/*
 * When the active side's PIM goes idle, the ACD may have died: the other
 * side is about to lose its ACD link too, and its last status is stale.
 * Wait this long for its news before granting.
 */
#define ROUTER_IDLE_GRACE_MS	100

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
	return bsearch(&id, r->agents, (size_t)r->nagents, sizeof(*r->agents), cmp_u32_key);
}

static int
router_logged_in(const struct router *r)
{
	int	i, n = 0;

	for (i = 0; i < r->nagents; i++)
		n += r->agents[i].login > 0;
	return n;
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
	const char	*rtag = rule == 6 ? "R6" : "R3";

	if (r->online || r->offline_since == 0) {
		r->online = 0;
		r->offline_since = now;
		snprintf(r->offline_reason, sizeof(r->offline_reason), "%s",
		    why);
		evt_emit(2, "peripheral_offline", json_pack("{s:i, s:s}",
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
	if (rule == 6) {
		evt_emit(6, "agents_logged_out", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)periph, "agents", n, "reason_code",
		    (int)code), "%d agents of peripheral %u temporarily logged "
		    "out", n, periph);
		evt_emit(7, "logout_reason", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)periph, "agents", n, "reason_code",
		    (int)code), "logout reason code %d recorded for %d agents "
		    "(Agent_Logout, Agent_Event_Detail)", (int)code, n);
	} else
		evt_emit(3, "agents_logged_out", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)periph, "agents", n, "reason_code",
		    (int)code), "%d agents of peripheral %u logged out "
		    "(reason code %d)", n, periph, (int)code);
}

/*
 * The active side no longer holds the PIM.  What that does to the data
 * and the agents (R1, R2, R3 or R6/R7) is applied by router_aftermath(),
 * after the next grant has gone out, so the takeover does not wait for
 * the history database.
 */
static void
router_lose(struct router *r, int why, const char *text)
{
	struct rt_side	*s = &r->sides[r->active];
	uint32_t	 periph = (uint32_t)r->node->cfg->peripheral_id;

	evt_emit(5, "pim_lost", json_pack("{s:i, s:s, s:i, s:s}", "peripheral",
	    (int)periph, "side", s->side == 'A' ? "A" : "B", "epoch",
	    (int)r->epoch, "reason", text), "PIM %u of side %c (epoch %u) "
	    "lost: %s", periph, s->side, r->epoch, text);
	if (why == GRANT_PEER_IDLE) {
		struct timeval tv;

		r->in_grace = 1;
		ms_to_tv(ROUTER_IDLE_GRACE_MS, &tv);
		evtimer_add(r->ev_grace, &tv);
	}
	r->aftermath = why;
	r->aftermath_side = s->side;
	r->aftermath_rows = router_logged_in(r);
	r->active = -1;
	r->last_loss = why;
	snprintf(r->last_loss_text, sizeof(r->last_loss_text), "%s", text);
	node_update_summary(r->node);
}

static void
router_aftermath(struct router *r)
{
	uint32_t	 periph = (uint32_t)r->node->cfg->peripheral_id;
	const char	*text = r->last_loss_text;
	int		 why = r->aftermath, rows = r->aftermath_rows;
	char		 side = r->aftermath_side;

	r->aftermath = 0;
	if (why == GRANT_PEER_LOST) {
		/* R1: what the side had not delivered died with it. */
		db_discard(r->db, periph, ivl_start_of((uint32_t)wall_now(),
		    (uint32_t)r->node->cfg->interval_s), 1, (uint32_t)rows,
		    "R1", side, text);
		r->discards++;
		evt_emit(1, "data_discarded", json_pack("{s:i, s:s, s:i, s:i,"
		    " s:s}", "peripheral", (int)periph, "side", side == 'A' ?
		    "A" : "B", "intervals", 1, "rows", rows, "reason", text),
		    "undelivered reporting data of peripheral %u died with "
		    "side %c: the current interval, %d agent rows", periph,
		    side, rows);
		router_offline(r, 6, REASON_CTI_FAILURE, text);
	} else if (r->online)
		router_offline(r, why == GRANT_PEER_RESIGNED ? 6 : 2,
		    why == GRANT_PEER_RESIGNED ? REASON_CTI_FAILURE :
		    REASON_PERIPHERAL_RESTART, text);
}

static void
router_grant(struct router *r, struct rt_side *s)
{
	struct wire_writer	w;
	struct msg_grant	g;
	uint32_t		periph = (uint32_t)r->node->cfg->peripheral_id;

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
	snprintf(g.text, sizeof(g.text), "%s", r->last_loss_text);
	msg_grant_encode(&w, &g);
	if (link_send(s->link, &w) == -1)
		return;
	r->active = (int)(s - r->sides);
	r->epoch = g.epoch;
	s->granted = g.epoch;
	r->grants++;
	db_activation(r->db, periph, s->side, g.epoch, g.text);
	evt_emit(r->last_loss == GRANT_FIRST ? RULE_NONE : 5, "pim_granted",
	    json_pack("{s:i, s:s, s:i, s:s}", "peripheral", (int)periph, "side",
	    s->side == 'A' ? "A" : "B", "epoch", (int)g.epoch, "reason",
	    g.text), "PIM %u granted to side %c (epoch %u): %s", periph,
	    s->side, g.epoch, g.text);
	node_update_summary(r->node);
}

/* Who holds the PIM now; called on every change. */
static void
router_decide(struct router *r)
{
	struct rt_side	*s, *best = NULL;
	int		 i;

	if (r->active >= 0) {
		s = &r->sides[r->active];
		if (!link_is_up(s->link)) {
			char text[160];

			snprintf(text, sizeof(text), "side %c's router link "
			    "went: %s", s->side, s->link->last_error);
			router_lose(r, GRANT_PEER_LOST, text);
		} else if (s->granted == 0 && s->reported &&
		    s->st.resigning) {
			char text[64];

			snprintf(text, sizeof(text), "side %c resigned",
			    s->side);
			router_lose(r, GRANT_PEER_RESIGNED, text);
		} else if (s->granted == 0 && s->reported &&
		    (!s->st.pim_active || s->st.epoch != r->epoch)) {
			char text[64];

			snprintf(text, sizeof(text), "side %c's PIM went idle",
			    s->side);
			router_lose(r, GRANT_PEER_IDLE, text);
		}
	}
	for (i = 0; i < 2 && r->active < 0 && r->settled && !r->in_grace;
	    i++) {
		s = &r->sides[i];
		if (!link_is_up(s->link) || !s->reported || s->granted ||
		    !s->st.acd_up || s->st.pim_active || s->st.resigning)
			continue;
		if (best == NULL || s->candidate_since < best->candidate_since)
			best = s;
	}
	if (best != NULL)
		router_grant(r, best);
	if (r->aftermath != 0)
		router_aftermath(r);
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

/*
 * The router's hold time after start is over.  A side that says its peer
 * holds the PIM (the private link tells it) is waiting for that peer: give
 * the peer up to its reconnection back-off to come and be adopted.
 */
static void
router_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router	*r = arg;
	const struct cfg *cf = r->node->cfg;
	uint64_t	 hold = (uint64_t)cf->hb_router.interval_ms *
	    (uint64_t)cf->hb_router.misses;
	uint64_t	 limit = (uint64_t)cf->backoff_max_ms + 2 * hold;
	uint64_t	 waited = mono_ms() - r->started_ms;
	int		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < 2 && !r->settled && waited < limit; i++)
		if (r->sides[i].reported && r->sides[i].st.peer_epoch != 0 &&
		    !r->sides[1 - i].reported) {
			struct timeval tv;

			log_info("side %c says side %c holds the PIM (epoch "
			    "%u): waiting for it", r->sides[i].side,
			    r->sides[1 - i].side, r->sides[i].st.peer_epoch);
			ms_to_tv((int)(limit - waited), &tv);
			evtimer_add(r->ev_settle, &tv);
			return;
		}
	if (!r->settled) {
		r->settled = 1;
		log_info("settled: %s", r->active >= 0 ? "a side is active" :
		    "no side active yet");
		router_decide(r);
	}
}

static void
router_status_msg(struct router *r, struct rt_side *s,
    const struct msg_pg_status *st)
{
	int	was_candidate = s->reported && s->st.acd_up &&
	    !s->st.pim_active;

	s->st = *st;
	s->reported = 1;
	if (st->acd_up && !st->pim_active && !was_candidate)
		s->candidate_since = mono_ms();
	if (s->granted != 0 && (st->epoch == s->granted || !st->acd_up))
		s->granted = 0;
	/* A side still active from before a router restart. */
	if (st->pim_active && r->active < 0 && st->epoch >= r->max_epoch &&
	    st->epoch != 0 && st->epoch != UINT32_MAX) {
		r->active = (int)(s - r->sides);
		r->epoch = r->max_epoch = st->epoch;
		db_set_meta(r->db, "max_epoch", r->max_epoch);
		evt_emit(RULE_NONE, "pim_adopted", json_pack("{s:s, s:i}",
		    "side", s->side == 'A' ? "A" : "B", "epoch",
		    (int)st->epoch), "side %c holds PIM %d (epoch %u): "
		    "adopted", s->side, r->node->cfg->peripheral_id, st->epoch);
	}
	if (!r->settled && r->sides[0].reported && r->sides[1].reported) {
		r->settled = 1;
		event_del(r->ev_settle);
	}
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
			    m->kind == AGENTS_RELOGIN ? "R8" :
			    m->kind == AGENTS_SNAPSHOT ? "R4" : NULL);
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
		evt_emit(8, "peripheral_online", json_pack("{s:i, s:i, s:f}",
		    "peripheral", (int)periph, "agents", router_logged_in(r),
		    "outage_ms", r->offline_since > 0 ?
		    (now - r->offline_since) * 1000 : 0.0),
		    "peripheral %u online: %d agents logged back in with "
		    "their Table 1 states", periph, router_logged_in(r));
	else
		evt_emit(r->offline_since > 0 ? 4 : RULE_NONE,
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

static void
router_ack(struct link *l, uint32_t seq, int refused, const char *text)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	memset(&e, 0, sizeof(e));
	e.a = seq;
	e.flags = (uint8_t)refused;
	snprintf(e.text, sizeof(e.text), "%s", text);
	msg_epoch_encode(&w, MSG_DELIVERY_ACK, &e);
	link_send(l, &w);
}

static void
router_interval_msg(struct router *r, struct rt_side *s,
    const struct msg_interval *iv)
{
	double	now = wall_now();
	int	i, stored = 0;

	if (iv->epoch < r->epoch || iv->epoch > r->max_epoch ||
	    iv->side != (uint8_t)s->side ||
	    iv->peripheral != (uint32_t)r->node->cfg->peripheral_id) {
		r->stale_refused++;
		log_warnx("refused interval seq %u on the link of side %c: side "
		    "%c, epoch %u (current %u, highest granted %u), peripheral "
		    "%u", iv->seq, s->side, iv->side >= 0x20 && iv->side < 0x7f ?
		    iv->side : '?', iv->epoch, r->epoch, r->max_epoch,
		    iv->peripheral);
		router_ack(s->link, iv->seq, 1, "stale or foreign interval");
		return;
	}
	db_begin(r->db);
	for (i = 0; i < iv->count; i++) {
		uint32_t agent, f[IVL_NFIELDS];

		msg_interval_row_get(iv->rows + (size_t)i * MSG_IVL_ROW_LEN,
		    &agent, f);
		stored += db_interval(r->db, iv, agent, f, now);
	}
	db_commit(r->db);
	r->rows_stored += (uint64_t)stored;
	r->rows_duplicate += (uint64_t)(iv->count - stored);
	evt_emit(RULE_NONE, "interval_stored", json_pack("{s:i, s:i, s:i, "
	    "s:i, s:b, s:s}", "seq", (int)iv->seq, "start", (int)iv->start,
	    "rows", stored, "duplicates", iv->count - stored, "incomplete",
	    iv->incomplete, "side", s->side == 'A' ? "A" : "B"),
	    "interval %u (seq %u) from side %c: %d rows stored, %d already "
	    "there%s", iv->start, iv->seq, s->side, stored, iv->count - stored,
	    iv->incomplete ? ", incomplete" : "");
	router_ack(s->link, iv->seq, 0, "");
}

static void
router_link_msg(struct node *n, struct link *l, const struct wire_msg *m)
{
	struct router		*r = n->role_data;
	struct rt_side		*s = router_side(r, l);
	struct msg_pg_status	 st;
	struct msg_agents	 ag;
	struct msg_interval	 iv;
	struct msg_discard	 d;
	struct msg_periph_offline o;
	char			 err[160];

	if (s == NULL)
		return;
	switch (m->type) {
	case MSG_PG_STATUS:
		if (msg_pg_status_decode(m, &st, err, sizeof(err)) == -1)
			goto bad;
		router_status_msg(r, s, &st);
		return;
	case MSG_AGENT_STATES:
		if (msg_agents_decode(m, &ag, err, sizeof(err)) == -1)
			goto bad;
		router_agents_msg(r, s, &ag);
		return;
	case MSG_INTERVAL:
		if (msg_interval_decode(m, &iv, err, sizeof(err)) == -1)
			goto bad;
		router_interval_msg(r, s, &iv);
		return;
	case MSG_DISCARD:
		if (msg_discard_decode(m, &d, err, sizeof(err)) == -1)
			goto bad;
		if (d.side != (uint8_t)s->side || d.rule != 1 ||
		    d.peripheral != (uint32_t)n->cfg->peripheral_id) {
			snprintf(err, sizeof(err), "DISCARD: side 0x%02x, rule "
			    "%u, peripheral %u on the link of side %c", d.side,
			    d.rule, d.peripheral, s->side);
			goto bad;
		}
		db_discard(r->db, d.peripheral, d.interval_start, d.intervals,
		    d.rows, d.rule == 1 ? "R1" : "R?", (char)d.side, d.text);
		r->discards++;
		evt_emit((int)d.rule, "data_discarded", json_pack("{s:i, s:s,"
		    " s:i, s:i, s:s}", "peripheral", (int)d.peripheral, "side",
		    d.side == 'A' ? "A" : "B", "intervals", (int)d.intervals,
		    "rows", (int)d.rows, "reason", d.text), "side %c deleted "
		    "undelivered reporting data of peripheral %u: %u "
		    "intervals, %u rows (%s)", d.side, d.peripheral,
		    d.intervals, d.rows, d.text);
		router_ack(l, d.seq, 0, "");
		return;
	case MSG_PERIPH_OFFLINE:
		if (msg_offline_decode(m, &o, err, sizeof(err)) == -1)
			goto bad;
		if (router_current(r, s, o.epoch, "peripheral offline"))
			router_offline(r, (int)o.rule, o.reason_code, o.text);
		return;
	default:
		log_debug("link %s: %s ignored", l->name,
		    wire_type_name(m->type));
		return;
	}
bad:
	link_bad_msg(l, m, err);
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
	router_decide(r);
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
	r->nagents = n->cfg->nagents;
	r->agents = xcalloc((size_t)r->nagents, sizeof(*r->agents));
	for (i = 0; i < r->nagents; i++) {
		r->agents[i].id = (uint32_t)n->cfg->agents[i].id;
		r->agents[i].state = AS_LOGOUT;
	}
	qsort(r->agents, (size_t)r->nagents, sizeof(*r->agents), cmp_u32_key);
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
	r->started_ms = mono_ms();
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
		    "s:b, s:b, s:b, s:i}", "side", s->side == 'A' ? "A" : "B",
		    "node", s->link->peer_node,
		    "link", link_state_names[s->link->state],
		    "reported", s->reported, "acd_up", s->st.acd_up,
		    "pim_active", s->st.pim_active, "resigning",
		    s->st.resigning, "epoch", (int)s->st.epoch));
	}
	return json_pack("{s:i, s:s, s:b, s:s?, s:I, s:I, s:s, s:i, s:b, "
	    "s:o}",
	    "id", r->node->cfg->peripheral_id,
	    "name", r->node->cfg->peripheral_name,
	    "online", r->online,
	    "active_side", r->active >= 0 ?
	    (r->sides[r->active].side == 'A' ? "A" : "B") : NULL,
	    "epoch", (json_int_t)r->epoch,
	    "max_epoch", (json_int_t)r->max_epoch,
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
	    "s:I}", "grants", (json_int_t)r->grants, "stale_refused",
	    (json_int_t)r->stale_refused, "rows_stored",
	    (json_int_t)r->rows_stored, "rows_duplicate",
	    (json_int_t)r->rows_duplicate, "discards",
	    (json_int_t)r->discards));
	json_object_set_new(j, "history_db", json_string(n->cfg->history_db));
}

static int
router_command(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct router	*r = n->role_data;
	long		 lim = 100;
	int		 i;

	if (strcmp(argv[0], "peripherals") == 0 && argc == 1) {
		res->data = json_array();
		json_array_append_new(res->data, router_peripheral_json(r));
		return 0;
	}
	if (strcmp(argv[0], "agents") == 0 && argc == 1) {
		res->data = json_array();
		for (i = 0; i < r->nagents; i++)
			json_array_append_new(res->data,
			    router_agent_json(&r->agents[i]));
		return 0;
	}
	if (strcmp(argv[0], "intervals") == 0 && argc <= 2) {
		if (argc == 2 && parse_int(argv[1], 1, 1000000, &lim) == -1) {
			snprintf(res->err, sizeof(res->err), "intervals: bad "
			    "count \"%s\"", argv[1]);
			return -1;
		}
		res->data = db_intervals(r->db, (int)lim);
		return 0;
	}
	snprintf(res->err, sizeof(res->err), "unknown command \"%s\" (router: "
	    "peripherals, agents, intervals [N])", argv[0]);
	return -1;
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

const struct role_ops router_ops = {
	.name = "router",
	.init = router_init,
	.fini = router_fini,
	.command = router_command,
	.status = router_status,
	.link_up = router_link_up,
	.link_down = router_link_down,
	.link_msg = router_link_msg,
	.summary = router_summary,
};
