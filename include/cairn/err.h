/*
 * err.h - cairn's error codes.
 *
 * Every function that can fail returns int: 0 on success, a negative
 * CAIRN_E* code on failure. The error is logged once where it is detected
 * (log.h); callers pass the code up. The CLI maps codes to exit codes with
 * cairn_exit_code().
 */
#ifndef CAIRN_ERR_H
#define CAIRN_ERR_H

enum cairn_err {
	CAIRN_OK = 0,
	CAIRN_EIO = -1000,	/* reading or writing storage failed */
	CAIRN_ENOMEM,		/* out of memory */
	CAIRN_EINVAL,		/* bad argument or option */
	CAIRN_ECORRUPT,		/* malformed or tampered data */
	CAIRN_ENOTFOUND,	/* object, snapshot or path does not exist */
	CAIRN_EEXIST,		/* object already exists */
	CAIRN_ENOREPO,		/* no repository at that location (exit 10) */
	CAIRN_ELOCKED,		/* could not get the lock (exit 11) */
	CAIRN_EPASSWORD,	/* no key opens with that password (exit 12) */
	CAIRN_EAMBIGUOUS,	/* id prefix matches several objects */
	CAIRN_ECHILD,		/* a child command failed */
	CAIRN_ENOSPC,		/* storage is full */
	CAIRN_EINTR,		/* interrupted by a signal */
	CAIRN_EUNSUPPORTED,	/* format version or feature not supported */
	CAIRN_EINCOMPLETE,	/* snapshot written, some sources unreadable (exit 3) */
};

/* Returns a static, human-readable description of a CAIRN_E* code. */
const char *cairn_strerror(int err);

/* Maps a CAIRN_E* code (or 0) to the documented process exit code:
 * 0 success, 1 error, 3 incomplete, 10 no repository, 11 locked,
 * 12 wrong password. */
int cairn_exit_code(int err);

/* Converts an errno value to the closest CAIRN_E* code. */
int cairn_from_errno(int e);

#endif
