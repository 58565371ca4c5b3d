/*
 * cli.h - shared pieces of the command-line front end: global options,
 * password sources, opening the repository, output helpers. The CLI holds
 * no engine logic: each command parses flags, calls the engine, prints.
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "cairn/buf.h"

struct repo;

#define CLI_MAX_OPTIONS 32

struct cli_global {
	const char *repo;		/* -r / CAIRN_REPO */
	const char *password_file;	/* --password-file / CAIRN_PASSWORD_FILE */
	const char *password_command;	/* --password-command / CAIRN_PASSWORD_COMMAND */
	const char *cache_dir;		/* --cache-dir / CAIRN_CACHE_DIR */
	int json;
	int quiet;
	int verbose;
	const char *options[CLI_MAX_OPTIONS + 1]; /* -o KEY=VALUE, NULL-terminated */
	size_t n_options;
};

extern struct cli_global cli_g;

/* Option table entries for the global options; commands append theirs. */
#define CLI_GLOBAL_LONGOPTS                                               \
	{ "repo", required_argument, NULL, 'r' },                         \
	{ "option", required_argument, NULL, 'o' },                       \
	{ "password-file", required_argument, NULL, 0x1001 },             \
	{ "password-command", required_argument, NULL, 0x1002 },          \
	{ "cache-dir", required_argument, NULL, 0x1003 },                 \
	{ "json", no_argument, NULL, 0x1004 },                            \
	{ "quiet", no_argument, NULL, 'q' },                              \
	{ "verbose", no_argument, NULL, 'v' },                            \
	{ "help", no_argument, NULL, 'h' }

#define CLI_GLOBAL_SHORTOPTS "r:o:qvh"

#define CLI_GLOBAL_HELP                                                           \
	"Global options:\n"                                                       \
	"  -r, --repo LOCATION        repository (or CAIRN_REPO)\n"               \
	"  -o, --option KEY=VALUE     backend option, e.g. s3.region=eu-west-1 (repeatable)\n" \
	"      --password-file FILE   read the password from FILE (or CAIRN_PASSWORD_FILE)\n" \
	"      --password-command CMD run CMD and read the password from its output\n" \
	"      --cache-dir DIR        local cache folder (or CAIRN_CACHE_DIR)\n"  \
	"      --json                 print JSON instead of text\n"               \
	"  -q, --quiet                print nothing but errors\n"                 \
	"  -v, --verbose              print more\n"                               \
	"  -h, --help                 show this help\n"

/* Handles a global option. Returns 1 when c was one, 0 when not, and
 * prints help and exits for -h (help text given). */
int cli_global_opt(int c, const char *arg, const char *help);

/* Prints "unknown option" style errors consistently and returns exit code 1. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the password from the configured source. confirm: ask twice when
 * prompting (init). Returns 0 or an error (logged). *ret is malloc'ed;
 * free with cli_password_free. */
int cli_password(int confirm, char **ret, size_t *ret_len);
void cli_password_free(char *pw, size_t len);
/* Reads a new password (key add/passwd): --new-password-file, then
 * CAIRN_NEW_PASSWORD, then the terminal (asked twice). */
int cli_new_password(const char *file, char **ret, size_t *ret_len);

/* Opens the repository named by the global options. */
int cli_open_repo(struct repo **ret);

/* Opens a second repository (copy, init --copy-chunker-params): its
 * password from pwcmd, pwfile, CAIRN_FROM_PASSWORD_FILE or
 * CAIRN_FROM_PASSWORD. */
int cli_open_from_repo(const char *location, const char *pwfile, const char *pwcmd,
		       struct repo **ret);

struct repo_lock;
enum { CLI_LOCK_SHARED = 0, CLI_LOCK_EXCLUSIVE = 1 };
/* Opens the repository and takes a lock (lock.h); release with
 * cli_close_repo. On failure nothing stays open. */
int cli_open_repo_locked(int mode, struct repo **ret, struct repo_lock **ret_lock);
/* Releases the lock (NULL ok) and frees the repository (NULL ok). */
void cli_close_repo(struct repo *r, struct repo_lock *l);

/* Parses "123", "4K", "4KiB", "16M", "1G" into bytes. */
int cli_parse_size(const char *s, uint64_t *ret);

/* Writes a buffer to stdout; returns 0 or an error. */
int cli_write_stdout(const void *p, size_t n);

/* Human-readable byte count ("1.50 GiB"). */
void cli_fmt_bytes(uint64_t n, char *out, size_t cap);

/* qsort comparator for an array of C strings, bytewise. */
int cli_strcmp_ptr(const void *a, const void *b);

/* Snapshot filter options (--host, --tag, --path) shared by the commands
 * that select snapshots; tags and paths are the caller's arrays of 32. */
#define CLI_FILTER_LONGOPTS                                   \
	{ "host", required_argument, NULL, 0x2001 },          \
	{ "tag", required_argument, NULL, 0x2002 },           \
	{ "path", required_argument, NULL, 0x2003 }

struct snap_filter;
/* Handles a filter option: 1 when c was one, 0 when not, -1 after a usage
 * error (printed, naming cmd). */
int cli_filter_opt(struct snap_filter *f, const char **tags, const char **paths, int c,
		   const char *arg, const char *cmd);

/* Process exit code for an engine error code. */
int cli_exit(int err);

struct json;
struct snap_entry;
/* Writes one snapshot as a JSON object (snapshots --json, cat snapshot). */
void cli_snapshot_json(struct json *j, const struct snap_entry *e);

/* Tree nodes (nodefmt.c), shared by ls, find and diff. */
struct node;
/* "file", "dir", "symlink", "chardev", "blockdev", "fifo" (or "?"). */
const char *cli_node_type_name(int type);
/* `ls -l` mode string ("drwxr-xr-x"); out holds 11 bytes. */
void cli_node_mode_string(const struct node *n, char out[11]);
/* Appends an `ls -l` style line: mode, user, group (ids when the names are
 * unknown), size, mtime in local time, path, "-> target" for symlinks. */
void cli_node_long(struct buf *b, const char *path, const struct node *n);
/* Writes a node's fields (path, name, type, mode, ids, names, size, times
 * in RFC 3339, inode, links, ...) into an open JSON object; chunks (the
 * number of data chunks) is written for files when not NULL. */
void cli_node_json_fields(struct json *j, const char *path, const struct node *n,
			  const uint64_t *chunks);

int cmd_init(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_snapshots(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_unlock(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_find(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_check(int argc, char **argv);

struct checker_opts;
/* Parses a --read-data-subset value, "N/T", "N-M/T" (1 <= N <= M <= T) or
 * "P%" (0 < P <= 100), into o (check.c). Returns 0 or CAIRN_EINVAL. */
int cli_parse_read_subset(const char *s, struct checker_opts *o);

/* ---- metrics files (metrics.c) ---- */

/* What a command reports in its --metrics-file (Prometheus text format). */
struct cli_metrics {
	const char *file;		/* --metrics-file FILE; NULL: write nothing */
	const char *job;		/* --metrics-job NAME; NULL: the command */
	const char *command;		/* "backup", "check", ... */
	int64_t start_ns;		/* when the command started (time_now_ns) */
	int exit_code;			/* the process's exit status */
	uint64_t bytes_added, files_processed, errors_found;
	int has_repo_bytes;		/* repo_bytes is known (else: index cache) */
	uint64_t repo_bytes;
};

/* The two options, for a command's help text (and its man page). */
#define CLI_METRICS_HELP                                                          \
	"      --metrics-file FILE    write Prometheus metrics to FILE (atomically)\n" \
	"      --metrics-job NAME     the job label of the metrics (default: the command)\n"

/* Writes m->file, when set, atomically: last success time (kept from the
 * old file when this run failed), last run time, exit code, duration,
 * bytes added, files processed, errors found, and with r (NULL when the
 * repository could not be opened) the snapshot count and repository size;
 * labels repository, job and command. Returns 0 or an error (logged). */
int cli_metrics_write(struct repo *r, const struct cli_metrics *m);

#endif
