/*
 * snaplist.c - loading and selecting snapshots (see snaplist.h).
 */
#include "cairn/common.h"
#include "cairn/snaplist.h"
#include "cairn/log.h"
#include "cairn/repo.h"

int snap_load(struct repo *r, const uint8_t id[32], struct snapshot *ret)
{
	struct buf b = BUF_INIT;
	int e = repo_file_load(r, REPO_FILE_SNAPSHOT, id, &b);
	if (e == 0) {
		snapshot_init(ret);
		e = snapshot_decode(b.data, b.len, ret);
		if (e == CAIRN_ECORRUPT) {
			char hex[65];
			hex_encode(id, 32, hex);
			log_error("snapshot %s is malformed", hex);
		}
	}
	buf_free(&b);
	return e;
}

/* 1 when every wanted string is in have. */
static int all_in(const char *const *want, size_t nw, char *const *have, size_t nh)
{
	for (size_t i = 0; i < nw; i++) {
		size_t j = 0;
		while (j < nh && strcmp(want[i], have[j]) != 0)
			j++;
		if (j == nh)
			return 0;
	}
	return 1;
}

static int snap_matches(const struct snapshot *s, const struct snap_filter *f)
{
	if (!f)
		return 1;
	if (f->host && strcmp(f->host, s->hostname ? s->hostname : "") != 0)
		return 0;
	if (!all_in(f->tags, f->n_tags, s->tags, s->n_tags))
		return 0;
	if (f->n_paths && (f->n_paths != s->n_paths ||
			   !all_in(f->paths, f->n_paths, s->paths, s->n_paths)))
		return 0;
	return 1;
}

struct load_state {
	struct repo *r;
	const struct snap_filter *f;
	struct snap_list *l;
	size_t cap;
};

static int load_cb(void *arg, const uint8_t id[32])
{
	struct load_state *st = arg;
	struct snapshot sn;
	int e = snap_load(st->r, id, &sn);
	if (e == CAIRN_ENOMEM)
		return e;
	if (e < 0)
		return 0;
	if (!snap_matches(&sn, st->f)) {
		snapshot_clear(&sn);
		return 0;
	}
	if (st->l->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 32;
		struct snap_entry *v = realloc(st->l->v, cap * sizeof(*v));
		if (!v) {
			snapshot_clear(&sn);
			return CAIRN_ENOMEM;
		}
		st->l->v = v;
		st->cap = cap;
	}
	memcpy(st->l->v[st->l->n].id, id, 32);
	st->l->v[st->l->n].sn = sn;
	st->l->n++;
	return 0;
}

static int by_time(const void *x, const void *y)
{
	const struct snap_entry *a = x, *b = y;
	if (a->sn.time_ns != b->sn.time_ns)
		return a->sn.time_ns < b->sn.time_ns ? -1 : 1;
	return memcmp(a->id, b->id, 32);
}

int snap_list_load(struct repo *r, const struct snap_filter *f, struct snap_list *ret)
{
	ret->v = NULL;
	ret->n = 0;
	struct load_state st = { r, f, ret, 0 };
	int e = repo_file_list(r, REPO_FILE_SNAPSHOT, load_cb, &st);
	if (e < 0) {
		snap_list_free(ret);
		return e;
	}
	if (ret->n)
		qsort(ret->v, ret->n, sizeof(*ret->v), by_time);
	return 0;
}

void snap_list_free(struct snap_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		snapshot_clear(&l->v[i].sn);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int snap_list_select(const struct snap_list *l, const char *name, int has_at, int64_t at_ns)
{
	if (!name || strcmp(name, "latest") == 0) {
		for (size_t i = l->n; i-- > 0;) {
			if (!has_at || l->v[i].sn.time_ns <= at_ns)
				return (int)i;
		}
		log_error(has_at ? "no snapshot at or before that time; list them with 'cairn "
				   "snapshots'"
				 : "the repository has no snapshots (that match); make one with "
				   "'cairn backup'");
		return CAIRN_ENOTFOUND;
	}
	size_t n = strlen(name);
	int found = -1;
	for (size_t i = 0; i < l->n; i++) {
		char hex[65];
		hex_encode(l->v[i].id, 32, hex);
		if (n <= 64 && strncasecmp(hex, name, n) == 0) {
			if (found >= 0) {
				log_error("snapshot id prefix %s is ambiguous; give more digits", name);
				return CAIRN_EAMBIGUOUS;
			}
			found = (int)i;
		}
	}
	if (found < 0) {
		log_error("no snapshot %s; list them with 'cairn snapshots'", name);
		return CAIRN_ENOTFOUND;
	}
	return found;
}
