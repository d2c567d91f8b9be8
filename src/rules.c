/*
 * The rules table, in one place: every event a node emits, with the
 * priority it is logged at (notice for state changes, warning for losses
 * and offline, err for what needs a person, info for routine records);
 * evt_emit() looks it up.  pgemud(8) and docs/failover.md print it
 * (pgemud --rules-man, --rules-md; tests/t_man.sh keeps them equal).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "pgemu.h"

/* A link that was up went down, and not because its own node stops. */
static int
link_lost(const json_t *f)
{
	const char	*from, *to, *cause;

	from = json_string_value(json_object_get(f, "from"));
	to = json_string_value(json_object_get(f, "to"));
	cause = json_string_value(json_object_get(f, "cause"));
	if (from == NULL || to == NULL || cause == NULL)
		return 0;
	return (strcmp(from, "UP") == 0 || strcmp(from, "FROZEN") == 0) &&
	    strcmp(to, "UP") != 0 && strcmp(to, "FROZEN") != 0 &&
	    strcmp(cause, "STOP") != 0;
}

/* Sorted by name. */
const struct rule_event rule_events[] = {
	{ "agents_logged_out",	LOG_WARNING, NULL, 0, NULL },
	{ "agents_relogin",	LOG_NOTICE, NULL, 0, NULL },
	{ "agents_snapshot",	LOG_NOTICE, NULL, 0, NULL },
	{ "config_reloaded",	LOG_NOTICE, NULL, 0, NULL },
	{ "cti_manager_started", LOG_NOTICE, NULL, 0, NULL },
	{ "cti_manager_stopped", LOG_WARNING, NULL, 0, NULL },
	{ "data_discarded",	LOG_WARNING, NULL, 0, NULL },
	{ "interval_stored",	LOG_INFO, NULL, 0, NULL },
	{ "link_state",		LOG_NOTICE, link_lost, LOG_WARNING,
	    "a link that was up goes down" },
	{ "logout_reason",	LOG_NOTICE, NULL, 0, NULL },
	{ "peer_lost",		LOG_WARNING, NULL, 0, NULL },
	{ "peripheral_offline",	LOG_WARNING, NULL, 0, NULL },
	{ "peripheral_online",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_accepted",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_activating",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_active",		LOG_NOTICE, NULL, 0, NULL },
	{ "pim_adopted",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_fenced",		LOG_WARNING, NULL, 0, NULL },
	{ "pim_granted",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_lost",		LOG_WARNING, NULL, 0, NULL },
	{ "pim_recovering",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_refused",	LOG_WARNING, NULL, 0, NULL },
	{ "pim_released",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_resigning",	LOG_NOTICE, NULL, 0, NULL },
};
const size_t rule_nevents = sizeof(rule_events) / sizeof(rule_events[0]);

static const struct {
	int		 pri;
	const char	*name;
	const char	*what;
} rule_pris[] = {
	{ LOG_ERR,	"err",		"what needs a person" },
	{ LOG_WARNING,	"warning",	"losses and offline" },
	{ LOG_NOTICE,	"notice",	"state changes" },
	{ LOG_INFO,	"info",		"routine records" },
};
#define RULE_NPRIS	(sizeof(rule_pris) / sizeof(rule_pris[0]))

const struct rule_event *
rule_event(const char *name)
{
	size_t	i;

	for (i = 0; i < rule_nevents; i++)
		if (strcmp(rule_events[i].name, name) == 0)
			return &rule_events[i];
	return NULL;
}

/* The priority an event is logged at; notice for one not in the table. */
int
rule_event_pri(const char *name, const json_t *fields)
{
	const struct rule_event	*re;

	if ((re = rule_event(name)) == NULL)
		return LOG_NOTICE;
	if (re->raise != NULL && fields != NULL && re->raise(fields))
		return re->raised_pri;
	return re->pri;
}

/* "warning" for LOG_WARNING, as syslog.conf(5) names priorities. */
const char *
rule_pri_name(int pri)
{
	size_t	i;

	for (i = 0; i < RULE_NPRIS; i++)
		if (rule_pris[i].pri == pri)
			return rule_pris[i].name;
	return "?";
}

/* Text for a man page: a minus is \-, a backslash \e. */
static void
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

/* The events at priority pri, as one list; 0 when there is none. */
static int
rules_pri_events(FILE *fp, int pri, int man)
{
	const struct rule_event	*re;
	size_t			 i;
	int			 n = 0;

	for (i = 0; i < rule_nevents; i++) {
		re = &rule_events[i];
		if (re->pri != pri && (re->raise == NULL ||
		    re->raised_pri != pri))
			continue;
		if (man)
			fprintf(fp, "%s\\fB\\%%%s\\fP", n ? ",\n" : "",
			    re->name);
		else
			fprintf(fp, "%s`%s`", n ? ", " : "", re->name);
		if (re->raise != NULL && re->raised_pri == pri) {
			fputs(" when ", fp);
			if (man)
				man_text(fp, re->raised_when);
			else
				fputs(re->raised_when, fp);
		} else if (re->raise != NULL)
			fputs(" otherwise", fp);
		n++;
	}
	if (n > 0 && man)
		fputs(".\n", fp);
	return n;
}

static void
rules_man_pris(FILE *fp)
{
	size_t	i;

	for (i = 0; i < RULE_NPRIS; i++) {
		fprintf(fp, ".TP\n.B %s\n", rule_pris[i].name);
		fprintf(fp, "%c%s:\n", rule_pris[i].what[0] - 'a' + 'A',
		    rule_pris[i].what + 1);
		if (rules_pri_events(fp, rule_pris[i].pri, 1) == 0)
			fputs("no event; log lines only.\n", fp);
	}
}

static void
rules_md_pris(FILE *fp)
{
	size_t	i;

	fputs("| priority | for | events |\n|---|---|---|\n", fp);
	for (i = 0; i < RULE_NPRIS; i++) {
		fprintf(fp, "| `%s` | %s | ", rule_pris[i].name,
		    rule_pris[i].what);
		if (rules_pri_events(fp, rule_pris[i].pri, 0) == 0)
			fputs("none (log lines only)", fp);
		fputs(" |\n", fp);
	}
}

/*
 * The documentation's generated parts: what is "priorities", format
 * "man" or "md".  -1 for an unknown one.
 */
int
rules_doc(FILE *fp, const char *what, const char *format)
{
	int	man;

	if (strcmp(format, "man") == 0)
		man = 1;
	else if (strcmp(format, "md") == 0)
		man = 0;
	else
		return -1;
	if (strcmp(what, "priorities") == 0) {
		if (man)
			rules_man_pris(fp);
		else
			rules_md_pris(fp);
	} else
		return -1;
	return 0;
}
