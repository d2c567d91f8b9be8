/*
 * The codec: frame headers, fixed parts and floating fields.  Nothing here
 * reads a byte before checking that it is there.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/*
 * Every message type pgemu knows, with the size of its fixed part: the
 * registry of numbers and names.  A protocol checks frames against its own
 * table (struct link_proto); the lab's internal protocol speaks them all.
 * A table ends with a NULL name.
 */
const struct wire_type_info wire_types[] = {
	{ MSG_FAILURE_CONF,		"FAILURE_CONF",		 8, 0 },
	{ MSG_FAILURE_EVENT,		"FAILURE_EVENT",	 4, 0 },
	{ MSG_OPEN_REQ,			"OPEN_REQ",		44, 0 },
	{ MSG_OPEN_CONF,		"OPEN_CONF",		26, 0 },
	{ MSG_HEARTBEAT_REQ,		"HEARTBEAT_REQ",	 4, 4 },
	{ MSG_HEARTBEAT_CONF,		"HEARTBEAT_CONF",	 4, 4 },
	{ MSG_CLOSE_REQ,		"CLOSE_REQ",		 8, 0 },
	{ MSG_CLOSE_CONF,		"CLOSE_CONF",		 4, 4 },
	{ MSG_AGENT_STATE_EVENT,	"AGENT_STATE_EVENT",	58, 0 },
	{ MSG_SYSTEM_EVENT,		"SYSTEM_EVENT",		26, 0 },
	{ MSG_QUERY_AGENT_STATE_REQ,	"QUERY_AGENT_STATE_REQ", 16, 0 },
	{ MSG_QUERY_AGENT_STATE_CONF,	"QUERY_AGENT_STATE_CONF", 30, 0 },
	{ MSG_SET_AGENT_STATE_REQ,	"SET_AGENT_STATE_REQ",	21, 0 },
	{ MSG_SET_AGENT_STATE_CONF,	"SET_AGENT_STATE_CONF",	 4, 4 },
	{ MSG_HELLO,			"HELLO",		13, 256 },
	{ MSG_HELLO_ACK,		"HELLO_ACK",		13, 256 },
	{ MSG_HEARTBEAT,		"HEARTBEAT",		 4, 4 },
	{ MSG_BYE,			"BYE",			 4, 512 },
	{ MSG_CHALLENGE,		"CHALLENGE",		16, 16 },
	{ MSG_PG_STATUS,		"PG_STATUS",		17, 53 },
	{ MSG_GRANT,			"GRANT",		12, 256 },
	{ MSG_AGENT_STATES,		"AGENT_STATES",		12, 0 },
	{ MSG_PERIPH_OFFLINE,		"PERIPH_OFFLINE",	16, 256 },
	{ MSG_INTERVAL,			"INTERVAL",		24, 0 },
	{ MSG_DELIVERY_ACK,		"DELIVERY_ACK",		 9, 256 },
	{ MSG_DISCARD,			"DISCARD",		25, 512 },
	{ MSG_PEER_STATE,		"PEER_STATE",		 9, 256 },
	{ MSG_PEER_AGENTS,		"PEER_AGENTS",		12, 0 },
	{ MSG_PEER_SET_AGENT,		"PEER_SET_AGENT",	14, 38 },
	{ MSG_PEER_TASK,		"PEER_TASK",		56, 512 },
	{ MSG_PEER_TASK_CACHE,		"PEER_TASK_CACHE",	56, 512 },
	{ MSG_PIM_ACTIVATE,		"PIM_ACTIVATE",		 9, 256 },
	{ MSG_PIM_ACCEPT,		"PIM_ACCEPT",		 9, 256 },
	{ MSG_PIM_REJECT,		"PIM_REJECT",		 9, 256 },
	{ MSG_PIM_FENCED,		"PIM_FENCED",		 9, 256 },
	{ MSG_PIM_DEACTIVATE,		"PIM_DEACTIVATE",	 9, 256 },
	{ MSG_ACD_AGENTS,		"ACD_AGENTS",		12, 0 },
	{ MSG_ACD_SET_AGENT,		"ACD_SET_AGENT",	14, 14 },
	{ MSG_MR_NEW_TASK,		"NEW_TASK",		56, 512 },
	{ MSG_MR_DO_THIS_WITH_TASK,	"DO_THIS_WITH_TASK",	56, 512 },
	{ MSG_MR_NEW_TASK_FAILURE,	"NEW_TASK_FAILURE",	56, 512 },
	{ MSG_MR_ROUTING_ENABLED,	"ROUTING_ENABLED",	56, 512 },
	{ MSG_MR_ROUTING_DISABLED,	"ROUTING_DISABLED",	56, 512 },
	{ MSG_ROUTE_TASK,		"ROUTE_TASK",		56, 512 },
	{ MSG_ROUTE_RESULT,		"ROUTE_RESULT",		56, 512 },
	{ MSG_PRECALL,			"PRECALL",		56, 512 },
	{ MSG_TASK_EVENT,		"TASK_EVENT",		56, 512 },
	WIRE_DESKTOP_TYPES,
	{ 0,				NULL,			 0, 0 }
};

/* A type in a protocol's table; NULL if it has no such type. */
const struct wire_type_info *
wire_type_find(const struct wire_type_info *types, uint32_t type)
{
	for (; types->name != NULL; types++)
		if (types->type == type)
			return types;
	return NULL;
}

const struct wire_type_info *
wire_type_info(uint32_t type)
{
	return wire_type_find(wire_types, type);
}

const char *
wire_type_name(uint32_t type)
{
	const struct wire_type_info *ti = wire_type_info(type);

	return ti != NULL ? ti->name : "UNKNOWN";
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Check an 8-byte header before anything is allocated: the body length
 * against the link's maximum, then the type and its minimum and maximum
 * in the protocol's table.  WIRE_FRAME_LOST: the stream cannot be read on
 * (the length is over the maximum); WIRE_FRAME_BAD: the frame is bad but
 * whole, and can be skipped once its body is in.
 */
int
wire_check_frame(const struct wire_type_info *types, const uint8_t *hdr,
    uint32_t max_body, uint32_t *type, uint32_t *len, char *err,
    size_t errlen)
{
	const struct wire_type_info *ti;

	*len = get32(hdr);
	*type = get32(hdr + 4);
	if (max_body > WIRE_MAX_BODY)
		max_body = WIRE_MAX_BODY;
	if ((ti = wire_type_find(types, *type)) == NULL) {
		snprintf(err, errlen, "unknown message type %u (length %u)",
		    *type, *len);
		return *len > max_body ? WIRE_FRAME_LOST : WIRE_FRAME_BAD;
	}
	if (*len > max_body) {
		snprintf(err, errlen, "%s: length %u over the maximum %u",
		    ti->name, *len, max_body);
		return WIRE_FRAME_LOST;
	}
	if (*len < ti->min_len) {
		snprintf(err, errlen, "%s: length %u under the minimum %u",
		    ti->name, *len, ti->min_len);
		return WIRE_FRAME_BAD;
	}
	if (ti->max_len != 0 && *len > ti->max_len) {
		snprintf(err, errlen, "%s: length %u over the maximum %u for "
		    "this type", ti->name, *len, ti->max_len);
		return WIRE_FRAME_BAD;
	}
	return WIRE_FRAME_OK;
}

/* The same check against every type pgemu knows; -1 on any problem. */
int
wire_check_header(const uint8_t *hdr, uint32_t max_body, uint32_t *type,
    uint32_t *len, char *err, size_t errlen)
{
	return wire_check_frame(wire_types, hdr, max_body, type, len, err,
	    errlen) == WIRE_FRAME_OK ? 0 : -1;
}

static void
wire_grow(struct wire_writer *w, size_t need)
{
	size_t	 ncap;
	uint8_t	*nbuf;

	if (w->overflow)
		return;
	if (w->len + need > WIRE_HDR_LEN + WIRE_MAX_BODY) {
		w->overflow = 1;
		return;
	}
	if (w->len + need <= w->cap)
		return;
	ncap = w->cap ? w->cap : 128;
	while (ncap < w->len + need)
		ncap *= 2;
	if ((nbuf = realloc(w->buf, ncap)) == NULL) {
		w->overflow = 1;
		return;
	}
	w->buf = nbuf;
	w->cap = ncap;
}

/* Room for len more bytes at once (a message of many records). */
void
wire_reserve(struct wire_writer *w, size_t len)
{
	wire_grow(w, len);
}

void
wire_begin(struct wire_writer *w, uint32_t type)
{
	memset(w, 0, sizeof(*w));
	wire_u32(w, 0);
	wire_u32(w, type);
}

void
wire_bytes(struct wire_writer *w, const void *p, size_t n)
{
	wire_grow(w, n);
	if (w->overflow)
		return;
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void
wire_u8(struct wire_writer *w, uint8_t v)
{
	wire_bytes(w, &v, 1);
}

void
wire_u16(struct wire_writer *w, uint16_t v)
{
	uint8_t	b[2] = { v >> 8, v & 0xff };

	wire_bytes(w, b, 2);
}

void
wire_u32(struct wire_writer *w, uint32_t v)
{
	uint8_t	b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
	    v & 0xff };

	wire_bytes(w, b, 4);
}

void
wire_flt(struct wire_writer *w, uint16_t tag, const void *p, size_t n)
{
	if (n > UINT16_MAX) {
		w->overflow = 1;
		return;
	}
	wire_u16(w, tag);
	wire_u16(w, (uint16_t)n);
	wire_bytes(w, p, n);
}

/* Strings go out with their NUL counted, as the product sends them. */
void
wire_flt_str(struct wire_writer *w, uint16_t tag, const char *s)
{
	wire_flt(w, tag, s, strlen(s) + 1);
}

void
wire_flt_u32(struct wire_writer *w, uint16_t tag, uint32_t v)
{
	uint8_t	b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
	    v & 0xff };

	wire_flt(w, tag, b, 4);
}

/* Patch the length in; -1 if the message grew past max_body. */
int
wire_end(struct wire_writer *w, uint32_t max_body, struct wire_msg *m)
{
	uint32_t body;

	if (w->overflow || w->len < WIRE_HDR_LEN)
		return -1;
	body = (uint32_t)(w->len - WIRE_HDR_LEN);
	if (body > max_body)
		return -1;
	w->buf[0] = body >> 24;
	w->buf[1] = (body >> 16) & 0xff;
	w->buf[2] = (body >> 8) & 0xff;
	w->buf[3] = body & 0xff;
	if (m != NULL) {
		m->type = get32(w->buf + 4);
		m->len = body;
		m->body = w->buf + WIRE_HDR_LEN;
	}
	return 0;
}

void
wire_writer_free(struct wire_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void
wire_reader_init(struct wire_reader *r, const struct wire_msg *m)
{
	r->p = m->body;
	r->len = m->len;
	r->off = 0;
	r->short_read = 0;
}

int
wire_get_bytes(struct wire_reader *r, void *out, size_t n)
{
	if (r->short_read || n > r->len - r->off) {
		r->short_read = 1;
		return -1;
	}
	if (out != NULL && n > 0)
		memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

int
wire_skip(struct wire_reader *r, size_t n)
{
	return wire_get_bytes(r, NULL, n);
}

int
wire_get_u8(struct wire_reader *r, uint8_t *v)
{
	return wire_get_bytes(r, v, 1);
}

int
wire_get_u16(struct wire_reader *r, uint16_t *v)
{
	uint8_t	b[2];

	if (wire_get_bytes(r, b, 2) == -1)
		return -1;
	*v = (uint16_t)(b[0] << 8 | b[1]);
	return 0;
}

int
wire_get_u32(struct wire_reader *r, uint32_t *v)
{
	uint8_t	b[4];

	if (wire_get_bytes(r, b, 4) == -1)
		return -1;
	*v = get32(b);
	return 0;
}

/*
 * The next floating field: 1 and the field, 0 at the end of the message,
 * -1 when a field header or its data runs past the end.
 */
int
wire_next_flt(struct wire_reader *r, uint16_t *tag, const uint8_t **data,
    uint16_t *len)
{
	if (r->short_read)
		return -1;
	if (r->off == r->len)
		return 0;
	if (wire_get_u16(r, tag) == -1 || wire_get_u16(r, len) == -1)
		return -1;
	if (*len > r->len - r->off) {
		r->short_read = 1;
		return -1;
	}
	*data = r->p + r->off;
	r->off += *len;
	return 1;
}

/*
 * Copy a floating string: with or without its NUL (both are seen in the
 * field), printable ASCII only (the protocol's STRING is ASCII, and what
 * a peer says ends up in log lines), and it must fit.
 */
int
wire_flt_string(const uint8_t *data, uint16_t len, char *out, size_t outlen)
{
	size_t	n = len, i;

	if (n > 0 && data[n - 1] == '\0')
		n--;
	if (n + 1 > outlen)
		return -1;
	for (i = 0; i < n; i++)
		if (data[i] < 0x20 || data[i] > 0x7e)
			return -1;
	memcpy(out, data, n);
	out[n] = '\0';
	return 0;
}

int
wire_hello_encode(const struct wire_hello *h, int ack, struct wire_writer *w)
{
	wire_begin(w, ack ? MSG_HELLO_ACK : MSG_HELLO);
	wire_u32(w, h->version);
	wire_u32(w, h->hb_interval_ms);
	wire_u32(w, h->flags);
	wire_u8(w, (uint8_t)h->side);
	wire_flt_str(w, TAG_NODE_NAME, h->node);
	wire_flt_str(w, TAG_LAB_NAME, h->lab);
	if (h->has_auth)
		wire_flt(w, TAG_AUTH, h->auth, sizeof(h->auth));
	return w->overflow ? -1 : 0;
}

int
wire_hello_decode(const struct wire_msg *m, struct wire_hello *h, char *err,
    size_t errlen)
{
	struct wire_reader r;
	const uint8_t	*data;
	uint16_t	 tag, len;
	uint8_t		 side;
	int		 rc;

	memset(h, 0, sizeof(*h));
	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &h->version) == -1 ||
	    wire_get_u32(&r, &h->hb_interval_ms) == -1 ||
	    wire_get_u32(&r, &h->flags) == -1 ||
	    wire_get_u8(&r, &side) == -1) {
		snprintf(err, errlen, "%s: fixed part truncated",
		    wire_type_name(m->type));
		return -1;
	}
	h->side = (char)side;
	while ((rc = wire_next_flt(&r, &tag, &data, &len)) == 1) {
		switch (tag) {
		case TAG_NODE_NAME:
			if (wire_flt_string(data, len, h->node,
			    sizeof(h->node)) == -1)
				goto badstr;
			break;
		case TAG_LAB_NAME:
			if (wire_flt_string(data, len, h->lab,
			    sizeof(h->lab)) == -1)
				goto badstr;
			break;
		case TAG_AUTH:
			if (len != sizeof(h->auth)) {
				snprintf(err, errlen, "%s: authentication "
				    "field of %u bytes, not %zu",
				    wire_type_name(m->type), len,
				    sizeof(h->auth));
				return -1;
			}
			memcpy(h->auth, data, len);
			h->has_auth = 1;
			break;
		default:
			break;	/* lenient on input, as the product allows */
		}
	}
	if (rc == -1) {
		snprintf(err, errlen, "%s: floating field runs past the end",
		    wire_type_name(m->type));
		return -1;
	}
	if (h->version != WIRE_PROTO_VERSION) {
		snprintf(err, errlen, "%s: protocol version %u, expected %u",
		    wire_type_name(m->type), h->version, WIRE_PROTO_VERSION);
		return -1;
	}
	if (h->node[0] == '\0') {
		snprintf(err, errlen, "%s: no node name",
		    wire_type_name(m->type));
		return -1;
	}
	return 0;
badstr:
	snprintf(err, errlen, "%s: floating field %u is not a valid string",
	    wire_type_name(m->type), tag);
	return -1;
}

int
wire_bye_decode(const struct wire_msg *m, uint32_t *reason, char *text,
    size_t textlen, char *err, size_t errlen)
{
	struct wire_reader r;
	const uint8_t	*data;
	uint16_t	 tag, len;
	int		 rc;

	text[0] = '\0';
	wire_reader_init(&r, m);
	if (wire_get_u32(&r, reason) == -1) {
		snprintf(err, errlen, "BYE: fixed part truncated");
		return -1;
	}
	while ((rc = wire_next_flt(&r, &tag, &data, &len)) == 1) {
		if (tag == TAG_TEXT &&
		    wire_flt_string(data, len, text, textlen) == -1) {
			snprintf(err, errlen, "BYE: text is not a valid string");
			return -1;
		}
	}
	if (rc == -1) {
		snprintf(err, errlen, "BYE: floating field runs past the end");
		return -1;
	}
	return 0;
}

void
wire_bye_encode(struct wire_writer *w, uint32_t reason, const char *text)
{
	wire_begin(w, MSG_BYE);
	wire_u32(w, reason);
	wire_flt_str(w, TAG_TEXT, text);
}
