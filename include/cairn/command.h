/*
 * command.h - running a command whose standard output is backed up
 * (backup --stdin-from-command). Its standard error passes through.
 */
#ifndef CAIRN_COMMAND_H
#define CAIRN_COMMAND_H

#include <sys/types.h>

struct input_command {
	pid_t pid;
	int fd;		/* read end of its standard output */
	char *name;	/* argv[0], for messages */
};

/* Starts argv[0] with argv (searched in PATH). Returns 0 or CAIRN_ECHILD. */
int input_command_start(char *const argv[], struct input_command *ret);

/* Closes the pipe and waits. Returns 0 when the command exited 0, else
 * CAIRN_ECHILD with its exit status (or signal) in the logged message. */
int input_command_finish(struct input_command *c);

#endif
