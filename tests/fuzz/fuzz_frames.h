/*
 * The fuzzers' cutting of their input into frames, the way a link cuts its
 * receive buffer: each header is checked against a protocol's table of
 * types (wire_check_frame()).  A length over the maximum ends the stream;
 * a frame that is bad but whole goes to fn with ok 0 (a link skips it);
 * a body not all there ends the input.  Each body is copied into a buffer
 * of its exact size, so that a read past the end of a frame is caught by
 * ASan rather than landing in the next one.
 */
#ifndef FUZZ_FRAMES_H
#define FUZZ_FRAMES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static void
fuzz_frames(const uint8_t *data, size_t size,
    const struct wire_type_info *types, uint32_t max_body,
    void (*fn)(const struct wire_msg *, int, void *), void *arg)
{
	struct wire_msg	 m;
	uint8_t		*body;
	uint32_t	 type, len;
	size_t		 off = 0;
	int		 rc;
	char		 err[256];

	while (size - off >= WIRE_HDR_LEN) {
		rc = wire_check_frame(types, data + off, max_body, &type, &len,
		    err, sizeof(err));
		if (rc == WIRE_FRAME_LOST)
			break;
		if (len > max_body)
			abort();
		if (len > size - off - WIRE_HDR_LEN)
			break;		/* body not all here yet */
		if ((body = malloc(len)) == NULL && len != 0)
			abort();
		if (len != 0)
			memcpy(body, data + off + WIRE_HDR_LEN, len);
		m.type = type;
		m.len = len;
		m.body = body;
		fn(&m, rc == WIRE_FRAME_OK, arg);
		free(body);
		off += WIRE_HDR_LEN + len;
	}
}

#endif /* FUZZ_FRAMES_H */
