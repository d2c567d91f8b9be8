/*
 * The desk node: an agent desktop server (the product's Finesse), side A
 * the primary, side B the backup.  It serves the agents' desktops on its
 * port (proto_desktop, one session per desktop) and drives their agents
 * through its GED-188 session with the PG's CTI server.
 *
 *   desktop --DESKTOP_LOGIN--> desk --SET_AGENT_STATE_REQ--> CTI server
 *   desktop <--DESKTOP_STATE-- desk <--AGENT_STATE_EVENT---- CTI server
 *
 * A desktop signs its agent in to every MRD it names (the lab file's): the
 * voice MRD by SET_AGENT_STATE_REQ LOGIN, each non-voice one by
 * MEDIA_LOGIN_REQ (ready there by SET_AGENT_STATE_REQ with MR_DOMAIN_ID).
 *
 * R9: a desktop's session lost (closed, reset, silent past the hold) logs
 * its agent out of every MRD with reason 50002; losses that come together
 * make one event.  A desktop that connects (again, or here after its
 * other server) is logged in with the state it asks for (R10, R11: the
 * desktop applies Table 2), Not Ready in its non-voice MRDs (no task yet).
 * A non-voice MRD the CTI server logs out with 50002 that the desktop did
 * not ask for (its PIM lost: a PG failover) is signed in again.  While the
 * CTI session is down the desktops stay connected and their logins wait;
 * their email MRDs stay signed in (R19), and the next session's sign-in
 * to them (MEDIA_LOGIN_RESP 1, signed in already) takes them as they are.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"
#include "ged188.h"

#define DESK_CTI_VERSION	24
#define DESK_SPARE_SESSIONS	16	/* beyond one per desktop agent */
#define DESK_BURST_MS		50	/* losses this close: one event */
#define DESK_BURST_IDS		8	/* agent ids an event names */

struct desk_desktop;

/* An agent in one of its non-voice MRDs, as the CTI server tells it. */
struct desk_mrd {
	uint32_t	 id;
	int		 state;		/* AS_*, from the CTI server */
	int32_t		 reason;
	int		 asked;		/* its desktop signs in to it */
	int		 joining;	/* MEDIA_LOGIN_REQ sent, no RESP yet */
	int		 offline;	/* refused: no PIM (CC_OFFLINE) */
	int		 ready;		/* to be made ready once signed in */
};

/* An agent with a desktop, as this desktop server knows it. */
struct desk_agent {
	uint32_t	 id;		/* first: the sort key */
	uint32_t	 peripheral;
	char		 extension[16];
	struct desk_desktop *dt;	/* its desktop's session, or NULL */
	int		 state;		/* AS_*, from the CTI server */
	int		 before_call;
	int32_t		 reason;
	int		 want;		/* asked for once logged in, or -1 */
	int32_t		 want_reason;
	int		 last_in;	/* last logged-in state, or -1 */
	int		 last_before;	/* its before-call state */
	int		 blocked;	/* fault desktop ID down */
	int		 voice;		/* its desktop signs in to voice */
	int		 voice_offline;	/* its login refused: no PIM yet */
	struct desk_mrd	 media[CFG_AGENT_MRDS];	/* non-voice MRDs */
	int		 nmedia;
};

/* One desktop's session. */
struct desk_desktop {
	struct link	*link;
	struct desk_agent *ag;		/* once its DESKTOP_LOGIN is taken */
	struct msg_desktop_login login;
	int		 user_out;	/* logged out through the desktop */
	struct timespec	 since;
	TAILQ_ENTRY(desk_desktop) entry;
};

/* The agents of one burst (losses, sign-ins again): one event at its end. */
struct desk_burst {
	struct event	*ev;
	int		 n;
	uint32_t	 ids[DESK_BURST_IDS];
};

struct desk {
	struct node	*node;
	struct desk_agent *agents;
	int		 nagents;
	struct listener	*lst;
	struct link	*cti;		/* the session with the CTI server */
	uint64_t	 cti_opens;
	char		 cti_server[PGEMU_NAME_MAX];	/* the PG side's */
	uint32_t	 pg_status;	/* OPEN_CONF, SYSTEM_EVENT */
	TAILQ_HEAD(, desk_desktop) desktops;	/* every session */
	int		 ndesktops;	/* logged in to this server */

	/* Desktops lost in one burst: one event (R9). */
	struct desk_burst lost;
	int		 lost_out;	/* of them, logged out here */
	char		 lost_why[160];

	/* Non-voice MRDs signed in again after a loss at the PIM. */
	struct desk_burst media;

	/* Requests refused for want of a PIM, asked again once online. */
	uint64_t	 offline_refused;
};

static struct desk_agent *
desk_agent(struct desk *d, uint32_t id)
{
	return bsearch(&id, d->agents, (size_t)d->nagents, sizeof(*d->agents),
	    cmp_u32_key);
}

/* The agent's non-voice MRD id, NULL if the lab gives it none such. */
static struct desk_mrd *
desk_media(struct desk_agent *ag, uint32_t mrd)
{
	int	i;

	for (i = 0; i < ag->nmedia; i++)
		if (ag->media[i].id == mrd)
			return &ag->media[i];
	return NULL;
}

/* The agent's state in the voice MRD (m NULL) or in m, to its desktop. */
static void
desk_tell_state(struct desk *d, struct desk_agent *ag,
    const struct desk_mrd *m)
{
	struct wire_writer	 w;
	struct msg_desktop_state s;

	if (ag->dt == NULL)
		return;
	memset(&s, 0, sizeof(s));
	s.mrd = m != NULL ? m->id : (uint32_t)d->node->cfg->voice_mrd;
	s.state = (uint16_t)(m != NULL ? m->state : ag->state);
	s.before_call = (uint16_t)(m != NULL ? m->state : ag->before_call);
	s.reason = m != NULL ? m->reason : ag->reason;
	msg_desktop_state_encode(&w, MSG_DESKTOP_STATE, &s);
	link_send(ag->dt->link, &w);
}

/*
 * SET_AGENT_STATE_REQ for ag (its AgentID, its extension as the
 * instrument) in the voice MRD (mrd 0) or, with MR_DOMAIN_ID, in its
 * non-voice MRD mrd; the answer comes back as AGENT_STATE_EVENT.  -1
 * while the CTI session is down.
 */
static int
desk_set_state(struct desk *d, struct desk_agent *ag, uint32_t mrd,
    int state, int32_t reason)
{
	struct ged_msg		g;
	struct wire_writer	w;
	char			id[16];

	if (!link_is_up(d->cti))
		return -1;
	ged_init(&g, MSG_SET_AGENT_STATE_REQ, d->cti->version);
	g.fixed[SQ_INVOKE_ID] = ag->id;
	g.fixed[SQ_PERIPHERAL_ID] = ag->peripheral;
	g.fixed[SQ_AGENT_STATE] = (uint32_t)state;
	g.fixed[SQ_REASON] = reason < 0 || reason > 0xffff ? 0 :
	    (uint32_t)reason;
	ged_begin(&w, &g);
	ged_put_str(&w, d->cti->version, TAG_AGENT_INSTRUMENT, ag->extension);
	snprintf(id, sizeof(id), "%u", ag->id);
	ged_put_str(&w, d->cti->version, TAG_AGENT_ID, id);
	if (mrd != 0)
		ged_put_u32(&w, d->cti->version, TAG_MR_DOMAIN_ID, mrd);
	return link_send(d->cti, &w);
}

/*
 * MEDIA_LOGIN_REQ of ag to its non-voice MRD m (MaxTaskLimit 0: the
 * MRD's), or MEDIA_LOGOUT_IND out of it with reason: the same first
 * four fields, the agent as ICMAgentID and AgentID.  -1 while the CTI
 * session is down.
 */
static int
desk_media_req(struct desk *d, struct desk_agent *ag, struct desk_mrd *m,
    int out, int32_t reason)
{
	struct ged_msg		g;
	struct wire_writer	w;
	char			id[16];

	if (!link_is_up(d->cti))
		return -1;
	ged_init(&g, out ? MSG_MEDIA_LOGOUT_IND : MSG_MEDIA_LOGIN_REQ,
	    d->cti->version);
	g.fixed[ML_INVOKE_ID] = ag->id;
	g.fixed[ML_PERIPHERAL_ID] = ag->peripheral;
	g.fixed[ML_MRD_ID] = m->id;
	g.fixed[ML_ICM_AGENT_ID] = ag->id;
	if (out)
		g.fixed[MO_REASON] = reason < 0 ? 0 : (uint32_t)reason;
	ged_begin(&w, &g);
	snprintf(id, sizeof(id), "%u", ag->id);
	ged_put_str(&w, d->cti->version, TAG_AGENT_ID, id);
	return link_send(d->cti, &w);
}

/*
 * Sign ag in to its non-voice MRD m: Not Ready there (no task yet), then
 * ready if asked (the CTI server takes a state right behind a sign-in).
 */
static int
desk_media_login(struct desk *d, struct desk_agent *ag, struct desk_mrd *m,
    int ready)
{
	if (desk_media_req(d, ag, m, 0, 0) == -1)
		return -1;
	m->joining = 1;
	m->offline = 0;
	m->ready = ready;
	if (ready)
		desk_set_state(d, ag, m->id, AS_AVAILABLE, 0);
	return 0;
}

/* Out of every MRD the desktop signs in to (R9, or its own logout). */
static int
desk_logout_all(struct desk *d, struct desk_agent *ag, int32_t reason)
{
	int	i, n = 0;

	for (i = 0; i < ag->nmedia; i++) {
		struct desk_mrd *m = &ag->media[i];

		if (m->asked && (agent_logged_in(m->state) || m->joining) &&
		    desk_media_req(d, ag, m, 1, reason) == 0)
			n++;
		m->joining = m->offline = 0;
	}
	if (ag->voice && agent_logged_in(ag->state) &&
	    desk_set_state(d, ag, 0, AS_LOGOUT, reason) == 0)
		n++;
	return n;
}

/* The agent is logged in: the state its desktop asked for, if not yet. */
static void
desk_want(struct desk *d, struct desk_agent *ag)
{
	int	want = ag->want;

	ag->want = -1;
	if (want != ag->state || (want == AS_NOT_READY &&
	    ag->want_reason != ag->reason))
		desk_set_state(d, ag, 0, want, ag->want_reason);
}

/*
 * Log a desktop's agent in to every MRD it names, in the state it asks
 * for: the first time the lab's, after a loss Table 2's (the desktop says
 * which, R10, R11); when the CTI session comes back, Table 2 of the state
 * it had here.  Its non-voice MRDs sign in Not Ready, and become ready
 * at a first login that asks for available (after a loss they come back
 * Not Ready: no task yet).  0: not now (no CTI session) or nothing to do.
 */
static int
desk_login(struct desk *d, struct desk_desktop *dt, int again)
{
	struct desk_agent	*ag = dt->ag;
	int			 want = dt->login.state, ready, i;

	if (again && ag->last_in != -1 && want != AS_LOGOUT)
		want = agent_after_desktop_failover(ag->last_in,
		    ag->last_before);
	/* An agent its desktop logged out stays out. */
	if (want == AS_LOGOUT || dt->user_out || !link_is_up(d->cti))
		return 0;
	/*
	 * A LOGIN always, whatever this server last heard of the agent: a
	 * desktop may come here before the CTI server has even seen its old
	 * server go, and the CTI server knows (it moves the agent, R10, or
	 * says it is signed on here already).  The state right behind it:
	 * the CTI server passes both to the ACD in order, one round trip.
	 */
	ag->want = -1;
	if (ag->voice) {
		ag->voice_offline = 0;
		desk_set_state(d, ag, 0, AS_LOGIN, 0);
		desk_set_state(d, ag, 0, want, want == AS_NOT_READY ?
		    dt->login.reason : 0);
	}
	ready = want == AS_AVAILABLE && !again &&
	    (dt->login.flags & DESKTOP_RELOGIN) == 0;
	for (i = 0; i < ag->nmedia; i++)
		if (ag->media[i].asked)
			desk_media_login(d, ag, &ag->media[i], ready);
	return 1;
}

/* Agent id joins the burst; the first starts it.  1 if it was first. */
static int
desk_burst_add(struct desk_burst *b, uint32_t id)
{
	struct timeval	tv;

	if (b->n < DESK_BURST_IDS)
		b->ids[b->n] = id;
	if (b->n++ > 0)
		return 0;
	ms_to_tv(DESK_BURST_MS, &tv);
	evtimer_add(b->ev, &tv);
	return 1;
}

/* The burst's agents as JSON, and as text: "1001, 1002 and 3 more". */
static json_t *
desk_burst_ids(const struct desk_burst *b, char *buf, size_t len)
{
	json_t	*ids = json_array();
	size_t	 o = 0;
	int	 i;

	buf[0] = '\0';
	for (i = 0; i < b->n && i < DESK_BURST_IDS; i++) {
		json_array_append_new(ids, json_integer(b->ids[i]));
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%u",
			    i ? ", " : "", b->ids[i]);
	}
	if (b->n > DESK_BURST_IDS && o < len)
		snprintf(buf + o, len - o, " and %d more",
		    b->n - DESK_BURST_IDS);
	return ids;
}

/* The end of a burst of lost desktops: one event with the count. */
static void
desk_lost_cb(evutil_socket_t fd, short what, void *arg)
{
	struct desk	*d = arg;
	char		 text[160];
	json_t		*ids = desk_burst_ids(&d->lost, text, sizeof(text));

	(void)fd;
	(void)what;
	evt_emit(RULE_R9, "desktop_lost", json_pack("{s:i, s:o, s:s, s:i, "
	    "s:i}", "desktops", d->lost.n, "agents", ids, "reason",
	    d->lost_why,
	    "logged_out", d->lost_out, "reason_code", REASON_CTI_FAILURE),
	    "%d desktop%s lost (%s: %s): %d agent%s logged out, reason %d%s",
	    d->lost.n, d->lost.n == 1 ? "" : "s", text, d->lost_why,
	    d->lost_out,
	    d->lost_out == 1 ? "" : "s", REASON_CTI_FAILURE,
	    link_is_up(d->cti) ? "" : " (no CTI session: the CTI server logs "
	    "them out)");
	d->lost.n = d->lost_out = 0;
}

/* R9: the desktop of ag is gone; its agent is logged out. */
static void
desk_desktop_lost(struct desk *d, struct desk_desktop *dt, const char *why)
{
	struct desk_agent	*ag = dt->ag;

	d->lost_out += desk_logout_all(d, ag, REASON_CTI_FAILURE) > 0;
	if (desk_burst_add(&d->lost, ag->id))
		snprintf(d->lost_why, sizeof(d->lost_why), "%s", why);
}

/* The end of a burst of sign-ins again to non-voice MRDs: one event. */
static void
desk_media_cb(evutil_socket_t fd, short what, void *arg)
{
	struct desk	*d = arg;
	char		 text[160];
	json_t		*ids = desk_burst_ids(&d->media, text, sizeof(text));

	(void)fd;
	(void)what;
	evt_emit(RULE_R10, "media_relogin", json_pack("{s:i, s:o, s:s?}",
	    "signins", d->media.n, "agents", ids, "server",
	    link_is_up(d->cti) ? d->cti_server : NULL),
	    "%d sign-in%s to non-voice MRDs again (%s): logged out there "
	    "with %d, not by their desktops", d->media.n,
	    d->media.n == 1 ? "" : "s", text, REASON_CTI_FAILURE);
	d->media.n = 0;
}

/*
 * A non-voice MRD m of ag logged out with 50002 by no request of its
 * desktop, connected here (its PIM lost it: a PG failover, a CTI Manager
 * failover): signed in again, Not Ready.  Not when another client owns
 * the agent now (its desktop went there: R10 is that server's), nor
 * while this server's own sign-in is on its way.
 */
static void
desk_media_lost(struct desk *d, struct desk_agent *ag, struct desk_mrd *m,
    const struct ged_msg *g)
{
	char	sig[65];

	if (ag->dt == NULL || ag->dt->user_out || !m->asked || m->joining ||
	    m->reason != REASON_CTI_FAILURE)
		return;
	if (ged_get_str(g, TAG_CLIENT_SIGNATURE, sig, sizeof(sig)) == 1 &&
	    sig[0] != '\0' && strcmp(sig, d->node->self->name) != 0)
		return;
	if (desk_media_login(d, ag, m, 0) == 0)
		desk_burst_add(&d->media, ag->id);
}

/*
 * The MRDs a desktop names: the voice MRD, and non-voice ones of its
 * agent in the lab file; -1 and why for any other.
 */
static int
desk_login_mrds(struct desk *d, struct desk_agent *ag,
    const struct msg_desktop_login *lg, char *err, size_t errlen)
{
	struct desk_mrd	*m;
	int		 i;

	for (i = 0; i < lg->nmrds; i++)
		if (!cfg_mrd_voice(d->node->cfg, (int)lg->mrds[i]) &&
		    desk_media(ag, lg->mrds[i]) == NULL) {
			snprintf(err, errlen, "DESKTOP_LOGIN: MRD %u is not "
			    "one of agent %u's", lg->mrds[i], ag->id);
			return -1;
		}
	ag->voice = 0;
	for (i = 0; i < ag->nmedia; i++)
		ag->media[i].asked = 0;
	for (i = 0; i < lg->nmrds; i++)
		if ((m = desk_media(ag, lg->mrds[i])) != NULL)
			m->asked = 1;
		else
			ag->voice = 1;
	return 0;
}

/* DESKTOP_LOGIN: the session is its agent's; welcome it. */
static int
desk_msg_login(struct role_msg_in *in, const union msg_body *b)
{
	struct desk			*d = in->node->role_data;
	const struct msg_desktop_login	*lg = &b->desktop_login;
	struct desk_desktop		*dt = in->link->data;
	struct desk_agent		*ag;
	struct msg_desktop_welcome	 wl;
	struct wire_writer		 w;
	char				 why[96];
	int				 i;

	if (dt == NULL || dt->ag != NULL) {
		snprintf(in->err, sizeof(in->err), "DESKTOP_LOGIN: the session "
		    "has logged in already");
		return -1;
	}
	if ((ag = desk_agent(d, lg->agent)) == NULL) {
		snprintf(in->err, sizeof(in->err), "DESKTOP_LOGIN: agent %u has "
		    "no desktop in the lab", lg->agent);
		return -1;
	}
	if (lg->peripheral != ag->peripheral) {
		snprintf(in->err, sizeof(in->err), "DESKTOP_LOGIN: agent %u is "
		    "an agent of peripheral %u, not %u", lg->agent,
		    ag->peripheral, lg->peripheral);
		return -1;
	}
	if (desk_login_mrds(d, ag, lg, in->err,
	    sizeof(in->err)) == -1)
		return -1;
	if (ag->blocked) {
		log_link_info(in->link, "desktop of agent %u refused: down by "
		    "a fault", ag->id);
		link_fsm(in->link, LEV_STOP, "desktop down by a fault");
		return 0;
	}
	if (ag->dt != NULL) {
		/* Its old session is stale: the new one takes over. */
		struct link *old = ag->dt->link;

		ag->dt->ag = NULL;
		ag->dt = NULL;
		d->ndesktops--;
		snprintf(why, sizeof(why), "agent %u's desktop connected "
		    "again from %s", ag->id, in->link->peer_addr);
		link_fsm(old, LEV_STOP, why);
	}
	dt->ag = ag;
	dt->login = *lg;
	mono_now(&dt->since);
	ag->dt = dt;
	d->ndesktops++;
	memset(&wl, 0, sizeof(wl));
	snprintf(wl.server, sizeof(wl.server), "%s", in->node->self->name);
	wl.flags = link_is_up(d->cti) ? WELCOME_CTI_UP : 0;
	msg_desktop_welcome_encode(&w, &wl);
	link_send(in->link, &w);
	if (agent_logged_in(ag->state) && ag->state != AS_LOGIN)
		desk_tell_state(d, ag, NULL);
	for (i = 0; i < ag->nmedia; i++)
		if (agent_logged_in(ag->media[i].state))
			desk_tell_state(d, ag, &ag->media[i]);
	desk_login(d, dt, 0);
	log_link_debug(in->link, "desktop of agent %u from %s, wants %s%s",
	    ag->id, in->link->peer_addr, agent_state_name(lg->state),
	    (lg->flags & DESKTOP_RELOGIN) ? " (relogin)" : "");
	return 0;
}

/*
 * DESKTOP_SET_STATE of one of the agent's non-voice MRDs: ready or not
 * ready there (SET_AGENT_STATE_REQ with its MR_DOMAIN_ID; signed in
 * first if it is out: a sign-in the CTI server refused).  Its other MRDs
 * stay as they are; a logout is of every MRD.  -1 for an MRD the desktop
 * does not sign in to.
 */
static int
desk_set_media_state(struct desk *d, struct role_msg_in *in,
    struct desk_desktop *dt, uint32_t mrd, int st, int32_t reason)
{
	struct desk_mrd	*m = desk_media(dt->ag, mrd);

	if (m == NULL || !m->asked || st == AS_LOGOUT) {
		snprintf(in->err, sizeof(in->err), "DESKTOP_SET_STATE: %s",
		    st == AS_LOGOUT ? "a logout is of every MRD, not of one" :
		    "not an MRD the desktop signs in to");
		return -1;
	}
	m->ready = st == AS_AVAILABLE;
	if (!link_is_up(d->cti))
		log_link_info(in->link, "agent %u asks for %s in MRD %u: no "
		    "CTI session, not done", dt->ag->id,
		    agent_state_name(st), mrd);
	else if (!agent_logged_in(m->state) && !m->joining)
		desk_media_login(d, dt->ag, m, m->ready);
	else
		desk_set_state(d, dt->ag, m->id, st, m->ready ? 0 : reason);
	return 0;
}

/* DESKTOP_SET_STATE from a desktop that has logged in. */
static int
desk_msg_set_state(struct role_msg_in *in, const union msg_body *b)
{
	struct desk		*d = in->node->role_data;
	struct desk_desktop	*dt = in->link->data;
	int			 st = b->desktop_state.state;

	if (dt == NULL || dt->ag == NULL) {
		snprintf(in->err, sizeof(in->err), "DESKTOP_SET_STATE before "
		    "DESKTOP_LOGIN");
		return -1;
	}
	if (st != AS_AVAILABLE && st != AS_NOT_READY && st != AS_LOGOUT) {
		snprintf(in->err, sizeof(in->err), "DESKTOP_SET_STATE: state "
		    "%s is not ready, not ready or logout",
		    agent_state_name(st));
		return -1;
	}
	if (b->desktop_state.mrd != 0 &&
	    !cfg_mrd_voice(d->node->cfg, (int)b->desktop_state.mrd))
		return desk_set_media_state(d, in, dt, b->desktop_state.mrd,
		    st, b->desktop_state.reason);
	if (!link_is_up(d->cti))
		log_link_info(in->link, "agent %u asks for %s: no CTI session, "
		    "not done", dt->ag->id, agent_state_name(st));
	else if (st == AS_LOGOUT) {
		/* Out of every MRD, with its reason. */
		dt->user_out = 1;
		desk_logout_all(d, dt->ag, b->desktop_state.reason);
	} else {
		/* Ready and not ready are the voice MRD's. */
		dt->user_out = 0;
		dt->login.state = (uint16_t)st;
		desk_set_state(d, dt->ag, 0, st, b->desktop_state.reason);
	}
	return 0;
}

/* A desktop connected: its session waits for DESKTOP_LOGIN. */
static void
desk_link_up(struct node *n, struct link *l)
{
	struct desk_desktop	*dt;

	if (l->lst == NULL)
		return;
	dt = xcalloc(1, sizeof(*dt));
	dt->link = l;
	mono_now(&dt->since);
	l->data = dt;
	TAILQ_INSERT_TAIL(&((struct desk *)n->role_data)->desktops, dt,
	    entry);
}

/* A desktop's session ended: R9 for its agent. */
static void
desk_link_down(struct node *n, struct link *l, const char *why)
{
	struct desk		*d = n->role_data;
	struct desk_desktop	*dt = l->data;

	if (l->lst == NULL || dt == NULL)
		return;
	if (dt->ag != NULL) {
		dt->ag->dt = NULL;
		d->ndesktops--;
		desk_desktop_lost(d, dt, why);
	}
	l->data = NULL;
	TAILQ_REMOVE(&d->desktops, dt, entry);
	free(dt);
}

/* The CTI server the session is with: the PG side of its port. */
static const char *
desk_cti_side(const struct desk *d)
{
	const struct cfg_node *pb = cfg_node_role(d->node->cfg, ROLE_PG, 'B');

	return pb != NULL && d->cti->port == pb->cti_port ? pb->name :
	    cfg_node_role(d->node->cfg, ROLE_PG, 'A')->name;
}

/*
 * The CTI session opened: every desktop connected here is logged in
 * again (R10), in Table 2's state of what it had (R11).
 */
static void
desk_cti_up(struct link *l, void *arg)
{
	struct node		*n = arg;
	struct desk		*d = n->role_data;
	struct desk_desktop	*dt;
	int			 again = d->cti_opens++ > 0, count = 0;

	snprintf(d->cti_server, sizeof(d->cti_server), "%s",
	    desk_cti_side(d));
	evt_emit(RULE_NONE, "cti_session_open", json_pack("{s:s, s:i, s:i}",
	    "server", desk_cti_side(d), "port", l->port, "version",
	    (int)l->version), "CTI session open with the CTI server of %s "
	    "(port %d, version %u)", desk_cti_side(d), l->port, l->version);
	TAILQ_FOREACH(dt, &d->desktops, entry)
		if (dt->ag != NULL)
			count += desk_login(d, dt, again);
	if (again && count > 0)
		evt_emit(RULE_R10, "desktop_relogin", json_pack("{s:i, s:s}",
		    "agents", count, "server", desk_cti_side(d)),
		    "%d agent%s logged in again through the CTI server of %s",
		    count, count == 1 ? "" : "s", desk_cti_side(d));
	node_update_summary(n);
}

/*
 * The CTI session ended: the desktops stay, their logins wait.  The CTI
 * server logs out the agents the session logged in (R9 there): here they
 * are out until the next session logs them in again; but their email
 * MRDs, which the CTI server keeps (R19): the next session's sign-in
 * finds them signed in still.
 */
static void
desk_cti_down(struct link *l, void *arg, const char *why)
{
	struct node	*n = arg;
	struct desk	*d = n->role_data;
	int		 i, j;

	for (i = 0; i < d->nagents; i++) {
		struct desk_agent *ag = &d->agents[i];

		ag->state = AS_LOGOUT;
		ag->want = -1;
		for (j = 0; j < ag->nmedia; j++) {
			if (!cfg_mrd_email(n->cfg, (int)ag->media[j].id))
				ag->media[j].state = AS_LOGOUT;
			ag->media[j].joining = ag->media[j].offline = 0;
		}
	}
	evt_emit(RULE_NONE, "cti_session_lost", json_pack("{s:s, s:s, s:i}",
	    "server", d->cti_server, "reason", why, "desktops",
	    d->ndesktops), "CTI session with the CTI server of %s lost: %s; "
	    "%d desktop%s wait for the next", d->cti_server, why,
	    d->ndesktops, d->ndesktops == 1 ? "" : "s");
	(void)l;
	node_update_summary(n);
}

/*
 * AGENT_STATE_EVENT: the agent's new state in the voice MRD or in one of
 * its non-voice MRDs (MRDID), to its desktop.
 */
static void
desk_cti_agent_state(struct desk *d, const struct ged_msg *g)
{
	struct desk_agent	*ag;
	struct desk_mrd		*m;
	char			 id[16];
	long			 v;
	int			 st = (int)g->fixed[AE_AGENT_STATE];

	if (ged_get_str(g, TAG_AGENT_ID, id, sizeof(id)) == 1 &&
	    parse_int(id, 0, INT32_MAX, &v) == 0)
		ag = desk_agent(d, (uint32_t)v);
	else
		ag = desk_agent(d, g->fixed[AE_ICM_AGENT_ID]);
	if (ag == NULL || st >= AGENT_NSTATES)
		return;
	if (!cfg_mrd_voice(d->node->cfg, (int)g->fixed[AE_MRD_ID])) {
		if ((m = desk_media(ag, g->fixed[AE_MRD_ID])) == NULL)
			return;
		m->state = st;
		m->reason = (int32_t)g->fixed[AE_REASON];
		desk_tell_state(d, ag, m);
		if (st == AS_LOGOUT)
			desk_media_lost(d, ag, m, g);
		return;
	}
	if (agent_in_call(st) && !agent_in_call(ag->state))
		ag->before_call = ag->state;
	ag->state = st;
	ag->reason = (int32_t)g->fixed[AE_REASON];
	if (agent_logged_in(st) && st != AS_LOGIN) {
		ag->last_in = st;
		ag->last_before = ag->before_call;
	}
	desk_tell_state(d, ag, NULL);
	if (ag->want != -1 && agent_logged_in(st) && st != AS_LOGIN)
		desk_want(d, ag);
}

/*
 * A request refused for want of a PIM: said once, at info, for all those
 * of the peripheral's offline time (each at debug: a lab of 10,000
 * agents that starts makes 50,000 of them, none a loss).
 */
static void
desk_offline_refused(struct desk *d, struct link *l, uint32_t periph)
{
	if (d->offline_refused++ == 0)
		log_link_info(l, "requests refused while peripheral %u has no "
		    "PIM: each made again once it is online", periph);
}

/*
 * MEDIA_LOGIN_RESP (InvokeID: the agent): signed in, or in already; no
 * PIM serves the peripheral (the sign-in waits for it to come online);
 * another refusal, a warning.
 */
static void
desk_cti_media_resp(struct desk *d, struct link *l, const struct ged_msg *g)
{
	struct desk_agent	*ag = desk_agent(d, g->fixed[MLR_INVOKE_ID]);
	struct desk_mrd		*m;
	uint32_t		 status = g->fixed[MLR_STATUS];

	if (ag == NULL || (m = desk_media(ag, g->fixed[MLR_MRD_ID])) == NULL)
		return;
	m->joining = 0;
	m->offline = status == E_ARM_STAT_CC_OFFLINE;
	if (m->offline) {
		desk_offline_refused(d, l, ag->peripheral);
		log_link_debug(l, "sign-in of agent %u to MRD %u refused: "
		    "E_ARM_STAT %u (no PIM: again once the peripheral is "
		    "online)", ag->id, m->id, status);
	} else if (status != E_ARM_STAT_OK &&
	    status != E_ARM_STAT_AGENT_ALREADY_LOGGED_IN)
		log_link_warnx(l, "sign-in of agent %u to MRD %u refused: "
		    "E_ARM_STAT %u", ag->id, m->id, status);
}

/*
 * The peripheral online (SYSTEM_EVENT): the logins and sign-ins it
 * refused for want of a PIM (a desktop server that opened its session
 * before the peripheral was online), again, as first asked.
 */
static void
desk_cti_online(struct desk *d, uint32_t periph)
{
	int	i, j, want, logins = 0, signins = 0;

	for (i = 0; i < d->nagents; i++) {
		struct desk_agent *ag = &d->agents[i];

		if (ag->peripheral != periph || ag->dt == NULL ||
		    ag->dt->user_out)
			continue;
		if (ag->voice && ag->voice_offline &&
		    !agent_logged_in(ag->state)) {
			ag->voice_offline = 0;
			want = ag->dt->login.state;
			if (want != AS_LOGOUT) {
				logins++;
				desk_set_state(d, ag, 0, AS_LOGIN, 0);
				desk_set_state(d, ag, 0, want, want ==
				    AS_NOT_READY ? ag->dt->login.reason : 0);
			}
		}
		for (j = 0; j < ag->nmedia; j++)
			if (ag->media[j].offline && ag->media[j].asked) {
				desk_media_login(d, ag, &ag->media[j],
				    ag->media[j].ready);
				signins++;
			}
	}
	if (d->offline_refused > 0 || logins > 0 || signins > 0)
		log_info("peripheral %u online: %d logins and %d MRD sign-ins "
		    "refused while it had no PIM made again (%llu requests "
		    "refused)", periph, logins, signins,
		    (unsigned long long)d->offline_refused);
	d->offline_refused = 0;
}

/*
 * CONTROL_FAILURE_CONF (InvokeID: the agent).  A login the CTI server
 * could not pass on for want of a PIM (internal processing error while
 * the peripheral is offline) is made again once the peripheral is online.
 */
static void
desk_cti_control_failure(struct desk *d, struct link *l,
    const struct ged_msg *g)
{
	struct desk_agent	*ag = desk_agent(d, g->fixed[CF_INVOKE_ID]);
	int			 offline = (d->pg_status &
	    PGS_PERIPHERAL_OFFLINE) != 0 &&
	    g->fixed[CF_FAILURE_CODE] == CF_INTERNAL_PROCESSING_ERROR;

	if (ag != NULL && offline && !agent_logged_in(ag->state))
		ag->voice_offline = 1;
	if (ag != NULL && ag->voice_offline) {
		desk_offline_refused(d, l, ag->peripheral);
		log_link_debug(l, "request for agent %u refused: control "
		    "failure %u (no PIM: again once the peripheral is online)",
		    ag->id, g->fixed[CF_FAILURE_CODE]);
	} else
		log_link_warnx(l, "request for agent %u refused: control "
		    "failure %u", g->fixed[CF_INVOKE_ID],
		    g->fixed[CF_FAILURE_CODE]);
}

/* What the CTI server says on the open session. */
static void
desk_cti_msg(struct link *l, void *arg, const struct wire_msg *m)
{
	struct node	*n = arg;
	struct desk	*d = n->role_data;
	struct ged_msg	 g;
	uint32_t	 status;
	char		 err[160];

	if (ged_decode(m, l->version, &g, &status, err, sizeof(err)) == -1) {
		link_bad_msg(l, m, err);
		return;
	}
	switch (m->type) {
	case MSG_OPEN_CONF:
		d->pg_status = g.fixed[OC_PG_STATUS];
		break;
	case MSG_SYSTEM_EVENT:
		d->pg_status = g.fixed[SE_PG_STATUS];
		if (g.fixed[SE_EVENT_ID] == SYS_PERIPHERAL_ONLINE)
			desk_cti_online(d, g.fixed[SE_ARG1]);
		break;
	case MSG_AGENT_STATE_EVENT:
		desk_cti_agent_state(d, &g);
		break;
	case MSG_MEDIA_LOGIN_RESP:
		desk_cti_media_resp(d, l, &g);
		break;
	case MSG_FAILURE_RESP:
		log_link_warnx(l, "sign-out of agent %u refused: "
		    "E_ARM_STAT %u", g.fixed[FR_INVOKE_ID],
		    g.fixed[FR_STATUS]);
		break;
	case MSG_CONTROL_FAILURE_CONF:
		desk_cti_control_failure(d, l, &g);
		break;
	case MSG_FAILURE_CONF:
		log_link_warnx(l, "request %u refused: %s (%u)",
		    g.fixed[FC_INVOKE_ID], ged_status_name(g.fixed[FC_STATUS]),
		    g.fixed[FC_STATUS]);
		break;
	default:
		log_link_debug(l, "%s ignored", ged_type_name(m->type));
		break;
	}
}

static const struct link_ops desk_cti_ops = {
	desk_cti_up, desk_cti_down, desk_cti_msg
};

/*
 * The GED-188 session: pg-a's CTI server, then pg-b's, in turn (the
 * standby refuses); a bridge of every agent's state.
 */
static void
desk_cti_new(struct desk *d)
{
	struct node		*n = d->node;
	const struct cfg_node	*pa = cfg_node_role(n->cfg, ROLE_PG, 'A');
	const struct cfg_node	*pb = cfg_node_role(n->cfg, ROLE_PG, 'B');
	struct cti_client_open	 o;
	int			 idle;

	memset(&o, 0, sizeof(o));
	o.version = DESK_CTI_VERSION;
	idle = (int)((int64_t)n->cfg->hb_cti.interval_ms *
	    n->cfg->hb_cti.misses / 1000);
	o.idle_timeout = (uint32_t)(idle < GED_MIN_IDLE_TIMEOUT ?
	    GED_MIN_IDLE_TIMEOUT : idle);
	o.peripheral = GED_NULL_PERIPHERAL_ID;
	o.services = CTI_SERVICE_ALL_EVENTS | CTI_SERVICE_CLIENT_CONTROL;
	o.agent_state_mask = AGENT_STATE_MASK_KNOWN;
	snprintf(o.client_id, sizeof(o.client_id), "%s", n->self->name);
	proto_cti_client_set_open(&o);
	d->cti = link_new(n->base, "cti-link", "pg-a|pg-b", LINK_KIND_CTI, 1,
	    pa->address, pa->cti_port, n->cfg, &proto_cti_client,
	    &desk_cti_ops, n);
	link_set_alt_port(d->cti, pb->cti_port);
	node_add_link(n, d->cti);
}

static int
desk_init(struct node *n, char *err, size_t errlen)
{
	struct desk		*d = xcalloc(1, sizeof(*d));
	struct session_conf	 sc;
	int			 i, j, k, ids[CFG_AGENT_MRDS];

	d->node = n;
	n->role_data = d;
	TAILQ_INIT(&d->desktops);
	for (i = 0; i < n->cfg->nperiphs; i++)
		for (j = 0; j < n->cfg->periphs[i].nagents; j++)
			d->nagents += n->cfg->periphs[i].agents[j].desktop;
	d->agents = xcalloc((size_t)d->nagents + 1, sizeof(*d->agents));
	d->nagents = 0;
	for (i = 0; i < n->cfg->nperiphs; i++)
		for (j = 0; j < n->cfg->periphs[i].nagents; j++) {
			const struct cfg_agent *ca =
			    &n->cfg->periphs[i].agents[j];
			struct desk_agent *ag;

			if (!ca->desktop)
				continue;
			ag = &d->agents[d->nagents++];
			ag->id = (uint32_t)ca->id;
			ag->peripheral = (uint32_t)n->cfg->periphs[i].id;
			snprintf(ag->extension, sizeof(ag->extension), "%s",
			    ca->extension);
			ag->nmedia = cfg_agent_media(n->cfg, ca, ids);
			for (k = 0; k < ag->nmedia; k++) {
				ag->media[k].id = (uint32_t)ids[k];
				ag->media[k].state = AS_LOGOUT;
			}
			ag->state = ag->before_call = AS_LOGOUT;
			ag->last_in = ag->last_before = ag->want = -1;
		}
	qsort(d->agents, (size_t)d->nagents, sizeof(*d->agents), cmp_u32_key);
	d->lost.ev = evtimer_new(n->base, desk_lost_cb, d);
	d->media.ev = evtimer_new(n->base, desk_media_cb, d);
	desk_cti_new(d);

	memset(&sc, 0, sizeof(sc));
	sc.proto = &proto_desktop;
	sc.limit = d->nagents + DESK_SPARE_SESSIONS;
	sc.max_message = n->cfg->max_message;
	sc.hb = n->cfg->hb_desktop;
	sc.quiet = 1;
	sc.ops = &node_link_ops;
	sc.arg = n;
	if (node_raise_nofile(sc.limit + 64, err, errlen) == -1)
		return -1;
	d->lst = listener_new_sessions(n->base, "desktops", n->self->address,
	    n->self->port, &sc, err, errlen);
	if (d->lst == NULL)
		return -1;
	return 0;
}

/* Also after an init that failed half way: what was not made is NULL. */
static void
desk_fini(struct node *n)
{
	struct desk		*d = n->role_data;
	struct desk_desktop	*dt;

	/* The sessions go with the listener, their state here. */
	while ((dt = TAILQ_FIRST(&d->desktops)) != NULL) {
		TAILQ_REMOVE(&d->desktops, dt, entry);
		free(dt);
	}
	listener_free(d->lst);
	if (d->lost.ev != NULL)
		event_free(d->lost.ev);
	if (d->media.ev != NULL)
		event_free(d->media.ev);
	free(d->agents);
	free(d);
	n->role_data = NULL;
}

static void
desk_status(struct node *n, json_t *j)
{
	struct desk	*d = n->role_data;

	json_object_set_new(j, "desk", json_pack("{s:s, s:i, s:i, s:o, "
	    "s:{s:s, s:s?, s:i, s:I, s:I}}",
	    "role", n->self->side == 'B' ? "backup" : "primary",
	    "desktops", d->ndesktops,
	    "agents", d->nagents,
	    "listener", listener_json(d->lst),
	    "cti", "state", link_state_names[d->cti->state],
	    "server", link_is_up(d->cti) ? desk_cti_side(d) : NULL,
	    "version", (int)d->cti->version,
	    "pg_status", (json_int_t)d->pg_status,
	    "opens", (json_int_t)d->cti_opens));
}

/* The MRDs the desktop signs in to: [{mrd, media, state, reason}]. */
static json_t *
desk_mrds_json(const struct desk *d, const struct desk_agent *ag)
{
	const struct cfg_mrd	*cm;
	json_t			*a = json_array();
	int			 i;

	if (ag->voice)
		json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:i}",
		    "mrd", d->node->cfg->voice_mrd, "media", "voice",
		    "state", agent_state_name(ag->state),
		    "reason", (int)ag->reason));
	for (i = 0; i < ag->nmedia; i++) {
		if (!ag->media[i].asked)
			continue;
		cm = cfg_mrd(d->node->cfg, (int)ag->media[i].id);
		json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:i}",
		    "mrd", (int)ag->media[i].id, "media", cm != NULL ?
		    cm->media : "?", "state",
		    agent_state_name(ag->media[i].state),
		    "reason", (int)ag->media[i].reason));
	}
	return a;
}

static json_t *
desk_desktop_json(const struct desk *d, const struct desk_agent *ag)
{
	const struct desk_desktop *dt = ag->dt;

	return json_pack("{s:i, s:s, s:s, s:s, s:f, s:s, s:b, s:o}",
	    "agent", (int)ag->id,
	    "peer", dt->link->peer_addr,
	    "link", link_state_names[dt->link->state],
	    "state", agent_state_name(ag->state),
	    "since", mono_since(&dt->since),
	    "wanted", agent_state_name(dt->login.state),
	    "relogin", (dt->login.flags & DESKTOP_RELOGIN) != 0,
	    "mrds", desk_mrds_json(d, ag));
}

static int
desk_cmd_desktops(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct desk	*d = n->role_data;
	int		 i;

	(void)argc;
	(void)argv;
	res->data = json_array();
	for (i = 0; i < d->nagents; i++)
		if (d->agents[i].dt != NULL)
			json_array_append_new(res->data,
			    desk_desktop_json(d, &d->agents[i]));
	return 0;
}

/*
 * fault desktop ID down|up|freeze|thaw: down closes its session and
 * refuses the desktop until up; freeze and thaw hang its session.
 */
static int
desk_cmd_fault(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct desk		*d = n->role_data;
	struct desk_agent	*ag;
	long			 id;

	(void)argc;
	if (strcmp(argv[1], "desktop") != 0 ||
	    !choice_ok("down|up|freeze|thaw", argv[3]))
		return CMD_USAGE;
	if (parse_int(argv[2], 0, INT32_MAX, &id) == -1 ||
	    (ag = desk_agent(d, (uint32_t)id)) == NULL) {
		snprintf(res->err, sizeof(res->err), "no agent with a desktop "
		    "\"%s\"", argv[2]);
		return -1;
	}
	if (strcmp(argv[3], "up") == 0 || strcmp(argv[3], "down") == 0) {
		if (ag->blocked == (strcmp(argv[3], "down") == 0)) {
			snprintf(res->err, sizeof(res->err), "desktop %ld is "
			    "%s by a fault", id, ag->blocked ? "already down" :
			    "not down");
			return -1;
		}
		ag->blocked = !ag->blocked;
		if (ag->blocked && ag->dt != NULL)
			link_fault(ag->dt->link, "down", res->err,
			    sizeof(res->err));
	} else if (ag->dt == NULL) {
		snprintf(res->err, sizeof(res->err), "desktop %ld is not "
		    "connected", id);
		return -1;
	} else if (link_fault(ag->dt->link, argv[3], res->err,
	    sizeof(res->err)) == -1)
		return -1;
	res->data = json_pack("{s:i, s:b, s:s}", "agent", (int)id,
	    "blocked", ag->blocked, "link", ag->dt != NULL ?
	    link_state_names[ag->dt->link->state] : "none");
	return 0;
}

static void
desk_summary(struct node *n, char *buf, size_t len)
{
	struct desk	*d = n->role_data;

	if (d != NULL && d->cti != NULL)
		snprintf(buf, len, "%s desktop server: %d desktop%s, CTI %s%s",
		    n->self->side == 'B' ? "backup" : "primary", d->ndesktops,
		    d->ndesktops == 1 ? "" : "s", link_is_up(d->cti) ?
		    "session with " : "session down",
		    link_is_up(d->cti) ? desk_cti_side(d) : "");
}

static const struct cmd desk_cmds[] = {
	{ "desktops", "", 0, 0, desk_cmd_desktops,
	  "the desktops logged in here: agent, peer, state, since, MRDs" },
	{ "fault", "desktop ID down|up|freeze|thaw", 3, 3, desk_cmd_fault,
	  "cut (and refuse), restore, hang or release one desktop" },
	{ NULL, NULL, 0, 0, NULL, NULL }
};

static const struct role_msg desk_msgs[] = {
	{ MSG_DESKTOP_LOGIN, LINK_KIND_SESSION, msg_desktop_login_body,
	  desk_msg_login },
	{ MSG_DESKTOP_SET_STATE, LINK_KIND_SESSION, msg_desktop_state_body,
	  desk_msg_set_state },
	{ 0, 0, NULL, NULL }
};

const struct role_ops desk_ops = {
	.init = desk_init,
	.fini = desk_fini,
	.cmds = desk_cmds,
	.msgs = desk_msgs,
	.status = desk_status,
	.link_up = desk_link_up,
	.link_down = desk_link_down,
	.summary = desk_summary,
};
