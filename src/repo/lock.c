/*
 * lock.c - repository locks (see lock.h).
 *
 * Lock plaintext: "CLK1", u8 exclusive, i64le pid, i64le created,
 * i64le refreshed, varint+bytes hostname, varint+bytes username.
 */
#include "cairn/common.h"
#include "cairn/lock.h"
#include "cairn/crypto.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/timeparse.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static const char lock_ad[] = "cairn-lock";

struct repo_lock {
	struct repo *r;
	struct lock_info info;
	char name[96];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, started;
};

static void lock_name(const uint8_t id[32], char *name, size_t cap)
{
	char hex[65];
	hex_encode(id, 32, hex);
	snprintf(name, cap, "locks/%s", hex);
}

/* Seals and stores a lock's current state. */
static int lock_write(struct repo *r, const struct lock_info *li, const char *name)
{
	struct buf b = BUF_INIT;
	buf_put(&b, "CLK1", 4);
	buf_put_u8(&b, (uint8_t)li->exclusive);
	buf_put_u64le(&b, (uint64_t)li->pid);
	buf_put_u64le(&b, (uint64_t)li->created);
	buf_put_u64le(&b, (uint64_t)li->refreshed);
	buf_put_str(&b, li->hostname);
	buf_put_str(&b, li->username);
	int e = buf_ok(&b);
	uint8_t *sealed = NULL;
	if (e == 0 && !(sealed = malloc(b.len + CRYPTO_SEAL_OVERHEAD)))
		e = CAIRN_ENOMEM;
	if (e == 0)
		e = crypto_seal(repo_keys(r)->enc, lock_ad, sizeof(lock_ad) - 1, b.data, b.len, sealed);
	if (e == 0)
		e = backend_put(repo_backend(r), name, sealed, b.len + CRYPTO_SEAL_OVERHEAD);
	free(sealed);
	buf_free(&b);
	return e;
}

/* Decodes a sealed lock object. */
static int lock_decode(struct repo *r, const uint8_t *data, size_t len, struct lock_info *li)
{
	if (len < CRYPTO_SEAL_OVERHEAD || len > 4096)
		return CAIRN_ECORRUPT;
	uint8_t plain[4096];
	if (crypto_open(repo_keys(r)->enc, lock_ad, sizeof(lock_ad) - 1, data, len, plain) < 0)
		return CAIRN_ECORRUPT;
	struct rd rd;
	rd_init(&rd, plain, len - CRYPTO_SEAL_OVERHEAD);
	const uint8_t *m, *s;
	size_t n;
	uint8_t ex;
	uint64_t pid, created, refreshed;
	if (rd_take(&rd, 4, &m) < 0 || memcmp(m, "CLK1", 4) || rd_u8(&rd, &ex) < 0 ||
	    rd_u64le(&rd, &pid) < 0 || rd_u64le(&rd, &created) < 0 || rd_u64le(&rd, &refreshed) < 0)
		return CAIRN_ECORRUPT;
	li->exclusive = ex != 0;
	li->pid = (int64_t)pid;
	li->created = (int64_t)created;
	li->refreshed = (int64_t)refreshed;
	if (rd_bytes(&rd, &s, &n) < 0 || n >= sizeof(li->hostname))
		return CAIRN_ECORRUPT;
	memcpy(li->hostname, s, n);
	li->hostname[n] = 0;
	if (rd_bytes(&rd, &s, &n) < 0 || n >= sizeof(li->username))
		return CAIRN_ECORRUPT;
	memcpy(li->username, s, n);
	li->username[n] = 0;
	return rd.len == 0 ? 0 : CAIRN_ECORRUPT;
}

static int64_t now_s(void)
{
	return time_now_ns() / 1000000000;
}

/* Stale: not refreshed in time, or its process is gone from this host. */
static int lock_is_stale(const struct lock_info *li)
{
	if (now_s() - li->refreshed > LOCK_STALE_SECONDS)
		return 1;
	char host[256];
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = 0;
		if (!strcmp(host, li->hostname) && li->pid > 0 && li->pid <= INT32_MAX &&
		    kill((pid_t)li->pid, 0) < 0 && errno == ESRCH)
			return 1;
	}
	return 0;
}

struct list_state {
	struct repo *r;
	int (*fn)(void *arg, const struct lock_info *li);
	void *arg;
};

static int list_cb(void *arg, const char *name, uint64_t size)
{
	struct list_state *ls = arg;
	struct lock_info li;
	memset(&li, 0, sizeof(li));
	if (strlen(name) != 6 + 64 || hex_decode(name + 6, li.id, 32) < 0 || size > 4096)
		return 0;
	struct buf b = BUF_INIT;
	int e = backend_get(repo_backend(ls->r), name, 0, 0, &b);
	if (e == CAIRN_ENOTFOUND) {	/* removed meanwhile */
		buf_free(&b);
		return 0;
	}
	if (e == 0 && lock_decode(ls->r, b.data, b.len, &li) < 0) {
		log_warn("lock %s is malformed; remove it with 'cairn unlock --remove-all'", name);
		li.stale = 1;
		snprintf(li.hostname, sizeof(li.hostname), "?");
	} else if (e == 0) {
		li.stale = lock_is_stale(&li);
	}
	buf_free(&b);
	if (e < 0)
		return e;
	return ls->fn(ls->arg, &li);
}

int lock_list(struct repo *r, int (*fn)(void *arg, const struct lock_info *li), void *arg)
{
	struct list_state ls = { r, fn, arg };
	return backend_list(repo_backend(r), "locks/", list_cb, &ls);
}

struct conflict {
	const struct repo_lock *me;
	struct lock_info holder;
	int found;
};

static int conflict_cb(void *arg, const struct lock_info *li)
{
	struct conflict *c = arg;
	if (!memcmp(li->id, c->me->info.id, 32) || li->stale)
		return 0;
	if (c->me->info.exclusive || li->exclusive) {
		c->holder = *li;
		c->found = 1;
		return 1;
	}
	return 0;
}

static void *refresh_thread(void *arg)
{
	struct repo_lock *l = arg;
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += LOCK_REFRESH_SECONDS;
		int rc = 0;
		while (!l->stop && rc == 0)
			rc = pthread_cond_timedwait(&l->cv, &l->mu, &until);
		if (l->stop)
			break;
		l->info.refreshed = now_s();
		struct lock_info copy = l->info;
		pthread_mutex_unlock(&l->mu);
		if (lock_write(l->r, &copy, l->name) < 0)
			log_warn("cannot refresh the repository lock %s; it may be taken over "
				 "after %d minutes",
				 l->name, LOCK_STALE_SECONDS / 60);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Writes a lock and checks for conflicts once. */
static int lock_try(struct repo *r, int exclusive, struct repo_lock *l, struct conflict *c)
{
	struct passwd *pw = getpwuid(getuid());
	memset(&l->info, 0, sizeof(l->info));
	crypto_random(l->info.id, 32);
	l->info.exclusive = exclusive;
	l->info.pid = getpid();
	l->info.created = l->info.refreshed = now_s();
	if (gethostname(l->info.hostname, sizeof(l->info.hostname)) < 0)
		snprintf(l->info.hostname, sizeof(l->info.hostname), "unknown");
	l->info.hostname[sizeof(l->info.hostname) - 1] = 0;
	snprintf(l->info.username, sizeof(l->info.username), "%s",
		 pw && pw->pw_name ? pw->pw_name : "");
	lock_name(l->info.id, l->name, sizeof(l->name));
	int e = lock_write(r, &l->info, l->name);
	if (e < 0) {
		log_error("cannot write a lock into the repository: %s", cairn_strerror(e));
		return e;
	}
	memset(c, 0, sizeof(*c));
	c->me = l;
	e = lock_list(r, conflict_cb, c);
	if (e < 0 || c->found)
		backend_del(repo_backend(r), l->name);
	return e < 0 ? e : c->found ? CAIRN_ELOCKED : 0;
}

int lock_acquire(struct repo *r, int exclusive, struct repo_lock **ret)
{
	struct repo_lock *l = calloc(1, sizeof(*l));
	if (!l)
		return CAIRN_ENOMEM;
	l->r = r;
	struct conflict c;
	int e = lock_try(r, exclusive, l, &c);
	if (e == CAIRN_ELOCKED) {
		/* two starters may have seen each other: one retry after a random pause */
		usleep(100000 + crypto_random_uniform(400000));
		e = lock_try(r, exclusive, l, &c);
	}
	if (e == CAIRN_ELOCKED) {
		char when[40];
		time_format_short(c.holder.created * 1000000000, time_local_offset(c.holder.created * 1000000000), when, sizeof(when));
		log_error("the repository is locked %sby %s@%s (pid %lld) since %s; if that "
			  "process is gone, run 'cairn unlock'",
			  c.holder.exclusive ? "exclusively " : "", c.holder.username,
			  c.holder.hostname, (long long)c.holder.pid, when);
	}
	if (e < 0) {
		free(l);
		return e;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	if (pthread_create(&l->thread, NULL, refresh_thread, l) == 0)
		l->started = 1;
	*ret = l;
	return 0;
}

void lock_release(struct repo_lock *l)
{
	if (!l)
		return;
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stop = 1;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
	}
	/* backend_del, not a one-name backend_del_many: on S3 that would save
	 * the HEAD before the DELETE (3-5 ms here), but every command would
	 * then need the multi-object delete, which only prune needs now */
	backend_del(repo_backend(l->r), l->name);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}

struct remove_state {
	struct repo *r;
	int all;
	uint64_t removed;
	int err;
};

static int remove_cb(void *arg, const struct lock_info *li)
{
	struct remove_state *rs = arg;
	if (!rs->all && !li->stale)
		return 0;
	char name[96];
	lock_name(li->id, name, sizeof(name));
	int e = backend_del(repo_backend(rs->r), name);
	if (e == 0)
		rs->removed++;
	else if (e != CAIRN_ENOTFOUND)
		rs->err = e;
	return 0;
}

int lock_remove(struct repo *r, int all, uint64_t *ret_removed)
{
	struct remove_state rs = { .r = r, .all = all };
	int e = lock_list(r, remove_cb, &rs);
	*ret_removed = rs.removed;
	return e < 0 ? e : rs.err;
}
