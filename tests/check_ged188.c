/*
 * Unit tests of the GED-188 codec (src/wire/ged188.c):
 *
 *   tables      every layout and tag is well formed; ged_types[] is the
 *               layouts' (and agrees with wire_types[])
 *   lengths     the fixed part of each message at each version
 *   round trip  every layout at versions 13, 19, 20, 24, 25, with every
 *               floating field it carries, encodes and decodes back
 *   bytes       messages written out by hand from the public tables
 *   refusals    every path that refuses input or output, with its status
 *               and the words of its error
 *   truncation  every prefix of a good message is refused, or is a good
 *               message with fewer floating fields; none reads past it
 *   helpers     ged_open_version, the getters, the names, ged_doc
 */
#include "config.h"

#include <check.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "ged188.h"
#include "wire.h"

static const uint32_t versions[] = { 13, 19, 20, 24, 25 };
#define NVERSIONS	(sizeof(versions) / sizeof(versions[0]))

/* Bytes of a fixed value, as the public tables give them (1.2). */
static unsigned int
tsize(enum ged_ftype t)
{
	switch (t) {
	case GF_UCHAR:
		return 1;
	case GF_USHORT:
	case GF_SHORT:
	case GF_BOOL:
		return 2;
	case GF_UINT:
	case GF_INT:
	case GF_TIME:
		return 4;
	default:
		return 0;
	}
}

/* A body in a buffer of its exact size: ASan sees any read past it. */
struct body {
	uint8_t		*p;
	struct wire_msg	 m;
};

static void
body_set(struct body *b, uint32_t type, const void *data, size_t len)
{
	b->p = len != 0 ? malloc(len) : NULL;
	ck_assert(len == 0 || b->p != NULL);
	if (len != 0)
		memcpy(b->p, data, len);
	b->m.type = type;
	b->m.len = (uint32_t)len;
	b->m.body = b->p;
}

static void
body_free(struct body *b)
{
	free(b->p);
	b->p = NULL;
}

/* Decode data as a message of type at version; the status, err kept. */
static int
decode(uint32_t type, uint32_t version, const void *data, size_t len,
    uint32_t *status, char *err, size_t errlen)
{
	struct body	b;
	struct ged_msg	g;
	int		rc;

	body_set(&b, type, data, len);
	rc = ged_decode(&b.m, version, &g, status, err, errlen);
	ck_assert(memchr(err, '\0', errlen) != NULL);
	if (rc == 0)
		ck_assert_uint_eq(*status, E_CTI_NO_ERROR);
	else
		ck_assert_uint_ne(*status, E_CTI_NO_ERROR);
	body_free(&b);
	return rc;
}

/* Refused with this status, err holding want. */
static void
refused(uint32_t type, uint32_t version, const void *data, size_t len,
    uint32_t want, const char *want_err)
{
	uint32_t	status;
	char		err[256];

	ck_assert_int_eq(decode(type, version, data, len, &status, err,
	    sizeof(err)), -1);
	ck_assert_msg(status == want, "status %u (%s), wanted %u: %s",
	    status, ged_status_name(status), want, err);
	ck_assert_msg(strstr(err, want_err) != NULL, "\"%s\" lacks \"%s\"",
	    err, want_err);
}

static void
accepted(uint32_t type, uint32_t version, const void *data, size_t len)
{
	uint32_t	status;
	char		err[256];

	ck_assert_msg(decode(type, version, data, len, &status, err,
	    sizeof(err)) == 0, "refused: %s", err);
}

/*
 * An OPEN_REQ body: the 44-byte fixed part of version v, then the
 * floating bytes given.  Returns its length.
 */
static size_t
open_req(uint8_t *buf, uint32_t v, const void *flt, size_t fltlen)
{
	memset(buf, 0, 44);
	buf[7] = (uint8_t)v;
	memcpy(buf + 44, flt, fltlen);
	return 44 + fltlen;
}

/* Decode an OPEN_REQ of these floating bytes at v, into buf; it passes. */
static void
decode_open(struct ged_msg *g, uint8_t *buf, uint32_t v, const void *flt,
    size_t fltlen)
{
	struct wire_msg	m;
	uint32_t	status;
	char		err[256];

	m.type = MSG_OPEN_REQ;
	m.len = (uint32_t)open_req(buf, v, flt, fltlen);
	m.body = buf;
	ck_assert_msg(ged_decode(&m, v, g, &status, err, sizeof(err)) == 0,
	    "%s", err);
}

/* A value for a fixed field, distinct per index, fitting its type. */
static uint32_t
fixed_value(enum ged_ftype t, int i)
{
	switch (t) {
	case GF_UCHAR:
		return 2;
	case GF_USHORT:
		return 0xa000 + (uint32_t)i;
	case GF_SHORT:
		return (uint32_t)(-1 - i);
	case GF_BOOL:
		return 1;
	case GF_INT:
		return (uint32_t)(-1000 - i);
	case GF_TIME:
		return 1700000000U + (uint32_t)i;
	default:
		return 0xc0de0000U + (uint32_t)i;
	}
}

/* Data for a floating field of d: as long as it may be. */
static size_t
flt_value(const struct ged_tag_def *d, uint8_t *out)
{
	size_t	i;

	switch (d->type) {
	case GF_STRING:
		for (i = 0; i + 1 < d->max; i++)
			out[i] = (uint8_t)('A' + (i + d->tag) % 26);
		out[i] = '\0';
		return d->max;
	case GF_UNSPEC:
		for (i = 0; i < d->max; i++)
			out[i] = (uint8_t)(i * 37 + d->tag);
		return d->max;
	default:
		for (i = 0; i < tsize(d->type); i++)
			out[i] = (uint8_t)(0x10 * i + d->tag);
		return tsize(d->type);
	}
}

/* Whether a tag can go out at a version. */
static int
tag_fits(const struct ged_tag_def *d, uint32_t v)
{
	return d->tag <= 255 || ged_wide(v);
}

/*
 * Encode layout l at version v with every fixed value set and every
 * floating field it carries (and can at v); the body length expected.
 */
static size_t
build(const struct ged_layout *l, uint32_t v, struct ged_msg *g,
    struct wire_writer *w, struct wire_msg *m)
{
	const struct ged_field	*f;
	const struct ged_tag_def *d;
	const uint16_t		*t;
	uint8_t			 data[512];
	size_t			 n, want;
	int			 i;

	ged_init(g, l->type, v);
	ck_assert_ptr_eq(g->layout, l);
	for (f = l->fixed, i = 0; f->name != NULL; f++, i++)
		g->fixed[i] = fixed_value(f->type, i);
	ged_begin(w, g);
	want = (size_t)ged_fixed_len(l, v);
	for (t = l->tags; *t != 0; t++) {
		d = ged_tag(*t);
		if (!tag_fits(d, v))
			continue;
		n = flt_value(d, data);
		ged_put(w, v, d->tag, data, n);
		want += (ged_wide(v) ? 4 : 2) + n;
	}
	ck_assert_int_eq(ged_end(w, m), 0);
	return want;
}

START_TEST(test_tables)
{
	const struct ged_layout		*l;
	const struct ged_field		*f;
	const struct ged_tag_def	*d, *prev = NULL;
	const uint16_t			*t, *u;
	uint8_t				 since;
	int				 n;

	for (l = ged_layouts; l->name != NULL; l++) {
		ck_assert_ptr_eq(ged_layout(l->type), l);
		ck_assert(l->dir == GED_DIR_TO_SERVER ||
		    l->dir == GED_DIR_TO_CLIENT);
		ck_assert(l->source != NULL && l->source[0] != '\0');
		ck_assert(strncmp(l->source, "protocol-facts ", 15) == 0 ||
		    strcmp(l->source, "pgemu-defined") == 0);
		/*
		 * Numbers only, and a field of a later version after every
		 * field of all versions, in the order of their versions: the
		 * offsets of docs/protocol.md hold at every version.
		 */
		since = 0;
		for (f = l->fixed, n = 0; f->name != NULL; f++, n++) {
			ck_assert_msg(tsize(f->type) != 0, "%s.%s", l->name,
			    f->name);
			if (f->since > GED_VERSION_MIN) {
				ck_assert_uint_ge(f->since, since);
				since = f->since;
			} else
				ck_assert_msg(since == 0, "%s.%s after a "
				    "later field", l->name, f->name);
		}
		ck_assert_int_ge(n, 1);
		ck_assert_int_le(n, GED_FIXED_MAX);
		for (t = l->tags; *t != 0; t++) {
			ck_assert_msg(ged_tag(*t) != NULL, "%s: tag %u",
			    l->name, *t);
			for (u = l->tags; u != t; u++)
				ck_assert_uint_ne(*u, *t);
		}
	}
	for (d = ged_tags; d->name != NULL; prev = d, d++) {
		if (prev != NULL)
			ck_assert_uint_gt(d->tag, prev->tag);
		ck_assert_ptr_eq(ged_tag(d->tag), d);
		ck_assert(d->source != NULL && d->source[0] != '\0');
		if (d->type == GF_STRING || d->type == GF_UNSPEC)
			ck_assert_uint_ge(d->max, 1);
		else
			ck_assert_uint_eq(d->max, tsize(d->type));
		if (d->tag > 255)
			ck_assert_uint_ge(d->since, GED_VERSION_WIDE);
		else
			ck_assert_uint_le(d->max, 255);
		ck_assert_uint_le(d->since, GED_VERSION_MAX);
	}
}
END_TEST

/* Every tag of ged188.h's enum has its definition. */
START_TEST(test_tags_defined)
{
	static const uint16_t tags[] = {
		TAG_CLIENT_ID, TAG_CLIENT_PASSWORD, TAG_CLIENT_SIGNATURE,
		TAG_AGENT_EXTENSION, TAG_AGENT_ID, TAG_AGENT_INSTRUMENT,
		TAG_GED_TEXT, TAG_AGENT_PASSWORD, TAG_SKILL_GROUP_NUMBER,
		TAG_SKILL_GROUP_ID, TAG_SKILL_GROUP_PRIORITY,
		TAG_SKILL_GROUP_STATE, TAG_POSITION_ID, TAG_SUPERVISOR_ID,
		TAG_APP_PATH_ID, TAG_EXT_AGENT_STATE, TAG_DURATION,
		TAG_AGENT_ID_LONG, TAG_EVENT_DEVICE_ID, TAG_PERIPHERAL_ID,
		TAG_MR_DOMAIN_ID, TAG_MULTI_LINE_AGENT_CONTROL,
		TAG_NUM_PERIPHERALS, TAG_DIRECTION, TAG_SSO_ENABLED,
		TAG_FLT_ICM_DISP, TAG_FLT_APP_DISP, TAG_MAX_BEYOND_TASK_LIMIT
	};
	size_t	i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		ck_assert_msg(ged_tag(tags[i]) != NULL, "tag %u", tags[i]);
	ck_assert_ptr_null(ged_tag(0));
	ck_assert_ptr_null(ged_tag(200));
}
END_TEST

/* ged_types[] is the layouts' and agrees with the lab's wire_types[]. */
START_TEST(test_types)
{
	const struct ged_layout		*l = ged_layouts;
	const struct wire_type_info	*ti, *gi;
	int				 min, len;
	uint32_t			 v;

	for (ti = ged_types; ti->name != NULL; ti++, l++) {
		ck_assert_ptr_nonnull(l->name);
		ck_assert_uint_eq(ti->type, l->type);
		ck_assert_str_eq(ti->name, l->name);
		min = ged_fixed_len(l, GED_VERSION_MIN);
		for (v = GED_VERSION_MIN; v <= GED_VERSION_MAX; v++) {
			len = ged_fixed_len(l, v);
			ck_assert_int_ge(len, 0);
			if (len < min)
				min = len;
		}
		ck_assert_uint_eq(ti->min_len, (uint32_t)min);
		ck_assert_uint_eq(ti->max_len, GED_MAX_MESSAGE - WIRE_HDR_LEN);
	}
	ck_assert_ptr_null(l->name);
	for (ti = wire_types; ti->name != NULL; ti++) {
		if (ti->type >= 0x4000)
			continue;
		gi = wire_type_find(ged_types, ti->type);
		ck_assert_msg(gi != NULL, "%s", ti->name);
		ck_assert_str_eq(gi->name, ti->name);
		ck_assert_uint_eq(gi->min_len, ti->min_len);
	}
}
END_TEST

START_TEST(test_fixed_lengths)
{
	static const struct {
		uint32_t	type, version;
		int		len;
	} rows[] = {
		{ MSG_OPEN_REQ, 13, 44 }, { MSG_OPEN_REQ, 20, 44 },
		{ MSG_OPEN_REQ, 25, 44 },
		{ MSG_OPEN_CONF, 13, 26 }, { MSG_OPEN_CONF, 18, 26 },
		{ MSG_OPEN_CONF, 19, 30 }, { MSG_OPEN_CONF, 23, 30 },
		{ MSG_OPEN_CONF, 24, 32 }, { MSG_OPEN_CONF, 25, 32 },
		{ MSG_AGENT_STATE_EVENT, 13, 58 },
		{ MSG_AGENT_STATE_EVENT, 18, 58 },
		{ MSG_AGENT_STATE_EVENT, 19, 62 },
		{ MSG_AGENT_STATE_EVENT, 25, 62 },
		{ MSG_QUERY_AGENT_STATE_CONF, 18, 30 },
		{ MSG_QUERY_AGENT_STATE_CONF, 19, 34 },
		{ MSG_QUERY_AGENT_STATE_REQ, 20, 16 },
		{ MSG_SET_AGENT_STATE_REQ, 13, 21 },
		{ MSG_SET_AGENT_STATE_REQ, 24, 21 },
		{ MSG_SET_AGENT_STATE_CONF, 19, 4 },
		{ MSG_SYSTEM_EVENT, 19, 26 },
		{ MSG_FAILURE_CONF, 13, 8 }, { MSG_FAILURE_EVENT, 13, 4 },
		{ MSG_HEARTBEAT_REQ, 20, 4 }, { MSG_HEARTBEAT_CONF, 20, 4 },
		{ MSG_CLOSE_REQ, 20, 8 }, { MSG_CLOSE_CONF, 20, 4 },
		{ MSG_CONTROL_FAILURE_CONF, 19, 10 },
		{ MSG_MEDIA_LOGIN_REQ, 20, 20 },
		{ MSG_MEDIA_LOGIN_RESP, 20, 16 },
		{ MSG_MEDIA_LOGOUT_IND, 20, 20 },
		{ MSG_FAILURE_RESP, 20, 8 },
		{ MSG_OFFER_TASK_IND, 13, 36 }, { MSG_OFFER_TASK_IND, 25, 36 },
		{ MSG_OFFER_APPLICATION_TASK_REQ, 19, 36 },
		{ MSG_OFFER_APPLICATION_TASK_RESP, 19, 20 },
		{ MSG_START_TASK_IND, 24, 36 },
		{ MSG_START_APPLICATION_TASK_REQ, 20, 36 },
		{ MSG_START_APPLICATION_TASK_RESP, 20, 20 },
		{ MSG_END_TASK_IND, 20, 36 },
		{ MSG_BEGIN_AGENT_INIT_IND, 13, 8 },
		{ MSG_AGENT_INIT_REQ, 20, 32 },
		{ MSG_AGENT_INIT_RESP, 24, 16 },
		{ MSG_END_AGENT_INIT_IND, 25, 8 },
		{ MSG_TASK_INIT_IND, 13, 46 }, { MSG_TASK_INIT_REQ, 25, 46 },
		{ MSG_AGENT_INIT_READY_EVENT, 24, 4 },
		{ MSG_TASK_INIT_RESP, 19, 20 },
		{ MSG_OPEN_CONF, 12, -1 }, { MSG_OPEN_CONF, 26, -1 },
	};
	size_t	i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(ged_fixed_len(ged_layout(rows[i].type),
		    rows[i].version) == rows[i].len, "%s at %u",
		    ged_type_name(rows[i].type), rows[i].version);
	ck_assert_int_eq(ged_fixed_len(NULL, 19), -1);
}
END_TEST

/* Every layout at every version of the list, all its fields, and back. */
START_TEST(test_round_trip)
{
	const struct ged_layout	*l;
	const struct ged_field	*f;
	struct ged_msg		 g, d;
	struct wire_writer	 w;
	struct wire_msg		 m;
	uint32_t		 v, status;
	size_t			 want, k;
	int			 i, nflt;
	uint8_t			 data[512];
	char			 err[256];

	for (l = ged_layouts; l->name != NULL; l++) {
		for (k = 0; k < NVERSIONS; k++) {
			v = versions[k];
			want = build(l, v, &g, &w, &m);
			ck_assert_uint_eq(m.type, l->type);
			ck_assert_msg(m.len == want, "%s at %u: %u bytes, "
			    "wanted %zu", l->name, v, m.len, want);
			ck_assert_msg(ged_decode(&m, v, &d, &status, err,
			    sizeof(err)) == 0, "%s at %u: %s", l->name, v, err);
			ck_assert_ptr_eq(d.layout, l);
			ck_assert_uint_eq(d.version, v);
			for (f = l->fixed, i = 0; f->name != NULL; f++, i++)
				ck_assert_msg(d.fixed[i] == (f->since <= v ?
				    g.fixed[i] : 0), "%s.%s at %u", l->name,
				    f->name, v);
			nflt = 0;
			for (i = 0; l->tags[i] != 0; i++) {
				const struct ged_tag_def *td =
				    ged_tag(l->tags[i]);

				if (!tag_fits(td, v))
					continue;
				ck_assert_uint_eq(d.flt[nflt].tag, td->tag);
				ck_assert_uint_eq(d.flt[nflt].len,
				    flt_value(td, data));
				ck_assert(memcmp(d.flt[nflt].data, data,
				    d.flt[nflt].len) == 0);
				nflt++;
			}
			ck_assert_int_eq(d.nflt, nflt);
			wire_writer_free(&w);
		}
	}
}
END_TEST

/* Encode g with the floating fields of put() and compare with want. */
static void
encodes_to(struct ged_msg *g, void (*put)(struct wire_writer *, uint32_t),
    const uint8_t *want, size_t wantlen)
{
	struct wire_writer	w;
	struct wire_msg		m;
	struct ged_msg		d;
	uint32_t		status;
	char			err[256];
	size_t			i;

	ged_begin(&w, g);
	put(&w, g->version);
	ck_assert_int_eq(ged_end(&w, &m), 0);
	ck_assert_uint_eq(w.len, wantlen);
	for (i = 0; i < wantlen; i++)
		ck_assert_msg(w.buf[i] == want[i], "byte %zu: %02x, wanted "
		    "%02x", i, w.buf[i], want[i]);
	/* And the bytes by hand decode to the same message. */
	m.type = g->type;
	m.len = (uint32_t)(wantlen - WIRE_HDR_LEN);
	m.body = want + WIRE_HDR_LEN;
	ck_assert_msg(ged_decode(&m, g->version, &d, &status, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert(memcmp(d.fixed, g->fixed, sizeof(d.fixed)) == 0);
	wire_writer_free(&w);
}

static void
put_client(struct wire_writer *w, uint32_t v)
{
	ged_put_str(w, v, TAG_CLIENT_ID, "ClientID");
	ged_put(w, v, TAG_CLIENT_PASSWORD, "", 0);
}

static void
put_num_periph(struct wire_writer *w, uint32_t v)
{
	ged_put_u16(w, v, TAG_NUM_PERIPHERALS, 0);
}

static void
put_agent(struct wire_writer *w, uint32_t v)
{
	ged_put_str(w, v, TAG_AGENT_INSTRUMENT, "1001");
	ged_put_str(w, v, TAG_AGENT_ID, "1001");
}

static void
put_beyond(struct wire_writer *w, uint32_t v)
{
	ged_put_u32(w, v, TAG_MAX_BEYOND_TASK_LIMIT, 2);
}

static void
open_req_fixed(struct ged_msg *g, uint32_t v)
{
	ged_init(g, MSG_OPEN_REQ, v);
	g->fixed[OQ_INVOKE_ID] = 1;
	g->fixed[OQ_VERSION] = v;
	g->fixed[OQ_IDLE_TIMEOUT] = 80;
	g->fixed[OQ_PERIPHERAL_ID] = GED_NULL_PERIPHERAL_ID;
	g->fixed[OQ_SERVICES] = CTI_SERVICE_ALL_EVENTS;
	g->fixed[OQ_AGENT_STATE_MASK] = AGENT_STATE_MASK_KNOWN;
}

/* OPEN_REQ, protocol-facts 1.4, and the floating header of 1.2. */
START_TEST(test_bytes_open_req)
{
	static const uint8_t v19[] = {
		0, 0, 0, 57, 0, 0, 0, 3,
		0, 0, 0, 1, 0, 0, 0, 19, 0, 0, 0, 80, 0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0x3f, 0xff, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 9, 'C', 'l', 'i', 'e', 'n', 't', 'I', 'D', 0,
		2, 0
	};
	static const uint8_t v20[] = {
		0, 0, 0, 61, 0, 0, 0, 3,
		0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 80, 0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0x3f, 0xff, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 1, 0, 9, 'C', 'l', 'i', 'e', 'n', 't', 'I', 'D', 0,
		0, 2, 0, 0
	};
	struct ged_msg	g;

	open_req_fixed(&g, 19);
	encodes_to(&g, put_client, v19, sizeof(v19));
	open_req_fixed(&g, 20);
	encodes_to(&g, put_client, v20, sizeof(v20));
}
END_TEST

/* OPEN_CONF at 24 (32 bytes), SET_AGENT_STATE_REQ's UCHAR, tag 266. */
START_TEST(test_bytes_others)
{
	static const uint8_t open_conf[] = {
		0, 0, 0, 38, 0, 0, 0, 4,
		0, 0, 0, 9, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0,
		0x65, 0, 0, 0, 0, 1, 0, 17, 0, 0, 0xff, 0xff, 0xff, 0xfe,
		0, 1,
		0, 228, 0, 2, 0, 0
	};
	static const uint8_t set_state[] = {
		0, 0, 0, 35, 0, 0, 0, 38,
		0, 0, 0, 7, 0, 0, 0x13, 0x88, 0, 3, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 0, 1,
		6, 5, '1', '0', '0', '1', 0,
		5, 5, '1', '0', '0', '1', 0
	};
	static const uint8_t login[] = {
		0, 0, 0, 28, 0, 0, 0, 151,
		0, 0, 0, 3, 0, 0, 0x13, 0x88, 0, 0, 0, 2, 0, 0, 0x13, 0x89,
		0, 0, 0, 5,
		0x01, 0x0a, 0, 4, 0, 0, 0, 2
	};
	struct ged_msg	g;

	ged_init(&g, MSG_OPEN_CONF, 24);
	g.fixed[OC_INVOKE_ID] = 9;
	g.fixed[OC_SERVICES] = CTI_SERVICE_ALL_EVENTS;
	g.fixed[OC_CC_TIME] = 0x65000000;
	g.fixed[OC_PERIPHERAL_ONLINE] = 1;
	g.fixed[OC_PERIPHERAL_TYPE] = PT_ENTERPRISE_AGENT;
	g.fixed[OC_DEPARTMENT_ID] = (uint32_t)-2;
	g.fixed[OC_SESSION_TYPE] = GED_SESSION_ACTIVE;
	encodes_to(&g, put_num_periph, open_conf, sizeof(open_conf));

	ged_init(&g, MSG_SET_AGENT_STATE_REQ, 13);
	g.fixed[SQ_INVOKE_ID] = 7;
	g.fixed[SQ_PERIPHERAL_ID] = 5000;
	g.fixed[SQ_AGENT_STATE] = 3;
	g.fixed[SQ_FORCED] = 1;
	g.fixed[SQ_SERVICE_REQ] = 1;
	encodes_to(&g, put_agent, set_state, sizeof(set_state));

	ged_init(&g, MSG_MEDIA_LOGIN_REQ, 22);
	g.fixed[ML_INVOKE_ID] = 3;
	g.fixed[ML_PERIPHERAL_ID] = 5000;
	g.fixed[ML_MRD_ID] = 2;
	g.fixed[ML_ICM_AGENT_ID] = 5001;
	g.fixed[ML_MAX_TASKS] = 5;
	encodes_to(&g, put_beyond, login, sizeof(login));
}
END_TEST

/* Strings come with or without their NUL; both read the same. */
START_TEST(test_strings_in)
{
	static const uint8_t with[] = { 1, 4, 'a', 'b', 'c', 0 };
	static const uint8_t without[] = { 1, 3, 'a', 'b', 'c' };
	static const uint8_t empty[] = { 1, 0, 3, 1, 0 };
	const uint8_t	*flts[] = { with, without };
	size_t		 lens[] = { sizeof(with), sizeof(without) };
	uint8_t		 buf[64];
	struct ged_msg	 g;
	char		 s[16];
	int		 i;

	for (i = 0; i < 2; i++) {
		decode_open(&g, buf, 19, flts[i], lens[i]);
		ck_assert_int_eq(ged_get_str(&g, TAG_CLIENT_ID, s, sizeof(s)),
		    1);
		ck_assert_str_eq(s, "abc");
	}
	/* An empty field and a lone NUL are both the empty string. */
	decode_open(&g, buf, 19, empty, sizeof(empty));
	ck_assert_int_eq(ged_get_str(&g, TAG_CLIENT_ID, s, sizeof(s)), 1);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(ged_get_str(&g, TAG_CLIENT_SIGNATURE, s, sizeof(s)),
	    1);
	ck_assert_str_eq(s, "");
}
END_TEST

START_TEST(test_refuse_header)
{
	uint8_t	buf[GED_MAX_MESSAGE + 16];
	size_t	n;

	memset(buf, 0, sizeof(buf));
	refused(MSG_OPEN_REQ, 12, buf, 44, E_CTI_INVALID_VERSION,
	    "OPEN_REQ: protocol version 12 is not one of 13..25");
	refused(MSG_OPEN_REQ, 26, buf, 44, E_CTI_INVALID_VERSION,
	    "version 26");
	refused(999, 19, buf, 44, E_CTI_INVALID_MSG_TYPE_FOR_VERSION,
	    "message type 999");
	/* The fixed part of the version, not of another one. */
	refused(MSG_OPEN_CONF, 13, buf, 25, E_CTI_INVALID_MESSAGE_LENGTH,
	    "OPEN_CONF: body of 25 bytes, shorter than the 26 of the fixed "
	    "part at version 13");
	accepted(MSG_OPEN_CONF, 13, buf, 26);
	refused(MSG_OPEN_CONF, 19, buf, 29, E_CTI_INVALID_MESSAGE_LENGTH,
	    "the 30 of the fixed part at version 19");
	accepted(MSG_OPEN_CONF, 19, buf, 30);
	refused(MSG_OPEN_CONF, 24, buf, 31, E_CTI_INVALID_MESSAGE_LENGTH,
	    "the 32 of the fixed part at version 24");
	accepted(MSG_OPEN_CONF, 24, buf, 32);
	refused(MSG_AGENT_STATE_EVENT, 19, buf, 58,
	    E_CTI_INVALID_MESSAGE_LENGTH, "the 62 of");
	refused(MSG_HEARTBEAT_REQ, 20, buf, 0, E_CTI_INVALID_MESSAGE_LENGTH,
	    "HEARTBEAT_REQ: body of 0 bytes");
	/* Over the largest message (12492 bytes of body). */
	n = GED_MAX_MESSAGE - WIRE_HDR_LEN;
	refused(MSG_OPEN_REQ, 19, buf, n + 1, E_CTI_INVALID_MESSAGE_LENGTH,
	    "OPEN_REQ: body of 12493 bytes, over the maximum 12492");
}
END_TEST

START_TEST(test_refuse_floating)
{
	uint8_t	buf[512], f[300];

	/* A string over its maximum: the words of the log line. */
	f[0] = TAG_CLIENT_ID;
	f[1] = 70;
	memset(f + 2, 'x', 70);
	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 72),
	    E_CTI_INVALID_FIELD_LENGTH, "OPEN_REQ: floating field tag 1 "
	    "(ClientID) at offset 44: length 70 over its maximum 64");
	/* 64 with the NUL is the most; 64 characters without it is over. */
	f[1] = 64;
	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 66),
	    E_CTI_INVALID_FIELD_LENGTH, "64 characters without a NUL");
	f[1] = 63;
	accepted(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 65));
	f[1] = 64;
	f[65] = 0;
	accepted(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 66));
	f[1] = 65;
	f[66] = 0;
	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 67),
	    E_CTI_INVALID_FIELD_LENGTH, "length 65 over its maximum 64");
	/* UNSPEC: any bytes, up to its maximum. */
	f[0] = TAG_CLIENT_PASSWORD;
	f[1] = 64;
	memset(f + 2, 0x01, 64);
	accepted(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 66));
	f[1] = 65;
	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 67),
	    E_CTI_INVALID_FIELD_LENGTH, "tag 2 (ClientPassword)");
	/* Numbers of the wrong size, either width. */
	f[0] = TAG_APP_PATH_ID;
	f[1] = 3;
	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 5),
	    E_CTI_INVALID_FIELD_LENGTH, "tag 97 (ApplicationPathID) at "
	    "offset 44: length 3 where INT takes 4");
	memcpy(f, "\0\xe4\0\4\0\0\0\0", 8);		/* NumPeripherals */
	memset(buf, 0, 32);
	memcpy(buf + 32, f, 8);
	refused(MSG_OPEN_CONF, 24, buf, 40, E_CTI_INVALID_FIELD_LENGTH,
	    "OPEN_CONF: floating field tag 228 (NumPeripherals) at offset "
	    "32: length 4 where USHORT takes 2");
}
END_TEST

START_TEST(test_refuse_characters)
{
	static const struct {
		const char	*s;
		size_t		 len;
		const char	*err;
	} rows[] = {
		{ "ab\001", 3, "byte 0x01 at 2 is not printable ASCII" },
		{ "ab\0cd", 5, "byte 0x00 at 2" },
		{ "\177", 1, "byte 0x7f at 0" },
		{ "a\200", 2, "byte 0x80 at 1" },
		{ "a\n\0", 3, "byte 0x0a at 1" },
	};
	uint8_t	buf[128], f[16];
	size_t	i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		f[0] = TAG_AGENT_ID;
		f[1] = (uint8_t)rows[i].len;
		memcpy(f + 2, rows[i].s, rows[i].len);
		refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f,
		    2 + rows[i].len), E_CTI_INVALID_CHARACTER, rows[i].err);
	}
	/* The same in a tag no message of ours carries: not looked at. */
	f[0] = 200;
	accepted(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f, 2 + 3));
}
END_TEST

START_TEST(test_refuse_past_end)
{
	static const uint8_t one[] = { 1 };
	static const uint8_t three[] = { 0, 1, 0 };
	static const uint8_t narrow[] = { 1, 9, 'C', 'l', 'i', 'e' };
	static const uint8_t wide[] = { 0, 1, 0, 9, 'C', 'l' };
	uint8_t	buf[128];

	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, one, 1),
	    E_CTI_BAD_MESSAGE_FORMAT, "OPEN_REQ: floating field header at "
	    "offset 44: 1 byte left, a header takes 2");
	refused(MSG_OPEN_REQ, 20, buf, open_req(buf, 20, three, 3),
	    E_CTI_BAD_MESSAGE_FORMAT, "3 bytes left, a header takes 4");
	refused(MSG_OPEN_REQ, 20, buf, open_req(buf, 20, one, 1),
	    E_CTI_BAD_MESSAGE_FORMAT, "1 byte left, a header takes 4");
	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, narrow,
	    sizeof(narrow)), E_CTI_BAD_MESSAGE_FORMAT, "OPEN_REQ: floating "
	    "field tag 1 (ClientID) at offset 44: length 9 runs past the end "
	    "(4 bytes left)");
	refused(MSG_OPEN_REQ, 20, buf, open_req(buf, 20, wide, sizeof(wide)),
	    E_CTI_BAD_MESSAGE_FORMAT, "length 9 runs past the end (2 bytes "
	    "left)");
	/* The narrow header read wide, the wide one read narrow. */
	refused(MSG_OPEN_REQ, 20, buf, open_req(buf, 20, narrow,
	    sizeof(narrow)), E_CTI_BAD_MESSAGE_FORMAT, "tag 265 (unknown)");
	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, wide, sizeof(wide)),
	    E_CTI_BAD_MESSAGE_FORMAT, "tag 9 (unknown) at offset 47: length "
	    "67 runs past the end (1 byte left)");
}
END_TEST

/* GED_FLT_MAX fields are taken, one more is E_CTI_TOO_MUCH_DATA. */
START_TEST(test_refuse_too_many)
{
	uint8_t		buf[44 + 2 * (GED_FLT_MAX + 1)];
	uint8_t		f[2 * (GED_FLT_MAX + 1)];
	struct ged_msg	g;
	int		i;

	for (i = 0; i <= GED_FLT_MAX; i++) {
		f[2 * i] = 200;
		f[2 * i + 1] = 0;
	}
	decode_open(&g, buf, 19, f, 2 * GED_FLT_MAX);
	ck_assert_int_eq(g.nflt, GED_FLT_MAX);
	refused(MSG_OPEN_REQ, 19, buf, open_req(buf, 19, f,
	    2 * (GED_FLT_MAX + 1)), E_CTI_TOO_MUCH_DATA, "OPEN_REQ: floating "
	    "field tag 200 (unknown) at offset 300: more than 128 floating "
	    "fields");
}
END_TEST

/* What no layout names, and a tag newer than the version, are kept. */
START_TEST(test_lenient)
{
	static const uint8_t f[] = {
		0, 7, 0, 3, 'h', 'i', 0,		/* Text */
		0, 200, 0, 2, 0xff, 0x00,		/* unknown */
		0x01, 0x0a, 0, 4, 0, 0, 0, 1,		/* 266 since 22 */
	};
	uint8_t		buf[128];
	struct ged_msg	g;
	uint32_t	u32;
	uint16_t	u16;
	char		s[8];

	decode_open(&g, buf, 20, f, sizeof(f));
	ck_assert_int_eq(g.nflt, 3);
	ck_assert_int_eq(ged_get_str(&g, TAG_GED_TEXT, s, sizeof(s)), 1);
	ck_assert_str_eq(s, "hi");
	ck_assert_int_eq(ged_get_u16(&g, 200, &u16), 1);
	ck_assert_uint_eq(u16, 0xff00);
	ck_assert_int_eq(ged_get_u32(&g, TAG_MAX_BEYOND_TASK_LIMIT, &u32), 1);
	ck_assert_uint_eq(u32, 1);
}
END_TEST

/* The writer refuses what the reader would, and what cannot be said. */
START_TEST(test_encode_refusals)
{
	struct ged_msg		g;
	struct wire_writer	w;
	struct wire_msg		m;
	char			s[300];
	int			i;

	/* A tag over 255 before version 20; from 20 on it goes out. */
	ged_init(&g, MSG_MEDIA_LOGIN_REQ, 19);
	ged_begin(&w, &g);
	ck_assert_int_eq(w.overflow, 0);
	ged_put_u32(&w, 19, TAG_MAX_BEYOND_TASK_LIMIT, 1);
	ck_assert_int_eq(w.overflow, 1);
	ck_assert_int_eq(ged_end(&w, &m), -1);
	wire_writer_free(&w);
	ged_init(&g, MSG_MEDIA_LOGIN_REQ, 20);
	ged_begin(&w, &g);
	ged_put_u32(&w, 20, TAG_MAX_BEYOND_TASK_LIMIT, 1);
	ck_assert_int_eq(ged_end(&w, &m), 0);
	ck_assert_uint_eq(m.len, 20 + 8);
	wire_writer_free(&w);

	/* Each of these spoils a good writer, once and for good. */
	for (i = 0; i < 9; i++) {
		ged_init(&g, MSG_OPEN_REQ, 19);
		ged_begin(&w, &g);
		memset(s, 'a', sizeof(s));
		switch (i) {
		case 0:		/* unknown tag over 255, narrow */
			ged_put(&w, 19, 300, "", 0);
			break;
		case 1:		/* data over 255 bytes, narrow */
			ged_put(&w, 19, 200, s, 256);
			break;
		case 2:		/* a string over its maximum, NUL counted */
			s[64] = '\0';
			ged_put_str(&w, 19, TAG_CLIENT_ID, s);
			break;
		case 3:		/* not printable */
			ged_put_str(&w, 19, TAG_CLIENT_ID, "a\tb");
			break;
		case 4:		/* a number of the wrong size */
			ged_put_u32(&w, 19, TAG_NUM_PERIPHERALS, 1);
			break;
		case 5:
			ged_put_u16(&w, 19, TAG_APP_PATH_ID, 1);
			break;
		case 6:		/* no such version */
			ged_put_u16(&w, 26, 200, 1);
			break;
		case 7:		/* raw data over its maximum */
			ged_put(&w, 19, TAG_CLIENT_PASSWORD, s, 65);
			break;
		case 8:		/* data over 65535 bytes, wide */
			ged_put(&w, 20, 200, s, 65536);
			break;
		}
		ck_assert_msg(w.overflow == 1, "case %d", i);
		ged_put_u32(&w, 19, TAG_APP_PATH_ID, 1);
		ck_assert_int_eq(ged_end(&w, &m), -1);
		wire_writer_free(&w);
	}
	/* Unknown tags and 255 bytes go out narrow; 256 bytes wide. */
	ged_init(&g, MSG_OPEN_REQ, 19);
	ged_begin(&w, &g);
	ged_put(&w, 19, 200, s, 255);
	ck_assert_int_eq(ged_end(&w, &m), 0);
	ck_assert_uint_eq(m.len, 44 + 2 + 255);
	wire_writer_free(&w);
	ged_init(&g, MSG_OPEN_REQ, 20);
	ged_begin(&w, &g);
	ged_put(&w, 20, 200, s, 256);
	ck_assert_int_eq(ged_end(&w, &m), 0);
	ck_assert_uint_eq(m.len, 44 + 4 + 256);
	wire_writer_free(&w);
}
END_TEST

/* A fixed value that does not fit, a type or version with no layout. */
START_TEST(test_encode_fixed)
{
	static const struct {
		uint32_t	type, version;
		int		field;
		uint32_t	value;
	} rows[] = {
		{ MSG_SET_AGENT_STATE_REQ, 19, SQ_FORCED, 256 },
		{ MSG_SET_AGENT_STATE_REQ, 19, SQ_AGENT_STATE, 0x10000 },
		{ MSG_OPEN_CONF, 19, OC_PERIPHERAL_ONLINE, 0x10000 },
		{ MSG_OPEN_CONF, 24, OC_SESSION_TYPE, 0xffffffff },
		{ 999, 19, 0, 0 },
		{ MSG_OPEN_REQ, 12, 0, 0 },
		{ MSG_OPEN_REQ, 26, 0, 0 },
	};
	struct ged_msg		g;
	struct wire_writer	w;
	struct wire_msg		m;
	size_t			i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ged_init(&g, rows[i].type, rows[i].version);
		g.fixed[rows[i].field] = rows[i].value;
		ged_begin(&w, &g);
		ck_assert_msg(ged_end(&w, &m) == -1, "row %zu", i);
		wire_writer_free(&w);
	}
	/* The largest values that fit go, and a field of a later version
	 * is not written at all. */
	ged_init(&g, MSG_OPEN_CONF, 19);
	g.fixed[OC_PERIPHERAL_ONLINE] = 0xffff;
	g.fixed[OC_SESSION_TYPE] = 0xffffffff;
	ged_begin(&w, &g);
	ck_assert_int_eq(ged_end(&w, &m), 0);
	ck_assert_uint_eq(m.len, 30);
	wire_writer_free(&w);
}
END_TEST

/* Past GED_MAX_MESSAGE, ged_end refuses. */
START_TEST(test_encode_too_long)
{
	struct ged_msg		g;
	struct wire_writer	w;
	struct wire_msg		m;
	char			s[255];
	int			i;

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	ged_init(&g, MSG_SYSTEM_EVENT, 19);
	ged_begin(&w, &g);
	/* 26 + 48 * 257 = 12362: fits; one more does not. */
	for (i = 0; i < 48; i++)
		ged_put_str(&w, 19, TAG_GED_TEXT, s);
	ck_assert_int_eq(ged_end(&w, &m), 0);
	ck_assert_uint_eq(m.len, 26 + 48 * 257);
	ged_put_str(&w, 19, TAG_GED_TEXT, s);
	ck_assert_int_eq(ged_end(&w, &m), -1);
	wire_writer_free(&w);
}
END_TEST

/*
 * Every prefix of every layout's full message at each version: shorter
 * than the fixed part, E_CTI_INVALID_MESSAGE_LENGTH; at a field's end, a
 * good message with the fields before; elsewhere E_CTI_BAD_MESSAGE_FORMAT.
 */
START_TEST(test_truncation)
{
	const struct ged_layout	*l;
	struct ged_msg		 g, d;
	struct wire_writer	 w;
	struct wire_msg		 m;
	struct body		 b;
	size_t			 k, cut, ends[GED_FLT_MAX + 1], hl;
	uint32_t		 v, status;
	int			 nends, i, rc, flen;
	char			 err[256];

	for (l = ged_layouts; l->name != NULL; l++) {
		for (k = 0; k < NVERSIONS; k++) {
			v = versions[k];
			build(l, v, &g, &w, &m);
			ck_assert_int_eq(ged_decode(&m, v, &d, &status, err,
			    sizeof(err)), 0);
			flen = ged_fixed_len(l, v);
			hl = ged_wide(v) ? 4 : 2;
			ends[0] = (size_t)flen;
			for (i = 0; i < d.nflt; i++)
				ends[i + 1] = ends[i] + hl + d.flt[i].len;
			nends = d.nflt + 1;
			ck_assert_uint_eq(ends[d.nflt], m.len);
			for (cut = 0; cut < m.len; cut++) {
				body_set(&b, l->type, m.body, cut);
				rc = ged_decode(&b.m, v, &d, &status, err,
				    sizeof(err));
				for (i = 0; i < nends; i++)
					if (ends[i] == cut)
						break;
				if (cut < (size_t)flen) {
					ck_assert_int_eq(rc, -1);
					ck_assert_uint_eq(status,
					    E_CTI_INVALID_MESSAGE_LENGTH);
				} else if (i < nends) {
					ck_assert_msg(rc == 0, "%s at %u cut "
					    "%zu: %s", l->name, v, cut, err);
					ck_assert_int_eq(d.nflt, i);
				} else {
					ck_assert_int_eq(rc, -1);
					ck_assert_uint_eq(status,
					    E_CTI_BAD_MESSAGE_FORMAT);
				}
				body_free(&b);
			}
			wire_writer_free(&w);
		}
	}
}
END_TEST

START_TEST(test_open_version)
{
	uint8_t		full[44];
	struct body	b;
	uint32_t	v;
	size_t		n;

	memset(full, 0, sizeof(full));
	full[7] = 22;
	for (n = 0; n < 8; n++) {
		body_set(&b, MSG_OPEN_REQ, full, n);
		v = 99;
		ck_assert_int_eq(ged_open_version(&b.m, &v), -1);
		ck_assert_uint_eq(v, 99);
		body_free(&b);
	}
	for (n = 8; n <= sizeof(full); n += 36) {
		body_set(&b, MSG_OPEN_REQ, full, n);
		ck_assert_int_eq(ged_open_version(&b.m, &v), 0);
		ck_assert_uint_eq(v, 22);
		body_free(&b);
	}
	body_set(&b, MSG_HEARTBEAT_REQ, full, 8);
	ck_assert_int_eq(ged_open_version(&b.m, &v), -1);
	body_free(&b);
}
END_TEST

START_TEST(test_getters)
{
	static const uint8_t f[] = {
		1, 3, 'a', 'b', 'c',
		97, 4, 0x12, 0x34, 0x56, 0x78,
		5, 2, 'x', 0,
		5, 2, 'y', 0,
		200, 2, 0xbe, 0xef,
	};
	uint8_t		buf[128];
	struct ged_msg	g;
	uint32_t	u32;
	uint16_t	u16;
	char		s[8];

	decode_open(&g, buf, 19, f, sizeof(f));
	ck_assert_uint_eq(g.fixed[OQ_VERSION], 19);
	ck_assert_int_eq(ged_get_str(&g, TAG_CLIENT_ID, s, 4), 1);
	ck_assert_str_eq(s, "abc");
	ck_assert_int_eq(ged_get_str(&g, TAG_CLIENT_ID, s, 3), -1);
	ck_assert_int_eq(ged_get_str(&g, TAG_CLIENT_SIGNATURE, s, 8), 0);
	ck_assert_int_eq(ged_get_str(&g, TAG_APP_PATH_ID, s, 8), -1);
	ck_assert_int_eq(ged_get_str(&g, TAG_AGENT_ID, s, 8), 1);
	ck_assert_str_eq(s, "x");	/* the first of two */
	ck_assert_ptr_eq(ged_find(&g, TAG_AGENT_ID), &g.flt[2]);
	ck_assert_ptr_null(ged_find(&g, TAG_AGENT_EXTENSION));
	ck_assert_int_eq(ged_get_u32(&g, TAG_APP_PATH_ID, &u32), 1);
	ck_assert_uint_eq(u32, 0x12345678);
	ck_assert_int_eq(ged_get_u16(&g, TAG_APP_PATH_ID, &u16), -1);
	ck_assert_int_eq(ged_get_u16(&g, 200, &u16), 1);
	ck_assert_uint_eq(u16, 0xbeef);
	ck_assert_int_eq(ged_get_u32(&g, 200, &u32), -1);
	ck_assert_int_eq(ged_get_u32(&g, TAG_DURATION, &u32), 0);
	ck_assert_int_eq(ged_get_u16(&g, TAG_NUM_PERIPHERALS, &u16), 0);
}
END_TEST

/* SHORT and INT read back as two's complement. */
START_TEST(test_signed)
{
	struct ged_msg		g, d;
	struct wire_writer	w;
	struct wire_msg		m;
	uint32_t		status;
	char			err[256];

	ged_init(&g, MSG_QUERY_AGENT_STATE_REQ, 19);
	g.fixed[QQ_MRD_ID] = (uint32_t)-1;
	g.fixed[QQ_ICM_AGENT_ID] = (uint32_t)INT32_MIN;
	ged_begin(&w, &g);
	ck_assert_int_eq(ged_end(&w, &m), 0);
	ck_assert_int_eq(ged_decode(&m, 19, &d, &status, err, sizeof(err)), 0);
	ck_assert_int_eq((int32_t)d.fixed[QQ_MRD_ID], -1);
	ck_assert_int_eq((int32_t)d.fixed[QQ_ICM_AGENT_ID], INT32_MIN);
	wire_writer_free(&w);
}
END_TEST

START_TEST(test_agent_state_bits)
{
	static const uint32_t bits[] = {
		0x0001, 0x0002, 0x0004, 0x0008, 0x0010, 0x0020, 0x0040,
		0x0080, 0x0100, 0, 0x0200, 0x0400, 0x0800, 0x1000, 0x2000
	};
	uint32_t	all = 0;
	int		s;

	for (s = 0; s <= 14; s++) {
		ck_assert_msg(ged_agent_state_bit(s) == bits[s], "state %d", s);
		all |= ged_agent_state_bit(s);
	}
	ck_assert_uint_eq(all, AGENT_STATE_MASK_KNOWN);
	ck_assert_uint_eq(ged_agent_state_bit(-1), 0);
	ck_assert_uint_eq(ged_agent_state_bit(15), 0);
	ck_assert_uint_eq(ged_agent_state_bit(31), 0);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(ged_type_name(MSG_OPEN_CONF), "OPEN_CONF");
	ck_assert_str_eq(ged_type_name(MSG_FAILURE_RESP), "FAILURE_RESP");
	ck_assert_str_eq(ged_type_name(999), "MSG_999");
	ck_assert_str_eq(ged_status_name(E_CTI_INVALID_CHARACTER),
	    "E_CTI_INVALID_CHARACTER");
	ck_assert_str_eq(ged_status_name(E_CTI_TOO_MUCH_DATA),
	    "E_CTI_TOO_MUCH_DATA");
	ck_assert_str_eq(ged_status_name(0), "E_CTI_NO_ERROR");
	ck_assert_str_eq(ged_status_name(500), "E_CTI_500");
	ck_assert_int_eq(ged_version_ok(12), 0);
	ck_assert_int_eq(ged_version_ok(13), 1);
	ck_assert_int_eq(ged_version_ok(25), 1);
	ck_assert_int_eq(ged_version_ok(26), 0);
	ck_assert_int_eq(ged_wide(19), 0);
	ck_assert_int_eq(ged_wide(20), 1);
}
END_TEST

/* ged_doc: every message, the lengths per version, the columns. */
START_TEST(test_doc)
{
	static const char *const want[] = {
		"## Messages\n\n### FAILURE_CONF (1)\n\nServer to client.  "
		    "Source: protocol-facts 1.4",
		"Fixed part: 26 bytes (versions 13..18), 30 bytes (versions "
		    "19..23), 32 bytes (versions 24..25).\n",
		"| 26 | DepartmentID | INT | 4 | 19 |\n"
		    "| 30 | SessionType | USHORT | 2 | 24 |\n",
		"| 16 | ForcedFlag | UCHAR | 1 |  |\n"
		    "| 17 | AgentServiceReq | UINT | 4 |  |\n",
		"### MEDIA_LOGIN_REQ (151)\n\nClient to server.  Source: "
		    "pgemu-defined.\n",
		"| 266 | MaxBeyondTaskLimit | UINT | 4 | 22 |\n",
		"| 1 | ClientID | STRING | 64 |  | protocol-facts 1.4 |\n",
		"### HEARTBEAT_REQ (5)",
	};
	const struct ged_layout	*l;
	char			*buf = NULL, head[64];
	size_t			 len = 0, i;
	FILE			*fp;

	fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(ged_doc(fp), 0);
	fclose(fp);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(buf, want[i]) != NULL, "no \"%s\"",
		    want[i]);
	for (l = ged_layouts; l->name != NULL; l++) {
		snprintf(head, sizeof(head), "### %s (%u)\n", l->name, l->type);
		ck_assert_msg(strstr(buf, head) != NULL, "%s", head);
	}
	free(buf);
	/* A stream that fails says so. */
	if ((fp = fopen("/dev/full", "w")) != NULL) {
		ck_assert_int_eq(ged_doc(fp), -1);
		fclose(fp);
	}
}
END_TEST

static Suite *
ged188_suite(void)
{
	Suite	*s = suite_create("ged188");
	TCase	*tc = tcase_create("codec");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tables);
	tcase_add_test(tc, test_tags_defined);
	tcase_add_test(tc, test_types);
	tcase_add_test(tc, test_fixed_lengths);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_bytes_open_req);
	tcase_add_test(tc, test_bytes_others);
	tcase_add_test(tc, test_strings_in);
	tcase_add_test(tc, test_refuse_header);
	tcase_add_test(tc, test_refuse_floating);
	tcase_add_test(tc, test_refuse_characters);
	tcase_add_test(tc, test_refuse_past_end);
	tcase_add_test(tc, test_refuse_too_many);
	tcase_add_test(tc, test_lenient);
	tcase_add_test(tc, test_encode_refusals);
	tcase_add_test(tc, test_encode_fixed);
	tcase_add_test(tc, test_encode_too_long);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_open_version);
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_signed);
	tcase_add_test(tc, test_agent_state_bits);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_doc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(ged188_suite(), CK_NORMAL);
}
