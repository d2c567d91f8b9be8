/* Allocation that cannot fail: out of memory is fatal (tmux xmalloc). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

void *
xmalloc(size_t n)
{
	void	*p;

	if (n == 0)
		n = 1;
	if ((p = malloc(n)) == NULL)
		fatal("xmalloc %zu", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t n)
{
	void	*p;

	if (nmemb == 0 || n == 0)
		nmemb = n = 1;
	if ((p = calloc(nmemb, n)) == NULL)
		fatal("xcalloc %zu x %zu", nmemb, n);
	return p;
}

void *
xreallocarray(void *old, size_t nmemb, size_t n)
{
	void	*p;

	if (nmemb != 0 && n > SIZE_MAX / nmemb)
		fatalx("xreallocarray: %zu x %zu overflows", nmemb, n);
	if ((p = realloc(old, nmemb * n != 0 ? nmemb * n : 1)) == NULL)
		fatal("xreallocarray %zu x %zu", nmemb, n);
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("xasprintf");
	return n;
}
