/*
 * libFuzzer harness of the GED-188 codec (src/wire/ged188.c).  The first
 * input byte picks the session's protocol version, 13 + byte % 13 (so 13
 * to 25 stand for themselves); the rest is a byte stream cut into frames
 * the way a CTI server's link cuts it, against ged_types[].  Each frame is
 * decoded at that version (an OPEN_REQ also at its own VersionNumber, as
 * the server reads it first).  A frame the header check refuses must be
 * refused by the decoder too.  A frame that decodes is encoded again from
 * the decoded message and must give the same bytes; any mismatch aborts.
 *
 * Each body is copied into a buffer of its exact size (fuzz_frames.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_frames.h"
#include "ged188.h"

#define FUZZ_MAX_BODY	(GED_MAX_MESSAGE - WIRE_HDR_LEN)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop the run with a reason: libFuzzer saves the input. */
static void
fail(const char *what, const struct wire_msg *m, uint32_t version)
{
	fprintf(stderr, "fuzz_ged188: %s (type %u %s, length %u, version "
	    "%u)\n", what, m->type, ged_type_name(m->type), m->len, version);
	abort();
}

/* A refusal: one of the decoder's statuses, and words that end. */
static void
check_refusal(const struct wire_msg *m, uint32_t version, uint32_t status,
    const char *err, size_t errlen)
{
	switch (status) {
	case E_CTI_INVALID_VERSION:
	case E_CTI_INVALID_MESSAGE_LENGTH:
	case E_CTI_INVALID_FIELD_LENGTH:
	case E_CTI_BAD_MESSAGE_FORMAT:
	case E_CTI_INVALID_MSG_TYPE_FOR_VERSION:
	case E_CTI_INVALID_CHARACTER:
	case E_CTI_TOO_MUCH_DATA:
		break;
	default:
		fail("refused with a status the decoder does not give", m,
		    version);
	}
	if (memchr(err, '\0', errlen) == NULL || err[0] == '\0')
		fail("refusal without words", m, version);
}

/* A decoded message: fields inside the body, back to back to its end. */
static void
check_decoded(const struct wire_msg *m, const struct ged_msg *g)
{
	const struct ged_tag_def *d;
	size_t		 off, hl = ged_wide(g->version) ? 4 : 2;
	int		 i;
	char		 s[256];

	if (g->layout == NULL || g->layout != ged_layout(m->type))
		fail("decoded without its layout", m, g->version);
	if (g->nflt < 0 || g->nflt > GED_FLT_MAX)
		fail("more floating fields than there is room for", m,
		    g->version);
	off = (size_t)ged_fixed_len(g->layout, g->version);
	for (i = 0; i < g->nflt; i++) {
		if (g->flt[i].data != m->body + off + hl)
			fail("floating field not where its header is", m,
			    g->version);
		off += hl + g->flt[i].len;
		if (off > m->len)
			fail("floating field past the end", m, g->version);
		d = ged_tag(g->flt[i].tag);
		if (d != NULL && d->type == GF_STRING) {
			if (ged_get_str(g, d->tag, s, sizeof(s)) != 1 ||
			    memchr(s, '\0', sizeof(s)) == NULL)
				fail("accepted string does not read", m,
				    g->version);
		}
	}
	if (off != m->len)
		fail("floating fields do not add up to the body", m,
		    g->version);
}

/* Encode the decoded message again: the same bytes. */
static void
reencode(const struct wire_msg *m, const struct ged_msg *g)
{
	struct ged_msg		 e;
	struct wire_writer	 w;
	struct wire_msg		 m2;
	int			 i;

	ged_init(&e, m->type, g->version);
	memcpy(e.fixed, g->fixed, sizeof(e.fixed));
	ged_begin(&w, &e);
	for (i = 0; i < g->nflt; i++)
		ged_put(&w, g->version, g->flt[i].tag, g->flt[i].data,
		    g->flt[i].len);
	if (ged_end(&w, &m2) == -1)
		fail("decoded message does not encode", m, g->version);
	if (m2.type != m->type || m2.len != m->len ||
	    (m->len != 0 && memcmp(m2.body, m->body, m->len) != 0))
		fail("re-encoded message differs", m, g->version);
	wire_writer_free(&w);
}

/* Decode one frame at a version; ok: whether it may decode at all. */
static void
fuzz_decode(const struct wire_msg *m, uint32_t version, int ok)
{
	struct ged_msg	g;
	uint32_t	status;
	char		err[256];

	if (ged_decode(m, version, &g, &status, err, sizeof(err)) == -1) {
		check_refusal(m, version, status, err, sizeof(err));
		return;
	}
	if (!ok)
		fail("decoded a frame the header check refused", m, version);
	if (status != E_CTI_NO_ERROR)
		fail("decoded with a status", m, version);
	check_decoded(m, &g);
	reencode(m, &g);
}

/* One frame: at the session's version, an OPEN_REQ also at its own. */
static void
fuzz_frame(const struct wire_msg *m, uint32_t version, int ok)
{
	uint32_t	v;

	fuzz_decode(m, version, ok);
	if (ged_open_version(m, &v) == 0) {
		if (m->type != MSG_OPEN_REQ || m->len < 8)
			fail("version read from what is no OPEN_REQ", m, v);
		if (v != version)
			fuzz_decode(m, v, ok);
	} else if (m->type == MSG_OPEN_REQ && m->len >= 8)
		fail("OPEN_REQ version not read", m, version);
}

/* fuzz_frames()'s callback: arg is the session's version. */
static void
fuzz_frame_cb(const struct wire_msg *m, int ok, void *arg)
{
	fuzz_frame(m, *(const uint32_t *)arg, ok);
}

/* The version from the first byte, then every frame of the rest. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t	version;

	if (size < 1)
		return 0;
	version = GED_VERSION_MIN + data[0] %
	    (GED_VERSION_MAX - GED_VERSION_MIN + 1);
	fuzz_frames(data + 1, size - 1, ged_types, FUZZ_MAX_BODY,
	    fuzz_frame_cb, &version);
	return 0;
}
