/*
 * libFuzzer harness of the framing codec (src/wire/wire.c) and of the internal
 * message decoders built on it (src/wire/msg.c).  The input is a byte stream cut
 * into frames the way a link cuts its receive buffer: each frame whose
 * header passes is decoded as a HELLO, as a BYE, as a run of floating
 * fields and by every msg_*_decode (and every msg_*_body of the roles'
 * tables, which must agree with it).  A HELLO, BYE, GRANT, epoch message,
 * ACD_SET_AGENT, desktop message or task message that decodes is encoded
 * again and must decode to the same thing (a desktop message of its own
 * type, whose layout is fixed, to the same bytes); any mismatch aborts.
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
	uint32_t		agent, mrd, fields[IVL_NFIELDS];
	size_t			i;

	if (n * reclen > m->len || p != m->body + (m->len - n * reclen))
		fail("records do not end at the end of the body", m);
	for (i = 0; i < n; i++) {
		if (reclen == MSG_AGENT_LEN) {
			msg_agent_get(p + i * reclen, &a);
			if (a.state > 14 || a.before_call > 14)
				fail("agent with a bad state let through", m);
		} else
			msg_interval_row_get(p + i * reclen, &agent, &mrd,
			    fields);
	}
}

/*
 * An INTERVAL of lab protocol 2 made again (as a PIM reads an older
 * spool): its header and every row as they were, each row of MRD 7.
 */
static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
fuzz_upgraded(const struct wire_msg *m, const struct msg_interval *iv2)
{
	uint32_t		 agent, mrd, f[IVL_NFIELDS];
	const uint8_t		*old;
	size_t			 i;
	int			 k;

	if (m->len < 24 || m->len - 24 !=
	    (size_t)iv2->count * MSG_IVL_ROW_LEN_V2 ||
	    memcmp(m->body, iv2->rows - 24, 24) != 0)
		fail("INTERVAL of protocol 2 made again with another header",
		    m);
	old = m->body + 24;
	for (i = 0; i < iv2->count; i++) {
		msg_interval_row_get(iv2->rows + i * MSG_IVL_ROW_LEN, &agent,
		    &mrd, f);
		if (mrd != 7 || agent != be32(old + i * MSG_IVL_ROW_LEN_V2))
			fail("INTERVAL of protocol 2: a row's agent or MRD "
			    "changed", m);
		for (k = 0; k < IVL_NFIELDS; k++)
			if (f[k] != be32(old + i * MSG_IVL_ROW_LEN_V2 + 4 +
			    4 * k))
				fail("INTERVAL of protocol 2: a row's time "
				    "changed", m);
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
	struct msg_interval		iv, iv2;
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
	memset(&w, 0, sizeof(w));
	if (msg_interval_upgrade(m, 7, &w, err, sizeof(err)) == 0) {
		finish(&w, &m2, m);
		if (msg_interval_decode(&m2, &iv2, err, sizeof(err)) == -1)
			fail("INTERVAL of protocol 2 made again does not "
			    "decode", m);
		fuzz_upgraded(m, &iv2);
	}
	wire_writer_free(&w);
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
		msg_peer_set_agent_encode(&w, &sa);
		finish(&w, &m2, m);
		if (msg_set_agent_decode(&m2, &sa2, err, sizeof(err)) == -1 ||
		    sa2.id != sa.id || sa2.state != sa.state ||
		    sa2.peripheral != sa.peripheral || sa2.mrd != sa.mrd ||
		    sa2.handled != sa.handled)
			fail("PEER_SET_AGENT round trip differs", m);
		wire_writer_free(&w);
	}
}

/* The re-encoded body is the original's, byte for byte. */
static void
same_bytes(const struct wire_msg *m2, const struct wire_msg *m,
    const char *what)
{
	if (m2->type != m->type || m2->len != m->len ||
	    (m->len != 0 && memcmp(m2->body, m->body, m->len) != 0))
		fail(what, m);
}

/* A task message's own type, or ROUTE_TASK for a body of another. */
static uint32_t
task_type(uint32_t type)
{
	switch (type) {
	case MSG_MR_NEW_TASK:
	case MSG_MR_DO_THIS_WITH_TASK:
	case MSG_MR_NEW_TASK_FAILURE:
	case MSG_MR_ROUTING_ENABLED:
	case MSG_MR_ROUTING_DISABLED:
	case MSG_ROUTE_TASK:
	case MSG_ROUTE_RESULT:
	case MSG_PRECALL:
	case MSG_TASK_EVENT:
		return type;
	default:
		return MSG_ROUTE_TASK;
	}
}

/* The desktop protocol's messages (src/wire/proto_desktop.c). */
static void
fuzz_desktop(const struct wire_msg *m)
{
	struct msg_desktop_login	lo, lo2;
	struct msg_desktop_welcome	we, we2;
	struct msg_desktop_state	st, st2;
	struct wire_writer		w;
	struct wire_msg			m2;
	char				err[256];

	if (msg_desktop_login_decode(m, &lo, err, sizeof(err)) == 0) {
		if (lo.nmrds > DESKTOP_MRDS_MAX || lo.state < 1 ||
		    lo.state > 3 || (lo.flags & ~DESKTOP_RELOGIN) != 0)
			fail("DESKTOP_LOGIN let through out of its range", m);
		msg_desktop_login_encode(&w, &lo);
		finish(&w, &m2, m);
		if (msg_desktop_login_decode(&m2, &lo2, err,
		    sizeof(err)) == -1 || lo2.agent != lo.agent ||
		    lo2.peripheral != lo.peripheral ||
		    lo2.state != lo.state || lo2.flags != lo.flags ||
		    lo2.reason != lo.reason || lo2.nmrds != lo.nmrds ||
		    memcmp(lo2.mrds, lo.mrds, lo.nmrds * sizeof(lo.mrds[0])))
			fail("DESKTOP_LOGIN round trip differs", m);
		if (m->type == MSG_DESKTOP_LOGIN)
			same_bytes(&m2, m, "DESKTOP_LOGIN re-encoded differs");
		wire_writer_free(&w);
	} else
		check_string(err, sizeof(err), m);

	if (msg_desktop_welcome_decode(m, &we, err, sizeof(err)) == 0) {
		check_string(we.server, sizeof(we.server), m);
		msg_desktop_welcome_encode(&w, &we);
		finish(&w, &m2, m);
		if (msg_desktop_welcome_decode(&m2, &we2, err,
		    sizeof(err)) == -1 || we2.flags != we.flags ||
		    strcmp(we2.server, we.server) != 0)
			fail("DESKTOP_WELCOME round trip differs", m);
		wire_writer_free(&w);
	} else
		check_string(err, sizeof(err), m);

	if (msg_desktop_state_decode(m, &st, err, sizeof(err)) == 0) {
		/* SET_STATE's MRD is 16 bits, and it has no before-call. */
		if (st.state > 14 || st.before_call > 14 ||
		    (m->type != MSG_DESKTOP_STATE &&
		    m->type != MSG_DESKTOP_SET_STATE && st.mrd != 0) ||
		    (m->type == MSG_DESKTOP_SET_STATE && (st.mrd > 0xffff ||
		    st.before_call != 0)))
			fail("desktop state let through out of its range", m);
		/* What it reads depends on the type: only its own types. */
		if (m->type == MSG_DESKTOP_STATE ||
		    m->type == MSG_DESKTOP_SET_STATE) {
			msg_desktop_state_encode(&w, m->type, &st);
			finish(&w, &m2, m);
			if (msg_desktop_state_decode(&m2, &st2, err,
			    sizeof(err)) == -1 || st2.mrd != st.mrd ||
			    st2.state != st.state ||
			    st2.before_call != st.before_call ||
			    st2.reason != st.reason)
				fail("desktop state round trip differs", m);
			same_bytes(&m2, m, "desktop state re-encoded differs");
			wire_writer_free(&w);
		}
	} else
		check_string(err, sizeof(err), m);
}

/* A task message (media routing): any body that decodes. */
static void
fuzz_task(const struct wire_msg *m)
{
	struct msg_task		t, t2;
	struct wire_writer	w;
	struct wire_msg		m2;
	char			err[256];

	if (msg_task_decode(m, &t, err, sizeof(err)) == -1) {
		check_string(err, sizeof(err), m);
		return;
	}
	check_string(t.selector, sizeof(t.selector), m);
	check_string(t.text, sizeof(t.text), m);
	if (t.when_ms > 999)
		fail("task with milliseconds over 999 let through", m);
	msg_task_encode(&w, task_type(m->type), &t);
	finish(&w, &m2, m);
	if (msg_task_decode(&m2, &t2, err, sizeof(err)) == -1 ||
	    t2.peripheral != t.peripheral || t2.epoch != t.epoch ||
	    t2.dialogue != t.dialogue || t2.mrd != t.mrd ||
	    t2.agent != t.agent || t2.agent_periph != t.agent_periph ||
	    memcmp(t2.task, t.task, sizeof(t.task)) != 0 ||
	    t2.code != t.code || t2.flags != t.flags ||
	    t2.path != t.path || t2.when != t.when ||
	    t2.when_ms != t.when_ms ||
	    strcmp(t2.selector, t.selector) != 0 ||
	    strcmp(t2.text, t.text) != 0)
		fail("task round trip differs", m);
	wire_writer_free(&w);
}

/*
 * The roles' table decoders (msg_NAME_body): each must say what
 * msg_NAME_decode says, into the union's member NAME.
 */
#define AGREE(name) do {						\
	memset(&b, 0, sizeof(b));					\
	memset(&d, 0, sizeof(d));					\
	rc = msg_##name##_body(m, &b, err, sizeof(err));		\
	rc2 = msg_##name##_decode(m, &d.name, err2, sizeof(err2));	\
	if (rc != rc2 || (rc == -1 && strcmp(err, err2) != 0) ||	\
	    (rc == 0 && memcmp(&b.name, &d.name, sizeof(d.name)) != 0))	\
		fail("msg_" #name "_body disagrees with its decoder", m); \
} while (0)

static void
fuzz_bodies(const struct wire_msg *m)
{
	union msg_body	b, d;
	char		err[256], err2[256];
	int		rc, rc2;

	AGREE(agents);
	AGREE(pg_status);
	AGREE(grant);
	AGREE(offline);
	AGREE(interval);
	AGREE(discard);
	AGREE(epoch);
	AGREE(set_agent);
	AGREE(desktop_login);
	AGREE(desktop_welcome);
	AGREE(desktop_state);
	AGREE(task);
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
	fuzz_desktop(m);
	fuzz_task(m);
	fuzz_bodies(m);
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
