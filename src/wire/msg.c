/*
 * Encoders and checked decoders of pgemu's internal messages: PG side <->
 * router, PG side <-> PG side, PIM <-> ACD.  Layouts are in wire.h; every
 * decoder checks the fixed part, the counts against the length, and the
 * floating text, and names the message type in its error.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * The floating fields: the text (if text is not NULL), and where the
 * message may carry them (not NULL), the peripheral, the CTI server
 * flags, the MRD and the tasks handled (0 when absent).
 */
static int
msg_floats(struct wire_reader *r, const struct wire_msg *m, char *text,
    size_t textlen, uint32_t *periph, uint32_t *cti, uint32_t *mrd,
    uint32_t *handled, char *err, size_t errlen)
{
	const uint8_t	*data;
	uint16_t	 tag, len;
	uint32_t	*out;
	int		 rc;

	if (text != NULL)
		text[0] = '\0';
	if (periph != NULL)
		*periph = 0;
	if (cti != NULL)
		*cti = 0;
	if (mrd != NULL)
		*mrd = 0;
	if (handled != NULL)
		*handled = 0;
	while ((rc = wire_next_flt(r, &tag, &data, &len)) == 1) {
		if (tag == TAG_TEXT && text != NULL &&
		    wire_flt_string(data, len, text, textlen) == -1) {
			snprintf(err, errlen, "%s: text is not a valid string",
			    wire_type_name(m->type));
			return -1;
		}
		out = tag == TAG_PERIPHERAL ? periph : tag == TAG_CTI_SERVER ?
		    cti : tag == TAG_MRD ? mrd : tag == TAG_HANDLED ? handled :
		    NULL;
		if (out == NULL)
			continue;
		if (len != 4) {
			snprintf(err, errlen, "%s: %s field of %u bytes",
			    wire_type_name(m->type), tag == TAG_PERIPHERAL ?
			    "peripheral" : tag == TAG_MRD ? "MRD" :
			    tag == TAG_HANDLED ? "tasks handled" : "CTI server",
			    len);
			return -1;
		}
		*out = get32(data);
	}
	if (rc == -1) {
		snprintf(err, errlen, "%s: floating field runs past the end",
		    wire_type_name(m->type));
		return -1;
	}
	return 0;
}

/*
 * A grant's token among the floating fields after fixed bytes: 0 absent,
 * 1 found, -1 with err when it is not 32 bytes.
 */
static int
msg_token(const struct wire_msg *m, size_t fixed, uint8_t *token,
    int *has, char *err, size_t errlen)
{
	struct wire_reader r;
	const uint8_t	*data;
	uint16_t	 tag, len;

	*has = 0;
	wire_reader_init(&r, m);
	if (wire_skip(&r, fixed) == -1)
		return 0;
	while (wire_next_flt(&r, &tag, &data, &len) == 1) {
		if (tag != TAG_GRANT_TOKEN)
			continue;
		if (len != 32) {
			snprintf(err, errlen, "%s: grant token of %u bytes, "
			    "not 32", wire_type_name(m->type), len);
			return -1;
		}
		memcpy(token, data, 32);
		*has = 1;
	}
	return *has;
}

static int
msg_text(struct wire_reader *r, const struct wire_msg *m, char *text,
    size_t textlen, char *err, size_t errlen)
{
	return msg_floats(r, m, text, textlen, NULL, NULL, NULL, NULL, err,
	    errlen);
}

static int
msg_short(const struct wire_msg *m, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: fixed part truncated",
	    wire_type_name(m->type));
	return -1;
}

void
msg_agent_put(struct wire_writer *w, const struct msg_agent *a)
{
	uint8_t	b[MSG_AGENT_LEN];

	/* One copy a record: a snapshot has 100,000 of them. */
	put32(b, a->id);
	put16(b + 4, a->state);
	put16(b + 6, a->before_call);
	put32(b + 8, a->ms_in_state);
	put32(b + 12, (uint32_t)a->reason);
	put32(b + 16, a->mrd);
	wire_bytes(w, b, sizeof(b));
}

void
msg_agent_get(const uint8_t *p, struct msg_agent *a)
{
	a->id = get32(p);
	a->state = get16(p + 4);
	a->before_call = get16(p + 6);
	a->ms_in_state = get32(p + 8);
	a->reason = (int32_t)get32(p + 12);
	a->mrd = get32(p + 16);
}

/* AGENT_STATES or ACD_AGENTS header; count records must follow. */
void
msg_agents_begin(struct wire_writer *w, uint32_t type, uint32_t peripheral,
    uint32_t epoch, uint8_t kind, uint8_t last, uint16_t count)
{
	wire_begin(w, type);
	wire_reserve(w, 12 + (size_t)count * MSG_AGENT_LEN);
	wire_u32(w, peripheral);
	wire_u32(w, epoch);
	wire_u8(w, kind);
	wire_u8(w, last);
	wire_u16(w, count);
}

int
msg_agents_decode(const struct wire_msg *m, struct msg_agents *a, char *err,
    size_t errlen)
{
	struct wire_reader r;
	size_t		   i;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &a->peripheral) == -1 ||
	    wire_get_u32(&r, &a->epoch) == -1 ||
	    wire_get_u8(&r, &a->kind) == -1 ||
	    wire_get_u8(&r, &a->last) == -1 ||
	    wire_get_u16(&r, &a->count) == -1)
		return msg_short(m, err, errlen);
	if (a->kind < AGENTS_CHANGE || a->kind > AGENTS_RELOGIN) {
		snprintf(err, errlen, "%s: unknown kind %u",
		    wire_type_name(m->type), a->kind);
		return -1;
	}
	if (a->count > MSG_AGENTS_MAX ||
	    (size_t)a->count * MSG_AGENT_LEN != m->len - r.off) {
		snprintf(err, errlen, "%s: %u agents do not fit %u bytes",
		    wire_type_name(m->type), a->count, m->len);
		return -1;
	}
	a->recs = m->body + r.off;
	for (i = 0; i < a->count; i++) {
		uint16_t st = get16(a->recs + i * MSG_AGENT_LEN + 4);
		uint16_t bc = get16(a->recs + i * MSG_AGENT_LEN + 6);

		if (st > 14 || bc > 14) {
			snprintf(err, errlen, "%s: agent %u: bad state %u/%u",
			    wire_type_name(m->type),
			    get32(a->recs + i * MSG_AGENT_LEN), st, bc);
			return -1;
		}
	}
	return 0;
}

void
msg_pg_status_encode(struct wire_writer *w, const struct msg_pg_status *s)
{
	wire_begin(w, MSG_PG_STATUS);
	wire_u32(w, s->peripheral);
	wire_u8(w, s->side);
	wire_u8(w, s->acd_up);
	wire_u8(w, s->pim_active);
	wire_u8(w, s->resigning);
	wire_u32(w, s->epoch);
	wire_u32(w, s->peer_epoch);
	wire_u8(w, s->peer_up);
	if (s->has_token)
		wire_flt(w, TAG_GRANT_TOKEN, s->token, sizeof(s->token));
}

const char *const pim_state_names[PIM_STATE_MAX] = {
	"IDLE", "ACTIVATING", "ACTIVE", "RECOVERING"
};

int
msg_pg_status_decode(const struct wire_msg *m, struct msg_pg_status *s,
    char *err, size_t errlen)
{
	struct wire_reader r;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &s->peripheral) == -1 ||
	    wire_get_u8(&r, &s->side) == -1 ||
	    wire_get_u8(&r, &s->acd_up) == -1 ||
	    wire_get_u8(&r, &s->pim_active) == -1 ||
	    wire_get_u8(&r, &s->resigning) == -1 ||
	    wire_get_u32(&r, &s->epoch) == -1 ||
	    wire_get_u32(&r, &s->peer_epoch) == -1 ||
	    wire_get_u8(&r, &s->peer_up) == -1)
		return msg_short(m, err, errlen);
	if (s->side != 'A' && s->side != 'B') {
		snprintf(err, errlen, "PG_STATUS: bad side 0x%02x", s->side);
		return -1;
	}
	if (s->pim_active >= PIM_STATE_MAX) {
		snprintf(err, errlen, "PG_STATUS: bad PIM state %u",
		    s->pim_active);
		return -1;
	}
	if (msg_token(m, 17, s->token, &s->has_token, err, errlen) == -1)
		return -1;
	return 0;
}

void
msg_grant_encode(struct wire_writer *w, const struct msg_grant *g)
{
	wire_begin(w, MSG_GRANT);
	wire_u32(w, g->peripheral);
	wire_u32(w, g->epoch);
	wire_u32(w, g->reason);
	wire_flt_str(w, TAG_TEXT, g->text);
	if (g->has_token)
		wire_flt(w, TAG_GRANT_TOKEN, g->token, sizeof(g->token));
}

int
msg_grant_decode(const struct wire_msg *m, struct msg_grant *g, char *err,
    size_t errlen)
{
	struct wire_reader r;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &g->peripheral) == -1 ||
	    wire_get_u32(&r, &g->epoch) == -1 ||
	    wire_get_u32(&r, &g->reason) == -1)
		return msg_short(m, err, errlen);
	if (msg_token(m, 12, g->token, &g->has_token, err, errlen) == -1)
		return -1;
	return msg_text(&r, m, g->text, sizeof(g->text), err, errlen);
}

void
msg_offline_encode(struct wire_writer *w, const struct msg_periph_offline *o)
{
	wire_begin(w, MSG_PERIPH_OFFLINE);
	wire_u32(w, o->peripheral);
	wire_u32(w, o->epoch);
	wire_u32(w, o->rule);
	wire_u32(w, (uint32_t)o->reason_code);
	wire_flt_str(w, TAG_TEXT, o->text);
}

int
msg_offline_decode(const struct wire_msg *m, struct msg_periph_offline *o,
    char *err, size_t errlen)
{
	struct wire_reader r;
	uint32_t	   code;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &o->peripheral) == -1 ||
	    wire_get_u32(&r, &o->epoch) == -1 ||
	    wire_get_u32(&r, &o->rule) == -1 ||
	    wire_get_u32(&r, &code) == -1)
		return msg_short(m, err, errlen);
	o->reason_code = (int32_t)code;
	return msg_text(&r, m, o->text, sizeof(o->text), err, errlen);
}

/* INTERVAL header; i->count rows must follow (msg_interval_row). */
void
msg_interval_begin(struct wire_writer *w, const struct msg_interval *i)
{
	wire_begin(w, MSG_INTERVAL);
	wire_u32(w, i->peripheral);
	wire_u32(w, i->epoch);
	wire_u32(w, i->seq);
	wire_u32(w, i->start);
	wire_u32(w, i->length);
	wire_u8(w, i->incomplete);
	wire_u8(w, i->side);
	wire_u16(w, i->count);
}

void
msg_interval_row(struct wire_writer *w, uint32_t agent, uint32_t mrd,
    const uint32_t *fields)
{
	int	f;

	wire_u32(w, agent);
	wire_u32(w, mrd);
	for (f = 0; f < IVL_NFIELDS; f++)
		wire_u32(w, fields[f]);
}

void
msg_interval_row_get(const uint8_t *p, uint32_t *agent, uint32_t *mrd,
    uint32_t *fields)
{
	int	f;

	*agent = get32(p);
	*mrd = get32(p + 4);
	for (f = 0; f < IVL_NFIELDS; f++)
		fields[f] = get32(p + 8 + 4 * f);
}

/* INTERVAL's header, and rows of rowlen bytes after it. */
static int
msg_interval_get(const struct wire_msg *m, struct msg_interval *i,
    size_t rowlen, char *err, size_t errlen)
{
	struct wire_reader r;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &i->peripheral) == -1 ||
	    wire_get_u32(&r, &i->epoch) == -1 ||
	    wire_get_u32(&r, &i->seq) == -1 ||
	    wire_get_u32(&r, &i->start) == -1 ||
	    wire_get_u32(&r, &i->length) == -1 ||
	    wire_get_u8(&r, &i->incomplete) == -1 ||
	    wire_get_u8(&r, &i->side) == -1 ||
	    wire_get_u16(&r, &i->count) == -1)
		return msg_short(m, err, errlen);
	if ((size_t)i->count * rowlen != m->len - r.off) {
		snprintf(err, errlen, "INTERVAL: %u rows do not fit %u bytes",
		    i->count, m->len);
		return -1;
	}
	if (i->length == 0 || i->incomplete > 1) {
		snprintf(err, errlen, "INTERVAL: bad length %u or flag %u",
		    i->length, i->incomplete);
		return -1;
	}
	i->rows = m->body + r.off;
	return 0;
}

int
msg_interval_decode(const struct wire_msg *m, struct msg_interval *i,
    char *err, size_t errlen)
{
	return msg_interval_get(m, i, MSG_IVL_ROW_LEN, err, errlen);
}

/*
 * An INTERVAL of lab protocol 2 (its rows without their MRD), made again
 * in w (which the caller frees) with each row of that mrd; -1 with why
 * in err if m is not one.
 */
int
msg_interval_upgrade(const struct wire_msg *m, uint32_t mrd,
    struct wire_writer *w, char *err, size_t errlen)
{
	struct msg_interval	 iv;
	uint32_t		 f[IVL_NFIELDS];
	const uint8_t		*p;
	uint16_t		 i;
	int			 k;

	if (msg_interval_get(m, &iv, MSG_IVL_ROW_LEN_V2, err, errlen) == -1)
		return -1;
	msg_interval_begin(w, &iv);
	for (i = 0; i < iv.count; i++) {
		p = iv.rows + (size_t)i * MSG_IVL_ROW_LEN_V2;
		for (k = 0; k < IVL_NFIELDS; k++)
			f[k] = get32(p + 4 + 4 * k);
		msg_interval_row(w, get32(p), mrd, f);
	}
	return 0;
}

void
msg_discard_encode(struct wire_writer *w, const struct msg_discard *d)
{
	wire_begin(w, MSG_DISCARD);
	wire_u32(w, d->peripheral);
	wire_u32(w, d->seq);
	wire_u32(w, d->rule);
	wire_u32(w, d->interval_start);
	wire_u32(w, d->rows);
	wire_u32(w, d->intervals);
	wire_u8(w, d->side);
	wire_flt_str(w, TAG_TEXT, d->text);
}

int
msg_discard_decode(const struct wire_msg *m, struct msg_discard *d,
    char *err, size_t errlen)
{
	struct wire_reader r;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &d->peripheral) == -1 ||
	    wire_get_u32(&r, &d->seq) == -1 ||
	    wire_get_u32(&r, &d->rule) == -1 ||
	    wire_get_u32(&r, &d->interval_start) == -1 ||
	    wire_get_u32(&r, &d->rows) == -1 ||
	    wire_get_u32(&r, &d->intervals) == -1 ||
	    wire_get_u8(&r, &d->side) == -1)
		return msg_short(m, err, errlen);
	return msg_text(&r, m, d->text, sizeof(d->text), err, errlen);
}

void
msg_epoch_encode(struct wire_writer *w, uint32_t type,
    const struct msg_epoch *e)
{
	wire_begin(w, type);
	wire_u32(w, e->a);
	wire_u32(w, e->b);
	wire_u8(w, e->flags);
	if (e->peripheral != 0)
		wire_flt_u32(w, TAG_PERIPHERAL, e->peripheral);
	if (e->cti != 0)
		wire_flt_u32(w, TAG_CTI_SERVER, e->cti);
	if (e->text[0] != '\0')
		wire_flt_str(w, TAG_TEXT, e->text);
	if (e->has_token)
		wire_flt(w, TAG_GRANT_TOKEN, e->token, sizeof(e->token));
}

int
msg_epoch_decode(const struct wire_msg *m, struct msg_epoch *e, char *err,
    size_t errlen)
{
	struct wire_reader r;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &e->a) == -1 || wire_get_u32(&r, &e->b) == -1 ||
	    wire_get_u8(&r, &e->flags) == -1)
		return msg_short(m, err, errlen);
	if (msg_token(m, 9, e->token, &e->has_token, err, errlen) == -1)
		return -1;
	return msg_floats(&r, m, e->text, sizeof(e->text), &e->peripheral,
	    &e->cti, NULL, NULL, err, errlen);
}

static void
msg_set_agent_put(struct wire_writer *w, uint32_t type,
    const struct msg_set_agent *s)
{
	wire_begin(w, type);
	wire_u32(w, s->epoch);
	wire_u32(w, s->id);
	wire_u16(w, s->state);
	wire_u32(w, (uint32_t)s->reason);
}

void
msg_set_agent_encode(struct wire_writer *w, const struct msg_set_agent *s)
{
	msg_set_agent_put(w, MSG_ACD_SET_AGENT, s);
}

/* PEER_SET_AGENT: the same, with the peripheral and a non-voice MRD. */
void
msg_peer_set_agent_encode(struct wire_writer *w, const struct msg_set_agent *s)
{
	msg_set_agent_put(w, MSG_PEER_SET_AGENT, s);
	wire_flt_u32(w, TAG_PERIPHERAL, s->peripheral);
	if (s->mrd != 0)
		wire_flt_u32(w, TAG_MRD, s->mrd);
	if (s->handled != 0)
		wire_flt_u32(w, TAG_HANDLED, s->handled);
}

int
msg_set_agent_decode(const struct wire_msg *m, struct msg_set_agent *s,
    char *err, size_t errlen)
{
	struct wire_reader r;
	uint32_t	   reason;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &s->epoch) == -1 ||
	    wire_get_u32(&r, &s->id) == -1 ||
	    wire_get_u16(&r, &s->state) == -1 ||
	    wire_get_u32(&r, &reason) == -1)
		return msg_short(m, err, errlen);
	s->reason = (int32_t)reason;
	if (s->state > 14) {
		snprintf(err, errlen, "%s: bad state %u",
		    wire_type_name(m->type), s->state);
		return -1;
	}
	return msg_floats(&r, m, NULL, 0, &s->peripheral, NULL, &s->mrd,
	    &s->handled, err, errlen);
}

void
msg_desktop_login_encode(struct wire_writer *w,
    const struct msg_desktop_login *d)
{
	uint16_t	i;

	wire_begin(w, MSG_DESKTOP_LOGIN);
	wire_u32(w, d->agent);
	wire_u32(w, d->peripheral);
	wire_u16(w, d->state);
	wire_u16(w, d->flags);
	wire_u32(w, (uint32_t)d->reason);
	wire_u16(w, d->nmrds);
	for (i = 0; i < d->nmrds && i < DESKTOP_MRDS_MAX; i++)
		wire_u32(w, d->mrds[i]);
}

/* A state a desktop may be put in or ask for: a CTI AgentState. */
static int
msg_desktop_bad_state(const struct wire_msg *m, const char *what,
    uint16_t state, char *err, size_t errlen)
{
	if (state <= 14)
		return 0;
	snprintf(err, errlen, "%s: bad %s %u", wire_type_name(m->type), what,
	    state);
	return -1;
}

int
msg_desktop_login_decode(const struct wire_msg *m,
    struct msg_desktop_login *d, char *err, size_t errlen)
{
	struct wire_reader r;
	uint32_t	   reason;
	uint16_t	   i;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &d->agent) == -1 ||
	    wire_get_u32(&r, &d->peripheral) == -1 ||
	    wire_get_u16(&r, &d->state) == -1 ||
	    wire_get_u16(&r, &d->flags) == -1 ||
	    wire_get_u32(&r, &reason) == -1 ||
	    wire_get_u16(&r, &d->nmrds) == -1)
		return msg_short(m, err, errlen);
	d->reason = (int32_t)reason;
	if (d->nmrds > DESKTOP_MRDS_MAX ||
	    (size_t)d->nmrds * 4 != m->len - r.off) {
		snprintf(err, errlen, "DESKTOP_LOGIN: %u MRDs do not fit %u "
		    "bytes (at most %d)", d->nmrds, m->len, DESKTOP_MRDS_MAX);
		return -1;
	}
	for (i = 0; i < d->nmrds; i++)
		wire_get_u32(&r, &d->mrds[i]);
	/* LOGOUT (stay out), NOT_READY, AVAILABLE */
	if (d->state < 1 || d->state > 3) {
		snprintf(err, errlen, "DESKTOP_LOGIN: state %u is not logout "
		    "(1), not ready (2) or available (3)", d->state);
		return -1;
	}
	if (d->flags & ~DESKTOP_RELOGIN) {
		snprintf(err, errlen, "DESKTOP_LOGIN: unknown flags 0x%04x",
		    d->flags);
		return -1;
	}
	return 0;
}

void
msg_desktop_welcome_encode(struct wire_writer *w,
    const struct msg_desktop_welcome *d)
{
	wire_begin(w, MSG_DESKTOP_WELCOME);
	wire_u32(w, d->flags);
	wire_flt_str(w, TAG_NODE_NAME, d->server);
}

int
msg_desktop_welcome_decode(const struct wire_msg *m,
    struct msg_desktop_welcome *d, char *err, size_t errlen)
{
	struct wire_reader r;
	const uint8_t	  *data;
	uint16_t	   tag, len;
	int		   rc;

	wire_reader_init(&r, m);
	if (wire_get_u32(&r, &d->flags) == -1)
		return msg_short(m, err, errlen);
	d->server[0] = '\0';
	while ((rc = wire_next_flt(&r, &tag, &data, &len)) == 1)
		if (tag == TAG_NODE_NAME && wire_flt_string(data, len,
		    d->server, sizeof(d->server)) == -1) {
			snprintf(err, errlen, "DESKTOP_WELCOME: server name is "
			    "not a valid string");
			return -1;
		}
	if (rc == -1) {
		snprintf(err, errlen, "DESKTOP_WELCOME: floating field runs "
		    "past the end");
		return -1;
	}
	return 0;
}

void
msg_desktop_state_encode(struct wire_writer *w, uint32_t type,
    const struct msg_desktop_state *d)
{
	wire_begin(w, type);
	if (type == MSG_DESKTOP_STATE)
		wire_u32(w, d->mrd);
	wire_u16(w, d->state);
	wire_u16(w, type == MSG_DESKTOP_STATE ? d->before_call :
	    (uint16_t)d->mrd);
	wire_u32(w, (uint32_t)d->reason);
}

/* DESKTOP_STATE, or DESKTOP_SET_STATE (its MRD in 16 bits, no before). */
int
msg_desktop_state_decode(const struct wire_msg *m,
    struct msg_desktop_state *d, char *err, size_t errlen)
{
	struct wire_reader r;
	uint32_t	   reason;
	uint16_t	   second;

	wire_reader_init(&r, m);
	d->mrd = 0;
	d->before_call = 0;
	if ((m->type == MSG_DESKTOP_STATE &&
	    wire_get_u32(&r, &d->mrd) == -1) ||
	    wire_get_u16(&r, &d->state) == -1 ||
	    wire_get_u16(&r, &second) == -1 ||
	    wire_get_u32(&r, &reason) == -1)
		return msg_short(m, err, errlen);
	d->reason = (int32_t)reason;
	if (m->type == MSG_DESKTOP_SET_STATE)
		d->mrd = second;
	else
		d->before_call = second;
	if (msg_desktop_bad_state(m, "state", d->state, err, errlen) == -1 ||
	    msg_desktop_bad_state(m, "before-call state", d->before_call, err,
	    errlen) == -1)
		return -1;
	return 0;
}

/* A task message (wire.h: struct msg_task). */
void
msg_task_encode(struct wire_writer *w, uint32_t type, const struct msg_task *t)
{
	wire_begin(w, type);
	wire_u32(w, t->peripheral);
	wire_u32(w, t->epoch);
	wire_u32(w, t->dialogue);
	wire_u32(w, t->mrd);
	wire_u32(w, t->agent);
	wire_u32(w, t->agent_periph);
	wire_u32(w, t->task[0]);
	wire_u32(w, t->task[1]);
	wire_u32(w, t->task[2]);
	wire_u32(w, t->code);
	wire_u32(w, t->flags);
	wire_u32(w, t->path);
	wire_u32(w, t->when);
	wire_u32(w, t->when_ms);
	if (t->selector[0] != '\0')
		wire_flt_str(w, TAG_SELECTOR, t->selector);
	if (t->text[0] != '\0')
		wire_flt_str(w, TAG_TEXT, t->text);
}

int
msg_task_decode(const struct wire_msg *m, struct msg_task *t, char *err,
    size_t errlen)
{
	struct wire_reader r;
	uint32_t	  *f[] = { &t->peripheral, &t->epoch, &t->dialogue,
	    &t->mrd, &t->agent, &t->agent_periph, &t->task[0], &t->task[1],
	    &t->task[2], &t->code, &t->flags, &t->path, &t->when,
	    &t->when_ms };
	const uint8_t	  *data;
	uint16_t	   tag, len;
	size_t		   i;
	int		   rc;

	wire_reader_init(&r, m);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (wire_get_u32(&r, f[i]) == -1)
			return msg_short(m, err, errlen);
	t->selector[0] = t->text[0] = '\0';
	if (t->when_ms > 999) {
		snprintf(err, errlen, "%s: milliseconds %u out of 0..999",
		    wire_type_name(m->type), t->when_ms);
		return -1;
	}
	while ((rc = wire_next_flt(&r, &tag, &data, &len)) == 1) {
		if (tag == TAG_SELECTOR && wire_flt_string(data, len,
		    t->selector, sizeof(t->selector)) == -1) {
			snprintf(err, errlen, "%s: script selector is not a "
			    "string of at most 32 characters",
			    wire_type_name(m->type));
			return -1;
		}
		if (tag == TAG_TEXT &&
		    wire_flt_string(data, len, t->text, sizeof(t->text)) == -1) {
			snprintf(err, errlen, "%s: text is not a valid string",
			    wire_type_name(m->type));
			return -1;
		}
	}
	if (rc == -1) {
		snprintf(err, errlen, "%s: truncated floating field",
		    wire_type_name(m->type));
		return -1;
	}
	return 0;
}

/* msg_NAME_body(): msg_NAME_decode() into the union's member NAME. */
#define MSG_BODY(name)							\
int									\
msg_##name##_body(const struct wire_msg *m, union msg_body *b,		\
    char *err, size_t errlen)						\
{									\
	return msg_##name##_decode(m, &b->name, err, errlen);		\
}

MSG_BODY(agents)
MSG_BODY(pg_status)
MSG_BODY(grant)
MSG_BODY(offline)
MSG_BODY(interval)
MSG_BODY(discard)
MSG_BODY(epoch)
MSG_BODY(set_agent)
MSG_BODY(desktop_login)
MSG_BODY(desktop_welcome)
MSG_BODY(desktop_state)
MSG_BODY(task)
