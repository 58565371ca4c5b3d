/*
 * forget.c - retention policies (see forget.h).
 */
#include "cairn/common.h"
#include "cairn/forget.h"

#include <time.h>

int forget_policy_any(const struct forget_policy *p)
{
	return p->last || p->hourly || p->daily || p->weekly || p->monthly || p->yearly ||
	       p->within_ns || p->n_keep_tags;
}

int forget_parse_duration(const char *s, int64_t *ret_ns)
{
	int64_t total = 0;
	if (!*s)
		return CAIRN_EINVAL;
	while (*s) {
		char *end;
		long long n = strtoll(s, &end, 10);
		if (end == s || n < 0 || n > 100000)
			return CAIRN_EINVAL;
		int64_t unit;
		switch (*end) {
		case 'y': unit = 365 * 86400LL; break;
		case 'm': unit = 30 * 86400LL; break;
		case 'w': unit = 7 * 86400LL; break;
		case 'd': unit = 86400LL; break;
		case 'h': unit = 3600LL; break;
		default: return CAIRN_EINVAL;
		}
		total += n * unit;
		s = end + 1;
	}
	*ret_ns = total * 1000000000;
	return 0;
}

/* Bucket key of a time for a rule (0 hour, 1 day, 2 ISO week, 3 month, 4 year). */
static int64_t bucket(int64_t t_ns, int rule)
{
	time_t t = (time_t)(t_ns / 1000000000);
	struct tm tm;
	localtime_r(&t, &tm);
	int64_t y = tm.tm_year + 1900;
	switch (rule) {
	case 0: return ((y * 1000 + tm.tm_yday) * 100) + tm.tm_hour;
	case 1: return y * 1000 + tm.tm_yday;
	case 2: {
		char w[16];
		strftime(w, sizeof(w), "%G%V", &tm);
		return strtoll(w, NULL, 10);
	}
	case 3: return y * 100 + tm.tm_mon;
	default: return y;
	}
}

/* 1 when both string lists hold the same strings (order-insensitive). */
static int same_set(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		size_t j = 0;
		while (j < nb && strcmp(a[i], b[j]))
			j++;
		if (j == nb)
			return 0;
	}
	return 1;
}

static int same_group(const struct snapshot *a, const struct snapshot *b, unsigned by)
{
	if ((by & FORGET_GROUP_HOST) && strcmp(a->hostname ? a->hostname : "",
					      b->hostname ? b->hostname : ""))
		return 0;
	if ((by & FORGET_GROUP_PATHS) && !same_set(a->paths, a->n_paths, b->paths, b->n_paths))
		return 0;
	if ((by & FORGET_GROUP_TAGS) && !same_set(a->tags, a->n_tags, b->tags, b->n_tags))
		return 0;
	return 1;
}

static void add_reason(struct forget_decision *d, const char *r)
{
	size_t n = strlen(d->reasons);
	snprintf(d->reasons + n, sizeof(d->reasons) - n, "%s%s", n ? ", " : "", r);
	d->keep = 1;
}

int forget_decide(const struct snap_list *l, const struct forget_policy *p, unsigned group_by,
		  struct forget_decision *out)
{
	size_t n = l->n, ngroups = 0;
	size_t *leader = malloc((n ? n : 1) * sizeof(*leader));	/* first member of each group */
	if (!leader)
		return CAIRN_ENOMEM;
	memset(out, 0, n * sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		size_t g = 0;
		while (g < ngroups && !same_group(&l->v[leader[g]].sn, &l->v[i].sn, group_by))
			g++;
		if (g == ngroups)
			leader[ngroups++] = i;
		out[i].group = g;
	}
	static const char *const names[] = { "hourly", "daily", "weekly", "monthly", "yearly" };
	for (size_t g = 0; g < ngroups; g++) {
		int left[5] = { p->hourly, p->daily, p->weekly, p->monthly, p->yearly };
		int64_t last_bucket[5];
		int have_last[5] = { 0 };
		int last = p->last;
		int64_t newest = INT64_MIN;
		for (size_t i = n; i-- > 0;)
			if (out[i].group == g && l->v[i].sn.time_ns > newest)
				newest = l->v[i].sn.time_ns;
		for (size_t i = n; i-- > 0;) {	/* newest first */
			if (out[i].group != g)
				continue;
			const struct snapshot *s = &l->v[i].sn;
			struct forget_decision *d = &out[i];
			if (last != 0) {
				add_reason(d, "last");
				if (last > 0)
					last--;
			}
			for (int r = 0; r < 5; r++) {
				if (left[r] == 0)
					continue;
				int64_t b = bucket(s->time_ns, r);
				if (have_last[r] && last_bucket[r] == b)
					continue;
				have_last[r] = 1;
				last_bucket[r] = b;
				add_reason(d, names[r]);
				if (left[r] > 0)
					left[r]--;
			}
			if (p->within_ns && s->time_ns >= newest - p->within_ns)
				add_reason(d, "within");
			for (size_t k = 0; k < p->n_keep_tags; k++)
				if (snapshot_has_tag(s, p->keep_tags[k])) {
					add_reason(d, "tag");
					break;
				}
		}
	}
	if (!forget_policy_any(p))
		for (size_t i = 0; i < n; i++)
			out[i].keep = 1;
	free(leader);
	return 0;
}
