/*
 * The one framing every pgemu link speaks, the one GED-188 uses:
 *
 *   +----------------+----------------+------------+----------------------+
 *   | length (UINT)  | type (UINT)    | fixed part | floating fields ...  |
 *   +----------------+----------------+------------+----------------------+
 *     body length      message type                 USHORT tag, USHORT len,
 *     (no header)                                    len bytes of data
 *
 * Every number is big-endian and fields are packed with no padding.  Every
 * message type has an explicit number that is never reused: numbers below
 * 0x4000 are the product's GED-188 numbers, the private range 0x4000 and up
 * is pgemu's own (PG <-> router, PG <-> PG, PIM <-> ACD).
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_PROTO_VERSION	1
#define WIRE_HDR_LEN		8
#define WIRE_FLT_HDR_LEN	4
#define WIRE_MAX_BODY		(1024 * 1024)	/* hard ceiling */
#define WIRE_DEFAULT_MAX_BODY	65536		/* lab default */
#define WIRE_CTI_MAX_MESSAGE	12500		/* GED-188, header included */

enum wire_type {
	/* GED-188 session, agent and system messages (product numbers). */
	MSG_FAILURE_CONF		= 1,
	MSG_FAILURE_EVENT		= 2,
	MSG_OPEN_REQ			= 3,
	MSG_OPEN_CONF			= 4,
	MSG_HEARTBEAT_REQ		= 5,
	MSG_HEARTBEAT_CONF		= 6,
	MSG_CLOSE_REQ			= 7,
	MSG_CLOSE_CONF			= 8,
	MSG_AGENT_STATE_EVENT		= 30,
	MSG_SYSTEM_EVENT		= 31,
	MSG_QUERY_AGENT_STATE_REQ	= 36,
	MSG_QUERY_AGENT_STATE_CONF	= 37,
	MSG_SET_AGENT_STATE_REQ		= 38,
	MSG_SET_AGENT_STATE_CONF	= 39,

	/* pgemu private range: every link. */
	MSG_HELLO			= 0x4001,
	MSG_HELLO_ACK			= 0x4002,
	MSG_HEARTBEAT			= 0x4003,
	MSG_BYE				= 0x4004,
};

/* Floating field tags of the private range. */
enum wire_tag {
	TAG_NODE_NAME			= 0x4001,
	TAG_LAB_NAME			= 0x4002,
	TAG_TEXT			= 0x4003,
};

/* A frame as received: points into the receive buffer. */
struct wire_msg {
	uint32_t	 type;
	uint32_t	 len;		/* body length */
	const uint8_t	*body;
};

struct wire_type_info {
	uint32_t	 type;
	const char	*name;
	uint32_t	 min_len;	/* fixed part */
	uint32_t	 max_len;	/* 0: the link's maximum */
};

const struct wire_type_info *wire_type_info(uint32_t);
const char	*wire_type_name(uint32_t);
int		 wire_check_header(const uint8_t *hdr, uint32_t max_body,
		    uint32_t *type, uint32_t *len, char *err, size_t errlen);

/* Building a message. */
struct wire_writer {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	int		 overflow;
};

void		 wire_begin(struct wire_writer *, uint32_t type);
void		 wire_u8(struct wire_writer *, uint8_t);
void		 wire_u16(struct wire_writer *, uint16_t);
void		 wire_u32(struct wire_writer *, uint32_t);
void		 wire_bytes(struct wire_writer *, const void *, size_t);
void		 wire_flt(struct wire_writer *, uint16_t tag, const void *,
		    size_t);
void		 wire_flt_str(struct wire_writer *, uint16_t, const char *);
void		 wire_flt_u32(struct wire_writer *, uint16_t, uint32_t);
int		 wire_end(struct wire_writer *, uint32_t max_body,
		    struct wire_msg *);
void		 wire_writer_free(struct wire_writer *);

/* Reading one: every read is checked against what is left. */
struct wire_reader {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	int		 short_read;
};

void		 wire_reader_init(struct wire_reader *, const struct wire_msg *);
int		 wire_get_u8(struct wire_reader *, uint8_t *);
int		 wire_get_u16(struct wire_reader *, uint16_t *);
int		 wire_get_u32(struct wire_reader *, uint32_t *);
int		 wire_get_bytes(struct wire_reader *, void *, size_t);
int		 wire_skip(struct wire_reader *, size_t);
int		 wire_next_flt(struct wire_reader *, uint16_t *tag,
		    const uint8_t **data, uint16_t *len);
int		 wire_flt_string(const uint8_t *, uint16_t, char *, size_t);

/* The link-level messages every link exchanges. */
struct wire_hello {
	uint32_t	 version;
	uint32_t	 hb_interval_ms;
	uint32_t	 flags;
	char		 side;
	char		 node[32];
	char		 lab[32];
};

int		 wire_hello_encode(const struct wire_hello *, int ack,
		    struct wire_writer *);
int		 wire_hello_decode(const struct wire_msg *, struct wire_hello *,
		    char *err, size_t errlen);
int		 wire_bye_decode(const struct wire_msg *, uint32_t *reason,
		    char *text, size_t textlen, char *err, size_t errlen);

#endif /* WIRE_H */
