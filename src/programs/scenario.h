/*
 * pgemu-scenario: scenario files run against a lab (scenario.c), and the
 * failover report drawn from the nodes' events (report.c).
 */
#ifndef SCENARIO_H
#define SCENARIO_H

#include <stdio.h>

#include <jansson.h>

struct cfg;

/* report.c */
json_t	*report_failovers(json_t *, const struct cfg *, int, double, double,
	    json_t *);
void	 report_text(FILE *, const json_t *);
int	 report_svg(const char *, const json_t *, char *, size_t);
int	 report_event_cmp(const void *, const void *);
json_t	*report_sorted(json_t *);

#endif /* SCENARIO_H */
