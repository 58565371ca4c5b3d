/*
 * metrics.c - Prometheus text-format metrics files (--metrics-file).
 *
 * One file per job, meant for node_exporter's textfile collector (or any
 * scraper of the text format). It is replaced atomically (temporary file
 * in the same folder, fsync, rename, fsync of the folder), so a scraper
 * never reads half a file. A run that fails still writes the file (with
 * its exit code), keeping the previous last-success time, so alerts on
 * "no success for N hours" keep counting from the real last success.
 *
 * Labels: repository (the printable location: the backend's, which holds
 * no secrets), job (--metrics-job, default the command) and command.
 * Scraped through node_exporter, the "job" label collides with the
 * scrape job's and becomes "exported_job" unless honor_labels is set; the
 * rules in contrib/prometheus/ therefore select on "command".
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/index.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/timeparse.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <unistd.h>

/* Appends a label value with the escapes of the text format. */
static void put_label(struct buf *b, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\')
			buf_put(b, "\\\\", 2);
		else if (*p == '"')
			buf_put(b, "\\\"", 2);
		else if (*p == '\n')
			buf_put(b, "\\n", 2);
		else
			buf_put_u8(b, (uint8_t)*p);
	}
}

/* A location without user:password@ (in case one was typed into a URL). */
static void strip_userinfo(const char *loc, char *out, size_t cap)
{
	const char *s = strstr(loc, "://");
	const char *at = s ? strchr(s + 3, '@') : NULL;
	const char *slash = s ? strchr(s + 3, '/') : NULL;
	if (at && (!slash || at < slash))
		snprintf(out, cap, "%.*s%s", (int)(s + 3 - loc), loc, at + 1);
	else
		snprintf(out, cap, "%s", loc);
}

/* The last success time recorded in an existing file, or 0. */
static double previous_success(const char *path)
{
	static const char name[] = "cairn_last_success_timestamp_seconds";
	char line[4096];
	double v = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(name);
		if (strncmp(line, name, n) != 0 || (line[n] != '{' && line[n] != ' '))
			continue;
		char *sp = strrchr(line, ' ');
		if (sp)
			v = strtod(sp + 1, NULL);
	}
	fclose(f);
	return v > 0 ? v : 0;
}

static int count_cb(void *arg, const uint8_t id[32])
{
	(void)id;
	(*(uint64_t *)arg)++;
	return 0;
}

static void metric(struct buf *b, const char *labels, const char *name, const char *help,
		   const char *value)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s{%s} %s\n", name, help, name, name, labels,
		   value);
}

/* Writes data to path atomically. */
static int write_atomic(const char *path, const struct buf *data)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	for (size_t off = 0; off < data->len;) {
		ssize_t w = write(fd, data->data + off, data->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int keep = errno;
			close(fd);
			unlink(tmp);
			errno = keep;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int keep = errno;
		unlink(tmp);
		errno = keep;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		int keep = errno;
		unlink(tmp);
		errno = keep;
		goto fail;
	}
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	log_error("cannot write the metrics file %s: %s; check --metrics-file", path,
		  strerror(errno));
	return cairn_from_errno(errno);
}

int cli_metrics_write(struct repo *r, const struct cli_metrics *m)
{
	if (!m->file)
		return 0;
	struct buf b = BUF_INIT, labels = BUF_INIT;
	char loc[2048], v[64];
	const char *raw = cli_g.repo ? cli_g.repo : getenv("CAIRN_REPO");
	strip_userinfo(r ? repo_backend(r)->location : raw ? raw : "", loc, sizeof(loc));
	int64_t now = time_now_ns();
	double now_s = (double)now / 1e9;
	double dur = m->start_ns ? (double)(now - m->start_ns) / 1e9 : 0;

	buf_put(&labels, "repository=\"", 12);
	put_label(&labels, loc);
	buf_put(&labels, "\",job=\"", 7);
	put_label(&labels, m->job ? m->job : m->command);
	buf_put(&labels, "\",command=\"", 11);
	put_label(&labels, m->command);
	buf_put_u8(&labels, '"');
	buf_terminate(&labels);
	int e = buf_ok(&labels);
	if (e < 0)
		goto out;
	const char *lb = (const char *)labels.data;

	snprintf(v, sizeof(v), "%.3f", m->exit_code == 0 ? now_s : previous_success(m->file));
	metric(&b, lb, "cairn_last_success_timestamp_seconds",
	       "Unix time when this job last finished with exit status 0 (0: never).", v);
	snprintf(v, sizeof(v), "%.3f", now_s);
	metric(&b, lb, "cairn_last_run_timestamp_seconds", "Unix time when this job last finished.",
	       v);
	snprintf(v, sizeof(v), "%d", m->exit_code);
	metric(&b, lb, "cairn_last_exit_code", "Exit status of the last run (0: success).", v);
	snprintf(v, sizeof(v), "%.3f", dur);
	metric(&b, lb, "cairn_duration_seconds", "How long the last run took, in seconds.", v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)m->bytes_added);
	metric(&b, lb, "cairn_bytes_added", "Bytes the last run added to the repository.", v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)m->files_processed);
	metric(&b, lb, "cairn_files_processed",
	       "Files the last run processed (backup: files in the snapshot; check: files "
	       "verified in all snapshots).",
	       v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)m->errors_found);
	metric(&b, lb, "cairn_errors_found",
	       "Errors the last run found (backup: unreadable sources; check: damage).", v);
	if (r) {
		uint64_t snaps = 0, bytes = m->repo_bytes;
		if (repo_file_list(r, REPO_FILE_SNAPSHOT, count_cb, &snaps) == 0) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)snaps);
			metric(&b, lb, "cairn_snapshot_count", "Snapshots in the repository.", v);
		}
		if (m->has_repo_bytes ||
		    (repo_index(r) && index_pack_bytes(repo_index(r), &bytes) == 0)) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)bytes);
			metric(&b, lb, "cairn_repository_size_bytes",
			       "Bytes of the repository's packs.", v);
		}
	}
	e = buf_ok(&b);
	if (e == 0)
		e = write_atomic(m->file, &b);
out:
	buf_free(&b);
	buf_free(&labels);
	return e;
}
