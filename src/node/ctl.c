/*
 * The control socket: a UNIX stream socket per node, DIR/NODE.sock, mode
 * 0660.  Each frame is a 4-byte big-endian length and a JSON object.
 *
 *   request  {"argv": ["fault", "acd-link", "down"]}
 *   reply    {"ok": true, "data": ...} or {"ok": false, "error": "..."}
 *
 * "watch" turns the connection into a stream of {"event": {...}} frames.
 * A bad frame gets an error reply naming the problem and closes that one
 * client; a watcher that stops reading is dropped once its backlog passes
 * CTL_MAX_BACKLOG.  At most control.max_clients are served at once: one
 * more gets an error reply and is closed (logged once per burst); a
 * client that does not watch and sends nothing for control.idle_ms is
 * closed.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/listener.h>

#include "pgemu.h"

#define CTL_MAX_BACKLOG		(4 * 1024 * 1024)
#define CTL_MAX_REQUESTS	16	/* per wakeup: the loop goes on */
#define CTL_PROBE_MS		2000	/* another pgemud: its status */
#define CTL_PROBE_RETRY_MS	20	/* a connection closed: again */

struct ctl_client {
	struct ctl		*ctl;
	struct bufferevent	*bev;
	char			 who[64];
	int			 watching;
	int			 closing;
	int			 busy;	/* in ctl_read_cb: free later */
	int			 dead;
	LIST_ENTRY(ctl_client)	 entry;
};

struct ctl {
	struct event_base	*base;
	struct evconnlistener	*evl;
	char			 path[PGEMU_PATH_MAX];
	struct event		*ev_rearm;
	ctl_dispatch_cb		 dispatch;
	void			*arg;
	LIST_HEAD(, ctl_client)	 clients;
	int			 max_clients;
	struct timeval		 idle;
	unsigned int		 nrefused;	/* in this burst */
};

static void
ctl_client_free(struct ctl_client *c)
{
	if (c->busy) {		/* its own request is running: later */
		c->dead = 1;
		c->closing = 1;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	LIST_REMOVE(c, entry);
	bufferevent_free(c->bev);
	free(c);
}

static void
ctl_write(struct ctl_client *c, json_t *j)
{
	char		*s = json_dumps(j, JSON_COMPACT);
	size_t		 n;
	uint8_t		 hdr[4];

	if (s == NULL || c->dead)
		return;
	n = strlen(s);
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	bufferevent_write(c->bev, hdr, 4);
	bufferevent_write(c->bev, s, n);
	free(s);
}

/*
 * An error reply, {"ok": false, "error": err} (NULL only out of memory).
 * An error that is not valid UTF-8 (a parser's words cut inside a
 * character, say) goes with its other bytes as '?'.
 */
json_t *
ctl_error_reply(const char *err)
{
	char	 safe[512];
	size_t	 i;
	json_t	*j = json_pack("{s:b, s:s}", "ok", 0, "error", err);

	if (j == NULL) {
		for (i = 0; err[i] != '\0' && i < sizeof(safe) - 1; i++)
			safe[i] = (unsigned char)err[i] < 0x80 ? err[i] : '?';
		safe[i] = '\0';
		j = json_pack("{s:b, s:s}", "ok", 0, "error", safe);
	}
	return j;
}

static void
ctl_reply_error(struct ctl_client *c, const char *err)
{
	json_t	*j = ctl_error_reply(err);

	ctl_write(c, j);
	json_decref(j);
}

/* After the last byte is written, close: used for a bad request. */
static void
ctl_close_after_write(struct ctl_client *c)
{
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		ctl_client_free(c);
}

/*
 * A frame's length from its 4-byte big-endian header; -1 and why if it is
 * not 1..CTL_MAX_FRAME (the client is told and closed).
 */
int
ctl_frame_len(const uint8_t *hdr, uint32_t *len, char *err, size_t errlen)
{
	*len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (*len != 0 && *len <= CTL_MAX_FRAME)
		return 0;
	snprintf(err, errlen, "bad frame length %u (1..%d)", *len,
	    CTL_MAX_FRAME);
	return -1;
}

/*
 * A request's words: the frame's text, {"argv": ["word", ...]}, parsed
 * into *req (the caller's to json_decref, also on failure) with its
 * words in args (CTL_MAX_ARGS of them at most, pointing into *req).  The
 * number of words; CTL_REQ_BAD if it is no request (the client is closed
 * for it) or CTL_REQ_REFUSED if it asks for nothing or too much (the
 * client is only told), with why in err.
 */
int
ctl_request_parse(const char *text, size_t len, json_t **req,
    const char **args, char *err, size_t errlen)
{
	json_t		*argv;
	json_error_t	 jerr;
	size_t		 i, n;

	*req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*req == NULL || !json_is_object(*req) ||
	    !json_is_array(argv = json_object_get(*req, "argv"))) {
		snprintf(err, errlen, "bad request: %s", *req == NULL ?
		    jerr.text : "expected {\"argv\": [...]}");
		return CTL_REQ_BAD;
	}
	n = json_array_size(argv);
	if (n == 0 || n > CTL_MAX_ARGS) {
		snprintf(err, errlen, "%s", n == 0 ? "no command" :
		    "too many words");
		return CTL_REQ_REFUSED;
	}
	for (i = 0; i < n; i++) {
		if (!json_is_string(json_array_get(argv, i))) {
			snprintf(err, errlen, "bad request: argv holds a "
			    "non-string");
			return CTL_REQ_BAD;
		}
		args[i] = json_string_value(json_array_get(argv, i));
	}
	return (int)n;
}

static void
ctl_handle(struct ctl_client *c, const char *text, size_t len)
{
	json_t			*req, *reply;
	const char		*args[CTL_MAX_ARGS];
	struct ctl_cmd_result	 res;
	char			 err[300];
	int			 n;

	if ((n = ctl_request_parse(text, len, &req, args, err,
	    sizeof(err))) < 0) {
		ctl_reply_error(c, err);
		if (n == CTL_REQ_BAD) {
			log_warnx("control: %s: %s", c->who, err);
			ctl_close_after_write(c);
		}
		json_decref(req);
		return;
	}
	memset(&res, 0, sizeof(res));
	if (strcmp(args[0], "watch") == 0 && n == 1) {
		c->watching = 1;
		bufferevent_set_timeouts(c->bev, NULL, NULL);	/* not idle */
		res.data = json_pack("{s:b}", "watching", 1);
	} else if (c->ctl->dispatch(c->ctl->arg, n, args, &res) == -1) {
		ctl_reply_error(c, res.err[0] ? res.err : "failed");
		json_decref(res.data);
		json_decref(req);
		return;
	}
	reply = json_pack("{s:b, s:o}", "ok", 1, "data",
	    res.data ? res.data : json_null());
	ctl_write(c, reply);
	json_decref(reply);
	json_decref(req);
}

static void
ctl_read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_client	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	uint8_t			 hdr[4];
	uint32_t		 len;
	char			 err[100];
	int			 n = 0;

	c->busy = 1;
	while (!c->closing && evbuffer_get_length(in) >= 4) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) >
		    CTL_MAX_BACKLOG) {
			/* It does not read its replies. */
			if (c->watching) {
				log_warnx("control: %s: watcher not reading, "
				    "dropped", c->who);
				ctl_client_free(c);	/* deferred: busy */
			} else	/* ctl_write_cb() resumes it */
				bufferevent_disable(bev, EV_READ);
			break;
		}
		if (n++ == CTL_MAX_REQUESTS) {
			/* The rest on the next turn: heartbeats go first. */
			bufferevent_trigger(bev, EV_READ,
			    BEV_TRIG_DEFER_CALLBACKS |
			    BEV_TRIG_IGNORE_WATERMARKS);
			break;
		}
		evbuffer_copyout(in, hdr, 4);
		if (ctl_frame_len(hdr, &len, err, sizeof(err)) == -1) {
			log_warnx("control: %s: %s", c->who, err);
			ctl_reply_error(c, err);
			ctl_close_after_write(c);
			break;
		}
		if (evbuffer_get_length(in) < 4 + (size_t)len)
			break;
		ctl_handle(c, (const char *)evbuffer_pullup(in, 4 + len) + 4,
		    len);
		if (c->closing)
			break;
		evbuffer_drain(in, 4 + len);
	}
	c->busy = 0;
	if (c->dead)
		ctl_client_free(c);
}

static void
ctl_write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_client	*c = arg;

	size_t			 backlog;

	backlog = evbuffer_get_length(bufferevent_get_output(bev));
	if (c->closing && backlog == 0)
		ctl_client_free(c);
	else if (!c->closing && backlog <= CTL_MAX_BACKLOG / 2 &&
	    !(bufferevent_get_enabled(bev) & EV_READ)) {
		/* It read its replies: its requests again. */
		bufferevent_enable(bev, EV_READ);
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS |
		    BEV_TRIG_IGNORE_WATERMARKS);
	}
}

static void
ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_client	*c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("control: %s: idle for %ld ms, closed", c->who,
		    (long)c->ctl->idle.tv_sec * 1000 +
		    (long)c->ctl->idle.tv_usec / 1000);
	ctl_client_free(c);
}

/*
 * Is there room for one more client?  If not, it is told so and closed;
 * the first refusal of a burst is logged, and the count of the burst
 * once there is room again.
 */
static int
ctl_admit(struct ctl_client *c)
{
	struct ctl		*ctl = c->ctl;
	const struct ctl_client	*o;
	int			 n = 0;
	char			 err[160];

	LIST_FOREACH(o, &ctl->clients, entry)
		n += o != c && !o->closing;
	if (n < ctl->max_clients) {
		if (ctl->nrefused > 0)
			log_notice("control: room for clients again; %u "
			    "refused while %d were connected",
			    ctl->nrefused, ctl->max_clients);
		ctl->nrefused = 0;
		return 1;
	}
	if (ctl->nrefused++ == 0)
		log_warnx("control: %d clients connected, the limit "
		    "(control.max_clients): refusing more, first %s",
		    ctl->max_clients, c->who);
	snprintf(err, sizeof(err), "too many control clients (%d, "
	    "control.max_clients): try again later", ctl->max_clients);
	ctl_reply_error(c, err);
	bufferevent_set_timeouts(c->bev, NULL, &ctl->idle);
	ctl_close_after_write(c);
	return 0;
}

static void
ctl_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ctl		*ctl = arg;
	struct ctl_client	*c;
	struct ucred		 cred;
	socklen_t		 credlen = sizeof(cred);

	(void)evl;
	(void)sa;
	(void)salen;
	c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == 0)
		snprintf(c->who, sizeof(c->who), "client pid %ld uid %ld",
		    (long)cred.pid, (long)cred.uid);
	else
		snprintf(c->who, sizeof(c->who), "client fd %d", (int)fd);
	c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	LIST_INSERT_HEAD(&ctl->clients, c, entry);
	bufferevent_setcb(c->bev, ctl_read_cb, ctl_write_cb, ctl_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, CTL_MAX_BACKLOG / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (ctl_admit(c))
		bufferevent_set_timeouts(c->bev, &ctl->idle, NULL);
}

static void
ctl_rearm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl	*ctl = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(ctl->evl);
}

/* Out of descriptors: stop accepting for a second rather than spin. */
static void
ctl_error_cb(struct evconnlistener *evl, void *arg)
{
	struct ctl	*ctl = arg;
	struct timeval	 tv = { 1, 0 };

	log_warnx("control: accept: %s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(evl);
	evtimer_add(ctl->ev_rearm, &tv);
}

/*
 * n bytes from fd before the monotonic deadline (ms); -1 if not in time,
 * -2 if the other end closed first.
 */
static int
ctl_probe_read(int fd, void *buf, size_t n, uint64_t deadline)
{
	size_t		got = 0;
	ssize_t		r;
	struct pollfd	pfd;
	uint64_t	now;

	while (got < n) {
		if ((now = mono_ms()) >= deadline)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0 &&
		    errno != EINTR)
			return -1;
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) == 0)
			continue;
		if ((r = read(fd, (char *)buf + got, n - got)) <= 0)
			return -2;
		got += (size_t)r;
	}
	return 0;
}

/*
 * One try of ctl_probe(): 0 if nobody listens, 1 if the connection was
 * closed before a status (a process that was ending, or one that closes
 * what it accepts: try again), 2 and why if it gave no status in time,
 * -1 and why if one serves the node, or if the socket is not ours to use.
 */
static int
ctl_probe_once(const struct sockaddr_un *sun, const char *node,
    uint64_t deadline, char *err, size_t errlen)
{
	static const char	 req[] = "{\"argv\": [\"status\"]}";
	uint8_t			 hdr[4];
	char			*buf = NULL;
	uint32_t		 len;
	json_t			*j;
	int			 fd, e, rc, pid = 0;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == -1) {
		e = errno;
		close(fd);
		if (e != EACCES && e != EPERM)
			return 0;
		snprintf(err, errlen, "control socket %s: %s (a pgemud of "
		    "another user serves node %s?)", sun->sun_path,
		    strerror(e), node);
		return -1;
	}
	len = sizeof(req) - 1;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	if (send(fd, hdr, 4, MSG_NOSIGNAL) != 4 ||
	    send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		rc = -2;
	else
		rc = ctl_probe_read(fd, hdr, 4, deadline);
	if (rc == 0) {
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		if (len > 0 && len <= CTL_MAX_FRAME * 64) {
			buf = xmalloc(len);
			if (ctl_probe_read(fd, buf, len, deadline) == 0 &&
			    (j = json_loadb(buf, len, 0, NULL)) != NULL) {
				pid = (int)json_integer_value(json_object_get(
				    json_object_get(j, "data"), "pid"));
				json_decref(j);
			}
			free(buf);
		}
	}
	close(fd);
	if (rc == -2)
		return 1;
	if (pid > 0) {
		snprintf(err, errlen, "another pgemud serves node %s (control "
		    "socket %s answers, pid %d)", node, sun->sun_path, pid);
		return -1;
	}
	snprintf(err, errlen, "control socket %s accepts connections but "
	    "gives no status within %d s: a stopped pgemud still serves node "
	    "%s?", sun->sun_path, CTL_PROBE_MS / 1000, node);
	return 2;
}

/*
 * Does a pgemud serve this node already?  0 if nobody answers at the
 * socket (none, or one left behind by a process that ended); -1 and why
 * if one does, or if the socket is not ours to use.  The one that answers
 * is asked for its status, to name its pid.  A connection closed with no
 * answer is tried again until the deadline: a process killed a moment
 * ago (kill -9, then the node started at once) may have had it in its
 * backlog as it ended, and its socket refuses the next.  This runs before
 * the node binds or connects anything, so its peers never see a stray
 * connection.
 */
static int
ctl_probe(const struct sockaddr_un *sun, const char *node, char *err,
    size_t errlen)
{
	uint64_t	deadline = mono_ms() + CTL_PROBE_MS;
	int		rc, closed = 0;

	while ((rc = ctl_probe_once(sun, node, deadline, err, errlen)) == 1) {
		closed++;
		if (mono_ms() + CTL_PROBE_RETRY_MS >= deadline)
			break;
		usleep(CTL_PROBE_RETRY_MS * 1000);
	}
	/*
	 * Closed each time, or until the deadline came during the last try
	 * (the one that closes them slow to take it).
	 */
	if (rc == 1 || (rc == 2 && closed > 0)) {
		snprintf(err, errlen, "control socket %s accepts connections "
		    "but closes them with no status for %d s: another process "
		    "serves node %s?", sun->sun_path, CTL_PROBE_MS / 1000,
		    node);
		return -1;
	}
	return rc == 2 ? -1 : rc;
}

struct ctl *
ctl_new(struct event_base *base, const char *dir, const char *node,
    ctl_dispatch_cb dispatch, void *arg, char *err, size_t errlen)
{
	struct ctl		*ctl;
	struct sockaddr_un	 sun;
	mode_t			 old;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "control directory %s: cannot create "
		    "it: %s", dir, strerror(errno));
		return NULL;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock",
	    dir, node) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path %s/%s.sock is too "
		    "long", dir, node);
		return NULL;
	}
	if (ctl_probe(&sun, node, err, errlen) == -1)
		return NULL;
	unlink(sun.sun_path);
	ctl = xcalloc(1, sizeof(*ctl));
	LIST_INIT(&ctl->clients);
	ctl->base = base;
	ctl->dispatch = dispatch;
	ctl->arg = arg;
	ctl_set_limits(ctl, 64, 60000);
	snprintf(ctl->path, sizeof(ctl->path), "%s", sun.sun_path);
	old = umask(0117);
	ctl->evl = evconnlistener_new_bind(base, ctl_accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ctl->evl == NULL) {
		snprintf(err, errlen, "control socket %s: %s", sun.sun_path,
		    strerror(errno));
		free(ctl);
		return NULL;
	}
	chmod(sun.sun_path, 0660);
	evconnlistener_set_error_cb(ctl->evl, ctl_error_cb);
	ctl->ev_rearm = evtimer_new(base, ctl_rearm_cb, ctl);
	return ctl;
}

/* The client cap and the idle time (ms), also for the clients there. */
void
ctl_set_limits(struct ctl *ctl, int max_clients, int idle_ms)
{
	struct ctl_client	*c;

	ctl->max_clients = max_clients;
	ctl->idle.tv_sec = idle_ms / 1000;
	ctl->idle.tv_usec = (idle_ms % 1000) * 1000;
	LIST_FOREACH(c, &ctl->clients, entry)
		if (!c->watching && !c->closing)
			bufferevent_set_timeouts(c->bev, &ctl->idle, NULL);
}

int
ctl_nwatchers(const struct ctl *ctl)
{
	const struct ctl_client	*c;
	int			 n = 0;

	LIST_FOREACH(c, &ctl->clients, entry)
		n += c->watching && !c->closing;
	return n;
}

const char *
ctl_path(const struct ctl *ctl)
{
	return ctl->path;
}

/* An event to every watcher; one that cannot keep up is dropped. */
void
ctl_publish(struct ctl *ctl, json_t *event)
{
	struct ctl_client	*c, *next;
	json_t			*frame = json_pack("{s:O}", "event", event);

	for (c = LIST_FIRST(&ctl->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (!c->watching || c->closing || c->dead)
			continue;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    CTL_MAX_BACKLOG) {
			log_warnx("control: %s: watcher not reading, dropped",
			    c->who);
			ctl_client_free(c);
			continue;
		}
		ctl_write(c, frame);
	}
	json_decref(frame);
}

/*
 * The node stops: what its last turn of the loop wrote to each watcher
 * (a resigning side's last events) goes out first, as far as the socket
 * takes it without blocking.
 */
void
ctl_free(struct ctl *ctl)
{
	struct ctl_client	*c;
	struct evbuffer		*out;
	evutil_socket_t		 fd;

	if (ctl == NULL)
		return;
	LIST_FOREACH(c, &ctl->clients, entry) {
		out = bufferevent_get_output(c->bev);
		fd = bufferevent_getfd(c->bev);
		if (!c->watching || fd == -1)
			continue;
		/* Only the bufferevent drains it, unless we thaw it. */
		evbuffer_unfreeze(out, 1);
		while (evbuffer_get_length(out) > 0 &&
		    evbuffer_write(out, fd) > 0)
			;
	}
	while (!LIST_EMPTY(&ctl->clients))
		ctl_client_free(LIST_FIRST(&ctl->clients));
	evconnlistener_free(ctl->evl);
	if (ctl->ev_rearm != NULL)
		event_free(ctl->ev_rearm);
	unlink(ctl->path);
	free(ctl);
}
