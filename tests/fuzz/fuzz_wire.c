/*
 * libFuzzer harness of the framing codec (src/wire/wire.c) and of the internal
 * message decoders built on it (src/wire/msg.c).  The input is a byte stream cut
 * into frames the way a link cuts its receive buffer: each frame whose
 * header passes is decoded as a HELLO, as a BYE, as a run of floating
 * fields and by every msg_*_decode.  A HELLO, BYE, GRANT, epoch message or
 * ACD_SET_AGENT that decodes is encoded again and must decode to the same
 * thing; any mismatch aborts.
 *
 * A frame whose header is refused is skipped whole, as a link skips it.
 * Each body is copied into a buffer of its exact size (fuzz_frames.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_frames.h"
#include "wire.h"

#define FUZZ_MAX_BODY	65536

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop the run with a reason: libFuzzer saves the input. */
static void
fail(const char *what, const struct wire_msg *m)
{
	fprintf(stderr, "fuzz_wire: %s (type %u %s, length %u)\n", what,
	    m->type, wire_type_name(m->type), m->len);
	abort();
}

/* A decoded string must be terminated inside its buffer, with no escape. */
static void
check_string(const char *s, size_t size, const struct wire_msg *m)
{
	if (memchr(s, '\0', size) == NULL)
		fail("decoded string not terminated", m);
}

/* Finish a re-encoded message and check that its header passes. */
static void
finish(struct wire_writer *w, struct wire_msg *out, const struct wire_msg *m)
{
	uint32_t	type, len;
	char		err[256];

	if (wire_end(w, FUZZ_MAX_BODY, out) == -1)
		fail("re-encoded message does not end", m);
	if (wire_check_header(w->buf, FUZZ_MAX_BODY, &type, &len, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_wire: %s\n", err);
		fail("re-encoded header refused", m);
	}
	if (type != out->type || len != out->len ||
	    len != w->len - WIRE_HDR_LEN)
		fail("re-encoded header disagrees with the writer", m);
}

/* HELLO: decode, and if it decodes, encode and decode again. */
static void
fuzz_hello(const struct wire_msg *m)
{
	struct wire_hello	h, h2;
	struct wire_writer	w;
	struct wire_msg		m2;
	char			err[256];

	if (wire_hello_decode(m, &h, err, sizeof(err)) == -1) {
		check_string(err, sizeof(err), m);
		return;
	}
	check_string(h.node, sizeof(h.node), m);
	check_string(h.lab, sizeof(h.lab), m);
	if (h.version != WIRE_PROTO_VERSION || h.node[0] == '\0')
		fail("hello accepted with a bad version or no node", m);

	if (wire_hello_encode(&h, m->type == MSG_HELLO_ACK, &w) == -1)
		fail("hello does not encode", m);
	finish(&w, &m2, m);
	if (m2.type != (m->type == MSG_HELLO_ACK ? MSG_HELLO_ACK : MSG_HELLO))
		fail("hello re-encoded with the wrong type", m);
	if (wire_hello_decode(&m2, &h2, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_wire: %s\n", err);
		fail("re-encoded hello does not decode", m);
	}
	if (h2.version != h.version ||
	    h2.hb_interval_ms != h.hb_interval_ms ||
	    h2.flags != h.flags || h2.side != h.side ||
	    strcmp(h2.node, h.node) != 0 || strcmp(h2.lab, h.lab) != 0)
		fail("hello round trip differs", m);
	wire_writer_free(&w);
}

/* BYE: decode, and if it decodes, encode and decode again. */
static void
fuzz_bye(const struct wire_msg *m)
{
	struct wire_writer	w;
	struct wire_msg		m2;
	uint32_t		reason, reason2;
	char			text[128], text2[128], err[256];

	if (wire_bye_decode(m, &reason, text, sizeof(text), err,
	    sizeof(err)) == -1) {
		check_string(text, sizeof(text), m);
		check_string(err, sizeof(err), m);
		return;
	}
	check_string(text, sizeof(text), m);

	wire_bye_encode(&w, reason, text);
	finish(&w, &m2, m);
	if (wire_bye_decode(&m2, &reason2, text2, sizeof(text2), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_wire: %s\n", err);
		fail("re-encoded bye does not decode", m);
	}
	if (reason2 != reason || strcmp(text2, text) != 0)
		fail("bye round trip differs", m);
	wire_writer_free(&w);
}

/*
 * Every floating field after skip bytes, each also read as a string; the
 * reader must end exactly at the body's end or report a short read.
 */
static void
fuzz_fields(const struct wire_msg *m, size_t skip)
{
	struct wire_reader	 r;
	const uint8_t		*data;
	uint16_t		 tag, len;
	size_t			 seen = skip;
	char			 s[64];
	int			 rc;

	wire_reader_init(&r, m);
	if (wire_skip(&r, skip) == -1) {
		if (skip <= m->len)
			fail("skip inside the body refused", m);
		return;
	}
	while ((rc = wire_next_flt(&r, &tag, &data, &len)) == 1) {
		if (data < m->body || data + len > m->body + m->len)
			fail("field outside the body", m);
		seen += WIRE_FLT_HDR_LEN + len;
		if (wire_flt_string(data, len, s, sizeof(s)) == 0) {
			check_string(s, sizeof(s), m);
			if (strlen(s) > len)
				fail("string longer than its field", m);
		}
	}
	if (rc == 0 && (r.off != m->len || seen != m->len || r.short_read))
		fail("fields do not add up to the body", m);
	if (rc == -1 && !r.short_read)
		fail("field error without a short read", m);
	if (rc == -1 && wire_next_flt(&r, &tag, &data, &len) != -1)
		fail("reader recovered from a short read", m);
}

/* Records that a decoder let through: reading them all must stay inside. */
static void
fuzz_records(const struct wire_msg *m, const uint8_t *p, size_t n,
    size_t reclen)
{
	struct msg_agent	a;
	uint32_t		agent, fields[IVL_NFIELDS];
	size_t			i;

	if (n * reclen > m->len || p != m->body + (m->len - n * reclen))
		fail("records do not end at the end of the body", m);
	for (i = 0; i < n; i++) {
		if (reclen == MSG_AGENT_LEN) {
			msg_agent_get(p + i * reclen, &a);
			if (a.state > 14 || a.before_call > 14)
				fail("agent with a bad state let through", m);
		} else
			msg_interval_row_get(p + i * reclen, &agent, fields);
	}
}

/* The internal messages of msg.c: decode, and re-encode a few. */
static void
fuzz_msgs(const struct wire_msg *m)
{
	struct msg_agents		ag;
	struct msg_pg_status		ps;
	struct msg_grant		gr, gr2;
	struct msg_periph_offline	of;
	struct msg_interval		iv;
	struct msg_discard		di;
	struct msg_epoch		ep, ep2;
	struct msg_set_agent		sa, sa2;
	struct wire_writer		w;
	struct wire_msg			m2;
	char				err[256];

	if (msg_agents_decode(m, &ag, err, sizeof(err)) == 0)
		fuzz_records(m, ag.recs, ag.count, MSG_AGENT_LEN);
	if (msg_interval_decode(m, &iv, err, sizeof(err)) == 0)
		fuzz_records(m, iv.rows, iv.count, MSG_IVL_ROW_LEN);
	if (msg_pg_status_decode(m, &ps, err, sizeof(err)) == 0 &&
	    ps.side != 'A' && ps.side != 'B')
		fail("PG_STATUS with a bad side let through", m);
	if (msg_offline_decode(m, &of, err, sizeof(err)) == 0)
		check_string(of.text, sizeof(of.text), m);
	if (msg_discard_decode(m, &di, err, sizeof(err)) == 0)
		check_string(di.text, sizeof(di.text), m);

	if (msg_grant_decode(m, &gr, err, sizeof(err)) == 0) {
		check_string(gr.text, sizeof(gr.text), m);
		msg_grant_encode(&w, &gr);
		finish(&w, &m2, m);
		if (msg_grant_decode(&m2, &gr2, err, sizeof(err)) == -1 ||
		    gr2.peripheral != gr.peripheral ||
		    gr2.epoch != gr.epoch || gr2.reason != gr.reason ||
		    strcmp(gr2.text, gr.text) != 0)
			fail("GRANT round trip differs", m);
		wire_writer_free(&w);
	}
	if (msg_epoch_decode(m, &ep, err, sizeof(err)) == 0) {
		check_string(ep.text, sizeof(ep.text), m);
		msg_epoch_encode(&w, MSG_PIM_ACTIVATE, &ep);
		finish(&w, &m2, m);
		if (msg_epoch_decode(&m2, &ep2, err, sizeof(err)) == -1 ||
		    ep2.a != ep.a || ep2.b != ep.b ||
		    ep2.flags != ep.flags || ep2.peripheral != ep.peripheral ||
		    strcmp(ep2.text, ep.text) != 0)
			fail("epoch message round trip differs", m);
		wire_writer_free(&w);
	}
	if (msg_set_agent_decode(m, &sa, err, sizeof(err)) == 0) {
		msg_set_agent_encode(&w, &sa);
		finish(&w, &m2, m);
		if (msg_set_agent_decode(&m2, &sa2, err, sizeof(err)) == -1 ||
		    sa2.epoch != sa.epoch || sa2.id != sa.id ||
		    sa2.state != sa.state || sa2.reason != sa.reason)
			fail("ACD_SET_AGENT round trip differs", m);
		wire_writer_free(&w);
	}
}

/* Every decoder over one frame. */
static void
fuzz_frame(const struct wire_msg *m)
{
	const struct wire_type_info *ti = wire_type_info(m->type);

	if (ti == NULL)
		fail("header passed with an unknown type", m);
	if (m->len < ti->min_len || (ti->max_len != 0 && m->len > ti->max_len))
		fail("header passed with a bad length", m);
	fuzz_hello(m);
	fuzz_bye(m);
	fuzz_msgs(m);
	fuzz_fields(m, 0);
	fuzz_fields(m, ti->min_len);
}

/* A frame the header check passed: every decoder; a bad one is skipped. */
static void
fuzz_good_frame(const struct wire_msg *m, int ok, void *arg)
{
	(void)arg;
	if (ok)
		fuzz_frame(m);
}

/* Cut the input into frames as a link does and decode each one. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_frames(data, size, wire_types, FUZZ_MAX_BODY, fuzz_good_frame,
	    NULL);
	return 0;
}
