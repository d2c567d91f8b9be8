/*
 * The roles a node can play: one row each, with the name the lab file
 * gives it, its code (role_ops: start, stop, commands, messages), a line
 * for people and the links its fault command names.  The lab file's
 * nodes.NAME.role is checked against this table, the node runtime starts
 * a role from it, pgemuctl lists its commands.  A new kind of node (the
 * application instance, the desktop server, the agents) is a new row and
 * a new enum node_role value.
 */
#include "config.h"

#include <string.h>

#include "pgemu.h"

const struct role roles[ROLE_MAX] = {
	[ROLE_ROUTER] = { "router", &router_ops,
	    "the central controller: arbiter of the PG sides, history "
	    "database",
	    "one per PG side, named after it (pg-a, pg-b)" },
	[ROLE_ACD] = { "acd", &acd_ops,
	    "the simulated switch and its CTI Manager endpoints",
	    "one per PG side, named after it (pg-a, pg-b)" },
	[ROLE_PG] = { "pg", &pg_ops,
	    "one side of the duplex PG, with its PIM",
	    "router-link, acd-link, private-link, mr-link" },
	[ROLE_DESK] = { "desk", &desk_ops,
	    "an agent desktop server (side A primary, B backup), a CTI "
	    "client of the PG",
	    "cti-link (and desktop ID: fault desktop ID ...)" },
	[ROLE_AGENTS] = { "agents", &agents_ops,
	    "the agents' desktops, one connection each to the desktop "
	    "server",
	    "one per desktop, named after its agent id (1001, ...)" },
	[ROLE_APP] = { "app", &app_ops,
	    "an application instance (email or chat manager): NEW_TASK "
	    "requests to the MR PIM, task reports to the CTI server",
	    "one per PG side's MR PIM, named after it (pg-a, pg-b), and "
	    "cti-link (its ARM session)" },
};

/* The role named name (ROLE_*), or -1. */
int
role_find(const char *name)
{
	int	i;

	for (i = 0; i < ROLE_MAX; i++)
		if (roles[i].name != NULL && strcmp(roles[i].name, name) == 0)
			return i;
	return -1;
}

/* Every role's name, "router|acd|pg", as the lab file's choices. */
const char *
role_choices(void)
{
	static char	buf[ROLE_MAX * PGEMU_NAME_MAX];
	size_t		o = 0;
	int		i;

	if (buf[0] != '\0')
		return buf;
	for (i = 0; i < ROLE_MAX && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    i ? "|" : "", roles[i].name);
	return buf;
}

/* The row of a role's message table for type on a link of kind, or NULL. */
const struct role_msg *
role_msg_find(const struct role_msg *tab, uint32_t type, enum link_kind kind)
{
	const struct role_msg	*rm;

	for (rm = tab; rm != NULL && rm->type != 0; rm++)
		if (rm->type == type && rm->kind == kind)
			return rm;
	return NULL;
}
