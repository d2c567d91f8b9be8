/*
 * The protocol between an agent desktop and its desktop server (the
 * product's desktop to Finesse), in the lab's framing:
 *
 *   desktop (client)                       desktop server (session)
 *     DESKTOP_LOGIN (agent, MRDs,  ------>   the session opens; the server
 *       wanted state, relogin)               logs the agent in (CTI)
 *                                  <------   DESKTOP_WELCOME (server, CTI up)
 *                                  <------   DESKTOP_STATE per state change
 *     DESKTOP_SET_STATE            ------>   SET_AGENT_STATE_REQ
 *     HEARTBEAT every interval     <----->   HEARTBEAT every interval
 *     BYE (reason, text)           <----->   BYE: the sender leaves
 *
 * Only these types are carried; a bad message closes the connection as a
 * protocol error, logged with the peer and the type.  A desktop that says
 * nothing past heartbeat.desktop's hold is lost (R9), and so is a server.
 */
#include "config.h"

#include <string.h>

#include "pgemu.h"
#include "wire.h"

static const struct wire_type_info desktop_types[] = {
	{ MSG_HEARTBEAT,		"HEARTBEAT",		 4, 4 },
	{ MSG_BYE,			"BYE",			 4, 512 },
	WIRE_DESKTOP_TYPES,
	{ 0,				NULL,			 0, 0 }
};

static void	(*desktop_greeting)(struct link *);

/* The desktops' owner says how a desktop greets (its agent's login). */
void
proto_desktop_set_greeting(void (*fn)(struct link *))
{
	desktop_greeting = fn;
}

static void
desktop_hello(struct link *l)
{
	if (desktop_greeting != NULL)
		desktop_greeting(l);
}

static void
desktop_heartbeat(struct link *l, uint32_t seq, struct wire_writer *w)
{
	(void)l;
	wire_begin(w, MSG_HEARTBEAT);
	wire_u32(w, seq);
}

/*
 * The greeting opens the link on either end and goes on to the role (the
 * login to the server's, the welcome to the desktop's); HEARTBEAT and BYE
 * are the protocol's own.
 */
static enum proto_verdict
desktop_control(struct link *l, const struct wire_msg *m)
{
	char		err[160], text[128];
	uint32_t	reason;

	switch (m->type) {
	case MSG_HEARTBEAT:
		return PROTO_HEARTBEAT;
	case MSG_DESKTOP_LOGIN:
	case MSG_DESKTOP_WELCOME:
		if (l->state != LINK_HELLO || l->client !=
		    (m->type == MSG_DESKTOP_WELCOME)) {
			snprintf(text, sizeof(text), "unexpected %s",
			    link_type_name(l, m->type));
			link_proto_error(l, text);
			return PROTO_TAKEN;
		}
		l->version = WIRE_PROTO_VERSION;
		link_fsm(l, LEV_HELLO, NULL);
		return PROTO_PASS;
	case MSG_BYE:
		if (wire_bye_decode(m, &reason, text, sizeof(text), err,
		    sizeof(err)) == -1) {
			link_proto_error(l, err);
			return PROTO_TAKEN;
		}
		/* A server that stops: the other one at once. */
		link_peer_left(l, reason, text, 1);
		return PROTO_TAKEN;
	default:
		return PROTO_PASS;
	}
}

const struct link_proto proto_desktop = {
	.name = "desktop",
	.types = desktop_types,
	.max_body = 512,
	.hb = PROTO_HB_BOTH,
	.heartbeat = desktop_heartbeat,
	.hello_type = MSG_DESKTOP_LOGIN,
	.hello = desktop_hello,
	.identify = NULL,
	.welcome = NULL,
	.control = desktop_control,
	.bad_msg = NULL,
	.refuse = NULL,
};
