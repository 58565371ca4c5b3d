/*
 * saver.c - the write side of the blob store (see saver.h).
 */
#include "cairn/common.h"
#include "cairn/saver.h"
#include "cairn/compress.h"
#include "cairn/index.h"
#include "cairn/log.h"
#include "cairn/pack.h"
#include "cairn/repo.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* Open-addressing set of (type, id) saved in this run and not yet indexed. */
struct pend_slot {
	uint8_t id[32];
	uint8_t type;	/* 0: empty */
};

struct pend_set {
	struct pend_slot *slots;
	size_t cap, n;	/* cap is a power of two */
};

struct saver {
	struct repo *repo;
	const struct crypto_keys *keys;
	struct index *ix;
	uint64_t pack_size;
	int compression;
	size_t index_every_blobs;
	unsigned index_every_seconds;
	int no_index_dedup;

	pthread_mutex_t mu;	/* pend, stats, err */
	struct pend_set pend;
	uint64_t index_gen;		/* bumped when indexed blobs leave pend */
	struct saver_stats stats;
	int err;

	pthread_mutex_t pack_mu;	/* the two filling writers */
	struct pack_writer *filling[2];	/* 0: data, 1: metadata */

	pthread_mutex_t q_mu;
	pthread_cond_t q_cond;		/* queue changed */
	struct pack_writer **queue;
	size_t q_cap, q_len, q_head;	/* q_cap: ring size = in_flight */
	size_t in_flight;		/* most packs queued or uploading */
	int busy;			/* uploaders working on a pack */
	struct pack_writer *spare[2];	/* emptied writers, reused so their
					   buffers are not faulted in again */
	size_t n_spare;
	int closing;
	pthread_t *threads;		/* upload threads: as many as the backend
					   wants requests in flight (S3: several) */
	size_t n_threads;		/* started */

	/* Dictionary for new data blobs (set before the first save), and the
	 * reservoir sample of new compressible data that trains one. */
	const struct zdict *dict;
	uint8_t dict_id[32];
	pthread_mutex_t sample_mu;
	struct sample {
		uint8_t *data;
		size_t len;
	} *samples;
	size_t n_samples, cap_samples;
	int samples_taken;		/* saver_train_dict took them: sample no more */
	uint64_t seen_samples, sample_rng;

	pthread_mutex_t idx_mu;		/* the packs stored but not yet indexed */
	struct repo_index_pack *pending;
	size_t n_pending, cap_pending, pending_blobs;
	time_t last_index;
	/* saver_flush_index's cache transaction and the thread that fills it
	 * (see there): open, how many of the pending packs it holds (always
	 * the first ones), the thread's error, and the index file written */
	int tx_open;
	size_t n_in_tx;
	pthread_cond_t idx_cond;	/* a pack was added to pending, or stop */
	pthread_t cache_thread;
	int cache_running, cache_stop, cache_err;
	int file_written;
	uint8_t file_id[32];
	unsigned flush_tx_max;		/* FLUSH_TX_MAX, or the tests' value */
	int test_flip;			/* CAIRN_TEST_WRITER_FLIP (see there) */
};

static void cache_abort(struct saver *s);

/* How long saver_flush_index holds the cache's write lock while uploads
 * go on, at most (see there). */
#define FLUSH_TX_MAX 5

/*
 * Incompressible input (encrypted, already compressed, random) costs zstd
 * time for nothing: measured here, zstd -3 on 8 KiB chunks of random data
 * runs at ~0.46 GB/s, slower than hashing. After SKIP_AFTER blobs in a row
 * did not shrink, a context compresses only every PROBE_EVERY-th blob until
 * one shrinks again. A worker handles consecutive chunks of one stream, so
 * the streak follows the input.
 */
#define SKIP_AFTER 8
#define PROBE_EVERY 16

/* The sample that trains a dictionary: up to SAMPLE_SLOTS blobs, each cut
 * to SAMPLE_MAX bytes, so it holds at most 8 MiB. */
#define SAMPLE_SLOTS 1024u
#define TRAIN_MAX (5u << 19)	/* 2.5 MiB */
#define SAMPLE_MAX (8u << 10)
#define DICT_MAX (112u << 10)	/* zstd's advice: ~100 KiB */

struct saver_ctx {
	struct saver *s;
	struct compressor *comp;
	const struct zdict *dict;	/* the one comp is set to */
	unsigned incompressible;	/* blobs in a row that did not shrink */
	struct buf cbuf;
	struct buf sealed;
	struct index_loc *locs;		/* saver_lookup's scratch */
	size_t cap_locs;
	struct buf flipped;		/* CAIRN_TEST_WRITER_FLIP's copy */
};

static size_t pend_hash(const uint8_t id[32], unsigned type)
{
	return (size_t)(get_u64le(id) ^ type);
}

static struct pend_slot *pend_find(struct pend_set *p, const uint8_t id[32], unsigned type)
{
	if (!p->cap)
		return NULL;
	for (size_t i = pend_hash(id, type) & (p->cap - 1);; i = (i + 1) & (p->cap - 1)) {
		struct pend_slot *s = &p->slots[i];
		if (!s->type)
			return NULL;
		if (s->type == type && memcmp(s->id, id, 32) == 0)
			return s;
	}
}

static int pend_add(struct pend_set *p, const uint8_t id[32], unsigned type)
{
	if ((p->n + 1) * 4 > p->cap * 3) {
		size_t cap = p->cap ? p->cap * 2 : 4096;
		struct pend_slot *ns = calloc(cap, sizeof(*ns));
		if (!ns)
			return CAIRN_ENOMEM;
		for (size_t i = 0; i < p->cap; i++) {
			struct pend_slot *s = &p->slots[i];
			if (!s->type)
				continue;
			size_t j = pend_hash(s->id, s->type) & (cap - 1);
			while (ns[j].type)
				j = (j + 1) & (cap - 1);
			ns[j] = *s;
		}
		free(p->slots);
		p->slots = ns;
		p->cap = cap;
	}
	size_t i = pend_hash(id, type) & (p->cap - 1);
	while (p->slots[i].type)
		i = (i + 1) & (p->cap - 1);
	memcpy(p->slots[i].id, id, 32);
	p->slots[i].type = (uint8_t)type;
	p->n++;
	return 0;
}

/* Linear-probing deletion by backward shift: no tombstones accumulate. */
static void pend_del(struct pend_set *p, const uint8_t id[32], unsigned type)
{
	struct pend_slot *s = pend_find(p, id, type);
	if (!s)
		return;
	size_t mask = p->cap - 1, i = (size_t)(s - p->slots);
	p->slots[i].type = 0;
	p->n--;
	for (size_t j = (i + 1) & mask; p->slots[j].type; j = (j + 1) & mask) {
		size_t home = pend_hash(p->slots[j].id, p->slots[j].type) & mask;
		/* move j into the hole at i when its home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			p->slots[i] = p->slots[j];
			p->slots[j].type = 0;
			i = j;
		}
	}
}

static void saver_set_err(struct saver *s, int e)
{
	pthread_mutex_lock(&s->mu);
	if (!s->err)
		s->err = e;
	pthread_mutex_unlock(&s->mu);
}

static int saver_get_err(struct saver *s)
{
	pthread_mutex_lock(&s->mu);
	int e = s->err;
	pthread_mutex_unlock(&s->mu);
	return e;
}

static int entry_id_cmp(const void *a, const void *b)
{
	const struct pack_entry *x = a, *y = b;
	int c = memcmp(x->id, y->id, 32);
	return c ? c : (int)x->type - (int)y->type;
}

/* The index file, written on a thread of its own while the caller fills
 * the SQLite cache. */
struct index_job {
	struct saver *s;
	uint8_t id[32];
	int err;
};

static void *index_job_main(void *arg)
{
	struct index_job *j = arg;
	j->err = repo_index_write(j->s->repo, j->s->pending, j->s->n_pending, j->id);
	return NULL;
}

/* Ends the cache transaction without keeping its rows. Called with idx_mu
 * held and no cache thread running. */
static void saver_tx_abort(struct saver *s)
{
	if (s->tx_open)
		index_rollback(s->ix);
	s->tx_open = 0;
	s->n_in_tx = 0;
	s->file_written = 0;
}

/* The pending packs are in an index file and in the cache: they leave the
 * pending set. Called with idx_mu held. */
static void saver_index_done(struct saver *s)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_pending; i++)
		for (size_t j = 0; j < s->pending[i].n; j++)
			pend_del(&s->pend, s->pending[i].entries[j].id, s->pending[i].entries[j].type);
	s->index_gen++;
	s->stats.index_files_added++;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->n_pending; i++)
		free(s->pending[i].entries);
	s->n_pending = 0;
	s->pending_blobs = 0;
	s->last_index = time(NULL);
}

/* Adds the index file to the open cache transaction and commits it. Called
 * with idx_mu held; the transaction is closed either way. */
static int saver_tx_commit(struct saver *s, const uint8_t file_id[32])
{
	int e = index_add_file(s->ix, file_id);
	if (e == 0)
		e = index_commit(s->ix);
	if (e == 0)
		s->tx_open = 0;
	saver_tx_abort(s);
	if (e == 0)
		saver_index_done(s);
	return e;
}

/*
 * Writes the pending packs' index file and adds them to the SQLite cache,
 * then forgets those blobs from the pending set: the periodic index of a
 * long backup. Called with idx_mu held. The two overlap: the cache
 * transaction is filled while the file is encoded, sealed and stored, and
 * commits only once the file is stored, so the cache never names blobs
 * that no index file lists.
 */
static int saver_write_index(struct saver *s)
{
	if (s->n_pending == 0)
		return 0;
	struct index_job job = { .s = s };
	pthread_t t;
	int threaded = pthread_create(&t, NULL, index_job_main, &job) == 0;
	if (!threaded)
		index_job_main(&job);
	int e = index_begin(s->ix);
	s->tx_open = e == 0;
	for (size_t i = 0; e == 0 && i < s->n_pending; i++)
		e = index_add_pack(s->ix, s->pending[i].id, s->pending[i].size,
				   s->pending[i].entries, s->pending[i].n);
	if (threaded)
		pthread_join(t, NULL);
	if (job.err < 0 || e < 0) {
		saver_tx_abort(s);
		return job.err < 0 ? job.err : e;
	}
	return saver_tx_commit(s, job.id);
}

/* Finishes and stores one pack, then queues its entries for the index. */
static int saver_store_pack(struct saver *s, struct pack_writer *pw)
{
	struct pack_out po;
	char name[96];
	int e = pack_writer_seal(pw, s->keys, &po);
	if (e < 0)
		return e;
	pack_name(po.id, name, sizeof(name));
	/* the pack's id is the SHA-256 of its bytes: S3 sends it as is */
	e = backend_putv_hashed(repo_backend(s->repo), name, po.iov, po.n_iov, po.id);
	pack_writer_reset(pw);
	if (e < 0) {
		log_error("cannot store pack %s: %s", name, cairn_strerror(e));
		pack_out_free(&po);
		return e;
	}
	struct pack_entry *ents = po.entries;
	size_t n = po.n;
	uint64_t size = po.size;
	po.entries = NULL;
	pack_out_free(&po);
	/* In key order, so the cache's inserts sweep the blob table's B-tree
	 * instead of landing on random pages (an index file lists a pack's
	 * blobs in any order); sorted here, on the upload thread, not at the
	 * end of the backup. */
	qsort(ents, n, sizeof(*ents), entry_id_cmp);
	pthread_mutex_lock(&s->idx_mu);
	if (s->n_pending == s->cap_pending) {
		size_t cap = s->cap_pending ? s->cap_pending * 2 : 16;
		void *p = realloc(s->pending, cap * sizeof(*s->pending));
		if (!p) {
			pthread_mutex_unlock(&s->idx_mu);
			free(ents);
			return CAIRN_ENOMEM;
		}
		s->pending = p;
		s->cap_pending = cap;
	}
	struct repo_index_pack *ip = &s->pending[s->n_pending++];
	hex_decode(name + 8, ip->id, 32);
	ip->size = size;
	ip->entries = ents;
	ip->n = n;
	s->pending_blobs += n;
	pthread_mutex_lock(&s->mu);
	s->stats.bytes_added += size;
	s->stats.packs_added++;
	pthread_mutex_unlock(&s->mu);
	e = 0;
	if (s->cache_running)	/* saver_flush_index waits for this pack */
		pthread_cond_broadcast(&s->idx_cond);
	else if (s->pending_blobs >= s->index_every_blobs ||
		 time(NULL) - s->last_index >= (time_t)s->index_every_seconds)
		e = saver_write_index(s);
	pthread_mutex_unlock(&s->idx_mu);
	return e;
}

static void *saver_thread(void *arg)
{
	struct saver *s = arg;
	pthread_mutex_lock(&s->q_mu);
	for (;;) {
		while (s->q_len == 0 && !s->closing)
			pthread_cond_wait(&s->q_cond, &s->q_mu);
		if (s->q_len == 0)
			break;
		struct pack_writer *pw = s->queue[s->q_head];
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
		s->busy++;
		pthread_cond_broadcast(&s->q_cond);
		pthread_mutex_unlock(&s->q_mu);
		int e = saver_get_err(s);
		if (e == 0)
			e = saver_store_pack(s, pw);
		if (e < 0)
			saver_set_err(s, e);
		pthread_mutex_lock(&s->q_mu);
		if (s->n_spare < CAIRN_ARRAY_LEN(s->spare))
			s->spare[s->n_spare++] = pw;
		else
			pack_writer_free(pw);
		s->busy--;
		pthread_cond_broadcast(&s->q_cond);
	}
	pthread_mutex_unlock(&s->q_mu);
	return NULL;
}

/* Hands the full writer filling[which] to the upload threads and puts an
 * empty one in its place: the spare when there is one. It waits for room
 * in the queue before it takes a writer, so at most filling + queued +
 * uploading writers exist and the spare left by an upload is always the
 * next one used: no pack buffer is allocated and faulted in again (page
 * faults were 9% of a first backup's CPU). Under pack_mu. Returns 0 or
 * CAIRN_ENOMEM (the full writer stays in place). */
static int saver_rotate(struct saver *s, int which)
{
	pthread_mutex_lock(&s->q_mu);
	while (s->q_len + (size_t)s->busy >= s->in_flight)
		pthread_cond_wait(&s->q_cond, &s->q_mu);
	struct pack_writer *pw = s->n_spare ? s->spare[--s->n_spare] : NULL;
	if (!pw)
		pw = pack_writer_new(s->pack_size + (1u << 20));
	if (pw) {
		s->queue[(s->q_head + s->q_len) % s->q_cap] = s->filling[which];
		s->q_len++;
		s->filling[which] = pw;
		pthread_cond_broadcast(&s->q_cond);
	}
	pthread_mutex_unlock(&s->q_mu);
	return pw ? 0 : CAIRN_ENOMEM;
}

int saver_new(struct repo *r, const struct saver_opts *o, struct saver **ret)
{
	struct saver *s = calloc(1, sizeof(*s));
	if (!s)
		return CAIRN_ENOMEM;
	const struct repo_config *cfg = repo_config(r);
	s->repo = r;
	s->keys = repo_keys(r);
	s->ix = repo_index(r);
	s->pack_size = o && o->pack_size ? o->pack_size : cfg->pack_size;
	s->compression = o && o->compression >= 0 ? o->compression : cfg->compression;
	s->index_every_blobs = o && o->index_every_blobs ? o->index_every_blobs : 100000;
	s->index_every_seconds = o && o->index_every_seconds ? o->index_every_seconds : 300;
	s->no_index_dedup = o && o->no_index_dedup;
	s->last_index = time(NULL);
	s->flush_tx_max = FLUSH_TX_MAX;
	const char *tx_max = getenv("CAIRN_TEST_FLUSH_TX_MAX");
	if (tx_max && *tx_max)
		s->flush_tx_max = (unsigned)strtoul(tx_max, NULL, 10);
	const char *flip = getenv("CAIRN_TEST_WRITER_FLIP");
	s->test_flip = flip && *flip;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->pack_mu, NULL);
	pthread_mutex_init(&s->q_mu, NULL);
	pthread_mutex_init(&s->idx_mu, NULL);
	pthread_mutex_init(&s->sample_mu, NULL);
	pthread_cond_init(&s->q_cond, NULL);
	pthread_cond_init(&s->idx_cond, NULL);
	/*
	 * Upload threads: as many as the backend asks for, each holding one
	 * pack, plus one pack queued, so memory stays bounded. Two threads (a
	 * local folder: one hashes a pack while the other waits for fsync) get
	 * no queued pack: they hold as many pack buffers as one thread and a
	 * queue did, and a first backup of 1 GiB of random data took
	 * 2.38-2.86 s instead of 2.96-3.42 s at the same peak RSS.
	 */
	size_t want = backend_parallel(repo_backend(r));
	size_t queued = o && o->queue_packs ? o->queue_packs : want == 2 ? 0 : 1;
	s->in_flight = want + queued;
	s->q_cap = s->in_flight;
	s->queue = calloc(s->q_cap, sizeof(*s->queue));
	s->filling[0] = pack_writer_new(s->pack_size + (1u << 20));
	s->filling[1] = pack_writer_new(0);
	s->threads = calloc(want, sizeof(*s->threads));
	if (!s->queue || !s->filling[0] || !s->filling[1] || !s->threads) {
		saver_free(s);
		return CAIRN_ENOMEM;
	}
	while (s->n_threads < want &&
	       pthread_create(&s->threads[s->n_threads], NULL, saver_thread, s) == 0)
		s->n_threads++;
	if (s->n_threads == 0) {
		saver_free(s);
		return CAIRN_ENOMEM;
	}
	*ret = s;
	return 0;
}

void saver_free(struct saver *s)
{
	if (!s)
		return;
	if (s->n_threads) {
		pthread_mutex_lock(&s->q_mu);
		s->closing = 1;
		pthread_cond_broadcast(&s->q_cond);
		pthread_mutex_unlock(&s->q_mu);
		for (size_t i = 0; i < s->n_threads; i++)
			pthread_join(s->threads[i], NULL);
	}
	free(s->threads);
	cache_abort(s);
	for (size_t i = 0; i < s->q_len; i++)
		pack_writer_free(s->queue[(s->q_head + i) % s->q_cap]);
	for (size_t i = 0; i < s->n_spare; i++)
		pack_writer_free(s->spare[i]);
	free(s->queue);
	pack_writer_free(s->filling[0]);
	pack_writer_free(s->filling[1]);
	for (size_t i = 0; i < s->n_pending; i++)
		free(s->pending[i].entries);
	free(s->pending);
	free(s->pend.slots);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->pack_mu);
	pthread_mutex_destroy(&s->q_mu);
	pthread_mutex_destroy(&s->idx_mu);
	pthread_mutex_destroy(&s->sample_mu);
	for (size_t i = 0; i < s->n_samples; i++)
		free(s->samples[i].data);
	free(s->samples);
	pthread_cond_destroy(&s->q_cond);
	pthread_cond_destroy(&s->idx_cond);
	free(s);
}

struct saver_ctx *saver_ctx_new(struct saver *s)
{
	struct saver_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->s = s;
	c->comp = compressor_new(s->compression);
	if (!c->comp) {
		free(c);
		return NULL;
	}
	return c;
}

void saver_ctx_free(struct saver_ctx *c)
{
	if (!c)
		return;
	compressor_free(c->comp);
	buf_free(&c->cbuf);
	buf_free(&c->sealed);
	buf_free(&c->flipped);
	free(c->locs);
	free(c);
}

/* Reservoir sampling (Vitter's algorithm R): every new compressible data
 * blob has the same chance to be in the sample, whatever the input size. */
static void saver_sample(struct saver *s, const void *data, size_t len)
{
	size_t n = CAIRN_MIN(len, (size_t)SAMPLE_MAX);
	pthread_mutex_lock(&s->sample_mu);
	if (s->samples_taken) {
		pthread_mutex_unlock(&s->sample_mu);
		return;
	}
	uint64_t seen = s->seen_samples++;
	size_t slot = s->n_samples;
	if (s->n_samples == s->cap_samples) {
		/* xorshift64: which blobs are sampled needs no secrecy */
		s->sample_rng ^= s->sample_rng << 13;
		s->sample_rng ^= s->sample_rng >> 7;
		s->sample_rng ^= s->sample_rng << 17;
		slot = (size_t)(s->sample_rng % (seen + 1));
	}
	if (slot < s->cap_samples) {
		struct sample *sm = &s->samples[slot];
		uint8_t *p = sm->data && sm->len >= n ? sm->data : realloc(sm->data, n);
		if (p) {
			memcpy(p, data, n);
			sm->data = p;
			sm->len = n;
			if (slot == s->n_samples)
				s->n_samples++;
		}
	}
	pthread_mutex_unlock(&s->sample_mu);
}

int saver_use_dict(struct saver *s, const uint8_t id[32])
{
	struct decompressor *d = decompressor_new();
	if (!d)
		return CAIRN_ENOMEM;
	const struct zdict *z = NULL;
	int e = repo_dict_load(s->repo, d, id, s->compression > 0 ? s->compression : 1, &z);
	decompressor_free(d);
	if (e < 0)
		return e;
	if (s->compression > 0) {
		s->dict = z;
		memcpy(s->dict_id, id, 32);
	}
	return 0;
}

int saver_sample_start(struct saver *s)
{
	if (s->samples || s->compression <= 0)
		return 0;
	s->samples = calloc(SAMPLE_SLOTS, sizeof(*s->samples));
	if (!s->samples)
		return CAIRN_ENOMEM;
	s->cap_samples = SAMPLE_SLOTS;
	s->sample_rng = 0x9e3779b97f4a7c15ull;
	return 0;
}

/* Joins the sample into all (sizes: each blob's length). take: the sample
 * is used up and sampling stops; else it is copied and goes on. Returns
 * the number of samples, or CAIRN_EINVAL when they hold less than
 * min_bytes (or were taken), or CAIRN_ENOMEM. */
static long sample_join(struct saver *s, size_t min_bytes, int take, struct buf *all,
			size_t **sizes)
{
	pthread_mutex_lock(&s->sample_mu);
	size_t total = 0, step = 1;
	for (size_t i = 0; i < s->n_samples; i++)
		total += s->samples[i].len;
	/* Training reads at most TRAIN_MAX bytes: every step-th sample. It
	 * ends a first backup, and on S3 the benchmark's pg_dump0 (a 4.6 MiB
	 * sample) took 1.46-1.47 s instead of 1.54-1.59 s with every other
	 * sample; the six hourly dumps that followed added 45.3-45.6 MiB
	 * against 45.3-45.5, and the early dictionary compressed the rest of
	 * the first dump as well (36.3 vs 36.2 %). */
	if (total > TRAIN_MAX) {
		step = (total + TRAIN_MAX - 1) / TRAIN_MAX;
		total = 0;
		for (size_t i = 0; i < s->n_samples; i += step)
			total += s->samples[i].len;
	}
	size_t n = 0;
	long ret = CAIRN_EINVAL;
	if (total < min_bytes || s->samples_taken)
		goto out;
	ret = CAIRN_ENOMEM;
	*sizes = malloc(s->n_samples * sizeof(**sizes));
	if (!*sizes || buf_reserve(all, total) < 0)
		goto out;
	for (size_t i = 0; i < s->n_samples; i++) {
		if (i % step == 0) {
			buf_put(all, s->samples[i].data, s->samples[i].len);
			(*sizes)[n++] = s->samples[i].len;
		}
		if (take) {
			free(s->samples[i].data);
			s->samples[i].data = NULL;
		}
	}
	if (take) {
		s->n_samples = 0;
		s->samples_taken = 1;
	}
	ret = (long)n;
out:
	pthread_mutex_unlock(&s->sample_mu);
	return ret;
}

/* Trains a dictionary from the sample and saves it as a DICT blob; its
 * bytes stay in ret_dict. */
static int train_save(struct saver *s, struct saver_ctx *c, size_t min_bytes, int take,
		      struct buf *ret_dict, uint8_t ret_id[32])
{
	struct buf all = BUF_INIT;
	size_t *sizes = NULL;
	/* the workers go on compressing while this trains */
	long n = sample_join(s, min_bytes, take, &all, &sizes);
	int e = n < 0 ? (int)n : zdict_train(all.data, sizes, (unsigned)n, DICT_MAX, ret_dict);
	buf_free(&all);
	free(sizes);
	if (e == 0)
		e = saver_save_blob(s, c, BLOB_DICT, ret_dict->data, ret_dict->len, ret_id);
	return e;
}

int saver_train_dict(struct saver *s, struct saver_ctx *c, size_t min_bytes, uint8_t ret_id[32])
{
	struct buf dict = BUF_INIT;
	int e = train_save(s, c, min_bytes, 1, &dict, ret_id);
	buf_free(&dict);
	return e;
}

int saver_train_early(struct saver *s, struct saver_ctx *c, size_t min_bytes)
{
	if (s->compression <= 0)
		return CAIRN_EINVAL;
	struct buf dict = BUF_INIT;
	uint8_t id[32];
	const struct zdict *z = NULL;
	int e = train_save(s, c, min_bytes, 0, &dict, id);
	if (e == 0)
		e = repo_dict_add(s->repo, id, dict.data, dict.len, s->compression, &z);
	buf_free(&dict);
	if (e < 0)
		return e;
	pthread_mutex_lock(&s->sample_mu);
	s->dict = z;
	memcpy(s->dict_id, id, 32);
	pthread_mutex_unlock(&s->sample_mu);
	return 0;
}

int saver_lookup(struct saver *s, struct saver_ctx *c, unsigned type, const uint8_t (*ids)[32],
		 size_t n, uint8_t *ret_indexed, uint64_t *ret_gen)
{
	pthread_mutex_lock(&s->mu);
	*ret_gen = s->index_gen;
	pthread_mutex_unlock(&s->mu);
	if (s->no_index_dedup) {
		memset(ret_indexed, 0, n);
		return 0;
	}
	if (n > c->cap_locs) {
		struct index_loc *p = realloc(c->locs, n * sizeof(*p));
		if (!p)
			return CAIRN_ENOMEM;
		c->locs = p;
		c->cap_locs = n;
	}
	return index_lookup_many(s->ix, type, ids, n, c->locs, ret_indexed);
}

/* Stores a blob that is new: compress, seal, add to a pack. */
static int saver_store_new(struct saver *s, struct saver_ctx *c, unsigned type, const void *data,
			   size_t len, const uint8_t id[32]);

int saver_save_looked_up(struct saver *s, struct saver_ctx *c, unsigned type, const void *data,
			 size_t len, const uint8_t id[32], int indexed, uint64_t gen)
{
	if (indexed)
		return 0;
	pthread_mutex_lock(&s->mu);
	int e = s->err;
	if (e == 0 && !pend_find(&s->pend, id, type)) {
		/* An index file was written since the look-up: the blob may have
		 * left the pending set for the index in between. */
		e = gen == s->index_gen || s->no_index_dedup ? CAIRN_ENOTFOUND
							     : index_lookup(s->ix, type, id, NULL);
		if (e == CAIRN_ENOTFOUND)
			e = pend_add(&s->pend, id, type) == 0 ? 1 : CAIRN_ENOMEM;
	}
	pthread_mutex_unlock(&s->mu);
	return e <= 0 ? e : saver_store_new(s, c, type, data, len, id);
}

int saver_save(struct saver *s, struct saver_ctx *c, unsigned type, const void *data, size_t len,
	       const uint8_t id[32], int *ret_added)
{
	if (ret_added)
		*ret_added = 0;
	pthread_mutex_lock(&s->mu);
	int e = s->err;
	if (e == 0 && !pend_find(&s->pend, id, type)) {
		e = s->no_index_dedup ? CAIRN_ENOTFOUND : index_lookup(s->ix, type, id, NULL);
		if (e == CAIRN_ENOTFOUND) {
			e = pend_add(&s->pend, id, type);
			if (e == 0 && ret_added)
				*ret_added = 1;
			if (e == 0)
				e = 1;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (e <= 0)
		return e;
	return saver_store_new(s, c, type, data, len, id);
}

static int saver_store_new(struct saver *s, struct saver_ctx *c, unsigned type, const void *data,
			   size_t len, const uint8_t id[32])
{
	int e;
	/* The tests' faulty writer: a bit of each data blob flips after its
	 * id was computed (as bad memory would do), so the repository holds
	 * blobs that decrypt but do not match their ids; readers must refuse
	 * them. */
	if (s->test_flip && type == BLOB_DATA && len > 0) {
		if (buf_reserve(&c->flipped, len) < 0)
			return CAIRN_ENOMEM;
		memcpy(c->flipped.data, data, len);
		c->flipped.data[len / 2] ^= 0x10;
		data = c->flipped.data;
	}

	/* A dictionary is for data; trees and lists compress without one.
	 * saver_train_early may switch it while workers run. */
	const struct zdict *z = NULL;
	uint8_t dict_ref[PACK_DICT_REF_LEN];
	if (type == BLOB_DATA && s->samples) {
		pthread_mutex_lock(&s->sample_mu);
		z = s->dict;
		memcpy(dict_ref, s->dict_id, PACK_DICT_REF_LEN);
		pthread_mutex_unlock(&s->sample_mu);
	} else if (type == BLOB_DATA) {
		z = s->dict;	/* set before the first save, never changed */
		memcpy(dict_ref, s->dict_id, PACK_DICT_REF_LEN);
	}
	if (c->dict != z) {
		compressor_set_dict(c->comp, z);
		c->dict = z;
	}
	size_t skip = z ? PACK_DICT_REF_LEN : 0;
	size_t bound = compress_bound(len) + skip;
	if (buf_reserve(&c->cbuf, bound) < 0)
		return CAIRN_ENOMEM;
	size_t clen = 0;
	if (c->incompressible < SKIP_AFTER || c->incompressible % PROBE_EVERY == 0) {
		clen = compressor_run(c->comp, data, len, c->cbuf.data + skip, c->cbuf.cap - skip);
		if (clen && clen + skip >= len)
			clen = 0;
		if (clen)
			c->incompressible = 0;
	}
	if (!clen)
		c->incompressible++;
	else if (s->samples && type == BLOB_DATA)
		saver_sample(s, data, len);
	unsigned flag = !clen ? PACK_BLOB_FLAG_RAW : z ? PACK_BLOB_FLAG_ZSTD_DICT : PACK_BLOB_FLAG_ZSTD;
	if (clen && z) {
		memcpy(c->cbuf.data, dict_ref, PACK_DICT_REF_LEN);
		clen += skip;
	}
	e = pack_blob_seal(s->keys, type, id, flag, clen ? c->cbuf.data : data, clen ? clen : len,
			   &c->sealed);
	if (e < 0)
		return e;

	int which = type == BLOB_DATA ? 0 : 1;
	pthread_mutex_lock(&s->pack_mu);
	e = pack_writer_add(s->filling[which], type, id, c->sealed.data, c->sealed.len,
			    (uint32_t)len);
	if (e == 0 && pack_writer_size(s->filling[which]) >= s->pack_size)
		e = saver_rotate(s, which);
	pthread_mutex_unlock(&s->pack_mu);
	if (e < 0) {
		saver_set_err(s, e);
		return e;
	}
	pthread_mutex_lock(&s->mu);
	s->stats.blobs_added[type <= BLOB_DICT ? type : 0]++;
	s->stats.raw_bytes_added += len;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int saver_save_blob(struct saver *s, struct saver_ctx *c, unsigned type, const void *data,
		    size_t len, uint8_t ret_id[32])
{
	repo_blob_id(s->repo, data, len, ret_id);
	return saver_save(s, c, type, data, len, ret_id, NULL);
}

int saver_send_data(struct saver *s)
{
	pthread_mutex_lock(&s->pack_mu);
	int e = pack_writer_count(s->filling[0]) > 0 ? saver_rotate(s, 0) : 0;
	pthread_mutex_unlock(&s->pack_mu);
	return e;
}

/*
 * The end of a backup. While the last packs upload, the packs stored
 * before them go into the cache, and each of the last goes in once its
 * upload ends, on a thread of its own, in one transaction. The index file
 * is written once the uploads are done, and the transaction commits after
 * it is stored (saver_flush_commit), while the caller stores its
 * snapshot. At the end of a first backup of 40k blobs to S3 the inserts
 * took 55 ms after the last upload, and the snapshot waited for them.
 *
 * The transaction holds the cache's write lock, which another cairn
 * process on the same cache would wait for, so it is only begun when the
 * lock is free at once, and rolled back (the rows are added again at the
 * end) when the uploads take longer than FLUSH_TX_MAX seconds.
 */

static void *cache_main(void *arg)
{
	struct saver *s = arg;
	pthread_mutex_lock(&s->idx_mu);
	for (;;) {
		if (s->n_in_tx < s->n_pending) {
			/* pending may be reallocated meanwhile: copy the slot */
			struct repo_index_pack ip = s->pending[s->n_in_tx];
			pthread_mutex_unlock(&s->idx_mu);
			int e = index_add_pack(s->ix, ip.id, ip.size, ip.entries, ip.n);
			pthread_mutex_lock(&s->idx_mu);
			if (e < 0) {
				s->cache_err = e;
				break;
			}
			s->n_in_tx++;
		} else if (s->cache_stop) {
			break;
		} else {
			pthread_cond_wait(&s->idx_cond, &s->idx_mu);
		}
	}
	pthread_mutex_unlock(&s->idx_mu);
	return NULL;
}

/* Stops the cache thread once it has added every pending pack; returns its
 * error. Called without idx_mu. */
static int cache_join(struct saver *s)
{
	pthread_mutex_lock(&s->idx_mu);
	int running = s->cache_running;
	s->cache_stop = 1;
	pthread_cond_broadcast(&s->idx_cond);
	pthread_mutex_unlock(&s->idx_mu);
	if (running)
		pthread_join(s->cache_thread, NULL);
	pthread_mutex_lock(&s->idx_mu);
	s->cache_running = 0;
	s->cache_stop = 0;
	int e = s->cache_err;
	s->cache_err = 0;
	pthread_mutex_unlock(&s->idx_mu);
	return e;
}

/* Begins the cache transaction and its thread when the lock is free. */
static void cache_start(struct saver *s)
{
	pthread_mutex_lock(&s->idx_mu);
	if (s->tx_open || s->cache_running) {
		pthread_mutex_unlock(&s->idx_mu);
		return;
	}
	int e = index_try_begin(s->ix);
	if (e == CAIRN_ELOCKED)
		log_debug("another process writes to the index cache: it is filled after the "
			  "last uploads");
	if (e == 0) {
		s->tx_open = 1;
		s->n_in_tx = 0;
		s->cache_err = 0;
		s->cache_stop = 0;
		if (pthread_create(&s->cache_thread, NULL, cache_main, s) == 0)
			s->cache_running = 1;
		else
			saver_tx_abort(s);
	}
	pthread_mutex_unlock(&s->idx_mu);
}

/* Stops the cache thread and rolls its transaction back. */
static void cache_abort(struct saver *s)
{
	cache_join(s);
	pthread_mutex_lock(&s->idx_mu);
	saver_tx_abort(s);
	pthread_mutex_unlock(&s->idx_mu);
}

int saver_flush_index(struct saver *s)
{
	pthread_mutex_lock(&s->pack_mu);
	for (int i = 0; i < 2; i++) {
		if (pack_writer_count(s->filling[i]) > 0 && saver_rotate(s, i) < 0) {
			pthread_mutex_unlock(&s->pack_mu);
			return CAIRN_ENOMEM;
		}
	}
	pthread_mutex_unlock(&s->pack_mu);
	cache_start(s);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += s->flush_tx_max;
	pthread_mutex_lock(&s->q_mu);
	while (s->q_len > 0 || s->busy) {
		if (pthread_cond_timedwait(&s->q_cond, &s->q_mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&s->q_mu);
			log_debug("the last uploads take over %u s: the index cache's write lock "
				  "is let go, and the cache is filled after them",
				  s->flush_tx_max);
			cache_abort(s);
			pthread_mutex_lock(&s->q_mu);
			until.tv_sec += 3600;
		}
	}
	/* The upload threads are idle and stay so until the next enqueue:
	 * pending does not change. */
	pthread_mutex_unlock(&s->q_mu);
	int e = saver_get_err(s);
	if (e < 0) {
		cache_abort(s);
		return e;
	}
	pthread_mutex_lock(&s->idx_mu);
	int threaded = s->cache_running, nothing = s->n_pending == 0;
	if (!threaded)
		e = saver_write_index(s);	/* the file and the inserts */
	pthread_mutex_unlock(&s->idx_mu);
	if (!threaded || nothing) {
		if (threaded)
			cache_abort(s);
		if (e < 0)
			saver_set_err(s, e);
		return e;
	}
	/* the cache thread goes on inserting while the file is stored */
	e = repo_index_write(s->repo, s->pending, s->n_pending, s->file_id);
	if (e < 0) {
		cache_abort(s);
		saver_set_err(s, e);
		return e;
	}
	pthread_mutex_lock(&s->idx_mu);
	s->file_written = 1;
	pthread_mutex_unlock(&s->idx_mu);
	return 0;
}

int saver_flush_commit(struct saver *s)
{
	pthread_mutex_lock(&s->idx_mu);
	int written = s->file_written;
	pthread_mutex_unlock(&s->idx_mu);
	if (!written)
		return 0;	/* saver_flush_index did everything */
	int e = cache_join(s);
	pthread_mutex_lock(&s->idx_mu);
	if (e == 0)
		e = saver_tx_commit(s, s->file_id);
	else
		saver_tx_abort(s);
	pthread_mutex_unlock(&s->idx_mu);
	return e;
}

int saver_flush(struct saver *s)
{
	int e = saver_flush_index(s);
	if (e == 0)
		e = saver_flush_commit(s);
	if (e < 0)
		saver_set_err(s, e);
	return e;
}

void saver_get_stats(struct saver *s, struct saver_stats *ret)
{
	pthread_mutex_lock(&s->mu);
	*ret = s->stats;
	pthread_mutex_unlock(&s->mu);
}
