/*
 * Unit tests of the framing codec (src/wire/wire.c): every writer and reader
 * round trip, and every path that rejects malformed input.
 */
#include "config.h"

#include <check.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "check_run.h"
#include "wire.h"

/* Lay out an 8-byte frame header. */
static void
put_hdr(uint8_t *h, uint32_t len, uint32_t type)
{
	h[0] = len >> 24;
	h[1] = (len >> 16) & 0xff;
	h[2] = (len >> 8) & 0xff;
	h[3] = len & 0xff;
	h[4] = type >> 24;
	h[5] = (type >> 16) & 0xff;
	h[6] = (type >> 8) & 0xff;
	h[7] = type & 0xff;
}

/* A frame as received, over a body the caller owns. */
static void
mkmsg(struct wire_msg *m, uint32_t type, const uint8_t *body, uint32_t len)
{
	m->type = type;
	m->len = len;
	m->body = body;
}

/* Header check of len/type; returns its result and leaves err behind. */
static int
check_hdr(uint32_t len, uint32_t type, uint32_t max_body, char *err,
    size_t errlen)
{
	uint8_t		h[WIRE_HDR_LEN];
	uint32_t	t, l;
	int		rc;

	put_hdr(h, len, type);
	err[0] = '\0';
	rc = wire_check_header(h, max_body, &t, &l, err, errlen);
	ck_assert_uint_eq(t, type);
	ck_assert_uint_eq(l, len);
	return rc;
}

/* Start a HELLO whose fixed part carries the given version. */
static void
hello_fixed(struct wire_writer *w, uint32_t version)
{
	wire_begin(w, MSG_HELLO);
	wire_u32(w, version);
	wire_u32(w, 400);
	wire_u32(w, 0x11);
	wire_u8(w, 'A');
}

/* Finish w with the lab maximum and decode it as a hello. */
static int
hello_decode_w(struct wire_writer *w, struct wire_hello *h, char *err,
    size_t errlen)
{
	struct wire_msg	m;

	ck_assert_int_eq(wire_end(w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	err[0] = '\0';
	return wire_hello_decode(&m, h, err, errlen);
}

/*
 * Header checks.
 */

/* Known types have names and sizes, unknown ones do not. */
START_TEST(test_type_info)
{
	const struct wire_type_info *ti;

	ti = wire_type_info(MSG_HELLO);
	ck_assert_ptr_nonnull(ti);
	ck_assert_str_eq(ti->name, "HELLO");
	ck_assert_uint_eq(ti->min_len, 13);
	ck_assert_str_eq(wire_type_name(MSG_BYE), "BYE");
	ck_assert_str_eq(wire_type_name(MSG_HEARTBEAT_REQ), "HEARTBEAT_REQ");
	ck_assert_ptr_null(wire_type_info(0));
	ck_assert_ptr_null(wire_type_info(0x4fff));
	ck_assert_str_eq(wire_type_name(0x4fff), "UNKNOWN");
}
END_TEST

/* A well-formed header passes, at both ends of the allowed range. */
START_TEST(test_header_ok)
{
	char	err[128];

	ck_assert_int_eq(check_hdr(4, MSG_HEARTBEAT, 65536, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(check_hdr(13, MSG_HELLO, 65536, err, sizeof(err)),
	    0);
	ck_assert_int_eq(check_hdr(256, MSG_HELLO_ACK, 65536, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(check_hdr(65536, MSG_OPEN_REQ, 65536, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(check_hdr(WIRE_MAX_BODY, MSG_OPEN_REQ, UINT32_MAX,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(check_hdr(8, 0x00000001, 8, err, sizeof(err)), 0);
}
END_TEST

/* An unknown message type is refused whatever its length. */
START_TEST(test_header_unknown_type)
{
	char	err[128];

	ck_assert_int_eq(check_hdr(4, 0x4fff, 65536, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown message type 20479"));
	ck_assert_int_eq(check_hdr(0, 0, 65536, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown message type 0"));
	ck_assert_int_eq(check_hdr(4, UINT32_MAX, 65536, err, sizeof(err)),
	    -1);
}
END_TEST

/* A length over the link's maximum is refused. */
START_TEST(test_header_over_max_body)
{
	char	err[128];

	ck_assert_int_eq(check_hdr(65537, MSG_OPEN_REQ, 65536, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "OPEN_REQ: length 65537 over the maximum 65536");
	ck_assert_int_eq(check_hdr(2000, MSG_OPEN_REQ, 1024, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(check_hdr(UINT32_MAX, MSG_BYE, 65536, err,
	    sizeof(err)), -1);
}
END_TEST

/* A link maximum above the hard ceiling is cut down to it. */
START_TEST(test_header_over_ceiling)
{
	char	err[128];

	ck_assert_int_eq(check_hdr(WIRE_MAX_BODY + 1, MSG_OPEN_REQ,
	    UINT32_MAX, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "OPEN_REQ: length 1048577 over the maximum 1048576");
	ck_assert_int_eq(check_hdr(UINT32_MAX, MSG_FAILURE_EVENT,
	    UINT32_MAX, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "over the maximum 1048576"));
}
END_TEST

/* A body shorter than the type's fixed part is refused. */
START_TEST(test_header_under_min)
{
	char	err[128];

	ck_assert_int_eq(check_hdr(12, MSG_HELLO, 65536, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "HELLO: length 12 under the minimum 13");
	ck_assert_int_eq(check_hdr(3, MSG_HEARTBEAT, 65536, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(check_hdr(0, MSG_BYE, 65536, err, sizeof(err)), -1);
	ck_assert_int_eq(check_hdr(43, MSG_OPEN_REQ, 65536, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(check_hdr(23, MSG_INTERVAL, 65536, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(check_hdr(8, MSG_PIM_ACTIVATE, 65536, err,
	    sizeof(err)), -1);
}
END_TEST

/* A body longer than the type's own maximum is refused. */
START_TEST(test_header_over_type_max)
{
	char	err[128];

	ck_assert_int_eq(check_hdr(5, MSG_HEARTBEAT, 65536, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "HEARTBEAT: length 5 over the maximum 4 for this type");
	ck_assert_int_eq(check_hdr(257, MSG_HELLO, 65536, err, sizeof(err)),
	    -1);
	ck_assert_int_eq(check_hdr(513, MSG_BYE, 65536, err, sizeof(err)),
	    -1);
	ck_assert_int_eq(check_hdr(512, MSG_BYE, 65536, err, sizeof(err)),
	    0);
	ck_assert_int_eq(check_hdr(16, MSG_PG_STATUS, 65536, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(check_hdr(15, MSG_ACD_SET_AGENT, 65536, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(check_hdr(513, MSG_DISCARD, 65536, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(check_hdr(65536, MSG_AGENT_STATES, 65536, err,
	    sizeof(err)), 0);
}
END_TEST

/*
 * Writer and reader round trips.
 */

/* Every scalar writer lays out big-endian bytes the readers get back. */
START_TEST(test_scalars_roundtrip)
{
	struct wire_writer	w;
	struct wire_reader	r;
	struct wire_msg		m;
	uint8_t			u8, raw[3];
	uint16_t		u16;
	uint32_t		u32;
	static const uint8_t	want[] = {
		0xab, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 'x', 'y', 'z',
		0x00, 0x00, 0x00, 0x00, 0x01
	};

	wire_begin(&w, MSG_OPEN_REQ);
	wire_u8(&w, 0xab);
	wire_u16(&w, 0xbeef);
	wire_u32(&w, 0xdeadbeef);
	wire_bytes(&w, "xyz", 3);
	wire_bytes(&w, NULL, 0);
	wire_u8(&w, 0);
	wire_u16(&w, 0);
	wire_u16(&w, 1);
	ck_assert_int_eq(w.overflow, 0);
	ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	ck_assert_uint_eq(m.len, sizeof(want));
	ck_assert_uint_eq(m.type, MSG_OPEN_REQ);
	ck_assert_mem_eq(m.body, want, sizeof(want));

	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_get_u8(&r, &u8), 0);
	ck_assert_uint_eq(u8, 0xab);
	ck_assert_int_eq(wire_get_u16(&r, &u16), 0);
	ck_assert_uint_eq(u16, 0xbeef);
	ck_assert_int_eq(wire_get_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 0xdeadbeef);
	ck_assert_int_eq(wire_get_bytes(&r, raw, 3), 0);
	ck_assert_mem_eq(raw, "xyz", 3);
	ck_assert_int_eq(wire_get_bytes(&r, raw, 0), 0);
	ck_assert_int_eq(wire_skip(&r, 1), 0);
	ck_assert_int_eq(wire_get_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 1);
	ck_assert_uint_eq(r.off, r.len);
	ck_assert_int_eq(r.short_read, 0);
	wire_writer_free(&w);
	ck_assert_ptr_null(w.buf);
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

/* wire_end patches the body length into the header it left. */
START_TEST(test_end_patches_length)
{
	struct wire_writer	w;
	struct wire_msg		m;
	uint32_t		type, len;
	char			err[128];
	size_t			i;

	wire_begin(&w, MSG_BYE);
	ck_assert_uint_eq(w.len, WIRE_HDR_LEN);
	for (i = 0; i < 300; i++)
		wire_u8(&w, (uint8_t)i);
	ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	ck_assert_uint_eq(w.buf[0], 0);
	ck_assert_uint_eq(w.buf[1], 0);
	ck_assert_uint_eq(w.buf[2], 300 >> 8);
	ck_assert_uint_eq(w.buf[3], 300 & 0xff);
	ck_assert_uint_eq(m.len, 300);
	ck_assert_uint_eq(m.type, MSG_BYE);
	ck_assert_ptr_eq(m.body, w.buf + WIRE_HDR_LEN);
	ck_assert_int_eq(wire_check_header(w.buf, WIRE_DEFAULT_MAX_BODY,
	    &type, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(type, MSG_BYE);
	ck_assert_uint_eq(len, 300);

	/* Without a message to fill, and at exactly max_body. */
	ck_assert_int_eq(wire_end(&w, 300, NULL), 0);
	wire_writer_free(&w);

	/* An empty body. */
	wire_begin(&w, MSG_HEARTBEAT);
	ck_assert_int_eq(wire_end(&w, 0, &m), 0);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_mem_eq(w.buf, "\0\0\0\0\0\0\x40\x03", WIRE_HDR_LEN);
	wire_writer_free(&w);
}
END_TEST

/* Floating fields go out as tag, length, data and come back the same. */
START_TEST(test_flt_roundtrip)
{
	struct wire_writer	 w;
	struct wire_reader	 r;
	struct wire_msg		 m;
	const uint8_t		*data;
	uint16_t		 tag, len;
	char			 s[16];
	static const uint8_t	 want[] = {
		0x00, 0x07, 0x00, 0x02, 'h', 'i',
		0x40, 0x03, 0x00, 0x06, 'h', 'e', 'l', 'l', 'o', 0x00,
		0x00, 0x09, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04,
		0xff, 0xff, 0x00, 0x00,
		0x40, 0x01, 0x00, 0x01, 0x00
	};

	wire_begin(&w, MSG_BYE);
	wire_u32(&w, 7);
	wire_flt(&w, 7, "hi", 2);
	wire_flt_str(&w, TAG_TEXT, "hello");
	wire_flt_u32(&w, 9, 0x01020304);
	wire_flt(&w, 0xffff, NULL, 0);
	wire_flt_str(&w, TAG_NODE_NAME, "");
	ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	ck_assert_uint_eq(m.len, 4 + sizeof(want));
	ck_assert_mem_eq(m.body + 4, want, sizeof(want));

	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_skip(&r, 4), 0);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 1);
	ck_assert_uint_eq(tag, 7);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(data, "hi", 2);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 1);
	ck_assert_uint_eq(tag, TAG_TEXT);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(wire_flt_string(data, len, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "hello");
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 1);
	ck_assert_uint_eq(tag, 9);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(data, "\x01\x02\x03\x04", 4);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 1);
	ck_assert_uint_eq(tag, 0xffff);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 1);
	ck_assert_uint_eq(tag, TAG_NODE_NAME);
	ck_assert_int_eq(wire_flt_string(data, len, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 0);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 0);
	ck_assert_int_eq(r.short_read, 0);
	wire_writer_free(&w);
}
END_TEST

/* A hello goes out and comes back field for field, HELLO and HELLO_ACK. */
START_TEST(test_hello_roundtrip)
{
	struct wire_hello	 h, d;
	struct wire_writer	 w;
	struct wire_msg		 m;
	uint32_t		 type, len;
	char			 err[128];
	int			 ack;

	memset(&h, 0, sizeof(h));
	h.version = WIRE_PROTO_VERSION;
	h.hb_interval_ms = 100;
	h.flags = 0x80000001;
	h.side = 'B';
	memset(h.node, 'n', sizeof(h.node) - 1);	/* 31 characters */
	strcpy(h.lab, "demo");
	for (ack = 0; ack <= 1; ack++) {
		ck_assert_int_eq(wire_hello_encode(&h, ack, &w), 0);
		ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
		ck_assert_uint_eq(m.type, ack ? MSG_HELLO_ACK : MSG_HELLO);
		ck_assert_int_eq(wire_check_header(w.buf,
		    WIRE_DEFAULT_MAX_BODY, &type, &len, err, sizeof(err)), 0);
		ck_assert_int_eq(wire_hello_decode(&m, &d, err, sizeof(err)),
		    0);
		ck_assert_uint_eq(d.version, h.version);
		ck_assert_uint_eq(d.hb_interval_ms, h.hb_interval_ms);
		ck_assert_uint_eq(d.flags, h.flags);
		ck_assert_int_eq(d.side, h.side);
		ck_assert_str_eq(d.node, h.node);
		ck_assert_str_eq(d.lab, h.lab);
		wire_writer_free(&w);
	}
}
END_TEST

/* A BYE with and without its text. */
START_TEST(test_bye_decode)
{
	struct wire_writer	w;
	struct wire_msg		m;
	uint32_t		reason;
	char			text[32], err[128];

	wire_begin(&w, MSG_BYE);
	wire_u32(&w, 3);
	wire_flt_u32(&w, 0x7777, 1);		/* unknown tag: ignored */
	wire_flt(&w, TAG_TEXT, "shutting down", 13);	/* no NUL */
	ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	ck_assert_int_eq(wire_bye_decode(&m, &reason, text, sizeof(text),
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(reason, 3);
	ck_assert_str_eq(text, "shutting down");
	wire_writer_free(&w);

	wire_bye_encode(&w, BYE_RESIGNING, "resigning");
	ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	ck_assert_uint_eq(m.type, MSG_BYE);
	ck_assert_int_eq(wire_bye_decode(&m, &reason, text, sizeof(text),
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(reason, BYE_RESIGNING);
	ck_assert_str_eq(text, "resigning");
	wire_writer_free(&w);

	wire_begin(&w, MSG_BYE);
	wire_u32(&w, 0xffffffff);
	ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	strcpy(text, "stale");
	ck_assert_int_eq(wire_bye_decode(&m, &reason, text, sizeof(text),
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(reason, 0xffffffff);
	ck_assert_str_eq(text, "");
	wire_writer_free(&w);
}
END_TEST

/*
 * Reader: short reads.
 */

/* Each getter at the end of the body fails, and so does all that follows. */
START_TEST(test_reader_short_each)
{
	static const uint8_t	 body[4] = { 1, 2, 3, 4 };
	struct wire_msg		 m;
	struct wire_reader	 r;
	uint8_t			 u8, raw[2];
	uint16_t		 u16;
	uint32_t		 u32;
	int			 which;

	mkmsg(&m, MSG_HEARTBEAT, body, sizeof(body));
	for (which = 0; which < 5; which++) {
		wire_reader_init(&r, &m);
		ck_assert_int_eq(wire_skip(&r, 4), 0);
		ck_assert_int_eq(r.short_read, 0);
		switch (which) {
		case 0:
			ck_assert_int_eq(wire_get_u8(&r, &u8), -1);
			break;
		case 1:
			ck_assert_int_eq(wire_get_u16(&r, &u16), -1);
			break;
		case 2:
			ck_assert_int_eq(wire_get_u32(&r, &u32), -1);
			break;
		case 3:
			ck_assert_int_eq(wire_get_bytes(&r, raw, 1), -1);
			break;
		case 4:
			ck_assert_int_eq(wire_skip(&r, 1), -1);
			break;
		}
		ck_assert_int_eq(r.short_read, 1);
		ck_assert_uint_eq(r.off, 4);
		/* Sticky: even reads of nothing fail now. */
		ck_assert_int_eq(wire_get_bytes(&r, raw, 0), -1);
		ck_assert_int_eq(wire_skip(&r, 0), -1);
		ck_assert_int_eq(wire_get_u8(&r, &u8), -1);
		ck_assert_int_eq(r.short_read, 1);
	}
}
END_TEST

/* A read that does not fit fails whole and poisons the reader. */
START_TEST(test_reader_short_partial)
{
	static const uint8_t	 body[3] = { 0xaa, 0xbb, 0xcc };
	struct wire_msg		 m;
	struct wire_reader	 r;
	const uint8_t		*data;
	uint8_t			 u8, raw[8];
	uint16_t		 u16, tag, len;
	uint32_t		 u32 = 0x12345678;

	mkmsg(&m, MSG_HEARTBEAT, body, sizeof(body));
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_get_u32(&r, &u32), -1);
	ck_assert_uint_eq(u32, 0x12345678);	/* untouched */
	ck_assert_uint_eq(r.off, 0);
	ck_assert_int_eq(wire_get_u8(&r, &u8), -1);
	ck_assert_int_eq(wire_get_u16(&r, &u16), -1);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), -1);

	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_get_u16(&r, &u16), 0);
	ck_assert_uint_eq(u16, 0xaabb);
	ck_assert_int_eq(wire_get_u16(&r, &u16), -1);
	ck_assert_int_eq(wire_get_u8(&r, &u8), -1);

	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_get_bytes(&r, raw, sizeof(raw)), -1);
	ck_assert_int_eq(wire_skip(&r, SIZE_MAX), -1);

	/* An empty body: nothing to read at all. */
	mkmsg(&m, MSG_HEARTBEAT, body, 0);
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_get_u8(&r, &u8), -1);
	ck_assert_int_eq(r.short_read, 1);
}
END_TEST

/*
 * Floating fields: malformed.
 */

/* A field header cut short is an error, and stays one. */
START_TEST(test_flt_truncated_header)
{
	static const uint8_t	 body[] = { 0x40, 0x03, 0x00 };
	struct wire_msg		 m;
	struct wire_reader	 r;
	const uint8_t		*data;
	uint16_t		 tag, len;
	size_t			 n;

	for (n = 1; n <= sizeof(body); n++) {
		mkmsg(&m, MSG_BYE, body, (uint32_t)n);
		wire_reader_init(&r, &m);
		ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), -1);
		ck_assert_int_eq(r.short_read, 1);
		ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), -1);
	}
}
END_TEST

/* A field whose length runs past the end is an error, and stays one. */
START_TEST(test_flt_past_end)
{
	static const uint8_t	 body[] = {
		0x00, 0x01, 0x00, 0x01, 'x',
		0x40, 0x03, 0x00, 0x0a, 'a', 'b', 'c', 'd', 'e'
	};
	struct wire_msg		 m;
	struct wire_reader	 r;
	const uint8_t		*data;
	uint16_t		 tag, len;

	mkmsg(&m, MSG_BYE, body, sizeof(body));
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 1);
	ck_assert_uint_eq(tag, 1);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), -1);
	ck_assert_int_eq(r.short_read, 1);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), -1);

	/* One byte too long. */
	mkmsg(&m, MSG_BYE, body + 5, 9);
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), -1);

	/* Largest length, nothing behind it. */
	mkmsg(&m, MSG_BYE, (const uint8_t *)"\x40\x03\xff\xff", 4);
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), -1);
}
END_TEST

/* A zero-length field is a field; the end of the message returns 0. */
START_TEST(test_flt_zero_and_end)
{
	static const uint8_t	 body[] = {
		0x12, 0x34, 0x00, 0x00,
		0x40, 0x03, 0x00, 0x00
	};
	struct wire_msg		 m;
	struct wire_reader	 r;
	const uint8_t		*data = NULL;
	uint16_t		 tag, len = 99;
	char			 s[4];

	mkmsg(&m, MSG_BYE, body, sizeof(body));
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 1);
	ck_assert_uint_eq(tag, 0x1234);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_eq(data, body + 4);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 1);
	ck_assert_uint_eq(tag, TAG_TEXT);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(wire_flt_string(data, len, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 0);
	ck_assert_int_eq(r.short_read, 0);

	/* An empty body has no fields. */
	mkmsg(&m, MSG_BYE, body, 0);
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &len), 0);
}
END_TEST

/* Only printable ASCII: a control byte or a high byte is refused. */
START_TEST(test_flt_string_ascii)
{
	char	s[16];

	ck_assert_int_eq(wire_flt_string((const uint8_t *)"a\nb", 3, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"\x1b[2J", 4, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"caf\xc3\xa9", 5, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"\x7f", 1, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"pg-a ~}", 7, s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "pg-a ~}");
}
END_TEST

/* Strings with and without NUL, with one inside, and too long. */
START_TEST(test_flt_string)
{
	char	s[5];

	memset(s, 'z', sizeof(s));
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"abc", 3, s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "abc");
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"abc", 4, s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "abc");
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"", 1, s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "");

	/* Exactly fits, with and without its NUL. */
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"abcd", 4, s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "abcd");
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"abcd", 5, s,
	    sizeof(s)), 0);
	ck_assert_str_eq(s, "abcd");

	/* Too long: output untouched. */
	strcpy(s, "keep");
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"abcde", 5, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"abcde", 6, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"", 0, s, 0), -1);
	ck_assert_str_eq(s, "keep");

	/* A NUL inside, or two at the end. */
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"a\0c", 3, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"a\0c", 4, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"ab\0", 4, s,
	    sizeof(s)), -1);
	ck_assert_int_eq(wire_flt_string((const uint8_t *)"\0", 2, s,
	    sizeof(s)), -1);
	ck_assert_str_eq(s, "keep");
}
END_TEST

/*
 * HELLO and BYE: malformed.
 */

/* Every cut of the 13-byte fixed part is refused. */
START_TEST(test_hello_truncated)
{
	struct wire_hello	h;
	struct wire_writer	w;
	struct wire_msg		m;
	char			err[128];
	uint32_t		n;

	hello_fixed(&w, WIRE_PROTO_VERSION);
	ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	for (n = 0; n < 13; n++) {
		mkmsg(&m, MSG_HELLO, w.buf + WIRE_HDR_LEN, n);
		ck_assert_int_eq(wire_hello_decode(&m, &h, err, sizeof(err)),
		    -1);
		ck_assert_str_eq(err, "HELLO: fixed part truncated");
	}
	wire_writer_free(&w);
}
END_TEST

/* A node or lab field that is not a string is refused. */
START_TEST(test_hello_bad_string)
{
	struct wire_hello	h;
	struct wire_writer	w;
	char			err[128], big[40];

	hello_fixed(&w, WIRE_PROTO_VERSION);
	wire_flt(&w, TAG_NODE_NAME, "pg\0a", 4);
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "HELLO: floating field 16385 is not a valid string");
	wire_writer_free(&w);

	memset(big, 'x', sizeof(big));
	hello_fixed(&w, WIRE_PROTO_VERSION);
	wire_flt_str(&w, TAG_NODE_NAME, "pg-a");
	wire_flt(&w, TAG_LAB_NAME, big, 32);		/* 32 + NUL > 32 */
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "HELLO: floating field 16386 is not a valid string");
	wire_writer_free(&w);

	hello_fixed(&w, WIRE_PROTO_VERSION);
	wire_flt(&w, TAG_NODE_NAME, big, sizeof(big));
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	wire_writer_free(&w);

	/* A field running past the end. */
	hello_fixed(&w, WIRE_PROTO_VERSION);
	wire_flt_str(&w, TAG_NODE_NAME, "pg-a");
	wire_u16(&w, TAG_LAB_NAME);
	wire_u16(&w, 10);
	wire_bytes(&w, "lab", 3);
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "HELLO: floating field runs past the end");
	wire_writer_free(&w);
}
END_TEST

/*
 * Only protocol version 3 is spoken (1 had agent records without MRD, 2
 * interval rows without it).
 */
START_TEST(test_hello_bad_version)
{
	struct wire_hello	h;
	struct wire_writer	w;
	char			err[128];

	hello_fixed(&w, 1);
	wire_flt_str(&w, TAG_NODE_NAME, "pg-a");
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "HELLO: protocol version 1, expected 3");
	wire_writer_free(&w);

	hello_fixed(&w, 2);
	wire_flt_str(&w, TAG_NODE_NAME, "pg-a");
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "HELLO: protocol version 2, expected 3");
	wire_writer_free(&w);

	hello_fixed(&w, 0);
	wire_flt_str(&w, TAG_NODE_NAME, "pg-a");
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	wire_writer_free(&w);
}
END_TEST

/* A hello must name its node: absent and empty are both refused. */
START_TEST(test_hello_no_node)
{
	struct wire_hello	h;
	struct wire_writer	w;
	char			err[128];

	hello_fixed(&w, WIRE_PROTO_VERSION);
	wire_flt_str(&w, TAG_LAB_NAME, "demo");
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "HELLO: no node name");
	wire_writer_free(&w);

	hello_fixed(&w, WIRE_PROTO_VERSION);
	wire_flt_str(&w, TAG_NODE_NAME, "");
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "HELLO: no node name");
	wire_writer_free(&w);

	hello_fixed(&w, WIRE_PROTO_VERSION);
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), -1);
	wire_writer_free(&w);
}
END_TEST

/* Unknown tags are skipped; the known ones still count. */
START_TEST(test_hello_unknown_tag)
{
	struct wire_hello	h;
	struct wire_writer	w;
	char			err[128];

	hello_fixed(&w, WIRE_PROTO_VERSION);
	wire_flt(&w, 0x7fff, "\0\xff\0", 3);
	wire_flt_str(&w, TAG_NODE_NAME, "pg-b");
	wire_flt(&w, TAG_TEXT, "not a hello field", 17);
	wire_flt(&w, 0x0001, NULL, 0);
	ck_assert_int_eq(hello_decode_w(&w, &h, err, sizeof(err)), 0);
	ck_assert_uint_eq(h.version, WIRE_PROTO_VERSION);
	ck_assert_uint_eq(h.hb_interval_ms, 400);
	ck_assert_uint_eq(h.flags, 0x11);
	ck_assert_int_eq(h.side, 'A');
	ck_assert_str_eq(h.node, "pg-b");
	ck_assert_str_eq(h.lab, "");
	wire_writer_free(&w);
}
END_TEST

/* A BYE without its reason, or with a bad field, is refused. */
START_TEST(test_bye_malformed)
{
	static const uint8_t	 past[] = {
		0, 0, 0, 1, 0x40, 0x03, 0x00, 0x09, 'b', 'y', 'e'
	};
	static const uint8_t	 nul[] = {
		0, 0, 0, 1, 0x40, 0x03, 0x00, 0x03, 'b', 0, 'e'
	};
	struct wire_msg		 m;
	uint32_t		 reason, n;
	char			 text[8], err[128];

	for (n = 0; n < 4; n++) {
		mkmsg(&m, MSG_BYE, past, n);
		ck_assert_int_eq(wire_bye_decode(&m, &reason, text,
		    sizeof(text), err, sizeof(err)), -1);
		ck_assert_str_eq(err, "BYE: fixed part truncated");
		ck_assert_str_eq(text, "");
	}
	mkmsg(&m, MSG_BYE, past, sizeof(past));
	ck_assert_int_eq(wire_bye_decode(&m, &reason, text, sizeof(text),
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "BYE: floating field runs past the end");
	mkmsg(&m, MSG_BYE, past, 6);
	ck_assert_int_eq(wire_bye_decode(&m, &reason, text, sizeof(text),
	    err, sizeof(err)), -1);
	mkmsg(&m, MSG_BYE, nul, sizeof(nul));
	ck_assert_int_eq(wire_bye_decode(&m, &reason, text, sizeof(text),
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "BYE: text is not a valid string");
}
END_TEST

/* A BYE text that does not fit the caller's buffer is refused. */
START_TEST(test_bye_text_too_long)
{
	struct wire_writer	w;
	struct wire_msg		m;
	uint32_t		reason;
	char			text[8], big[9], err[128];

	wire_begin(&w, MSG_BYE);
	wire_u32(&w, 1);
	wire_flt_str(&w, TAG_TEXT, "12345678");
	ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
	ck_assert_int_eq(wire_bye_decode(&m, &reason, text, sizeof(text),
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "BYE: text is not a valid string");
	ck_assert_int_eq(wire_bye_decode(&m, &reason, big, 9, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(big, "12345678");
	wire_writer_free(&w);
}
END_TEST

/*
 * Writer overflow.
 */

/* A floating field over 65535 bytes cannot be framed. */
START_TEST(test_writer_flt_overflow)
{
	struct wire_writer	 w;
	struct wire_msg		 m;
	uint8_t			*big;
	size_t			 len;

	big = calloc(1, (size_t)UINT16_MAX + 1);
	ck_assert_ptr_nonnull(big);
	wire_begin(&w, MSG_OPEN_REQ);
	wire_flt(&w, 1, big, UINT16_MAX);
	ck_assert_int_eq(w.overflow, 0);
	ck_assert_int_eq(wire_end(&w, WIRE_MAX_BODY, &m), 0);
	ck_assert_uint_eq(m.len, WIRE_FLT_HDR_LEN + UINT16_MAX);
	wire_writer_free(&w);

	wire_begin(&w, MSG_OPEN_REQ);
	wire_u32(&w, 5);
	len = w.len;
	wire_flt(&w, 1, big, (size_t)UINT16_MAX + 1);
	ck_assert_int_eq(w.overflow, 1);
	ck_assert_uint_eq(w.len, len);		/* nothing half written */
	wire_u32(&w, 6);
	ck_assert_uint_eq(w.len, len);		/* and nothing after */
	ck_assert_int_eq(wire_end(&w, WIRE_MAX_BODY, &m), -1);
	wire_writer_free(&w);
	free(big);
}
END_TEST

/* A body over max_body, or over the hard ceiling, is refused. */
START_TEST(test_writer_end_over_max)
{
	struct wire_writer	 w;
	struct wire_msg		 m;
	uint8_t			*big;
	uint8_t			 zero[64];

	memset(zero, 0, sizeof(zero));
	wire_begin(&w, MSG_OPEN_REQ);
	wire_bytes(&w, zero, sizeof(zero));
	ck_assert_int_eq(wire_end(&w, sizeof(zero) - 1, &m), -1);
	ck_assert_int_eq(wire_end(&w, 0, NULL), -1);
	ck_assert_int_eq(wire_end(&w, sizeof(zero), &m), 0);
	wire_writer_free(&w);

	/* Past the ceiling the writer stops growing. */
	big = calloc(1, WIRE_MAX_BODY + 1);
	ck_assert_ptr_nonnull(big);
	wire_begin(&w, MSG_OPEN_REQ);
	wire_bytes(&w, big, WIRE_MAX_BODY);
	ck_assert_int_eq(w.overflow, 0);
	wire_u8(&w, 1);
	ck_assert_int_eq(w.overflow, 1);
	ck_assert_uint_eq(w.len, WIRE_HDR_LEN + WIRE_MAX_BODY);
	ck_assert_int_eq(wire_end(&w, UINT32_MAX, &m), -1);
	wire_writer_free(&w);
	free(big);

	/* A writer that never began has no header to patch. */
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(wire_end(&w, WIRE_MAX_BODY, &m), -1);
}
END_TEST

/* The suite: one case per area. */
static Suite *
wire_suite(void)
{
	Suite	*s = suite_create("wire");
	TCase	*tc;

	tc = tcase_create("header");
	tcase_add_test(tc, test_type_info);
	tcase_add_test(tc, test_header_ok);
	tcase_add_test(tc, test_header_unknown_type);
	tcase_add_test(tc, test_header_over_max_body);
	tcase_add_test(tc, test_header_over_ceiling);
	tcase_add_test(tc, test_header_under_min);
	tcase_add_test(tc, test_header_over_type_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_scalars_roundtrip);
	tcase_add_test(tc, test_end_patches_length);
	tcase_add_test(tc, test_flt_roundtrip);
	tcase_add_test(tc, test_hello_roundtrip);
	tcase_add_test(tc, test_bye_decode);
	suite_add_tcase(s, tc);

	tc = tcase_create("reader");
	tcase_add_test(tc, test_reader_short_each);
	tcase_add_test(tc, test_reader_short_partial);
	tcase_add_test(tc, test_flt_truncated_header);
	tcase_add_test(tc, test_flt_past_end);
	tcase_add_test(tc, test_flt_zero_and_end);
	tcase_add_test(tc, test_flt_string);
	tcase_add_test(tc, test_flt_string_ascii);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_test(tc, test_hello_truncated);
	tcase_add_test(tc, test_hello_bad_string);
	tcase_add_test(tc, test_hello_bad_version);
	tcase_add_test(tc, test_hello_no_node);
	tcase_add_test(tc, test_hello_unknown_tag);
	tcase_add_test(tc, test_bye_malformed);
	tcase_add_test(tc, test_bye_text_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_test(tc, test_writer_flt_overflow);
	tcase_add_test(tc, test_writer_end_over_max);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; non-zero exit when a test failed. */
int
main(void)
{
	return check_run(wire_suite(), CK_NORMAL);
}
