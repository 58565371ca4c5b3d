/*
 * err.c - error code names and exit-code mapping.
 */
#include "cairn/common.h"

#include <errno.h>

const char *cairn_strerror(int err)
{
	switch (err) {
	case CAIRN_OK: return "success";
	case CAIRN_EIO: return "input/output error";
	case CAIRN_ENOMEM: return "out of memory";
	case CAIRN_EINVAL: return "invalid argument";
	case CAIRN_ECORRUPT: return "data is corrupt or was tampered with";
	case CAIRN_ENOTFOUND: return "not found";
	case CAIRN_EEXIST: return "already exists";
	case CAIRN_ENOREPO: return "no repository at that location";
	case CAIRN_ELOCKED: return "repository is locked";
	case CAIRN_EPASSWORD: return "wrong password";
	case CAIRN_EAMBIGUOUS: return "ambiguous id prefix";
	case CAIRN_ECHILD: return "child command failed";
	case CAIRN_ENOSPC: return "no space left on device";
	case CAIRN_EINTR: return "interrupted";
	case CAIRN_EUNSUPPORTED: return "not supported";
	case CAIRN_EINCOMPLETE: return "snapshot is incomplete";
	default: return "unknown error";
	}
}

int cairn_exit_code(int err)
{
	switch (err) {
	case CAIRN_OK: return 0;
	case CAIRN_EINCOMPLETE: return 3;
	case CAIRN_ENOREPO: return 10;
	case CAIRN_ELOCKED: return 11;
	case CAIRN_EPASSWORD: return 12;
	case CAIRN_EINTR: return 130;
	default: return 1;
	}
}

int cairn_from_errno(int e)
{
	switch (e) {
	case 0: return CAIRN_OK;
	case ENOMEM: return CAIRN_ENOMEM;
	case ENOENT: case ENOTDIR: return CAIRN_ENOTFOUND;
	case EEXIST: return CAIRN_EEXIST;
	case EINVAL: return CAIRN_EINVAL;
	case ENOSPC: case EDQUOT: return CAIRN_ENOSPC;
	case EINTR: return CAIRN_EINTR;
	default: return CAIRN_EIO;
	}
}
