/*
 * libFuzzer harness of the lab-file loader (src/node/cfg.c).  libconfig reads
 * only files, so each input is written to a fresh temporary file, loaded
 * with cfg_load and dumped with cfg_dump, both reporting to /dev/null.
 *
 * Inputs with an @include directive are skipped: they would make libconfig
 * open whatever file the fuzzer names (/dev/zero, /dev/stdin, ...), which
 * tests the machine, not the loader.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgemu.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static FILE	*devnull;

/* Whether the input holds "@include" in any case. */
static int
has_include(const uint8_t *data, size_t size)
{
	static const char	 word[] = "include";
	size_t			 i, j;

	for (i = 0; i < size; i++) {
		if (data[i] != '@')
			continue;
		for (j = 0; j < sizeof(word) - 1 && i + 1 + j < size; j++)
			if (tolower(data[i + 1 + j]) != word[j])
				break;
		if (j == sizeof(word) - 1)
			return 1;
	}
	return 0;
}

/* Write all of data to fd; -1 on failure. */
static int
write_all(int fd, const uint8_t *data, size_t size)
{
	ssize_t	n;

	while (size > 0) {
		if ((n = write(fd, data, size)) <= 0)
			return -1;
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

/*
 * A loaded lab has a router, the two sides of the PG, and peripherals
 * each served by an acd node of its own and by those two sides.
 */
static int
lab_ok(const struct cfg *cf)
{
	const struct cfg_node	*n;
	int			 i;

	if (cf == NULL)
		return 1;
	if (cf->nperiphs < 1 || cfg_node_role(cf, ROLE_ROUTER, 0) == NULL ||
	    cfg_node_role(cf, ROLE_PG, 'A') == NULL ||
	    cfg_node_role(cf, ROLE_PG, 'B') == NULL)
		return 0;
	for (i = 0; i < cf->nperiphs; i++) {
		const struct cfg_periph *p = &cf->periphs[i];

		if ((n = cfg_node(cf, p->acd)) == NULL || n->role != ROLE_ACD ||
		    cfg_periph_of_acd(cf, p->acd) != p ||
		    cfg_periph_side(p, cfg_node_role(cf, ROLE_PG,
		    'A')->name) != 0 || cfg_periph_side(p, cfg_node_role(cf,
		    ROLE_PG, 'B')->name) != 1)
			return 0;
	}
	return 1;
}

/* Load and dump the input as a lab file; both must agree. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 path[] = "/tmp/pgemu-fuzz-cfg.XXXXXX";
	struct cfg	*cf;
	int		 fd, nerrs, nerrs2, loaded, ok;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	if (has_include(data, size))
		return 0;
	if ((fd = mkstemp(path)) == -1)
		abort();
	if (write_all(fd, data, size) == -1 || close(fd) == -1) {
		unlink(path);
		abort();
	}

	cf = cfg_load(path, devnull, &nerrs);
	loaded = cf != NULL;
	ok = lab_ok(cf);
	cfg_free(cf);
	nerrs2 = cfg_dump(path, devnull, devnull);
	unlink(path);

	if (loaded != (nerrs == 0))
		abort();		/* a lab iff no error */
	if (!ok)
		abort();
	if (nerrs2 != nerrs)
		abort();		/* the same file, the same verdict */
	return 0;
}
