/*
 * key.c - `cairn key list|add|remove|passwd`: several passwords, one repository.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/json.h"
#include "cairn/keyfile.h"
#include "cairn/lock.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/timeparse.h"

static const char help[] =
	"usage: cairn key list\n"
	"       cairn key add [--new-password-file FILE]\n"
	"       cairn key remove ID\n"
	"       cairn key passwd [--new-password-file FILE]\n"
	"\n"
	"Manage the passwords that open the repository. Each key file seals the\n"
	"same master keys under another password. The last key, and the key in\n"
	"use, cannot be removed; 'passwd' adds a key and removes the one in use.\n"
	"\n"
	"Options:\n"
	"      --new-password-file FILE  read the new password from FILE (or set\n"
	"                             CAIRN_NEW_PASSWORD; else it is asked for)\n";

struct key_entry {
	char name[96];
	struct keyfile_info info;
	int ok;
};

struct key_listing {
	struct repo *r;
	struct key_entry *v;
	size_t n, cap;
};

static int list_cb(void *arg, const char *name, uint64_t size)
{
	struct key_listing *kl = arg;
	if (size > 65536 || strlen(name) != 5 + 64)
		return 0;
	if (kl->n == kl->cap) {
		size_t cap = kl->cap ? kl->cap * 2 : 8;
		struct key_entry *v = realloc(kl->v, cap * sizeof(*v));
		if (!v)
			return CAIRN_ENOMEM;
		kl->v = v;
		kl->cap = cap;
	}
	struct key_entry *k = &kl->v[kl->n++];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	struct buf b = BUF_INIT;
	if (backend_get(repo_backend(kl->r), name, 0, 0, &b) == 0 &&
	    keyfile_parse(b.data, b.len, &k->info) == 0)
		k->ok = 1;
	buf_free(&b);
	return 0;
}

int cmd_key(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "new-password-file", required_argument, NULL, 1 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *newfile = NULL;
	int c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		if (c == 1)
			newfile = optarg;
		else
			return cli_usage_error("key", "unknown option");
	}
	if (optind >= argc)
		return cli_usage_error("key", "give list, add, remove ID or passwd");
	const char *sub = argv[optind];
	int is_list = !strcmp(sub, "list"), is_add = !strcmp(sub, "add"),
	    is_rm = !strcmp(sub, "remove"), is_pw = !strcmp(sub, "passwd");
	if (!is_list && !is_add && !is_rm && !is_pw)
		return cli_usage_error("key", "unknown subcommand '%s'", sub);
	if (argc - optind != (is_rm ? 2 : 1))
		return cli_usage_error("key", is_rm ? "give the ID of the key to remove"
						    : "unexpected argument");
	char *newpw = NULL;
	size_t newlen = 0;
	int e;
	if ((is_add || is_pw) && (e = cli_new_password(newfile, &newpw, &newlen)) < 0)
		return cli_exit(e);
	struct repo *r;
	struct repo_lock *lk = NULL;
	e = is_list ? cli_open_repo(&r) : cli_open_repo_locked(CLI_LOCK_EXCLUSIVE, &r, &lk);
	if (e < 0) {
		cli_password_free(newpw, newlen);
		return cli_exit(e);
	}
	struct key_listing kl = { .r = r };
	e = backend_list(repo_backend(r), "keys/", list_cb, &kl);
	if (e < 0)
		goto out;
	if (is_list) {
		struct buf b = BUF_INIT;
		struct json j;
		json_init(&j, &b);
		if (cli_g.json)
			json_arr_begin(&j);
		else
			buf_printf(&b, " %-8s  %s\n", "ID", "Created");
		for (size_t i = 0; i < kl.n; i++) {
			struct key_entry *k = &kl.v[i];
			int cur = !strcmp(k->name, repo_key_name(r));
			char t[48] = "?";
			if (k->ok)
				time_format_short(k->info.created * 1000000000,
						  time_local_offset(k->info.created * 1000000000), t,
						  sizeof(t));
			if (cli_g.json) {
				json_obj_begin(&j);
				json_key(&j, "id");
				json_str(&j, k->name + 5);
				json_key(&j, "current");
				json_bool(&j, cur);
				json_key(&j, "created");
				json_str(&j, t);
				json_obj_end(&j);
			} else {
				buf_printf(&b, "%c%.8s  %s%s\n", cur ? '*' : ' ', k->name + 5, t,
					   k->ok ? "" : " (malformed)");
			}
		}
		if (cli_g.json) {
			json_arr_end(&j);
			buf_put_u8(&b, '\n');
		}
		e = buf_ok(&b);
		if (e == 0)
			e = cli_write_stdout(b.data, b.len);
		buf_free(&b);
	} else if (is_add || is_pw) {
		char name[96];
		e = repo_key_add(r, newpw, newlen, name, sizeof(name));
		if (e == 0 && is_pw) {
			e = backend_del(repo_backend(r), repo_key_name(r));
			if (e == 0 && !cli_g.quiet)
				printf("password changed: key %.8s replaces %.8s\n", name + 5,
				       repo_key_name(r) + 5);
		} else if (e == 0 && !cli_g.quiet) {
			printf("added key %.8s\n", name + 5);
		}
	} else {
		const char *want = argv[optind + 1];
		size_t wl = strlen(want), found = 0, idx = 0;
		for (size_t i = 0; i < kl.n; i++)
			if (wl && !strncmp(kl.v[i].name + 5, want, wl)) {
				found++;
				idx = i;
			}
		if (found != 1) {
			log_error(found ? "key id prefix %s is ambiguous; give more digits"
					: "no key %s; list them with 'cairn key list'",
				  want);
			e = found ? CAIRN_EAMBIGUOUS : CAIRN_ENOTFOUND;
		} else if (kl.n == 1) {
			log_error("refusing to remove the last key: the repository could not be "
				  "opened any more");
			e = CAIRN_EINVAL;
		} else if (!strcmp(kl.v[idx].name, repo_key_name(r))) {
			log_error("refusing to remove the key in use; open the repository with "
				  "another password to remove it, or use 'cairn key passwd'");
			e = CAIRN_EINVAL;
		} else {
			e = backend_del(repo_backend(r), kl.v[idx].name);
			if (e == 0 && !cli_g.quiet)
				printf("removed key %.8s\n", kl.v[idx].name + 5);
		}
	}
out:
	free(kl.v);
	cli_password_free(newpw, newlen);
	cli_close_repo(r, lk);
	return cli_exit(e);
}
