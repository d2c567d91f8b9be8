/* Clocks, small parsers, text for man pages. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgemu.h"

void
mono_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

/* Seconds since ts on the monotonic clock. */
double
mono_since(const struct timespec *ts)
{
	struct timespec	now;

	mono_now(&now);
	return (double)(now.tv_sec - ts->tv_sec) +
	    (double)(now.tv_nsec - ts->tv_nsec) / 1e9;
}

uint64_t
mono_ms(void)
{
	struct timespec	now;

	mono_now(&now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

uint64_t
mono_us(void)
{
	struct timespec	now;

	mono_now(&now);
	return (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
}

double
wall_now(void)
{
	struct timespec	now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void
ms_to_tv(int ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* qsort() order of structs whose first member is a uint32_t key. */
int
cmp_u32_key(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The struct whose first member is the uint32_t key id, in an array
 * sorted by it, or NULL.  Agent records travel in id order (a snapshot,
 * a relogin): the slot after the one found last (*hint) is tried first,
 * so that 100,000 of them in order cost no search each; a binary search
 * otherwise.
 */
static uint32_t
key_at(const uint8_t *b, size_t i, size_t size)
{
	uint32_t	k;

	memcpy(&k, b + i * size, sizeof(k));
	return k;
}

void *
find_u32_key(uint32_t id, void *base, size_t n, size_t size, size_t *hint)
{
	uint8_t		*b = base;
	size_t		 lo = 0, hi = n, mid;
	uint32_t	 k;

	if (*hint + 1 < n && key_at(b, *hint + 1, size) == id)
		(*hint)++;
	else if (*hint >= n || key_at(b, *hint, size) != id) {
		for (;;) {
			if (lo >= hi)
				return NULL;
			mid = lo + (hi - lo) / 2;
			if ((k = key_at(b, mid, size)) == id)
				break;
			if (k < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		*hint = mid;
	}
	return b + *hint * size;
}

/* A whole number in [min, max]; 0 on success. */
int
parse_int(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Is v one of the words of choices, "a|b|c"? */
int
choice_ok(const char *choices, const char *v)
{
	size_t	 n = strlen(v);
	const char *p = choices;

	while (*p != '\0') {
		const char *e = strchr(p, '|');
		size_t	    l = e ? (size_t)(e - p) : strlen(p);

		if (l == n && strncmp(p, v, n) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

/* Text for a man page: a minus is \-, a backslash \e. */
void
man_text(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '-')
			fputs("\\-", fp);
		else if (*s == '\\')
			fputs("\\e", fp);
		else
			fputc(*s, fp);
	}
}
