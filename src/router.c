/*
 * The router node: the central controller.  It listens on the router port
 * and keeps one server-side link per PG side.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

struct router {
	struct node	*node;
};

static int
router_init(struct node *n, char *err, size_t errlen)
{
	struct router	*r = xcalloc(1, sizeof(*r));
	int		 i;

	r->node = n;
	n->role_data = r;
	for (i = 0; i < n->cfg->nnodes; i++)
		if (n->cfg->nodes[i].role == ROLE_PG)
			node_new_link(n, n->cfg->nodes[i].name,
			    &n->cfg->nodes[i], LINK_KIND_ROUTER, 0);
	return node_listen(n, "router", err, errlen);
}

static void
router_fini(struct node *n)
{
	free(n->role_data);
	n->role_data = NULL;
}

static void
router_summary(struct node *n, char *buf, size_t len)
{
	snprintf(buf, len, "router of lab %s", n->cfg->lab_name);
}

const struct role_ops router_ops = {
	.name = "router",
	.init = router_init,
	.fini = router_fini,
	.summary = router_summary,
};
