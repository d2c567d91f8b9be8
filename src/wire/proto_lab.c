/*
 * The lab's internal protocol, spoken on every link between pgemu nodes:
 *
 *   client                              server
 *     HELLO (node, lab, side)  ------>    listener: who is it? which link?
 *                              <------    HELLO_ACK (node, lab, side)
 *     HEARTBEAT every interval <----->    HEARTBEAT every interval
 *     BYE (reason, text)       <----->    BYE: the sender leaves
 *
 * Every type pgemu knows may be carried (wire.c's table); a bad message
 * closes the link as a protocol error.  The transport is link.c.
 */
#include "config.h"

#include <string.h>

#include "pgemu.h"
#include "wire.h"

/* Who this process is, as its HELLO says. */
static struct wire_hello lab_self;

void
proto_lab_set_identity(const char *node, const char *lab, char side)
{
	memset(&lab_self, 0, sizeof(lab_self));
	lab_self.version = WIRE_PROTO_VERSION;
	snprintf(lab_self.node, sizeof(lab_self.node), "%s", node);
	snprintf(lab_self.lab, sizeof(lab_self.lab), "%s", lab);
	lab_self.side = side;
}

static void
lab_send_hello(struct link *l, int ack)
{
	struct wire_hello	h = lab_self;
	struct wire_writer	w;

	h.hb_interval_ms = (uint32_t)l->hb.interval_ms;
	wire_hello_encode(&h, ack, &w);
	link_send(l, &w);
}

/* The client is connected: it says who it is. */
static void
lab_hello(struct link *l)
{
	lab_send_hello(l, 0);
}

/* The listener found the server link for a HELLO (of our version). */
static void
lab_welcome(struct link *l)
{
	l->version = WIRE_PROTO_VERSION;
	lab_send_hello(l, 1);
}

static int
lab_identify(const struct wire_msg *m, struct link_peer_id *id, char *err,
    size_t errlen)
{
	struct wire_hello	h;

	if (wire_hello_decode(m, &h, err, errlen) == -1)
		return -1;
	snprintf(id->node, sizeof(id->node), "%s", h.node);
	snprintf(id->lab, sizeof(id->lab), "%s", h.lab);
	id->side = h.side;
	return 0;
}

static void
lab_heartbeat(struct link *l, uint32_t seq, struct wire_writer *w)
{
	(void)l;
	wire_begin(w, MSG_HEARTBEAT);
	wire_u32(w, seq);
}

/* HEARTBEAT, HELLO, HELLO_ACK and BYE are the protocol's own. */
static enum proto_verdict
lab_control(struct link *l, const struct wire_msg *m)
{
	struct wire_hello	h;
	char			err[160], text[128];
	uint32_t		reason;

	switch (m->type) {
	case MSG_HEARTBEAT:
		return PROTO_HEARTBEAT;
	case MSG_HELLO:
		link_proto_error(l, "unexpected HELLO on an open link");
		return PROTO_TAKEN;
	case MSG_HELLO_ACK:
		if (l->state != LINK_HELLO || !l->client) {
			link_proto_error(l, "unexpected HELLO_ACK");
			return PROTO_TAKEN;
		}
		if (wire_hello_decode(m, &h, err, sizeof(err)) == -1) {
			link_proto_error(l, err);
			return PROTO_TAKEN;
		}
		if (strcmp(h.node, l->peer_node) != 0) {
			snprintf(text, sizeof(text), "HELLO_ACK from node "
			    "\"%.32s\", expected \"%s\"", h.node, l->peer_node);
			link_proto_error(l, text);
			return PROTO_TAKEN;
		}
		l->version = h.version;
		link_fsm(l, LEV_HELLO, NULL);
		return PROTO_TAKEN;
	case MSG_BYE:
		if (wire_bye_decode(m, &reason, text, sizeof(text), err,
		    sizeof(err)) == -1) {
			link_proto_error(l, err);
			return PROTO_TAKEN;
		}
		/* A CTI Manager that stops: the other one at once. */
		link_peer_left(l, reason, text, reason == BYE_CTI_MANAGER_STOP);
		return PROTO_TAKEN;
	default:
		return PROTO_PASS;
	}
}

const struct link_proto proto_lab = {
	.name = "lab",
	.types = wire_types,
	.max_body = 0,
	.hb = PROTO_HB_BOTH,
	.heartbeat = lab_heartbeat,
	.hello_type = MSG_HELLO,
	.hello = lab_hello,
	.identify = lab_identify,
	.welcome = lab_welcome,
	.control = lab_control,
	.bad_msg = NULL,
	.refuse = NULL,
};
