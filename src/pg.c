/*
 * A PG side (pg-a or pg-b): its PIM for the peripheral, its links to the
 * router and the ACD, and the private link to the other side (side A
 * connects to side B's private port).
 *
 *            GRANT (router)        PIM_ACCEPT (ACD)
 *   IDLE ---------------> ACTIVATING ------------> ACTIVE
 *    ^                       |                     |    \  BYE "CTI Manager
 *    |  ACD link lost,       |                     |     \  stopping"
 *    |  PIM_REJECT,          |                     |      v
 *    |  PIM_FENCED           |                     |   RECOVERING --(backup
 *    `-----------------------+---------------------'   endpoint up)--> ACTIVATING
 *
 * The side reports to the router what it can do (PG_STATUS: ACD link up,
 * PIM held, epoch); the router alone grants.  Only the ACD decides whose
 * PIM it obeys (the highest epoch), so a side that wakes from SIGSTOP
 * cannot act on stale authority.  Losing the PIM applies R1 (data
 * deleted) and R2/R3 or R6/R7 at the router; the new active side's first
 * snapshot applies R4 or, after a PG side or CTI Manager failover, R8.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"


struct pg {
	struct node	*node;
	struct link	*router, *acd, *peer;
	struct pim	*pim;
	struct pim_fsm	 fsm;		/* the PIM's state machine */
	int		 lose_rule;	/* of a LOSE: rule and reason code */
	int32_t		 lose_code;
	uint32_t	 epoch;
	int		 grant_reason;	/* GRANT_* of the current activation */
	char		 grant_text[128];
	int		 relogin;	/* next snapshot: R8 instead of R4 */
	int		 continuing;	/* next PIM_ACCEPT keeps the interval */
	int		 resigning;
	int		 snapshot_done;
	uint64_t	 activating_ms;
	double		 active_since;
	uint8_t		 peer_state;
	uint32_t	 peer_epoch;
	uint64_t	 activations;
	struct msg_agent *snap;		/* the snapshot being received */
	int		 nsnap;
};

static void	pg_send_status(struct pg *);
static void	pg_send_peer_state(struct pg *);
static void	pg_activate(struct pg *);

/* Entry actions of a PIM state (pimfsm.c calls it after each event). */
static void
pg_pim_entered(void *arg, int prev, int next, const char *why)
{
	struct pg	*pg = arg;

	(void)why;
	if (next != prev) {
		if (next == PIM_STATE_IDLE) {
			pim_deactivate(pg->pim);
			pg->epoch = 0;
			pg->snapshot_done = 0;
			pg->continuing = 0;
		} else if (next == PIM_STATE_RECOVERING)
			pim_suspend(pg->pim);
		else if (prev == PIM_STATE_RECOVERING &&
		    next == PIM_STATE_ACTIVATING)
			pg->continuing = 1;	/* the same PIM, same epoch */
		pg_send_status(pg);
		pg_send_peer_state(pg);
		node_update_summary(pg->node);
	}
	if (next == PIM_STATE_ACTIVATING)
		pg_activate(pg);
}

/* What this side holds, for the other side (PEER_STATE). */
static void
pg_send_peer_state(struct pg *pg)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	if (pg->peer == NULL || !link_is_up(pg->peer))
		return;
	memset(&e, 0, sizeof(e));
	e.a = pg->fsm.state != PIM_STATE_IDLE ? pg->epoch : 0;
	e.b = (uint32_t)pg->fsm.state;
	msg_epoch_encode(&w, MSG_PEER_STATE, &e);
	link_send(pg->peer, &w);
}

static void
pg_send_status(struct pg *pg)
{
	struct wire_writer	w;
	struct msg_pg_status	st;

	if (!link_is_up(pg->router))
		return;
	memset(&st, 0, sizeof(st));
	st.peripheral = (uint32_t)pg->node->cfg->peripheral_id;
	st.side = (uint8_t)pg->node->self->side;
	st.acd_up = link_is_up(pg->acd) && !pg->resigning;
	st.pim_active = (uint8_t)pg->fsm.state;
	st.resigning = (uint8_t)pg->resigning;
	st.epoch = pg->fsm.state != PIM_STATE_IDLE ? pg->epoch : 0;
	st.peer_epoch = link_is_up(pg->peer) && pg->peer_state != PIM_STATE_IDLE ?
	    pg->peer_epoch : 0;
	st.peer_up = (uint8_t)link_is_up(pg->peer);
	msg_pg_status_encode(&w, &st);
	link_send(pg->router, &w);
}

/* Tell the router the peripheral is offline, with the rule and code. */
static void
pg_send_offline(struct pg *pg, int rule, int32_t code, const char *why)
{
	struct wire_writer		w;
	struct msg_periph_offline	o;

	memset(&o, 0, sizeof(o));
	o.peripheral = (uint32_t)pg->node->cfg->peripheral_id;
	o.epoch = pg->epoch;
	o.rule = (uint32_t)rule;
	o.reason_code = code;
	snprintf(o.text, sizeof(o.text), "%s", why);
	msg_offline_encode(&w, &o);
	link_send(pg->router, &w);
}

static void
pg_activate(struct pg *pg)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	memset(&e, 0, sizeof(e));
	e.a = pg->epoch;
	e.b = (uint32_t)pg->node->cfg->peripheral_id;
	msg_epoch_encode(&w, MSG_PIM_ACTIVATE, &e);
	link_send(pg->acd, &w);
	pg->activating_ms = mono_ms();
	pg->nsnap = 0;
}

static void
pg_grant(struct pg *pg, const struct msg_grant *g)
{
	if (g->peripheral != (uint32_t)pg->node->cfg->peripheral_id)
		return;
	if (!link_is_up(pg->acd)) {
		log_warnx("grant of epoch %u refused: no ACD link", g->epoch);
		pg_send_status(pg);
		return;
	}
	/*
	 * Granted while it holds the PIM: the router gives it a newer epoch
	 * (it had given the PIM to a side that never took it up).  The PIM
	 * goes on counting; only the epoch the ACD obeys changes.
	 */
	pg->continuing = pg->continuing || PIM_STATE_HOLDS(pg->fsm.state);
	if (pg->fsm.state != PIM_STATE_IDLE)
		log_info("PIM %u: granted epoch %u while %s with epoch %u",
		    g->peripheral, g->epoch, pim_state_names[pg->fsm.state],
		    pg->epoch);
	pg->epoch = g->epoch;
	pg->grant_reason = (int)g->reason;
	snprintf(pg->grant_text, sizeof(pg->grant_text), "%s", g->text);
	/* After a PG side failover the agents log back in: R8. */
	pg->relogin = g->reason == GRANT_PEER_LOST ||
	    g->reason == GRANT_PEER_RESIGNED;
	pg->activations++;
	pim_fsm_event(&pg->fsm, PEV_GRANT, "granted by the router");
}

/*
 * The voice PIM's actions (pimfsm.c decides which, in the state they are
 * taken in): what the router, the ACD and the reporting data see.
 */
static void
pg_pim_act(void *arg, enum pim_action act, const char *why)
{
	struct pg	*pg = arg;
	int		 periph = pg->node->cfg->peripheral_id;

	switch (act) {
	case PACT_ACTIVATE:
		evt_emit(pg->grant_reason == GRANT_FIRST ? RULE_NONE : 5,
		    "pim_activating", json_pack("{s:i, s:i, s:s}",
		    "peripheral", periph, "epoch", (int)pg->epoch, "reason",
		    pg->grant_text), "activating PIM %d (epoch %u): %s",
		    periph, pg->epoch, pg->grant_text);
		break;
	case PACT_SERVE:
		pim_activate(pg->pim, pg->epoch, pg->continuing);
		pg->continuing = 0;
		pg->active_since = wall_now();
		evt_emit(RULE_R5, "pim_active", json_pack("{s:i, s:i, s:f}",
		    "peripheral", periph, "epoch", (int)pg->epoch,
		    "activation_ms", (double)(mono_ms() - pg->activating_ms)),
		    "PIM %d active (epoch %u), side %c serves the peripheral",
		    periph, pg->epoch, pg->node->self->side);
		break;
	case PACT_LOSE:
		/* R1 here, R2/R3 at the router. */
		if (PIM_STATE_HOLDS(pg->fsm.state) || pg->continuing)
			pim_discard(pg->pim, why);
		pg_send_offline(pg, pg->lose_rule, pg->lose_code, why);
		break;
	case PACT_RECOVER:
		/* R6: agents out until the backup takes over. */
		pg_send_offline(pg, RULE_R6, REASON_CTI_FAILURE, why);
		break;
	case PACT_RECONNECT:
		evt_emit(RULE_R6, "pim_recovering", json_pack("{s:i, s:i}",
		    "peripheral", periph, "port", pg->acd->port), "PIM %d "
		    "reconnected to the CTI Manager at port %d; logging agents "
		    "back in", periph, pg->acd->port);
		pg->relogin = 1;
		break;
	default:
		break;
	}
}

static const struct pim_fsm_ops pg_pim_ops = { pg_pim_act, pg_pim_entered };

/* The PIM lost for good, with the rule and reason code of its agents. */
static void
pg_pim_lost(struct pg *pg, enum pim_event ev, int rule, int32_t code,
    const char *why)
{
	pg->lose_rule = rule;
	pg->lose_code = code;
	if (pim_fsm_event(&pg->fsm, ev, why) == PACT_IGNORE)
		pg_send_status(pg);
}

/* Forward agent records to the router as one AGENT_STATES message. */
static void
pg_forward(struct pg *pg, uint8_t kind, int last, const struct msg_agent *r,
    int n)
{
	int	batch = pg->node->cfg->snapshot_batch, i, j;

	for (i = 0; i < n || (i == 0 && last); i += batch) {
		struct wire_writer w;
		int		   cnt = n - i < batch ? n - i : batch;

		if (cnt < 0)
			cnt = 0;
		msg_agents_begin(&w, MSG_AGENT_STATES,
		    (uint32_t)pg->node->cfg->peripheral_id, pg->epoch, kind,
		    (uint8_t)(last && i + cnt >= n), (uint16_t)cnt);
		for (j = 0; j < cnt; j++)
			msg_agent_put(&w, &r[i + j]);
		link_send(pg->router, &w);
		if (n == 0)
			break;
	}
}

/*
 * The whole snapshot is in.  After a failover (R8) each agent logs back
 * in with its Table 1 state, which the ACD is told to apply; otherwise
 * (R4) the ACD's states restore the router's real-time view as they are.
 */
static void
pg_snapshot_done(struct pg *pg)
{
	int	i, changed = 0, in = 0;
	uint8_t	kind = pg->relogin ? AGENTS_RELOGIN : AGENTS_SNAPSHOT;

	if (pg->relogin)
		for (i = 0; i < pg->nsnap; i++) {
			struct msg_agent *a = &pg->snap[i];
			int		  next;

			next = agent_after_pg_failover(a->state,
			    a->before_call);
			if (next != a->state) {
				struct wire_writer	w;
				struct msg_set_agent	s;

				memset(&s, 0, sizeof(s));
				s.epoch = pg->epoch;
				s.id = a->id;
				s.state = (uint16_t)next;
				s.reason = REASON_CTI_FAILURE;
				msg_set_agent_encode(&w, &s);
				link_send(pg->acd, &w);
				a->state = (uint16_t)next;
				a->ms_in_state = 0;
				changed++;
			}
			in += agent_logged_in(a->state);
		}
	pim_update(pg->pim, pg->snap, pg->nsnap);
	pg_forward(pg, kind, 1, pg->snap, pg->nsnap);
	pg->snapshot_done = 1;
	if (pg->relogin)
		evt_emit(RULE_R8, "agents_relogin", json_pack("{s:i, s:i, s:i, s:i}",
		    "peripheral", pg->node->cfg->peripheral_id, "agents", in,
		    "changed", changed, "snapshot", pg->nsnap), "%d agents "
		    "logged back in after the failover, in their Table 1 "
		    "states (%d of them changed state, %d logged out stay out)",
		    in, changed, pg->nsnap - in);
	else
		evt_emit(RULE_R4, "agents_snapshot", json_pack("{s:i, s:i}",
		    "peripheral", pg->node->cfg->peripheral_id, "agents",
		    pg->nsnap), "ACD snapshot of %d agents sent to the router "
		    "(real-time state only)", pg->nsnap);
	pg->relogin = 0;
	pg->nsnap = 0;
}

static void
pg_acd_agents(struct pg *pg, const struct msg_agents *m)
{
	struct msg_agent	*recs;
	int			 i;

	if (pg->fsm.state == PIM_STATE_IDLE || m->epoch != pg->epoch)
		return;
	if (m->kind == AGENTS_SNAPSHOT) {
		pg->snap = xreallocarray(pg->snap, (size_t)pg->nsnap + m->count,
		    sizeof(*pg->snap));
		for (i = 0; i < m->count; i++)
			msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN,
			    &pg->snap[pg->nsnap++]);
		if (m->last)
			pg_snapshot_done(pg);
		return;
	}
	recs = xcalloc(m->count ? m->count : 1, sizeof(*recs));
	for (i = 0; i < m->count; i++)
		msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN, &recs[i]);
	i = pim_changes(pg->pim, recs, m->count);
	if (pg->snapshot_done && i > 0)
		pg_forward(pg, AGENTS_CHANGE, 0, recs, i);
	free(recs);
}

static int
pg_msg_accept(struct role_msg_in *in, const union msg_body *b)
{
	struct pg	*pg = in->node->role_data;

	if (b->epoch.a == pg->epoch)
		pim_fsm_event(&pg->fsm, PEV_ACCEPTED, "accepted by the ACD");
	return 0;
}

/* PIM_REJECT, PIM_FENCED: the ACD will not take our PIM. */
static int
pg_msg_refused(struct role_msg_in *in, const union msg_body *b)
{
	struct pg	*pg = in->node->role_data;
	char		 why[200];

	if (pg->fsm.state == PIM_STATE_IDLE)
		return 0;
	snprintf(why, sizeof(why), "%s by the ACD: %s",
	    in->msg->type == MSG_PIM_REJECT ? "refused" : "fenced",
	    b->epoch.text);
	pg_pim_lost(pg, PEV_REFUSED, RULE_R2, REASON_PG_RESET, why);
	return 0;
}

static int
pg_msg_agents(struct role_msg_in *in, const union msg_body *b)
{
	pg_acd_agents(in->node->role_data, &b->agents);
	return 0;
}

static int
pg_msg_grant(struct role_msg_in *in, const union msg_body *b)
{
	pg_grant(in->node->role_data, &b->grant);
	return 0;
}

static int
pg_msg_ack(struct role_msg_in *in, const union msg_body *b)
{
	struct pg		*pg = in->node->role_data;
	const struct msg_epoch	*e = &b->epoch;

	if (e->flags == ACK_STORED)
		pim_ack(pg->pim, e->a);
	else if (e->flags == ACK_REFUSED)
		pim_refused(pg->pim, e->a, e->text);
	else if (e->flags == ACK_NOT_STORED)
		pim_not_stored(pg->pim, e->a, e->text);
	else {
		snprintf(in->err, sizeof(in->err), "DELIVERY_ACK: unknown "
		    "flags 0x%02x", e->flags);
		return -1;
	}
	return 0;
}

static int
pg_msg_peer_state(struct role_msg_in *in, const union msg_body *b)
{
	struct pg		*pg = in->node->role_data;
	const struct msg_epoch	*e = &b->epoch;

	if (e->b >= PIM_STATE_MAX) {
		snprintf(in->err, sizeof(in->err), "PEER_STATE: bad state %u",
		    e->b);
		return -1;
	}
	if (pg->peer_state != e->b || pg->peer_epoch != e->a) {
		pg->peer_state = (uint8_t)e->b;
		pg->peer_epoch = e->a;
		pg_send_status(pg);
	}
	return 0;
}

static void
pg_link_up(struct node *n, struct link *l)
{
	struct pg	*pg = n->role_data;

	if (l == pg->router) {
		pg_send_status(pg);
		/* Back from a router outage: resync, then what waited. */
		if (pg->fsm.state == PIM_STATE_ACTIVE && pg->snapshot_done) {
			struct msg_agent *recs;
			int		  i, cnt = n->cfg->nagents;

			recs = xcalloc(cnt ? (size_t)cnt : 1, sizeof(*recs));
			for (i = 0; i < cnt; i++)
				pim_agent_state(pg->pim, i, &recs[i]);
			pg_forward(pg, AGENTS_SNAPSHOT, 1, recs, cnt);
			free(recs);
		}
		pim_flush(pg->pim, 1);
	} else if (l == pg->acd) {
		if (pim_fsm_event(&pg->fsm, PEV_LINK_BACK, "ACD link back") ==
		    PACT_IGNORE)
			pg_send_status(pg);
	} else if (l == pg->peer) {
		pg_send_peer_state(pg);
		pg_send_status(pg);
	}
}

static void
pg_link_down(struct node *n, struct link *l, const char *why)
{
	struct pg	*pg = n->role_data;
	char		 text[200];

	if (l == pg->acd) {
		if (l->bye_reason == BYE_CTI_MANAGER_STOP && l->alt_port != 0) {
			snprintf(text, sizeof(text), "CTI Manager stopped: %s",
			    l->bye_text);
			pg_pim_lost(pg, PEV_ENDPOINT_STOPPED, RULE_R2,
			    REASON_PERIPHERAL_RESTART, text);
			return;
		}
		snprintf(text, sizeof(text), "link to the ACD went: %s", why);
		pg_pim_lost(pg, PEV_LINK_LOST, RULE_R2, REASON_PERIPHERAL_RESTART,
		    text);
	} else if (l == pg->peer) {
		evt_emit(RULE_NONE, "peer_lost", json_pack("{s:s, s:s}", "peer",
		    l->peer_node, "reason", why), "peer side %c (%s) lost: %s%s",
		    n->self->side == 'A' ? 'B' : 'A', l->peer_node, why,
		    pg->fsm.state == PIM_STATE_IDLE ? "; candidate for the PIM" : "");
		pg->peer_state = PIM_STATE_IDLE;
		pg_send_status(pg);
	}
}

static int
pg_init(struct node *n, char *err, size_t errlen)
{
	struct pg		*pg = xcalloc(1, sizeof(*pg));
	const struct cfg_node	*peer = cfg_pg_peer(n->cfg, n->self);
	const struct cfg_node	*acd = cfg_node_role(n->cfg, ROLE_ACD, 0);

	pg->node = n;
	n->role_data = pg;
	pg->fsm.state = PIM_STATE_IDLE;
	pg->fsm.peripheral = (uint32_t)n->cfg->peripheral_id;
	pg->fsm.ops = &pg_pim_ops;
	pg->fsm.arg = pg;
	pg->router = node_new_link(n, "router-link",
	    cfg_node_role(n->cfg, ROLE_ROUTER, 0), LINK_KIND_ROUTER, 1);
	pg->acd = node_new_link(n, "acd-link", acd, LINK_KIND_ACD, 1);
	if (acd->backup_port != 0)
		link_set_alt_port(pg->acd, acd->backup_port);
	pg->peer = node_new_link(n, "private-link", peer, LINK_KIND_PRIVATE,
	    n->self->side == 'A');
	/* The port first: a side that cannot start leaves its spool alone. */
	if (n->self->side != 'A' && node_listen(n, "private", n->self->port,
	    err, errlen) == -1)
		return -1;
	if ((pg->pim = pim_new(n, pg->router, err, errlen)) == NULL)
		return -1;
	return 0;
}

/* SIGTERM: an active side resigns first, for an immediate takeover. */
static void
pg_shutdown(struct node *n)
{
	struct pg		*pg = n->role_data;
	struct wire_writer	 w;
	struct msg_epoch	 e;
	char			 text[80];

	snprintf(text, sizeof(text), "side %c stopping", n->self->side);
	if (pg->fsm.state != PIM_STATE_IDLE) {
		memset(&e, 0, sizeof(e));
		e.a = pg->epoch;
		msg_epoch_encode(&w, MSG_PIM_DEACTIVATE, &e);
		link_send(pg->acd, &w);
		evt_emit(RULE_R5, "pim_resigning", json_pack("{s:i, s:i}",
		    "peripheral", n->cfg->peripheral_id, "epoch",
		    (int)pg->epoch), "resigning PIM %d (epoch %u): %s",
		    n->cfg->peripheral_id, pg->epoch, text);
		pim_discard(pg->pim, text);
		pg_send_offline(pg, RULE_R6, REASON_CTI_FAILURE, text);
	}
	pg->resigning = 1;
	pg_send_status(pg);
	if (link_is_up(pg->peer)) {
		wire_bye_encode(&w, BYE_RESIGNING, text);
		link_send(pg->peer, &w);
	}
	if (link_is_up(pg->router)) {
		wire_bye_encode(&w, BYE_STOPPING, text);
		link_send(pg->router, &w);
	}
}

static void
pg_fini(struct node *n)
{
	struct pg	*pg = n->role_data;

	pim_free(pg->pim);
	free(pg->snap);
	free(pg);
	n->role_data = NULL;
}

static void
pg_status(struct node *n, json_t *j)
{
	struct pg	*pg = n->role_data;

	json_object_set_new(j, "pim", json_pack("{s:i, s:s, s:i, s:s, s:I, "
	    "s:b}", "peripheral", n->cfg->peripheral_id,
	    "state", pim_state_names[pg->fsm.state], "epoch", (int)pg->epoch,
	    "last_grant", pg->grant_text, "activations",
	    (json_int_t)pg->activations, "resigning", pg->resigning));
	json_object_set_new(j, "peer", json_pack("{s:s, s:i}", "state",
	    pim_state_names[pg->peer_state], "epoch", (int)pg->peer_epoch));
	json_object_set_new(j, "reporting", pim_json(pg->pim));
}

static void
pg_summary(struct node *n, char *buf, size_t len)
{
	struct pg	*pg = n->role_data;

	if (pg == NULL || pg->fsm.state == PIM_STATE_IDLE)
		snprintf(buf, len, "PG side %c: PIM %d idle", n->self->side,
		    n->cfg->peripheral_id);
	else
		snprintf(buf, len, "PG side %c: PIM %d %s (epoch %u)",
		    n->self->side, n->cfg->peripheral_id,
		    pim_state_names[pg->fsm.state], pg->epoch);
}

static const struct role_msg pg_msgs[] = {
	{ MSG_PIM_ACCEPT, LINK_KIND_ACD, msg_epoch_body, pg_msg_accept },
	{ MSG_PIM_REJECT, LINK_KIND_ACD, msg_epoch_body, pg_msg_refused },
	{ MSG_PIM_FENCED, LINK_KIND_ACD, msg_epoch_body, pg_msg_refused },
	{ MSG_ACD_AGENTS, LINK_KIND_ACD, msg_agents_body, pg_msg_agents },
	{ MSG_GRANT, LINK_KIND_ROUTER, msg_grant_body, pg_msg_grant },
	{ MSG_DELIVERY_ACK, LINK_KIND_ROUTER, msg_epoch_body, pg_msg_ack },
	{ MSG_PEER_STATE, LINK_KIND_PRIVATE, msg_epoch_body,
	  pg_msg_peer_state },
	{ 0, 0, NULL, NULL }
};

const struct role_ops pg_ops = {
	.init = pg_init,
	.fini = pg_fini,
	.msgs = pg_msgs,
	.status = pg_status,
	.link_up = pg_link_up,
	.link_down = pg_link_down,
	.summary = pg_summary,
	.shutdown = pg_shutdown,
};
