/*
 * s3xml.h - the XML of S3 responses, parsed with expat.
 *
 * Three documents are read: a ListObjectsV2 page (ListBucketResult), an
 * error (Error: Code, Message) and the result of a multi-object delete
 * (DeleteResult). They come from the network, so the parser trusts
 * nothing (DESIGN.md inv. 7): a document type declaration (and with it
 * every entity but the five predefined ones) is refused, nesting is
 * bounded, keys and tokens have bounded lengths, sizes must be decimal
 * numbers that fit in 64 bits. Element names are matched by their local
 * name whatever their namespace, as S3-compatible servers differ there.
 *
 * Every parse function returns 0, CAIRN_ECORRUPT for a malformed or
 * unexpected document, or CAIRN_ENOMEM. Nothing is logged: the caller
 * names the object and the request.
 */
#ifndef CAIRN_S3XML_H
#define CAIRN_S3XML_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define S3XML_KEY_MAX 1024	/* S3's own limit on key length, in bytes */
#define S3XML_TOKEN_MAX 4096	/* continuation tokens */
#define S3XML_PAGE_MAX 10000	/* objects per list page (S3 sends <= 1000) */

struct s3xml_object {
	char *key;	/* full key, NUL-terminated, valid UTF-8 */
	uint64_t size;
};

/* One page of ListObjectsV2. */
struct s3xml_list {
	struct s3xml_object *objects;
	size_t n;
	int truncated;		/* IsTruncated was "true" */
	char *next_token;	/* NextContinuationToken, or NULL */
};

/* Parses a ListBucketResult. When truncated, next_token is set (a
 * truncated page without a token is CAIRN_ECORRUPT). Free *ret with
 * s3xml_list_free, also after an error. */
int s3xml_list_parse(const void *xml, size_t len, struct s3xml_list *ret);
void s3xml_list_free(struct s3xml_list *l);

/* An S3 error document; fields are truncated to fit, always NUL-terminated. */
struct s3xml_error {
	char code[64];		/* e.g. "NoSuchKey", "SignatureDoesNotMatch" */
	char message[256];
};

/* Parses an Error document (root element Error). */
int s3xml_error_parse(const void *xml, size_t len, struct s3xml_error *ret);

/* The result of a multi-object delete. */
struct s3xml_delete {
	size_t deleted;		/* Deleted elements (absent in quiet mode) */
	size_t errors;		/* Error elements */
	char first_key[S3XML_KEY_MAX + 1];	/* of the first Error */
	char first_code[64];
	char first_message[256];
};

/* Parses a DeleteResult. */
int s3xml_delete_parse(const void *xml, size_t len, struct s3xml_delete *ret);

/* Appends s to b with &, <, >, ", ' and CR escaped (for request bodies). */
void s3xml_escape(struct buf *b, const char *s);

#endif
