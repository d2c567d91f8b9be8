/*
 * The MR PIM of a PG side: the PIM of the MR peripheral (media_routing.
 * peripheral), whose device is the application instance (the app node).
 * It keeps a link to the application's MR port (mr-link), tells the
 * router what it can do (PG_STATUS: acd_up is "mr-link up") and is
 * granted the PIM with an epoch of its own, as a voice PIM: the same
 * state machine (pimfsm.c), the same activation (PIM_ACTIVATE with the
 * epoch and the router's token of the grant; the application fences an
 * older one as the ACD does), without agents or reporting data.
 *
 * Routing.  The accepted MR PIM tells the application ROUTING_ENABLED
 * while it is ACTIVE and its router link is up, and ROUTING_DISABLED when
 * the router link goes (R16); ROUTING_ENABLED again when it is back (R17).
 * A NEW_TASK while routing is enabled goes to the router (ROUTE_TASK, with
 * the epoch); otherwise it fails at once (NEW_TASK_FAILURE, ROUTING_DOWN).
 * The router's answer (ROUTE_RESULT) becomes DO_THIS_WITH_TASK or
 * NEW_TASK_FAILURE.  The MR PIM keeps no task: what is pending is the
 * application's (it resends) and the router's (it discards, R12, R17).
 *
 * pgemuctl NODE stop mr-pim: the side gives the PIM up (PIM_DEACTIVATE to
 * the application, a resigning PG_STATUS: the router fails it over to the
 * other side) and takes it no more until `start mr-pim`.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"

struct mrpim {
	struct node	*node;
	uint32_t	 id;		/* the MR peripheral */
	struct link	*app;		/* mr-link */
	struct link	*router, *peer;	/* the side's */
	struct pim_fsm	 fsm;
	uint32_t	 epoch;
	int		 grant_reason;	/* GRANT_* of the current activation */
	char		 grant_text[128];
	int		 has_token;	/* the grant's token (auth.c) */
	uint8_t		 token[32];
	uint64_t	 activating_ms;
	double		 active_since;
	int		 stopped;	/* pgemuctl stop mr-pim */
	int		 resigning;	/* the side stops */
	uint8_t		 peer_state;	/* the other side's MR PIM */
	uint32_t	 peer_epoch;
	int		 routing;	/* ROUTING_ENABLED told */
	int		 disabled;	/* ROUTING_DISABLED told since */
	uint64_t	 activations, new_tasks, forwarded, routed, failed;
	uint64_t	 failed_down, results_lost;
};

static void	mrpim_routing(struct mrpim *);

/* What this side can do for the MR peripheral, to the router. */
static void
mrpim_send_status(struct mrpim *mr)
{
	struct wire_writer	w;
	struct msg_pg_status	st;

	if (!link_is_up(mr->router))
		return;
	memset(&st, 0, sizeof(st));
	st.peripheral = mr->id;
	st.side = (uint8_t)mr->node->self->side;
	st.acd_up = link_is_up(mr->app) && !mr->stopped && !mr->resigning;
	st.pim_active = (uint8_t)mr->fsm.state;
	st.resigning = (uint8_t)(mr->resigning || mr->stopped);
	st.epoch = mr->fsm.state != PIM_STATE_IDLE ? mr->epoch : 0;
	st.peer_epoch = link_is_up(mr->peer) &&
	    mr->peer_state != PIM_STATE_IDLE ? mr->peer_epoch : 0;
	st.peer_up = (uint8_t)link_is_up(mr->peer);
	if (mr->fsm.state != PIM_STATE_IDLE && mr->has_token) {
		st.has_token = 1;
		memcpy(st.token, mr->token, sizeof(st.token));
	}
	msg_pg_status_encode(&w, &st);
	link_send(mr->router, &w);
}

/* What this side holds of the MR peripheral, for the other side. */
static void
mrpim_send_peer_state(struct mrpim *mr)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	if (!link_is_up(mr->peer))
		return;
	memset(&e, 0, sizeof(e));
	e.a = mr->fsm.state != PIM_STATE_IDLE ? mr->epoch : 0;
	e.b = (uint32_t)mr->fsm.state;
	e.peripheral = mr->id;
	msg_epoch_encode(&w, MSG_PEER_STATE, &e);
	link_send(mr->peer, &w);
}

/* A task message of this MR PIM, to the application. */
static void
mrpim_send_app(struct mrpim *mr, uint32_t type, struct msg_task *t)
{
	struct wire_writer	w;
	double			now = wall_now();

	t->peripheral = mr->id;
	t->epoch = mr->epoch;
	if (t->when == 0) {
		t->when = (uint32_t)now;
		t->when_ms = (uint32_t)((now - (double)t->when) * 1000) % 1000;
	}
	msg_task_encode(&w, type, t);
	link_send(mr->app, &w);
}

/*
 * A NEW_TASK not routed: NEW_TASK_FAILURE.  One that fails because
 * routing is down (R16) is an event: the application should have stopped
 * sending, so there are few.  The router's failures are routine answers
 * (its Route_Call_Detail has them): counted, at debug.
 */
static void
mrpim_fail(struct mrpim *mr, struct msg_task *t, uint32_t code,
    const char *text)
{
	mr->failed++;
	t->code = code;
	snprintf(t->text, sizeof(t->text), "%s", text);
	mrpim_send_app(mr, MSG_MR_NEW_TASK_FAILURE, t);
	if (code != TASK_FAIL_ROUTING_DOWN) {
		log_debug("NEW_TASK of dialogue %u failed (code %u): %s",
		    t->dialogue, code, text);
		return;
	}
	mr->failed_down++;
	evt_emit(RULE_R16, "new_task_failed", json_pack("{s:i, s:i, s:i, "
	    "s:s}", "peripheral", (int)mr->id, "dialogue", (int)t->dialogue,
	    "code", (int)code, "reason", text), "NEW_TASK of dialogue %u "
	    "failed: %s", t->dialogue, text);
}

/*
 * Routing is enabled while this MR PIM is ACTIVE with its router link up:
 * tell the application each change.  ROUTING_DISABLED only when the
 * router link went (R16): a PIM that lost its application or was fenced
 * has nobody to tell.
 */
static void
mrpim_routing(struct mrpim *mr)
{
	struct msg_task	t;
	int		want = mr->fsm.state == PIM_STATE_ACTIVE &&
	    link_is_up(mr->router) && link_is_up(mr->app);

	if (want == mr->routing)
		return;
	mr->routing = want;
	memset(&t, 0, sizeof(t));
	if (want) {
		snprintf(t.text, sizeof(t.text), "the router routes");
		mrpim_send_app(mr, MSG_MR_ROUTING_ENABLED, &t);
		evt_emit(mr->disabled ? RULE_R17 : RULE_NONE, "routing_enabled",
		    json_pack("{s:i, s:i}", "peripheral", (int)mr->id, "epoch",
		    (int)mr->epoch), "ROUTING_ENABLED to the application: MR "
		    "PIM %u (epoch %u) routes%s", mr->id, mr->epoch,
		    mr->disabled ? " again, its router link back" : "");
		mr->disabled = 0;
		return;
	}
	if (mr->fsm.state != PIM_STATE_ACTIVE || !link_is_up(mr->app)) {
		log_info("MR PIM %u routes no more: %s", mr->id,
		    link_is_up(mr->app) ? pim_state_names[mr->fsm.state] :
		    "no link to the application");
		return;
	}
	snprintf(t.text, sizeof(t.text), "router link lost: %s",
	    mr->router->last_error);
	mrpim_send_app(mr, MSG_MR_ROUTING_DISABLED, &t);
	mr->disabled = 1;
	evt_emit(RULE_R16, "routing_disabled", json_pack("{s:i, s:i, s:s}",
	    "peripheral", (int)mr->id, "epoch", (int)mr->epoch, "reason",
	    t.text), "ROUTING_DISABLED to the application: MR PIM %u lost "
	    "the router (%s); NEW_TASK fails until it is back", mr->id,
	    mr->router->last_error);
}

static void
mrpim_activate(struct mrpim *mr)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	memset(&e, 0, sizeof(e));
	e.a = mr->epoch;
	e.b = mr->id;
	e.has_token = mr->has_token;
	memcpy(e.token, mr->token, sizeof(e.token));
	msg_epoch_encode(&w, MSG_PIM_ACTIVATE, &e);
	link_send(mr->app, &w);
	mr->activating_ms = mono_ms();
}

/* The MR PIM's actions (pimfsm.c decides which). */
static void
mrpim_act(void *arg, enum pim_action act, const char *why)
{
	struct mrpim	*mr = arg;
	int		 periph = (int)mr->id;

	switch (act) {
	case PACT_ACTIVATE:
		evt_emit(mr->grant_reason == GRANT_FIRST ? RULE_NONE : RULE_R5,
		    "pim_activating", json_pack("{s:i, s:i, s:s}",
		    "peripheral", periph, "epoch", (int)mr->epoch, "reason",
		    mr->grant_text), "activating MR PIM %d (epoch %u): %s",
		    periph, mr->epoch, mr->grant_text);
		break;
	case PACT_SERVE:
		mr->active_since = wall_now();
		evt_emit(RULE_R5, "pim_active", json_pack("{s:i, s:i, s:f}",
		    "peripheral", periph, "epoch", (int)mr->epoch,
		    "activation_ms", (double)(mono_ms() - mr->activating_ms)),
		    "MR PIM %d active (epoch %u), side %c serves the "
		    "application", periph, mr->epoch, mr->node->self->side);
		break;
	case PACT_LOSE:
		log_info("MR PIM %d (epoch %u) lost: %s", periph, mr->epoch,
		    why);
		break;
	default:
		break;
	}
}

/* Entry actions of an MR PIM state. */
static void
mrpim_entered(void *arg, int prev, int next, const char *why)
{
	struct mrpim	*mr = arg;

	(void)why;
	if (next != prev) {
		if (next == PIM_STATE_IDLE)
			mr->epoch = 0;
		mrpim_send_status(mr);
		mrpim_send_peer_state(mr);
		mrpim_routing(mr);
		node_update_summary(mr->node);
	}
	if (next == PIM_STATE_ACTIVATING)
		mrpim_activate(mr);
}

static const struct pim_fsm_ops mrpim_ops = { mrpim_act, mrpim_entered };

/* The side's MR PIM, its link to the application (mr-link). */
struct mrpim *
mrpim_new(struct node *n, struct link *router, struct link *peer)
{
	struct mrpim	*mr = xcalloc(1, sizeof(*mr));

	mr->node = n;
	mr->id = (uint32_t)n->cfg->mr.peripheral;
	mr->router = router;
	mr->peer = peer;
	mr->fsm.state = PIM_STATE_IDLE;
	mr->fsm.peripheral = mr->id;
	mr->fsm.ops = &mrpim_ops;
	mr->fsm.arg = mr;
	mr->app = node_new_link(n, "mr-link", cfg_node(n->cfg, n->cfg->mr.app),
	    LINK_KIND_MR, 1);
	return mr;
}

void
mrpim_free(struct mrpim *mr)
{
	free(mr);
}

/* Is this the MR peripheral (a GRANT, a PEER_STATE of it)? */
int
mrpim_owns(const struct mrpim *mr, uint32_t peripheral)
{
	return mr != NULL && peripheral == mr->id;
}

/* A link of the side came up or went: its own, the router's, the peer's. */
void
mrpim_link(struct mrpim *mr, struct link *l, int up, const char *why)
{
	char	text[200];

	if (mr == NULL)
		return;
	if (l == mr->app && up) {
		if (pim_fsm_event(&mr->fsm, PEV_LINK_BACK, "link to the "
		    "application back") == PACT_IGNORE)
			mrpim_send_status(mr);
	} else if (l == mr->app) {
		snprintf(text, sizeof(text), "link to the application went: "
		    "%s", why);
		if (PIM_STATE_HOLDS(mr->fsm.state))
			evt_emit(RULE_R12, "mr_path_lost", json_pack("{s:i, "
			    "s:i, s:s}", "peripheral", (int)mr->id, "epoch",
			    (int)mr->epoch, "reason", why), "MR PIM %u lost "
			    "the application (%s): the router discards its "
			    "pending requests", mr->id, why);
		if (pim_fsm_event(&mr->fsm, PEV_LINK_LOST, text) ==
		    PACT_IGNORE)
			mrpim_send_status(mr);
	} else if (l == mr->router) {
		if (up)
			mrpim_send_status(mr);
		mrpim_routing(mr);
	} else if (l == mr->peer) {
		if (up)
			mrpim_send_peer_state(mr);
		else
			mr->peer_state = PIM_STATE_IDLE;
		mrpim_send_status(mr);
	}
}

/* The router grants this side the MR PIM. */
void
mrpim_grant(struct mrpim *mr, const struct msg_grant *g)
{
	if (!link_is_up(mr->app) || mr->stopped || mr->resigning) {
		log_warnx("grant of MR PIM %u (epoch %u) refused: %s", mr->id,
		    g->epoch, mr->stopped ? "stopped by pgemuctl" :
		    mr->resigning ? "the side stops" : "no link to the "
		    "application");
		mrpim_send_status(mr);
		return;
	}
	if (mr->fsm.state != PIM_STATE_IDLE)
		log_info("MR PIM %u: granted epoch %u while %s with epoch %u",
		    mr->id, g->epoch, pim_state_names[mr->fsm.state],
		    mr->epoch);
	mr->epoch = g->epoch;
	mr->has_token = g->has_token;
	memcpy(mr->token, g->token, sizeof(mr->token));
	mr->grant_reason = (int)g->reason;
	snprintf(mr->grant_text, sizeof(mr->grant_text), "%s", g->text);
	mr->activations++;
	pim_fsm_event(&mr->fsm, PEV_GRANT, "granted by the router");
}

/* PEER_STATE of the MR peripheral: the other side's MR PIM. */
void
mrpim_peer_state(struct mrpim *mr, const struct msg_epoch *e)
{
	if (mr->peer_state == e->b && mr->peer_epoch == e->a)
		return;
	mr->peer_state = (uint8_t)e->b;
	mr->peer_epoch = e->a;
	mrpim_send_status(mr);
}

/* PIM_ACCEPT: the application obeys this MR PIM. */
int
mrpim_msg_accept(struct role_msg_in *in, const union msg_body *b)
{
	struct mrpim	*mr = pg_mrpim(in->node);

	if (mr != NULL && b->epoch.a == mr->epoch)
		pim_fsm_event(&mr->fsm, PEV_ACCEPTED, "accepted by the "
		    "application");
	return 0;
}

/* PIM_REJECT, PIM_FENCED: the application will not take it. */
int
mrpim_msg_refused(struct role_msg_in *in, const union msg_body *b)
{
	struct mrpim	*mr = pg_mrpim(in->node);
	char		 why[200];

	if (mr == NULL || mr->fsm.state == PIM_STATE_IDLE)
		return 0;
	snprintf(why, sizeof(why), "%s by the application: %s",
	    in->msg->type == MSG_PIM_REJECT ? "refused" : "fenced",
	    b->epoch.text);
	pim_fsm_event(&mr->fsm, PEV_REFUSED, why);
	return 0;
}

/* NEW_TASK: to the router while routing is enabled; else it fails. */
int
mrpim_msg_new_task(struct role_msg_in *in, const union msg_body *b)
{
	struct mrpim		*mr = pg_mrpim(in->node);
	struct msg_task		 t = b->task;
	struct wire_writer	 w;
	char			 text[128];

	if (mr == NULL)
		return 0;
	mr->new_tasks++;
	if (!mr->routing) {
		snprintf(text, sizeof(text), "routing disabled: %s",
		    mr->fsm.state != PIM_STATE_ACTIVE ? "this MR PIM is not "
		    "the active one" : "no router link");
		t.when = t.when_ms = 0;
		mrpim_fail(mr, &t, TASK_FAIL_ROUTING_DOWN, text);
		return 0;
	}
	t.peripheral = mr->id;
	t.epoch = mr->epoch;
	msg_task_encode(&w, MSG_ROUTE_TASK, &t);
	link_send(mr->router, &w);
	mr->forwarded++;
	log_debug("NEW_TASK of dialogue %u (%s) to the router", t.dialogue,
	    t.selector);
	return 0;
}

/* ROUTE_RESULT: the router's answer, to the application. */
int
mrpim_msg_result(struct role_msg_in *in, const union msg_body *b)
{
	struct mrpim	*mr = pg_mrpim(in->node);
	struct msg_task	 t = b->task;
	char		 text[128];

	if (mr == NULL || t.peripheral != mr->id) {
		snprintf(in->err, sizeof(in->err), "ROUTE_RESULT: peripheral "
		    "%u is not this lab's MR peripheral", t.peripheral);
		return -1;
	}
	if (t.code >= TASK_FAIL_MAX) {
		snprintf(in->err, sizeof(in->err), "ROUTE_RESULT: unknown code "
		    "%u", t.code);
		return -1;
	}
	if (!link_is_up(mr->app)) {
		mr->results_lost++;
		log_info("answer to dialogue %u not delivered: no link to the "
		    "application (it sends the request again)", t.dialogue);
		return 0;
	}
	if (t.code == TASK_ROUTED) {
		mr->routed++;
		mrpim_send_app(mr, MSG_MR_DO_THIS_WITH_TASK, &t);
		return 0;
	}
	snprintf(text, sizeof(text), "%s", t.text[0] != '\0' ? t.text :
	    "not routed");
	mrpim_fail(mr, &t, t.code, text);
	return 0;
}

/* The PIM given up: PIM_DEACTIVATE to the application, said so. */
static void
mrpim_resign(struct mrpim *mr, const char *why)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	memset(&e, 0, sizeof(e));
	e.a = mr->epoch;
	e.b = mr->id;
	msg_epoch_encode(&w, MSG_PIM_DEACTIVATE, &e);
	link_send(mr->app, &w);
	evt_emit(RULE_R5, "pim_resigning", json_pack("{s:i, s:i}",
	    "peripheral", (int)mr->id, "epoch", (int)mr->epoch), "resigning "
	    "MR PIM %u (epoch %u): %s", mr->id, mr->epoch, why);
}

/* pgemuctl NODE stop|start mr-pim */
int
mrpim_stop_start(struct mrpim *mr, int start, char *err, size_t errlen)
{
	if (mr == NULL) {
		snprintf(err, errlen, "this lab has no MR PIM (no app node)");
		return -1;
	}
	if (start == !mr->stopped) {
		snprintf(err, errlen, "the MR PIM is %s already", start ?
		    "started" : "stopped");
		return -1;
	}
	mr->stopped = !start;
	if (!start && mr->fsm.state != PIM_STATE_IDLE) {
		mrpim_resign(mr, "stopped by pgemuctl");
		pim_fsm_event(&mr->fsm, PEV_REFUSED, "stopped by pgemuctl");
	}
	log_info("MR PIM %u %s by pgemuctl", mr->id, start ? "started" :
	    "stopped");
	mrpim_send_status(mr);
	return 0;
}

/* SIGTERM: an active MR PIM resigns, for an immediate takeover. */
void
mrpim_shutdown(struct mrpim *mr)
{
	if (mr == NULL)
		return;
	if (mr->fsm.state != PIM_STATE_IDLE)
		mrpim_resign(mr, "the side stops");
	mr->resigning = 1;
	mrpim_send_status(mr);
}

json_t *
mrpim_json(const struct mrpim *mr)
{
	return json_pack("{s:i, s:s, s:s, s:i, s:s, s:I, s:b, s:b, "
	    "s:{s:s, s:i}, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "peripheral",
	    (int)mr->id, "link", link_state_names[mr->app->state], "state",
	    pim_state_names[mr->fsm.state], "epoch", (int)mr->epoch,
	    "last_grant", mr->grant_text, "activations",
	    (json_int_t)mr->activations, "stopped", mr->stopped,
	    "routing_enabled", mr->routing, "peer", "state",
	    pim_state_names[mr->peer_state < PIM_STATE_MAX ? mr->peer_state :
	    0], "epoch", (int)mr->peer_epoch, "counts", "new_tasks",
	    (json_int_t)mr->new_tasks, "forwarded", (json_int_t)mr->forwarded,
	    "routed", (json_int_t)mr->routed, "failed",
	    (json_int_t)mr->failed, "failed_routing_down",
	    (json_int_t)mr->failed_down, "results_lost",
	    (json_int_t)mr->results_lost);
}
