/*
 * A PG side (pg-a or pg-b): links to the router and the ACD, and the
 * private link to the other side.  Side A opens the private link to side
 * B's private port; side B listens on it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

struct pg {
	struct node	*node;
	struct link	*router, *acd, *peer;
};

static int
pg_init(struct node *n, char *err, size_t errlen)
{
	struct pg		*pg = xcalloc(1, sizeof(*pg));
	const struct cfg_node	*peer = cfg_pg_peer(n->cfg, n->self);

	pg->node = n;
	n->role_data = pg;
	pg->router = node_new_link(n, "router-link",
	    cfg_node_role(n->cfg, ROLE_ROUTER, 0), LINK_KIND_ROUTER, 1);
	pg->acd = node_new_link(n, "acd-link",
	    cfg_node_role(n->cfg, ROLE_ACD, 0), LINK_KIND_ACD, 1);
	if (n->self->side == 'A')
		pg->peer = node_new_link(n, "private-link", peer,
		    LINK_KIND_PRIVATE, 1);
	else {
		pg->peer = node_new_link(n, "private-link", peer,
		    LINK_KIND_PRIVATE, 0);
		if (node_listen(n, "private", err, errlen) == -1)
			return -1;
	}
	return 0;
}

static void
pg_fini(struct node *n)
{
	free(n->role_data);
	n->role_data = NULL;
}

static void
pg_summary(struct node *n, char *buf, size_t len)
{
	snprintf(buf, len, "PG side %c", n->self->side);
}

const struct role_ops pg_ops = {
	.name = "pg",
	.init = pg_init,
	.fini = pg_fini,
	.summary = pg_summary,
};
