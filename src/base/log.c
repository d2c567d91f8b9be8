/*
 * Logging, OpenBSD-shaped: stderr in the foreground (-f), syslog (ident
 * pgemud, facility daemon) otherwise, and under systemd the journal, with
 * the same ident and facility plus structured fields (NODE, EVENT, RULE,
 * PERIPHERAL, AGENT, ...) that journald forwards to syslog as one line.
 * Every line starts with the node name.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <ctype.h>
#include <sys/uio.h>

#include <systemd/sd-journal.h>

#include "pgemu.h"

static int	 log_journal;
static int	 log_fg = 1;
static int	 log_verb;
static char	 log_nodename[PGEMU_NAME_MAX] = "pgemud";

void
log_init(int foreground, int verbose)
{
	log_fg = foreground;
	log_verb = verbose;
	/* systemd connects our output to the journal: talk to it directly. */
	log_journal = !log_fg && getenv("JOURNAL_STREAM") != NULL;
	if (!log_fg && !log_journal)
		openlog("pgemud", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_set_node(const char *name)
{
	snprintf(log_nodename, sizeof(log_nodename), "%s", name);
}

const char *
log_node(void)
{
	return log_nodename;
}

/*
 * On the standard error a message at warning or error says so; fatal
 * messages (critical) say "fatal" themselves, the rest nothing.
 */
static const char *
log_level_word(int pri)
{
	switch (pri) {
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	default:
		return "";
	}
}

void
log_vmsg(int pri, const char *fmt, va_list ap)
{
	char	 msg[2048];
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_fg) {
		struct timespec	ts;
		struct tm	tm;
		char		tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s: %s%s\n", tbuf,
		    ts.tv_nsec / 1000000, log_nodename, log_level_word(pri),
		    msg);
		fflush(stderr);
	} else if (log_journal)
		log_journal_send(pri, msg, NULL);
	else
		syslog(pri, "%s: %s", log_nodename, msg);
	errno = saved;
}

/*
 * One journal entry: the syslog-compatible fields, then every scalar
 * field of the event, its name in capitals (PERIPHERAL=5000, RULE=R5).
 */
void
log_journal_send(int pri, const char *msg, json_t *fields)
{
	struct iovec	 iov[40];
	char		*bufs[40];
	int		 n = 0, i;
	const char	*key;
	json_t		*v;

	if (!log_journal)
		return;
	xasprintf(&bufs[n++], "MESSAGE=%s: %s", log_nodename, msg);
	xasprintf(&bufs[n++], "PRIORITY=%d", pri);
	xasprintf(&bufs[n++], "SYSLOG_IDENTIFIER=pgemud");
	xasprintf(&bufs[n++], "SYSLOG_FACILITY=%d", LOG_DAEMON >> 3);
	xasprintf(&bufs[n++], "SYSLOG_PID=%d", (int)getpid());
	xasprintf(&bufs[n++], "NODE=%s", log_nodename);
	json_object_foreach(fields, key, v) {
		char	name[48];
		size_t	k;

		if (n >= 40 || strcmp(key, "message") == 0 ||
		    strcmp(key, "node") == 0 || strcmp(key, "time") == 0 ||
		    strcmp(key, "seq") == 0)
			continue;
		for (k = 0; key[k] != '\0' && k < sizeof(name) - 1; k++)
			name[k] = isalnum((unsigned char)key[k]) ?
			    (char)toupper((unsigned char)key[k]) : '_';
		name[k] = '\0';
		if (json_is_string(v))
			xasprintf(&bufs[n++], "%s=%s", name,
			    json_string_value(v));
		else if (json_is_integer(v))
			xasprintf(&bufs[n++], "%s=%lld", name,
			    (long long)json_integer_value(v));
		else if (json_is_boolean(v))
			xasprintf(&bufs[n++], "%s=%d", name, json_is_true(v));
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = strlen(bufs[i]);
	}
	sd_journal_sendv(iov, n);
	for (i = 0; i < n; i++)
		free(bufs[i]);
}

int
log_to_journal(void)
{
	return log_journal;
}

/* A message at a priority of syslog(3), LOG_ERR to LOG_DEBUG. */
void
log_msg(int pri, const char *fmt, ...)
{
	va_list	ap;

	if (pri == LOG_DEBUG && !log_verb)
		return;
	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap);
	va_end(ap);
}

/*
 * Lines of one cause, at most per_second in a second: 1 if this one may be
 * logged.  The first line of a new second says how many were suppressed
 * in the last (through log_msg at pri, with the cause's words).
 */
int
log_rate_ok(struct log_rate *r, int per_second, int pri, const char *what)
{
	uint64_t	now = mono_ms();

	if (now - r->window_ms >= 1000) {
		if (r->suppressed > 0)
			log_msg(pri, "%s: %llu more line%s of this kind "
			    "suppressed in the last second (at most %d a "
			    "second)", what, (unsigned long long)r->suppressed,
			    r->suppressed == 1 ? "" : "s", per_second);
		r->window_ms = now;
		r->count = 0;
		r->suppressed = 0;
	}
	if (per_second > 0 && r->count >= per_second) {
		r->suppressed++;
		r->total_suppressed++;
		return 0;
	}
	r->count++;
	return 1;
}

void
log_warn(const char *fmt, ...)
{
	char	 buf[1536];
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", buf, strerror(saved));
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verb)
		return;
	va_start(ap, fmt);
	log_vmsg(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

__dead void
fatal(const char *fmt, ...)
{
	char	 buf[1536];
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_CRIT, "fatal: %s: %s", buf, strerror(saved));
	exit(1);
}

__dead void
fatalx(const char *fmt, ...)
{
	char	 buf[1536];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_CRIT, "fatal: %s", buf);
	exit(1);
}

/* A message about a link, prefixed as every link's are: "link NAME: ". */
static void
log_link_vmsg(int pri, const struct link *l, const char *fmt, va_list ap)
{
	char	 buf[1536];
	int	 saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_msg(pri, "link %s: %s", l->name, buf);
	errno = saved;
}

void
log_link_warnx(const struct link *l, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_link_vmsg(LOG_WARNING, l, fmt, ap);
	va_end(ap);
}

void
log_link_info(const struct link *l, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_link_vmsg(LOG_INFO, l, fmt, ap);
	va_end(ap);
}

void
log_link_debug(const struct link *l, const char *fmt, ...)
{
	va_list	ap;

	if (!log_verb)
		return;
	va_start(ap, fmt);
	log_link_vmsg(LOG_DEBUG, l, fmt, ap);
	va_end(ap);
}
