/*
 * libFuzzer harness of the control socket's protocol (src/node/ctl.c): the
 * input is what a client writes, cut into frames the way ctl_read_cb()
 * cuts it (a 4-byte big-endian length, then that many bytes of JSON), each
 * frame parsed into words by ctl_request_parse() as ctl_handle() does.  A
 * bad length or a frame that is no request ends the stream (the client is
 * closed); a refused one (no command, too many words) does not.
 *
 * Oracles: a length passes iff it is 1..CTL_MAX_FRAME; a request gives 1
 * to CTL_MAX_ARGS words, each a string with no NUL inside, that written
 * back as {"argv": [...]} parse to the same words; a refusal says why in
 * a string that ends, of its kind, and its error reply can always be
 * built (ctl_error_reply(), whatever bytes the parser's message quotes).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop the run with a reason: libFuzzer saves the input. */
static __dead void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_ctl: %s: %s\n", what, detail);
	abort();
}

/* What ctl_handle() sends back on an error: it must build, and say so. */
static void
check_error_reply(const char *err)
{
	json_t		*j;
	const char	*e;

	if ((j = ctl_error_reply(err)) == NULL)
		fail("no error reply", err);
	if (!json_is_false(json_object_get(j, "ok")) ||
	    (e = json_string_value(json_object_get(j, "error"))) == NULL ||
	    strlen(e) != strlen(err))
		fail("error reply does not carry the error", err);
	json_decref(j);
}

/* A refusal: a message that ends, of the kind the code says. */
static void
check_refusal(int rc, const char *err, size_t errlen)
{
	if (memchr(err, '\0', errlen) == NULL)
		fail("error not terminated", "");
	if (rc == CTL_REQ_BAD && strncmp(err, "bad request: ", 13) != 0)
		fail("a bad request not said so", err);
	if (rc == CTL_REQ_REFUSED && strcmp(err, "no command") != 0 &&
	    strcmp(err, "too many words") != 0)
		fail("a refusal of another kind", err);
	if (rc != CTL_REQ_BAD && rc != CTL_REQ_REFUSED)
		fail("unknown refusal", err);
	check_error_reply(err);
}

/* The words written back as a request parse to the same words. */
static void
check_words(const char **args, int n)
{
	json_t		*argv, *req, *req2;
	const char	*args2[CTL_MAX_ARGS];
	char		*text, err[300];
	int		 i, n2;

	if ((argv = json_array()) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (args[i] == NULL)
			fail("a word is NULL", "");
		if (json_array_append_new(argv, json_string(args[i])) == -1)
			fail("a word is not a JSON string", args[i]);
	}
	req = json_pack("{s:o}", "argv", argv);
	if (req == NULL || (text = json_dumps(req, JSON_COMPACT)) == NULL)
		abort();
	n2 = ctl_request_parse(text, strlen(text), &req2, args2, err,
	    sizeof(err));
	if (n2 != n)
		fail("words written back parse to another count", text);
	for (i = 0; i < n; i++)
		if (strcmp(args2[i], args[i]) != 0)
			fail("a word written back parses to another", text);
	json_decref(req2);
	json_decref(req);
	free(text);
}

/* One frame's text, as ctl_handle() takes it; -1 if the client closes. */
static int
fuzz_request(const uint8_t *text, size_t len)
{
	json_t		*req, *argv;
	const char	*args[CTL_MAX_ARGS];
	char		 err[300];	/* as ctl_handle()'s */
	int		 i, n;

	memset(args, 0, sizeof(args));
	n = ctl_request_parse((const char *)text, len, &req, args, err,
	    sizeof(err));
	if (n < 0) {
		check_refusal(n, err, sizeof(err));
		json_decref(req);
		return n == CTL_REQ_BAD ? -1 : 0;
	}
	if (n < 1 || n > CTL_MAX_ARGS)
		fail("a request of a bad word count", "");
	argv = json_object_get(req, "argv");
	if ((size_t)n != json_array_size(argv))
		fail("word count is not argv's", "");
	for (i = 0; i < n; i++)
		if (args[i] == NULL || strlen(args[i]) !=
		    json_string_length(json_array_get(argv, i)))
			fail("a word holds a NUL or is missing", "");
	check_words(args, n);
	json_decref(req);
	return 0;
}

/* A client's bytes, frame by frame, as ctl_read_cb() reads them. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*text;
	uint32_t	 len;
	size_t		 off = 0;
	char		 err[100];	/* as ctl_read_cb()'s */
	int		 rc;

	while (size - off >= 4) {
		rc = ctl_frame_len(data + off, &len, err, sizeof(err));
		if (rc != (len == 0 || len > CTL_MAX_FRAME ? -1 : 0))
			fail("frame length judged wrong", "");
		if (rc == -1) {
			if (memchr(err, '\0', sizeof(err)) == NULL ||
			    strncmp(err, "bad frame length ", 17) != 0)
				fail("bad length not said so", "");
			check_error_reply(err);
			break;
		}
		if (size - off - 4 < len)
			break;		/* the rest of it not here yet */
		/* Its own buffer: a read past the frame is caught. */
		if ((text = malloc(len)) == NULL)
			abort();
		memcpy(text, data + off + 4, len);
		rc = fuzz_request(text, len);
		free(text);
		if (rc == -1)
			break;
		off += 4 + (size_t)len;
	}
	return 0;
}
