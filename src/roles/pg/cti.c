/*
 * The CTI server of a PG side: GED-188 sessions on nodes.NAME.cti_port
 * (proto_cti.c speaks the protocol; this file is what the server says).
 *
 * One side's CTI server is active at a time (ctiact.c decides, from what
 * the side and its peer's PEER_STATE say); the other is standby, as in
 * the product (protocol-facts 1.9): it refuses a client below version 24
 * (FAILURE_CONF E_CTI_CTI_SERVER_OFFLINE) and one from 24 without
 * CTI_SERVICE_ACTIVE_STANDBY (E_CTI_INVALID_CLIENT_FOR_STANDBY); one with
 * it gets a standby session (heartbeats and close only) until the server
 * becomes active and says so (STANDBY_ACTIVE_EVENT).  A CTI server that
 * leaves active (stopped, or stepping down) sends every session
 * FAILURE_EVENT E_CTI_CTI_SERVER_OFFLINE and closes it; its clients
 * reconnect to the other side.
 *
 * The agents' states are the OPC view: this side's PIM's when it holds
 * the peripheral, else the mirror the holder sends over the private link
 * (PEER_AGENTS).  A SET_AGENT_STATE_REQ goes to the side holding the PIM
 * (pg_set_agent), the change comes back from the ACD as an
 * AGENT_STATE_EVENT.  The agent's non-voice MRDs (email, chat, other) are
 * the PIM's own, not the ACD's: MEDIA_LOGIN_REQ signs in, MEDIA_LOGOUT_IND
 * signs out, SET_AGENT_STATE_REQ with MR_DOMAIN_ID (216) sets ready or
 * not ready; their records (the MRD in each) come back the same way.
 *
 * R9 here: the session that logged an agent in owns it; when a session
 * ends (closed, reset, timed out), the agents it owns that are still
 * logged in are logged out of every MRD with reason 50002.  A LOGIN of an
 * agent that another live session owns moves it (R9 out, then in: R10).
 *
 * An ARM session (CTI_SERVICE_AGENT_REPORTING, the application instance's)
 * reports its tasks: OFFER_TASK_IND, START_TASK_IND, END_TASK_IND, and
 * OFFER_ / START_APPLICATION_TASK_REQ for those it routed itself.  The
 * task table and the TASK_EVENTs they make for the router are arm.c's;
 * here, what a message must name, and the agent's state in the task's
 * MRD (RESERVED while a task is offered, ACTIVE while one is started,
 * AVAILABLE when the last ends) through the PIM, as a sign-in's.
 *
 * R18 here: an application path (the ApplicationPathID of ARM sessions)
 * is down while the active CTI server has no ARM session of it open.  Its
 * agents stay logged in (the application's session owns none); its tasks
 * are kept for their MRD's task_life, then end with TASKF_PATH_DOWN
 * (disposition 42 at the router), the agents' task counts going down.  A
 * session of the path that opens before takes them back.  The router
 * hears of each path going and coming back (TASK_EVENT PATH_DOWN, _UP:
 * R21, it holds the start timers of the path's tasks); a CTI server that
 * takes over finds the paths of the copy it kept down until their
 * sessions open, and keeps the deadlines the copy had.  R20: a START or
 * END of a task so ended resumes its report (arm_resuming()).
 *
 * R19, the email MRD exception: an agent's sign-in to an MRD of media
 * email outlives the session that made it (R9 and a move, R10, leave it)
 * and the CTI server's own going (the PIM keeps it, and the other side's
 * after a failover).  An ARM session hears AGENT_INIT_READY_EVENT once
 * it opens; the application answers with its resync bracket (BEGIN_,
 * AGENT_INIT_REQ per agent, TASK_INIT_IND / _REQ per task, END_AGENT_
 * INIT_IND): the agents' states it recorded while the session was down
 * are set through the PIM, its tasks go into the table, and the router
 * hears both as TASK_EVENTs flagged TASKF_RECREATED.
 */
#include "config.h"

#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "wire.h"
#include "ged188.h"

#define CTI_MOVED_MS	200	/* agent_moved: one line per burst */
#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The standby CTI server became active (facts 1.9 names it, without a
 * layout): pgemu sends it with an empty body (docs/protocol.md).
 */
#define MSG_STANDBY_ACTIVE_EVENT	277

struct cti_session;

/* R19: where a session's resync bracket is, per peripheral. */
enum { CTI_INIT_NONE, CTI_INIT_READY, CTI_INIT_DONE };

/* What one bracket told (R19). */
struct cti_init_counts {
	int		 agents;	/* AGENT_INIT_REQs taken */
	int		 known;		/* TASK_INIT_INDs taken */
	int		 begun;		/* TASK_INIT_REQs taken */
	int		 refused;	/* of the three, refused */
};

/* An agent in one of its non-voice MRDs, as the PIM says. */
struct cti_mrd {
	uint32_t	 id;
	int		 state;
	int32_t		 reason;
	uint32_t	 max_tasks;	/* MEDIA_LOGIN_REQ's, or the MRD's */
	int		 leaving;	/* R10: signed out, not yet told */
	int		 joining;	/* signed in, not yet told */
	int		 unknown;	/* email: never told (R19) */
};

struct cti_agent {
	uint32_t	 id;		/* first: the sort key */
	const struct cfg_agent *cfg;	/* the lab's: kept across reloads */
	int		 state;		/* in the voice MRD */
	int32_t		 reason;
	struct cti_mrd	*media;		/* non-voice MRDs, in the pool */
	int		 nmedia;
	struct cti_session *owner;	/* logged it in */
	int		 moving;	/* R10: its logout keeps the owner */
	int		 login_pending;	/* asked of the ACD, not yet seen */
	int		 out_pending;	/* a logout asked here, not yet seen */
};

struct cti_periph {
	struct cti_periph_facts f;
	struct cti_agent *agents;
	int		 nagents;
	size_t		 hint;		/* find_u32_key()'s */
	struct cti_agent **by_ext;	/* the agents by extension */
	struct cti_mrd	*media;		/* every agent's non-voice MRDs */
};

struct cti_session {
	struct cti	*cti;
	struct link	*link;
	uint32_t	 id;
	int		 open;		/* OPEN_CONF sent */
	int		 standby;	/* opened on the standby: no events */
	int		 by_server;	/* closed by this side, not lost */
	uint32_t	 version;
	uint32_t	 services;
	uint32_t	 call_mask;
	uint32_t	 state_mask;
	char		 client_id[65];
	char		 signature[65];
	uint32_t	 path;		/* ApplicationPathID (97), 0: none */
	struct cti_periph *periph;	/* CLIENT_EVENTS: its agent's */
	struct cti_agent *agent;
	int		 owned;		/* agents it logged in */
	int		 moved;		/* moved to it, not yet told */
	uint8_t		*init;		/* R19: CTI_INIT_* per peripheral */
	int		 init_open;	/* the bracket's peripheral, -1 */
	struct cti_init_counts init_n;
	double		 since;
	TAILQ_ENTRY(cti_session) entry;
};

struct cti {
	struct node	*node;
	struct listener	*lst;
	int		 running;
	int		 active;
	enum ctiact_why	 why;
	int		 peer_up;
	uint32_t	 peer_flags;	/* PEER_CTI_* */
	int		 router_up;
	struct cti_periph *periphs;
	int		 nperiphs;
	TAILQ_HEAD(, cti_session) sessions;
	uint32_t	 next_id;
	struct event	*ev_interval;	/* SYS_HALF_HOUR_CHANGE */
	struct event	*ev_moved;	/* agent_moved, per burst */
	uint64_t	 opened, refused;
	struct arm	*arm;		/* the ARM sessions' tasks */
	uint64_t	 tasks_refused;
	struct event	*ev_life;	/* the first task life to run out */
	struct event	*ev_resumed;	/* tasks_resumed, once a turn */
	int		 nresumed;
	json_t		*resumed;	/* their dialogues, the first 100 */
	/* R19: brackets closed, agent states set, refusals */
	uint64_t	 resyncs, resync_agents, resync_refused;
};

#define CTI_EVENT_NAMES	100	/* dialogues an event names, at most */

static void	cti_decide(struct cti *);
static void	cti_path_up(struct cti *, uint32_t);
static void	cti_init_ready(struct cti_session *);

static struct cti_periph *
cti_periph_find(struct cti *c, uint32_t id)
{
	int	i;

	for (i = 0; i < c->nperiphs; i++)
		if (c->periphs[i].f.id == id)
			return &c->periphs[i];
	return NULL;
}

static int
cti_ext_cmp(const void *a, const void *b)
{
	const struct cti_agent *const *x = a, *const *y = b;

	return strcmp((*x)->cfg->extension, (*y)->cfg->extension);
}

/* The agent whose extension (instrument) is ext, or NULL. */
static struct cti_agent *
cti_agent_by_ext(struct cti_periph *p, const char *ext)
{
	struct cfg_agent	 kc;
	struct cti_agent	 key, *kp = &key, **found;

	if (strlen(ext) >= sizeof(kc.extension))
		return NULL;
	snprintf(kc.extension, sizeof(kc.extension), "%s", ext);
	key.cfg = &kc;
	found = bsearch(&kp, p->by_ext, (size_t)p->nagents,
	    sizeof(*p->by_ext), cti_ext_cmp);
	return found != NULL ? *found : NULL;
}

static struct cti_agent *
cti_agent(struct cti_periph *p, uint32_t id)
{
	return find_u32_key(id, p->agents, (size_t)p->nagents,
	    sizeof(*p->agents), &p->hint);
}

/* The agent's entry of a non-voice MRD, NULL if it has none such. */
static struct cti_mrd *
cti_media(struct cti_agent *a, uint32_t mrd)
{
	int	i;

	for (i = 0; i < a->nmedia; i++)
		if (a->media[i].id == mrd)
			return &a->media[i];
	return NULL;
}

/*
 * Signed in to a non-voice MRD, or on its way in (the PIM of the other
 * side has not told it yet), and not on its way out (R10).
 */
static int
cti_media_in(const struct cti_mrd *m)
{
	return (agent_logged_in(m->state) || m->joining) && !m->leaving;
}

/*
 * As cti_media_in(), or an email MRD state never told here (R19: the
 * sign-in may have outlived this process, and the router's record of it
 * stands): the application's word is taken for it, its task messages and
 * its resync bracket, and a desktop may sign the agent out.
 */
static int
cti_media_maybe_in(const struct cti_mrd *m)
{
	return cti_media_in(m) || m->unknown;
}

/* Logged in to some MRD, voice or not. */
static int
cti_agent_in(const struct cti_agent *a)
{
	int	i;

	for (i = 0; i < a->nmedia; i++)
		if (agent_logged_in(a->media[i].state))
			return 1;
	return agent_logged_in(a->state);
}

/*
 * Its agents' non-voice MRDs served: by a side's PIM, or kept by this
 * side while no PIM holds the peripheral (R23: voice waits for a PIM,
 * the rest goes on).
 */
static int
cti_media_served(const struct cti_periph *p)
{
	return p->f.online || p->f.media_kept;
}

/* PGStatus: the router link and the peripherals, as the session sees. */
static uint32_t
cti_pg_status(const struct cti *c)
{
	uint32_t	st = 0;
	int		i;

	if (!c->router_up)
		st |= PGS_CC_DOWN;
	for (i = 0; i < c->nperiphs; i++)
		if (!c->periphs[i].f.online)
			st |= PGS_PERIPHERAL_OFFLINE;
	return st;
}

static int
cti_all_online(const struct cti *c)
{
	return (cti_pg_status(c) & PGS_PERIPHERAL_OFFLINE) == 0;
}

/* A session that hears events: open on the active server. */
static int
cti_listening(const struct cti_session *s)
{
	return s->open && !s->standby && s->link != NULL &&
	    link_is_up(s->link);
}

/* An ARM session that keeps its application path up (R18). */
static int
cti_arm_session(const struct cti_session *s)
{
	return cti_listening(s) &&
	    (s->services & CTI_SERVICE_AGENT_REPORTING) != 0;
}

static void
cti_send(struct cti_session *s, struct wire_writer *w)
{
	link_send(s->link, w);
}

/* A message of n fixed fields (v, in the layout's order) and no other. */
static void
cti_send_fixed(struct cti_session *s, uint32_t type, const uint32_t *v,
    size_t n)
{
	struct ged_msg		g;
	struct wire_writer	w;
	size_t			i;

	ged_init(&g, type, s->version);
	for (i = 0; i < n && i < GED_FIXED_MAX; i++)
		g.fixed[i] = v[i];
	ged_begin(&w, &g);
	cti_send(s, &w);
}

/* CONTROL_FAILURE_CONF: a request refused by the peripheral's rules. */
static void
cti_control_failure(struct cti_session *s, uint32_t invoke, uint32_t code)
{
	uint32_t	v[] = { [CF_INVOKE_ID] = invoke,
	    [CF_FAILURE_CODE] = code, [CF_PERIPHERAL_ERROR] = 0 };

	cti_send_fixed(s, MSG_CONTROL_FAILURE_CONF, v, NITEMS(v));
}

/* SET_AGENT_STATE_CONF: a request taken. */
static void
cti_set_conf(struct cti_session *s, uint32_t invoke)
{
	uint32_t	v[] = { [HB_INVOKE_ID] = invoke };

	cti_send_fixed(s, MSG_SET_AGENT_STATE_CONF, v, NITEMS(v));
}

/* SYSTEM_EVENT to one session. */
static void
cti_system_event(struct cti_session *s, uint32_t id, uint32_t arg1)
{
	struct ged_msg		g;
	struct wire_writer	w;

	ged_init(&g, MSG_SYSTEM_EVENT, s->version);
	g.fixed[SE_PG_STATUS] = cti_pg_status(s->cti);
	g.fixed[SE_CC_TIME] = (uint32_t)wall_now();
	g.fixed[SE_EVENT_ID] = id;
	g.fixed[SE_ARG1] = arg1;
	g.fixed[SE_DEVICE_TYPE] = GED_DEVID_NONE;
	ged_begin(&w, &g);
	cti_send(s, &w);
}

/* SYSTEM_EVENT to every open session. */
static void
cti_system_event_all(struct cti *c, uint32_t id, uint32_t arg1)
{
	struct cti_session	*s;

	TAILQ_FOREACH(s, &c->sessions, entry)
		if (cti_listening(s))
			cti_system_event(s, id, arg1);
}

/* The floating fields naming an agent: extension, id, instrument. */
static void
cti_put_agent_ids(struct wire_writer *w, uint32_t v, const struct cti_agent *a)
{
	char	id[16];

	snprintf(id, sizeof(id), "%u", a->id);
	if (a->cfg->extension[0] != '\0')
		ged_put_str(w, v, TAG_AGENT_EXTENSION, a->cfg->extension);
	ged_put_str(w, v, TAG_AGENT_ID, id);
	if (a->cfg->extension[0] != '\0')
		ged_put_str(w, v, TAG_AGENT_INSTRUMENT, a->cfg->extension);
}

/* Each skill group: number, id, priority, state (1.8's order). */
static void
cti_put_groups(struct wire_writer *w, uint32_t v, const struct cti_agent *a)
{
	int	i;

	for (i = 0; i < a->cfg->nskill_groups; i++) {
		ged_put_u32(w, v, TAG_SKILL_GROUP_NUMBER,
		    (uint32_t)a->cfg->skill_groups[i]);
		ged_put_u32(w, v, TAG_SKILL_GROUP_ID,
		    (uint32_t)a->cfg->skill_groups[i]);
		ged_put_u16(w, v, TAG_SKILL_GROUP_PRIORITY, 0);
		ged_put_u16(w, v, TAG_SKILL_GROUP_STATE, (uint16_t)a->state);
	}
}

/* NumTasks: the agent's tasks in its non-voice MRD m. */
static uint32_t
cti_num_tasks(const struct cti *c, const struct cti_periph *p,
    const struct cti_agent *a, const struct cti_mrd *m)
{
	int	offered, started;

	arm_load(c->arm, p->f.id, a->id, m->id, &offered, &started);
	return (uint32_t)(offered + started);
}

/* AgentAvailabilityStatus: ICM_AVAILABLE when available. */
static uint32_t
cti_availability(int state)
{
	return state == AS_AVAILABLE ? 1 : 0;
}

/*
 * AGENT_STATE_EVENT of agent a to session s: in the voice MRD (m NULL) or
 * in its non-voice MRD m.
 */
static void
cti_agent_event(struct cti_session *s, const struct cti_periph *p,
    const struct cti_agent *a, const struct cti_mrd *m, uint32_t session_id)
{
	struct ged_msg		g;
	struct wire_writer	w;
	uint32_t		sg = a->cfg->nskill_groups > 0 ?
	    (uint32_t)a->cfg->skill_groups[0] : GED_NULL_SKILL_GROUP;
	int			state = m != NULL ? m->state : a->state;

	ged_init(&g, MSG_AGENT_STATE_EVENT, s->version);
	if (m != NULL)
		g.fixed[AE_NUM_TASKS] = cti_num_tasks(s->cti, p, a, m);
	g.fixed[AE_PERIPHERAL_ID] = p->f.id;
	g.fixed[AE_SESSION_ID] = session_id;
	g.fixed[AE_PERIPHERAL_TYPE] = PT_ENTERPRISE_AGENT;
	g.fixed[AE_SKILL_GROUP_STATE] = (uint32_t)state;
	g.fixed[AE_SKILL_GROUP_NUMBER] = sg;
	g.fixed[AE_SKILL_GROUP_ID] = sg;
	g.fixed[AE_AGENT_STATE] = (uint32_t)state;
	g.fixed[AE_REASON] = (uint16_t)(m != NULL ? m->reason : a->reason);
	g.fixed[AE_MRD_ID] = m != NULL ? m->id :
	    (uint32_t)s->cti->node->cfg->voice_mrd;
	g.fixed[AE_AGENT_MODE] = 1;
	g.fixed[AE_MAX_TASKS] = m != NULL ? m->max_tasks : 1;
	g.fixed[AE_ICM_AGENT_ID] = a->id;
	g.fixed[AE_AVAILABILITY] = cti_availability(state);
	g.fixed[AE_NUM_FLT_SKILL_GROUPS] = (uint32_t)a->cfg->nskill_groups;
	ged_begin(&w, &g);
	if (a->owner != NULL)
		ged_put_str(&w, s->version, TAG_CLIENT_SIGNATURE,
		    a->owner->signature);
	cti_put_agent_ids(&w, s->version, a);
	cti_put_groups(&w, s->version, a);
	cti_send(s, &w);
}

/*
 * A change of agent a in the voice MRD (m NULL) or its non-voice MRD m:
 * to every ALL_EVENTS session and to the agent's own CLIENT_EVENTS
 * session, those whose AgentStateMask has the state's bit.
 */
static void
cti_agent_changed(struct cti *c, const struct cti_periph *p,
    const struct cti_agent *a, const struct cti_mrd *m)
{
	struct cti_session	*s, *own = NULL;
	uint32_t		 bit = ged_agent_state_bit(m != NULL ?
	    m->state : a->state);

	TAILQ_FOREACH(s, &c->sessions, entry)
		if (cti_listening(s) && s->agent == a)
			own = s;
	TAILQ_FOREACH(s, &c->sessions, entry) {
		if (!cti_listening(s) || (s->state_mask & bit) == 0)
			continue;
		if ((s->services & CTI_SERVICE_ALL_EVENTS) || s->agent == a)
			cti_agent_event(s, p, a, m, own != NULL ?
			    own->id : 0);
	}
}

/*
 * The agent a request names: by ICMAgentID, AgentID, extension or
 * instrument; NULL and the E_CTI_ status if none or they disagree.
 */
static struct cti_agent *
cti_named_agent(struct cti_periph *p, const struct ged_msg *g, uint32_t icm,
    uint32_t *status)
{
	struct cti_agent	*found = NULL, *a;
	char			 buf[80];
	uint16_t		 tags[] = { TAG_AGENT_ID, TAG_AGENT_ID_LONG,
	    TAG_AGENT_EXTENSION, TAG_AGENT_INSTRUMENT };
	int			 i, named = 0;
	long			 id;

	if (icm != 0 && icm != 0xffffffffU) {
		named = 1;
		if ((found = cti_agent(p, icm)) == NULL) {
			*status = E_CTI_INVALID_AGENT_DATA;
			return NULL;
		}
	}
	for (i = 0; i < (int)(sizeof(tags) / sizeof(tags[0])); i++) {
		if (ged_get_str(g, tags[i], buf, sizeof(buf)) != 1 ||
		    buf[0] == '\0')
			continue;
		named = 1;
		a = NULL;
		if (tags[i] == TAG_AGENT_ID || tags[i] == TAG_AGENT_ID_LONG) {
			if (parse_int(buf, 0, INT32_MAX, &id) == 0)
				a = cti_agent(p, (uint32_t)id);
		} else
			a = cti_agent_by_ext(p, buf);
		if (a == NULL) {
			*status = E_CTI_INVALID_AGENT_DATA;
			return NULL;
		}
		if (found != NULL && found != a) {
			*status = E_CTI_INCONSISTENT_AGENT_DATA;
			return NULL;
		}
		found = a;
	}
	if (!named)
		*status = E_CTI_REQUIRED_DATA_MISSING;
	return found;
}

/* Every agent old owns becomes s's. */
static void
cti_take_agents(struct cti_session *s, struct cti_session *old)
{
	struct cti	*c = s->cti;
	int		 i, j;

	for (i = 0; i < c->nperiphs; i++)
		for (j = 0; j < c->periphs[i].nagents; j++)
			if (c->periphs[i].agents[j].owner == old) {
				c->periphs[i].agents[j].owner = s;
				s->owned++;
			}
	old->owned = 0;
}

/* For ALL_EVENTS, one SYSTEM_EVENT per peripheral: the session opens. */
static void
cti_periph_events(struct cti_session *s)
{
	struct cti	*c = s->cti;
	int		 i;

	if ((s->services & CTI_SERVICE_ALL_EVENTS) && cti_listening(s))
		for (i = 0; i < c->nperiphs; i++)
			cti_system_event(s, c->periphs[i].f.online ?
			    SYS_PERIPHERAL_ONLINE : SYS_PERIPHERAL_OFFLINE,
			    c->periphs[i].f.id);
}

/* OPEN_CONF, then for ALL_EVENTS one SYSTEM_EVENT per peripheral. */
static void
cti_open_conf(struct cti_session *s, const struct ged_msg *req)
{
	struct cti		*c = s->cti;
	struct ged_msg		 g;
	struct wire_writer	 w;
	int			 i;

	ged_init(&g, MSG_OPEN_CONF, s->version);
	g.fixed[OC_INVOKE_ID] = req->fixed[OQ_INVOKE_ID];
	g.fixed[OC_SERVICES] = s->services;
	g.fixed[OC_PG_STATUS] = cti_pg_status(c);
	g.fixed[OC_CC_TIME] = (uint32_t)wall_now();
	g.fixed[OC_PERIPHERAL_ONLINE] = s->periph != NULL ?
	    (uint32_t)s->periph->f.online : (uint32_t)cti_all_online(c);
	g.fixed[OC_PERIPHERAL_TYPE] = PT_ENTERPRISE_AGENT;
	g.fixed[OC_AGENT_STATE] = s->agent != NULL ? (uint32_t)s->agent->state :
	    0;
	g.fixed[OC_SESSION_TYPE] = s->standby ? GED_SESSION_STANDBY :
	    GED_SESSION_ACTIVE;
	ged_begin(&w, &g);
	if (s->agent != NULL)
		cti_put_agent_ids(&w, s->version, s->agent);
	if (s->services & CTI_SERVICE_ALL_EVENTS) {
		ged_put_u16(&w, s->version, TAG_NUM_PERIPHERALS,
		    (uint16_t)c->nperiphs);
		for (i = 0; i < c->nperiphs; i++) {
			ged_put_u32(&w, s->version, TAG_PERIPHERAL_ID,
			    c->periphs[i].f.id);
			ged_put_u16(&w, s->version,
			    TAG_MULTI_LINE_AGENT_CONTROL, 0);
		}
	}
	cti_send(s, &w);
	s->open = 1;
	s->since = wall_now();
	c->opened++;
	cti_periph_events(s);
	if (cti_arm_session(s))
		cti_path_up(c, s->path);
}

/* Refuse an OPEN_REQ the role's rules refuse; the session ends. */
static void
cti_open_refuse(struct cti_session *s, uint32_t invoke, uint32_t status,
    const char *what)
{
	char	why[200];

	s->cti->refused++;
	s->by_server = 1;
	cti_proto_failure(s->link, invoke, status);
	snprintf(why, sizeof(why), "OPEN_REQ of client \"%s\" refused: %s "
	    "(%s)", s->client_id, what, ged_status_name(status));
	log_link_info(s->link, "%s: %s", s->link->peer_addr, why);
	link_fsm(s->link, LEV_STOP, why);
}

/*
 * The device a CLIENT_EVENTS session names: its peripheral and agent.  0,
 * or -1 when the OPEN was refused.
 */
static int
cti_open_device(struct cti_session *s, const struct ged_msg *g)
{
	struct cti		*c = s->cti;
	struct cti_session	*o, *next;
	uint32_t		 invoke = g->fixed[OQ_INVOKE_ID], status = 0;
	char			 why[120];

	if (g->fixed[OQ_PERIPHERAL_ID] == GED_NULL_PERIPHERAL_ID) {
		cti_open_refuse(s, invoke, E_CTI_REQUIRED_DATA_MISSING,
		    "CLIENT_EVENTS without a PeripheralID");
		return -1;
	}
	if ((s->periph = cti_periph_find(c, g->fixed[OQ_PERIPHERAL_ID])) ==
	    NULL) {
		snprintf(why, sizeof(why), "no peripheral %u",
		    g->fixed[OQ_PERIPHERAL_ID]);
		cti_open_refuse(s, invoke, E_CTI_INVALID_PERIPHERAL_ID, why);
		return -1;
	}
	if ((s->agent = cti_named_agent(s->periph, g, 0, &status)) == NULL) {
		cti_open_refuse(s, invoke, status, "the agent named");
		return -1;
	}
	for (o = TAILQ_FIRST(&c->sessions); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (o == s || !o->open || o->agent != s->agent)
			continue;
		if (strcmp(o->client_id, s->client_id) != 0 ||
		    strcmp(o->signature, s->signature) != 0) {
			snprintf(why, sizeof(why), "agent %u's device is "
			    "client \"%s\"'s", s->agent->id, o->client_id);
			cti_open_refuse(s, invoke, E_CTI_DEVICE_IN_USE, why);
			return -1;
		}
		/* The same client again: its agents go to the new one. */
		cti_take_agents(s, o);
		o->by_server = 1;
		cti_proto_failure_event(o->link, E_CTI_NEW_SESSION_OPENED);
		link_fsm(o->link, LEV_STOP, "the same client opened a new "
		    "session for the device");
	}
	return 0;
}

/*
 * ClientPassword, when the lab sets cti.client_password: the same bytes,
 * a NUL the client counts or not (1.2: strings with or without it).
 */
static int
cti_password_ok(const struct cti *c, const struct ged_msg *g)
{
	const char		*want = c->node->cfg->cti_password;
	const struct ged_flt	*f;
	size_t			 n;

	if (want[0] == '\0')
		return 1;
	if ((f = ged_find(g, TAG_CLIENT_PASSWORD)) == NULL)
		return 0;
	n = f->len;
	if (n > 0 && f->data[n - 1] == '\0')
		n--;
	return n == strlen(want) && memcmp(f->data, want, n) == 0;
}

/*
 * The OPEN_REQ the protocol took (its own rules passed): a wrong
 * password and the standby refuse, CLIENT_EVENTS names a device, then
 * OPEN_CONF.
 */
static void
cti_open(struct cti_session *s, const struct wire_msg *m)
{
	struct cti	*c = s->cti;
	struct ged_msg	 g;
	uint32_t	 status, invoke;
	char		 err[200];

	if (ged_decode(m, s->link->version, &g, &status, err,
	    sizeof(err)) == -1) {
		cti_proto_malformed(s->link, m, status, err);
		return;
	}
	invoke = g.fixed[OQ_INVOKE_ID];
	s->version = s->link->version;
	s->services = g.fixed[OQ_SERVICES];
	s->call_mask = g.fixed[OQ_CALL_MASK];
	s->state_mask = g.fixed[OQ_AGENT_STATE_MASK];
	ged_get_str(&g, TAG_CLIENT_ID, s->client_id, sizeof(s->client_id));
	if (ged_get_u32(&g, TAG_APP_PATH_ID, &s->path) != 1)
		s->path = 0;
	if (ged_get_str(&g, TAG_CLIENT_SIGNATURE, s->signature,
	    sizeof(s->signature)) != 1 || s->signature[0] == '\0')
		snprintf(s->signature, sizeof(s->signature), "%s",
		    s->client_id);
	if (!cti_password_ok(c, &g)) {
		cti_open_refuse(s, invoke, E_CTI_INVALID_PASSWORD,
		    "ClientPassword is not the lab's cti.client_password");
		return;
	}
	if (!c->active && s->version < 24) {
		cti_open_refuse(s, invoke, E_CTI_CTI_SERVER_OFFLINE,
		    "this CTI server is standby");
		return;
	}
	if (!c->active && !(s->services & CTI_SERVICE_ACTIVE_STANDBY)) {
		cti_open_refuse(s, invoke, E_CTI_INVALID_CLIENT_FOR_STANDBY,
		    "this CTI server is standby");
		return;
	}
	s->standby = !c->active;
	if ((s->services & CTI_SERVICE_CLIENT_EVENTS) &&
	    cti_open_device(s, &g) == -1)
		return;
	cti_open_conf(s, &g);
	log_link_info(s->link, "%ssession %u of client \"%s\" (signature "
	    "\"%s\", version %u, services 0x%08x) opened from %s",
	    s->standby ? "standby " : "", s->id,
	    s->client_id, s->signature, s->version, s->services,
	    s->link->peer_addr);
	cti_init_ready(s);
}

/* The peripheral a request names; NULL: refused, it has none such. */
static struct cti_periph *
cti_req_periph(struct cti_session *s, uint32_t invoke, uint32_t id)
{
	struct cti_periph	*p = cti_periph_find(s->cti, id);

	if (p == NULL)
		cti_proto_failure(s->link, invoke, E_CTI_INVALID_PERIPHERAL_ID);
	return p;
}

/*
 * QUERY_AGENT_STATE_REQ -> QUERY_AGENT_STATE_CONF: the agent in the voice
 * MRD, or in the non-voice MRD the MRDID names (E_CTI_INVALID_MR_DOMAIN
 * if it is none of the agent's).
 */
static void
cti_query(struct cti_session *s, const struct ged_msg *g)
{
	struct cti		*c = s->cti;
	struct cti_periph	*p;
	struct cti_agent	*a;
	struct cti_mrd		*m = NULL;
	struct ged_msg		 r;
	struct wire_writer	 w;
	uint32_t		 invoke = g->fixed[QQ_INVOKE_ID], status = 0;
	uint32_t		 mrd = g->fixed[QQ_MRD_ID];
	int			 state;

	if ((p = cti_req_periph(s, invoke, g->fixed[QQ_PERIPHERAL_ID])) ==
	    NULL)
		return;
	if ((a = cti_named_agent(p, g, g->fixed[QQ_ICM_AGENT_ID],
	    &status)) == NULL) {
		cti_proto_failure(s->link, invoke, status);
		return;
	}
	if (mrd != (uint32_t)c->node->cfg->voice_mrd &&
	    (m = cti_media(a, mrd)) == NULL) {
		cti_proto_failure(s->link, invoke, E_CTI_INVALID_MR_DOMAIN);
		return;
	}
	state = m != NULL ? m->state : a->state;
	ged_init(&r, MSG_QUERY_AGENT_STATE_CONF, s->version);
	r.fixed[QC_INVOKE_ID] = invoke;
	r.fixed[QC_AGENT_STATE] = (uint32_t)state;
	r.fixed[QC_NUM_SKILL_GROUPS] = (uint32_t)a->cfg->nskill_groups;
	r.fixed[QC_MRD_ID] = mrd;
	if (m != NULL)
		r.fixed[QC_NUM_TASKS] = cti_num_tasks(c, p, a, m);
	r.fixed[QC_AGENT_MODE] = 1;
	r.fixed[QC_MAX_TASKS] = m != NULL ? m->max_tasks : 1;
	r.fixed[QC_ICM_AGENT_ID] = a->id;
	r.fixed[QC_AVAILABILITY] = cti_availability(state);
	ged_begin(&w, &r);
	cti_put_agent_ids(&w, s->version, a);
	cti_put_groups(&w, s->version, a);
	cti_send(s, &w);
}

static void
cti_set_owner(struct cti_agent *a, struct cti_session *s)
{
	if (a->owner != NULL)
		a->owner->owned--;
	a->owner = s;
	if (s != NULL)
		s->owned++;
}

/* agent_moved, once per burst: one line per session the agents went to. */
static void
cti_moved_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cti		*c = arg;
	struct cti_session	*s;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(s, &c->sessions, entry) {
		if (s->moved == 0)
			continue;
		evt_emit(RULE_R10, "agent_moved", json_pack("{s:s, s:s, s:i, "
		    "s:i}", "client_id", s->client_id, "peer",
		    s->link->peer_addr, "agents", s->moved, "reason_code",
		    REASON_CTI_FAILURE), "%d agent%s moved to client \"%s\" "
		    "(%s): logged out of the session that lost them (50002, "
		    "R9) and back in for this one (R10)", s->moved,
		    s->moved == 1 ? "" : "s", s->client_id,
		    s->link->peer_addr);
		s->moved = 0;
	}
}

/*
 * An agent another live session owns, taken by s (a LOGIN, or a sign-in
 * to a non-voice MRD): that session lost it (a desktop moved to another
 * desktop server).  Out of every MRD with 50002 (R9) but its email ones
 * (R19); in again for s in the voice MRD if voice says so (R10); its
 * other non-voice MRDs wait for s to sign it in again (they come back Not
 * Ready).  Told once per burst.
 */
static int
cti_move_agent(struct cti_session *s, struct cti_periph *p,
    struct cti_agent *a, int voice)
{
	struct node	*n = s->cti->node;
	struct timeval	 tv;
	int		 i;

	a->moving = 1;
	cti_set_owner(a, s);
	for (i = 0; i < a->nmedia; i++)
		if (cti_media_in(&a->media[i]) &&
		    !cfg_mrd_email(n->cfg, (int)a->media[i].id)) {
			a->media[i].leaving = 1;
			if (pg_set_agent(n, p->f.id, a->id, a->media[i].id,
			    AS_LOGOUT, REASON_CTI_FAILURE) == -1)
				return -1;
		}
	if (agent_logged_in(a->state) && pg_set_agent(n, p->f.id, a->id, 0,
	    AS_LOGOUT, REASON_CTI_FAILURE) == -1)
		return -1;
	if (voice && pg_set_agent(n, p->f.id, a->id, 0, AS_NOT_READY, 0) ==
	    -1)
		return -1;
	if (s->moved++ == 0 && !evtimer_pending(s->cti->ev_moved, NULL)) {
		ms_to_tv(CTI_MOVED_MS, &tv);
		evtimer_add(s->cti->ev_moved, &tv);
	}
	return 0;
}

/*
 * SET_AGENT_STATE_REQ with MR_DOMAIN_ID (216) naming a non-voice MRD of
 * the agent (pgemu-defined): ready or not ready there, confirmed at once,
 * the change told by the PIM.  Signing in and out is MEDIA_LOGIN_REQ's
 * and MEDIA_LOGOUT_IND's.
 */
static void
cti_set_media_state(struct cti_session *s, const struct ged_msg *g,
    struct cti_periph *p, struct cti_agent *a, uint32_t mrd)
{
	struct cti_mrd		*m = cti_media(a, mrd);
	uint32_t		 invoke = g->fixed[SQ_INVOKE_ID];
	int			 st = (int)g->fixed[SQ_AGENT_STATE];

	if (m == NULL) {
		cti_proto_failure(s->link, invoke, E_CTI_INVALID_MR_DOMAIN);
		return;
	}
	if ((st != AS_NOT_READY && st != AS_AVAILABLE) || !cti_media_in(m)) {
		cti_control_failure(s, invoke, CF_INVALID_OBJECT_STATE);
		return;
	}
	if (!cti_media_served(p)) {
		cti_control_failure(s, invoke, CF_INTERNAL_PROCESSING_ERROR);
		return;
	}
	cti_set_conf(s, invoke);
	if (pg_set_agent(s->cti->node, p->f.id, a->id, mrd, st,
	    st == AS_AVAILABLE ? 0 : (int32_t)g->fixed[SQ_REASON]) == -1)
		log_link_warnx(s->link, "agent %u: state %d in MRD %u not "
		    "sent: no PIM serves peripheral %u", a->id, st, mrd,
		    p->f.id);
}

/*
 * A logout asked by a client other than the one the agent is signed on
 * through, not forced: a client that lost the agent to another (a desktop
 * server thawed after its desktops moved, R10) must not log it out there.
 */
static int
cti_may_log_out(struct cti_session *s, const struct cti_agent *a,
    const char *what, int forced)
{
	if (a->owner == NULL || a->owner == s || forced)
		return 1;
	log_link_info(s->link, "%s of agent %u by client \"%s\" refused: it "
	    "is signed on through client \"%s\" (not forced)", what, a->id,
	    s->client_id, a->owner->client_id);
	return 0;
}

/*
 * SET_AGENT_STATE_REQ: login, logout, ready, not ready.  Confirmed at
 * once; the change comes back from the ACD as an AGENT_STATE_EVENT (a
 * LOGIN of an agent logged in with no owner changes nothing there: the
 * session takes it and hears its state).  Refusals are
 * CONTROL_FAILURE_CONF.  With MR_DOMAIN_ID naming a non-voice MRD:
 * cti_set_media_state().
 */
static void
cti_set_state(struct cti_session *s, const struct ged_msg *g)
{
	struct cti		*c = s->cti;
	struct cti_periph	*p;
	struct cti_agent	*a;
	uint32_t		 invoke = g->fixed[SQ_INVOKE_ID], status = 0;
	uint32_t		 mrd;
	int			 st = (int)g->fixed[SQ_AGENT_STATE], rc = 0;
	int			 took = 0, in;
	int32_t			 reason = (int32_t)g->fixed[SQ_REASON];

	if ((p = cti_req_periph(s, invoke, g->fixed[SQ_PERIPHERAL_ID])) ==
	    NULL)
		return;
	if ((a = cti_named_agent(p, g, 0, &status)) == NULL) {
		cti_control_failure(s, invoke, CF_INVALID_AGENT_ID_SPECIFIED);
		return;
	}
	if (ged_get_u32(g, TAG_MR_DOMAIN_ID, &mrd) == 1 &&
	    !cfg_mrd_voice(c->node->cfg, (int)mrd)) {
		cti_set_media_state(s, g, p, a, mrd);
		return;
	}
	if (st != AS_LOGIN && st != AS_LOGOUT && st != AS_NOT_READY &&
	    st != AS_AVAILABLE) {
		cti_control_failure(s, invoke, CF_INVALID_OBJECT_STATE);
		return;
	}
	if (!p->f.online) {
		cti_control_failure(s, invoke, CF_INTERNAL_PROCESSING_ERROR);
		return;
	}
	/*
	 * An agent of another session whose client is gone, its end read
	 * by no one yet (a desktop server killed, its desktops already
	 * here): that session's loss first (R9 for all its agents), then
	 * this LOGIN, as if the loop had read it before.
	 */
	if (st == AS_LOGIN && a->owner != NULL && a->owner != s)
		link_check_gone(a->owner->link);
	/* Logged in, as far as what this server asked goes. */
	in = agent_logged_in(a->state) && !a->out_pending;
	if (st == AS_LOGIN) {
		if (a->owner == s && in) {
			cti_control_failure(s, invoke,
			    CF_SPECIFIED_AGENT_ALREADY_SIGNED_ON);
			return;
		}
		if (a->owner != NULL && a->owner != s && cti_agent_in(a) &&
		    !a->out_pending)
			rc = cti_move_agent(s, p, a, 1);
		else if (in) {
			cti_set_owner(a, s);	/* in already: now s's */
			took = 1;
		}
		else if ((rc = pg_set_agent(c->node, p->f.id, a->id, 0,
		    AS_NOT_READY, 0)) == 0) {
			cti_set_owner(a, s);
			a->login_pending = 1;
		}
	} else if (st == AS_LOGOUT && !cti_may_log_out(s, a, "LOGOUT",
	    g->fixed[SQ_FORCED] == 1)) {
		cti_control_failure(s, invoke, CF_INVALID_OBJECT_STATE);
		return;
	} else if (!in && !(a->login_pending && a->owner == s)) {
		/* A state asked right behind its LOGIN follows it to the ACD
		   in order; any other needs the agent logged in. */
		cti_control_failure(s, invoke, CF_INVALID_OBJECT_STATE);
		return;
	} else if ((rc = pg_set_agent(c->node, p->f.id, a->id, 0, st,
	    st == AS_AVAILABLE ? 0 : reason)) == 0 && st == AS_LOGOUT)
		a->out_pending = 1;
	if (rc == -1) {
		cti_control_failure(s, invoke, CF_INTERNAL_PROCESSING_ERROR);
		return;
	}
	cti_set_conf(s, invoke);
	/* Nothing changes at the ACD: the session hears the state as is. */
	if (took && (s->state_mask & ged_agent_state_bit(a->state)))
		cti_agent_event(s, p, a, NULL, 0);
}

/* MEDIA_LOGIN_RESP with an E_ARM_STAT_ status (0: signed in). */
static void
cti_media_resp(struct cti_session *s, const struct ged_msg *g,
    uint32_t status, uint32_t agent)
{
	uint32_t	v[] = { [MLR_INVOKE_ID] = g->fixed[ML_INVOKE_ID],
	    [MLR_STATUS] = status, [MLR_MRD_ID] = g->fixed[ML_MRD_ID],
	    [MLR_ICM_AGENT_ID] = agent };

	cti_send_fixed(s, MSG_MEDIA_LOGIN_RESP, v, NITEMS(v));
}

/*
 * FAILURE_RESP: a MEDIA_LOGOUT_IND or an ARM task message refused, with an
 * E_ARM_STAT_ status.
 */
static void
cti_failure_resp(struct cti_session *s, uint32_t invoke, uint32_t status)
{
	uint32_t	v[] = { [FR_INVOKE_ID] = invoke, [FR_STATUS] = status };

	cti_send_fixed(s, MSG_FAILURE_RESP, v, NITEMS(v));
}

/*
 * The agent and non-voice MRD a MEDIA_LOGIN_REQ or MEDIA_LOGOUT_IND (the
 * same first four fields) names; NULL and the E_ARM_STAT_ status if
 * there is none such: no agent 2, the voice MRD 11 (SET_AGENT_STATE_REQ
 * signs in there), not one of the agent's MRDs 3, no PIM serving the
 * peripheral 36.
 */
static struct cti_mrd *
cti_media_named(struct cti_session *s, struct cti_periph *p,
    const struct ged_msg *g, struct cti_agent **ap, uint32_t *status)
{
	uint32_t	mrd = g->fixed[ML_MRD_ID], st;
	struct cti_mrd	*m;

	if ((*ap = cti_named_agent(p, g, g->fixed[ML_ICM_AGENT_ID], &st)) ==
	    NULL) {
		*status = E_ARM_STAT_AGENT_NOT_FOUND;
		return NULL;
	}
	if (cfg_mrd_voice(s->cti->node->cfg, (int)mrd)) {
		*status = E_ARM_STAT_CANT_LOGIN_TO_VOICE_MRD;
		return NULL;
	}
	if ((m = cti_media(*ap, mrd)) == NULL) {
		*status = E_ARM_STAT_MRD_LIST_ENTRY_NOT_FOUND;
		return NULL;
	}
	if (!cti_media_served(p)) {
		*status = E_ARM_STAT_CC_OFFLINE;
		return NULL;
	}
	return m;
}

/*
 * MEDIA_LOGIN_REQ: sign an agent in to a non-voice MRD (pgemu-defined
 * layout).  MEDIA_LOGIN_RESP at once; the PIM signs it in Not Ready (no
 * task yet) and tells it (AGENT_STATE_EVENT with the MRDID).  One signed
 * in already: status 1, its MaxTaskLimit reset to the request's.  The
 * session owns the agent (R9) as a LOGIN's does; an agent another live
 * session owns moves to it (R10).
 */
static void
cti_media_login(struct cti_session *s, const struct ged_msg *g)
{
	struct cti		*c = s->cti;
	struct cti_periph	*p;
	struct cti_agent	*a = NULL;
	struct cti_mrd		*m;
	const struct cfg_mrd	*cm;
	uint32_t		 status = 0, max = g->fixed[ML_MAX_TASKS];
	int			 rc = 0;

	if ((p = cti_req_periph(s, g->fixed[ML_INVOKE_ID],
	    g->fixed[ML_PERIPHERAL_ID])) == NULL)
		return;
	if ((m = cti_media_named(s, p, g, &a, &status)) == NULL) {
		cti_media_resp(s, g, status, a != NULL ? a->id : 0);
		return;
	}
	if (max == 0 && (cm = cfg_mrd(c->node->cfg, (int)m->id)) != NULL)
		max = (uint32_t)cm->max_tasks;
	m->max_tasks = max;
	if (cti_media_in(m)) {
		cti_media_resp(s, g, E_ARM_STAT_AGENT_ALREADY_LOGGED_IN, a->id);
		/* A sign-in that outlived its session (R19): this one takes
		   the agent (its LOGIN may have already) and hears its
		   state there; one on its way in is told by the PIM. */
		if (a->owner == NULL)
			cti_set_owner(a, s);
		if (a->owner == s && agent_logged_in(m->state) &&
		    (s->state_mask & ged_agent_state_bit(m->state)))
			cti_agent_event(s, p, a, m, 0);
		return;
	}
	cti_media_resp(s, g, E_ARM_STAT_OK, a->id);
	if (a->owner != NULL && a->owner != s && cti_agent_in(a))
		rc = cti_move_agent(s, p, a, agent_logged_in(a->state));
	else if (a->owner == NULL)
		cti_set_owner(a, s);
	m->leaving = 0;
	m->joining = 1;
	if (rc == -1 || pg_set_agent(c->node, p->f.id, a->id, m->id,
	    AS_LOGIN, 0) == -1) {
		m->joining = 0;
		log_link_warnx(s->link, "agent %u: sign-in to MRD %u not sent: "
		    "no PIM serves peripheral %u", a->id, m->id, p->f.id);
	}
}

/*
 * MEDIA_LOGOUT_IND: sign an agent out of a non-voice MRD with its
 * ReasonCode.  No answer when taken (the AGENT_STATE_EVENT tells it);
 * FAILURE_RESP with the status when not: those of cti_media_named(), 6
 * when it is not signed in there.
 */
static void
cti_media_logout(struct cti_session *s, const struct ged_msg *g)
{
	struct cti_periph	*p;
	struct cti_agent	*a;
	struct cti_mrd		*m;
	uint32_t		 invoke = g->fixed[MO_INVOKE_ID], status = 0;

	if ((p = cti_req_periph(s, invoke, g->fixed[MO_PERIPHERAL_ID])) ==
	    NULL)
		return;
	if ((m = cti_media_named(s, p, g, &a, &status)) == NULL) {
		cti_failure_resp(s, invoke, status);
		return;
	}
	if (!cti_media_maybe_in(m)) {
		cti_failure_resp(s, invoke, E_ARM_STAT_AGENT_NOT_LOGGED_IN);
		return;
	}
	if (!cti_may_log_out(s, a, "MEDIA_LOGOUT_IND", 0)) {
		cti_failure_resp(s, invoke, E_ARM_STAT_INVALID_MESSAGE_SEQUENCE);
		return;
	}
	if (pg_set_agent(s->cti->node, p->f.id, a->id, m->id, AS_LOGOUT,
	    (int32_t)g->fixed[MO_REASON]) == -1) {
		cti_failure_resp(s, invoke, E_ARM_STAT_CC_OFFLINE);
		return;
	}
	/*
	 * On its way out until the PIM tells it (the other side's is a
	 * round trip away): a MEDIA_LOGIN_REQ right behind it (a desktop
	 * server that signs its agents out and in again) goes to the PIM
	 * behind the logout, not "already logged in" on the strength of a
	 * state the logout is about to end, which would leave the agent out
	 * at the PIM and the router while its desktop has it in.
	 */
	m->leaving = 1;
}

/* The ARM task messages a client sends. */
static int
cti_task_type(uint32_t type)
{
	return type == MSG_OFFER_TASK_IND || type == MSG_START_TASK_IND ||
	    type == MSG_END_TASK_IND ||
	    type == MSG_OFFER_APPLICATION_TASK_REQ ||
	    type == MSG_START_APPLICATION_TASK_REQ;
}

/* The TaskFlags an application may set (wire.h's TASKF_*). */
#define CTI_TASKF_APP	(TASKF_APP_ROUTED | TASKF_ROUTING_DOWN | \
			 TASKF_ENDED_DOWN | TASKF_CTI_DOWN)

/* What each ARM task message is, as a TASK_EVENT code. */
static uint32_t
cti_task_code(uint32_t type)
{
	switch (type) {
	case MSG_OFFER_TASK_IND:
		return TASK_EV_OFFER;
	case MSG_START_TASK_IND:
		return TASK_EV_START;
	case MSG_END_TASK_IND:
		return TASK_EV_END;
	case MSG_OFFER_APPLICATION_TASK_REQ:
		return TASK_EV_APP_OFFER;
	default:
		return TASK_EV_APP_START;
	}
}

/* A task message refused: FAILURE_CONF (an E_CTI_ status) or FAILURE_RESP. */
static void
cti_task_refuse(struct cti_session *s, const struct ged_msg *g, int conf,
    uint32_t status)
{
	uint32_t	invoke = g->fixed[TK_INVOKE_ID];

	s->cti->tasks_refused++;
	log_link_debug(s->link, "%s (InvokeID %u) of agent %u, MRD %u, task "
	    "%u.%u.%u refused: %s %u", ged_type_name(g->type), invoke,
	    g->fixed[TK_ICM_AGENT_ID], g->fixed[TK_MRD_ID],
	    g->fixed[TK_GROUP_HIGH], g->fixed[TK_GROUP_LOW],
	    g->fixed[TK_SEQUENCE], conf ? "FAILURE_CONF" : "FAILURE_RESP",
	    status);
	if (conf)
		cti_proto_failure(s->link, invoke, status);
	else
		cti_failure_resp(s, invoke, status);
}

/*
 * The agent's state in the task's MRD once the table changed: ACTIVE
 * while a task is started there, RESERVED while one is offered, and when
 * none is left AVAILABLE (unless it asked for Not Ready meanwhile, or is
 * signed out: then as it is).  Asked of the PIM every time: the mirror
 * this server has may lag what it asked last.  A started task that ended
 * (handled) is the PIM's too, for the agent's interval row in the MRD
 * (one signed out of it by then has no row to count it in).
 */
static void
cti_task_state(struct cti *c, struct link *l, struct cti_periph *p,
    struct cti_agent *a, struct cti_mrd *m, int handled)
{
	int	offered, started, st, rc;
	int32_t	reason = 0;

	if (!cti_media_maybe_in(m) || !cti_media_served(p))
		return;
	arm_load(c->arm, p->f.id, a->id, m->id, &offered, &started);
	if (started > 0)
		st = AS_ACTIVE;
	else if (offered > 0)
		st = AS_RESERVED;
	else if (m->state != AS_NOT_READY)
		st = AS_AVAILABLE;
	else if (handled) {
		st = AS_NOT_READY;
		reason = m->reason;
	} else
		return;
	if (handled)
		rc = pg_task_handled(c->node, p->f.id, a->id, m->id, st,
		    reason);
	else
		rc = pg_set_agent(c->node, p->f.id, a->id, m->id, st, 0);
	if (rc == -1 && l != NULL)
		log_link_warnx(l, "agent %u: state %s in MRD %u not sent: no "
		    "PIM serves peripheral %u", a->id, agent_state_name(st),
		    m->id, p->f.id);
	else if (rc == -1)
		log_warnx("agent %u: state %s in MRD %u not sent: no PIM "
		    "serves peripheral %u", a->id, agent_state_name(st), m->id,
		    p->f.id);
}

/* tasks_resumed (R20), once a turn: the reports that resumed. */
static void
cti_resumed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cti	*c = arg;

	(void)fd;
	(void)what;
	if (c->nresumed == 0)
		return;
	/* The event keeps the array: a new one for the next. */
	evt_emit(RULE_R20, "tasks_resumed", json_pack("{s:i, s:o}", "count",
	    c->nresumed, "dialogues", c->resumed), "%d task%s whose task "
	    "life ended while their application path was down reported "
	    "again: reporting resumes in a new segment (TASKF_RESUMED)",
	    c->nresumed, c->nresumed == 1 ? "" : "s");
	c->nresumed = 0;
	c->resumed = json_array();
}

static void
cti_resumed(struct cti *c, const struct msg_task *t)
{
	log_debug("task %u.%u.%u (dialogue %u): its report resumes, segment "
	    "%u", t->task[0], t->task[1], t->task[2], t->dialogue, t->epoch);
	if (c->nresumed++ < CTI_EVENT_NAMES)
		json_array_append_new(c->resumed, json_integer(t->dialogue));
	event_active(c->ev_resumed, 0, 0);
}

/*
 * The task a task message or a TASK_INIT_* names (its TaskID, agent, MRD
 * and DialogueID: the same fields in all of them), in a blank *t.
 */
static void
cti_task_named(struct msg_task *t, const struct cti_periph *p,
    const struct cti_agent *a, const struct cti_mrd *m,
    const struct ged_msg *g)
{
	memset(t, 0, sizeof(*t));
	t->peripheral = t->agent_periph = p->f.id;
	t->agent = a->id;
	t->mrd = m->id;
	t->task[0] = g->fixed[TK_GROUP_HIGH];
	t->task[1] = g->fixed[TK_GROUP_LOW];
	t->task[2] = g->fixed[TK_SEQUENCE];
	t->dialogue = g->fixed[TK_DIALOGUE_ID];
}

/*
 * An ARM task message of an AGENT_REPORTING session (pgemu-defined
 * layouts, docs/protocol.md).  Refused: FAILURE_CONF for what GED-188
 * has a status for (7 no such peripheral, 88 an MRD that is none of the
 * lab's non-voice ones, 6 no TaskID where one is needed, 22 TaskFlags
 * bits the application may not set); FAILURE_RESP with an E_ARM_STAT_
 * status for the rest (2, 3, 6, 36 and arm_take()'s).  Taken: the REQs
 * get their RESP with the TaskID, the INDs nothing; the table changes,
 * the agent's state follows, the router hears a TASK_EVENT (in a lab with
 * media routing) and the other side's CTI server the change.
 */
static void
cti_task(struct cti_session *s, const struct ged_msg *g)
{
	struct cti		*c = s->cti;
	struct cti_periph	*p;
	struct cti_agent	*a;
	struct cti_mrd		*m;
	const struct cfg_mrd	*cm;
	struct msg_task		 t, st;
	uint32_t		 v[5], status, code = cti_task_code(g->type);
	uint32_t		 resume;
	double			 now = wall_now();
	int			 precall, offered, started, left;

	if (g->fixed[TK_FLAGS] & ~CTI_TASKF_APP) {
		cti_task_refuse(s, g, 1, E_CTI_INVALID_RESERVED_FIELD);
		return;
	}
	if ((code == TASK_EV_OFFER || code == TASK_EV_START ||
	    code == TASK_EV_END) && (g->fixed[TK_GROUP_HIGH] |
	    g->fixed[TK_GROUP_LOW] | g->fixed[TK_SEQUENCE]) == 0) {
		cti_task_refuse(s, g, 1, E_CTI_REQUIRED_DATA_MISSING);
		return;
	}
	if ((p = cti_periph_find(c, g->fixed[TK_PERIPHERAL_ID])) == NULL) {
		cti_task_refuse(s, g, 1, E_CTI_INVALID_PERIPHERAL_ID);
		return;
	}
	if ((a = cti_agent(p, g->fixed[TK_ICM_AGENT_ID])) == NULL) {
		cti_task_refuse(s, g, 0, E_ARM_STAT_AGENT_NOT_FOUND);
		return;
	}
	if ((cm = cfg_mrd(c->node->cfg, (int)g->fixed[TK_MRD_ID])) == NULL ||
	    cfg_mrd_voice(c->node->cfg, cm->id)) {
		cti_task_refuse(s, g, 1, E_CTI_INVALID_MR_DOMAIN);
		return;
	}
	if ((m = cti_media(a, g->fixed[TK_MRD_ID])) == NULL) {
		cti_task_refuse(s, g, 0, E_ARM_STAT_MRD_LIST_ENTRY_NOT_FOUND);
		return;
	}
	/* A task ends whatever became of its agent; one starts only on an
	   agent signed in to the MRD, served by a PIM (or kept: R23). */
	if (code != TASK_EV_END && !cti_media_served(p)) {
		cti_task_refuse(s, g, 0, E_ARM_STAT_CC_OFFLINE);
		return;
	}
	if (code != TASK_EV_END && !cti_media_maybe_in(m)) {
		cti_task_refuse(s, g, 0, E_ARM_STAT_AGENT_NOT_LOGGED_IN);
		return;
	}
	cti_task_named(&t, p, a, m, g);
	t.code = code;
	t.flags = g->fixed[TK_FLAGS];
	t.path = s->path;
	t.when = (uint32_t)now;
	t.when_ms = (uint32_t)((now - (double)t.when) * 1000.0) % 1000;
	resume = arm_resuming(c->arm, &t);
	/* The router's PRECALL reserved it: RESERVED with no task offered. */
	arm_load(c->arm, p->f.id, a->id, m->id, &offered, &started);
	precall = m->state == AS_RESERVED && offered == 0;
	if ((status = arm_take(c->arm, &t, m->max_tasks, precall)) !=
	    E_ARM_STAT_OK) {
		cti_task_refuse(s, g, 0, status);
		return;
	}
	if (code == TASK_EV_APP_OFFER || code == TASK_EV_APP_START) {
		v[TR_INVOKE_ID] = g->fixed[TK_INVOKE_ID];
		v[TR_STATUS] = E_ARM_STAT_OK;
		v[TR_GROUP_HIGH] = t.task[0];
		v[TR_GROUP_LOW] = t.task[1];
		v[TR_SEQUENCE] = t.task[2];
		cti_send_fixed(s, code == TASK_EV_APP_OFFER ?
		    MSG_OFFER_APPLICATION_TASK_RESP :
		    MSG_START_APPLICATION_TASK_RESP, v, NITEMS(v));
	}
	log_link_debug(s->link, "%s of task %u.%u.%u (agent %u, MRD %u, "
	    "dialogue %u) taken", ged_type_name(g->type), t.task[0],
	    t.task[1], t.task[2], a->id, m->id, t.dialogue);
	/* An END that took a started task off: handled. */
	arm_load(c->arm, p->f.id, a->id, m->id, &offered, &left);
	cti_task_state(c, s->link, p, a, m, code == TASK_EV_END &&
	    left < started);
	/* A lab without media routing has no task table at the router. */
	if (c->node->cfg->mr.enabled) {
		/* Resumed at its end: the START of its new segment first. */
		if (resume != 0 && code == TASK_EV_END) {
			st = t;
			st.code = resume;
			arm_report(c->arm, &st);
		}
		arm_report(c->arm, &t);
	}
	arm_send_change(c->arm, &t);
	if (resume != 0)
		cti_resumed(c, &t);
}

/*
 * R19: an ARM session that opens, or a standby one the server now
 * serves, hears AGENT_INIT_READY_EVENT once per peripheral: its
 * application may send the resync bracket of each (pgemu-defined).
 */
static void
cti_init_ready(struct cti_session *s)
{
	struct cti	*c = s->cti;
	uint32_t	 v[] = { [AR_PERIPHERAL_ID] = 0 };
	int		 i;

	if (!(s->services & CTI_SERVICE_AGENT_REPORTING) || !cti_listening(s))
		return;
	if (s->init == NULL)
		s->init = xcalloc((size_t)c->nperiphs + 1, sizeof(*s->init));
	for (i = 0; i < c->nperiphs; i++) {
		if (s->init[i] != CTI_INIT_NONE)
			continue;
		s->init[i] = CTI_INIT_READY;
		v[AR_PERIPHERAL_ID] = c->periphs[i].f.id;
		cti_send_fixed(s, MSG_AGENT_INIT_READY_EVENT, v, NITEMS(v));
	}
}

/* The bracket messages of an application (R19). */
static int
cti_init_type(uint32_t type)
{
	return type == MSG_BEGIN_AGENT_INIT_IND ||
	    type == MSG_AGENT_INIT_REQ || type == MSG_END_AGENT_INIT_IND ||
	    type == MSG_TASK_INIT_IND || type == MSG_TASK_INIT_REQ;
}

/*
 * A bracket message refused (R19): FAILURE_CONF (an E_CTI_ status) or
 * FAILURE_RESP, and a line naming the peer, the message and why.
 */
static void
cti_init_refuse(struct cti_session *s, const struct ged_msg *g, int conf,
    uint32_t status, const char *why)
{
	uint32_t	invoke = g->fixed[0];	/* every one's first field */

	if (g->type == MSG_AGENT_INIT_REQ || g->type == MSG_TASK_INIT_IND ||
	    g->type == MSG_TASK_INIT_REQ)
		s->init_n.refused++;
	s->cti->resync_refused++;
	log_link_info(s->link, "[%s] %s (InvokeID %u) of client \"%s\" from "
	    "%s refused: %s; %s %u", rule_tag(RULE_R19),
	    ged_type_name(g->type), invoke, s->client_id, s->link->peer_addr,
	    why, conf ? "FAILURE_CONF" : "FAILURE_RESP", status);
	if (conf)
		cti_proto_failure(s->link, invoke, status);
	else
		cti_failure_resp(s, invoke, status);
}

/*
 * The peripheral of a message inside the bracket, the agent and its
 * email MRD it names (AGENT_INIT_REQ, TASK_INIT_*: the same first four
 * fields); NULL when refused (the answer sent): outside a bracket or for
 * another peripheral 19, an unknown peripheral FAILURE_CONF 7, no such
 * agent 2, an MRD that is no email MRD of the lab FAILURE_CONF 88, not
 * one of the agent's 3, no PIM 36, not signed in there 6 (but for a
 * state never told here: R19, the application's record stands).
 */
static struct cti_mrd *
cti_init_named(struct cti_session *s, const struct ged_msg *g,
    struct cti_periph **pp, struct cti_agent **ap)
{
	struct cti	*c = s->cti;
	struct cti_mrd	*m;
	uint32_t	 mrd = g->fixed[AI_MRD_ID];

	if ((*pp = cti_periph_find(c, g->fixed[AI_PERIPHERAL_ID])) == NULL) {
		cti_init_refuse(s, g, 1, E_CTI_INVALID_PERIPHERAL_ID,
		    "no such peripheral");
		return NULL;
	}
	if (s->init_open < 0 || &c->periphs[s->init_open] != *pp) {
		cti_init_refuse(s, g, 0, E_ARM_STAT_INVALID_MESSAGE_SEQUENCE,
		    "not inside a resync bracket of its peripheral");
		return NULL;
	}
	if ((*ap = cti_agent(*pp, g->fixed[AI_ICM_AGENT_ID])) == NULL) {
		cti_init_refuse(s, g, 0, E_ARM_STAT_AGENT_NOT_FOUND,
		    "no such agent");
		return NULL;
	}
	if (!cfg_mrd_email(c->node->cfg, (int)mrd)) {
		cti_init_refuse(s, g, 1, E_CTI_INVALID_MR_DOMAIN,
		    "not an email MRD of the lab");
		return NULL;
	}
	if ((m = cti_media(*ap, mrd)) == NULL) {
		cti_init_refuse(s, g, 0, E_ARM_STAT_MRD_LIST_ENTRY_NOT_FOUND,
		    "not one of the agent's MRDs");
		return NULL;
	}
	if (!(*pp)->f.online) {
		cti_init_refuse(s, g, 0, E_ARM_STAT_CC_OFFLINE,
		    "no PIM serves the peripheral");
		return NULL;
	}
	/*
	 * A state this CTI server was never told (it started after the
	 * sign-in, and no PIM it hears knows it): the application's record
	 * is the one there is (R19).
	 */
	if (!cti_media_maybe_in(m)) {
		cti_init_refuse(s, g, 0, E_ARM_STAT_AGENT_NOT_LOGGED_IN,
		    "the agent is not signed in to the MRD");
		return NULL;
	}
	return m;
}

/* A state an application may say an agent has in an email MRD. */
static int
cti_init_state_ok(uint32_t st)
{
	return st == AS_NOT_READY || st == AS_AVAILABLE ||
	    st == AS_RESERVED || st == AS_ACTIVE;
}

/*
 * AGENT_INIT_REQ: the agent's state in the email MRD as the application
 * recorded it while the session was down, set through the PIM (and its
 * MaxTaskLimit, when not 0); AGENT_INIT_RESP, and the router hears it
 * (TASK_EV_RESYNC: its Agent_Event_Detail row, flagged Recreated).
 */
static void
cti_init_agent(struct cti_session *s, const struct ged_msg *g)
{
	struct cti		*c = s->cti;
	struct cti_periph	*p;
	struct cti_agent	*a;
	struct cti_mrd		*m;
	struct msg_task		 t;
	uint32_t		 st = g->fixed[AI_AGENT_STATE];
	uint32_t		 max = g->fixed[AI_MAX_TASKS];
	uint32_t		 v[4];
	double			 now = wall_now();

	if ((m = cti_init_named(s, g, &p, &a)) == NULL)
		return;
	if (!cti_init_state_ok(st)) {
		cti_init_refuse(s, g, 1, E_CTI_INVALID_OBJECT_STATE,
		    "a state other than not ready, available, reserved or "
		    "active");
		return;
	}
	if (pg_set_agent(c->node, p->f.id, a->id, m->id, (int)st,
	    st == AS_NOT_READY ? (int32_t)g->fixed[AI_REASON] : 0) == -1) {
		cti_init_refuse(s, g, 0, E_ARM_STAT_CC_OFFLINE,
		    "no PIM serves the peripheral");
		return;
	}
	if (max != 0)
		m->max_tasks = max;
	v[MLR_INVOKE_ID] = g->fixed[AI_INVOKE_ID];
	v[MLR_STATUS] = E_ARM_STAT_OK;
	v[MLR_MRD_ID] = m->id;
	v[MLR_ICM_AGENT_ID] = a->id;
	cti_send_fixed(s, MSG_AGENT_INIT_RESP, v, NITEMS(v));
	s->init_n.agents++;
	c->resync_agents++;
	log_link_debug(s->link, "AGENT_INIT_REQ: agent %u %s in MRD %u with "
	    "%u task(s), as the application recorded", a->id,
	    agent_state_name((int)st), m->id, g->fixed[AI_NUM_TASKS]);
	if (!c->node->cfg->mr.enabled)
		return;
	memset(&t, 0, sizeof(t));
	t.peripheral = t.agent_periph = p->f.id;
	t.agent = a->id;
	t.mrd = m->id;
	t.task[0] = st;
	t.task[1] = g->fixed[AI_NUM_TASKS];
	t.code = TASK_EV_RESYNC;
	t.flags = TASKF_RECREATED;
	t.path = s->path;
	now -= g->fixed[AI_STATE_DURATION] < now ?
	    (double)g->fixed[AI_STATE_DURATION] : 0;
	t.when = (uint32_t)now;
	t.when_ms = (uint32_t)((now - (double)t.when) * 1000.0) % 1000;
	arm_report(c->arm, &t);
}

/* The TASK_EVENT of one step of a task told by the bracket (R19). */
static void
cti_init_event(struct cti *c, const struct msg_task *base, uint32_t code,
    uint32_t when)
{
	struct msg_task	t = *base;

	t.code = code;
	t.when = when;
	t.when_ms = 0;
	t.flags |= TASKF_RECREATED;
	arm_report(c->arm, &t);
}

/*
 * TASK_INIT_IND (a task the application knows by its TaskID) or
 * TASK_INIT_REQ (one it began while the session was down, TaskID 0: the
 * server gives one, TASK_INIT_RESP): into the table as offered or
 * started (arm_resync()), and the router hears its offer and start
 * flagged TASKF_RECREATED (one it had already is a duplicate there).
 */
static void
cti_task_init(struct cti_session *s, const struct ged_msg *g)
{
	struct cti		*c = s->cti;
	struct cti_periph	*p;
	struct cti_agent	*a;
	struct cti_mrd		*m;
	struct msg_task		 t;
	uint32_t		 v[5], status, st = g->fixed[TI_STATE];
	uint32_t		 offer = g->fixed[TI_OFFER_TIME];
	uint32_t		 start = g->fixed[TI_START_TIME];
	int			 req = g->type == MSG_TASK_INIT_REQ, changed;
	int			 resumed;
	int			 has_id = (g->fixed[TK_GROUP_HIGH] |
	    g->fixed[TK_GROUP_LOW] | g->fixed[TK_SEQUENCE]) != 0;
	uint32_t		 now = (uint32_t)wall_now();

	if ((m = cti_init_named(s, g, &p, &a)) == NULL)
		return;
	if (g->fixed[TK_FLAGS] & ~CTI_TASKF_APP) {
		cti_init_refuse(s, g, 1, E_CTI_INVALID_RESERVED_FIELD,
		    "TaskFlags the application may not set");
		return;
	}
	if (!req && !has_id) {
		cti_init_refuse(s, g, 1, E_CTI_REQUIRED_DATA_MISSING,
		    "no TaskID");
		return;
	}
	if (req && has_id) {
		cti_init_refuse(s, g, 0, E_ARM_STAT_INVALID_MESSAGE_SEQUENCE,
		    "a TaskID (a task that has one is told by TASK_INIT_IND)");
		return;
	}
	if (st != TASK_INIT_OFFERED && st != TASK_INIT_STARTED) {
		cti_init_refuse(s, g, 1, E_CTI_INVALID_OBJECT_STATE,
		    "TaskState neither offered (1) nor started (2)");
		return;
	}
	cti_task_named(&t, p, a, m, g);
	t.flags = g->fixed[TK_FLAGS] | (req ? TASKF_APP_ROUTED : 0);
	t.path = s->path;
	t.code = (t.flags & TASKF_APP_ROUTED) ? TASK_EV_APP_OFFER :
	    TASK_EV_OFFER;
	if (offer == 0 || offer > now)
		offer = now;
	if (start == 0 || start > now || start < offer)
		start = offer;
	t.when = offer;
	if ((status = arm_resync(c->arm, &t, st == TASK_INIT_STARTED,
	    m->max_tasks, &changed, &resumed)) != E_ARM_STAT_OK) {
		cti_init_refuse(s, g, 0, status, "the task table refuses it");
		return;
	}
	if (req) {
		v[TR_INVOKE_ID] = g->fixed[TK_INVOKE_ID];
		v[TR_STATUS] = E_ARM_STAT_OK;
		v[TR_GROUP_HIGH] = t.task[0];
		v[TR_GROUP_LOW] = t.task[1];
		v[TR_SEQUENCE] = t.task[2];
		cti_send_fixed(s, MSG_TASK_INIT_RESP, v, NITEMS(v));
		s->init_n.begun++;
	} else
		s->init_n.known++;
	log_link_debug(s->link, "%s of task %u.%u.%u (agent %u, MRD %u, "
	    "dialogue %u, %s) taken", ged_type_name(g->type), t.task[0],
	    t.task[1], t.task[2], a->id, m->id, t.dialogue,
	    st == TASK_INIT_STARTED ? "started" : "offered");
	if (c->node->cfg->mr.enabled) {
		cti_init_event(c, &t, t.code, offer);
		if (st == TASK_INIT_STARTED)
			cti_init_event(c, &t, t.code == TASK_EV_APP_OFFER ?
			    TASK_EV_APP_START : TASK_EV_START, start);
	}
	if (changed) {
		if (st == TASK_INIT_STARTED)
			t.code = t.code == TASK_EV_APP_OFFER ?
			    TASK_EV_APP_START : TASK_EV_START;
		arm_send_change(c->arm, &t);
	}
	if (resumed)
		cti_resumed(c, &t);
}

/*
 * A task the CTI server ended itself (its END in t): reported to the
 * router, copied to the other side, its agent's task count down.
 */
static void
cti_task_gone(struct cti *c, const struct msg_task *t)
{
	struct cti_periph	*p;
	struct cti_agent	*a;
	struct cti_mrd		*m;

	if (c->node->cfg->mr.enabled)
		arm_report(c->arm, t);
	arm_send_change(c->arm, t);
	if ((p = cti_periph_find(c, t->peripheral)) != NULL &&
	    (a = cti_agent(p, t->agent)) != NULL &&
	    (m = cti_media(a, t->mrd)) != NULL)
		cti_task_state(c, NULL, p, a, m, 0);
}

/* An MRD of media email: R19's. */
static int
cti_email_mrd(void *arg, uint32_t mrd)
{
	struct cti	*c = arg;

	return cfg_mrd_email(c->node->cfg, (int)mrd);
}

/*
 * R19: a task of the application's path the bracket did not tell: the
 * application no longer has it (it ended while the session was down, its
 * END lost with the CTI server that had it).  It ends, disposition 51:
 * to the router, the other side's copy, its agent's task count.
 */
static void
cti_untold(void *arg, const struct msg_task *t)
{
	struct cti	*c = arg;

	cti_task_gone(c, t);
	log_info("[R19] task %u.%u.%u (dialogue %u, agent %u, MRD %u) not "
	    "told by the resync bracket of application path %u: ended, "
	    "disposition %d", t->task[0], t->task[1], t->task[2],
	    t->dialogue, t->agent, t->mrd, t->path, TCD_DISP_INIT_ENDED);
}

/*
 * BEGIN_AGENT_INIT_IND opens the bracket of a peripheral whose
 * AGENT_INIT_READY_EVENT the session heard, once; END_AGENT_INIT_IND
 * closes it: agents_resynced (R19) with what it told.  Out of order
 * (another bracket open, none open, a peripheral not ready or done):
 * FAILURE_RESP 19; the session goes on.
 */
static void
cti_init_bracket(struct cti_session *s, const struct ged_msg *g)
{
	struct cti		*c = s->cti;
	struct cti_periph	*p;
	struct cti_init_counts	*n = &s->init_n;
	int			 i, ended;

	if ((p = cti_periph_find(c, g->fixed[AB_PERIPHERAL_ID])) == NULL) {
		cti_init_refuse(s, g, 1, E_CTI_INVALID_PERIPHERAL_ID,
		    "no such peripheral");
		return;
	}
	i = (int)(p - c->periphs);
	if (g->type == MSG_BEGIN_AGENT_INIT_IND) {
		if (s->init_open >= 0 || s->init == NULL ||
		    s->init[i] != CTI_INIT_READY) {
			cti_init_refuse(s, g, 0,
			    E_ARM_STAT_INVALID_MESSAGE_SEQUENCE, s->init_open >=
			    0 ? "a bracket is open already" : "no "
			    "AGENT_INIT_READY_EVENT of the peripheral waits "
			    "for one");
			return;
		}
		s->init_open = i;
		memset(n, 0, sizeof(*n));
		arm_bracket_begin(c->arm);
		log_link_debug(s->link, "resync bracket of peripheral %u "
		    "opened", p->f.id);
		return;
	}
	if (s->init_open != i) {
		cti_init_refuse(s, g, 0, E_ARM_STAT_INVALID_MESSAGE_SEQUENCE,
		    "no bracket of the peripheral is open");
		return;
	}
	s->init_open = -1;
	s->init[i] = CTI_INIT_DONE;
	c->resyncs++;
	ended = arm_end_untold(c->arm, p->f.id, s->path, cti_email_mrd,
	    cti_untold, c);
	evt_emit(RULE_R19, "agents_resynced", json_pack("{s:s, s:i, s:i, "
	    "s:i, s:i, s:i, s:i, s:i, s:s}", "client_id", s->client_id,
	    "path", (int)s->path, "peripheral", (int)p->f.id, "agents",
	    n->agents, "tasks_known", n->known, "tasks_begun", n->begun,
	    "refused", n->refused, "tasks_ended", ended, "server",
	    c->node->self->name), "client \"%s\" (path %u) resynced "
	    "peripheral %u's email MRDs: %d agent state%s set, %d task%s "
	    "known, %d begun while its session was down, %d refused; %d "
	    "task%s it did not tell ended (disposition %d)", s->client_id,
	    s->path, p->f.id, n->agents, n->agents == 1 ? "" : "s", n->known,
	    n->known == 1 ? "" : "s", n->begun, n->refused, ended,
	    ended == 1 ? "" : "s", TCD_DISP_INIT_ENDED);
}

/* A message of the resync bracket (R19). */
static void
cti_init_msg(struct cti_session *s, const struct ged_msg *g)
{
	switch (g->type) {
	case MSG_AGENT_INIT_REQ:
		cti_init_agent(s, g);
		break;
	case MSG_TASK_INIT_IND:
	case MSG_TASK_INIT_REQ:
		cti_task_init(s, g);
		break;
	default:
		cti_init_bracket(s, g);
		break;
	}
}

/* A request of an open session, past what the protocol took itself. */
static void
cti_request(struct cti_session *s, const struct wire_msg *m)
{
	struct ged_msg	g;
	uint32_t	status;
	char		err[200];

	if (m->type != MSG_QUERY_AGENT_STATE_REQ &&
	    m->type != MSG_SET_AGENT_STATE_REQ &&
	    m->type != MSG_MEDIA_LOGIN_REQ &&
	    m->type != MSG_MEDIA_LOGOUT_IND && !cti_task_type(m->type) &&
	    !cti_init_type(m->type)) {
		log_link_debug(s->link, "%s not served",
		    ged_type_name(m->type));
		cti_proto_failure(s->link, cti_proto_invoke(m),
		    E_CTI_FUNCTION_NOT_AVAILABLE);
		return;
	}
	if (ged_decode(m, s->version, &g, &status, err, sizeof(err)) == -1) {
		cti_proto_malformed(s->link, m, status, err);
		return;
	}
	if (!s->cti->active) {
		cti_proto_failure(s->link, cti_proto_invoke(m),
		    E_CTI_CTI_SERVER_OFFLINE);
		return;
	}
	if (cti_task_type(m->type) || cti_init_type(m->type)) {
		if (!(s->services & CTI_SERVICE_AGENT_REPORTING)) {
			log_link_debug(s->link, "%s refused: the session has "
			    "no CTI_SERVICE_AGENT_REPORTING",
			    ged_type_name(m->type));
			s->cti->tasks_refused++;
			cti_proto_failure(s->link, cti_proto_invoke(m),
			    E_CTI_FUNCTION_NOT_AVAILABLE);
		} else if (cti_init_type(m->type))
			cti_init_msg(s, &g);
		else if (s->init_open >= 0)
			cti_init_refuse(s, &g, 0,
			    E_ARM_STAT_INVALID_MESSAGE_SEQUENCE,
			    "a task message inside a resync bracket");
		else
			cti_task(s, &g);
		return;
	}
	switch (m->type) {
	case MSG_QUERY_AGENT_STATE_REQ:
		cti_query(s, &g);
		break;
	case MSG_SET_AGENT_STATE_REQ:
		cti_set_state(s, &g);
		break;
	case MSG_MEDIA_LOGIN_REQ:
		cti_media_login(s, &g);
		break;
	default:
		cti_media_logout(s, &g);
		break;
	}
}

/* Application paths (R18, R21) -------------------------------------- */

/* Is an ARM session of the path open here, other than but? */
static int
cti_path_open(const struct cti *c, uint32_t path,
    const struct cti_session *but)
{
	const struct cti_session *s;

	TAILQ_FOREACH(s, &c->sessions, entry)
		if (s != but && cti_arm_session(s) && s->path == path)
			return 1;
	return 0;
}

/* The path's state to the router (R21) and to the other side's copy. */
static void
cti_path_tell(struct cti *c, uint32_t path)
{
	struct msg_task	t;

	arm_path_msg(c->arm, path, &t);
	if (c->node->cfg->mr.enabled)
		arm_report(c->arm, &t);
	arm_send_change(c->arm, &t);
}

/* The timer at the first deadline, on the active CTI server only. */
static void
cti_life_arm(struct cti *c)
{
	struct timeval	tv;
	double		next = c->active ? arm_next_deadline(c->arm) : 0;
	double		now = wall_now();

	if (next == 0) {
		evtimer_del(c->ev_life);
		return;
	}
	ms_to_tv(next > now ? (int)((next - now) * 1000) + 1 : 0, &tv);
	evtimer_add(c->ev_life, &tv);
}

/*
 * The path went down at since: its tasks are kept for their task life.
 * One down already (the copy of a side that took over) is told the
 * router again.
 */
static void
cti_path_down(struct cti *c, uint32_t path, double since, const char *why)
{
	int	n;

	if (!arm_path_set(c->arm, path, 1, since, &n)) {
		cti_path_tell(c, path);
		cti_life_arm(c);
		return;
	}
	cti_path_tell(c, path);
	cti_life_arm(c);
	evt_emit(RULE_R18, "app_path_down", json_pack("{s:I, s:i, s:f, s:s}",
	    "path", (json_int_t)path, "tasks", n, "since", since, "reason",
	    why), "application path %u down (%s): agents stay logged in; "
	    "its %d task%s kept for their MRD's task life, then ended with "
	    "disposition 42", path, why, n, n == 1 ? "" : "s");
}

/* A session of the path opened: its tasks go on (a path new here too). */
static void
cti_path_up(struct cti *c, uint32_t path)
{
	struct msg_task	t;
	double		since = 0;
	int		n, was = arm_path_down(c->arm, path, &since);

	if (!arm_path_set(c->arm, path, 0, 0, &n))
		return;
	if (!was) {
		/* New: the other side's copy knows it, the router needs not. */
		arm_path_msg(c->arm, path, &t);
		arm_send_change(c->arm, &t);
		return;
	}
	cti_path_tell(c, path);
	cti_life_arm(c);
	evt_emit(RULE_R18, "app_path_up", json_pack("{s:I, s:i, s:f}",
	    "path", (json_int_t)path, "tasks", n, "down_s",
	    wall_now() - since), "application path %u back after %.1f s: "
	    "its %d task%s go on", path, wall_now() - since, n,
	    n == 1 ? "" : "s");
}

/*
 * This CTI server became active: a path of the copy with no session here
 * is down (since it went, if the copy says so: its deadlines stand),
 * the paths of its sessions are up.
 */
static void
cti_paths_takeover(struct cti *c)
{
	struct cti_session	*s;
	uint32_t		 ids[ARM_PATHS_MAX];
	double			 now = wall_now();
	int			 i, n;

	n = arm_path_ids(c->arm, ids, ARM_PATHS_MAX);
	for (i = 0; i < n; i++)
		if (cti_path_open(c, ids[i], NULL))
			cti_path_up(c, ids[i]);
		else
			cti_path_down(c, ids[i], now, "no session of it on "
			    "the CTI server that took over");
	TAILQ_FOREACH(s, &c->sessions, entry)
		if (cti_arm_session(s))
			cti_path_up(c, s->path);
	cti_life_arm(c);
}

struct cti_expiry {
	struct cti	*c;
	int		 n;
	json_t		*dialogues, *paths;
};

/* A task whose life ran out: reported, copied, its agent's load down. */
static void
cti_expired(void *arg, const struct msg_task *t)
{
	struct cti_expiry	*x = arg;
	struct cti		*c = x->c;
	size_t			 i;

	cti_task_gone(c, t);
	log_debug("task %u.%u.%u (dialogue %u, agent %u, MRD %u): its task "
	    "life ran out, application path %u down", t->task[0], t->task[1],
	    t->task[2], t->dialogue, t->agent, t->mrd, t->path);
	if (x->n++ < CTI_EVENT_NAMES)
		json_array_append_new(x->dialogues, json_integer(t->dialogue));
	for (i = 0; i < json_array_size(x->paths); i++)
		if (json_integer_value(json_array_get(x->paths, i)) ==
		    (json_int_t)t->path)
			return;
	json_array_append_new(x->paths, json_integer(t->path));
}

static void
cti_life_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cti		*c = arg;
	struct cti_expiry	 x;
	int			 n;

	(void)fd;
	(void)what;
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.dialogues = json_array();
	x.paths = json_array();
	if ((n = arm_expire(c->arm, wall_now(), cti_expired, &x)) > 0)
		evt_emit(RULE_R18, "tasks_expired", json_pack("{s:i, s:o, "
		    "s:o, s:i}", "count", n, "paths", x.paths, "dialogues",
		    x.dialogues, "disposition", TCD_DISP_PATH_DOWN), "%d "
		    "task%s ended: the task life ran out while the "
		    "application path was down (disposition %d; the agents' "
		    "task counts down)", n, n == 1 ? "" : "s",
		    TCD_DISP_PATH_DOWN);
	else {
		json_decref(x.dialogues);
		json_decref(x.paths);
	}
	cti_life_arm(c);
}

int
cti_path_is_down(const struct cti *c, uint32_t path)
{
	return arm_path_down(c->arm, path, NULL);
}

/* Session callbacks (link_ops): opened, closed, a message. */
static void
cti_s_up(struct link *l, void *arg)
{
	struct cti		*c = arg;
	struct cti_session	*s = xcalloc(1, sizeof(*s));

	s->cti = c;
	s->link = l;
	s->id = ++c->next_id;
	s->init_open = -1;
	TAILQ_INSERT_TAIL(&c->sessions, s, entry);
	l->arg = s;
}

static void
cti_s_msg(struct link *l, void *arg, const struct wire_msg *m)
{
	struct cti_session	*s = arg;

	(void)l;
	if (!s->open && m->type == MSG_OPEN_REQ)
		cti_open(s, m);
	else
		cti_request(s, m);
}

/*
 * R9 for one agent: out of every MRD it is logged in to, voice and
 * non-voice, with 50002; not its email MRDs (R19: the email manager
 * keeps those).  0 if it was in none of the others, 1 if it was, -1 if
 * no PIM serves the peripheral.
 */
static int
cti_lost_agent(struct cti *c, const struct cti_periph *p,
    struct cti_agent *a)
{
	int	i, in = 0;

	for (i = 0; i < a->nmedia; i++) {
		if (!agent_logged_in(a->media[i].state) ||
		    cfg_mrd_email(c->node->cfg, (int)a->media[i].id))
			continue;
		in = 1;
		if (pg_set_agent(c->node, p->f.id, a->id, a->media[i].id,
		    AS_LOGOUT, REASON_CTI_FAILURE) == -1)
			return -1;
	}
	if (agent_logged_in(a->state) && !a->out_pending) {
		in = 1;
		if (pg_set_agent(c->node, p->f.id, a->id, 0, AS_LOGOUT,
		    REASON_CTI_FAILURE) == -1)
			return -1;
		a->out_pending = 1;
	}
	return in;
}

/*
 * R9: a session lost (not closed by this side), the agents it owns that
 * are still logged in are logged out of every MRD with 50002.
 */
static void
cti_s_down(struct link *l, void *arg, const char *why)
{
	struct cti_session	*s = arg;
	struct cti		*c = s->cti;
	int			 i, j, n = 0;

	(void)l;
	for (i = 0; i < c->nperiphs; i++)
		for (j = 0; j < c->periphs[i].nagents; j++) {
			struct cti_agent *a = &c->periphs[i].agents[j];

			if (a->owner != s)
				continue;
			a->owner = NULL;
			if (!s->by_server && cti_lost_agent(c, &c->periphs[i],
			    a) == 1)
				n++;
		}
	if (n > 0)
		evt_emit(RULE_R9, "cti_client_lost", json_pack("{s:s, s:s, "
		    "s:s, s:i, s:i, s:s}", "client_id", s->client_id,
		    "signature", s->signature, "peer", s->link->peer_addr,
		    "agents", n, "reason_code", REASON_CTI_FAILURE, "reason",
		    why), "CTI client \"%s\" (%s) lost: %s; %d agent%s it "
		    "logged in logged out (50002)", s->client_id,
		    s->link->peer_addr, why, n, n == 1 ? "" : "s");
	else if (s->open)
		log_link_info(l, "session %u of client \"%s\" closed: %s",
		    s->id, s->client_id, why);
	if (s->moved > 0)
		cti_moved_cb(-1, 0, c);
	if (s->init_open >= 0)
		log_link_info(l, "[%s] session %u of client \"%s\" closed "
		    "inside the resync bracket of peripheral %u: %d agent "
		    "state%s set stay", rule_tag(RULE_R19), s->id, s->client_id,
		    c->periphs[s->init_open].f.id, s->init_n.agents,
		    s->init_n.agents == 1 ? "" : "s");
	TAILQ_REMOVE(&c->sessions, s, entry);
	/* Its application path's last session (R18). */
	if (c->active && s->open && !s->standby &&
	    (s->services & CTI_SERVICE_AGENT_REPORTING) &&
	    !cti_path_open(c, s->path, NULL))
		cti_path_down(c, s->path, wall_now(), why);
	free(s->init);
	free(s);
}

static const struct link_ops cti_session_ops = {
	cti_s_up, cti_s_down, cti_s_msg
};

/* The session listener on this side's CTI port. */
static int
cti_listen(struct cti *c, char *err, size_t errlen)
{
	struct node		*n = c->node;
	struct session_conf	 sc;

	memset(&sc, 0, sizeof(sc));
	sc.proto = &proto_cti;
	sc.limit = n->cfg->cti_max_sessions;
	sc.max_message = GED_MAX_MESSAGE - WIRE_HDR_LEN;
	/* Before OPEN the hold time is the lab's OPEN deadline: a client
	   that says nothing does not keep a session for good. */
	sc.hb.interval_ms = n->cfg->cti_open_timeout_ms;
	sc.hb.misses = 1;
	sc.ops = &cti_session_ops;
	sc.arg = c;
	proto_cti_set_idle_scale(n->cfg->cti_idle_scale_ms);
	c->lst = listener_new_sessions(n->base, "cti", n->self->address,
	    n->self->cti_port, &sc, err, errlen);
	return c->lst == NULL ? -1 : 0;
}

/*
 * Every session ends, told FAILURE_EVENT E_CTI_CTI_SERVER_OFFLINE: this
 * CTI server stops or steps down.  Their agents stay logged in (it is
 * not the clients that failed); they reconnect to the other side.
 */
static void
cti_close_all(struct cti *c, const char *why)
{
	struct cti_session	*s, *next;

	for (s = TAILQ_FIRST(&c->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		s->by_server = 1;
		cti_proto_failure_event(s->link, E_CTI_CTI_SERVER_OFFLINE);
		link_fsm(s->link, LEV_STOP, why);
	}
}

/*
 * This CTI server became active: its standby sessions are told
 * (STANDBY_ACTIVE_EVENT) and served from now on.
 */
static void
cti_promote(struct cti *c)
{
	struct cti_session	*s;
	struct wire_writer	 w;

	TAILQ_FOREACH(s, &c->sessions, entry) {
		if (!s->standby)
			continue;
		s->standby = 0;
		wire_begin(&w, MSG_STANDBY_ACTIVE_EVENT);
		cti_send(s, &w);
		cti_periph_events(s);
		cti_init_ready(s);
	}
}

/* Active or standby, as ctiact_decide() says; each change is an event. */
static void
cti_decide(struct cti *c)
{
	struct ctiact_in	in;
	enum ctiact_why		why;
	int			act;

	memset(&in, 0, sizeof(in));
	in.running = c->running;
	in.active = c->active;
	in.peer_up = c->peer_up;
	in.peer_active = (c->peer_flags & PEER_CTI_ACTIVE) != 0;
	in.holds = c->nperiphs > 0 && c->periphs[0].f.holds;
	in.peer_holds = c->nperiphs > 0 && c->periphs[0].f.peer_holds;
	in.side = c->node->self->side;
	act = ctiact_decide(&in, &why);
	c->why = why;
	arm_adopt(c->arm, act, c->peer_up);	/* R22 */
	if (act == c->active)
		return;
	c->active = act;
	arm_set_active(c->arm, act);
	if (act) {
		cti_promote(c);
		cti_paths_takeover(c);
		/* Its task table is the one now: the other side keeps it. */
		if (c->peer_up)
			arm_send_table(c->arm);
	} else {
		cti_close_all(c, ctiact_why_names[why]);
		cti_life_arm(c);
	}
	evt_emit(RULE_NONE, act ? "cti_active" : "cti_standby",
	    json_pack("{s:s, s:i, s:b}", "why", ctiact_why_names[why],
	    "port", c->node->self->cti_port, "running", c->running),
	    "CTI server of side %c %s (port %d): %s", c->node->self->side,
	    act ? "active" : "standby", c->node->self->cti_port,
	    ctiact_why_names[why]);
	pg_cti_changed(c->node);
	node_update_summary(c->node);
}

/* SYS_HALF_HOUR_CHANGE at each boundary of the lab's interval. */
static void
cti_arm_interval(struct cti *c)
{
	uint32_t	len = (uint32_t)c->node->cfg->interval_s;
	double		now = wall_now();
	double		next = (double)ivl_start_of((uint32_t)now, len) + len;
	struct timeval	tv;

	ms_to_tv((int)((next - now) * 1000) + 1, &tv);
	evtimer_add(c->ev_interval, &tv);
}

static void
cti_interval_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cti	*c = arg;

	(void)fd;
	(void)what;
	cti_system_event_all(c, SYS_HALF_HOUR_CHANGE, 0);
	cti_arm_interval(c);
}

static int
cti_agent_cmp(const void *a, const void *b)
{
	return cmp_u32_key(a, b);
}

/*
 * An agent as the lab file has it: logged out of every MRD, its non-voice
 * MRDs taken from the pool (*media, advanced).
 */
static void
cti_agent_init(const struct cfg *cfg, struct cti_agent *a,
    const struct cfg_agent *ca, struct cti_mrd **media)
{
	int	i, ids[CFG_AGENT_MRDS];
	const struct cfg_mrd *cm;

	a->id = (uint32_t)ca->id;
	a->cfg = ca;
	a->state = AS_LOGOUT;
	a->nmedia = cfg_agent_media(cfg, ca, ids);
	a->media = *media;
	*media += a->nmedia;
	for (i = 0; i < a->nmedia; i++) {
		a->media[i].id = (uint32_t)ids[i];
		a->media[i].state = AS_LOGOUT;
		/* An email sign-in may outlive this process (R19). */
		a->media[i].unknown = cfg_mrd_email(cfg, ids[i]);
		cm = cfg_mrd(cfg, ids[i]);
		a->media[i].max_tasks = cm != NULL ? (uint32_t)cm->max_tasks :
		    1;
	}
}

/* The CTI server of side n, listening; NULL and why if it cannot. */
struct cti *
cti_new(struct node *n, char *err, size_t errlen)
{
	struct cti	*c = xcalloc(1, sizeof(*c));
	struct cti_mrd	*media;
	size_t		 nmedia;
	int		 i, j, ids[CFG_AGENT_MRDS];

	c->node = n;
	TAILQ_INIT(&c->sessions);
	c->periphs = xcalloc((size_t)n->cfg->nperiphs, sizeof(*c->periphs));
	for (i = 0; i < n->cfg->nperiphs; i++) {
		const struct cfg_periph	*cp = &n->cfg->periphs[i];
		struct cti_periph	*p = &c->periphs[c->nperiphs];

		if (cfg_periph_side(cp, n->self->name) == -1)
			continue;
		c->nperiphs++;
		p->f.id = (uint32_t)cp->id;
		p->nagents = cp->nagents;
		p->agents = xcalloc((size_t)cp->nagents + 1,
		    sizeof(*p->agents));
		for (j = 0, nmedia = 0; j < cp->nagents; j++)
			nmedia += (size_t)cfg_agent_media(n->cfg,
			    &cp->agents[j], ids);
		p->media = media = xcalloc(nmedia + 1, sizeof(*p->media));
		for (j = 0; j < cp->nagents; j++)
			cti_agent_init(n->cfg, &p->agents[j], &cp->agents[j],
			    &media);
		qsort(p->agents, (size_t)p->nagents, sizeof(*p->agents),
		    cti_agent_cmp);
		p->by_ext = xcalloc((size_t)cp->nagents + 1,
		    sizeof(*p->by_ext));
		for (j = 0; j < cp->nagents; j++)
			p->by_ext[j] = &p->agents[j];
		qsort(p->by_ext, (size_t)p->nagents, sizeof(*p->by_ext),
		    cti_ext_cmp);
	}
	c->ev_interval = evtimer_new(n->base, cti_interval_cb, c);
	c->ev_moved = evtimer_new(n->base, cti_moved_cb, c);
	c->ev_life = evtimer_new(n->base, cti_life_cb, c);
	c->ev_resumed = event_new(n->base, -1, 0, cti_resumed_cb, c);
	c->resumed = json_array();
	c->arm = arm_new(n);
	c->running = 1;
	c->why = CTIACT_ALONE_NOT_HOLDS;
	if (cti_listen(c, err, errlen) == -1) {
		cti_free(c);
		return NULL;
	}
	cti_arm_interval(c);
	return c;
}

void
cti_free(struct cti *c)
{
	int	i;

	if (c == NULL)
		return;
	listener_free(c->lst);	/* its sessions, without a word */
	while (!TAILQ_EMPTY(&c->sessions)) {
		struct cti_session *s = TAILQ_FIRST(&c->sessions);

		TAILQ_REMOVE(&c->sessions, s, entry);
		free(s->init);
		free(s);
	}
	for (i = 0; i < c->nperiphs; i++) {
		free(c->periphs[i].agents);
		free(c->periphs[i].by_ext);
		free(c->periphs[i].media);
	}
	free(c->periphs);
	event_free(c->ev_interval);
	event_free(c->ev_moved);
	event_free(c->ev_life);
	event_free(c->ev_resumed);
	json_decref(c->resumed);
	arm_free(c->arm);
	free(c);
}

/* The side stops (SIGTERM): every session is told, then closed. */
void
cti_shutdown(struct cti *c)
{
	c->running = 0;
	cti_decide(c);
	cti_close_all(c, "the side is stopping");	/* standby sessions */
}

/* What the side knows of a peripheral changed (PIMs, snapshot). */
void
cti_periph(struct cti *c, const struct cti_periph_facts *f)
{
	struct cti_periph	*p = cti_periph_find(c, f->id);
	int			 was;

	if (p == NULL)
		return;
	was = p->f.online;
	p->f = *f;
	if (was != f->online)
		cti_system_event_all(c, f->online ? SYS_PERIPHERAL_ONLINE :
		    SYS_PERIPHERAL_OFFLINE, f->id);
	cti_decide(c);
}

/*
 * The private link and the peer's CTI server flags (PEER_STATE).  The
 * active CTI server gives the other its task table when the link comes
 * back and when the other steps down (it may have had a table of its own
 * while both were active).
 */
void
cti_peer(struct cti *c, int up, uint32_t flags)
{
	int	was_up = c->peer_up;
	int	was_active = (c->peer_flags & PEER_CTI_ACTIVE) != 0;

	c->peer_up = up;
	c->peer_flags = up ? flags : 0;
	if (c->active && up && (!was_up ||
	    (was_active && !(flags & PEER_CTI_ACTIVE))))
		arm_send_table(c->arm);
	cti_decide(c);
}

/*
 * PEER_TASK: a change of the active CTI server's task table, or the whole
 * of it, kept while this one is standby (an active one keeps its own).
 * -1 and why for one that names what this side does not serve.
 */
int
cti_peer_task(struct cti *c, const struct msg_task *t, char *err,
    size_t errlen)
{
	struct cti_periph	*p;
	struct cti_agent	*a;

	if (t->code != TASK_EV_TABLE && t->code != TASK_EV_PATH_DOWN &&
	    t->code != TASK_EV_PATH_UP && ((p = cti_periph_find(c,
	    t->peripheral)) == NULL || (a = cti_agent(p, t->agent)) == NULL ||
	    cti_media(a, t->mrd) == NULL)) {
		snprintf(err, errlen, "PEER_TASK: no agent %u with MRD %u on "
		    "peripheral %u here", t->agent, t->mrd, t->peripheral);
		return -1;
	}
	if (c->active) {
		log_debug("PEER_TASK ignored: this CTI server is active");
		return 0;
	}
	return arm_mirror(c->arm, t, err, errlen);
}

/*
 * PEER_TASK_CACHE: the other side's TASK_EVENTs not yet sure to have
 * reached the router (R22), kept until it is gone.
 */
int
cti_peer_cache(struct cti *c, const struct msg_task *t, char *err,
    size_t errlen)
{
	return arm_mirror_cache(c->arm, t, err, errlen);
}

/* The router link: the central controller, for the clients. */
void
cti_router(struct cti *c, int up)
{
	if (up == c->router_up)
		return;
	c->router_up = up;
	arm_router(c->arm, up);
	cti_system_event_all(c, up ? SYS_CENTRAL_CONTROLLER_ONLINE :
	    SYS_CENTRAL_CONTROLLER_OFFLINE, 0);
}

/*
 * A record of agent a in its non-voice MRD: the entry that changes, or
 * NULL when nothing does (no such MRD; a snapshot's record of the state
 * the entry has).  A sign-in is told by a record of a state signed in,
 * a sign-out by one signed out; a snapshot tells everything.
 */
static struct cti_mrd *
cti_media_rec(struct cti_agent *a, const struct msg_agent *r, int snapshot)
{
	struct cti_mrd	*m = cti_media(a, r->mrd);

	if (m == NULL)
		return NULL;
	m->unknown = 0;
	if (snapshot || agent_logged_in(r->state))
		m->joining = 0;
	if (snapshot || !agent_logged_in(r->state))
		m->leaving = 0;
	if (snapshot && m->state == r->state)
		return NULL;
	m->state = r->state;
	m->reason = r->reason;
	return m;
}

/*
 * Agents' states from the PIM that holds the peripheral (this side's, or
 * the other's over the private link), per MRD (the ACD's of the voice
 * MRD, the PIM's own of the others): each change an AGENT_STATE_EVENT.
 * An agent logged out of every MRD has no owner any more.
 */
void
cti_agents(struct cti *c, uint32_t periph, const struct msg_agent *recs,
    int n, int snapshot)
{
	struct cti_periph	*p = cti_periph_find(c, periph);
	struct cti_mrd		*m = NULL;
	int			 i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++) {
		struct cti_agent *a = cti_agent(p, recs[i].id);

		if (a == NULL)
			continue;
		if (recs[i].mrd != (uint32_t)c->node->cfg->voice_mrd) {
			if ((m = cti_media_rec(a, &recs[i], snapshot)) == NULL)
				continue;
		} else if (a->state == recs[i].state && snapshot)
			continue;
		else {
			m = NULL;
			a->state = recs[i].state;
			a->reason = recs[i].reason;
			if (agent_logged_in(a->state))
				a->login_pending = a->out_pending = 0;
		}
		/*
		 * Out of every MRD: the owner goes, unless a login follows (a
		 * move, R10, or a LOGIN asked behind the server's own logout).
		 */
		if (!cti_agent_in(a) && !a->moving && !a->login_pending) {
			a->out_pending = 0;
			cti_set_owner(a, NULL);
		} else if (!cti_agent_in(a))
			a->moving = a->out_pending = 0;
		cti_agent_changed(c, p, a, m);
	}
}

uint32_t
cti_flags(const struct cti *c)
{
	return (c->running ? PEER_CTI_RUNNING : 0) |
	    (c->active ? PEER_CTI_ACTIVE : 0);
}

/* pgemuctl stop|start cti-server */
int
cti_cmd_stop_start(struct cti *c, int start, char *err, size_t errlen)
{
	if (start == c->running) {
		snprintf(err, errlen, "the CTI server is already %s",
		    start ? "running" : "stopped");
		return -1;
	}
	if (start && cti_listen(c, err, errlen) == -1)
		return -1;
	c->running = start;
	cti_decide(c);
	if (!start) {
		/* Its standby sessions too: none outlives the listener. */
		cti_close_all(c, "the CTI server is stopped");
		listener_free(c->lst);
		c->lst = NULL;
	}
	evt_emit(RULE_NONE, start ? "cti_started" : "cti_stopped",
	    json_pack("{s:i}", "port", c->node->self->cti_port),
	    "CTI server of side %c %s (port %d)", c->node->self->side,
	    start ? "started" : "stopped", c->node->self->cti_port);
	return 0;
}

/* The ARM tasks: arm.c's counters (and table), the refusals. */
static json_t *
cti_tasks_json(const struct cti *c, int table)
{
	json_t	*j = arm_json(c->arm, table);

	json_object_set_new(j, "refused",
	    json_integer((json_int_t)c->tasks_refused));
	json_object_set_new(json_object_get(j, "resync"), "brackets",
	    json_integer((json_int_t)c->resyncs));
	json_object_set_new(json_object_get(j, "resync"), "agents",
	    json_integer((json_int_t)c->resync_agents));
	json_object_set_new(json_object_get(j, "resync"), "refused",
	    json_integer((json_int_t)c->resync_refused));
	return j;
}

/* A session's resync brackets (R19): open, or each peripheral's. */
static json_t *
cti_init_json(const struct cti_session *s)
{
	static const char *const names[] = { "none", "ready", "done" };
	json_t	*j = json_object();
	char	 id[16];
	int	 i;

	for (i = 0; i < s->cti->nperiphs; i++) {
		snprintf(id, sizeof(id), "%u", s->cti->periphs[i].f.id);
		json_object_set_new(j, id, json_string(i == s->init_open ?
		    "open" : names[s->init[i]]));
	}
	return j;
}

static json_t *
cti_session_json(const struct cti_session *s)
{
	json_t	*j;

	j = json_pack("{s:i, s:s, s:s, s:I, s:i, s:s, s:f, s:b, s:i}",
	    "id", (int)s->id, "client_id", s->client_id,
	    "signature", s->signature, "services", (json_int_t)s->services,
	    "version", (int)s->version, "peer", s->link->peer_addr,
	    "since", s->since, "open", s->open, "agents_owned", s->owned);
	json_object_set_new(j, "standby", json_boolean(s->standby));
	if (s->path != 0)
		json_object_set_new(j, "application_path",
		    json_integer((json_int_t)s->path));
	if (s->agent != NULL)
		json_object_set_new(j, "agent_id",
		    json_integer((json_int_t)s->agent->id));
	if (s->init != NULL)
		json_object_set_new(j, "resync", cti_init_json(s));
	return j;
}

/* One more agent in state st of the MRD's counts. */
static void
cti_count_state(json_t *mrds, uint32_t mrd, int st)
{
	json_t	*m;
	char	 id[16];

	snprintf(id, sizeof(id), "%u", mrd);
	if ((m = json_object_get(mrds, id)) == NULL) {
		m = json_object();
		json_object_set_new(mrds, id, m);
	}
	json_object_set_new(m, agent_state_name(st), json_integer(
	    json_integer_value(json_object_get(m, agent_state_name(st))) + 1));
}

/*
 * The agents as this CTI server sees them (the OPC view): per MRD, how
 * many in each state (an email MRD's sign-ins outliving its path, R19,
 * show here).
 */
static json_t *
cti_agents_json(const struct cti *c)
{
	const struct cti_agent	*a;
	json_t			*mrds = json_object();
	int			 i, j, k;

	for (i = 0; i < c->nperiphs; i++)
		for (j = 0; j < c->periphs[i].nagents; j++) {
			a = &c->periphs[i].agents[j];
			cti_count_state(mrds,
			    (uint32_t)c->node->cfg->voice_mrd, a->state);
			for (k = 0; k < a->nmedia; k++)
				cti_count_state(mrds, a->media[k].id,
				    a->media[k].state);
		}
	return mrds;
}

/* pgemuctl NODE cti */
json_t *
cti_json(const struct cti *c)
{
	const struct cti_session *s;
	json_t			*j, *a = json_array();

	TAILQ_FOREACH(s, &c->sessions, entry)
		json_array_append_new(a, cti_session_json(s));
	j = cti_summary_json(c);
	json_object_set_new(j, "sessions", a);
	json_object_set_new(j, "agents", cti_agents_json(c));
	json_object_set_new(j, "tasks", cti_tasks_json(c, 1));
	if (c->lst != NULL)
		json_object_set_new(j, "listener", listener_json(c->lst));
	return j;
}

/* The status JSON's "cti": running, active, why, counts, the tasks'. */
json_t *
cti_summary_json(const struct cti *c)
{
	const struct cti_session *s;
	int			 n = 0;

	TAILQ_FOREACH(s, &c->sessions, entry)
		n += s->open;
	return json_pack("{s:b, s:b, s:s, s:i, s:i, s:I, s:I, s:b, s:b, s:o}",
	    "running", c->running, "active", c->active,
	    "why", ctiact_why_names[c->why], "port", c->node->self->cti_port,
	    "open_sessions", n, "opened", (json_int_t)c->opened,
	    "refused", (json_int_t)c->refused,
	    "peer_running", (c->peer_flags & PEER_CTI_RUNNING) != 0,
	    "peer_active", (c->peer_flags & PEER_CTI_ACTIVE) != 0,
	    "tasks", cti_tasks_json(c, 0));
}
