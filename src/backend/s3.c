/*
 * s3.c - the S3 backend, over libcurl.
 *
 * Locations (what follows "s3:"):
 *   http[s]://HOST[:PORT]/BUCKET[/PREFIX]   any S3-compatible endpoint;
 *                                           path-style requests by default
 *   //BUCKET[/PREFIX]                       AWS: https://s3.REGION.amazonaws.com,
 *                                           virtual-hosted requests by default
 * Object "NAME" of the repository is the key "PREFIX/NAME".
 *
 * Requests are signed with AWS Signature Version 4 by libcurl
 * (CURLOPT_AWS_SIGV4) for every request; libcurl 7.87 or later, the first
 * that takes the payload hash from x-amz-content-sha256. libcurl 7.88's signer is correct
 * only for requests written the way it expects, and this file writes them
 * so (each point was found against a verifying server,
 * @20minutes/s3rver 5):
 *   - it does not add x-amz-content-sha256; we add it (the SHA-256 of the
 *     body, computed here with OpenSSL through crypto_plain_hash_iov) and
 *     curl signs it and uses it as the payload hash, so a body corrupted
 *     on the way is refused by S3 (XAmzContentSHA256Mismatch);
 *   - it takes the query string as written for the canonical query: we
 *     write parameters sorted, each with '=', values percent-encoded;
 *   - it takes the path as written for the canonical URI: keys are
 *     RFC 3986-encoded here ('/' kept);
 *   - it signs every header we set, even an empty "Expect:" that only
 *     tells curl to drop its own Expect header, and the server then finds
 *     a signed header that was never sent. So Expect: 100-continue stays,
 *     and after an upload cut short the response code can read 100: the
 *     CURLcode is checked before the status.
 * Where a request could not be written that way, curl's signer would not
 * be correct and we would sign ourselves; no such request is needed
 * today (a Range is set with CURLOPT_RANGE, so it is not signed).
 *
 * Concurrency: every call is independent; easy handles (each with its
 * connection cache) are kept in a small pool and reused, so threads reuse
 * connections without sharing a handle. b->parallel tells the saver how
 * many packs to upload at once (-o s3.connections).
 *
 * Reads: the engine reads blobs one by one with ranged GETs, and a
 * request costs a round trip (tens of milliseconds on S3) whatever its
 * size. An object that gets S3_HOT_READS ranged reads in a row is read
 * whole, once, into an LRU cache (objects of at most S3_CACHE_OBJECT_MAX
 * bytes, -o s3.cache-mb in all) that serves the following ranged reads;
 * a restore then costs about one GET per pack instead of one per chunk,
 * while one-off reads (a pack header during repair) stay ranged. A whole
 * object evicted from memory goes to a spill file (see "spill file"), so
 * it is not downloaded again.
 *
 * Read-ahead: a reader that knows what comes next (a dump walks the
 * file's chunk list ahead of its workers) hints the ranges it will read
 * (backend_prefetch). Loader threads, one per connection, started on the
 * first hint, fetch them in hint order: an object with S3_HOT_READS hints
 * is loaded whole into the cache (a HEAD first when its size is not
 * known), a range of any other on its own into a small entry that its
 * read then takes. So the GETs of the next packs overlap the decoding of
 * this one, and the packs of an incremental snapshot, whose blobs are
 * spread over many packs, load in parallel. A hint never fails: one that
 * finds no room is dropped, and its read goes to S3 when it comes.
 *
 * Faults: a request that fails with a network error, a timeout, a short
 * body, 5xx, 429 or SlowDown/RequestTimeout is tried again after an
 * exponential backoff with jitter, S3_TRIES times in all; then the error
 * names the object and the last status. Only idempotent requests are
 * made (PUT of a whole object, GET, HEAD, DELETE, multi-object delete).
 *
 * Secrets (secret key, session token) go only into curl's handle and
 * request headers; they are never logged and never on a command line.
 */
#include "cairn/common.h"
#include "cairn/backend.h"
#include "cairn/crypto.h"
#include "cairn/log.h"
#include "cairn/s3xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S3_TRIES 6
#define S3_BACKOFF_MS 200
#define S3_BACKOFF_MAX_MS 10000
#define S3_ERR_BODY_MAX (64u << 10)
#define S3_LIST_BODY_MAX (32u << 20)
#define S3_IDLE_MAX 64
#define S3_DELETE_BATCH 1000
#define S3_DEFAULT_CONNECTIONS 4
#define S3_MAX_CONNECTIONS 64
#define S3_DEFAULT_STALL 60
#define S3_CONNECT_TIMEOUT_MS 10000
#define S3_HOT_READS 3
#define S3_HOT_SLOTS 1024	/* about the packs of a repository of 16 GiB */
#define S3_CACHE_OBJECT_MAX (64u << 20)
#define S3_CACHE_SLOTS 32	/* whole objects held at most */
#define S3_CACHE_MB 160	/* and their bytes, loaded or loading (-o s3.cache-mb) */
#define S3_SPILL_MB 4096	/* whole objects kept on local disk (-o s3.spill-mb) */
#define S3_SPILL_SLOTS 8192	/* objects spilled at most (hash table) */
#define S3_BLOB_SLOTS 256	/* read-ahead entries of single ranges */
#define S3_BLOB_MAX (1u << 20)	/* longest range read ahead on its own */
#define S3_NAME_MAX 128
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
	char *location;		/* printable: "s3:..." */
	char *base;		/* URL before "/KEY": scheme://host[:port]/bucket or
				   scheme://bucket.host[:port] */
	char *bucket_url;	/* URL of the bucket for bucket requests */
	char *bucket;
	char *prefix;		/* "" or "some/prefix/" */
	char *sigv4;		/* "aws:amz:REGION:s3" */
	char region[64];
	char *storage_class;	/* "x-amz-storage-class: X" (data packs), or NULL */
	char *access_key;
	char *secret_key;
	char *token_header;	/* "x-amz-security-token: ...", or NULL */
	unsigned connections;
	long stall_seconds;
	unsigned max_keys;	/* list page size; 0: the server's (1000) */

	pthread_mutex_t mu;	/* the pool */
	CURL *idle[S3_IDLE_MAX];
	size_t n_idle;

	pthread_mutex_t cache_mu;	/* hot, cache, blobs, tick, the loaders' queue */
	pthread_cond_t cache_cond;	/* a cached object finished loading */
	struct s3_hot *hot;		/* S3_HOT_SLOTS recently range-read objects */
	struct s3_cached *cache;	/* whole objects */
	size_t n_cache;
	struct s3_cached *blobs;	/* single ranges read ahead */
	size_t n_blobs;
	uint64_t tick;
	uint8_t *spare;		/* the buffer of an evicted whole object, for the next */
	size_t spare_cap;
	uint64_t cache_bytes;	/* bound of the whole objects in memory */

	/* whole objects evicted from memory, kept in an unlinked temporary
	 * file (s3_spill_*); under cache_mu but the file's reads */
	int spill_fd;		/* -1: none yet */
	uint64_t spill_end, spill_max;	/* bytes written; bound (0: never spill) */
	struct s3_spilled *spill;	/* S3_SPILL_SLOTS, open addressing */
	size_t n_spill;

	/* read-ahead loaders (s3_prefetch): up to `connections` threads,
	 * started on the first hint, fill the queued entries in order */
	pthread_cond_t q_cond;		/* an entry was queued, or stopping */
	struct s3_cached **q;		/* ring of q_cap */
	size_t q_head, q_len, q_cap;
	pthread_t *loaders;
	size_t n_loaders;
	int stopping;
};

/* A whole object in the spill file. */
struct s3_spilled {
	char name[S3_NAME_MAX];	/* "" when free */
	int dead;		/* overwritten or deleted since (a tombstone) */
	uint64_t off;
	size_t size;
};

/* An object read by ranges lately. */
struct s3_hot {
	char name[S3_NAME_MAX];	/* "" when free */
	unsigned reads;
	unsigned hints;		/* read-ahead hints since it was last loaded whole */
	uint64_t size;		/* from Content-Range; 0: unknown */
	uint64_t tick;
};

/* An object held whole in memory, or (blob) one range of it read ahead. */
struct s3_cached {
	char name[S3_NAME_MAX];	/* "" when free */
	int blob;		/* holds [base, base + want) only */
	uint64_t base;
	size_t want;
	uint64_t hint_size;	/* whole: the object's size if known, else 0 */
	int served;		/* a read was served from it */
	uint8_t *data;
	size_t cap;		/* whole: data's capacity */
	size_t size;
	size_t got;		/* whole, loading: bytes of data that have arrived */
	int state;		/* 0 loading, 1 ready, -1 failed */
	int err;		/* why it failed (logged once, by the loader) */
	int stale;		/* overwritten or deleted: no new readers */
	unsigned users;		/* readers copying from it or waiting for it */
	uint64_t tick;		/* last use, for LRU */
};

/* One request and its result. */
struct s3_req {
	const char *method;	/* GET HEAD PUT POST DELETE */
	const char *url;
	const char *what;	/* object named in messages */
	const char *verb;	/* "read", "store", ... */
	const struct iovec *iov; /* body (PUT) */
	size_t n_iov;
	const void *post;	/* body (POST) */
	size_t post_len;
	uint64_t body_len;
	char body_sha[65];
	const char *content_md5;
	const char *content_type;
	const char *extra_header;
	int ranged;
	uint64_t off;
	size_t len;		/* with ranged: 0 = to the end */
	struct buf *out;	/* 2xx body, appended */
	size_t out_max;		/* 0: no bound */
	/* told out's length as the body arrives (and when a try restarts) */
	void (*progress)(void *arg, size_t out_len);
	void *progress_arg;
	int quiet_404;		/* 404 is an answer: return CAIRN_ENOTFOUND silently */
	int quiet_nobucket;	/* NoSuchBucket too: return CAIRN_ENOREPO silently */

	long status;
	curl_off_t content_length;
	uint64_t total;		/* object size from Content-Range, 0: unknown */
};

/* One attempt of a request. */
struct s3_xfer {
	struct s3_req *rq;
	CURL *h;
	size_t up_piece, up_off;	/* upload position */
	int decided, to_out;
	uint64_t skip, take, got;
	int have_cr, have_total;
	uint64_t cr_start, total;	/* from Content-Range (or Content-Length) */
	int bad_range, enomem, overflow;
	struct buf err;
	char errbuf[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------------------ */
/* small helpers */

static int s3_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s percent-encoded (RFC 3986); keep_slash leaves '/' as is. */
static void s3_encode(struct buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (s3_unreserved(*p) || (keep_slash && *p == '/')) {
			buf_put_u8(b, *p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			buf_put(b, e, 3);
		}
	}
}

/* malloc'ed "BASE/PREFIX NAME" URL of an object, NULL on ENOMEM. */
static char *s3_object_url(const struct s3 *s, const char *name)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/", s->base);
	s3_encode(&b, s->prefix, 1);
	s3_encode(&b, name, 1);
	buf_terminate(&b);
	if (buf_ok(&b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return (char *)buf_steal(&b, NULL);
}

static void s3_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Backoff before try number `attempt` (2, 3, ...): exponential, capped,
 * with jitter in [d/2, d] so that threads that failed together spread. */
static unsigned s3_backoff_ms(unsigned attempt)
{
	uint64_t d = (uint64_t)S3_BACKOFF_MS << (attempt - 2 < 16 ? attempt - 2 : 16);
	if (d > S3_BACKOFF_MAX_MS)
		d = S3_BACKOFF_MAX_MS;
	return (unsigned)(d / 2 + crypto_random_uniform((uint32_t)(d / 2 + 1)));
}

/* A hint for the S3 error codes users meet most. */
static const char *s3_hint(const char *code, long status)
{
	if (strcmp(code, "SignatureDoesNotMatch") == 0)
		return " (check AWS_SECRET_ACCESS_KEY and the region)";
	if (strcmp(code, "InvalidAccessKeyId") == 0)
		return " (check AWS_ACCESS_KEY_ID)";
	if (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
	    strcmp(code, "PermanentRedirect") == 0)
		return " (check the region: -o s3.region= or AWS_DEFAULT_REGION)";
	if (strcmp(code, "RequestTimeTooSkewed") == 0)
		return " (this machine's clock is wrong)";
	if (strcmp(code, "AccessDenied") == 0 || status == 403)
		return " (check the credentials and the bucket's permissions)";
	return "";
}

/* ------------------------------------------------------------------ */
/* the handle pool */

static CURL *s3_handle_get(struct s3 *s)
{
	CURL *h = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->n_idle)
		h = s->idle[--s->n_idle];
	pthread_mutex_unlock(&s->mu);
	return h ? h : curl_easy_init();
}

static void s3_handle_put(struct s3 *s, CURL *h)
{
	pthread_mutex_lock(&s->mu);
	if (s->n_idle < S3_IDLE_MAX) {
		s->idle[s->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	if (h)
		curl_easy_cleanup(h);
}

/* ------------------------------------------------------------------ */
/* curl callbacks */

static size_t s3_read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct s3_xfer *x = arg;
	const struct s3_req *rq = x->rq;
	size_t want = size * nmemb, done = 0;
	while (done < want && x->up_piece < rq->n_iov) {
		const struct iovec *v = &rq->iov[x->up_piece];
		size_t n = CAIRN_MIN(want - done, v->iov_len - x->up_off);
		memcpy(dst + done, (const uint8_t *)v->iov_base + x->up_off, n);
		done += n;
		x->up_off += n;
		if (x->up_off == v->iov_len) {
			x->up_piece++;
			x->up_off = 0;
		}
	}
	return done;
}

/* curl rewinds an upload it must send again (e.g. after a redirect). */
static int s3_seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct s3_xfer *x = arg;
	const struct s3_req *rq = x->rq;
	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	uint64_t left = (uint64_t)offset;
	x->up_piece = 0;
	x->up_off = 0;
	while (x->up_piece < rq->n_iov && left >= rq->iov[x->up_piece].iov_len) {
		left -= rq->iov[x->up_piece].iov_len;
		x->up_piece++;
	}
	if (x->up_piece == rq->n_iov && left)
		return CURL_SEEKFUNC_FAIL;
	x->up_off = (size_t)left;
	return CURL_SEEKFUNC_OK;
}

/* Reads Content-Range ("bytes START-END/TOTAL") of a ranged answer. */
static size_t s3_header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_xfer *x = arg;
	size_t n = size * nmemb;
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		x->have_cr = x->have_total = 0;	/* a new response (after 100 Continue) */
	} else if (n > 14 && strncasecmp(p, "content-range:", 14) == 0) {
		char line[128];
		size_t k = CAIRN_MIN(n - 14, sizeof(line) - 1);
		memcpy(line, p + 14, k);
		line[k] = 0;
		unsigned long long a, z, t;
		if (sscanf(line, " bytes %llu-%llu/%llu", &a, &z, &t) == 3) {
			x->total = t;
			x->have_total = 1;
		}
		if (sscanf(line, " bytes %llu-", &a) == 1) {
			x->cr_start = a;
			x->have_cr = 1;
		}
	}
	return n;
}

/* First body bytes: decide where they go, now that the status is known. */
static void s3_decide(struct s3_xfer *x)
{
	struct s3_req *rq = x->rq;
	long st = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
	x->decided = 1;
	x->to_out = st >= 200 && st < 300 && rq->out != NULL;
	x->take = UINT64_MAX;
	if (!x->to_out)
		return;
	if (rq->ranged) {
		if (st == 206 && x->have_cr && x->cr_start <= rq->off) {
			x->skip = rq->off - x->cr_start;
		} else if (st == 200) {
			curl_off_t cl = -1;
			x->skip = rq->off;	/* the server ignored the range */
			curl_easy_getinfo(x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
			x->have_total = cl >= 0;
			x->total = cl >= 0 ? (uint64_t)cl : 0;
		} else {
			x->bad_range = 1;
			return;
		}
		if (rq->len)
			x->take = rq->len;
	}
	if (rq->len && buf_reserve(rq->out, rq->len) < 0)
		x->enomem = 1;
}

static size_t s3_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_xfer *x = arg;
	struct s3_req *rq = x->rq;
	size_t n = size * nmemb;
	if (!x->decided)
		s3_decide(x);
	if (x->enomem || x->bad_range)
		return 0;
	if (!x->to_out) {
		size_t room = S3_ERR_BODY_MAX - CAIRN_MIN(x->err.len, S3_ERR_BODY_MAX);
		buf_put(&x->err, p, CAIRN_MIN(n, room));
		return n;
	}
	size_t k = n;
	const char *q = p;
	if (x->skip) {
		size_t s = (size_t)CAIRN_MIN((uint64_t)k, x->skip);
		x->skip -= s;
		q += s;
		k -= s;
	}
	if (x->take != UINT64_MAX) {
		k = (size_t)CAIRN_MIN((uint64_t)k, x->take - x->got);
	}
	if (k) {
		if (rq->out_max && rq->out->len + k > rq->out_max) {
			x->overflow = 1;
			return 0;
		}
		buf_put(rq->out, q, k);
		if (buf_ok(rq->out) < 0) {
			x->enomem = 1;
			return 0;
		}
		x->got += k;
		if (rq->progress)
			rq->progress(rq->progress_arg, rq->out->len);
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* running a request */

/* Network failures worth another try. */
static int s3_curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
}

/* S3 answers worth another try. */
static int s3_status_retryable(long status, const char *code)
{
	return status >= 500 || status == 429 || status == 408 || status < 200 ||
	       strcmp(code, "SlowDown") == 0 || strcmp(code, "RequestTimeout") == 0 ||
	       strcmp(code, "InternalError") == 0 || strcmp(code, "ServiceUnavailable") == 0;
}

/* Sets the options of one attempt on a reset handle. */
static int s3_setup(struct s3 *s, struct s3_xfer *x, struct curl_slist **hdrs)
{
	struct s3_req *rq = x->rq;
	CURL *h = x->h;
	char line[128];
	struct curl_slist *l = NULL, *t;
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", rq->body_sha);
#define ADD(str)                                   \
	do {                                       \
		if (!(t = curl_slist_append(l, (str)))) \
			goto nomem;                \
		l = t;                             \
	} while (0)
	ADD(line);
	if (s->token_header)
		ADD(s->token_header);
	if (rq->content_md5) {
		char md5[80];
		snprintf(md5, sizeof(md5), "Content-MD5: %s", rq->content_md5);
		ADD(md5);
	}
	if (rq->content_type) {
		char ct[96];
		snprintf(ct, sizeof(ct), "Content-Type: %s", rq->content_type);
		ADD(ct);
	}
	if (rq->extra_header)
		ADD(rq->extra_header);
#undef ADD
	*hdrs = l;

	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cairn/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CAIRN_MIN(S3_CONNECT_TIMEOUT_MS, s->stall_seconds * 1000));
	/* a transfer that moves nothing for stall_seconds is cut (and retried) */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->stall_seconds);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, s3_read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, s3_seek_cb);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->post);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->post_len);
	} else if (strcmp(rq->method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	if (rq->ranged) {
		char range[64];
		if (rq->len)
			snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)rq->off,
				 (unsigned long long)(rq->off + rq->len - 1));
		else
			snprintf(range, sizeof(range), "%llu-", (unsigned long long)rq->off);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	return 0;
nomem:
	curl_slist_free_all(l);
	return CAIRN_ENOMEM;
}

/*
 * Runs a request with retries. Returns 0 for a 2xx answer,
 * CAIRN_ENOTFOUND for 404 NoSuchKey (logged unless quiet_404),
 * CAIRN_ENOREPO for NoSuchBucket (logged unless quiet_nobucket),
 * CAIRN_ECORRUPT for a range past the end (416: not logged, the caller
 * knows what it wanted; or an answer saying the object is shorter:
 * logged), CAIRN_ENOMEM, or CAIRN_EIO (logged with the last status).
 */
static int s3_run(struct s3 *s, struct s3_req *rq)
{
	struct s3_xfer x;
	char last[512] = "";
	size_t out_start = rq->out ? rq->out->len : 0;
	int ret = CAIRN_EIO;
	unsigned attempt;
	for (attempt = 1; attempt <= S3_TRIES; attempt++) {
		if (attempt > 1)
			s3_sleep_ms(s3_backoff_ms(attempt));
		memset(&x, 0, sizeof(x));
		x.rq = rq;
		if (rq->out)
			rq->out->len = out_start;
		if (rq->progress)
			rq->progress(rq->progress_arg, out_start);
		x.h = s3_handle_get(s);
		if (!x.h)
			return CAIRN_ENOMEM;
		curl_easy_reset(x.h);
		struct curl_slist *hdrs = NULL;
		if (s3_setup(s, &x, &hdrs) < 0) {
			s3_handle_put(s, x.h);
			return CAIRN_ENOMEM;
		}
		CURLcode rc = curl_easy_perform(x.h);
		long status = 0;
		curl_off_t cl = -1;
		curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(x.h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(hdrs);
		s3_handle_put(s, x.h);
		rq->status = status;
		rq->total = x.have_total ? x.total : 0;
		rq->content_length = cl;
		log_debug("s3: %s %s: %s, HTTP %ld, %llu bytes", rq->method, rq->url,
			  curl_easy_strerror(rc), status, (unsigned long long)x.got);

		if (x.enomem) {
			buf_free(&x.err);
			return CAIRN_ENOMEM;
		}
		if (x.overflow) {
			log_error("cannot %s %s in %s: the answer is larger than %u MiB", rq->verb,
				  rq->what, s->location, (unsigned)(rq->out_max >> 20));
			buf_free(&x.err);
			return CAIRN_ECORRUPT;
		}
		if (x.bad_range) {
			snprintf(last, sizeof(last), "HTTP %ld with a wrong Content-Range", status);
			buf_free(&x.err);
			continue;
		}
		/* Check the CURLcode first: after a dropped upload with Expect:
		 * 100-continue the status reads 100. */
		if (rc != CURLE_OK) {
			snprintf(last, sizeof(last), "%s%s%s", curl_easy_strerror(rc),
				 x.errbuf[0] ? ": " : "", x.errbuf);
			buf_free(&x.err);
			if (s3_curl_retryable(rc))
				continue;
			ret = CAIRN_EIO;
			goto fail;
		}
		if (status >= 200 && status < 300) {
			buf_free(&x.err);
			if (rq->ranged && rq->len && x.got != rq->len) {
				if (x.have_total && x.total < rq->off + rq->len) {
					log_error("%s in %s is shorter than expected (%llu bytes; "
						  "wanted %zu at offset %llu)",
						  rq->what, s->location, (unsigned long long)x.total,
						  rq->len, (unsigned long long)rq->off);
					return CAIRN_ECORRUPT;
				}
				snprintf(last, sizeof(last), "short body: %llu of %zu bytes",
					 (unsigned long long)x.got, rq->len);
				continue;
			}
			if (rq->out && !rq->ranged && cl >= 0 && x.got != (uint64_t)cl) {
				snprintf(last, sizeof(last), "short body: %llu of %lld bytes",
					 (unsigned long long)x.got, (long long)cl);
				continue;
			}
			return 0;
		}
		struct s3xml_error xe;
		int have_xe = x.err.len && s3xml_error_parse(x.err.data, x.err.len, &xe) == 0;
		buf_free(&x.err);
		if (!have_xe)
			memset(&xe, 0, sizeof(xe));
		if (status == 404 && strcmp(xe.code, "NoSuchBucket") == 0) {
			if (rq->quiet_nobucket)
				return CAIRN_ENOREPO;
			log_error("cannot %s %s: no bucket %s at %s; create it, or run 'cairn init "
				  "--create-bucket'",
				  rq->verb, rq->what, s->bucket, s->location);
			return CAIRN_ENOREPO;
		}
		if (status == 404) {
			if (!rq->quiet_404)
				log_error("cannot %s %s in %s: it does not exist", rq->verb, rq->what,
					  s->location);
			return CAIRN_ENOTFOUND;
		}
		if (xe.code[0])
			snprintf(last, sizeof(last), "HTTP %ld %s: %s%s", status, xe.code,
				 xe.message, s3_hint(xe.code, status));
		else
			snprintf(last, sizeof(last), "HTTP %ld%s", status, s3_hint("", status));
		if (status == 416)
			return CAIRN_ECORRUPT;	/* the caller says what was too short */
		if (!s3_status_retryable(status, xe.code)) {
			ret = CAIRN_EIO;
			goto fail;
		}
	}
	log_error("cannot %s %s in %s: %s (gave up after %d tries)", rq->verb, rq->what,
		  s->location, last, S3_TRIES);
	return CAIRN_EIO;
fail:
	log_error("cannot %s %s in %s: %s", rq->verb, rq->what, s->location, last);
	return ret;
}

/* ------------------------------------------------------------------ */
/* the backend operations */

static void s3_cache_forget(struct s3 *s, const char *name);

static int s3_put_hashed(void *impl, const char *name, const struct iovec *iov, size_t n,
			 const uint8_t sha[32])
{
	struct s3 *s = impl;
	char *url = s3_object_url(s, name);
	if (!url)
		return CAIRN_ENOMEM;
	struct s3_req rq = {
		.method = "PUT", .url = url, .what = name, .verb = "store",
		.iov = iov, .n_iov = n, .body_len = backend_iov_len(iov, n),
	};
	hex_encode(sha, 32, rq.body_sha);
	/* Only packs get the storage class: metadata is small and read often. */
	if (s->storage_class && strncmp(name, "data/", 5) == 0)
		rq.extra_header = s->storage_class;
	int e = s3_run(s, &rq);
	free(url);
	s3_cache_forget(s, name);
	return e;
}

static int s3_put(void *impl, const char *name, const struct iovec *iov, size_t n)
{
	uint8_t sha[32];
	crypto_plain_hash_iov(iov, n, sha);
	return s3_put_hashed(impl, name, iov, n, sha);
}

static int s3_stat(void *impl, const char *name, uint64_t *ret_size)
{
	struct s3 *s = impl;
	char *url = s3_object_url(s, name);
	if (!url)
		return CAIRN_ENOMEM;
	struct s3_req rq = {
		.method = "HEAD", .url = url, .what = name, .verb = "look up",
		.body_sha = S3_EMPTY_SHA256, .quiet_404 = 1,
	};
	int e = s3_run(s, &rq);
	free(url);
	if (e == 0 && ret_size) {
		if (rq.content_length < 0) {
			log_error("cannot look up %s in %s: no Content-Length in the answer", name,
				  s->location);
			return CAIRN_EIO;
		}
		*ret_size = (uint64_t)rq.content_length;
	}
	return e;
}

/* Where a cache load's body goes as it arrives (see s3_cache_fill). */
struct s3_sink {
	size_t max;		/* out's bound: it never grows, so readers may look */
	void (*progress)(void *arg, size_t out_len);
	void *arg;
};

/* A plain GET of an object (whole, or a range), no cache. sink: NULL, or
 * where s3_cache_fill wants the body. */
static int s3_get_direct(struct s3 *s, const char *name, uint64_t off, size_t len,
			 struct buf *out, uint64_t *ret_total, const struct s3_sink *sink)
{
	char *url = s3_object_url(s, name);
	if (!url)
		return CAIRN_ENOMEM;
	struct s3_req rq = {
		.method = "GET", .url = url, .what = name, .verb = "read",
		.body_sha = S3_EMPTY_SHA256, .quiet_404 = 1,
		.ranged = off > 0 || len > 0, .off = off, .len = len, .out = out,
	};
	if (sink) {
		rq.out_max = sink->max;
		rq.progress = sink->progress;
		rq.progress_arg = sink->arg;
	}
	int e = s3_run(s, &rq);
	if (e == CAIRN_ECORRUPT && rq.status == 416) {
		uint64_t size = 0;
		/* "from off to the end" of an object exactly off bytes long is empty */
		if (len == 0 && s3_stat(s, name, &size) == 0 && size == off)
			e = 0;
		else
			log_error("%s in %s is shorter than expected (wanted %zu bytes at offset "
				  "%llu)",
				  name, s->location, len, (unsigned long long)off);
	}
	if (ret_total)
		*ret_total = rq.total;
	free(url);
	return e;
}

/* The whole-object entry of name (not stale), or NULL. Under cache_mu. */
static struct s3_cached *s3_cache_find(struct s3 *s, const char *name)
{
	for (size_t i = 0; i < s->n_cache; i++)
		if (!s->cache[i].stale && strcmp(s->cache[i].name, name) == 0)
			return &s->cache[i];
	return NULL;
}

/* The read-ahead entry holding exactly [off, off + len) of name, or NULL.
 * Under cache_mu. */
static struct s3_cached *s3_blob_find(struct s3 *s, const char *name, uint64_t off, size_t len)
{
	for (size_t i = 0; i < s->n_blobs; i++) {
		struct s3_cached *c = &s->blobs[i];
		if (!c->stale && c->base == off && c->want == len && strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

/* Frees an entry nobody uses. Under cache_mu. */
static void s3_cache_drop(struct s3_cached *c)
{
	free(c->data);
	memset(c, 0, sizeof(*c));
}

/* Hash of an object name, for the hot sets and the spill table. */
static uint64_t s3_name_hash(const char *name)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

/* ---- spill file -----------------------------------------------------------
 *
 * A dump of an incremental snapshot needs blobs from the packs of every
 * backup in its chain, all through the file; once those packs outgrow the
 * memory cache, LRU would drop packs that are needed again and load them
 * whole once more, again and again (measured: the 25th of 25 hourly dumps,
 * 314 MiB of packs, 2 GiB downloaded). So a whole object leaving memory is
 * written to an unlinked temporary file in $TMPDIR (0600; the objects are
 * encrypted anyway) and later reads of it are served from there: each
 * pack is downloaded once. The file is bounded by spill_max; past that,
 * evicted objects are dropped as before.
 */

/* The live spill entry of name, or NULL. Under cache_mu. */
static struct s3_spilled *s3_spill_find(struct s3 *s, const char *name)
{
	if (!s->spill)
		return NULL;
	for (size_t i = s3_name_hash(name) % S3_SPILL_SLOTS, k = 0; k < S3_SPILL_SLOTS;
	     k++, i = (i + 1) % S3_SPILL_SLOTS) {
		struct s3_spilled *e = &s->spill[i];
		if (!e->name[0])
			return NULL;
		if (!e->dead && strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

/* Writes a ready whole object to the spill file. Failures only stop the
 * spilling. Under cache_mu. */
static void s3_spill_put(struct s3 *s, const struct s3_cached *c)
{
	if (!s->spill_max || s->spill_end + c->size > s->spill_max ||
	    s->n_spill >= S3_SPILL_SLOTS / 2 || s3_spill_find(s, c->name))
		return;
	if (s->spill_fd < 0) {
		const char *dir = getenv("TMPDIR");
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/cairn-s3-XXXXXX", dir && *dir ? dir : "/tmp");
		s->spill = calloc(S3_SPILL_SLOTS, sizeof(*s->spill));
		int fd = s->spill ? mkstemp(path) : -1;
		if (fd < 0) {
			log_debug("s3: no spill file (%s): packs leaving memory are dropped",
				  strerror(errno));
			s->spill_max = 0;
			return;
		}
		unlink(path);
		s->spill_fd = fd;
		log_debug("s3: packs leaving the memory cache go to a spill file in %s",
			  dir && *dir ? dir : "/tmp");
	}
	const uint8_t *p = c->data;
	size_t left = c->size;
	uint64_t off = s->spill_end;
	while (left > 0) {
		ssize_t w = pwrite(s->spill_fd, p, left, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_debug("s3: spill file: %s; packs leaving memory are dropped",
				  w < 0 ? strerror(errno) : "short write");
			s->spill_max = 0;
			return;
		}
		p += w;
		off += (uint64_t)w;
		left -= (size_t)w;
	}
	size_t i = s3_name_hash(c->name) % S3_SPILL_SLOTS;
	while (s->spill[i].name[0])
		i = (i + 1) % S3_SPILL_SLOTS;
	struct s3_spilled *e = &s->spill[i];
	snprintf(e->name, sizeof(e->name), "%s", c->name);
	e->off = s->spill_end;
	e->size = c->size;
	s->spill_end = off;
	s->n_spill++;
}

/* Reads [off, off + len) of a spilled object into out: 1, 0 when the
 * range is not all there (the caller reads from S3), or an error. Called
 * with cache_mu held; drops it while reading. */
static int s3_spill_read(struct s3 *s, const struct s3_spilled *e, uint64_t off, size_t len,
			 struct buf *out)
{
	if (off > e->size || len > e->size - off || !len)
		return 0;
	uint64_t at = e->off + off;
	int fd = s->spill_fd;
	pthread_mutex_unlock(&s->cache_mu);
	int ret = buf_reserve(out, len);
	while (ret == 0 && len > 0) {
		ssize_t r = pread(fd, out->data + out->len, len, (off_t)at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_error("cannot read the S3 spill file: %s",
				  r < 0 ? strerror(errno) : "short read");
			ret = CAIRN_EIO;
			break;
		}
		out->len += (size_t)r;
		at += (uint64_t)r;
		len -= (size_t)r;
	}
	pthread_mutex_lock(&s->cache_mu);
	return ret < 0 ? ret : 1;
}

/* Drops a whole object to make room, keeping its buffer as the spare
 * for the next whole object: a pack buffer that is reused costs no page
 * faults (a fresh 16 MiB costs 4096, ~7% of a restore's CPU), and the
 * spare lives only from an eviction to the load it makes room for.
 * Under cache_mu. */
static void s3_cache_evict(struct s3 *s, struct s3_cached *c)
{
	if (c->state == 1 && !c->blob && !c->stale)
		s3_spill_put(s, c);
	if (c->data && !c->blob && c->cap > s->spare_cap) {
		free(s->spare);
		s->spare = c->data;
		s->spare_cap = c->cap;
		c->data = NULL;
	}
	s3_cache_drop(c);
}

/* The hot slots are S3_HOT_WAYS-way sets chosen by a hash of the name. */
#define S3_HOT_WAYS 8

static struct s3_hot *s3_hot_set(struct s3 *s, const char *name)
{
	return &s->hot[(s3_name_hash(name) % (S3_HOT_SLOTS / S3_HOT_WAYS)) * S3_HOT_WAYS];
}

/* The hot slot of name, or NULL. Under cache_mu. */
static struct s3_hot *s3_hot_find(struct s3 *s, const char *name)
{
	struct s3_hot *set = s3_hot_set(s, name);
	for (size_t i = 0; i < S3_HOT_WAYS; i++)
		if (strcmp(set[i].name, name) == 0)
			return &set[i];
	return NULL;
}

/* The hot slot of name, taking the least recently used one of its set if
 * it has none. Under cache_mu. */
static struct s3_hot *s3_hot_slot(struct s3 *s, const char *name)
{
	struct s3_hot *set = s3_hot_set(s, name), *lru = &set[0];
	for (size_t i = 0; i < S3_HOT_WAYS; i++) {
		if (strcmp(set[i].name, name) == 0)
			return &set[i];
		if (set[i].tick < lru->tick)
			lru = &set[i];
	}
	memset(lru, 0, sizeof(*lru));
	snprintf(lru->name, sizeof(lru->name), "%s", name);
	return lru;
}

/* Copies a range out of a ready entry (the caller holds a use of it). */
static int s3_cache_copy(struct s3 *s, const struct s3_cached *c, const char *name, uint64_t off,
			 size_t len, struct buf *out)
{
	off -= c->base;
	if (off > c->size || (len && len > c->size - off)) {
		log_error("%s in %s is shorter than expected (%zu bytes; wanted %zu at offset %llu)",
			  name, s->location, c->size, len, (unsigned long long)(off + c->base));
		return CAIRN_ECORRUPT;
	}
	size_t n = len ? len : (size_t)(c->size - off);
	buf_put(out, c->data + off, n);
	return buf_ok(out);
}

/* Gives up a use of an entry; frees a stale one nobody uses, and a
 * read-ahead blob once it was read. Under cache_mu. */
static void s3_cache_release(struct s3_cached *c)
{
	c->users--;
	if (c->users == 0 && (c->stale || (c->blob && c->state != 0 && c->served)))
		s3_cache_drop(c);
}

/* Forgets name after a put or delete. */
static void s3_cache_forget(struct s3 *s, const char *name)
{
	pthread_mutex_lock(&s->cache_mu);
	for (size_t k = 0; k < 2; k++) {
		struct s3_cached *v = k ? s->blobs : s->cache;
		size_t n = k ? s->n_blobs : s->n_cache;
		for (size_t i = 0; i < n; i++) {
			struct s3_cached *c = &v[i];
			if (c->name[0] && strcmp(c->name, name) == 0) {
				c->stale = 1;
				if (c->users == 0)
					s3_cache_drop(c);
			}
		}
	}
	struct s3_hot *h = s3_hot_find(s, name);
	if (h)
		memset(h, 0, sizeof(*h));
	struct s3_spilled *sp = s3_spill_find(s, name);
	if (sp)
		sp->dead = 1;
	pthread_mutex_unlock(&s->cache_mu);
}

/* Takes a free or the least recently used idle entry of v for name, in
 * state loading with one use (the loader's). NULL when none is idle.
 * Under cache_mu. */
static struct s3_cached *s3_cache_claim(struct s3 *s, struct s3_cached *v, size_t n,
					const char *name)
{
	struct s3_cached *c = NULL;
	for (size_t i = 0; i < n; i++) {
		struct s3_cached *t = &v[i];
		if (!t->name[0]) {
			c = t;
			break;
		}
		if (t->users == 0 && t->state != 0 && (!c || t->tick < c->tick))
			c = t;
	}
	if (!c)
		return NULL;
	s3_cache_drop(c);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->users = 1;
	c->tick = ++s->tick;
	return c;
}

/* The bytes an entry holds, or will hold as far as known. Under cache_mu. */
static uint64_t s3_cache_bytes(const struct s3_cached *c)
{
	if (!c->name[0])
		return 0;
	return c->state == 1 ? c->size : c->hint_size;
}

/* Evicts least recently used idle entries (but not keep) until the
 * entries' bytes plus need fit in s->cache_bytes, and, with want_free,
 * a slot is free. Returns a free slot (or NULL), or NULL with
 * *ret_full when it can't make room now. Under cache_mu. */
static struct s3_cached *s3_cache_make_room(struct s3 *s, uint64_t need,
					    const struct s3_cached *keep, int *ret_full)
{
	*ret_full = 0;
	for (size_t round = 0; round <= s->n_cache; round++) {
		uint64_t used = 0;
		struct s3_cached *free_slot = NULL, *lru = NULL;
		for (size_t i = 0; i < s->n_cache; i++) {
			struct s3_cached *t = &s->cache[i];
			used += s3_cache_bytes(t);
			if (!t->name[0]) {
				if (!free_slot)
					free_slot = t;
			} else if (t != keep && t->users == 0 && t->state != 0 &&
				   (!lru || t->tick < lru->tick)) {
				lru = t;
			}
		}
		if ((free_slot || keep) && used + need <= s->cache_bytes)
			return free_slot;
		if (!lru)
			break;
		s3_cache_evict(s, lru);
	}
	*ret_full = 1;
	return NULL;
}

/* Claims a whole-object entry for name (size: its size, 0 if unknown),
 * evicting least recently used idle entries so that the entries' known
 * bytes, with this one, stay within s->cache_bytes (an object of unknown
 * size is counted once s3_cache_fill has its size, and room made then;
 * the readers' hints give the size of a pack from the index, so that is
 * rare). NULL when that is not possible now. Under cache_mu. */
static struct s3_cached *s3_cache_claim_whole(struct s3 *s, const char *name, uint64_t size)
{
	int full;
	if (size > s->cache_bytes)
		return NULL;
	struct s3_cached *c = s3_cache_make_room(s, size, NULL, &full);
	if (!c)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->users = 1;
	c->hint_size = size;
	c->tick = ++s->tick;
	return c;
}

struct s3_fill_progress {
	struct s3 *s;
	struct s3_cached *c;
};

/* A whole-object load moved on: wake the readers waiting for a range of it. */
static void s3_fill_progress(void *arg, size_t out_len)
{
	struct s3_fill_progress *fp = arg;
	pthread_mutex_lock(&fp->s->cache_mu);
	fp->c->got = out_len;
	pthread_cond_broadcast(&fp->s->cache_cond);
	pthread_mutex_unlock(&fp->s->cache_mu);
}

/* Fills a claimed entry: [base, base + want) of its object, or the whole
 * object (want 0) when it is at most S3_CACHE_OBJECT_MAX bytes (size: its
 * size, 0 when unknown). Called with cache_mu held, which it drops while
 * it reads; wakes the readers waiting for the entry. */
static void s3_cache_fill(struct s3 *s, struct s3_cached *c, uint64_t size)
{
	char name[S3_NAME_MAX];
	uint64_t base = c->base;
	size_t want = c->want;
	snprintf(name, sizeof(name), "%s", c->name);
	struct buf b = BUF_INIT;
	if (!want && s->spare) {
		b.data = s->spare;
		b.cap = s->spare_cap;
		s->spare = NULL;
		s->spare_cap = 0;
	}
	pthread_mutex_unlock(&s->cache_mu);

	struct s3_fill_progress fp = { s, c };
	struct s3_sink sink = { .progress = s3_fill_progress, .arg = &fp };
	int e = 0, cached = 1;
	if (!want && !size) {
		e = s3_stat(s, name, &size);
		/* a pack as large as that: its readers read ranges themselves */
		if (e == 0 && size > S3_CACHE_OBJECT_MAX)
			cached = 0;
		if (e == 0 && cached) {
			/* counted from now on, not once loaded */
			int full;
			pthread_mutex_lock(&s->cache_mu);
			c->hint_size = size;
			s3_cache_make_room(s, 0, c, &full);
			pthread_mutex_unlock(&s->cache_mu);
		}
	}
	sink.max = want ? want : (size_t)size;
	if (e == 0 && cached)
		e = buf_reserve(&b, sink.max);
	if (e == 0 && cached && !want) {
		/* readers may take what has arrived: the entry owns the
		 * buffer now, and it never moves (sink.max bounds it) */
		pthread_mutex_lock(&s->cache_mu);
		c->data = b.data;
		c->cap = b.cap;
		c->got = 0;
		pthread_mutex_unlock(&s->cache_mu);
	}
	if (e == 0 && cached)
		e = s3_get_direct(s, name, base, want, &b, NULL, want ? NULL : &sink);
	pthread_mutex_lock(&s->cache_mu);
	if (c->data == b.data)
		buf_init(&b);	/* the entry's; s3_cache_drop frees it */
	if (e == 0 && cached) {
		c->size = b.len ? b.len : c->got;
		if (!c->data) {
			c->cap = b.cap;
			c->data = buf_steal(&b, NULL);
		}
		c->state = 1;
		if (!c->blob && !c->hint_size) {
			int full;
			c->hint_size = c->size;
			s3_cache_make_room(s, 0, c, &full);
		}
	} else {
		buf_free(&b);
		c->state = -1;
		c->err = e;	/* 0: not cached, the readers read themselves */
		c->stale = 1;	/* a later read tries again */
	}
	pthread_cond_broadcast(&s->cache_cond);
}

/* A read-ahead loader: fills queued entries in order until s3_free. */
static void *s3_loader_main(void *arg)
{
	struct s3 *s = arg;
	pthread_mutex_lock(&s->cache_mu);
	for (;;) {
		while (!s->stopping && s->q_len == 0)
			pthread_cond_wait(&s->q_cond, &s->cache_mu);
		if (s->stopping)
			break;
		struct s3_cached *c = s->q[s->q_head];
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
		if (c->stale) {
			c->state = -1;
			pthread_cond_broadcast(&s->cache_cond);
		} else {
			s3_cache_fill(s, c, c->hint_size);
		}
		s3_cache_release(c);
	}
	pthread_mutex_unlock(&s->cache_mu);
	return NULL;
}

/* Hands a claimed entry to the loaders, starting them on first use.
 * Returns 0, or -1 when no loader runs (the caller drops the entry).
 * Under cache_mu. */
static int s3_loader_queue(struct s3 *s, struct s3_cached *c)
{
	while (s->n_loaders < s->connections && !s->stopping) {
		if (pthread_create(&s->loaders[s->n_loaders], NULL, s3_loader_main, s) != 0)
			break;
		s->n_loaders++;
	}
	if (!s->n_loaders || s->stopping || s->q_len == s->q_cap)
		return -1;
	s->q[(s->q_head + s->q_len) % s->q_cap] = c;
	s->q_len++;
	pthread_cond_signal(&s->q_cond);
	return 0;
}

/* Serves a ranged read from the cache when it can. Returns 1 when served,
 * 0 when the caller must read the range itself, or an error. */
static int s3_cache_read(struct s3 *s, const char *name, uint64_t off, size_t len,
			 struct buf *out)
{
	if (strlen(name) >= S3_NAME_MAX)
		return 0;
	int ret = 0;
	pthread_mutex_lock(&s->cache_mu);
	struct s3_cached *c = s3_blob_find(s, name, off, len);
	if (!c)
		c = s3_cache_find(s, name);
	struct s3_spilled *sp = c ? NULL : s3_spill_find(s, name);
	if (sp) {
		ret = s3_spill_read(s, sp, off, len, out);
		if (ret != 0) {
			pthread_mutex_unlock(&s->cache_mu);
			return ret;
		}
	}
	if (c) {
		c->users++;
	} else {
		struct s3_hot *h = s3_hot_slot(s, name);
		h->tick = ++s->tick;
		if (++h->reads >= S3_HOT_READS && h->size && h->size <= S3_CACHE_OBJECT_MAX &&
		    (c = s3_cache_claim_whole(s, name, h->size)) != NULL) {
			c->users++;	/* ours, beside the loader's */
			s3_cache_fill(s, c, h->size);
			s3_cache_release(c);	/* the loader's (this thread) */
		}
	}
	if (c) {
		/* a whole object still loading serves a range that has arrived */
		while (c->state == 0 && !(c->data && !c->blob && len && off + len <= c->got))
			pthread_cond_wait(&s->cache_cond, &s->cache_mu);
		c->tick = ++s->tick;
		if (c->state == 0) {
			const uint8_t *p = c->data + off;
			pthread_mutex_unlock(&s->cache_mu);
			buf_put(out, p, len);
			ret = buf_ok(out);
			pthread_mutex_lock(&s->cache_mu);
			ret = ret < 0 ? ret : 1;
			c->served = 1;
		} else if (c->state == 1) {
			pthread_mutex_unlock(&s->cache_mu);
			ret = s3_cache_copy(s, c, name, off, len, out);
			pthread_mutex_lock(&s->cache_mu);
			ret = ret < 0 ? ret : 1;
			c->served = 1;
		} else {
			ret = c->err;	/* the whole read failed, and said why; or 0 */
		}
		s3_cache_release(c);
	}
	pthread_mutex_unlock(&s->cache_mu);
	return ret;
}

/* Read-ahead: the engine will read [off, off + len) of name soon. An
 * object with S3_HOT_READS hints (or reads) is loaded whole by a loader
 * thread; a hinted range of another is read on its own, ahead, by a
 * loader. Hints that find no idle entry are dropped: the read then goes
 * to S3 when it comes. */
static void s3_prefetch(void *impl, const char *name, uint64_t off, size_t len, uint64_t size)
{
	struct s3 *s = impl;
	if (!len || strlen(name) >= S3_NAME_MAX)
		return;
	pthread_mutex_lock(&s->cache_mu);
	struct s3_cached *c = s3_cache_find(s, name);
	if (c) {
		c->tick = ++s->tick;	/* wanted again soon: keep it */
		goto out;
	}
	if (s3_blob_find(s, name, off, len) || s3_spill_find(s, name))
		goto out;
	struct s3_hot *h = s3_hot_slot(s, name);
	h->tick = ++s->tick;
	if (size)
		h->size = size;	/* counted from the claim on, and no HEAD */
	if (++h->hints + h->reads >= S3_HOT_READS && (!h->size || h->size <= S3_CACHE_OBJECT_MAX) &&
	    (c = s3_cache_claim_whole(s, name, h->size)) != NULL) {
		h->hints = h->reads = 0;
	} else if (len <= S3_BLOB_MAX &&
		   (c = s3_cache_claim(s, s->blobs, s->n_blobs, name)) != NULL) {
		c->blob = 1;
		c->base = off;
		c->want = len;
	}
	if (c && s3_loader_queue(s, c) < 0) {
		c->state = -1;	/* no loader: never used */
		c->stale = 1;
		s3_cache_release(c);
	}
out:
	pthread_mutex_unlock(&s->cache_mu);
}

/* Notes the size of a range-read object, for s3_cache_read. */
static void s3_cache_note_size(struct s3 *s, const char *name, uint64_t size)
{
	if (!size || strlen(name) >= S3_NAME_MAX)
		return;
	pthread_mutex_lock(&s->cache_mu);
	struct s3_hot *h = s3_hot_find(s, name);
	if (h)
		h->size = size;
	pthread_mutex_unlock(&s->cache_mu);
}

static int s3_get(void *impl, const char *name, uint64_t off, size_t len, struct buf *out)
{
	struct s3 *s = impl;
	if (off == 0 && len == 0)
		return s3_get_direct(s, name, 0, 0, out, NULL, NULL);
	int e = s3_cache_read(s, name, off, len, out);
	if (e != 0)
		return e < 0 ? e : 0;
	uint64_t total = 0;
	e = s3_get_direct(s, name, off, len, out, &total, NULL);
	if (e == 0)
		s3_cache_note_size(s, name, total);
	return e;
}

/* URL of a bucket request with a query string (already canonical). */
static char *s3_bucket_query_url(const struct s3 *s, const char *query)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s?%s", s->bucket_url, query);
	buf_terminate(&b);
	if (buf_ok(&b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return (char *)buf_steal(&b, NULL);
}

static int s3_list(void *impl, const char *prefix, backend_list_fn fn, void *arg)
{
	struct s3 *s = impl;
	struct buf query = BUF_INIT, body = BUF_INIT, full = BUF_INIT;
	struct s3xml_list page = { 0 };
	char *token = NULL, *url = NULL;
	size_t plen = strlen(s->prefix);
	int ret = 0;
	buf_printf(&full, "%s%s", s->prefix, prefix);
	buf_terminate(&full);
	if ((ret = buf_ok(&full)) < 0)
		goto out;
	for (unsigned pages = 0;; pages++) {
		/* parameters in canonical (sorted) order, values encoded */
		buf_reset(&query);
		if (token) {
			buf_printf(&query, "continuation-token=");
			s3_encode(&query, token, 0);
			buf_printf(&query, "&");
		}
		buf_printf(&query, "list-type=2");
		if (s->max_keys)
			buf_printf(&query, "&max-keys=%u", s->max_keys);
		buf_printf(&query, "&prefix=");
		s3_encode(&query, (const char *)full.data, 0);
		buf_terminate(&query);
		free(url);
		url = buf_ok(&query) == 0 ? s3_bucket_query_url(s, (const char *)query.data) : NULL;
		if (!url) {
			ret = CAIRN_ENOMEM;
			goto out;
		}
		buf_reset(&body);
		struct s3_req rq = {
			.method = "GET", .url = url, .what = (const char *)full.data,
			.verb = "list", .body_sha = S3_EMPTY_SHA256, .out = &body,
			.out_max = S3_LIST_BODY_MAX,
		};
		ret = s3_run(s, &rq);
		if (ret == CAIRN_ENOTFOUND) {
			log_error("cannot list %s in %s: the server answered 404", full.data,
				  s->location);
			ret = CAIRN_EIO;
		}
		if (ret < 0)
			goto out;
		s3xml_list_free(&page);
		ret = s3xml_list_parse(body.data, body.len, &page);
		if (ret < 0) {
			log_error("cannot list %s in %s: the answer is not a valid ListObjectsV2 "
				  "result",
				  full.data, s->location);
			goto out;
		}
		for (size_t i = 0; i < page.n; i++) {
			const char *key = page.objects[i].key;
			if (strncmp(key, (const char *)full.data, full.len) != 0)
				continue;	/* not ours: the server ignored the prefix */
			ret = fn(arg, key + plen, page.objects[i].size);
			if (ret)
				goto out;
		}
		if (!page.truncated)
			break;
		if (token && strcmp(token, page.next_token) == 0) {
			log_error("cannot list %s in %s: the server repeats its continuation token",
				  full.data, s->location);
			ret = CAIRN_EIO;
			goto out;
		}
		free(token);
		token = page.next_token;
		page.next_token = NULL;
	}
out:
	s3xml_list_free(&page);
	free(token);
	free(url);
	buf_free(&query);
	buf_free(&body);
	buf_free(&full);
	return ret;
}

static int s3_del(void *impl, const char *name)
{
	struct s3 *s = impl;
	/* S3 answers 204 whether or not the key existed; the interface wants
	 * CAIRN_ENOTFOUND for a missing object, so look first. */
	int e = s3_stat(s, name, NULL);
	if (e < 0)
		return e;
	char *url = s3_object_url(s, name);
	if (!url)
		return CAIRN_ENOMEM;
	struct s3_req rq = {
		.method = "DELETE", .url = url, .what = name, .verb = "delete",
		.body_sha = S3_EMPTY_SHA256, .quiet_404 = 1,
	};
	e = s3_run(s, &rq);
	free(url);
	s3_cache_forget(s, name);
	return e;
}

/* Deletes up to S3_DELETE_BATCH keys with one POST ?delete. */
static int s3_del_batch(struct s3 *s, const char *const *names, size_t n)
{
	struct buf body = BUF_INIT, answer = BUF_INIT;
	uint8_t sha[32], md5[EVP_MAX_MD_SIZE];
	unsigned md5_len = 0;
	char md5_b64[64], *url = NULL;
	int e;
	buf_printf(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			  "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			  "<Quiet>true</Quiet>");
	for (size_t i = 0; i < n; i++) {
		s3_cache_forget(s, names[i]);
		buf_printf(&body, "<Object><Key>");
		s3xml_escape(&body, s->prefix);
		s3xml_escape(&body, names[i]);
		buf_printf(&body, "</Key></Object>");
	}
	buf_printf(&body, "</Delete>");
	if ((e = buf_ok(&body)) < 0)
		goto out;
	/* S3 requires Content-MD5 on this request */
	if (EVP_Digest(body.data, body.len, md5, &md5_len, EVP_md5(), NULL) != 1) {
		log_error("cannot compute MD5 for a multi-object delete in %s", s->location);
		e = CAIRN_EIO;
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)md5_b64, md5, (int)md5_len);
	url = s3_bucket_query_url(s, "delete=");
	if (!url) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	struct s3_req rq = {
		.method = "POST", .url = url, .what = names[0], .verb = "delete",
		.post = body.data, .post_len = body.len, .body_len = body.len,
		.content_md5 = md5_b64, .content_type = "application/xml",
		.out = &answer, .out_max = S3_LIST_BODY_MAX,
	};
	crypto_plain_hash(body.data, body.len, sha);
	hex_encode(sha, 32, rq.body_sha);
	e = s3_run(s, &rq);
	if (e < 0)
		goto out;
	struct s3xml_delete dr;
	if (s3xml_delete_parse(answer.data, answer.len, &dr) < 0) {
		log_error("cannot delete %s and %zu more in %s: the answer is not a valid "
			  "DeleteResult",
			  names[0], n - 1, s->location);
		e = CAIRN_EIO;
		goto out;
	}
	if (dr.errors) {
		log_error("cannot delete %s in %s: %s: %s (%zu of %zu deletions failed)",
			  dr.first_key, s->location, dr.first_code, dr.first_message, dr.errors, n);
		e = CAIRN_EIO;
	}
out:
	free(url);
	buf_free(&body);
	buf_free(&answer);
	return e;
}

static int s3_del_many(void *impl, const char *const *names, size_t n, unsigned flags)
{
	(void)flags;	/* a DELETE that S3 answered is durable */
	for (size_t i = 0; i < n; i += S3_DELETE_BATCH) {
		int e = s3_del_batch(impl, names + i, CAIRN_MIN(n - i, (size_t)S3_DELETE_BATCH));
		if (e < 0)
			return e;
	}
	return 0;
}

static void s3_wipe_free(char *p)
{
	if (p) {
		crypto_wipe(p, strlen(p));
		free(p);
	}
}

static void s3_free(void *impl)
{
	struct s3 *s = impl;
	if (!s)
		return;
	pthread_mutex_lock(&s->cache_mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->q_cond);
	pthread_mutex_unlock(&s->cache_mu);
	for (size_t i = 0; i < s->n_loaders; i++)
		pthread_join(s->loaders[i], NULL);
	free(s->loaders);
	free(s->q);
	for (size_t i = 0; s->blobs && i < s->n_blobs; i++)
		free(s->blobs[i].data);
	free(s->blobs);
	for (size_t i = 0; i < s->n_idle; i++)
		curl_easy_cleanup(s->idle[i]);
	for (size_t i = 0; s->cache && i < s->n_cache; i++)
		free(s->cache[i].data);
	free(s->cache);
	free(s->spare);
	if (s->spill_fd >= 0)
		close(s->spill_fd);
	free(s->spill);
	free(s->hot);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->cache_mu);
	pthread_cond_destroy(&s->cache_cond);
	pthread_cond_destroy(&s->q_cond);
	free(s->location);
	free(s->base);
	free(s->bucket_url);
	free(s->bucket);
	free(s->prefix);
	free(s->sigv4);
	free(s->storage_class);
	free(s->access_key);
	s3_wipe_free(s->secret_key);
	s3_wipe_free(s->token_header);
	free(s);
	curl_global_cleanup();
}

static const struct backend_ops s3_ops = {
	.name = "s3",
	.features = BACKEND_F_REMOTE,
	.put = s3_put,
	.put_hashed = s3_put_hashed,
	.get = s3_get,
	.stat = s3_stat,
	.list = s3_list,
	.del = s3_del,
	.free = s3_free,
	.del_many = s3_del_many,
	.prefetch = s3_prefetch,
};

/* ------------------------------------------------------------------ */
/* opening: location, options, credentials, bucket */

/* Trims spaces and tabs at both ends, in place. */
static char *trim(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		p[--n] = 0;
	return p;
}

/* Reads the profile's keys from an AWS shared credentials file (INI).
 * Returns 0 (found, or the file is missing: *ret_key stays NULL),
 * CAIRN_EINVAL for an unreadable file, CAIRN_ENOMEM. */
static int s3_credentials_file(const char *path, const char *profile, char **ret_key,
			       char **ret_secret, char **ret_token)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		log_error("cannot read the AWS credentials file %s: %s", path, strerror(errno));
		return CAIRN_EINVAL;
	}
	char line[4096];
	int in_profile = 0, ret = 0;
	unsigned lines = 0;
	while (fgets(line, sizeof(line), f) && lines++ < 100000) {
		line[strcspn(line, "\n")] = 0;
		char *p = trim(line);
		if (!*p || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			char *end = strchr(p, ']');
			if (!end)
				continue;
			*end = 0;
			p = trim(p + 1);
			if (strncmp(p, "profile ", 8) == 0)
				p = trim(p + 8);
			in_profile = strcmp(p, profile) == 0;
			continue;
		}
		char *eq = strchr(p, '=');
		if (!in_profile || !eq)
			continue;
		*eq = 0;
		char *k = trim(p), *v = trim(eq + 1);
		char **dst = strcmp(k, "aws_access_key_id") == 0       ? ret_key
			     : strcmp(k, "aws_secret_access_key") == 0 ? ret_secret
			     : strcmp(k, "aws_session_token") == 0     ? ret_token
								       : NULL;
		if (!dst)
			continue;
		if (*dst)
			s3_wipe_free(*dst);
		*dst = strdup(v);
		if (!*dst)
			ret = CAIRN_ENOMEM;
	}
	crypto_wipe(line, sizeof(line));
	fclose(f);
	return ret;
}

/* Credentials from the environment, else from the shared credentials file. */
static int s3_credentials(struct s3 *s)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	char *tok = NULL;
	int e = 0;
	if (id && *id && secret && *secret) {
		s->access_key = strdup(id);
		s->secret_key = strdup(secret);
		if (token && *token && !(tok = strdup(token)))
			e = CAIRN_ENOMEM;
	} else {
		const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
		const char *profile = getenv("AWS_PROFILE");
		const char *home = getenv("HOME");
		char path[4096];
		if (file && *file)
			snprintf(path, sizeof(path), "%s", file);
		else
			snprintf(path, sizeof(path), "%s/.aws/credentials", home ? home : "");
		if (!profile || !*profile)
			profile = "default";
		e = s3_credentials_file(path, profile, &s->access_key, &s->secret_key, &tok);
		if (e == 0 && (!s->access_key || !s->secret_key)) {
			log_error("no S3 credentials for %s: set AWS_ACCESS_KEY_ID and "
				  "AWS_SECRET_ACCESS_KEY, or add profile '%s' to %s",
				  s->location, profile, path);
			e = CAIRN_EINVAL;
		}
	}
	if (e == 0 && (!s->access_key || !s->secret_key))
		e = CAIRN_ENOMEM;
	if (e == 0 && tok) {
		size_t n = strlen(tok) + 32;
		s->token_header = malloc(n);
		if (!s->token_header)
			e = CAIRN_ENOMEM;
		else
			snprintf(s->token_header, n, "x-amz-security-token: %s", tok);
	}
	s3_wipe_free(tok);
	return e;
}

/* Bucket names as S3-compatible stores accept them (lenient: some allow
 * capitals and underscores). */
static int s3_valid_bucket(const char *b, size_t n)
{
	if (n < 1 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!s3_unreserved((unsigned char)b[i]) || b[i] == '~')
			return 0;
	return 1;
}

struct s3_loc {
	int https;
	char hostport[512];	/* host[:port] */
	char bucket[256];
	char prefix[1024];	/* without slashes at the ends */
	int aws;
	char aws_region[64];	/* from an s3.REGION.amazonaws.com host */
};

/* Parses "http[s]://HOST[:PORT]/BUCKET[/PREFIX]" or "//BUCKET[/PREFIX]". */
static int s3_parse_location(const char *loc, struct s3_loc *l)
{
	const char *p;
	memset(l, 0, sizeof(*l));
	if (strncmp(loc, "https://", 8) == 0) {
		l->https = 1;
		p = loc + 8;
	} else if (strncmp(loc, "http://", 7) == 0) {
		p = loc + 7;
	} else if (strncmp(loc, "//", 2) == 0) {
		l->https = 1;
		l->aws = 1;
		p = loc + 2;
	} else {
		return CAIRN_EINVAL;
	}
	if (!l->aws) {
		size_t h = strcspn(p, "/");
		if (h == 0 || h >= sizeof(l->hostport) || memchr(p, '@', h) || memchr(p, '?', h))
			return CAIRN_EINVAL;
		memcpy(l->hostport, p, h);
		p += h;
		if (*p != '/')
			return CAIRN_EINVAL;
		p++;
		/* s3.REGION.amazonaws.com or s3.amazonaws.com: AWS */
		const char *suffix = ".amazonaws.com";
		size_t hl = strlen(l->hostport), sl = strlen(suffix);
		if (hl > sl && strcmp(l->hostport + hl - sl, suffix) == 0 &&
		    strncmp(l->hostport, "s3", 2) == 0) {
			l->aws = 1;
			const char *r = l->hostport + 2;
			if (*r == '.' || *r == '-') {
				r++;
				size_t rl = (size_t)(l->hostport + hl - sl - r);
				if (rl > 0 && rl < sizeof(l->aws_region))
					memcpy(l->aws_region, r, rl);
			}
		}
	}
	size_t b = strcspn(p, "/");
	if (!s3_valid_bucket(p, b))
		return CAIRN_EINVAL;
	memcpy(l->bucket, p, b);
	p += b;
	while (*p == '/')
		p++;
	size_t n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (n >= sizeof(l->prefix) - 1)
		return CAIRN_EINVAL;
	memcpy(l->prefix, p, n);
	if (strstr(l->prefix, "//") || strchr(l->prefix, '?') || strchr(l->prefix, '#'))
		return CAIRN_EINVAL;
	return 0;
}

struct s3_options {
	const char *region;
	int dns;		/* -1: default */
	const char *storage_class;
	unsigned connections;
	long stall;
	unsigned long cache_mb, spill_mb;
};

/* Parses the s3.* options (their form was checked by backend_open_with). */
static int s3_parse_options(const char *const *opts, struct s3_options *o)
{
	memset(o, 0, sizeof(*o));
	o->dns = -1;
	o->connections = S3_DEFAULT_CONNECTIONS;
	o->stall = S3_DEFAULT_STALL;
	o->cache_mb = S3_CACHE_MB;
	o->spill_mb = S3_SPILL_MB;
	for (size_t i = 0; opts && opts[i]; i++) {
		const char *kv = opts[i], *v = strchr(kv, '=') + 1;
		size_t kl = (size_t)(v - 1 - kv);
		char *end;
#define KEY(k) (kl == strlen(k) && strncmp(kv, k, kl) == 0)
		if (KEY("s3.region")) {
			if (!*v || strlen(v) > 63 || strchr(v, ':') || strchr(v, '/')) {
				log_error("invalid -o s3.region=%s", v);
				return CAIRN_EINVAL;
			}
			o->region = v;
		} else if (KEY("s3.bucket-lookup")) {
			if (strcmp(v, "path") == 0)
				o->dns = 0;
			else if (strcmp(v, "dns") == 0)
				o->dns = 1;
			else {
				log_error("-o s3.bucket-lookup must be 'path' or 'dns', not '%s'", v);
				return CAIRN_EINVAL;
			}
		} else if (KEY("s3.storage-class")) {
			for (const char *c = v; *c; c++)
				if (!((*c >= 'A' && *c <= 'Z') || *c == '_' || (*c >= '0' && *c <= '9'))) {
					log_error("invalid -o s3.storage-class=%s (e.g. STANDARD_IA)", v);
					return CAIRN_EINVAL;
				}
			o->storage_class = *v ? v : NULL;
		} else if (KEY("s3.connections")) {
			unsigned long n = strtoul(v, &end, 10);
			if (*end || end == v || n < 1 || n > S3_MAX_CONNECTIONS) {
				log_error("-o s3.connections must be 1..%d, not '%s'", S3_MAX_CONNECTIONS,
					  v);
				return CAIRN_EINVAL;
			}
			o->connections = (unsigned)n;
		} else if (KEY("s3.timeout")) {
			unsigned long n = strtoul(v, &end, 10);
			if (*end || end == v || n < 1 || n > 3600) {
				log_error("-o s3.timeout must be 1..3600 seconds, not '%s'", v);
				return CAIRN_EINVAL;
			}
			o->stall = (long)n;
		} else if (KEY("s3.cache-mb") || KEY("s3.spill-mb")) {
			int cache = KEY("s3.cache-mb");
			unsigned long n = strtoul(v, &end, 10);
			if (*end || end == v || n < (cache ? 1u : 0u) || n > (1ul << 20)) {
				log_error("-o %s must be %s..1048576 MiB, not '%s'",
					  cache ? "s3.cache-mb" : "s3.spill-mb", cache ? "1" : "0", v);
				return CAIRN_EINVAL;
			}
			*(cache ? &o->cache_mb : &o->spill_mb) = n;
		} else {
			log_error("unknown option '%.*s'; S3 options are s3.region, "
				  "s3.bucket-lookup, s3.storage-class, s3.connections, s3.timeout, "
				  "s3.cache-mb, s3.spill-mb",
				  (int)kl, kv);
			return CAIRN_EINVAL;
		}
#undef KEY
	}
	return 0;
}

/* Builds the URLs and the signer's scope. */
static int s3_setup_urls(struct s3 *s, const struct s3_loc *l, const struct s3_options *o)
{
	const char *region = o->region;
	if (!region)
		region = getenv("AWS_REGION");
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!region || !*region)
		region = l->aws_region[0] ? l->aws_region : "us-east-1";
	if (strlen(region) >= sizeof(s->region) || strspn(region, "abcdefghijklmnopqrstuvwxyz"
							"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							"0123456789-_") != strlen(region)) {
		log_error("invalid S3 region '%s' (from -o s3.region, AWS_REGION or "
			  "AWS_DEFAULT_REGION)",
			  region);
		return CAIRN_EINVAL;
	}
	char aws_host[128];
	const char *hostport = l->hostport;
	if (!hostport[0]) {
		snprintf(aws_host, sizeof(aws_host), "s3.%s.amazonaws.com", region);
		hostport = aws_host;
	}
	/* virtual-hosted for AWS, unless the bucket name has dots (TLS names) */
	int dns = o->dns >= 0 ? o->dns : (l->aws && !strchr(l->bucket, '.'));
	const char *scheme = l->https ? "https" : "http";
	struct buf b = BUF_INIT, bu = BUF_INIT, sig = BUF_INIT;
	if (dns) {
		buf_printf(&b, "%s://%s.%s", scheme, l->bucket, hostport);
		buf_printf(&bu, "%s://%s.%s/", scheme, l->bucket, hostport);
	} else {
		buf_printf(&b, "%s://%s/%s", scheme, hostport, l->bucket);
		buf_printf(&bu, "%s://%s/%s", scheme, hostport, l->bucket);
	}
	buf_printf(&sig, "aws:amz:%s:s3", region);
	snprintf(s->region, sizeof(s->region), "%s", region);
	buf_terminate(&b);
	buf_terminate(&bu);
	buf_terminate(&sig);
	if (buf_ok(&b) < 0 || buf_ok(&bu) < 0 || buf_ok(&sig) < 0) {
		buf_free(&b);
		buf_free(&bu);
		buf_free(&sig);
		return CAIRN_ENOMEM;
	}
	s->base = (char *)buf_steal(&b, NULL);
	s->bucket_url = (char *)buf_steal(&bu, NULL);
	s->sigv4 = (char *)buf_steal(&sig, NULL);
	log_debug("s3: %s: %s requests to %s, region %s", s->location,
		  dns ? "virtual-hosted" : "path-style", s->base, region);
	return 0;
}

/* Creates the bucket; one the caller already owns is fine. */
static int s3_create_bucket(struct s3 *s)
{
	struct buf body = BUF_INIT, answer = BUF_INIT;
	uint8_t sha[32];
	int e;
	/* us-east-1 is the default and S3 refuses it as a LocationConstraint */
	if (strcmp(s->region, "us-east-1") != 0)
		buf_printf(&body,
			   "<CreateBucketConfiguration "
			   "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			   "<LocationConstraint>%s</LocationConstraint>"
			   "</CreateBucketConfiguration>",
			   s->region);
	if ((e = buf_ok(&body)) < 0)
		goto out;
	struct iovec v = { body.data, body.len };
	struct s3_req rq = {
		.method = "PUT", .url = s->bucket_url, .what = s->bucket, .verb = "create bucket",
		.iov = &v, .n_iov = body.len ? 1 : 0, .body_len = body.len, .out = &answer,
		.out_max = S3_ERR_BODY_MAX,
	};
	crypto_plain_hash(body.data, body.len, sha);
	hex_encode(sha, 32, rq.body_sha);
	e = s3_run(s, &rq);
	if (e == 0)
		log_info("created bucket %s", s->bucket);
out:
	buf_free(&body);
	buf_free(&answer);
	return e;
}

/* Does the bucket exist? A one-key list rather than HEAD, because its
 * error answer carries S3's code (SignatureDoesNotMatch, AccessDenied).
 * Returns 0, CAIRN_ENOREPO (logged unless quiet) or another error (logged). */
static int s3_probe_bucket(struct s3 *s, int quiet)
{
	struct buf q = BUF_INIT, body = BUF_INIT;
	buf_printf(&q, "list-type=2&max-keys=1&prefix=");
	s3_encode(&q, s->prefix, 0);
	buf_terminate(&q);
	char *url = buf_ok(&q) == 0 ? s3_bucket_query_url(s, (const char *)q.data) : NULL;
	buf_free(&q);
	if (!url)
		return CAIRN_ENOMEM;
	struct s3_req rq = {
		.method = "GET", .url = url, .what = s->bucket, .verb = "open bucket",
		.body_sha = S3_EMPTY_SHA256, .out = &body, .out_max = S3_LIST_BODY_MAX,
		.quiet_404 = 1, .quiet_nobucket = quiet,
	};
	int e = s3_run(s, &rq);
	free(url);
	buf_free(&body);
	if (e == CAIRN_ENOTFOUND) {
		if (!quiet)
			log_error("no bucket %s at %s; create it, or run 'cairn init "
				  "--create-bucket'",
				  s->bucket, s->location);
		e = CAIRN_ENOREPO;
	}
	return e;
}

/* Test hook: the list page size (an environment variable only tests set). */
static unsigned s3_test_max_keys(void)
{
	const char *v = getenv("CAIRN_TEST_S3_MAX_KEYS");
	unsigned long n = v ? strtoul(v, NULL, 10) : 0;
	return n > 0 && n <= 1000 ? (unsigned)n : 0;
}

int backend_s3_open(const char *location, const struct backend_open_opts *o,
		    struct backend **ret)
{
	struct s3_loc loc;
	struct s3_options opt;
	struct s3 *s = NULL;
	struct backend *b = NULL;
	int e;
	if (s3_parse_location(location, &loc) < 0) {
		log_error("cannot parse the S3 location s3:%s; use "
			  "s3:https://HOST[:PORT]/BUCKET[/PREFIX] or s3://BUCKET[/PREFIX]",
			  location);
		return CAIRN_EINVAL;
	}
	e = s3_parse_options(o->options, &opt);
	if (e < 0)
		return e;
	/* Before 7.87 (curl PR #9804) curl signed the hash of an empty body
	 * for every upload instead of our x-amz-content-sha256. */
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	if (cv->version_num < 0x075700) {
		log_error("S3 repositories need libcurl 7.87 or later to sign uploads; this is "
			  "libcurl %s",
			  cv->version);
		return CAIRN_EUNSUPPORTED;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return CAIRN_EIO;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->spill_fd = -1;
	b = calloc(1, sizeof(*b));
	if (!s || !b) {
		free(s);
		free(b);
		curl_global_cleanup();
		return CAIRN_ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->cache_mu, NULL);
	pthread_cond_init(&s->cache_cond, NULL);
	pthread_cond_init(&s->q_cond, NULL);
	s->n_cache = S3_CACHE_SLOTS;
	s->cache = calloc(s->n_cache, sizeof(*s->cache));
	s->n_blobs = S3_BLOB_SLOTS;
	s->blobs = calloc(s->n_blobs, sizeof(*s->blobs));
	s->q_cap = s->n_cache + s->n_blobs;
	s->q = calloc(s->q_cap, sizeof(*s->q));
	s->loaders = calloc(opt.connections, sizeof(*s->loaders));
	s->hot = calloc(S3_HOT_SLOTS, sizeof(*s->hot));
	size_t ln = strlen(location) + 4;
	s->location = malloc(ln);
	s->bucket = strdup(loc.bucket);
	size_t pn = strlen(loc.prefix) + 2;
	s->prefix = malloc(pn);
	if (!s->location || !s->bucket || !s->prefix || !s->cache || !s->hot || !s->blobs ||
	    !s->q || !s->loaders) {
		e = CAIRN_ENOMEM;
		goto fail;
	}
	snprintf(s->location, ln, "s3:%s", location);
	snprintf(s->prefix, pn, "%s%s", loc.prefix, loc.prefix[0] ? "/" : "");
	s->connections = opt.connections;
	s->cache_bytes = (uint64_t)opt.cache_mb << 20;
	s->spill_max = (uint64_t)opt.spill_mb << 20;
	s->stall_seconds = opt.stall;
	s->max_keys = s3_test_max_keys();
	if (opt.storage_class) {
		size_t n = strlen(opt.storage_class) + 32;
		s->storage_class = malloc(n);
		if (!s->storage_class) {
			e = CAIRN_ENOMEM;
			goto fail;
		}
		snprintf(s->storage_class, n, "x-amz-storage-class: %s", opt.storage_class);
	}
	e = s3_setup_urls(s, &loc, &opt);
	if (e < 0)
		goto fail;
	e = s3_credentials(s);
	if (e < 0)
		goto fail;
	if (o->create_bucket) {
		e = s3_probe_bucket(s, 1);
		if (e == CAIRN_ENOREPO)
			e = s3_create_bucket(s);
		if (e < 0)
			goto fail;
	} else if (o->create) {
		e = s3_probe_bucket(s, 0);
		if (e < 0)
			goto fail;
	}
	b->location = strdup(s->location);
	if (!b->location) {
		e = CAIRN_ENOMEM;
		goto fail;
	}
	b->ops = &s3_ops;
	b->impl = s;
	b->parallel = s->connections;
	*ret = b;
	return 0;
fail:
	s3_free(s);
	free(b);
	return e;
}
