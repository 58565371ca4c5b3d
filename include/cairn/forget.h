/*
 * forget.h - retention policies: which snapshots to keep.
 *
 * Snapshots are grouped (by host, paths and/or tags), and within a group
 * examined newest first. --keep-last N keeps the N newest. Each time-bucket
 * rule (hourly, daily, weekly, monthly, yearly) keeps the newest snapshot of
 * each of the N most recent buckets that have one; buckets follow the
 * local calendar, weeks are ISO 8601 weeks. --keep-within D keeps every
 * snapshot taken within D of the group's newest snapshot. --keep-tag keeps
 * every snapshot carrying one of the tags. A snapshot is removed only when
 * no rule keeps it; with no rule at all, nothing is removed.
 */
#ifndef CAIRN_FORGET_H
#define CAIRN_FORGET_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/snaplist.h"

#define FORGET_GROUP_HOST 0x1
#define FORGET_GROUP_PATHS 0x2
#define FORGET_GROUP_TAGS 0x4

struct forget_policy {
	int last, hourly, daily, weekly, monthly, yearly;	/* -1: unlimited */
	int64_t within_ns;					/* 0: off */
	const char *const *keep_tags;
	size_t n_keep_tags;
};

struct forget_decision {
	int keep;
	size_t group;		/* index of the snapshot's group (order of first appearance) */
	char reasons[96];	/* "last, daily, weekly" */
};

/* 1 when the policy has at least one rule. */
int forget_policy_any(const struct forget_policy *p);

/* Decides for every snapshot of l (sorted by time, oldest first, as
 * snap_list_load returns it); out has l->n entries. Returns 0 or
 * CAIRN_ENOMEM. */
int forget_decide(const struct snap_list *l, const struct forget_policy *p, unsigned group_by,
		  struct forget_decision *out);

/* Parses "1y2m3w4d5h" (y = 365 days, m = 30 days, w = 7 days). Returns 0 or
 * CAIRN_EINVAL. */
int forget_parse_duration(const char *s, int64_t *ret_ns);

#endif
