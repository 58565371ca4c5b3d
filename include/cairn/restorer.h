/*
 * restorer.h - reading files back out of snapshots.
 */
#ifndef CAIRN_RESTORER_H
#define CAIRN_RESTORER_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/tree.h"

struct repo;

/* Loads a tree blob. */
int restorer_load_tree(struct repo *r, const uint8_t id[32], struct tree *ret);

/* Finds the node at path ("a/b/c", leading '/' optional) below the root
 * tree. The node is copied into ret (node_clear it). CAIRN_ENOTFOUND is
 * logged naming the path. */
int restorer_find(struct repo *r, const uint8_t root[32], const char *path, struct node *ret);

/* Writes a file node's content to fd, loading blobs with `threads`
 * workers (0: number of CPUs) ahead of the writer. Every blob is checked
 * against its id; a damaged blob stops the dump with CAIRN_ECORRUPT, and
 * no wrong byte is written. */
int restorer_dump(struct repo *r, const struct node *file, int fd, unsigned threads);

#endif
