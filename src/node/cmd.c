/*
 * Control commands as tables (struct cmd): the commands of every node
 * (node.c's node_cmds) and those of each role (role_ops.cmds).  One
 * lookup serves the node's control socket; the same rows give the
 * errors that name the valid words, a node's "help", pgemuctl's help and
 * usage, and the command list of pgemuctl(1).
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "pgemu.h"

/* Column of the help text in the lists for people. */
#define CMD_HELP_COL	29

/* Does the row take w for its first word ("stop|start": either)? */
int
cmd_word_is(const struct cmd *c, const char *w)
{
	return choice_ok(c->words, w);
}

/* The row as people type it: "fault LINK down|up|freeze|thaw". */
static void
cmd_line(const struct cmd *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", c->words, c->args[0] ? " " : "",
	    c->args);
}

/* Is c the second of two rows of the same words? */
static int
cmd_same_as_previous(const struct cmd *tab, const struct cmd *c)
{
	return c > tab && strcmp(c[-1].words, c->words) == 0;
}

/* "usage: " and every row that takes word, into err. */
void
cmd_usage(const struct cmd *const *tabs, const char *word, char *err,
    size_t errlen)
{
	const struct cmd *const *t;
	const struct cmd	*c;
	char			 line[128];
	size_t			 o;
	int			 n = 0;

	o = (size_t)snprintf(err, errlen, "usage:");
	for (t = tabs; *t != NULL; t++)
		for (c = *t; c->words != NULL && o < errlen; c++) {
			if (!cmd_word_is(c, word))
				continue;
			cmd_line(c, line, sizeof(line));
			o += (size_t)snprintf(err + o, errlen - o, "%s %s",
			    n++ ? ";" : "", line);
		}
}

/*
 * The row of tabs (a NULL-terminated list of tables) that argv selects:
 * its first word and the count of the words after it.  NULL, with the
 * error in err: an unknown word (naming node's words), or one whose words
 * fit none of its rows (their usage).
 */
const struct cmd *
cmd_find(const struct cmd *const *tabs, int argc, const char **argv,
    const char *node, char *err, size_t errlen)
{
	const struct cmd *const *t;
	const struct cmd	*c;
	int			 named = 0, n = 0;
	size_t			 o;

	for (t = tabs; argc > 0 && *t != NULL; t++)
		for (c = *t; c->words != NULL; c++) {
			if (!cmd_word_is(c, argv[0]))
				continue;
			named = 1;
			if (argc - 1 >= c->min && argc - 1 <= c->max)
				return c;
		}
	if (named) {
		cmd_usage(tabs, argv[0], err, errlen);
		return NULL;
	}
	o = (size_t)snprintf(err, errlen, "unknown command \"%.64s\" (%s:",
	    argc > 0 ? argv[0] : "", node);
	for (t = tabs; *t != NULL; t++)
		for (c = *t; c->words != NULL && o < errlen; c++)
			if (!cmd_same_as_previous(*t, c))
				o += (size_t)snprintf(err + o, errlen - o,
				    "%s %s", n++ ? "," : "", c->words);
	if (o < errlen)
		snprintf(err + o, errlen - o, ")");
	return NULL;
}

static void
cmd_json_add(json_t *a, const struct cmd *tab, const char *role)
{
	const struct cmd	*c;
	char			 line[128];

	for (c = tab; c != NULL && c->words != NULL; c++) {
		cmd_line(c, line, sizeof(line));
		json_array_append_new(a, json_pack("{s:s, s:s, s:s?}",
		    "command", line, "help", c->help, "role", role));
	}
}

/*
 * The commands of a node of role (ROLE_*), or of every role (-1): every
 * node's ("role": null), then the role's, each {command, help, role}.
 */
json_t *
cmd_json(int role)
{
	json_t	*a = json_array();
	int	 r;

	cmd_json_add(a, node_cmds, NULL);
	for (r = 0; r < ROLE_MAX; r++)
		if (role == -1 || role == r)
			cmd_json_add(a, roles[r].ops->cmds, roles[r].name);
	return a;
}

static void
cmd_print_row(FILE *fp, const char *left, const char *right)
{
	if (left == NULL || right == NULL)	/* not a reply of ours */
		return;
	if (strlen(left) + 3 <= CMD_HELP_COL)
		fprintf(fp, "  %-*s%s\n", CMD_HELP_COL - 2, left, right);
	else
		fprintf(fp, "  %s\n%*s%s\n", left, CMD_HELP_COL, "", right);
}

/*
 * A list of cmd_json() for people: "commands:" (every node's), "ROLE
 * commands:" (a role's), a line each, the help in a column.
 */
void
cmd_print(FILE *fp, const json_t *cmds)
{
	const char	*role, *prev = "";
	const json_t	*c;
	size_t		 i;

	json_array_foreach(cmds, i, c) {
		role = json_string_value(json_object_get(c, "role"));
		if (i == 0 || (role == NULL) != (prev == NULL) ||
		    (role != NULL && strcmp(role, prev) != 0))
			fprintf(fp, "%s%scommands:\n", role ? role : "",
			    role ? " " : "");
		prev = role;
		cmd_print_row(fp, json_string_value(json_object_get(c,
		    "command")), json_string_value(json_object_get(c,
		    "help")));
	}
}

/* pgemuctl help: every command of every role, then the roles. */
void
cmd_help(FILE *fp)
{
	json_t	*cmds = cmd_json(-1);
	char	 links[128];
	int	 r;

	cmd_print(fp, cmds);
	json_decref(cmds);
	fprintf(fp, "roles (nodes.NAME.role in the lab file), their links "
	    "for fault:\n");
	for (r = 0; r < ROLE_MAX; r++) {
		fprintf(fp, "  %-7s %s%s\n", roles[r].name, roles[r].help,
		    roles[r].ops->cmds ? "" : "; no commands of its own");
		snprintf(links, sizeof(links), "links: %s", roles[r].links);
		fprintf(fp, "  %-7s %s\n", "", links);
	}
}

/* A help text as a line of roff: a sentence, never a request. */
static void
cmd_man_sentence(FILE *fp, const char *s)
{
	char	first[2] = { (char)toupper((unsigned char)s[0]), '\0' };

	if (*s == '\0')
		return;
	if (*s == '.' || *s == '\'')
		fputs("\\&", fp);
	man_text(fp, first);
	man_text(fp, s + 1);
	fputs(".\n", fp);
}

/*
 * A command line in roff: its words bold, its placeholders (upper case)
 * italic, the punctuation ("|", "[", "]", " ") roman.
 */
static void
cmd_man_line(FILE *fp, const char *line)
{
	const char	*p = line;
	char		 word[64];
	size_t		 n;

	while (*p != '\0') {
		if (strchr("|[] ", *p) != NULL) {
			fputc(*p++, fp);
			continue;
		}
		n = strcspn(p, "|[] ");
		snprintf(word, sizeof(word), "%.*s", (int)n, p);
		fputs(isupper((unsigned char)word[0]) ? "\\fI" : "\\fB", fp);
		man_text(fp, word);
		fputs("\\fP", fp);
		p += n;
	}
	fputc('\n', fp);
}

static void
cmd_man_table(FILE *fp, const struct cmd *tab)
{
	const struct cmd	*c;
	char			 line[128];

	for (c = tab; c != NULL && c->words != NULL; c++) {
		cmd_line(c, line, sizeof(line));
		fputs(".TP\n", fp);
		cmd_man_line(fp, line);
		cmd_man_sentence(fp, c->help);
	}
}

/* The command list of pgemuctl(1) (pgemuctl --commands-man). */
void
cmd_man(FILE *fp)
{
	int	r;

	fputs(".SS Every node\n", fp);
	cmd_man_table(fp, node_cmds);
	for (r = 0; r < ROLE_MAX; r++) {
		fprintf(fp, ".SS \"A node of role %s\"\n", roles[r].name);
		cmd_man_sentence(fp, roles[r].help);
		if (roles[r].ops->cmds == NULL)
			fputs("It has the commands of every node only.\n", fp);
		cmd_man_table(fp, roles[r].ops->cmds);
	}
}
