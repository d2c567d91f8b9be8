/*
 * Unit tests of the tables a node is made of: the role registry (role.c),
 * the control commands of every node and of each role (cmd.c, node.c and
 * the roles' cmds), and each role's message table (role_msg).
 *
 *   registry   every role has a row, found by its name; the lab file's
 *              choices are the rows' names
 *   commands   every row has its words, help and handler; no word twice in
 *              a node's tables but rows of one command whose counts do not
 *              overlap; each word with each count it takes finds its row;
 *              unknown words and counts that fit no row give the errors
 *              that name the valid words; the lists for people and roff
 *   messages   every row decodes and handles; no type twice on a kind of
 *              link; each row is found, its decoder takes a good message
 *              of its type and refuses a short one
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_run.h"
#include "pgemu.h"
#include "wire.h"

/* The command tables of a node of role r, as node_dispatch() has them. */
static void
tables_of(int r, const struct cmd *tabs[3])
{
	tabs[0] = node_cmds;
	tabs[1] = roles[r].ops->cmds;
	tabs[2] = NULL;
}

/* The rows of a table. */
static int
nrows(const struct cmd *tab)
{
	int	n = 0;

	while (tab != NULL && tab[n].words != NULL)
		n++;
	return n;
}

/* Every row of a node of role r, in order. */
static int
rows_of(int r, const struct cmd **rows, int max)
{
	const struct cmd	*tabs[3], *c;
	int			 i, n = 0;

	tables_of(r, tabs);
	for (i = 0; tabs[i] != NULL; i++)
		for (c = tabs[i]; c->words != NULL; c++) {
			ck_assert_int_lt(n, max);
			rows[n++] = c;
		}
	return n;
}

/* The n-th word ("stop" or "start" of "stop|start") of a row, or NULL. */
static const char *
word_of(const struct cmd *c, int n, char *buf, size_t len)
{
	const char	*p = c->words, *e;

	for (; n > 0 && p != NULL; n--)
		p = (e = strchr(p, '|')) ? e + 1 : NULL;
	if (p == NULL)
		return NULL;
	snprintf(buf, len, "%.*s", (int)strcspn(p, "|"), p);
	return buf;
}

/*
 * Registry.
 */

START_TEST(test_registry)
{
	int	r;

	for (r = 0; r < ROLE_MAX; r++) {
		ck_assert_ptr_nonnull(roles[r].name);
		ck_assert_ptr_nonnull(roles[r].ops);
		ck_assert_ptr_nonnull(roles[r].ops->init);
		ck_assert_ptr_nonnull(roles[r].ops->fini);
		ck_assert_ptr_nonnull(roles[r].ops->msgs);
		ck_assert_msg(roles[r].help != NULL && roles[r].help[0] != '\0',
		    "role %s: no help", roles[r].name);
		ck_assert_msg(roles[r].links != NULL &&
		    roles[r].links[0] != '\0', "role %s: no links",
		    roles[r].name);
		ck_assert_int_eq(role_find(roles[r].name), r);
	}
	ck_assert_int_eq(role_find("router"), ROLE_ROUTER);
	ck_assert_int_eq(role_find("acd"), ROLE_ACD);
	ck_assert_int_eq(role_find("pg"), ROLE_PG);
	ck_assert_int_eq(role_find("switch"), -1);
	ck_assert_int_eq(role_find(""), -1);
	ck_assert_int_eq(role_find("PG"), -1);
	ck_assert_str_eq(role_choices(), "router|acd|pg|desk|agents|app");
	/* Made once, kept. */
	ck_assert_str_eq(role_choices(), "router|acd|pg|desk|agents|app");
}
END_TEST

/* A lab file with a node x of role role: its errors, or "" if none. */
static char *
lab_errors(const char *role)
{
	char	 path[] = "/tmp/check_tables.XXXXXX";
	char	*out = NULL;
	size_t	 outlen = 0;
	FILE	*f, *errs;
	struct cfg *cf;
	int	 fd, nerrs;

	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	fprintf(f, "nodes: {\n"
	    "  r: { role = \"router\"; port = 1; };\n"
	    "  c: { role = \"acd\"; port = 2; };\n"
	    "  a: { role = \"pg\"; side = \"A\"; port = 3; };\n"
	    "  b: { role = \"pg\"; side = \"B\"; port = 4; };\n"
	    "  x: { role = \"%s\"; port = 5; };\n"
	    "};\n", role);
	fclose(f);
	ck_assert_ptr_nonnull(errs = open_memstream(&out, &outlen));
	cf = cfg_load(path, errs, &nerrs);
	fclose(errs);
	cfg_free(cf);
	unlink(path);
	/* the file's name, as the errors say it, is "/tmp/check_tables.*" */
	return out;
}

/* The lab file takes the roles of the registry, and no other (file:line). */
START_TEST(test_lab_roles)
{
	char	*out;
	int	 r;

	out = lab_errors("vru");
	ck_assert_ptr_nonnull(strstr(out, "/tmp/check_tables."));
	ck_assert_ptr_nonnull(strstr(out, ":6: nodes.x.role: \"vru\" is not "
	    "one of router|acd|pg|desk|agents|app\n"));
	ck_assert_ptr_null(strchr(strchr(out, '\n') + 1, '\n'));  /* one */
	free(out);
	for (r = 0; r < ROLE_MAX; r++) {
		out = lab_errors(roles[r].name);
		ck_assert_msg(strstr(out, "nodes.x.role") == NULL, "%s", out);
		free(out);
	}
}
END_TEST

/*
 * Commands.
 */

/* Each row: words, args and help, a handler (but watch, ctl.c's). */
START_TEST(test_rows_complete)
{
	const struct cmd	*rows[64];
	int			 n, i;

	n = rows_of(_i, rows, 64);
	for (i = 0; i < n; i++) {
		const struct cmd *c = rows[i];

		ck_assert_msg(c->words[0] != '\0', "%s: empty words",
		    roles[_i].name);
		ck_assert_ptr_nonnull(c->args);
		ck_assert_msg(c->help != NULL && c->help[0] != '\0',
		    "%s: %s has no help", roles[_i].name, c->words);
		ck_assert_msg(c->min >= 0 && c->min <= c->max,
		    "%s: %s: counts %d..%d", roles[_i].name, c->words, c->min,
		    c->max);
		ck_assert_msg(c->max < 32, "%s: more words than ctl.c takes",
		    c->words);
		ck_assert_msg(c->fn != NULL || strcmp(c->words, "watch") == 0,
		    "%s: %s has no handler", roles[_i].name, c->words);
	}
	ck_assert_int_gt(n, 5);
}
END_TEST

/* Is c a row of every node's commands (node.c), not of a role's? */
static int
is_node_row(const struct cmd *c)
{
	const struct cmd	*r;

	for (r = node_cmds; r->words != NULL; r++)
		if (r == c)
			return 1;
	return 0;
}

/* Rows i..j of a role's list all take the same words. */
static int
in_one_block(const struct cmd *const *rows, int i, int j)
{
	int	k;

	for (k = i + 1; k <= j; k++)
		if (strcmp(rows[k]->words, rows[i]->words) != 0)
			return 0;
	return 1;
}

/*
 * No word in two commands: the rows that take a word follow each other in
 * their table (a role's may add one to a word of every node's, as desk's
 * "fault desktop ID ..."), have the same words, and their counts do not
 * overlap.
 */
START_TEST(test_no_word_twice)
{
	const struct cmd	*rows[64];
	char			 w1[32], w2[32];
	int			 n, i, j, k, l;

	n = rows_of(_i, rows, 64);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			for (k = 0; word_of(rows[i], k, w1, sizeof(w1)); k++)
				for (l = 0; word_of(rows[j], l, w2,
				    sizeof(w2)); l++) {
					if (strcmp(w1, w2) != 0)
						continue;
					ck_assert_msg(strcmp(rows[i]->words,
					    rows[j]->words) == 0 &&
					    (in_one_block(rows, i, j) ||
					    is_node_row(rows[i]) !=
					    is_node_row(rows[j])) &&
					    (rows[i]->max < rows[j]->min ||
					    rows[j]->max < rows[i]->min),
					    "%s: \"%s\" in rows %d and %d",
					    roles[_i].name, w1, i, j);
				}
}
END_TEST

/* Each word of each row, with each count it takes, finds that row. */
START_TEST(test_dispatch_reaches_row)
{
	const struct cmd	*tabs[3], *rows[64], *c;
	const char		*argv[40];
	char			 w[32], err[256];
	int			 n, i, k, cnt, a;

	tables_of(_i, tabs);
	n = rows_of(_i, rows, 64);
	for (i = 0; i < n; i++)
		for (k = 0; word_of(rows[i], k, w, sizeof(w)); k++)
			for (cnt = rows[i]->min; cnt <= rows[i]->max; cnt++) {
				argv[0] = w;
				for (a = 1; a <= cnt; a++)
					argv[a] = "x";
				err[0] = '\0';
				c = cmd_find(tabs, cnt + 1, argv, "n", err,
				    sizeof(err));
				ck_assert_msg(c == rows[i], "%s: \"%s\" with "
				    "%d words: %s", roles[_i].name, w, cnt,
				    c ? c->words : err);
				ck_assert_str_eq(err, "");
			}
}
END_TEST

static const struct {
	int		 role;
	const char	*argv[6];
	const char	*err;
} bad_cmds[] = {
	{ ROLE_PG, { "frobnicate" }, "unknown command \"frobnicate\" (n: "
	  "status, watch, events, fault, reload, help, cti, stop|start)" },
	{ ROLE_ROUTER, { "traffic", "on" }, "unknown command \"traffic\" "
	  "(n: status, watch, events, fault, reload, help, peripherals, "
	  "agents, intervals, tasks)" },
	{ ROLE_ACD, { "peripherals" }, "unknown command \"peripherals\" (n: "
	  "status, watch, events, fault, reload, help, agents, agent, "
	  "stop|start, traffic)" },
	{ ROLE_ACD, { "Agents" }, "unknown command \"Agents\" (n: status, "
	  "watch, events, fault, reload, help, agents, agent, stop|start, "
	  "traffic)" },
	{ ROLE_ACD, { "stop|start" }, "unknown command \"stop|start\" (n: "
	  "status, watch, events, fault, reload, help, agents, agent, "
	  "stop|start, traffic)" },
	{ ROLE_PG, { "" }, "unknown command \"\" (n: status, watch, events, "
	  "fault, reload, help, cti, stop|start)" },
	{ ROLE_PG, { "stop" }, "usage: stop|start cti-server|mr-pim|pim" },
	{ ROLE_PG, { "fault", "acd-link" },
	  "usage: fault LINK down|up|freeze|thaw" },
	{ ROLE_PG, { "status", "x" }, "usage: status" },
	{ ROLE_PG, { "watch", "x" }, "usage: watch" },
	{ ROLE_ROUTER, { "events", "1", "2" }, "usage: events [N]" },
	{ ROLE_ROUTER, { "intervals", "1", "2" }, "usage: intervals [N]" },
	{ ROLE_ACD, { "agent" }, "usage: agent ID; agent ID set STATE|auto" },
	{ ROLE_ACD, { "agent", "1", "set", "talking", "x" },
	  "usage: agent ID; agent ID set STATE|auto" },
	{ ROLE_ACD, { "start", "cti-manager" },
	  "usage: stop|start cti-manager primary|backup" },
	{ ROLE_ACD, { "traffic" }, "usage: traffic on|off; traffic rate N" },
	{ ROLE_APP, { "traffic" }, "usage: traffic on|off; traffic rate N" },
	{ ROLE_APP, { "new-task" }, "usage: new-task SELECTOR [COUNT]" },
	{ ROLE_APP, { "new-task", "Email", "1", "2" },
	  "usage: new-task SELECTOR [COUNT]" },
	{ ROLE_APP, { "agents" }, "unknown command \"agents\" (n: status, "
	  "watch, events, fault, reload, help, pending, tasks, traffic, "
	  "new-task)" },
};

/* Unknown words, and words whose count fits no row. */
START_TEST(test_bad_command)
{
	const struct cmd	*tabs[3];
	char			 err[256];
	int			 argc = 0;

	tables_of(bad_cmds[_i].role, tabs);
	while (argc < 6 && bad_cmds[_i].argv[argc] != NULL)
		argc++;
	ck_assert_ptr_null(cmd_find(tabs, argc, (const char **)
	    bad_cmds[_i].argv, "n", err, sizeof(err)));
	ck_assert_str_eq(err, bad_cmds[_i].err);
}
END_TEST

/* A word of 60 KiB: the error stays whole, with the valid words. */
START_TEST(test_long_word)
{
	const struct cmd	*tabs[3];
	char			*w = malloc(60000), err[256];
	const char		*argv[1] = { w };

	memset(w, 'y', 59999);
	w[59999] = '\0';
	tables_of(ROLE_ROUTER, tabs);
	ck_assert_ptr_null(cmd_find(tabs, 1, argv, "router", err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown command \"yyy"));
	ck_assert_ptr_nonnull(strstr(err, "\" (router: status, watch, events, "
	    "fault, reload, help, peripherals, agents, intervals, tasks)"));
	free(w);
}
END_TEST

/* cmd_json: every node's rows, then the role's, each with its role. */
START_TEST(test_json)
{
	const struct cmd	*rows[64];
	json_t			*j = cmd_json(_i), *all = cmd_json(-1), *e;
	char			 line[128];
	size_t			 i, nall = 0;
	int			 n = rows_of(_i, rows, 64), r;

	ck_assert_uint_eq(json_array_size(j), (size_t)n);
	json_array_foreach(j, i, e) {
		const struct cmd *c = rows[i];
		int		  common = (int)i < nrows(node_cmds);

		snprintf(line, sizeof(line), "%s%s%s", c->words,
		    c->args[0] ? " " : "", c->args);
		ck_assert_str_eq(json_string_value(json_object_get(e,
		    "command")), line);
		ck_assert_str_eq(json_string_value(json_object_get(e, "help")),
		    c->help);
		if (common)
			ck_assert(json_is_null(json_object_get(e, "role")));
		else
			ck_assert_str_eq(json_string_value(json_object_get(e,
			    "role")), roles[_i].name);
	}
	for (r = 0; r < ROLE_MAX; r++)
		nall += (size_t)nrows(roles[r].ops->cmds);
	ck_assert_uint_eq(json_array_size(all), nall +
	    (size_t)nrows(node_cmds));
	json_decref(j);
	json_decref(all);
}
END_TEST

/* A text of a stream in memory. */
static char *
printed(void (*fn)(FILE *, const json_t *), const json_t *j,
    void (*fn2)(FILE *))
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	if (fn != NULL)
		fn(f, j);
	else
		fn2(f);
	fclose(f);
	return buf;
}

/* The lists for people: sections, the help in its column. */
START_TEST(test_print)
{
	json_t	*j = cmd_json(ROLE_ACD);
	char	*s = printed(cmd_print, j, NULL), *h;

	ck_assert_str_eq(s,
	    "commands:\n"
	    "  status                     node, role, uptime, links, "
	    "counters\n"
	    "  watch                      events as they happen, until ^C\n"
	    "  events [N]                 the last N events (default 100)\n"
	    "  fault LINK down|up|freeze|thaw\n"
	    "                             cut, restore, hang or release a "
	    "link\n"
	    "  reload                     re-read the lab file\n"
	    "  help                       the node's commands, what each "
	    "does\n"
	    "acd commands:\n"
	    "  agents                     the ACD's agents and their states\n"
	    "  agent ID                   one agent\n"
	    "  agent ID set STATE|auto    drive an agent by hand, or give "
	    "it back\n"
	    "  stop|start cti-manager primary|backup\n"
	    "                             a CTI Manager endpoint "
	    "(failover)\n"
	    "  traffic on|off             the simulated calls\n"
	    "  traffic rate N             calls a second of the simulated "
	    "traffic, live\n");
	free(s);
	json_decref(j);
	j = cmd_json(ROLE_PG);
	s = printed(cmd_print, j, NULL);
	ck_assert_ptr_nonnull(strstr(s, "pg commands:\n"
	    "  cti                        the CTI server: active or standby "
	    "and why, its sessions\n"
	    "  stop|start cti-server|mr-pim|pim\n"
	    "                             the CTI server, the MR PIM or the "
	    "voice PIM: the other side's takes over\n"));
	free(s);
	json_decref(j);
	/* A reply that is not ours prints what it can. */
	j = json_pack("[{s:s}, {s:i}, {s:s, s:s, s:n}]", "command", "x",
	    "command", 1, "command", "ok", "help", "fine", "role");
	s = printed(cmd_print, j, NULL);
	ck_assert_str_eq(s, "commands:\n  ok                         fine\n");
	free(s);
	json_decref(j);

	h = printed(NULL, NULL, cmd_help);
	ck_assert_ptr_nonnull(strstr(h, "router commands:\n  peripherals "));
	ck_assert_ptr_nonnull(strstr(h, "acd commands:\n  agents "));
	ck_assert_ptr_nonnull(strstr(h, "pg commands:\n  cti "));
	ck_assert_ptr_nonnull(strstr(h, "  pg      one side of the duplex "
	    "PG, with its PIM\n"
	    "          links: router-link, acd-link, private-link, mr-link\n"));
	free(h);
}
END_TEST

/* The roff list: words bold, placeholders italic, hyphens escaped. */
START_TEST(test_man)
{
	char	*s = printed(NULL, NULL, cmd_man);

	ck_assert_ptr_nonnull(strstr(s, ".SS Every node\n.TP\n\\fBstatus\\fP\n"
	    "Node, role, uptime, links, counters.\n"));
	ck_assert_ptr_nonnull(strstr(s, ".TP\n\\fBfault\\fP \\fILINK\\fP "
	    "\\fBdown\\fP|\\fBup\\fP|\\fBfreeze\\fP|\\fBthaw\\fP\n"));
	ck_assert_ptr_nonnull(strstr(s, ".TP\n\\fBreload\\fP\nRe\\-read the "
	    "lab file.\n"));
	ck_assert_ptr_nonnull(strstr(s, ".SS \"A node of role acd\"\n"));
	ck_assert_ptr_nonnull(strstr(s, "\\fBstop\\fP|\\fBstart\\fP "
	    "\\fBcti\\-manager\\fP \\fBprimary\\fP|\\fBbackup\\fP\n"));
	ck_assert_ptr_nonnull(strstr(s, "\\fBevents\\fP [\\fIN\\fP]\n"));
	ck_assert_ptr_nonnull(strstr(s, ".SS \"A node of role pg\"\nOne side "
	    "of the duplex PG, with its PIM.\n.TP\n\\fBcti\\fP\n"));
	ck_assert_ptr_null(strstr(s, "\n\n"));
	free(s);
}
END_TEST

/*
 * Messages.
 */

/* A good message of type, as its sender encodes it. */
static void
sample(uint32_t type, struct wire_writer *w)
{
	struct msg_pg_status	 st;
	struct msg_grant	 g;
	struct msg_periph_offline o;
	struct msg_interval	 iv;
	struct msg_discard	 d;
	struct msg_epoch	 e;
	struct msg_set_agent	 sa;
	struct msg_desktop_login dl;
	struct msg_desktop_welcome dw;
	struct msg_desktop_state ds;
	struct msg_agent	 ag;
	struct msg_task		 tk;
	uint32_t		 f[IVL_NFIELDS] = { 0 };

	memset(&ag, 0, sizeof(ag));
	switch (type) {
	case MSG_PG_STATUS:
		memset(&st, 0, sizeof(st));
		st.side = 'A';
		msg_pg_status_encode(w, &st);
		break;
	case MSG_GRANT:
		memset(&g, 0, sizeof(g));
		g.epoch = 1;
		g.reason = GRANT_FIRST;
		msg_grant_encode(w, &g);
		break;
	case MSG_AGENT_STATES:
	case MSG_ACD_AGENTS:
	case MSG_PEER_AGENTS:
		msg_agents_begin(w, type, 5000, 1, AGENTS_CHANGE, 1, 1);
		msg_agent_put(w, &ag);
		break;
	case MSG_PERIPH_OFFLINE:
		memset(&o, 0, sizeof(o));
		o.rule = RULE_R2;
		msg_offline_encode(w, &o);
		break;
	case MSG_INTERVAL:
		memset(&iv, 0, sizeof(iv));
		iv.count = 1;
		iv.side = 'A';
		iv.length = 1800;
		msg_interval_begin(w, &iv);
		msg_interval_row(w, 1001, 2, f);
		break;
	case MSG_DISCARD:
		memset(&d, 0, sizeof(d));
		d.side = 'A';
		msg_discard_encode(w, &d);
		break;
	case MSG_ACD_SET_AGENT:
		memset(&sa, 0, sizeof(sa));
		msg_set_agent_encode(w, &sa);
		break;
	case MSG_DESKTOP_LOGIN:
		memset(&dl, 0, sizeof(dl));
		dl.agent = 1001;
		dl.state = AS_AVAILABLE;
		dl.nmrds = 1;
		dl.mrds[0] = 1;
		msg_desktop_login_encode(w, &dl);
		break;
	case MSG_DESKTOP_WELCOME:
		memset(&dw, 0, sizeof(dw));
		snprintf(dw.server, sizeof(dw.server), "desk-a");
		msg_desktop_welcome_encode(w, &dw);
		break;
	case MSG_DESKTOP_STATE:
	case MSG_DESKTOP_SET_STATE:
		memset(&ds, 0, sizeof(ds));
		ds.state = AS_NOT_READY;
		msg_desktop_state_encode(w, type, &ds);
		break;
	case MSG_MR_NEW_TASK:
	case MSG_MR_DO_THIS_WITH_TASK:
	case MSG_MR_NEW_TASK_FAILURE:
	case MSG_MR_ROUTING_ENABLED:
	case MSG_MR_ROUTING_DISABLED:
	case MSG_ROUTE_TASK:
	case MSG_ROUTE_RESULT:
	case MSG_PRECALL:
	case MSG_TASK_EVENT:
		memset(&tk, 0, sizeof(tk));
		tk.peripheral = 5001;
		snprintf(tk.selector, sizeof(tk.selector), "Email");
		msg_task_encode(w, type, &tk);
		break;
	case MSG_PEER_SET_AGENT:
		memset(&sa, 0, sizeof(sa));
		sa.peripheral = 5000;
		sa.mrd = 2;	/* its largest: with a non-voice MRD */
		msg_peer_set_agent_encode(w, &sa);
		break;
	case MSG_PEER_TASK:
	case MSG_PEER_TASK_CACHE:
		memset(&tk, 0, sizeof(tk));
		tk.code = TASK_EV_OFFER;
		msg_task_encode(w, type, &tk);
		break;
	default:			/* the msg_epoch ones */
		memset(&e, 0, sizeof(e));
		msg_epoch_encode(w, type, &e);
		break;
	}
}

START_TEST(test_msg_rows)
{
	const struct role_msg	*tab = roles[_i].ops->msgs, *rm, *rn;
	struct wire_writer	 w;
	struct wire_msg		 m;
	union msg_body		 b;
	char			 err[160];
	int			 n = 0, k;

	for (rm = tab; rm->type != 0; rm++, n++) {
		ck_assert_ptr_nonnull(rm->decode);
		ck_assert_ptr_nonnull(rm->fn);
		ck_assert_msg(wire_type_info(rm->type) != NULL, "%s: type "
		    "0x%x unknown to wire.c", roles[_i].name, rm->type);
		ck_assert_int_lt(rm->kind, LINK_KIND_MAX);
		for (rn = tab; rn < rm; rn++)
			ck_assert_msg(rn->type != rm->type ||
			    rn->kind != rm->kind, "%s: %s twice on %s links",
			    roles[_i].name, wire_type_name(rm->type),
			    link_kind_names[rm->kind]);
		ck_assert_ptr_eq(role_msg_find(tab, rm->type, rm->kind), rm);
		for (k = 0; k < LINK_KIND_MAX; k++)
			if (k != (int)rm->kind)
				ck_assert_ptr_ne(role_msg_find(tab, rm->type,
				    (enum link_kind)k), rm);
		/* Its decoder takes its type; a body cut short is bad. */
		sample(rm->type, &w);
		ck_assert_int_eq(wire_end(&w, WIRE_DEFAULT_MAX_BODY, &m), 0);
		ck_assert_uint_eq(m.type, rm->type);
		err[0] = '\0';
		ck_assert_msg(rm->decode(&m, &b, err, sizeof(err)) == 0,
		    "%s: %s: %s", roles[_i].name, wire_type_name(rm->type),
		    err);
		m.len = 3;
		ck_assert_int_eq(rm->decode(&m, &b, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, wire_type_name(rm->type)));
		wire_writer_free(&w);
	}
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_null(role_msg_find(tab, MSG_HELLO, LINK_KIND_ROUTER));
	ck_assert_ptr_null(role_msg_find(tab, 0x7777, LINK_KIND_ACD));
	ck_assert_ptr_null(role_msg_find(NULL, MSG_GRANT, LINK_KIND_ROUTER));
}
END_TEST

/* Which messages each role takes, on which links. */
static const struct {
	const struct role_ops *ops;
	uint32_t	 type;
	enum link_kind	 kind;
	int		 taken;
} routes[] = {
	{ &pg_ops, MSG_GRANT, LINK_KIND_ROUTER, 1 },
	{ &pg_ops, MSG_GRANT, LINK_KIND_ACD, 0 },
	{ &pg_ops, MSG_PEER_STATE, LINK_KIND_PRIVATE, 1 },
	{ &pg_ops, MSG_PEER_STATE, LINK_KIND_ROUTER, 0 },
	{ &pg_ops, MSG_PEER_AGENTS, LINK_KIND_PRIVATE, 1 },
	{ &pg_ops, MSG_PEER_AGENTS, LINK_KIND_ROUTER, 0 },
	{ &pg_ops, MSG_PEER_SET_AGENT, LINK_KIND_PRIVATE, 1 },
	{ &pg_ops, MSG_PEER_SET_AGENT, LINK_KIND_ACD, 0 },
	{ &pg_ops, MSG_PEER_TASK, LINK_KIND_PRIVATE, 1 },
	{ &pg_ops, MSG_PEER_TASK, LINK_KIND_ROUTER, 0 },
	{ &pg_ops, MSG_PEER_TASK_CACHE, LINK_KIND_PRIVATE, 1 },
	{ &pg_ops, MSG_PEER_TASK_CACHE, LINK_KIND_ROUTER, 0 },
	{ &acd_ops, MSG_PEER_SET_AGENT, LINK_KIND_ACD, 0 },
	{ &pg_ops, MSG_PIM_FENCED, LINK_KIND_ACD, 1 },
	{ &pg_ops, MSG_PIM_ACTIVATE, LINK_KIND_ACD, 0 },
	{ &acd_ops, MSG_PIM_ACTIVATE, LINK_KIND_ACD, 1 },
	{ &acd_ops, MSG_PG_STATUS, LINK_KIND_ACD, 0 },
	{ &router_ops, MSG_DISCARD, LINK_KIND_ROUTER, 1 },
	{ &router_ops, MSG_GRANT, LINK_KIND_ROUTER, 0 },
	{ &router_ops, MSG_HELLO, LINK_KIND_ROUTER, 0 },
	{ &pg_ops, MSG_PIM_ACCEPT, LINK_KIND_MR, 1 },
	{ &pg_ops, MSG_PIM_FENCED, LINK_KIND_MR, 1 },
	{ &pg_ops, MSG_MR_NEW_TASK, LINK_KIND_MR, 1 },
	{ &pg_ops, MSG_MR_NEW_TASK, LINK_KIND_ROUTER, 0 },
	{ &pg_ops, MSG_ROUTE_RESULT, LINK_KIND_ROUTER, 1 },
	{ &pg_ops, MSG_PRECALL, LINK_KIND_ROUTER, 1 },
	{ &pg_ops, MSG_PRECALL, LINK_KIND_MR, 0 },
	{ &router_ops, MSG_ROUTE_TASK, LINK_KIND_ROUTER, 1 },
	{ &router_ops, MSG_TASK_EVENT, LINK_KIND_ROUTER, 1 },
	{ &router_ops, MSG_MR_NEW_TASK, LINK_KIND_ROUTER, 0 },
	{ &desk_ops, MSG_DESKTOP_LOGIN, LINK_KIND_SESSION, 1 },
	{ &desk_ops, MSG_DESKTOP_SET_STATE, LINK_KIND_SESSION, 1 },
	{ &desk_ops, MSG_DESKTOP_STATE, LINK_KIND_SESSION, 0 },
	{ &agents_ops, MSG_DESKTOP_STATE, LINK_KIND_DESKTOP, 1 },
	{ &agents_ops, MSG_DESKTOP_WELCOME, LINK_KIND_DESKTOP, 1 },
	{ &agents_ops, MSG_DESKTOP_SET_STATE, LINK_KIND_DESKTOP, 0 },
	{ &app_ops, MSG_PIM_ACTIVATE, LINK_KIND_MR, 1 },
	{ &app_ops, MSG_PIM_ACTIVATE, LINK_KIND_ACD, 0 },
	{ &app_ops, MSG_MR_DO_THIS_WITH_TASK, LINK_KIND_MR, 1 },
	{ &app_ops, MSG_MR_NEW_TASK_FAILURE, LINK_KIND_MR, 1 },
	{ &app_ops, MSG_MR_ROUTING_ENABLED, LINK_KIND_MR, 1 },
	{ &app_ops, MSG_MR_ROUTING_DISABLED, LINK_KIND_MR, 1 },
	{ &app_ops, MSG_MR_NEW_TASK, LINK_KIND_MR, 0 },
	{ &acd_ops, MSG_MR_DO_THIS_WITH_TASK, LINK_KIND_MR, 0 },
};

START_TEST(test_msg_route)
{
	const struct role_msg *rm = role_msg_find(routes[_i].ops->msgs,
	    routes[_i].type, routes[_i].kind);

	ck_assert_msg((rm != NULL) == routes[_i].taken, "%s on %s: %s",
	    wire_type_name(routes[_i].type),
	    link_kind_names[routes[_i].kind], rm ? "taken" : "not taken");
}
END_TEST

static Suite *
tables_suite(void)
{
	Suite	*s = suite_create("tables");
	TCase	*tc;

	tc = tcase_create("registry");
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_lab_roles);
	suite_add_tcase(s, tc);
	tc = tcase_create("commands");
	tcase_add_loop_test(tc, test_rows_complete, 0, ROLE_MAX);
	tcase_add_loop_test(tc, test_no_word_twice, 0, ROLE_MAX);
	tcase_add_loop_test(tc, test_dispatch_reaches_row, 0, ROLE_MAX);
	tcase_add_loop_test(tc, test_bad_command, 0,
	    (int)(sizeof(bad_cmds) / sizeof(bad_cmds[0])));
	tcase_add_test(tc, test_long_word);
	tcase_add_loop_test(tc, test_json, 0, ROLE_MAX);
	tcase_add_test(tc, test_print);
	tcase_add_test(tc, test_man);
	suite_add_tcase(s, tc);
	tc = tcase_create("messages");
	tcase_add_loop_test(tc, test_msg_rows, 0, ROLE_MAX);
	tcase_add_loop_test(tc, test_msg_route, 0,
	    (int)(sizeof(routes) / sizeof(routes[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(tables_suite(), CK_NORMAL);
}
