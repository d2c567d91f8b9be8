/*
 * GED-188 as the CTI server speaks it, under link.c's transport
 * (protocol-facts 1.4, 1.5):
 *
 *   client                              CTI server
 *     OPEN_REQ            ------>         the rules of 1.4 here, then the
 *                         <------         role's OPEN_CONF or FAILURE_CONF
 *     HEARTBEAT_REQ       ------>         HEARTBEAT_CONF (never the server
 *                         <------         first)
 *     CLOSE_REQ           ------>         CLOSE_CONF, and the session ends
 *     IdleTimeout of silence              FAILURE_EVENT E_CTI_TIMEOUT, ends
 *
 * A session waits in HELLO until an OPEN_REQ passes the protocol's rules;
 * it has no hold time before, and after it the client's IdleTimeout x
 * cti.idle_scale_ms (none for 0xFFFFFFFF).  A request before OPEN gets
 * FAILURE_CONF E_CTI_SESSION_NOT_OPEN and the session stays; a message of
 * a type the server does not know gets E_CTI_FUNCTION_NOT_AVAILABLE and
 * the session stays; a malformed one gets FAILURE_CONF with the decoder's
 * status and the session is closed as a protocol error (a warning naming
 * the peer, the type and what was wrong).
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "pgemu.h"
#include "ged188.h"

/* Milliseconds per second of a client's IdleTimeout (cti.idle_scale_ms). */
static int	cti_idle_scale_ms = 1000;

void
proto_cti_set_idle_scale(int ms)
{
	cti_idle_scale_ms = ms;
}

/* A request's InvokeID: the first word of its body (0 if none). */
uint32_t
cti_proto_invoke(const struct wire_msg *m)
{
	if (m->len < 4)
		return 0;
	return (uint32_t)m->body[0] << 24 | (uint32_t)m->body[1] << 16 |
	    (uint32_t)m->body[2] << 8 | m->body[3];
}

/* The session's version, or the lowest before its OPEN settled one. */
static uint32_t
cti_version(const struct link *l)
{
	return l->version != 0 ? l->version : GED_VERSION_MIN;
}

/* A message whose fixed part is one or two words (InvokeID, Status). */
static void
cti_send_words(struct link *l, uint32_t type, uint32_t a, uint32_t b)
{
	struct ged_msg		g;
	struct wire_writer	w;

	ged_init(&g, type, cti_version(l));
	g.fixed[0] = a;
	g.fixed[1] = b;
	ged_begin(&w, &g);
	link_send(l, &w);
}

/* FAILURE_CONF: the request invoke is refused with status. */
void
cti_proto_failure(struct link *l, uint32_t invoke, uint32_t status)
{
	cti_send_words(l, MSG_FAILURE_CONF, invoke, status);
}

/*
 * A message that does not decode: FAILURE_CONF with the decoder's status,
 * then the session closes as a protocol error naming the peer, the type
 * and what was wrong.
 */
void
cti_proto_malformed(struct link *l, const struct wire_msg *m, uint32_t status,
    const char *err)
{
	const char	*name = ged_type_name(m->type);
	char		 why[256];

	cti_proto_failure(l, cti_proto_invoke(m), status);
	if (strncmp(err, name, strlen(name)) == 0)
		snprintf(why, sizeof(why), "%s (%s)", err,
		    ged_status_name(status));
	else
		snprintf(why, sizeof(why), "%s: %s (%s)", name, err,
		    ged_status_name(status));
	link_proto_error(l, why);
}

/* An OPEN_REQ refused: FAILURE_CONF, a line, and the session ends. */
static void
cti_open_refused(struct link *l, uint32_t invoke, uint32_t status,
    const char *what)
{
	char	why[200];

	cti_proto_failure(l, invoke, status);
	snprintf(why, sizeof(why), "OPEN_REQ refused: %s (%s)", what,
	    ged_status_name(status));
	log_link_info(l, "%s: %s", l->peer_addr, why);
	link_fsm(l, LEV_STOP, why);
}

/*
 * The rules of an OPEN_REQ the protocol itself knows (1.4): 0, or the
 * status that refuses it and why.
 */
static uint32_t
cti_open_check(const struct ged_msg *g, char *why, size_t len)
{
	uint32_t	idle = g->fixed[OQ_IDLE_TIMEOUT];
	char		id[80];

	if (ged_get_str(g, TAG_CLIENT_ID, id, sizeof(id)) != 1 ||
	    id[0] == '\0') {
		snprintf(why, len, "no ClientID");
		return E_CTI_REQUIRED_DATA_MISSING;
	}
	if (g->fixed[OQ_RESERVED1] != 0 || g->fixed[OQ_RESERVED2] != 0 ||
	    g->fixed[OQ_RESERVED3] != 0) {
		snprintf(why, len, "reserved fields 0x%x 0x%x 0x%x",
		    g->fixed[OQ_RESERVED1], g->fixed[OQ_RESERVED2],
		    g->fixed[OQ_RESERVED3]);
		return E_CTI_INVALID_RESERVED_FIELD;
	}
	if (idle < GED_MIN_IDLE_TIMEOUT) {
		snprintf(why, len, "IdleTimeout %u s under %d s", idle,
		    GED_MIN_IDLE_TIMEOUT);
		return E_CTI_INVALID_TIMEOUT;
	}
	if (g->fixed[OQ_SERVICES] & ~CTI_SERVICE_KNOWN) {
		snprintf(why, len, "unknown service bits 0x%08x",
		    g->fixed[OQ_SERVICES] & ~CTI_SERVICE_KNOWN);
		return E_CTI_INVALID_SERVICE_MASK;
	}
	if (g->fixed[OQ_AGENT_STATE_MASK] & ~AGENT_STATE_MASK_KNOWN) {
		snprintf(why, len, "unknown agent state mask bits 0x%08x",
		    g->fixed[OQ_AGENT_STATE_MASK] & ~AGENT_STATE_MASK_KNOWN);
		return E_CTI_INVALID_AGENT_STATE_MASK;
	}
	return E_CTI_NO_ERROR;
}

/*
 * The greeting: an OPEN_REQ that passes the protocol's rules opens the
 * session (LEV_HELLO) at its version, with its hold time, and goes on to
 * the role, which answers it.
 */
static enum proto_verdict
cti_open(struct link *l, const struct wire_msg *m)
{
	struct ged_msg	g;
	uint32_t	version, status, invoke = cti_proto_invoke(m);
	uint64_t	hold;
	char		err[200];

	if (ged_open_version(m, &version) == -1) {
		cti_proto_malformed(l, m, E_CTI_INVALID_MESSAGE_LENGTH,
		    "no VersionNumber");
		return PROTO_TAKEN;
	}
	if (!ged_version_ok(version)) {
		snprintf(err, sizeof(err), "version %u is not one of %d..%d",
		    version, GED_VERSION_MIN, GED_VERSION_MAX);
		cti_open_refused(l, invoke, E_CTI_INVALID_VERSION, err);
		return PROTO_TAKEN;
	}
	if (ged_decode(m, version, &g, &status, err, sizeof(err)) == -1) {
		cti_proto_malformed(l, m, status, err);
		return PROTO_TAKEN;
	}
	if ((status = cti_open_check(&g, err, sizeof(err))) !=
	    E_CTI_NO_ERROR) {
		cti_open_refused(l, invoke, status, err);
		return PROTO_TAKEN;
	}
	l->version = version;
	hold = g.fixed[OQ_IDLE_TIMEOUT] == GED_NO_IDLE_TIMEOUT ? 0 :
	    (uint64_t)g.fixed[OQ_IDLE_TIMEOUT] * (uint64_t)cti_idle_scale_ms;
	link_set_hold(l, hold > INT_MAX ? INT_MAX : (int)hold);
	link_fsm(l, LEV_HELLO, NULL);
	return l->state == LINK_UP ? PROTO_PASS : PROTO_TAKEN;
}

/* OPEN_REQ, HEARTBEAT_REQ and CLOSE_REQ are the protocol's own. */
static enum proto_verdict
cti_control(struct link *l, const struct wire_msg *m)
{
	uint32_t	invoke = cti_proto_invoke(m), status;
	char		why[120];

	if (l->state == LINK_HELLO) {
		if (m->type == MSG_OPEN_REQ)
			return cti_open(l, m);
		log_link_info(l, "%s from %s before OPEN_REQ: refused",
		    ged_type_name(m->type), l->peer_addr);
		cti_proto_failure(l, invoke, E_CTI_SESSION_NOT_OPEN);
		return PROTO_TAKEN;
	}
	switch (m->type) {
	case MSG_OPEN_REQ:
		cti_proto_failure(l, invoke, E_CTI_SESSION_ALREADY_OPEN);
		return PROTO_TAKEN;
	case MSG_HEARTBEAT_REQ:
		cti_send_words(l, MSG_HEARTBEAT_CONF, invoke, 0);
		return PROTO_HEARTBEAT;
	case MSG_CLOSE_REQ:
		status = m->len >= 8 ? (uint32_t)m->body[4] << 24 |
		    (uint32_t)m->body[5] << 16 | (uint32_t)m->body[6] << 8 |
		    m->body[7] : 0;
		cti_send_words(l, MSG_CLOSE_CONF, invoke, 0);
		snprintf(why, sizeof(why), "CLOSE_REQ from the client (%s)",
		    ged_status_name(status));
		link_fsm(l, LEV_CLOSED, why);
		return PROTO_TAKEN;
	default:
		return PROTO_PASS;
	}
}

/*
 * A frame the header check refused: a type the server does not know is a
 * request it does not serve (the session stays); a length under the
 * type's fixed part is malformed (the session closes).
 */
static int
cti_bad_msg(struct link *l, const struct wire_msg *m, const char *why)
{
	(void)why;
	if (wire_type_find(ged_types, m->type) == NULL) {
		cti_proto_failure(l, cti_proto_invoke(m),
		    E_CTI_FUNCTION_NOT_AVAILABLE);
		return PROTO_KEEP;
	}
	cti_proto_failure(l, cti_proto_invoke(m),
	    E_CTI_INVALID_MESSAGE_LENGTH);
	return PROTO_CLOSE;
}

/* Over cti.max_sessions: FAILURE_CONF, no session. */
static void
cti_refuse(struct wire_writer *w, const char *why)
{
	struct ged_msg	g;

	(void)why;
	ged_init(&g, MSG_FAILURE_CONF, GED_VERSION_MIN);
	g.fixed[FC_INVOKE_ID] = 0;
	g.fixed[FC_STATUS] = E_CTI_UNSPECIFIED_FAILURE;
	ged_begin(w, &g);
}

/* FAILURE_EVENT: the server ends the session, and says why. */
void
cti_proto_failure_event(struct link *l, uint32_t status)
{
	cti_send_words(l, MSG_FAILURE_EVENT, status, 0);
}

/* The client's IdleTimeout ran out: it is told before the close. */
static void
cti_hold_expired(struct link *l)
{
	cti_proto_failure_event(l, E_CTI_TIMEOUT);
}

const struct link_proto proto_cti = {
	.name = "GED-188",
	.types = ged_types,
	.max_body = GED_MAX_MESSAGE - WIRE_HDR_LEN,
	.hb = PROTO_HB_CLIENT,
	.heartbeat = NULL,
	.hello_type = MSG_OPEN_REQ,
	.hello = NULL,
	.identify = NULL,
	.welcome = NULL,
	.control = cti_control,
	.bad_msg = cti_bad_msg,
	.refuse = cti_refuse,
	.hold_expired = cti_hold_expired,
};
