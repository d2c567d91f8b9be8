/*
 * The router role's own structures, shared by router.c (arbitration, the
 * real-time table, the history of the PIMs) and route.c (media routing:
 * the MR peripheral's requests, queues and tasks).  Nothing outside
 * src/roles/router includes it.
 */
#ifndef ROUTER_H
#define ROUTER_H

#include "pgemu.h"
#include "wire.h"

/* An agent in one MRD: logged in, and in a state, per MRD. */
struct rt_agent {
	uint32_t	 id;		/* the sort key: id, then mrd */
	uint32_t	 mrd;
	int		 state;
	int		 before_call;
	double		 since;		/* wall clock */
	double		 login;		/* 0: logged out */
	int32_t		 reason;
	int		 held;		/* route.c: tasks it was routed that
					   have not started */
	double		 resynced;	/* route.c: the time of the last
					   state a resync told (R19) */
};

struct rt_side {
	struct link	*link;
	char		 side;
	int		 reported;	/* a PG_STATUS since the link came up */
	struct msg_pg_status st;
	uint64_t	 candidate_since;
	uint32_t	 granted;	/* grant sent, its status not seen yet */
	uint32_t	 loss_seq;	/* the last loss record told (+1) */
	char		 grant_text[128];
};

/*
 * One peripheral: its sides' reports, who holds its PIM, its agents.  The
 * MR peripheral is one too (is_mr), arbitrated alike, without agents.
 */
struct rt_periph {
	struct router	*rt;
	struct node	*node;
	struct db	*db;
	uint32_t	 id;
	int		 is_mr;
	char		 name[PGEMU_NAME_MAX];
	char		 key_suffix[16];	/* of its pgemu_meta keys */
	struct rt_side	 sides[2];
	int		 active;	/* index into sides, or -1 */
	uint32_t	 epoch;		/* of the active side */
	uint32_t	 max_epoch;
	char		 holder;	/* side the ACD accepted, 0: none */
	uint32_t	 holder_epoch;
	double		 holder_since;	/* wall clock */
	uint32_t	 recorded_epoch;	/* last in pgemu_activation */
	int		 last_loss;	/* GRANT_* of the next grant */
	int		 aftermath;	/* GRANT_* of a loss not applied yet */
	char		 aftermath_side;
	int		 aftermath_rows;
	double		 aftermath_since;
	char		 last_loss_text[160];
	int		 online;
	double		 online_since, offline_since;
	char		 offline_reason[160];
	int		 offline_rule;	/* the MR peripheral's: R12, R17 */
	struct rt_agent	*agents;
	int		 nagents;
	int		 hint;		/* router_agent(): the last found */
	int		 settled;
	char		 waiting;	/* for this side before settling */
	uint64_t	 started_ms;
	struct event	*ev_settle;
	int		 in_grace;	/* wait before granting: see router.c */
	struct event	*ev_grace;
	uint64_t	 stale_refused, rows_stored, rows_duplicate;
	uint64_t	 grants, discards, grants_unused, regrants;
	uint64_t	 records_refused, rows_refused;	/* lost: R1 */
	uint64_t	 records_not_stored;	/* the side sends them again */
	uint32_t	 last_stored;	/* the newest interval stored */
	int		 keeper;	/* R23: the side keeping the agents'
					   non-voice MRDs while none is
					   active, or -1 */
	int		 media_kept;	/* R23: offline, non-voice kept */
	struct event	*ev_orphan;	/* R23: a side back after a start? */
};

/*
 * The router: the links to the PG sides (each peripheral's sides are the
 * lab's two pg nodes), the loop's pulse, the peripherals (the voice ones
 * first, then the MR peripheral if the lab routes media), media routing.
 */
struct route;
struct router {
	struct node	*node;
	struct db	*db;
	struct link	*links[2];
	struct rt_periph *periphs;
	int		 nperiphs;	/* with the MR peripheral */
	int		 nvoice;	/* the voice peripherals */
	struct rt_periph *mr;		/* the MR peripheral, or NULL */
	struct route	*route;		/* media routing, or NULL */
	struct event	*ev_tick;	/* the loop's own pulse */
	struct event	*ev_decide;	/* decide once pending input is read */
	uint64_t	 last_tick_ms;
	uint64_t	 late_until_ms;	/* a stall ended: links not judged */
	uint64_t	 stalls;
};

/* router.c */
struct rt_side	*router_side(struct rt_periph *, const struct link *);
struct rt_agent	*router_agent(struct rt_periph *, uint32_t, uint32_t);
struct rt_periph *router_periph(struct router *, uint32_t,
		    const struct wire_msg *, char *, size_t);
int		 router_current(struct rt_periph *, struct rt_side *,
		    uint32_t, const char *);
uint64_t	 router_hold_ms(const struct node *);
struct rt_side	*router_keeper(struct rt_periph *);

/* route.c: media routing (the MR peripheral's requests, the tasks) */
struct route	*route_new(struct router *);
void		 route_free(struct route *);
void		 route_reload(struct route *);
int		 route_msg_task(struct role_msg_in *, const union msg_body *);
int		 route_msg_event(struct role_msg_in *, const union msg_body *);
void		 route_dispatch(struct route *);
void		 route_mr_offline(struct route *, int rule, const char *);
void		 route_mr_online(struct route *);
json_t		*route_json(const struct route *);
json_t		*route_counts_json(const struct route *);

#endif /* ROUTER_H */
