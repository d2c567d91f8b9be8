/*
 * A PG side (pg-a or pg-b): a PIM for each peripheral it serves (struct
 * pg_periph, with its own ACD link and epoch), its link to the router
 * and the private link to the other side (side A connects to side B's
 * private port), both shared by every peripheral.
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
 *
 * With media routing, the side also runs the MR PIM (mrpim.c) over its
 * router and private links, and reserves agents for the tasks the router
 * routes (PRECALL) in the PIM of the agents' peripheral.
 *
 * R23: the agents' non-voice MRD states are the PIM's, not the ACD's, and
 * outlive a voice PIM that goes (stopped, its ACD link or the ACD lost):
 * the side that does not hold the PIM mirrors them (PEER_AGENTS, the
 * holder's snapshot again once the other side's PIM has let go), a PIM
 * that takes over goes on with them, and while no side's PIM holds the
 * peripheral the side whose CTI server is active keeps them: it sets them
 * for the CTI server, takes the router's PRECALLs and reports them to the
 * router (epoch 0) and to the other side.  A PG failover (R6, R8) still
 * signs agents out of every MRD but email (R19).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"


/* The side's PIM for one peripheral: its ACD link, state, reporting. */
struct pg_periph {
	struct pg	*pg;
	struct node	*node;
	uint32_t	 id;
	int		 nagents;
	struct link	*acd;
	struct pim	*pim;
	struct pim_fsm	 fsm;		/* the PIM's state machine */
	int		 lose_rule;	/* of a LOSE: rule and reason code */
	int32_t		 lose_code;
	uint32_t	 epoch;
	int		 grant_reason;	/* GRANT_* of the current activation */
	char		 grant_text[128];
	int		 has_token;	/* the grant's token (auth.c) */
	uint8_t		 token[32];
	int		 relogin;	/* next snapshot: R8 instead of R4 */
	int		 continuing;	/* next PIM_ACCEPT keeps the interval */
	int		 snapshot_done;
	uint64_t	 activating_ms;
	double		 active_since;
	uint8_t		 peer_state;	/* the other side's PIM of it */
	uint32_t	 peer_epoch;
	uint64_t	 activations;
	struct msg_agent *snap;		/* the snapshot being received */
	int		 nsnap;
	int		 capsnap;	/* room in snap */
	int		 stopped;	/* pgemuctl stop pim */
	int		 media_served;	/* a PIM served it: states to keep */
	int		 keeping;	/* R23: the non-voice states, here */
};

/*
 * An agent the router reserved for a task (PRECALL_RESERVE), until the
 * task starts.  The router releases it if the task does not start in the
 * MRD's task_start_timeout; should the router be gone by then (it
 * restarted and forgot the task), the side does, a router hold time
 * later.  The side keeps them by the time they run out, first first: at
 * a thousand tasks a second tens of thousands wait, most of them for a
 * task that started long ago.  While the task's application path is down
 * (R21: the router holds its start timer) the side's time runs again
 * from each check.
 */
struct pg_hold {
	struct pg_periph *pp;
	uint32_t	 agent, mrd;
	uint32_t	 task[2];
	uint32_t	 path;		/* its ApplicationPathID */
	uint64_t	 since_ms;	/* of the RESERVED state it set */
	uint64_t	 until_ms;
	TAILQ_ENTRY(pg_hold) entry;
};
TAILQ_HEAD(pg_holds, pg_hold);

/* The side: its links to the router and the other side, its PIMs. */
struct pg {
	struct node	*node;
	struct link	*router, *peer;
	int		 resigning;
	struct pg_periph *periphs;
	int		 nperiphs;
	struct cti	*cti;		/* its CTI server */
	struct mrpim	*mr;		/* its MR PIM, or NULL */
	struct pg_holds	 holds;		/* agents reserved by PRECALL */
	struct event	*ev_holds;
};

static void	pg_send_status(struct pg_periph *);
static void	pg_send_peer_state(struct pg_periph *);
static void	pg_activate(struct pg_periph *);
static void	pg_cti_facts(struct pg_periph *);
static void	pg_forward(struct pg_periph *, uint8_t, int,
		    const struct msg_agent *, int);
static void	pg_media_keep(struct pg_periph *);

/* Entry actions of a PIM state (pimfsm.c calls it after each event). */
static void
pg_pim_entered(void *arg, int prev, int next, const char *why)
{
	struct pg_periph	*pp = arg;

	(void)why;
	if (next != prev) {
		if (next == PIM_STATE_IDLE) {
			pim_deactivate(pp->pim);
			pp->epoch = 0;
			pp->snapshot_done = 0;
			pp->continuing = 0;
		} else if (next == PIM_STATE_RECOVERING)
			pim_suspend(pp->pim);
		else if (prev == PIM_STATE_RECOVERING &&
		    next == PIM_STATE_ACTIVATING)
			pp->continuing = 1;	/* the same PIM, same epoch */
		pg_send_status(pp);
		pg_send_peer_state(pp);
		pg_cti_facts(pp);
		node_update_summary(pp->node);
	}
	if (next == PIM_STATE_ACTIVATING)
		pg_activate(pp);
}

/* What this side holds of a peripheral, for the other side (PEER_STATE). */
static void
pg_send_peer_state(struct pg_periph *pp)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	if (pp->pg->peer == NULL || !link_is_up(pp->pg->peer))
		return;
	memset(&e, 0, sizeof(e));
	e.a = pp->fsm.state != PIM_STATE_IDLE ? pp->epoch : 0;
	e.b = (uint32_t)pp->fsm.state;
	e.peripheral = pp->id;
	e.cti = pp->pg->cti != NULL ? cti_flags(pp->pg->cti) : 0;
	msg_epoch_encode(&w, MSG_PEER_STATE, &e);
	link_send(pp->pg->peer, &w);
}

/*
 * R23: does this side keep the agents' non-voice MRD states?  When no
 * side's PIM is out of IDLE (one activating goes on with the states as
 * they are then; one recovering, R6, signs agents in again) and this
 * side's CTI server is active, once a PIM has served the peripheral
 * (before that there is nothing to keep: a sign-in waits for a PIM,
 * E_ARM_STAT_CC_OFFLINE).
 */
static int
pg_keeps_media(const struct pg_periph *pp)
{
	int	peer = link_is_up(pp->pg->peer);

	return pp->media_served && pim_media_count(pp->pim) > 0 &&
	    pp->pg->cti != NULL && !pp->pg->resigning &&
	    (cti_flags(pp->pg->cti) & PEER_CTI_ACTIVE) != 0 &&
	    pp->fsm.state == PIM_STATE_IDLE &&
	    !(peer && pp->peer_state != PIM_STATE_IDLE);
}

/*
 * What the CTI server knows of the peripheral: online (a side's PIM
 * serves it, this one's with its snapshot in), who holds it, and whether
 * this side keeps its non-voice MRD states (R23).
 */
static void
pg_cti_facts(struct pg_periph *pp)
{
	struct cti_periph_facts	f;
	int			peer = link_is_up(pp->pg->peer);

	if (pp->pg->cti == NULL)
		return;
	memset(&f, 0, sizeof(f));
	f.id = pp->id;
	f.holds = PIM_STATE_HOLDS(pp->fsm.state);
	f.peer_holds = peer && PIM_STATE_HOLDS(pp->peer_state);
	f.online = (pp->fsm.state == PIM_STATE_ACTIVE && pp->snapshot_done) ||
	    (peer && pp->peer_state == PIM_STATE_ACTIVE);
	f.media_kept = pg_keeps_media(pp);
	cti_periph(pp->pg->cti, &f);
	pg_media_keep(pp);
}

/* Agent records to the other side's CTI server (PEER_AGENTS). */
static void
pg_send_peer_agents(struct pg_periph *pp, uint8_t kind,
    const struct msg_agent *r, int n)
{
	int	batch = pp->node->cfg->snapshot_batch, i, j, cnt;

	if (!link_is_up(pp->pg->peer))
		return;
	for (i = 0; i < n; i += batch) {
		struct wire_writer w;

		cnt = n - i < batch ? n - i : batch;
		msg_agents_begin(&w, MSG_PEER_AGENTS, pp->id, pp->epoch, kind,
		    (uint8_t)(i + cnt >= n), (uint16_t)cnt);
		for (j = 0; j < cnt; j++)
			msg_agent_put(&w, &r[i + j]);
		link_send(pp->pg->peer, &w);
	}
}

/*
 * The PIM's agents as they are: voice (the first nvoice records, from the
 * mirror of the ACD unless given) then every non-voice MRD's it knows
 * (not an email MRD's it was never told, R19); how many.
 */
static int
pg_agent_recs(struct pg_periph *pp, const struct msg_agent *voice,
    int nvoice, struct msg_agent **out)
{
	int	i, nmedia = pim_media_count(pp->pim);

	*out = xcalloc((size_t)nvoice + (size_t)nmedia + 1, sizeof(**out));
	for (i = 0; i < nvoice; i++)
		if (voice != NULL)
			(*out)[i] = voice[i];
		else
			pim_agent_state(pp->pim, i, &(*out)[i]);
	return nvoice + pim_media_states(pp->pim, *out + nvoice);
}

/* The PIM's agents as they are, to the other side's CTI server. */
static void
pg_agents_snapshot(struct pg_periph *pp)
{
	struct msg_agent	*recs;
	int			 cnt;

	cnt = pg_agent_recs(pp, NULL, pp->nagents, &recs);
	pg_send_peer_agents(pp, AGENTS_SNAPSHOT, recs, cnt);
	free(recs);
}

/*
 * A change of an agent's non-voice MRD state, made by this side's PIM: to
 * the router (AGENT_STATES of that MRD), this side's CTI server and the
 * other side's (PEER_AGENTS).
 */
static void
pg_media_changed(struct pg_periph *pp, const struct msg_agent *m)
{
	pg_forward(pp, AGENTS_CHANGE, 0, m, 1);
	cti_agents(pp->pg->cti, pp->id, m, 1, 0);
	pg_send_peer_agents(pp, AGENTS_CHANGE, m, 1);
}

/*
 * A non-voice MRD's state set by this side's PIM, which keeps those (the
 * ACD knows only voice): -1 if the agent has no such MRD.
 */
static int
pg_media_set(struct pg_periph *pp, const struct msg_set_agent *s)
{
	struct msg_agent	m;
	int			rc;

	rc = pim_media_set(pp->pim, s->id, s->mrd, s->state, s->reason,
	    s->handled, &m);
	if (rc == 1)
		pg_media_changed(pp, &m);
	return rc == -1 ? -1 : 0;
}

/*
 * Every agent's records of its non-voice MRDs in *out (the caller frees
 * it), those the PIM knows: *n of them; how many are signed in.
 */
static int
pg_media_in(const struct pg_periph *pp, struct msg_agent **out, int *n)
{
	int	i, in = 0;

	*out = xcalloc((size_t)pim_media_count(pp->pim) + 1, sizeof(**out));
	*n = pim_media_states(pp->pim, *out);
	for (i = 0; i < *n; i++)
		in += agent_logged_in((*out)[i].state);
	return in;
}

/*
 * R23: the kept non-voice MRD states, all of them, to the router with
 * epoch 0 (it knows the keeper by it) and to the other side: when this
 * side begins keeping them, and when its router link or the private
 * link comes back.  The other side mirrors them, as it mirrors a PIM's:
 * a PIM of its own that takes over goes on with them.  Without them a
 * side that came up (restarted) while this one kept them would take the
 * PIM over with every agent signed out of every non-voice MRD, and tell
 * the router so, while this side's CTI server and the desktops have
 * them signed in.
 */
static void
pg_media_report(struct pg_periph *pp)
{
	struct msg_agent	*recs;
	int			 n;

	pg_media_in(pp, &recs, &n);
	pg_forward(pp, AGENTS_CHANGE, 0, recs, n);
	pg_send_peer_agents(pp, AGENTS_SNAPSHOT, recs, n);
	free(recs);
}

/*
 * R23: this side begins or ends keeping the non-voice MRD states (no
 * PIM out of IDLE, its CTI server active): said once each way.
 */
static void
pg_media_keep(struct pg_periph *pp)
{
	struct msg_agent	*recs;
	int			 keep = pg_keeps_media(pp), in, pim, n;

	if (keep == pp->keeping)
		return;
	pim = pp->fsm.state != PIM_STATE_IDLE ||
	    (link_is_up(pp->pg->peer) && pp->peer_state != PIM_STATE_IDLE);
	pp->keeping = keep;
	in = pg_media_in(pp, &recs, &n);
	free(recs);
	if (keep) {
		evt_emit(RULE_R23, "media_kept", json_pack("{s:i, s:i, s:i}",
		    "peripheral", (int)pp->id, "signed_in", in, "entries",
		    pim_media_count(pp->pim)), "no PIM holds peripheral %u: "
		    "side %c's CTI server keeps its agents' non-voice MRD "
		    "states (%d sign-ins) and the router routes tasks to them "
		    "through it; voice waits for a PIM", pp->id,
		    pp->node->self->side, in);
		pg_media_report(pp);
	} else
		evt_emit(RULE_R23, "media_released", json_pack("{s:i, s:i, "
		    "s:s}", "peripheral", (int)pp->id, "signed_in", in, "to",
		    pim ? "pim" : "cti"), "side %c no longer keeps the "
		    "non-voice MRD states of peripheral %u (%d sign-ins): %s",
		    pp->node->self->side, pp->id, in, pim ? "a PIM serves it "
		    "again and goes on with them" : "its CTI server is no "
		    "longer active");
}

/*
 * The CTI server asks for an agent's state in an MRD (0: the voice MRD),
 * with the tasks it saw end there (a non-voice MRD): the ACD (voice) or
 * the PIM (non-voice), this side's or the other side's, or while no PIM
 * serves the peripheral this side's kept non-voice states (R23); -1 if
 * none of them.
 */
static int
pg_ask_agent(struct node *n, uint32_t periph, uint32_t agent, uint32_t mrd,
    int state, int32_t reason, uint32_t handled)
{
	struct pg		*pg = n->role_data;
	struct pg_periph	*pp = NULL;
	struct wire_writer	 w;
	struct msg_set_agent	 s;
	int			 i;

	for (i = 0; i < pg->nperiphs && pp == NULL; i++)
		if (pg->periphs[i].id == periph)
			pp = &pg->periphs[i];
	if (pp == NULL)
		return -1;
	memset(&s, 0, sizeof(s));
	s.id = agent;
	s.state = (uint16_t)state;
	s.reason = reason;
	s.peripheral = periph;
	s.mrd = mrd == (uint32_t)n->cfg->voice_mrd ? 0 : mrd;
	s.handled = s.mrd != 0 ? handled : 0;
	if (pp->fsm.state == PIM_STATE_ACTIVE) {
		if (s.mrd != 0)
			return pp->snapshot_done ? pg_media_set(pp, &s) : -1;
		s.epoch = pp->epoch;
		msg_set_agent_encode(&w, &s);
		return link_send(pp->acd, &w);
	}
	if (link_is_up(pg->peer) && pp->peer_state == PIM_STATE_ACTIVE) {
		msg_peer_set_agent_encode(&w, &s);
		return link_send(pg->peer, &w);
	}
	if (s.mrd != 0 && pp->keeping)		/* R23 */
		return pg_media_set(pp, &s);
	return -1;
}

int
pg_set_agent(struct node *n, uint32_t periph, uint32_t agent, uint32_t mrd,
    int state, int32_t reason)
{
	return pg_ask_agent(n, periph, agent, mrd, state, reason, 0);
}

/*
 * A task of the agent ended in a non-voice MRD (handled, for its interval
 * row), and its state there is state (reason), as pg_set_agent.
 */
int
pg_task_handled(struct node *n, uint32_t periph, uint32_t agent,
    uint32_t mrd, int state, int32_t reason)
{
	return pg_ask_agent(n, periph, agent, mrd, state, reason, 1);
}

/*
 * The CTI server's task messages: TASK_EVENT on the router link, PEER_TASK
 * on the private link; -1 if that link is not up.
 */
int
pg_send_task(struct node *n, uint32_t type, const struct msg_task *t)
{
	struct pg		*pg = n->role_data;
	struct link		*l = type == MSG_TASK_EVENT ? pg->router :
	    pg->peer;
	struct wire_writer	 w;

	if (!link_is_up(l))
		return -1;
	msg_task_encode(&w, type, t);
	return link_send(l, &w);
}

/*
 * The CTI server's running or active flag changed: the peer hears, and
 * this side may begin or end keeping non-voice MRD states (R23).
 */
void
pg_cti_changed(struct node *n)
{
	struct pg	*pg = n->role_data;
	int		 i;

	for (i = 0; i < pg->nperiphs; i++) {
		pg_send_peer_state(&pg->periphs[i]);
		if (pg_keeps_media(&pg->periphs[i]) !=
		    pg->periphs[i].keeping)
			pg_cti_facts(&pg->periphs[i]);
	}
}

/* The side's MR PIM (NULL: the lab routes no media). */
struct mrpim *
pg_mrpim(struct node *n)
{
	struct pg	*pg = n->role_data;

	return pg != NULL ? pg->mr : NULL;
}

static void
pg_send_status(struct pg_periph *pp)
{
	struct pg		*pg = pp->pg;
	struct wire_writer	 w;
	struct msg_pg_status	 st;

	if (!link_is_up(pg->router))
		return;
	memset(&st, 0, sizeof(st));
	st.peripheral = pp->id;
	st.side = (uint8_t)pp->node->self->side;
	st.acd_up = link_is_up(pp->acd) && !pg->resigning && !pp->stopped;
	st.pim_active = (uint8_t)pp->fsm.state;
	st.resigning = (uint8_t)pg->resigning;
	st.epoch = pp->fsm.state != PIM_STATE_IDLE ? pp->epoch : 0;
	st.peer_epoch = link_is_up(pg->peer) &&
	    pp->peer_state != PIM_STATE_IDLE ? pp->peer_epoch : 0;
	st.peer_up = (uint8_t)link_is_up(pg->peer);
	if (pp->fsm.state != PIM_STATE_IDLE && pp->has_token) {
		st.has_token = 1;
		memcpy(st.token, pp->token, sizeof(st.token));
	}
	msg_pg_status_encode(&w, &st);
	link_send(pg->router, &w);
}

/* Tell the router the peripheral is offline, with the rule and code. */
static void
pg_send_offline(struct pg_periph *pp, int rule, int32_t code,
    const char *why)
{
	struct wire_writer		w;
	struct msg_periph_offline	o;

	memset(&o, 0, sizeof(o));
	o.peripheral = pp->id;
	o.epoch = pp->epoch;
	o.rule = (uint32_t)rule;
	o.reason_code = code;
	snprintf(o.text, sizeof(o.text), "%s", why);
	msg_offline_encode(&w, &o);
	link_send(pp->pg->router, &w);
}

static void
pg_activate(struct pg_periph *pp)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	memset(&e, 0, sizeof(e));
	e.a = pp->epoch;
	e.b = pp->id;
	e.has_token = pp->has_token;
	memcpy(e.token, pp->token, sizeof(e.token));
	msg_epoch_encode(&w, MSG_PIM_ACTIVATE, &e);
	link_send(pp->acd, &w);
	pp->activating_ms = mono_ms();
	pp->nsnap = 0;
}

/* The PIM of that peripheral, or NULL. */
static struct pg_periph *
pg_periph(struct pg *pg, uint32_t id)
{
	int	i;

	for (i = 0; i < pg->nperiphs; i++)
		if (pg->periphs[i].id == id)
			return &pg->periphs[i];
	return NULL;
}

static void
pg_grant(struct pg *pg, const struct msg_grant *g)
{
	struct pg_periph	*pp;

	if (mrpim_owns(pg->mr, g->peripheral)) {
		mrpim_grant(pg->mr, g);
		return;
	}
	if ((pp = pg_periph(pg, g->peripheral)) == NULL)
		return;
	if (!link_is_up(pp->acd) || pp->stopped) {
		log_warnx("grant of epoch %u refused: %s", g->epoch,
		    pp->stopped ? "the PIM is stopped (pgemuctl)" :
		    "no ACD link");
		pg_send_status(pp);
		return;
	}
	/*
	 * Granted while it holds the PIM: the router gives it a newer epoch
	 * (it had given the PIM to a side that never took it up).  The PIM
	 * goes on counting; only the epoch the ACD obeys changes.
	 */
	pp->continuing = pp->continuing || PIM_STATE_HOLDS(pp->fsm.state);
	if (pp->fsm.state != PIM_STATE_IDLE)
		log_info("PIM %u: granted epoch %u while %s with epoch %u",
		    g->peripheral, g->epoch, pim_state_names[pp->fsm.state],
		    pp->epoch);
	pp->epoch = g->epoch;
	pp->has_token = g->has_token;
	memcpy(pp->token, g->token, sizeof(pp->token));
	pp->grant_reason = (int)g->reason;
	snprintf(pp->grant_text, sizeof(pp->grant_text), "%s", g->text);
	/* After a PG side failover the agents log back in: R8. */
	pp->relogin = g->reason == GRANT_PEER_LOST ||
	    g->reason == GRANT_PEER_RESIGNED;
	pp->activations++;
	pim_fsm_event(&pp->fsm, PEV_GRANT, "granted by the router");
}

/*
 * The voice PIM's actions (pimfsm.c decides which, in the state they are
 * taken in): what the router, the ACD and the reporting data see.
 */
static void
pg_pim_act(void *arg, enum pim_action act, const char *why)
{
	struct pg_periph	*pp = arg;
	int			 periph = (int)pp->id;

	switch (act) {
	case PACT_ACTIVATE:
		evt_emit(pp->grant_reason == GRANT_FIRST ? RULE_NONE : 5,
		    "pim_activating", json_pack("{s:i, s:i, s:s}",
		    "peripheral", periph, "epoch", (int)pp->epoch, "reason",
		    pp->grant_text), "activating PIM %d (epoch %u): %s",
		    periph, pp->epoch, pp->grant_text);
		break;
	case PACT_SERVE:
		/*
		 * After a PG side or CTI Manager failover (R6, R8) the PIM
		 * serves no non-voice MRD but email (R19): the desktops sign
		 * in again.  Any other PIM goes on with them as they are (its
		 * own, or its mirror of the other side's): a voice PIM that
		 * went signs nobody out of them (R23).
		 */
		if (pp->relogin)
			pim_media_reset(pp->pim, REASON_CTI_FAILURE);
		if (pp->epoch == 1)
			pim_media_first(pp->pim);
		pim_activate(pp->pim, pp->epoch, pp->continuing);
		pp->continuing = 0;
		pp->active_since = wall_now();
		evt_emit(RULE_R5, "pim_active", json_pack("{s:i, s:i, s:f}",
		    "peripheral", periph, "epoch", (int)pp->epoch,
		    "activation_ms", (double)(mono_ms() - pp->activating_ms)),
		    "PIM %d active (epoch %u), side %c serves the peripheral",
		    periph, pp->epoch, pp->node->self->side);
		break;
	case PACT_LOSE:
		/* R1 here, R2/R3 at the router. */
		if (PIM_STATE_HOLDS(pp->fsm.state) || pp->continuing)
			pim_discard(pp->pim, why);
		pg_send_offline(pp, pp->lose_rule, pp->lose_code, why);
		break;
	case PACT_RECOVER:
		/* R6: agents out until the backup takes over. */
		pg_send_offline(pp, RULE_R6, REASON_CTI_FAILURE, why);
		break;
	case PACT_RECONNECT:
		evt_emit(RULE_R6, "pim_recovering", json_pack("{s:i, s:i}",
		    "peripheral", periph, "port", pp->acd->port), "PIM %d "
		    "reconnected to the CTI Manager at port %d; logging agents "
		    "back in", periph, pp->acd->port);
		pp->relogin = 1;
		break;
	default:
		break;
	}
}

static const struct pim_fsm_ops pg_pim_ops = { pg_pim_act, pg_pim_entered };

/* The PIM lost for good, with the rule and reason code of its agents. */
static void
pg_pim_lost(struct pg_periph *pp, enum pim_event ev, int rule, int32_t code,
    const char *why)
{
	pp->lose_rule = rule;
	pp->lose_code = code;
	if (pim_fsm_event(&pp->fsm, ev, why) == PACT_IGNORE)
		pg_send_status(pp);
}

/* Forward agent records to the router as one AGENT_STATES message. */
static void
pg_forward(struct pg_periph *pp, uint8_t kind, int last,
    const struct msg_agent *r, int n)
{
	int	batch = pp->node->cfg->snapshot_batch, i, j;

	for (i = 0; i < n || (i == 0 && last); i += batch) {
		struct wire_writer w;
		int		   cnt = n - i < batch ? n - i : batch;

		if (cnt < 0)
			cnt = 0;
		msg_agents_begin(&w, MSG_AGENT_STATES, pp->id, pp->epoch, kind,
		    (uint8_t)(last && i + cnt >= n), (uint16_t)cnt);
		for (j = 0; j < cnt; j++)
			msg_agent_put(&w, &r[i + j]);
		link_send(pp->pg->router, &w);
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
pg_snapshot_done(struct pg_periph *pp)
{
	struct msg_agent	*recs;
	int			 i, cnt, changed = 0, in = 0;
	uint8_t			 kind = pp->relogin ? AGENTS_RELOGIN :
	    AGENTS_SNAPSHOT;

	if (pp->relogin)
		for (i = 0; i < pp->nsnap; i++) {
			struct msg_agent *a = &pp->snap[i];
			int		  next;

			next = agent_after_pg_failover(a->state,
			    a->before_call);
			if (next != a->state) {
				struct wire_writer	w;
				struct msg_set_agent	s;

				memset(&s, 0, sizeof(s));
				s.epoch = pp->epoch;
				s.id = a->id;
				s.state = (uint16_t)next;
				s.reason = REASON_CTI_FAILURE;
				msg_set_agent_encode(&w, &s);
				link_send(pp->acd, &w);
				a->state = (uint16_t)next;
				a->ms_in_state = 0;
				changed++;
			}
			in += agent_logged_in(a->state);
		}
	pim_update(pp->pim, pp->snap, pp->nsnap);
	cnt = pg_agent_recs(pp, pp->snap, pp->nsnap, &recs);
	pg_forward(pp, kind, 1, recs, cnt);
	pp->snapshot_done = 1;
	pp->media_served = 1;
	cti_agents(pp->pg->cti, pp->id, recs, cnt, 1);
	pg_send_peer_agents(pp, AGENTS_SNAPSHOT, recs, cnt);
	free(recs);
	pg_cti_facts(pp);
	if (pp->relogin)
		evt_emit(RULE_R8, "agents_relogin", json_pack("{s:i, s:i, s:i, s:i}",
		    "peripheral", (int)pp->id, "agents", in,
		    "changed", changed, "snapshot", pp->nsnap), "%d agents "
		    "logged back in after the failover, in their Table 1 "
		    "states (%d of them changed state, %d logged out stay out)",
		    in, changed, pp->nsnap - in);
	else
		evt_emit(RULE_R4, "agents_snapshot", json_pack("{s:i, s:i}",
		    "peripheral", (int)pp->id, "agents",
		    pp->nsnap), "ACD snapshot of %d agents sent to the router "
		    "(real-time state only)", pp->nsnap);
	pp->relogin = 0;
	/* 100,000 agents: 2.8 MB not to keep until the next snapshot. */
	free(pp->snap);
	pp->snap = NULL;
	pp->nsnap = pp->capsnap = 0;
}

static void
pg_acd_agents(struct pg_periph *pp, const struct msg_agents *m)
{
	struct msg_agent	*recs;
	int			 i;

	if (pp->fsm.state == PIM_STATE_IDLE || m->epoch != pp->epoch)
		return;
	if (m->kind == AGENTS_SNAPSHOT) {
		/* Room for the lab's agents at once, not a batch at a time. */
		if (pp->nsnap + m->count > pp->capsnap) {
			pp->capsnap = pp->nsnap + m->count > pp->nagents ?
			    pp->nsnap + m->count : pp->nagents;
			pp->snap = xreallocarray(pp->snap,
			    (size_t)pp->capsnap, sizeof(*pp->snap));
		}
		for (i = 0; i < m->count; i++)
			msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN,
			    &pp->snap[pp->nsnap++]);
		if (m->last)
			pg_snapshot_done(pp);
		return;
	}
	recs = xcalloc(m->count ? m->count : 1, sizeof(*recs));
	for (i = 0; i < m->count; i++)
		msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN, &recs[i]);
	i = pim_changes(pp->pim, recs, m->count);
	if (pp->snapshot_done && i > 0) {
		pg_forward(pp, AGENTS_CHANGE, 0, recs, i);
		cti_agents(pp->pg->cti, pp->id, recs, i, 0);
		pg_send_peer_agents(pp, AGENTS_CHANGE, recs, i);
	}
	free(recs);
}

/* The PIM whose ACD link this is, or NULL. */
static struct pg_periph *
pg_periph_of_acd(struct pg *pg, const struct link *l)
{
	int	i;

	for (i = 0; i < pg->nperiphs; i++)
		if (pg->periphs[i].acd == l)
			return &pg->periphs[i];
	return NULL;
}

/*
 * The PIM a DELIVERY_ACK or PEER_STATE names (none named: the first, as
 * in a lab of one peripheral); NULL and why if the lab has no such one.
 */
static struct pg_periph *
pg_periph_named(struct role_msg_in *in, const struct msg_epoch *e)
{
	struct pg		*pg = in->node->role_data;
	struct pg_periph	*pp;

	if (e->peripheral == 0)
		return &pg->periphs[0];
	if ((pp = pg_periph(pg, e->peripheral)) == NULL)
		snprintf(in->err, sizeof(in->err), "%s: no peripheral %u in "
		    "this lab", wire_type_name(in->msg->type), e->peripheral);
	return pp;
}

/* PIM_ACCEPT: the ACD obeys our PIM of its peripheral. */
static int
pg_msg_accept(struct role_msg_in *in, const union msg_body *b)
{
	struct pg_periph	*pp = pg_periph_of_acd(in->node->role_data,
	    in->link);

	if (pp != NULL && b->epoch.a == pp->epoch)
		pim_fsm_event(&pp->fsm, PEV_ACCEPTED, "accepted by the ACD");
	return 0;
}

/* PIM_REJECT, PIM_FENCED: the ACD will not take our PIM. */
static int
pg_msg_refused(struct role_msg_in *in, const union msg_body *b)
{
	struct pg_periph	*pp = pg_periph_of_acd(in->node->role_data,
	    in->link);
	char			 why[200];

	if (pp == NULL || pp->fsm.state == PIM_STATE_IDLE)
		return 0;
	snprintf(why, sizeof(why), "%s by the ACD: %s",
	    in->msg->type == MSG_PIM_REJECT ? "refused" : "fenced",
	    b->epoch.text);
	pg_pim_lost(pp, PEV_REFUSED, RULE_R2, REASON_PG_RESET, why);
	return 0;
}

static int
pg_msg_agents(struct role_msg_in *in, const union msg_body *b)
{
	struct pg_periph	*pp = pg_periph_of_acd(in->node->role_data,
	    in->link);

	if (pp != NULL)
		pg_acd_agents(pp, &b->agents);
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
	const struct msg_epoch	*e = &b->epoch;
	struct pg_periph	*pp;

	if ((pp = pg_periph_named(in, e)) == NULL)
		return -1;
	if (e->flags == ACK_STORED)
		pim_ack(pp->pim, e->a);
	else if (e->flags == ACK_REFUSED)
		pim_refused(pp->pim, e->a, e->text);
	else if (e->flags == ACK_NOT_STORED)
		pim_not_stored(pp->pim, e->a, e->text);
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
	struct pg_periph	*pp;
	int			 let_go = 0;

	if (e->b >= PIM_STATE_MAX) {
		snprintf(in->err, sizeof(in->err), "PEER_STATE: bad state %u",
		    e->b);
		return -1;
	}
	if (mrpim_owns(pg->mr, e->peripheral)) {
		mrpim_peer_state(pg->mr, e);
		return 0;
	}
	if ((pp = pg_periph_named(in, e)) == NULL)
		return -1;
	if (pp->peer_state != e->b || pp->peer_epoch != e->a) {
		let_go = PIM_STATE_HOLDS(pp->peer_state) &&
		    !PIM_STATE_HOLDS(e->b);
		pp->peer_state = (uint8_t)e->b;
		pp->peer_epoch = e->a;
		pg_send_status(pp);
	}
	/*
	 * The other side's PIM let go (the ACD fenced it, or it lost its
	 * ACD link) while this side's serves the peripheral.  As long as it
	 * held it, that side dropped our agents' records (its own PIM's
	 * were newer: pg_msg_peer_agents), our takeover's snapshot among
	 * them, and its PIM, fenced unawares, may have changed states we
	 * never heard of.  Its CTI server, which the desktops and the
	 * application may still talk to, must show our PIM's states, the
	 * router's: else it has agents in an MRD that the PIM and the
	 * router have them out of (and passes no sign-in on: "already
	 * logged in"), or the reverse.  R19, R23: they are the PIM's.
	 */
	if (let_go && pp->fsm.state == PIM_STATE_ACTIVE &&
	    pp->snapshot_done) {
		log_info("PIM %u: the other side's let go: its agents' states "
		    "sent to it again", pp->id);
		pg_agents_snapshot(pp);
	}
	if (e->b == PIM_STATE_ACTIVE)
		pp->media_served = 1;	/* its states are mirrored here */
	pg_cti_facts(pp);
	cti_peer(pp->pg->cti, 1, e->cti);
	return 0;
}

/* PEER_AGENTS: the holder's agents, for this side's CTI server. */
static int
pg_msg_peer_agents(struct role_msg_in *in, const union msg_body *b)
{
	struct pg		*pg = in->node->role_data;
	const struct msg_agents	*m = &b->agents;
	struct pg_periph	*pp;
	struct msg_agent	*recs;
	int			 i;

	if ((pp = pg_periph(pg, m->peripheral)) == NULL) {
		snprintf(in->err, sizeof(in->err), "PEER_AGENTS: no "
		    "peripheral %u in this lab", m->peripheral);
		return -1;
	}
	if (PIM_STATE_HOLDS(pp->fsm.state))	/* its own PIM's are newer */
		return 0;
	recs = xcalloc(m->count ? m->count : 1, sizeof(*recs));
	for (i = 0; i < m->count; i++)
		msg_agent_get(m->recs + (size_t)i * MSG_AGENT_LEN, &recs[i]);
	/* The non-voice states, for a PIM of this side that takes over. */
	if (!pp->keeping)
		pim_media_mirror(pp->pim, recs, m->count);
	cti_agents(pg->cti, pp->id, recs, m->count,
	    m->kind == AGENTS_SNAPSHOT);
	free(recs);
	return 0;
}

/* PEER_SET_AGENT: the other side's CTI server asks this side's PIM. */
static int
pg_msg_peer_set_agent(struct role_msg_in *in, const union msg_body *b)
{
	struct msg_set_agent	 s = b->set_agent;
	struct pg_periph	*pp;
	struct wire_writer	 w;

	if ((pp = pg_periph(in->node->role_data, s.peripheral)) == NULL) {
		snprintf(in->err, sizeof(in->err), "PEER_SET_AGENT: no "
		    "peripheral %u in this lab", s.peripheral);
		return -1;
	}
	if (pp->fsm.state != PIM_STATE_ACTIVE || (s.mrd != 0 &&
	    !pp->snapshot_done)) {
		log_warnx("PEER_SET_AGENT for agent %u dropped: PIM %u is %s "
		    "here", s.id, pp->id, pp->fsm.state != PIM_STATE_ACTIVE ?
		    pim_state_names[pp->fsm.state] : "without its snapshot");
		return 0;
	}
	if (s.mrd != 0) {
		if (pg_media_set(pp, &s) == -1)
			log_warnx("PEER_SET_AGENT for agent %u dropped: no MRD "
			    "%u of it on PIM %u", s.id, s.mrd, pp->id);
		return 0;
	}
	s.epoch = pp->epoch;
	msg_set_agent_encode(&w, &s);
	link_send(pp->acd, &w);
	return 0;
}

/* How long a reservation of the MRD lasts: its start timeout, a hold. */
static uint64_t
pg_hold_ms(const struct node *n, uint32_t mrd)
{
	const struct cfg_mrd	*m = cfg_mrd(n->cfg, (int)mrd);

	return (uint64_t)(m != NULL ? m->task_start_timeout : 30) * 1000 +
	    (uint64_t)n->cfg->hb_router.interval_ms *
	    (uint64_t)n->cfg->hb_router.misses;
}

/* The timer of the reservations at the first one to run out. */
static void
pg_holds_arm(struct pg *pg)
{
	struct pg_hold	*h = TAILQ_FIRST(&pg->holds);
	struct timeval	 tv;
	uint64_t	 now = mono_ms();

	if (h == NULL) {
		evtimer_del(pg->ev_holds);
		return;
	}
	ms_to_tv(h->until_ms > now ? (int)(h->until_ms - now) : 0, &tv);
	evtimer_add(pg->ev_holds, &tv);
}

/*
 * A reservation in its place by the time it runs out: at the end but
 * for one of an MRD with a shorter task_start_timeout.  The timer moves
 * only when it is the first.
 */
static void
pg_holds_add(struct pg *pg, struct pg_hold *h)
{
	struct pg_hold	*after;

	for (after = TAILQ_LAST(&pg->holds, pg_holds); after != NULL &&
	    after->until_ms > h->until_ms;
	    after = TAILQ_PREV(after, pg_holds, entry))
		;
	if (after != NULL)
		TAILQ_INSERT_AFTER(&pg->holds, after, h, entry);
	else
		TAILQ_INSERT_HEAD(&pg->holds, h, entry);
	if (TAILQ_FIRST(&pg->holds) == h)
		pg_holds_arm(pg);
}

/* An agent's non-voice MRD state set by this side's PIM. */
static void
pg_media_to(struct pg_periph *pp, uint32_t agent, uint32_t mrd, int state)
{
	struct msg_set_agent	s;

	memset(&s, 0, sizeof(s));
	s.id = agent;
	s.state = (uint16_t)state;
	s.peripheral = pp->id;
	s.mrd = mrd;
	pg_media_set(pp, &s);
}

/* Reservations the router did not release: released, if still held. */
static void
pg_holds_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg	*pg = arg;
	struct pg_hold	*h;
	uint64_t	 now = mono_ms(), since;

	(void)fd;
	(void)what;
	while ((h = TAILQ_FIRST(&pg->holds)) != NULL && h->until_ms <= now) {
		TAILQ_REMOVE(&pg->holds, h, entry);
		if (pg->cti != NULL && cti_path_is_down(pg->cti, h->path)) {
			h->until_ms = now + pg_hold_ms(pg->node, h->mrd);
			pg_holds_add(pg, h);
			continue;
		}
		if ((h->pp->fsm.state == PIM_STATE_ACTIVE ||
		    h->pp->keeping) &&
		    pim_media_state(h->pp->pim, h->agent, h->mrd, &since) ==
		    AS_RESERVED && since == h->since_ms) {
			log_info("agent %u reserved in MRD %u for task %u.%u "
			    "and never released by the router: available "
			    "again", h->agent, h->mrd, h->task[0], h->task[1]);
			pg_media_to(h->pp, h->agent, h->mrd, AS_AVAILABLE);
		}
		free(h);
	}
	pg_holds_arm(pg);
}

/* The reservations of an agent in an MRD end (PRECALL_RELEASE). */
static void
pg_holds_drop(struct pg *pg, struct pg_periph *pp, uint32_t agent,
    uint32_t mrd)
{
	struct pg_hold	*h, *next;

	for (h = TAILQ_FIRST(&pg->holds); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (h->pp == pp && h->agent == agent && h->mrd == mrd) {
			TAILQ_REMOVE(&pg->holds, h, entry);
			free(h);
		}
	}
	pg_holds_arm(pg);
}

/*
 * PRECALL: the router routed a task to an agent of a peripheral whose PIM
 * this side holds (or whose non-voice states it keeps, R23).  RESERVE:
 * the agent, AVAILABLE in the task's MRD, is RESERVED there; RELEASE: the
 * task did not start in time, the agent, still RESERVED, is AVAILABLE
 * again.  An agent whose state moved on meanwhile is left as it is.
 */
static int
pg_msg_precall(struct role_msg_in *in, const union msg_body *b)
{
	struct pg		*pg = in->node->role_data;
	const struct msg_task	*t = &b->task;
	const struct cfg_mrd	*m;
	struct pg_periph	*pp;
	struct pg_hold		*h;
	uint64_t		 since;
	int			 state, want, from;

	if ((pp = pg_periph(pg, t->peripheral)) == NULL ||
	    t->code > PRECALL_RELEASE) {
		snprintf(in->err, sizeof(in->err), "PRECALL: %s %u",
		    pp == NULL ? "no peripheral" : "unknown code",
		    pp == NULL ? t->peripheral : t->code);
		return -1;
	}
	want = t->code == PRECALL_RESERVE ? AS_RESERVED : AS_AVAILABLE;
	from = t->code == PRECALL_RESERVE ? AS_AVAILABLE : AS_RESERVED;
	/* R23: with no PIM, the side that keeps the states. */
	if ((pp->fsm.state != PIM_STATE_ACTIVE || !pp->snapshot_done) &&
	    !pp->keeping) {
		log_warnx("PRECALL for agent %u dropped: PIM %u does not serve "
		    "here", t->agent, pp->id);
		return 0;
	}
	if (t->code == PRECALL_RELEASE)
		pg_holds_drop(pg, pp, t->agent, t->mrd);
	state = pim_media_state(pp->pim, t->agent, t->mrd, &since);
	if (state != from || (m = cfg_mrd(in->node->cfg, (int)t->mrd)) ==
	    NULL) {
		log_info("PRECALL %s of agent %u in MRD %u (task %u.%u): the "
		    "agent is %s, left so", t->code == PRECALL_RESERVE ?
		    "RESERVE" : "RELEASE", t->agent, t->mrd, t->task[0],
		    t->task[1], state == -1 ? "not in that MRD" :
		    agent_state_name(state));
		return 0;
	}
	pg_media_to(pp, t->agent, t->mrd, want);
	log_debug("PRECALL: agent %u %s in MRD %u for task %u.%u", t->agent,
	    agent_state_name(want), t->mrd, t->task[0], t->task[1]);
	if (t->code == PRECALL_RELEASE ||
	    pim_media_state(pp->pim, t->agent, t->mrd, &since) != want)
		return 0;
	h = xcalloc(1, sizeof(*h));
	h->pp = pp;
	h->agent = t->agent;
	h->mrd = t->mrd;
	h->task[0] = t->task[0];
	h->task[1] = t->task[1];
	h->path = t->path;
	h->since_ms = since;
	h->until_ms = mono_ms() + pg_hold_ms(in->node, (uint32_t)m->id);
	pg_holds_add(pg, h);
	return 0;
}

/* PEER_TASK: the other side's CTI server's tasks, for this one's. */
static int
pg_msg_peer_task(struct role_msg_in *in, const union msg_body *b)
{
	struct pg	*pg = in->node->role_data;

	return cti_peer_task(pg->cti, &b->task, in->err, sizeof(in->err));
}

/* PEER_TASK_CACHE: the other side's TASK_EVENTs, a copy (R22). */
static int
pg_msg_peer_cache(struct role_msg_in *in, const union msg_body *b)
{
	struct pg	*pg = in->node->role_data;

	return cti_peer_cache(pg->cti, &b->task, in->err, sizeof(in->err));
}

/* Back from a router outage: resync, then what waited. */
static void
pg_router_back(struct pg_periph *pp)
{
	pg_send_status(pp);
	if (pp->fsm.state == PIM_STATE_ACTIVE && pp->snapshot_done) {
		struct msg_agent *recs;
		int		  cnt;

		cnt = pg_agent_recs(pp, NULL, pp->nagents, &recs);
		pg_forward(pp, AGENTS_SNAPSHOT, 1, recs, cnt);
		free(recs);
	} else if (pp->keeping)
		pg_media_report(pp);		/* R23 */
	pim_flush(pp->pim, 1);
}

static void
pg_link_up(struct node *n, struct link *l)
{
	struct pg		*pg = n->role_data;
	struct pg_periph	*pp;
	int			 i;

	mrpim_link(pg->mr, l, 1, NULL);
	if (l == pg->router) {
		for (i = 0; i < pg->nperiphs; i++)
			pg_router_back(&pg->periphs[i]);
		cti_router(pg->cti, 1);
	} else if ((pp = pg_periph_of_acd(pg, l)) != NULL) {
		if (pim_fsm_event(&pp->fsm, PEV_LINK_BACK, "ACD link back") ==
		    PACT_IGNORE)
			pg_send_status(pp);
	} else if (l == pg->peer) {
		/* The CTI server decides once the peer's PEER_STATE is in. */
		for (i = 0; i < pg->nperiphs; i++) {
			pp = &pg->periphs[i];
			pg_send_peer_state(pp);
			pg_send_status(pp);
			if (pp->fsm.state == PIM_STATE_ACTIVE &&
			    pp->snapshot_done)
				pg_agents_snapshot(pp);
			else if (pp->keeping)
				pg_media_report(pp);	/* R23 */
		}
	}
}

static void
pg_link_down(struct node *n, struct link *l, const char *why)
{
	struct pg		*pg = n->role_data;
	struct pg_periph	*pp;
	char			 text[200];
	int			 i, idle = 1;

	mrpim_link(pg->mr, l, 0, why);
	if ((pp = pg_periph_of_acd(pg, l)) != NULL) {
		if (l->bye_reason == BYE_CTI_MANAGER_STOP && l->alt_port != 0) {
			snprintf(text, sizeof(text), "CTI Manager stopped: %s",
			    l->bye_text);
			pg_pim_lost(pp, PEV_ENDPOINT_STOPPED, RULE_R2,
			    REASON_PERIPHERAL_RESTART, text);
			return;
		}
		snprintf(text, sizeof(text), "link to the ACD went: %s", why);
		pg_pim_lost(pp, PEV_LINK_LOST, RULE_R2, REASON_PERIPHERAL_RESTART,
		    text);
	} else if (l == pg->peer) {
		for (i = 0; i < pg->nperiphs; i++)
			idle = idle && pg->periphs[i].fsm.state ==
			    PIM_STATE_IDLE;
		evt_emit(RULE_NONE, "peer_lost", json_pack("{s:s, s:s}", "peer",
		    l->peer_node, "reason", why), "peer side %c (%s) lost: %s%s",
		    n->self->side == 'A' ? 'B' : 'A', l->peer_node, why,
		    idle ? "; candidate for the PIM" : "");
		for (i = 0; i < pg->nperiphs; i++) {
			pg->periphs[i].peer_state = PIM_STATE_IDLE;
			pg_send_status(&pg->periphs[i]);
			pg_cti_facts(&pg->periphs[i]);
		}
		cti_peer(pg->cti, 0, 0);
	} else if (l == pg->router)
		cti_router(pg->cti, 0);
}

/*
 * The peripherals this side serves and their ACD links.  With one ACD
 * its link is acd-link; with several, acd-link-NODE.
 */
static void
pg_init_periphs(struct pg *pg)
{
	struct node	*n = pg->node;
	char		 name[PGEMU_NAME_MAX];
	int		 i;

	pg->periphs = xcalloc((size_t)n->cfg->nperiphs, sizeof(*pg->periphs));
	for (i = 0; i < n->cfg->nperiphs; i++) {
		const struct cfg_periph	*cp = &n->cfg->periphs[i];
		const struct cfg_node	*acd = cfg_node(n->cfg, cp->acd);
		struct pg_periph	*pp = &pg->periphs[pg->nperiphs];

		if (cfg_periph_side(cp, n->self->name) == -1)
			continue;
		pg->nperiphs++;
		pp->pg = pg;
		pp->node = n;
		pp->id = (uint32_t)cp->id;
		pp->nagents = cp->nagents;
		pp->fsm.state = PIM_STATE_IDLE;
		pp->fsm.peripheral = pp->id;
		pp->fsm.ops = &pg_pim_ops;
		pp->fsm.arg = pp;
		if (n->cfg->nperiphs == 1)
			snprintf(name, sizeof(name), "acd-link");
		else
			snprintf(name, sizeof(name), "acd-link-%s", acd->name);
		pp->acd = node_new_link(n, name, acd, LINK_KIND_ACD, 1);
		if (acd->backup_port != 0)
			link_set_alt_port(pp->acd, acd->backup_port);
	}
}

static int
pg_init(struct node *n, char *err, size_t errlen)
{
	struct pg		*pg = xcalloc(1, sizeof(*pg));
	const struct cfg_node	*peer = cfg_pg_peer(n->cfg, n->self);
	int			 i;

	pg->node = n;
	n->role_data = pg;
	TAILQ_INIT(&pg->holds);
	pg->ev_holds = evtimer_new(n->base, pg_holds_cb, pg);
	pg->router = node_new_link(n, "router-link",
	    cfg_node_role(n->cfg, ROLE_ROUTER, 0), LINK_KIND_ROUTER, 1);
	pg_init_periphs(pg);
	pg->peer = node_new_link(n, "private-link", peer, LINK_KIND_PRIVATE,
	    n->self->side == 'A');
	if (n->cfg->mr.enabled)
		pg->mr = mrpim_new(n, pg->router, pg->peer);
	/* The port first: a side that cannot start leaves its spool alone. */
	if (n->self->side != 'A' && node_listen(n, "private", n->self->port,
	    err, errlen) == -1)
		return -1;
	if ((pg->cti = cti_new(n, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < pg->nperiphs; i++)
		if ((pg->periphs[i].pim = pim_new(n, cfg_periph(n->cfg,
		    pg->periphs[i].id), i == 0, pg->router, err,
		    errlen)) == NULL)
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
	int			 i;

	snprintf(text, sizeof(text), "side %c stopping", n->self->side);
	cti_shutdown(pg->cti);
	mrpim_shutdown(pg->mr);
	for (i = 0; i < pg->nperiphs; i++) {
		struct pg_periph *pp = &pg->periphs[i];

		if (pp->fsm.state == PIM_STATE_IDLE)
			continue;
		memset(&e, 0, sizeof(e));
		e.a = pp->epoch;
		msg_epoch_encode(&w, MSG_PIM_DEACTIVATE, &e);
		link_send(pp->acd, &w);
		evt_emit(RULE_R5, "pim_resigning", json_pack("{s:i, s:i}",
		    "peripheral", (int)pp->id, "epoch", (int)pp->epoch),
		    "resigning PIM %u (epoch %u): %s", pp->id, pp->epoch,
		    text);
		pim_discard(pp->pim, text);
		pg_send_offline(pp, RULE_R6, REASON_CTI_FAILURE, text);
	}
	pg->resigning = 1;
	for (i = 0; i < pg->nperiphs; i++)
		pg_send_status(&pg->periphs[i]);
	if (link_is_up(pg->peer)) {
		wire_bye_encode(&w, BYE_RESIGNING, text);
		link_send(pg->peer, &w);
	}
	if (link_is_up(pg->router)) {
		wire_bye_encode(&w, BYE_STOPPING, text);
		link_send(pg->router, &w);
	}
}

/* Also after an init that failed half way: what was not made is NULL. */
static void
pg_fini(struct node *n)
{
	struct pg	*pg = n->role_data;
	struct pg_hold	*h;
	int		 i;

	cti_free(pg->cti);
	mrpim_free(pg->mr);
	while ((h = TAILQ_FIRST(&pg->holds)) != NULL) {
		TAILQ_REMOVE(&pg->holds, h, entry);
		free(h);
	}
	event_free(pg->ev_holds);
	for (i = 0; i < pg->nperiphs; i++) {
		pim_free(pg->periphs[i].pim);
		free(pg->periphs[i].snap);
	}
	free(pg->periphs);
	free(pg);
	n->role_data = NULL;
}

static json_t *
pg_pim_json(const struct pg_periph *pp)
{
	json_t	*j;

	j = json_pack("{s:i, s:s, s:i, s:s, s:I, s:b}", "peripheral",
	    (int)pp->id, "state", pim_state_names[pp->fsm.state], "epoch",
	    (int)pp->epoch, "last_grant", pp->grant_text, "activations",
	    (json_int_t)pp->activations, "resigning", pp->pg->resigning);
	json_object_set_new(j, "stopped", json_boolean(pp->stopped));
	json_object_set_new(j, "media_kept", json_boolean(pp->keeping));
	return j;
}

static json_t *
pg_peer_json(const struct pg_periph *pp)
{
	return json_pack("{s:s, s:i}", "state",
	    pim_state_names[pp->peer_state], "epoch", (int)pp->peer_epoch);
}

/* The first peripheral's PIM as in a lab of one; every one in a list. */
static void
pg_status(struct node *n, json_t *j)
{
	struct pg	*pg = n->role_data;
	json_t		*all = json_array();
	int		 i;

	json_object_set_new(j, "pim", pg_pim_json(&pg->periphs[0]));
	json_object_set_new(j, "peer", pg_peer_json(&pg->periphs[0]));
	json_object_set_new(j, "reporting", pim_json(pg->periphs[0].pim));
	for (i = 0; i < pg->nperiphs; i++) {
		const struct pg_periph *pp = &pg->periphs[i];

		json_array_append_new(all, json_pack("{s:i, s:s, s:o, s:o, "
		    "s:o}", "peripheral", (int)pp->id, "acd_link",
		    pp->acd->name, "pim", pg_pim_json(pp), "peer",
		    pg_peer_json(pp), "reporting", pim_json(pp->pim)));
	}
	json_object_set_new(j, "peripherals", all);
	json_object_set_new(j, "cti", cti_summary_json(pg->cti));
	if (pg->mr != NULL)
		json_object_set_new(j, "mr", mrpim_json(pg->mr));
}

/* pgemuctl NODE cti */
static int
pg_cmd_cti(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct pg	*pg = n->role_data;

	(void)argc;
	(void)argv;
	res->data = cti_json(pg->cti);
	return 0;
}

/*
 * pgemuctl NODE stop|start pim: the side's voice PIMs stop (a PIM that
 * holds its peripheral releases the ACD, PIM_DEACTIVATE, and is lost as
 * a PIM failure is: R1 here, R2 and R3 with reason -2 at the router,
 * which grants the other side if it can serve) and take no grant until
 * started again.
 */
static int
pg_pim_stop_start(struct pg *pg, int start, char *err, size_t errlen)
{
	struct wire_writer	 w;
	struct msg_epoch	 e;
	int			 i, n = 0;

	for (i = 0; i < pg->nperiphs; i++) {
		struct pg_periph *pp = &pg->periphs[i];

		if (pp->stopped == !start)
			continue;
		n++;
		pp->stopped = !start;
		log_info("PIM %u %s by pgemuctl", pp->id, start ? "started" :
		    "stopped");
		if (start || pp->fsm.state == PIM_STATE_IDLE) {
			pg_send_status(pp);
			continue;
		}
		memset(&e, 0, sizeof(e));
		e.a = pp->epoch;
		msg_epoch_encode(&w, MSG_PIM_DEACTIVATE, &e);
		link_send(pp->acd, &w);
		pg_pim_lost(pp, PEV_REFUSED, RULE_R2, REASON_PG_RESET,
		    "PIM stopped by pgemuctl");
	}
	if (n == 0) {
		snprintf(err, errlen, "the PIM%s %s already",
		    pg->nperiphs == 1 ? " is" : "s are", start ? "started" :
		    "stopped");
		return -1;
	}
	return 0;
}

/* pgemuctl NODE stop|start cti-server|mr-pim|pim */
static int
pg_cmd_stop_start(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct pg	*pg = n->role_data;
	int		 start = strcmp(argv[0], "start") == 0, i;

	(void)argc;
	if (strcmp(argv[1], "pim") == 0) {
		if (pg_pim_stop_start(pg, start, res->err,
		    sizeof(res->err)) == -1)
			return -1;
		res->data = json_array();
		for (i = 0; i < pg->nperiphs; i++)
			json_array_append_new(res->data,
			    pg_pim_json(&pg->periphs[i]));
		return 0;
	}
	if (strcmp(argv[1], "mr-pim") == 0) {
		if (mrpim_stop_start(pg->mr, start, res->err,
		    sizeof(res->err)) == -1)
			return -1;
		res->data = mrpim_json(pg->mr);
		return 0;
	}
	if (strcmp(argv[1], "cti-server") != 0)
		return CMD_USAGE;
	if (cti_cmd_stop_start(pg->cti, start, res->err,
	    sizeof(res->err)) == -1)
		return -1;
	res->data = cti_summary_json(pg->cti);
	return 0;
}

/* One PIM as in a lab of one peripheral; several: how many active. */
static void
pg_summary(struct node *n, char *buf, size_t len)
{
	struct pg		*pg = n->role_data;
	struct pg_periph	*pp = pg != NULL && pg->nperiphs > 0 ?
	    &pg->periphs[0] : NULL;
	int			 i, on = 0;

	if (pg != NULL && pg->nperiphs > 1) {
		for (i = 0; i < pg->nperiphs; i++)
			on += pg->periphs[i].fsm.state != PIM_STATE_IDLE;
		snprintf(buf, len, "PG side %c: %d PIMs, %d not idle",
		    n->self->side, pg->nperiphs, on);
	} else if (pp == NULL || pp->fsm.state == PIM_STATE_IDLE)
		snprintf(buf, len, "PG side %c: PIM %d idle", n->self->side,
		    n->cfg->peripheral_id);
	else
		snprintf(buf, len, "PG side %c: PIM %u %s (epoch %u)",
		    n->self->side, pp->id, pim_state_names[pp->fsm.state],
		    pp->epoch);
}

static const struct cmd pg_cmds[] = {
	{ "cti", "", 0, 0, pg_cmd_cti,
	  "the CTI server: active or standby and why, its sessions" },
	{ "stop|start", "cti-server|mr-pim|pim", 1, 1, pg_cmd_stop_start,
	  "the CTI server, the MR PIM or the voice PIM: the other side's "
	  "takes over" },
	{ NULL, NULL, 0, 0, NULL, NULL }
};

static const struct role_msg pg_msgs[] = {
	{ MSG_PIM_ACCEPT, LINK_KIND_ACD, msg_epoch_body, pg_msg_accept },
	{ MSG_PIM_REJECT, LINK_KIND_ACD, msg_epoch_body, pg_msg_refused },
	{ MSG_PIM_FENCED, LINK_KIND_ACD, msg_epoch_body, pg_msg_refused },
	{ MSG_ACD_AGENTS, LINK_KIND_ACD, msg_agents_body, pg_msg_agents },
	{ MSG_GRANT, LINK_KIND_ROUTER, msg_grant_body, pg_msg_grant },
	{ MSG_DELIVERY_ACK, LINK_KIND_ROUTER, msg_epoch_body, pg_msg_ack },
	{ MSG_PEER_STATE, LINK_KIND_PRIVATE, msg_epoch_body,
	  pg_msg_peer_state },
	{ MSG_PEER_AGENTS, LINK_KIND_PRIVATE, msg_agents_body,
	  pg_msg_peer_agents },
	{ MSG_PEER_SET_AGENT, LINK_KIND_PRIVATE, msg_set_agent_body,
	  pg_msg_peer_set_agent },
	{ MSG_PIM_ACCEPT, LINK_KIND_MR, msg_epoch_body, mrpim_msg_accept },
	{ MSG_PIM_REJECT, LINK_KIND_MR, msg_epoch_body, mrpim_msg_refused },
	{ MSG_PIM_FENCED, LINK_KIND_MR, msg_epoch_body, mrpim_msg_refused },
	{ MSG_MR_NEW_TASK, LINK_KIND_MR, msg_task_body, mrpim_msg_new_task },
	{ MSG_ROUTE_RESULT, LINK_KIND_ROUTER, msg_task_body,
	  mrpim_msg_result },
	{ MSG_PRECALL, LINK_KIND_ROUTER, msg_task_body, pg_msg_precall },
	{ MSG_PEER_TASK, LINK_KIND_PRIVATE, msg_task_body, pg_msg_peer_task },
	{ MSG_PEER_TASK_CACHE, LINK_KIND_PRIVATE, msg_task_body,
	  pg_msg_peer_cache },
	{ 0, 0, NULL, NULL }
};

const struct role_ops pg_ops = {
	.init = pg_init,
	.fini = pg_fini,
	.cmds = pg_cmds,
	.msgs = pg_msgs,
	.status = pg_status,
	.link_up = pg_link_up,
	.link_down = pg_link_down,
	.summary = pg_summary,
	.shutdown = pg_shutdown,
};
