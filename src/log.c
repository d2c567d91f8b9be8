/*
 * Logging, OpenBSD-shaped: stderr in the foreground (-f), syslog (ident
 * pgemud, facility daemon) otherwise.  Every line starts with the node name.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "pgemu.h"

static int	 log_fg = 1;
static int	 log_verb;
static char	 log_nodename[PGEMU_NAME_MAX] = "pgemud";

void
log_init(int foreground, int verbose)
{
	log_fg = foreground;
	log_verb = verbose;
	if (!log_fg)
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

int
log_verbose(void)
{
	return log_verb;
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
		fprintf(stderr, "%s.%03ld %s: %s\n", tbuf,
		    ts.tv_nsec / 1000000, log_nodename, msg);
		fflush(stderr);
	} else
		syslog(pri, "%s: %s", log_nodename, msg);
	errno = saved;
}

static void
log_pri(int pri, const char *fmt, va_list ap)
{
	log_vmsg(pri, fmt, ap);
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
	log_pri(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_pri(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verb)
		return;
	va_start(ap, fmt);
	log_pri(LOG_DEBUG, fmt, ap);
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
	log_warnx("fatal: %s: %s", buf, strerror(saved));
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
	log_warnx("fatal: %s", buf);
	exit(1);
}

/* Make bytes from a peer safe to log: printable ASCII, the rest as \xNN. */
void
log_escape(char *out, size_t outlen, const void *in, size_t inlen)
{
	const unsigned char *p = in;
	size_t	 o = 0, i;

	if (outlen == 0)
		return;
	for (i = 0; i < inlen && o + 5 < outlen; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
			    p[i]);
	}
	out[o] = '\0';
}
