/*
 * repo.c - opening and creating repositories, encrypted files, blob reads
 * and the index cache's synchronisation.
 */
#include "cairn/common.h"
#include "cairn/repo.h"
#include "cairn/chunker.h"
#include "cairn/compress.h"
#include "cairn/indexfile.h"
#include "cairn/keyfile.h"
#include "cairn/log.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct repo {
	struct backend *be;
	struct repo_config cfg;
	struct crypto_keys keys;
	struct chunker *chunker;
	struct index *ix;
	char *cache_dir;	/* <cache>/<repo id> */
	char key_name[96];	/* keys/<id> that opened the repository */
	/* Dictionaries loaded so far (few: one per backup series). */
	pthread_mutex_t dict_mu;
	struct repo_dict {
		uint8_t id[32];
		struct zdict *z;
	} *dicts;
	size_t n_dicts;
};

static const char *const file_dirs[] = { "index/", "snapshots/" };
static const char *const file_ads[] = { "cairn-index", "cairn-snapshot" };

struct backend *repo_backend(struct repo *r) { return r->be; }
const struct repo_config *repo_config(const struct repo *r) { return &r->cfg; }
const struct crypto_keys *repo_keys(const struct repo *r) { return &r->keys; }
struct index *repo_index(struct repo *r) { return r->ix; }
const struct chunker *repo_chunker(const struct repo *r) { return r->chunker; }
const char *repo_cache_path(const struct repo *r) { return r->cache_dir; }
const char *repo_key_name(const struct repo *r) { return r->key_name; }

int repo_key_add(struct repo *r, const char *pass, size_t passlen, char *ret_name, size_t cap)
{
	struct buf b = BUF_INIT;
	int e = keyfile_create(&r->keys, pass, passlen, NULL, NULL, &b);
	if (e == 0) {
		uint8_t kid[32];
		char hex[65];
		crypto_plain_hash(b.data, b.len, kid);
		hex_encode(kid, 32, hex);
		snprintf(ret_name, cap, "keys/%s", hex);
		e = backend_put(r->be, ret_name, b.data, b.len);
	}
	buf_free(&b);
	return e;
}

void repo_blob_id(const struct repo *r, const void *data, size_t len, uint8_t ret_id[32])
{
	crypto_keyed_hash(r->keys.id, data, len, ret_id);
}

void repo_blob_ids(const struct repo *r, size_t n, const uint8_t *const *data, const size_t *len,
		   uint8_t (*ret_ids)[32])
{
	crypto_keyed_hash_many(r->keys.id, n, data, len, ret_ids);
}


int repo_init(const struct repo_init_opts *o)
{
	struct backend *be = NULL;
	struct buf b = BUF_INIT;
	struct crypto_keys keys;
	struct repo_config cfg;
	struct backend_open_opts bo = { .create = 1, .create_bucket = o->create_bucket,
					.options = o->backend_options };
	int e = backend_open_with(o->location, &bo, &be);
	if (e < 0)
		return e;
	e = backend_stat(be, "config", NULL);
	if (e == 0) {
		log_error("a repository already exists at %s; choose another location",
			  be->location);
		e = CAIRN_EEXIST;
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = REPO_FORMAT_VERSION;
	crypto_random(cfg.id, sizeof(cfg.id));
	cfg.created = (int64_t)time(NULL);
	cfg.chunker = o->chunker;
	if (!cfg.chunker.min)
		cfg.chunker.min = REPO_DEFAULT_CHUNK_MIN;
	if (!cfg.chunker.avg)
		cfg.chunker.avg = REPO_DEFAULT_CHUNK_AVG;
	if (!cfg.chunker.max)
		cfg.chunker.max = REPO_DEFAULT_CHUNK_MAX;
	e = chunker_params_check(&cfg.chunker);
	if (e < 0)
		goto out;
	cfg.compression = o->compression < 0 ? REPO_DEFAULT_COMPRESSION : o->compression;
	cfg.pack_size = o->pack_size ? o->pack_size : REPO_DEFAULT_PACK_SIZE;
	if (cfg.compression > 19 || cfg.pack_size < (1u << 20) || cfg.pack_size > (1ull << 30)) {
		log_error("compression must be 0..19 and pack size 1 MiB..1 GiB");
		e = CAIRN_EINVAL;
		goto out;
	}
	crypto_keys_generate(&keys);
	if (o->copy_keys) {
		/* --copy-chunker-params: same chunk boundaries and blob ids as the
		 * other repository, own encryption key */
		memcpy(keys.id, o->copy_keys->id, sizeof(keys.id));
		memcpy(keys.chunker, o->copy_keys->chunker, sizeof(keys.chunker));
	}
	/* host and user stay empty: nothing on the storage side names hosts */
	e = keyfile_create(&keys, o->password, o->password_len, NULL, NULL, &b);
	if (e < 0)
		goto out;
	uint8_t kid[32];
	char name[80], hex[65];
	crypto_plain_hash(b.data, b.len, kid);
	hex_encode(kid, 32, hex);
	snprintf(name, sizeof(name), "keys/%s", hex);
	/* Key before config: a repository without config is not a repository. */
	e = backend_put(be, name, b.data, b.len);
	if (e < 0)
		goto out;
	e = config_encode(&cfg, &b);
	if (e < 0)
		goto out;
	e = backend_put(be, "config", b.data, b.len);
out:
	crypto_wipe(&keys, sizeof(keys));
	buf_free(&b);
	backend_free(be);
	return e;
}

struct key_try {
	struct repo *r;
	const char *pass;
	size_t passlen;
	int found, tried, corrupt;
};

/* Tries one key file with the password; stops the listing on success. */
static int try_key(void *arg, const char *name, uint64_t size)
{
	struct key_try *kt = arg;
	struct buf b = BUF_INIT;
	if (size > 65536)
		return 0;
	int e = backend_get(kt->r->be, name, 0, 0, &b);
	if (e < 0) {
		buf_free(&b);
		return 0;
	}
	kt->tried++;
	e = keyfile_open(b.data, b.len, kt->pass, kt->passlen, &kt->r->keys, NULL);
	buf_free(&b);
	if (e == 0) {
		kt->found = 1;
		snprintf(kt->r->key_name, sizeof(kt->r->key_name), "%s", name);
		return 1;
	}
	if (e == CAIRN_ECORRUPT || e == CAIRN_EUNSUPPORTED) {
		log_warn("key file %s is malformed; skipping it", name);
		kt->corrupt++;
	}
	return 0;
}

/* Picks and creates (0700) <cache>/<repo id>. */
static int repo_cache_setup(struct repo *r, const char *cache_dir)
{
	char base[4096];
	const char *env = getenv("CAIRN_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
	if (cache_dir)
		snprintf(base, sizeof(base), "%s", cache_dir);
	else if (env && *env)
		snprintf(base, sizeof(base), "%s", env);
	else if (xdg && *xdg)
		snprintf(base, sizeof(base), "%s/cairn", xdg);
	else {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : "/tmp";
		}
		snprintf(base, sizeof(base), "%s/.cache/cairn", home);
	}
	char hex[65];
	hex_encode(r->cfg.id, 32, hex);
	size_t n = strlen(base) + 70;
	r->cache_dir = malloc(n);
	if (!r->cache_dir)
		return CAIRN_ENOMEM;
	snprintf(r->cache_dir, n, "%s/%s", base, hex);
	/* Create every level; the leaves are private. */
	for (char *s = strchr(r->cache_dir + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = 0;
		if (mkdir(r->cache_dir, 0700) < 0 && errno != EEXIST) {
			log_error("cannot create cache folder %s: %s (set CAIRN_CACHE_DIR)",
				  r->cache_dir, strerror(errno));
			if (s)
				*s = '/';
			return cairn_from_errno(errno);
		}
		if (!s)
			break;
		*s = '/';
	}
	chmod(r->cache_dir, 0700);
	return 0;
}

int repo_open(const struct repo_open_opts *o, struct repo **ret)
{
	struct repo *r = calloc(1, sizeof(*r));
	if (r)
		pthread_mutex_init(&r->dict_mu, NULL);
	struct buf b = BUF_INIT;
	if (!r)
		return CAIRN_ENOMEM;
	struct backend_open_opts bo = { .options = o->backend_options };
	int e = backend_open_with(o->location, &bo, &r->be);
	if (e < 0)
		goto fail;
	e = backend_get(r->be, "config", 0, 0, &b);
	if (e == CAIRN_ENOTFOUND) {
		log_error("no repository at %s (no config object); create one with 'cairn init'",
			  r->be->location);
		e = CAIRN_ENOREPO;
		goto fail;
	}
	if (e < 0)
		goto fail;
	e = config_decode(b.data, b.len, &r->cfg);
	if (e == CAIRN_EUNSUPPORTED) {
		log_error("repository %s has a format this cairn does not know; upgrade cairn",
			  r->be->location);
		goto fail;
	}
	if (e < 0) {
		log_error("the config object of %s is malformed", r->be->location);
		goto fail;
	}
	struct key_try kt = { .r = r, .pass = o->password, .passlen = o->password_len };
	e = backend_list(r->be, "keys/", try_key, &kt);
	if (e < 0)
		goto fail;
	if (!kt.found) {
		if (kt.tried == 0)
			log_error("repository %s has no key files; it cannot be opened",
				  r->be->location);
		else
			log_error("wrong password: no key of %s opens with it; check "
				  "CAIRN_PASSWORD or the password file",
				  r->be->location);
		e = kt.tried ? CAIRN_EPASSWORD : CAIRN_ECORRUPT;
		goto fail;
	}
	r->chunker = chunker_new(&r->cfg.chunker, r->keys.chunker);
	if (!r->chunker) {
		e = CAIRN_ENOMEM;
		goto fail;
	}
	if (!o->no_index) {
		e = repo_cache_setup(r, o->cache_dir);
		if (e < 0)
			goto fail;
		char path[4200];
		snprintf(path, sizeof(path), "%s/index.db", r->cache_dir);
		e = index_open(path, &r->ix);
		if (e < 0)
			goto fail;
		e = repo_index_sync(r);
		if (e < 0)
			goto fail;
	}
	buf_free(&b);
	*ret = r;
	return 0;
fail:
	buf_free(&b);
	repo_free(r);
	return e;
}

void repo_free(struct repo *r)
{
	if (!r)
		return;
	index_free(r->ix);
	for (size_t i = 0; i < r->n_dicts; i++)
		zdict_free(r->dicts[i].z);
	free(r->dicts);
	pthread_mutex_destroy(&r->dict_mu);
	chunker_free(r->chunker);
	backend_free(r->be);
	crypto_wipe(&r->keys, sizeof(r->keys));
	free(r->cache_dir);
	free(r);
}

void repo_file_name(enum repo_file kind, const uint8_t id[32], char *name, size_t cap)
{
	char hex[65];
	hex_encode(id, 32, hex);
	snprintf(name, cap, "%s%s", file_dirs[kind], hex);
}

int repo_file_save(struct repo *r, enum repo_file kind, const void *plain, size_t len,
		   uint8_t ret_id[32])
{
	const char *ad = file_ads[kind];
	uint8_t *sealed = malloc(len + CRYPTO_SEAL_OVERHEAD);
	if (!sealed)
		return CAIRN_ENOMEM;
	int e = crypto_seal(r->keys.enc, ad, strlen(ad), plain, len, sealed);
	if (e < 0)
		goto out;
	if (kind == REPO_FILE_SNAPSHOT)
		crypto_keyed_hash(r->keys.id, plain, len, ret_id);
	else
		crypto_plain_hash(sealed, len + CRYPTO_SEAL_OVERHEAD, ret_id);
	char name[96];
	repo_file_name(kind, ret_id, name, sizeof(name));
	struct iovec v = { sealed, len + CRYPTO_SEAL_OVERHEAD };
	if (kind == REPO_FILE_SNAPSHOT)
		e = backend_putv(r->be, name, &v, 1);
	else	/* an index file's id is the SHA-256 of its bytes */
		e = backend_putv_hashed(r->be, name, &v, 1, ret_id);
out:
	free(sealed);
	return e;
}

/* Loads a file; damage is logged as an error, or as a warning (sync goes on). */
static int repo_file_load_log(struct repo *r, enum repo_file kind, const uint8_t id[32],
			      struct buf *out, void (*logf)(const char *fmt, ...))
{
	char name[96];
	struct buf sealed = BUF_INIT;
	uint8_t check[32];
	repo_file_name(kind, id, name, sizeof(name));
	int e = backend_get(r->be, name, 0, 0, &sealed);
	if (e == CAIRN_ENOTFOUND)
		log_error("%s is missing from the repository", name);
	if (e < 0)
		goto out;
	if (kind == REPO_FILE_INDEX) {
		crypto_plain_hash(sealed.data, sealed.len, check);
		if (memcmp(check, id, 32) != 0) {
			logf("%s is damaged: its hash does not match its name", name);
			e = CAIRN_ECORRUPT;
			goto out;
		}
	}
	buf_reset(out);
	e = CAIRN_ECORRUPT;
	if (sealed.len < CRYPTO_SEAL_OVERHEAD ||
	    buf_reserve(out, sealed.len - CRYPTO_SEAL_OVERHEAD) < 0 ||
	    crypto_open(r->keys.enc, file_ads[kind], strlen(file_ads[kind]), sealed.data,
			sealed.len, out->data) < 0) {
		logf("%s is damaged: it does not decrypt", name);
		goto out;
	}
	out->len = sealed.len - CRYPTO_SEAL_OVERHEAD;
	if (kind == REPO_FILE_SNAPSHOT) {
		crypto_keyed_hash(r->keys.id, out->data, out->len, check);
		if (memcmp(check, id, 32) != 0) {
			logf("%s is damaged: its content does not match its name", name);
			goto out;
		}
	}
	e = 0;
out:
	buf_free(&sealed);
	return e;
}

int repo_file_load(struct repo *r, enum repo_file kind, const uint8_t id[32], struct buf *out)
{
	return repo_file_load_log(r, kind, id, out, log_error);
}

struct file_list {
	int (*fn)(void *arg, const uint8_t id[32]);
	void *arg;
	size_t skip;
};

/* Turns "<dir>/<hex>" names into ids. */
static int file_list_cb(void *arg, const char *name, uint64_t size)
{
	struct file_list *fl = arg;
	uint8_t id[32];
	(void)size;
	if (strlen(name) != fl->skip + 64 || hex_decode(name + fl->skip, id, 32) < 0)
		return 0;
	return fl->fn(fl->arg, id);
}

int repo_file_list(struct repo *r, enum repo_file kind,
		   int (*fn)(void *arg, const uint8_t id[32]), void *arg)
{
	struct file_list fl = { fn, arg, strlen(file_dirs[kind]) };
	return backend_list(r->be, file_dirs[kind], file_list_cb, &fl);
}

struct file_find {
	const char *prefix;
	size_t plen;
	int found;
	uint8_t id[32];
};

static int file_find_cb(void *arg, const uint8_t id[32])
{
	struct file_find *ff = arg;
	char hex[65];
	hex_encode(id, 32, hex);
	if (strncmp(hex, ff->prefix, ff->plen) == 0) {
		ff->found++;
		memcpy(ff->id, id, 32);
	}
	return 0;
}

int repo_file_find(struct repo *r, enum repo_file kind, const char *prefix, uint8_t ret_id[32])
{
	char low[65];
	size_t n = strlen(prefix);
	if (n == 0 || n > 64)
		return CAIRN_ENOTFOUND;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)((prefix[i] >= 'A' && prefix[i] <= 'F') ? prefix[i] + 32 : prefix[i]);
	struct file_find ff = { .prefix = low, .plen = n };
	int e = repo_file_list(r, kind, file_find_cb, &ff);
	if (e < 0)
		return e;
	if (ff.found == 0)
		return CAIRN_ENOTFOUND;
	if (ff.found > 1)
		return CAIRN_EAMBIGUOUS;
	memcpy(ret_id, ff.id, 32);
	return 0;
}

/* Finds a loaded dictionary; the caller holds dict_mu. */
static struct zdict *dict_cached(struct repo *r, const uint8_t *ref, size_t reflen)
{
	for (size_t i = 0; i < r->n_dicts; i++)
		if (memcmp(r->dicts[i].id, ref, reflen) == 0)
			return r->dicts[i].z;
	return NULL;
}

/* Loads the DICT blob id and prepares it for level (0: decompression only);
 * a dictionary already loaded without compression tables is replaced. */
/* Puts z, the dictionary id, in r's cache and sets *ret to the cached one
 * (z, or another thread's that was first; z is freed then). Frees z and
 * returns CAIRN_ENOMEM when it cannot. */
static int dict_insert(struct repo *r, const uint8_t id[32], int level, struct zdict *z,
		       const struct zdict **ret)
{
	int e = 0;
	pthread_mutex_lock(&r->dict_mu);
	struct zdict *old = dict_cached(r, id, 32);
	if (old && (level == 0 || zdict_can_compress(old))) {
		zdict_free(z);	/* another thread was first */
		z = old;
	} else {
		void *p = realloc(r->dicts, (r->n_dicts + 1) * sizeof(*r->dicts));
		if (!p) {
			e = CAIRN_ENOMEM;
			zdict_free(z);
		} else {
			/* An entry without compression tables stays: a thread may
			 * be decoding with it. The newer one is found first. */
			r->dicts = p;
			memmove(r->dicts + 1, r->dicts, r->n_dicts * sizeof(*r->dicts));
			memcpy(r->dicts[0].id, id, 32);
			r->dicts[0].z = z;
			r->n_dicts++;
		}
	}
	pthread_mutex_unlock(&r->dict_mu);
	if (e == 0)
		*ret = z;
	return e;
}

static int dict_load(struct repo *r, struct decompressor *d, const uint8_t id[32], int level,
		     const struct zdict **ret)
{
	pthread_mutex_lock(&r->dict_mu);
	struct zdict *z = dict_cached(r, id, 32);
	pthread_mutex_unlock(&r->dict_mu);
	if (z && (level == 0 || zdict_can_compress(z))) {
		*ret = z;
		return 0;
	}
	struct buf b = BUF_INIT;
	int e = repo_blob_load(r, d, BLOB_DICT, id, &b);
	if (e == 0) {
		e = zdict_new(b.data, b.len, level, &z);
		if (e == CAIRN_ECORRUPT) {
			char hex[65];
			hex_encode(id, 32, hex);
			log_error("dict blob %s is not a zstd dictionary; run 'cairn check "
				  "--read-data'", hex);
		}
	}
	buf_free(&b);
	if (e < 0)
		return e;
	return dict_insert(r, id, level, z, ret);
}

int repo_dict_add(struct repo *r, const uint8_t id[32], const void *data, size_t len, int level,
		  const struct zdict **ret)
{
	struct zdict *z;
	int e = zdict_new_fast(data, len, level, &z);
	return e < 0 ? e : dict_insert(r, id, level, z, ret);
}

/* The dictionary a blob names by the first PACK_DICT_REF_LEN bytes of its id. */
static int dict_by_ref(struct repo *r, struct decompressor *d, const uint8_t *ref,
		       const struct zdict **ret)
{
	pthread_mutex_lock(&r->dict_mu);
	struct zdict *z = dict_cached(r, ref, PACK_DICT_REF_LEN);
	pthread_mutex_unlock(&r->dict_mu);
	if (z) {
		*ret = z;
		return 0;
	}
	char hex[2 * PACK_DICT_REF_LEN + 1];
	unsigned type;
	uint8_t id[32];
	hex_encode(ref, PACK_DICT_REF_LEN, hex);
	int e = index_find_prefix(r->ix, hex, &type, id);
	if (e == 0 && type != BLOB_DICT)
		e = CAIRN_ENOTFOUND;
	if (e < 0) {
		log_error("the dictionary %s... that a blob was compressed with is %s; run "
			  "'cairn repair index' or 'cairn check'", hex,
			  e == CAIRN_EAMBIGUOUS ? "ambiguous" : "not in the index");
		return e == CAIRN_ENOMEM ? e : CAIRN_ECORRUPT;
	}
	return dict_load(r, d, id, 0, ret);
}

int repo_dict_load(struct repo *r, struct decompressor *d, const uint8_t id[32], int level,
		   const struct zdict **ret)
{
	return dict_load(r, d, id, level, ret);
}

int repo_blob_decode(struct repo *r, struct decompressor *d, unsigned type, const uint8_t id[32],
		     const uint8_t *sealed, size_t len, uint32_t raw_length, struct buf *out)
{
	struct buf scratch = BUF_INIT;
	buf_reset(out);
	int e = buf_reserve(out, raw_length ? raw_length : 1);
	if (e == 0)
		e = repo_blob_decode_to(r, d, type, id, sealed, len, raw_length, out->data, &scratch);
	out->len = e == 0 ? raw_length : 0;
	buf_free(&scratch);
	return e;
}

int repo_blob_decode_unchecked(struct repo *r, struct decompressor *d, unsigned type,
			       const uint8_t id[32], const uint8_t *sealed, size_t len,
			       uint32_t raw_length, void *dst, struct buf *scratch)
{
	unsigned flag;
	int e = pack_blob_open(&r->keys, type, id, sealed, len, &flag, scratch);
	if (e < 0)
		return e;
	if (flag == PACK_BLOB_FLAG_ZSTD || flag == PACK_BLOB_FLAG_ZSTD_DICT) {
		const struct zdict *z = NULL;
		size_t skip = 0;
		if (flag == PACK_BLOB_FLAG_ZSTD_DICT) {
			skip = PACK_DICT_REF_LEN;
			e = scratch->len > skip ? dict_by_ref(r, d, scratch->data, &z) : CAIRN_ECORRUPT;
			if (e < 0)
				return e;
		}
		e = z ? decompressor_run_dict(d, z, scratch->data + skip, scratch->len - skip, dst,
					      raw_length)
		      : decompressor_run(d, scratch->data, scratch->len, dst, raw_length);
		if (e < 0)
			return e;
	} else {
		if (scratch->len != raw_length)
			return CAIRN_ECORRUPT;
		memcpy(dst, scratch->data, raw_length);
	}
	return 0;
}

int repo_blob_decode_to(struct repo *r, struct decompressor *d, unsigned type,
			const uint8_t id[32], const uint8_t *sealed, size_t len,
			uint32_t raw_length, void *dst, struct buf *scratch)
{
	uint8_t check[32];
	int e = repo_blob_decode_unchecked(r, d, type, id, sealed, len, raw_length, dst, scratch);
	if (e < 0)
		return e;
	repo_blob_id(r, dst, raw_length, check);
	return memcmp(check, id, 32) == 0 ? 0 : CAIRN_ECORRUPT;
}

int repo_blob_load(struct repo *r, struct decompressor *d, unsigned type, const uint8_t id[32],
		   struct buf *out)
{
	struct index_loc loc;
	char hex[65], name[96];
	hex_encode(id, 32, hex);
	int e = index_lookup(r->ix, type, id, &loc);
	if (e == CAIRN_ENOTFOUND) {
		log_error("%s blob %s is not in the index; run 'cairn repair index' or "
			  "'cairn check'",
			  blob_type_name(type), hex);
		return e;
	}
	if (e < 0)
		return e;
	pack_name(loc.pack_id, name, sizeof(name));
	struct buf sealed = BUF_INIT;
	e = backend_get(r->be, name, loc.offset, loc.length, &sealed);
	if (e == CAIRN_ENOTFOUND)
		log_error("pack %s holding %s blob %s is missing", name, blob_type_name(type), hex);
	if (e < 0)
		goto out;
	e = repo_blob_decode(r, d, type, id, sealed.data, sealed.len, loc.raw_length, out);
	if (e == CAIRN_ECORRUPT)
		log_error("%s blob %s in pack %s is damaged (it does not decrypt or its "
			  "content does not match its id); run 'cairn check --read-data'",
			  blob_type_name(type), hex, name);
out:
	buf_free(&sealed);
	return e;
}

void repo_blob_prefetch(struct repo *r, unsigned type, const uint8_t id[32])
{
	struct index_loc loc;
	char name[96];
	if (!backend_can_prefetch(r->be) || index_lookup(r->ix, type, id, &loc) < 0)
		return;
	pack_name(loc.pack_id, name, sizeof(name));
	backend_prefetch(r->be, name, loc.offset, loc.length, loc.pack_size);
}

int repo_pack_header(struct repo *r, const uint8_t pack_id[32], uint64_t pack_size,
		     struct pack_entry **ret_entries, size_t *ret_n)
{
	char name[96];
	struct buf tail = BUF_INIT;
	pack_name(pack_id, name, sizeof(name));
	size_t want = (size_t)CAIRN_MIN(pack_size, (uint64_t)64 << 10), need = 0;
	int e = backend_get(r->be, name, pack_size - want, want, &tail);
	if (e < 0)
		goto out;
	e = pack_header_decode(&r->keys, tail.data, tail.len, pack_size, &need, ret_entries,
			       ret_n);
	if (e == CAIRN_EINVAL) {
		buf_reset(&tail);
		e = backend_get(r->be, name, pack_size - need, need, &tail);
		if (e < 0)
			goto out;
		e = pack_header_decode(&r->keys, tail.data, tail.len, pack_size, &need,
				       ret_entries, ret_n);
		if (e == CAIRN_EINVAL)
			e = CAIRN_ECORRUPT;
	}
	if (e == CAIRN_ECORRUPT)
		log_error("the header of pack %s is damaged", name);
out:
	buf_free(&tail);
	return e;
}

struct sync_state {
	struct repo *r;
	int stale;
	size_t damaged;
	size_t loaded;
	uint8_t (*listed)[32];	/* the repository's index files, sorted */
	size_t n_listed, cap;
	size_t n_cached;	/* cached index files the repository has */
};

static int sync_list_cb(void *arg, const uint8_t id[32])
{
	struct sync_state *s = arg;
	if (s->n_listed == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *p = realloc(s->listed, cap * 32);
		if (!p)
			return CAIRN_ENOMEM;
		s->listed = p;
		s->cap = cap;
	}
	memcpy(s->listed[s->n_listed++], id, 32);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* A cached index file that the repository no longer has makes the cache
 * stale. */
static int sync_check_cb(void *arg, const uint8_t id[32])
{
	struct sync_state *s = arg;
	if (!s->n_listed || !bsearch(id, s->listed, s->n_listed, 32, id_cmp)) {
		s->stale = 1;
		return 1;
	}
	s->n_cached++;
	return 0;
}

static int sync_pack_cb(void *arg, const uint8_t pack_id[32], uint64_t size,
			const struct pack_entry *en, size_t n)
{
	struct sync_state *s = arg;
	return index_add_pack(s->r->ix, pack_id, size, en, n);
}

/* Loads one index file into the cache inside the current transaction. */
static int sync_load(struct sync_state *s, const uint8_t id[32])
{
	struct buf plain = BUF_INIT;
	char name[96];
	repo_file_name(REPO_FILE_INDEX, id, name, sizeof(name));
	int e = repo_file_load_log(s->r, REPO_FILE_INDEX, id, &plain, log_warn);
	if (e == 0) {
		e = indexfile_decode(plain.data, plain.len, sync_pack_cb, s);
		if (e == CAIRN_ECORRUPT)
			log_warn("%s is malformed", name);
	}
	if (e == CAIRN_ECORRUPT) {
		/* The packs are still there: their blobs are unindexed until repaired. */
		log_warn("skipping %s: blobs it lists are unavailable until 'cairn repair index'",
			 name);
		s->damaged++;
		e = 0;
		goto out;
	}
	if (e < 0)
		goto out;
	e = index_add_file(s->r->ix, id);
out:
	buf_free(&plain);
	return e;
}

/*
 * Brings the cache up to date with the repository's index files: one
 * listing, compared with the files the cache recorded. A cache that
 * recorded a file the repository no longer has (prune rewrote the index)
 * is rebuilt; files it has not seen are loaded. When nothing changed the
 * cache is only read: no write lock, so a command does not wait for
 * another process's transaction on open.
 */
int repo_index_sync(struct repo *r)
{
	struct sync_state s = { .r = r };
	int e = repo_file_list(r, REPO_FILE_INDEX, sync_list_cb, &s);
	if (e < 0)
		goto out;
	if (s.n_listed)
		qsort(s.listed, s.n_listed, 32, id_cmp);
	e = index_foreach_file(r->ix, sync_check_cb, &s);
	if (e < 0)
		goto out;
	if (!s.stale && s.n_cached == s.n_listed)
		goto out;	/* every listed file is cached: nothing to do */
	e = index_begin(r->ix);
	if (e < 0)
		goto out;
	if (s.stale) {
		log_verbose("index cache is stale; rebuilding it from the index files");
		e = index_clear(r->ix);
		if (e < 0)
			goto rollback;
	}
	for (size_t i = 0; i < s.n_listed; i++) {
		int has = s.stale ? 0 : index_has_file(r->ix, s.listed[i]);
		e = has < 0 ? has : has ? 0 : sync_load(&s, s.listed[i]);
		if (e < 0)
			goto rollback;
	}
	e = index_commit(r->ix);
	goto out;
rollback:
	index_rollback(r->ix);
out:
	free(s.listed);
	return e;
}

int repo_index_write(struct repo *r, const struct repo_index_pack *packs, size_t n,
		     uint8_t ret_id[32])
{
	struct buf b = BUF_INIT;
	indexfile_begin(&b, n);
	for (size_t i = 0; i < n; i++)
		indexfile_add_pack(&b, packs[i].id, packs[i].size, packs[i].entries, packs[i].n);
	int e = buf_ok(&b);
	if (e == 0)
		e = repo_file_save(r, REPO_FILE_INDEX, b.data, b.len, ret_id);
	buf_free(&b);
	return e;
}
