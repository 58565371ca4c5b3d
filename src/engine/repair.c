/*
 * repair.c - `repair index`: index files rebuilt from pack headers.
 *
 * Memory: one index file's worth of entries at a time (written every
 * REPAIR_INDEX_BLOBS blobs); the set of new index file ids is kept to know
 * which old ones to remove.
 */
#include "cairn/common.h"
#include "cairn/repair.h"
#include "cairn/index.h"
#include "cairn/log.h"
#include "cairn/repo.h"

#define REPAIR_INDEX_BLOBS 100000

struct pack_name_list {
	uint8_t (*ids)[32];
	uint64_t *sizes;
	size_t n, cap;
};

static int collect_pack(void *arg, const char *name, uint64_t size)
{
	struct pack_name_list *l = arg;
	uint8_t id[32];
	/* data/xx/<64 hex> */
	if (strlen(name) != 8 + 64 || hex_decode(name + 8, id, 32) < 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *a = realloc(l->ids, cap * 32), *b = NULL;
		if (a)
			l->ids = a;
		b = realloc(l->sizes, cap * sizeof(uint64_t));
		if (!a || !b)
			return CAIRN_ENOMEM;
		l->sizes = b;
		l->cap = cap;
	}
	memcpy(l->ids[l->n], id, 32);
	l->sizes[l->n++] = size;
	return 0;
}

struct id_set {
	uint8_t (*ids)[32];
	size_t n, cap;
};

static int id_set_add(struct id_set *s, const uint8_t id[32])
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *p = realloc(s->ids, cap * 32);
		if (!p)
			return CAIRN_ENOMEM;
		s->ids = p;
		s->cap = cap;
	}
	memcpy(s->ids[s->n++], id, 32);
	return 0;
}

struct old_files {
	struct id_set *keep;
	struct id_set old;
};

static int collect_old(void *arg, const uint8_t id[32])
{
	struct old_files *o = arg;
	for (size_t i = 0; i < o->keep->n; i++)
		if (memcmp(o->keep->ids[i], id, 32) == 0)
			return 0;
	return id_set_add(&o->old, id);
}

/* Writes the batch as one index file and empties it. */
static int flush_batch(struct repo *r, struct repo_index_pack *batch, size_t *n,
		       struct id_set *written)
{
	if (*n == 0)
		return 0;
	uint8_t id[32];
	int e = repo_index_write(r, batch, *n, id);
	for (size_t i = 0; i < *n; i++)
		free(batch[i].entries);
	*n = 0;
	if (e == 0)
		e = id_set_add(written, id);
	return e;
}

int repair_index(struct repo *r, struct repair_index_result *ret)
{
	struct pack_name_list packs = { 0 };
	struct id_set written = { 0 };
	struct old_files old = { .keep = &written };
	struct repo_index_pack *batch = NULL;
	size_t nb = 0, batch_blobs = 0;
	memset(ret, 0, sizeof(*ret));
	int e = backend_list(repo_backend(r), "data/", collect_pack, &packs);
	if (e < 0)
		goto out;
	batch = calloc(packs.n ? packs.n : 1, sizeof(*batch));
	if (!batch) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < packs.n; i++) {
		struct repo_index_pack *p = &batch[nb];
		e = repo_pack_header(r, packs.ids[i], packs.sizes[i], &p->entries, &p->n);
		if (e == CAIRN_ECORRUPT || e == CAIRN_EIO) {
			ret->bad_packs++;
			continue;
		}
		if (e < 0)
			goto out;
		memcpy(p->id, packs.ids[i], 32);
		p->size = packs.sizes[i];
		nb++;
		ret->packs++;
		ret->blobs += p->n;
		batch_blobs += p->n;
		if (batch_blobs >= REPAIR_INDEX_BLOBS) {
			e = flush_batch(r, batch, &nb, &written);
			batch_blobs = 0;
			if (e < 0)
				goto out;
		}
	}
	e = flush_batch(r, batch, &nb, &written);
	if (e < 0)
		goto out;
	ret->index_files_written = written.n;
	/* Only now, with complete new index files stored, remove the old ones. */
	e = repo_file_list(r, REPO_FILE_INDEX, collect_old, &old);
	if (e < 0)
		goto out;
	for (size_t i = 0; i < old.old.n; i++) {
		char name[96];
		repo_file_name(REPO_FILE_INDEX, old.old.ids[i], name, sizeof(name));
		e = backend_del(repo_backend(r), name);
		if (e < 0 && e != CAIRN_ENOTFOUND)
			goto out;
		ret->index_files_removed++;
	}
	e = index_clear(repo_index(r));
	if (e == 0)
		e = repo_index_sync(r);
out:
	for (size_t i = 0; i < nb; i++)
		free(batch[i].entries);
	free(batch);
	free(packs.ids);
	free(packs.sizes);
	free(written.ids);
	free(old.old.ids);
	return e;
}
