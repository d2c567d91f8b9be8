/*
 * Check tests of the rules table (src/rules/rules.c): every event the sources
 * emit has a priority there (the sources, found through PGEMU_SRCDIR, are
 * scanned for evt_emit() calls), the key events have the priorities the
 * documentation gives, the triggers name only known events and rules, and
 * evt_emit() logs each event at its priority.
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "pgemu.h"
#include "check_run.h"

#define MAX_NAMES	256

struct emitted {
	char	 name[64];
	char	 where[300];		/* file:line */
};

static struct emitted	 emitted[MAX_NAMES];
static int		 nemitted;

/* A file's text with its comments blanked out; NULL if unreadable. */
static char *
source_text(const char *path)
{
	FILE	*fp;
	char	*s;
	long	 n;
	size_t	 i;
	char	 q = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	s = xmalloc((size_t)n + 1);
	s[fread(s, 1, (size_t)n, fp)] = '\0';
	fclose(fp);
	for (i = 0; s[i] != '\0'; i++) {
		if (q != 0) {			/* in a literal */
			if (s[i] == '\\' && s[i + 1] != '\0')
				i++;
			else if (s[i] == q)
				q = 0;
		} else if (s[i] == '"' || s[i] == '\'')
			q = s[i];
		else if (s[i] == '/' && s[i + 1] == '*') {
			for (; s[i] != '\0' && !(s[i] == '*' &&
			    s[i + 1] == '/'); i++)
				if (s[i] != '\n')
					s[i] = ' ';
			if (s[i] != '\0')
				s[i] = s[i + 1] = ' ';
		} else if (s[i] == '/' && s[i + 1] == '/')
			for (; s[i] != '\0' && s[i] != '\n'; i++)
				s[i] = ' ';
	}
	return s;
}

/*
 * Every string literal of the second argument of each evt_emit() call
 * (the event's name; "up ? \"a\" : \"b\"" gives both) into emitted[].
 * A call whose name holds no literal is recorded with an empty name.
 */
static void
scan_calls(const char *file, const char *s)
{
	const char	*p, *q;
	int		 depth, arg, found, line;
	const char	 call[] = "evt_emit(";

	for (p = s; (p = strstr(p, call)) != NULL; p += sizeof(call) - 1) {
		if ((p > s && (p[-1] == '_' ||
		    isalnum((unsigned char)p[-1]))) ||
		    strncmp(p + sizeof(call) - 1, "int ", 4) == 0)
			continue;	/* another name, or the definition */
		for (line = 1, q = s; q < p; q++)
			line += *q == '\n';
		depth = 0;
		arg = 0;
		found = 0;
		for (q = p + sizeof(call) - 1; *q != '\0' && arg < 2; q++) {
			if (*q == '(')
				depth++;
			else if (*q == ')' && depth-- == 0)
				break;
			else if (*q == ',' && depth == 0)
				arg++;
			else if (*q == '"' || *q == '\'') {
				const char	*b = q + 1;
				char		 c = *q;

				for (q++; *q != '\0' && *q != c; q++)
					if (*q == '\\' && q[1] != '\0')
						q++;
				if (c == '"' && arg == 1 &&
				    nemitted < MAX_NAMES) {
					snprintf(emitted[nemitted].name,
					    sizeof(emitted[0].name), "%.*s",
					    (int)(q - b), b);
					snprintf(emitted[nemitted].where,
					    sizeof(emitted[0].where), "%s:%d",
					    file, line);
					nemitted++;
					found = 1;
				}
				if (*q == '\0')
					break;
			}
		}
		if (!found && nemitted < MAX_NAMES) {
			emitted[nemitted].name[0] = '\0';
			snprintf(emitted[nemitted].where,
			    sizeof(emitted[0].where), "%s:%d", file, line);
			nemitted++;
		}
	}
}

/* Scan the C files of dir (rel below src/) and of its folders; how many. */
static int
scan_dir(const char *dir, const char *rel)
{
	char		 path[PGEMU_PATH_MAX * 2], sub[PGEMU_PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		*text;
	size_t		 n;
	int		 files = 0;

	ck_assert_msg((d = opendir(dir)) != NULL, "cannot open %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
		    de->d_name);
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			files += scan_dir(path, sub);
			continue;
		}
		n = strlen(de->d_name);
		if (n < 3 || strcmp(de->d_name + n - 2, ".c") != 0)
			continue;
		ck_assert_msg((text = source_text(path)) != NULL,
		    "cannot read %s", path);
		scan_calls(sub, text);
		free(text);
		files++;
	}
	closedir(d);
	return files;
}

/* Scan every C file under $PGEMU_SRCDIR/src once. */
static void
scan_sources(void)
{
	const char	*srcdir = getenv("PGEMU_SRCDIR");
	char		 dir[PGEMU_PATH_MAX];
	int		 files;

	if (nemitted > 0)
		return;
	ck_assert_msg(srcdir != NULL, "PGEMU_SRCDIR is not set");
	snprintf(dir, sizeof(dir), "%s/src", srcdir);
	files = scan_dir(dir, "");
	ck_assert_msg(files > 5, "only %d C files in %s", files, dir);
	ck_assert_int_lt(nemitted, MAX_NAMES);
}

START_TEST(test_every_event_has_a_priority)
{
	int	i;

	scan_sources();
	/* The scan itself works: names from ternaries, link.c, listen.c. */
	ck_assert_int_gt(nemitted, 25);
	for (i = 0; i < nemitted; i++) {
		ck_assert_msg(emitted[i].name[0] != '\0', "%s: evt_emit() "
		    "with no string literal for the event's name: the rules "
		    "table cannot be checked", emitted[i].where);
		ck_assert_msg(rule_event(emitted[i].name) != NULL,
		    "%s: event \"%s\" is not in the rules table (src/rules/rules.c:"
		    " rule_events): give it its priority", emitted[i].where,
		    emitted[i].name);
	}
}
END_TEST

START_TEST(test_every_priority_is_used)
{
	size_t	i;
	int	j, used;

	scan_sources();
	for (i = 0; i < rule_nevents; i++) {
		for (used = 0, j = 0; j < nemitted && !used; j++)
			used = strcmp(emitted[j].name,
			    rule_events[i].name) == 0;
		ck_assert_msg(used, "rules table: no source emits \"%s\"",
		    rule_events[i].name);
	}
}
END_TEST

/* What pgemud(8), pgemu-failover(7) and docs/failover.md promise. */
static const struct {
	const char	*event;
	int		 pri;
} key_pris[] = {
	{ "data_discarded",	LOG_WARNING },
	{ "peripheral_offline",	LOG_WARNING },
	{ "agents_logged_out",	LOG_WARNING },
	{ "pim_lost",		LOG_WARNING },
	{ "pim_fenced",		LOG_WARNING },
	{ "pim_refused",	LOG_WARNING },
	{ "peer_lost",		LOG_WARNING },
	{ "cti_manager_stopped", LOG_WARNING },
	{ "pim_granted",	LOG_NOTICE },
	{ "pim_active",		LOG_NOTICE },
	{ "peripheral_online",	LOG_NOTICE },
	{ "agents_relogin",	LOG_NOTICE },
	{ "config_reloaded",	LOG_NOTICE },
	{ "interval_stored",	LOG_INFO },
};

START_TEST(test_key_priority)
{
	ck_assert_msg(rule_event_pri(key_pris[_i].event, NULL) ==
	    key_pris[_i].pri, "%s: priority %s, the documentation says %s",
	    key_pris[_i].event, rule_pri_name(rule_event_pri(
	    key_pris[_i].event, NULL)), rule_pri_name(key_pris[_i].pri));
}
END_TEST

/* A link_state event is a loss when a link that was up goes down. */
static const struct {
	const char	*from, *to, *cause;
	int		 pri;
} link_pris[] = {
	{ "UP",		"IDLE",		"CLOSED",	LOG_WARNING },
	{ "UP",		"BACKOFF",	"HOLD_EXPIRED",	LOG_WARNING },
	{ "UP",		"ADMIN_DOWN",	"FAULT_DOWN",	LOG_WARNING },
	{ "FROZEN",	"FROZEN_LOST",	"HOLD_EXPIRED",	LOG_WARNING },
	{ "UP",		"IDLE",		"STOP",		LOG_NOTICE },
	{ "UP",		"FROZEN",	"FAULT_FREEZE",	LOG_NOTICE },
	{ "HELLO",	"UP",		"HELLO",	LOG_NOTICE },
	{ "CONNECT",	"BACKOFF",	"TCP_FAIL",	LOG_NOTICE },
	{ "IDLE",	"CONNECT",	"START",	LOG_NOTICE },
};

START_TEST(test_link_state_priority)
{
	json_t	*f = json_pack("{s:s, s:s, s:s}", "from", link_pris[_i].from,
	    "to", link_pris[_i].to, "cause", link_pris[_i].cause);

	ck_assert_msg(rule_event_pri("link_state", f) == link_pris[_i].pri,
	    "link_state %s -> %s (%s): %s", link_pris[_i].from,
	    link_pris[_i].to, link_pris[_i].cause,
	    rule_pri_name(rule_event_pri("link_state", f)));
	json_decref(f);
}
END_TEST

START_TEST(test_tables)
{
	size_t	 i, j, k, l;
	int	 n;

	for (i = 0; i < rule_nevents; i++) {
		ck_assert_str_ne(rule_pri_name(rule_events[i].pri), "?");
		if (i > 0)
			ck_assert_msg(strcmp(rule_events[i - 1].name,
			    rule_events[i].name) < 0, "rule_events not sorted "
			    "at %s", rule_events[i].name);
		if (rule_events[i].raise != NULL)
			ck_assert(rule_events[i].raised_when != NULL &&
			    strcmp(rule_pri_name(rule_events[i].raised_pri),
			    "?") != 0);
	}
	ck_assert_ptr_null(rule_event("no_such_event"));
	ck_assert_int_eq(rule_event_pri("no_such_event", NULL), LOG_NOTICE);
	for (i = 0; i < rule_ntriggers; i++) {
		const struct rule_trigger *t = &rule_triggers[i];

		ck_assert(t->id != NULL && t->name != NULL && t->how != NULL);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(rule_triggers[j].id, t->id);
		for (k = 0; k < RN_MAX; k++) {
			for (n = 0, l = 0; l < RULE_STEPS_MAX &&
			    t->steps[k][l].event != NULL; l++, n++) {
				ck_assert_msg(rule_event(t->steps[k][l].event)
				    != NULL, "trigger %s: %s emits unknown "
				    "event %s", t->id, rule_node_names[k],
				    t->steps[k][l].event);
				ck_assert_msg(t->steps[k][l].rule >= 1 &&
				    t->steps[k][l].rule <= 23, "trigger %s: "
				    "rule %d", t->id, t->steps[k][l].rule);
			}
			/* Room for the end of the list. */
			ck_assert_int_lt(n, RULE_STEPS_MAX);
		}
	}
	ck_assert_int_eq(rules_doc(stdout, "triggers", "pdf"), -1);
	ck_assert_int_eq(rules_doc(stdout, "everything", "man"), -1);
}
END_TEST

/* What evt_emit() logged on the standard error (-f), "" if nothing. */
static char *
emit_logged(int rule, const char *name)
{
	static char	 buf[4096];
	FILE		*tmp = tmpfile();
	int		 saved = dup(STDERR_FILENO);
	size_t		 n;

	ck_assert(tmp != NULL && saved != -1);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	evt_emit(rule, name, NULL, "test event %s", name);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

START_TEST(test_evt_logs_at_priority)
{
	log_init(1, 0);
	log_set_node("t");
	ck_assert_ptr_nonnull(strstr(emit_logged(1, "data_discarded"),
	    " t: warning: [R1] test event data_discarded\n"));
	ck_assert_ptr_nonnull(strstr(emit_logged(2, "peripheral_offline"),
	    " t: warning: [R2] test event peripheral_offline\n"));
	ck_assert_ptr_nonnull(strstr(emit_logged(5, "pim_granted"),
	    " t: [R5] test event pim_granted\n"));
	ck_assert_ptr_nonnull(strstr(emit_logged(RULE_NONE,
	    "interval_stored"), " t: test event interval_stored\n"));
	evt_clear();
}
END_TEST

static Suite *
events_suite(void)
{
	Suite	*s = suite_create("events");
	TCase	*tc;

	tc = tcase_create("priorities");
	tcase_add_test(tc, test_every_event_has_a_priority);
	tcase_add_test(tc, test_every_priority_is_used);
	tcase_add_loop_test(tc, test_key_priority, 0,
	    sizeof(key_pris) / sizeof(key_pris[0]));
	tcase_add_loop_test(tc, test_link_state_priority, 0,
	    sizeof(link_pris) / sizeof(link_pris[0]));
	tcase_add_test(tc, test_tables);
	tcase_add_test(tc, test_evt_logs_at_priority);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(events_suite(), CK_NORMAL);
}
