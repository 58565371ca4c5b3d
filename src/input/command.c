/*
 * command.c - a child command as an input stream (see command.h).
 * The exec error of a missing program is reported through a close-on-exec
 * pipe, so "not found" is told apart from the command's own failure.
 */
#include "cairn/common.h"
#include "cairn/command.h"
#include "cairn/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int input_command_start(char *const argv[], struct input_command *ret)
{
	int out[2], err[2];
	if (!argv[0]) {
		log_error("no command given after --stdin-from-command --");
		return CAIRN_EINVAL;
	}
	if (pipe2(out, O_CLOEXEC) < 0)
		return cairn_from_errno(errno);
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return cairn_from_errno(errno);
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		return cairn_from_errno(e);
	}
	if (pid == 0) {
		/* the command must not see the repository's secrets */
		unsetenv("CAIRN_PASSWORD");
		unsetenv("CAIRN_PASSWORD_FILE");
		unsetenv("CAIRN_PASSWORD_COMMAND");
		unsetenv("CAIRN_NEW_PASSWORD");
		unsetenv("CAIRN_FROM_PASSWORD");
		unsetenv("CAIRN_FROM_PASSWORD_FILE");
		signal(SIGPIPE, SIG_DFL);
		dup2(out[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		int e = errno;
		ssize_t w = write(err[1], &e, sizeof(e));
		(void)w;
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	int child_errno = 0;
	ssize_t r;
	while ((r = read(err[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	close(err[0]);
	if (r == (ssize_t)sizeof(child_errno)) {
		log_error("cannot run %s: %s", argv[0], strerror(child_errno));
		close(out[0]);
		waitpid(pid, NULL, 0);
		return CAIRN_ECHILD;
	}
	ret->pid = pid;
	ret->fd = out[0];
	ret->name = strdup(argv[0]);
	return 0;
}

int input_command_finish(struct input_command *c)
{
	int st = 0, e = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	while (waitpid(c->pid, &st, 0) < 0) {
		if (errno != EINTR) {
			e = CAIRN_ECHILD;
			break;
		}
	}
	if (!e && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		log_error("%s exited with status %d; no snapshot was made",
			  c->name ? c->name : "the command", WEXITSTATUS(st));
		e = CAIRN_ECHILD;
	} else if (!e && WIFSIGNALED(st)) {
		log_error("%s was killed by signal %d; no snapshot was made",
			  c->name ? c->name : "the command", WTERMSIG(st));
		e = CAIRN_ECHILD;
	}
	free(c->name);
	c->name = NULL;
	return e;
}
