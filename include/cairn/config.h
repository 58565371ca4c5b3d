/*
 * config.h - the repository's `config` object.
 *
 * Plain text, not secret, one "key=value" per line after the first line
 * "cairn-repository": version, id (64 hex digits), created (Unix seconds),
 * chunker_min/avg/max (bytes), compression (zstd level, 0 = off),
 * pack_size (bytes). The chunker's secret seed lives in the key files.
 * Unknown keys are ignored; missing required keys are an error.
 */
#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/chunker.h"

#define REPO_FORMAT_VERSION 1

struct repo_config {
	uint32_t version;
	uint8_t id[32];
	int64_t created;
	struct chunker_params chunker;
	int compression;
	uint64_t pack_size;
};

int config_encode(const struct repo_config *c, struct buf *out);
/* CAIRN_ECORRUPT when malformed, CAIRN_EUNSUPPORTED for a newer version. */
int config_decode(const void *data, size_t len, struct repo_config *ret);

#endif
