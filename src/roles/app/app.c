/*
 * The application instance (an email or chat manager): WORK IN PROGRESS,
 * replaced by the app role.
 */
#include "config.h"

#include <stdio.h>

#include "pgemu.h"

static int
app_init(struct node *n, char *err, size_t errlen)
{
	(void)n;
	snprintf(err, errlen, "the app role is not built yet");
	return -1;
}

static void
app_fini(struct node *n)
{
	(void)n;
}

const struct role_ops app_ops = { .init = app_init, .fini = app_fini };
