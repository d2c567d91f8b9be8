/*
 * The acd node: the simulated switch.  It listens on the ACD port and
 * keeps one server-side link per PG side (its PIM).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

struct acd {
	struct node	*node;
};

static int
acd_init(struct node *n, char *err, size_t errlen)
{
	struct acd	*a = xcalloc(1, sizeof(*a));
	int		 i;

	a->node = n;
	n->role_data = a;
	for (i = 0; i < n->cfg->nnodes; i++)
		if (n->cfg->nodes[i].role == ROLE_PG)
			node_new_link(n, n->cfg->nodes[i].name,
			    &n->cfg->nodes[i], LINK_KIND_ACD, 0);
	return node_listen(n, "acd", err, errlen);
}

static void
acd_fini(struct node *n)
{
	free(n->role_data);
	n->role_data = NULL;
}

static void
acd_summary(struct node *n, char *buf, size_t len)
{
	snprintf(buf, len, "ACD of peripheral %d, %d agents",
	    n->cfg->peripheral_id, n->cfg->nagents);
}

const struct role_ops acd_ops = {
	.name = "acd",
	.init = acd_init,
	.fini = acd_fini,
	.summary = acd_summary,
};
