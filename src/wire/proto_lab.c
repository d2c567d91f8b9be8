/*
 * The lab's internal protocol, spoken on every link between pgemu nodes:
 *
 *   client                              server
 *                              <------    CHALLENGE (nonce Ns)
 *     HELLO (node, lab, side,  ------>    listener: who is it? does its
 *       nonce Nc, MAC)                    MAC prove the lab key? which link?
 *                              <------    HELLO_ACK (node, lab, side,
 *                                           Ns, MAC): the server has it too
 *     HEARTBEAT every interval <----->    HEARTBEAT every interval
 *     BYE (reason, text)       <----->    BYE: the sender leaves
 *
 * With a lab key (auth.c) a HELLO counts only with the MAC of its identity
 * and both fresh nonces, and the client believes a HELLO_ACK only with the
 * server's; without one (lab.key_file empty) there is no CHALLENGE and no
 * MAC, and a peer is who it says it is.  Every type pgemu knows may be
 * carried (wire.c's table); a bad message closes the link as a protocol
 * error.  The transport is link.c.
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

/*
 * What the MAC of a greeting covers: who sends it (node, lab, side), the
 * nonce of the end that sends it (own) and the other's.
 */
#define LAB_MAC_PARTS(h, own, other) {					\
	{ (h)->node, strlen((h)->node) }, { (h)->lab, strlen((h)->lab) },	\
	{ &(h)->side, 1 }, { (own), AUTH_NONCE_LEN },			\
	{ (other), AUTH_NONCE_LEN }, { NULL, 0 } }
#define LAB_MAC_LABEL(ack)	((ack) ? "pgemu HELLO_ACK" : "pgemu HELLO")

static void
lab_send_hello(struct link *l, int ack)
{
	struct wire_hello	h = lab_self;
	struct wire_writer	w;

	h.hb_interval_ms = (uint32_t)l->hb.interval_ms;
	if (auth_enabled()) {
		struct auth_part parts[] = LAB_MAC_PARTS(&h, l->nonce_self,
		    l->nonce_peer);

		h.has_auth = 1;
		memcpy(h.auth, l->nonce_self, AUTH_NONCE_LEN);
		auth_mac(h.auth + AUTH_NONCE_LEN, LAB_MAC_LABEL(ack), parts);
	}
	wire_hello_encode(&h, ack, &w);
	link_send(l, &w);
}

/* The client is connected: it says who it is, or waits to be challenged. */
static void
lab_hello(struct link *l)
{
	if (!auth_enabled())
		lab_send_hello(l, 0);
}

static void
lab_challenge(struct wire_writer *w, uint8_t *nonce)
{
	auth_nonce(nonce);
	wire_begin(w, MSG_CHALLENGE);
	wire_bytes(w, nonce, AUTH_NONCE_LEN);
}

/*
 * A greeting's proof: 0 if it carries the MAC the lab key gives its
 * identity and the nonces (own: the sender's, other: the receiver's).
 */
static int
lab_verify(const struct wire_hello *h, int ack, const uint8_t *other,
    char *err, size_t errlen)
{
	const char	 *what = ack ? "HELLO_ACK" : "HELLO";
	struct auth_part  parts[] = LAB_MAC_PARTS(h, h->auth, other);

	if (!h->has_auth) {
		snprintf(err, errlen, "authentication failed: %s from node "
		    "\"%s\" carries no MAC (the peer has no lab key: "
		    "lab.key_file)", what, h->node);
		return -1;
	}
	if (!auth_check(h->auth + AUTH_NONCE_LEN, LAB_MAC_LABEL(ack), parts)) {
		snprintf(err, errlen, "authentication failed: %s from node "
		    "\"%s\" does not prove the lab key", what, h->node);
		return -1;
	}
	return 0;
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
	if (auth_enabled()) {
		if (lab_verify(&h, 0, id->challenge, err, errlen) == -1)
			return -1;
		memcpy(id->nonce, h.auth, AUTH_NONCE_LEN);
	} else if (h.has_auth) {
		snprintf(err, errlen, "node \"%s\" authenticates, this node "
		    "has no lab key (lab.key_file)", h.node);
		return -1;
	}
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
	case MSG_CHALLENGE:
		if (l->state != LINK_HELLO || !l->client) {
			link_proto_error(l, "unexpected CHALLENGE");
			return PROTO_TAKEN;
		}
		if (!auth_enabled()) {
			link_proto_error(l, "the peer asks for authentication "
			    "and this node has no lab key (lab.key_file)");
			return PROTO_TAKEN;
		}
		memcpy(l->nonce_peer, m->body, AUTH_NONCE_LEN);
		auth_nonce(l->nonce_self);
		lab_send_hello(l, 0);
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
		if (auth_enabled() && lab_verify(&h, 1, l->nonce_self, err,
		    sizeof(err)) == -1) {
			link_proto_error(l, err);
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
	.challenge = lab_challenge,
	.identify = lab_identify,
	.welcome = lab_welcome,
	.control = lab_control,
	.bad_msg = NULL,
	.refuse = NULL,
};
