/*
 * common.c - global options, passwords, repository opening (see cli.h).
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/crypto.h"
#include "cairn/lock.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

struct cli_global cli_g;

int cli_global_opt(int c, const char *arg, const char *help)
{
	switch (c) {
	case 'r': cli_g.repo = arg; return 1;
	case 'o':
		if (cli_g.n_options == CLI_MAX_OPTIONS) {
			log_error("too many -o options (at most %d)", CLI_MAX_OPTIONS);
			exit(1);
		}
		cli_g.options[cli_g.n_options++] = arg;
		return 1;
	case 0x1001: cli_g.password_file = arg; return 1;
	case 0x1002: cli_g.password_command = arg; return 1;
	case 0x1003: cli_g.cache_dir = arg; return 1;
	case 0x1004: cli_g.json = 1; return 1;
	case 'q':
		cli_g.quiet = 1;
		log_set_level(LOG_QUIET);
		return 1;
	case 'v':
		cli_g.verbose++;
		log_set_level(cli_g.verbose > 1 ? LOG_DEBUG : LOG_VERBOSE);
		return 1;
	case 'h':
		fputs(help, stdout);
		fputs("\n" CLI_GLOBAL_HELP, stdout);
		exit(0);
	default: return 0;
	}
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s; see 'cairn %s --help'", msg, cmd);
	return 1;
}

/* Strips one trailing "\n" or "\r\n". */
static void chomp(struct buf *b)
{
	if (b->len && b->data[b->len - 1] == '\n')
		b->len--;
	if (b->len && b->data[b->len - 1] == '\r')
		b->len--;
}

/* Reads all of fd into b (bounded to 4 KiB: a password, not a file). */
static int read_small(int fd, struct buf *b)
{
	for (;;) {
		if (buf_reserve(b, 256) < 0)
			return CAIRN_ENOMEM;
		ssize_t r = read(fd, b->data + b->len, 256);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cairn_from_errno(errno);
		if (r == 0)
			return 0;
		b->len += (size_t)r;
		if (b->len > 4096)
			return CAIRN_EINVAL;
	}
}

static int password_from_file(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot read the password file %s: %s", path, strerror(errno));
		return CAIRN_EINVAL;
	}
	int e = read_small(fd, b);
	close(fd);
	if (e < 0)
		log_error("cannot read the password file %s: %s", path, cairn_strerror(e));
	chomp(b);
	return e;
}

/* Runs cmd through /bin/sh and reads its standard output. */
static int password_from_command(const char *cmd, struct buf *b)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return cairn_from_errno(errno);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return cairn_from_errno(errno);
	}
	if (pid == 0) {
		unsetenv("CAIRN_PASSWORD");	/* it asks for the password: don't hand one over */
		unsetenv("CAIRN_NEW_PASSWORD");
		unsetenv("CAIRN_FROM_PASSWORD");
		dup2(p[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	int e = read_small(p[0], b);
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_error("the password command failed (exit status %d); check --password-command",
			  WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		return CAIRN_EINVAL;
	}
	chomp(b);
	return e;
}

/* Prompts on the terminal without echo. */
static int password_prompt(const char *prompt, struct buf *b)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return CAIRN_EINVAL;
	struct termios old, quiet;
	int have_tc = tcgetattr(fd, &old) == 0;
	if (have_tc) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	ssize_t w = write(fd, prompt, strlen(prompt));
	(void)w;
	int e = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r <= 0 || c == '\n')
			break;
		buf_put_u8(b, (uint8_t)c);
		if (b->len > 4096) {
			e = CAIRN_EINVAL;
			break;
		}
	}
	if (have_tc)
		tcsetattr(fd, TCSAFLUSH, &old);
	w = write(fd, "\n", 1);
	close(fd);
	return e ? e : buf_ok(b);
}

int cli_password(int confirm, char **ret, size_t *ret_len)
{
	struct buf b = BUF_INIT;
	int e;
	const char *file = cli_g.password_file ? cli_g.password_file : getenv("CAIRN_PASSWORD_FILE");
	const char *cmd = cli_g.password_command ? cli_g.password_command
						 : getenv("CAIRN_PASSWORD_COMMAND");
	const char *env = getenv("CAIRN_PASSWORD");
	if (cli_g.password_command && cli_g.password_file) {
		log_error("give either --password-file or --password-command, not both");
		return CAIRN_EINVAL;
	}
	if (cli_g.password_command || (!cli_g.password_file && cmd && *cmd && !(file && *file))) {
		e = password_from_command(cmd, &b);
	} else if (file && *file) {
		e = password_from_file(file, &b);
	} else if (env) {
		buf_put(&b, env, strlen(env));
		e = buf_ok(&b);
	} else if (isatty(STDERR_FILENO) || isatty(STDIN_FILENO)) {
		e = password_prompt("enter password for repository: ", &b);
		if (e == 0 && confirm) {
			struct buf again = BUF_INIT;
			e = password_prompt("enter password again: ", &again);
			if (e == 0 && (again.len != b.len || memcmp(again.data, b.data, b.len) != 0)) {
				log_error("the passwords do not match");
				e = CAIRN_EINVAL;
			}
			buf_free_secret(&again);
		}
		if (e == CAIRN_EINVAL && b.len == 0)
			log_error("cannot read a password from the terminal");
	} else {
		log_error("no password given: set CAIRN_PASSWORD, CAIRN_PASSWORD_FILE, "
			  "--password-file or --password-command");
		return CAIRN_EINVAL;
	}
	if (e == 0 && b.len == 0) {
		log_error("the password is empty; give a non-empty password");
		e = CAIRN_EINVAL;
	}
	if (e < 0) {
		buf_free_secret(&b);
		return e;
	}
	buf_terminate(&b);
	*ret_len = b.len;
	*ret = (char *)buf_steal(&b, NULL);
	return 0;
}

int cli_new_password(const char *file, char **ret, size_t *ret_len)
{
	struct buf b = BUF_INIT;
	const char *env = getenv("CAIRN_NEW_PASSWORD");
	int e;
	if (file) {
		e = password_from_file(file, &b);
	} else if (env) {
		buf_put(&b, env, strlen(env));
		e = buf_ok(&b);
	} else if (isatty(STDIN_FILENO) || isatty(STDERR_FILENO)) {
		struct buf again = BUF_INIT;
		e = password_prompt("enter the new password: ", &b);
		if (e == 0)
			e = password_prompt("enter the new password again: ", &again);
		if (e == 0 && (again.len != b.len || memcmp(again.data, b.data, b.len) != 0)) {
			log_error("the passwords do not match");
			e = CAIRN_EINVAL;
		}
		buf_free_secret(&again);
	} else {
		log_error("no new password given: use --new-password-file or CAIRN_NEW_PASSWORD");
		return CAIRN_EINVAL;
	}
	if (e == 0 && b.len == 0) {
		log_error("the new password is empty; give a non-empty password");
		e = CAIRN_EINVAL;
	}
	if (e < 0) {
		buf_free_secret(&b);
		return e;
	}
	buf_terminate(&b);
	*ret_len = b.len;
	*ret = (char *)buf_steal(&b, NULL);
	return 0;
}

void cli_password_free(char *pw, size_t len)
{
	if (!pw)
		return;
	crypto_wipe(pw, len);
	free(pw);
}

int cli_open_repo(struct repo **ret)
{
	const char *loc = cli_g.repo ? cli_g.repo : getenv("CAIRN_REPO");
	if (!loc || !*loc) {
		log_error("no repository given: use -r LOCATION or set CAIRN_REPO");
		return CAIRN_EINVAL;
	}
	char *pw;
	size_t pwlen;
	int e = cli_password(0, &pw, &pwlen);
	if (e < 0)
		return e;
	struct repo_open_opts o = {
		.location = loc,
		.password = pw,
		.password_len = pwlen,
		.cache_dir = cli_g.cache_dir,
		.backend_options = cli_g.options,
	};
	e = repo_open(&o, ret);
	cli_password_free(pw, pwlen);
	return e;
}

int cli_open_from_repo(const char *location, const char *pwfile, const char *pwcmd,
		       struct repo **ret)
{
	struct buf b = BUF_INIT;
	const char *envfile = getenv("CAIRN_FROM_PASSWORD_FILE"), *env = getenv("CAIRN_FROM_PASSWORD");
	int e;
	if (!location || !*location) {
		log_error("give the source repository with --from-repo LOCATION");
		return CAIRN_EINVAL;
	}
	if (pwcmd)
		e = password_from_command(pwcmd, &b);
	else if (pwfile || (envfile && *envfile))
		e = password_from_file(pwfile ? pwfile : envfile, &b);
	else if (env) {
		buf_put(&b, env, strlen(env));
		e = buf_ok(&b);
	} else {
		log_error("no password for the source repository: set CAIRN_FROM_PASSWORD, "
			  "CAIRN_FROM_PASSWORD_FILE, --from-password-file or --from-password-command");
		return CAIRN_EINVAL;
	}
	if (e == 0) {
		struct repo_open_opts o = {
			.location = location,
			.password = (const char *)b.data,
			.password_len = b.len,
			.cache_dir = cli_g.cache_dir,
		};
		e = repo_open(&o, ret);
	}
	buf_free_secret(&b);
	return e;
}

int cli_open_repo_locked(int mode, struct repo **ret, struct repo_lock **ret_lock)
{
	struct repo *r;
	int e = cli_open_repo(&r);
	if (e < 0)
		return e;
	e = lock_acquire(r, mode == CLI_LOCK_EXCLUSIVE, ret_lock);
	if (e < 0) {
		repo_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

void cli_close_repo(struct repo *r, struct repo_lock *l)
{
	lock_release(l);
	repo_free(r);
}

int cli_parse_size(const char *s, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return CAIRN_EINVAL;
	uint64_t mul = 1;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': mul = 1ull << 10; break;
		case 'm': case 'M': mul = 1ull << 20; break;
		case 'g': case 'G': mul = 1ull << 30; break;
		default: return CAIRN_EINVAL;
		}
		end++;
		if (strcmp(end, "") != 0 && strcmp(end, "iB") != 0 && strcmp(end, "B") != 0)
			return CAIRN_EINVAL;
	}
	if (v > UINT64_MAX / mul)
		return CAIRN_EINVAL;
	*ret = v * mul;
	return 0;
}

int cli_write_stdout(const void *p, size_t n)
{
	const uint8_t *c = p;
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_error("cannot write to standard output: %s", strerror(errno));
			return cairn_from_errno(errno);
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

void cli_fmt_bytes(uint64_t n, char *out, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u < CAIRN_ARRAY_LEN(units) - 1) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%llu B", (unsigned long long)n);
	else
		snprintf(out, cap, "%.2f %s", v, units[u]);
}

int cli_exit(int err)
{
	return cairn_exit_code(err);
}

int cli_strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_filter_opt(struct snap_filter *f, const char **tags, const char **paths, int c,
		   const char *arg, const char *cmd)
{
	switch (c) {
	case 0x2001:
		f->host = arg;
		return 1;
	case 0x2002:
		if (f->n_tags == 32)
			return cli_usage_error(cmd, "too many --tag options"), -1;
		tags[f->n_tags++] = arg;
		f->tags = tags;
		return 1;
	case 0x2003:
		if (f->n_paths == 32)
			return cli_usage_error(cmd, "too many --path options"), -1;
		paths[f->n_paths++] = arg;
		f->paths = paths;
		return 1;
	default:
		return 0;
	}
}
