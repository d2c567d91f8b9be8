/*
 * The client end of GED-188 (a desktop server's session with the PG's CTI
 * server, an application instance's ARM session), as a struct link_proto;
 * the codec is ged188.c.
 *
 *   client                                   CTI server
 *     OPEN_REQ (version, IdleTimeout,  ------>
 *       services, masks, ClientID,
 *       ApplicationPathID)           <------   OPEN_CONF: the session is open
 *                                    <------   FAILURE_CONF: refused (the
 *                                                standby: 15 or 107)
 *     HEARTBEAT_REQ every interval   ------>
 *                                    <------   HEARTBEAT_CONF
 *                                    <------   FAILURE_EVENT: the session ends
 *
 * A refusal or a FAILURE_EVENT ends the connection with its status in the
 * log line, and the link tries the other CTI server at once (its second
 * endpoint).  Only the client heartbeats; the server closes a session
 * silent past its IdleTimeout.  A message that does not decode closes the
 * connection as a protocol error.
 */
#include "config.h"

#include <string.h>

#include "pgemu.h"
#include "wire.h"
#include "ged188.h"

static struct cti_client_open	cti_open;

/* What this client's OPEN_REQ asks for (its owner says so at start). */
void
proto_cti_client_set_open(const struct cti_client_open *o)
{
	cti_open = *o;
}

/* The session is connected: OPEN_REQ at the version it asks for. */
static void
cti_client_hello(struct link *l)
{
	struct ged_msg		g;
	struct wire_writer	w;

	l->version = cti_open.version;
	ged_init(&g, MSG_OPEN_REQ, l->version);
	g.fixed[OQ_INVOKE_ID] = ++l->hb_seq;
	g.fixed[OQ_VERSION] = cti_open.version;
	g.fixed[OQ_IDLE_TIMEOUT] = cti_open.idle_timeout;
	g.fixed[OQ_PERIPHERAL_ID] = cti_open.peripheral;
	g.fixed[OQ_SERVICES] = cti_open.services;
	g.fixed[OQ_CALL_MASK] = cti_open.call_mask;
	g.fixed[OQ_AGENT_STATE_MASK] = cti_open.agent_state_mask;
	ged_begin(&w, &g);
	ged_put_str(&w, l->version, TAG_CLIENT_ID, cti_open.client_id);
	if (cti_open.app_path != 0)
		ged_put_u32(&w, l->version, TAG_APP_PATH_ID, cti_open.app_path);
	link_send(l, &w);
}

static void
cti_client_heartbeat(struct link *l, uint32_t seq, struct wire_writer *w)
{
	struct ged_msg	g;

	ged_init(&g, MSG_HEARTBEAT_REQ, l->version);
	g.fixed[HB_INVOKE_ID] = seq;
	ged_begin(w, &g);
}

/* The session ends: the server refused it, or says it is over. */
static void
cti_client_end(struct link *l, const struct wire_msg *m, uint32_t status)
{
	char	text[128];

	snprintf(text, sizeof(text), "%s %s (%u)", ged_type_name(m->type),
	    ged_status_name(status), status);
	link_peer_left(l, status, text, 1);
}

/*
 * OPEN_CONF opens the session (and goes on to the role); a refusal or a
 * FAILURE_EVENT ends it; HEARTBEAT_CONF is a heartbeat.
 */
static enum proto_verdict
cti_client_control(struct link *l, const struct wire_msg *m)
{
	struct ged_msg	g;
	uint32_t	status;
	char		err[160];

	switch (m->type) {
	case MSG_HEARTBEAT_CONF:
		return PROTO_HEARTBEAT;
	case MSG_OPEN_CONF:
		if (l->state != LINK_HELLO) {
			link_proto_error(l, "unexpected OPEN_CONF");
			return PROTO_TAKEN;
		}
		link_fsm(l, LEV_HELLO, NULL);
		return PROTO_PASS;
	case MSG_FAILURE_CONF:
	case MSG_FAILURE_EVENT:
		/* A request refused on an open session is the role's. */
		if (m->type == MSG_FAILURE_CONF && l->state != LINK_HELLO)
			return PROTO_PASS;
		if (ged_decode(m, l->version, &g, &status, err,
		    sizeof(err)) == -1) {
			link_proto_error(l, err);
			return PROTO_TAKEN;
		}
		cti_client_end(l, m, g.fixed[m->type == MSG_FAILURE_CONF ?
		    FC_STATUS : FE_STATUS]);
		return PROTO_TAKEN;
	default:
		return PROTO_PASS;
	}
}

const struct link_proto proto_cti_client = {
	.name = "ged188-client",
	.types = ged_types,
	.max_body = GED_MAX_MESSAGE - WIRE_HDR_LEN,
	.hb = PROTO_HB_CLIENT,
	.heartbeat = cti_client_heartbeat,
	.hello_type = MSG_OPEN_REQ,
	.hello = cti_client_hello,
	.identify = NULL,
	.welcome = NULL,
	.control = cti_client_control,
	.bad_msg = NULL,
	.refuse = NULL,
};
