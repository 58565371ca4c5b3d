/*
 * s3xml.c - the XML of S3 responses (see s3xml.h), with expat.
 *
 * One small state machine serves the three documents: a stack of known
 * element tags (bounded depth), and a capture buffer that collects the
 * text of the one leaf element being read when that leaf matters.
 */
#include "cairn/common.h"
#include "cairn/s3xml.h"
#include "cairn/buf.h"

#include <expat.h>
#include <limits.h>

#define MAX_DEPTH 16

enum tag {
	T_OTHER,
	T_LIST_RESULT,	/* ListBucketResult */
	T_CONTENTS,
	T_KEY,
	T_SIZE,
	T_TRUNCATED,	/* IsTruncated */
	T_NEXT_TOKEN,	/* NextContinuationToken */
	T_ERROR,
	T_CODE,
	T_MESSAGE,
	T_DELETE_RESULT,
	T_DELETED,
};

static const struct {
	const char *name;
	enum tag tag;
} tag_names[] = {
	{ "ListBucketResult", T_LIST_RESULT },
	{ "Contents", T_CONTENTS },
	{ "Key", T_KEY },
	{ "Size", T_SIZE },
	{ "IsTruncated", T_TRUNCATED },
	{ "NextContinuationToken", T_NEXT_TOKEN },
	{ "Error", T_ERROR },
	{ "Code", T_CODE },
	{ "Message", T_MESSAGE },
	{ "DeleteResult", T_DELETE_RESULT },
	{ "Deleted", T_DELETED },
};

enum doc { DOC_LIST, DOC_ERROR, DOC_DELETE };

struct px {
	XML_Parser p;
	enum doc doc;
	int err;
	unsigned depth;
	enum tag stack[MAX_DEPTH];

	/* capture of the current leaf's text */
	int capturing;
	unsigned cap_depth;	/* depth of the leaf being captured */
	size_t cap_limit;	/* bytes kept */
	int cap_truncate;	/* 1: drop what is over the limit; 0: an error */
	size_t text_len;
	char text[S3XML_TOKEN_MAX + 1];

	/* DOC_LIST */
	struct s3xml_list *list;
	size_t list_cap;
	char *cur_key;
	uint64_t cur_size;
	int have_size;
	int seen_truncated;

	/* DOC_ERROR */
	struct s3xml_error *error;
	int seen_code;

	/* DOC_DELETE */
	struct s3xml_delete *del;
};

/* Strips the namespace ("uri|Local" -> "Local") and maps the name to a tag. */
static enum tag tag_of(const XML_Char *name)
{
	const char *local = strrchr(name, '|');
	local = local ? local + 1 : name;
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(tag_names); i++)
		if (strcmp(local, tag_names[i].name) == 0)
			return tag_names[i].tag;
	return T_OTHER;
}

/* Records the first error and stops the parser. */
static void px_fail(struct px *x, int e)
{
	if (!x->err)
		x->err = e;
	XML_StopParser(x->p, XML_FALSE);
}

/* Copies the captured text into a fixed field, truncating it. */
static void copy_field(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = CAIRN_MIN(len, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* Parses a decimal size that must fit in 64 bits. */
static int parse_u64(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return CAIRN_ECORRUPT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return CAIRN_ECORRUPT;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return CAIRN_ECORRUPT;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* Which leaves matter, given the element and its parent; sets the limits. */
static int want_text(struct px *x, enum tag t, enum tag parent)
{
	x->cap_truncate = 0;
	switch (x->doc) {
	case DOC_LIST:
		if (parent == T_CONTENTS && t == T_KEY) {
			x->cap_limit = S3XML_KEY_MAX;
			return 1;
		}
		if (parent == T_CONTENTS && t == T_SIZE) {
			x->cap_limit = 20;
			return 1;
		}
		if (parent == T_LIST_RESULT && t == T_TRUNCATED) {
			x->cap_limit = 8;
			return 1;
		}
		if (parent == T_LIST_RESULT && t == T_NEXT_TOKEN) {
			x->cap_limit = S3XML_TOKEN_MAX;
			return 1;
		}
		return 0;
	case DOC_ERROR:
		if (parent == T_ERROR && (t == T_CODE || t == T_MESSAGE)) {
			x->cap_limit = t == T_CODE ? sizeof(x->error->code) - 1
						   : sizeof(x->error->message) - 1;
			x->cap_truncate = 1;
			return 1;
		}
		return 0;
	case DOC_DELETE:
		if (parent == T_ERROR && (t == T_KEY || t == T_CODE || t == T_MESSAGE)) {
			x->cap_limit = S3XML_KEY_MAX;
			x->cap_truncate = 1;
			return 1;
		}
		return 0;
	}
	return 0;
}

static void XMLCALL on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct px *x = arg;
	(void)attrs;
	if (x->err)
		return;
	if (x->depth >= MAX_DEPTH || x->capturing) {
		/* too deep, or markup inside a text leaf we read */
		px_fail(x, CAIRN_ECORRUPT);
		return;
	}
	enum tag t = tag_of(name);
	enum tag parent = x->depth ? x->stack[x->depth - 1] : T_OTHER;
	if (x->depth == 0) {
		enum tag root = x->doc == DOC_LIST    ? T_LIST_RESULT
				: x->doc == DOC_ERROR ? T_ERROR
						      : T_DELETE_RESULT;
		if (t != root) {
			px_fail(x, CAIRN_ECORRUPT);
			return;
		}
	}
	x->stack[x->depth++] = t;
	if (x->doc == DOC_LIST && parent == T_LIST_RESULT && t == T_CONTENTS) {
		free(x->cur_key);
		x->cur_key = NULL;
		x->have_size = 0;
	}
	if (x->depth > 1 && want_text(x, t, parent)) {
		x->capturing = 1;
		x->cap_depth = x->depth;
		x->text_len = 0;
	}
}

static void XMLCALL on_text(void *arg, const XML_Char *s, int len)
{
	struct px *x = arg;
	if (x->err || !x->capturing || len <= 0)
		return;
	size_t n = (size_t)len;
	if (x->text_len + n > x->cap_limit) {
		if (!x->cap_truncate) {
			px_fail(x, CAIRN_ECORRUPT);
			return;
		}
		n = x->cap_limit - x->text_len;
	}
	memcpy(x->text + x->text_len, s, n);
	x->text_len += n;
}

/* A Contents element ended: it must have had a key and a size. */
static void end_contents(struct px *x)
{
	struct s3xml_list *l = x->list;
	if (!x->cur_key || !x->have_size) {
		px_fail(x, CAIRN_ECORRUPT);
		return;
	}
	if (l->n == S3XML_PAGE_MAX) {
		px_fail(x, CAIRN_ECORRUPT);
		return;
	}
	if (l->n == x->list_cap) {
		size_t cap = x->list_cap ? x->list_cap * 2 : 64;
		void *p = realloc(l->objects, cap * sizeof(*l->objects));
		if (!p) {
			px_fail(x, CAIRN_ENOMEM);
			return;
		}
		l->objects = p;
		x->list_cap = cap;
	}
	l->objects[l->n].key = x->cur_key;
	l->objects[l->n].size = x->cur_size;
	l->n++;
	x->cur_key = NULL;
}

/* The captured leaf t (child of parent) ended: store its text. */
static void end_leaf(struct px *x, enum tag t, enum tag parent)
{
	const char *s = x->text;
	size_t n = x->text_len;
	x->text[n] = 0;
	switch (x->doc) {
	case DOC_LIST:
		if (t == T_KEY) {
			if (n == 0 || x->cur_key) {
				px_fail(x, CAIRN_ECORRUPT);
				return;
			}
			x->cur_key = strndup(s, n);
			if (!x->cur_key)
				px_fail(x, CAIRN_ENOMEM);
		} else if (t == T_SIZE) {
			if (x->have_size || parse_u64(s, n, &x->cur_size) < 0) {
				px_fail(x, CAIRN_ECORRUPT);
				return;
			}
			x->have_size = 1;
		} else if (t == T_TRUNCATED) {
			if (n == 4 && memcmp(s, "true", 4) == 0)
				x->list->truncated = 1;
			else if (n == 5 && memcmp(s, "false", 5) == 0)
				x->list->truncated = 0;
			else {
				px_fail(x, CAIRN_ECORRUPT);
				return;
			}
			x->seen_truncated = 1;
		} else if (t == T_NEXT_TOKEN) {
			if (n == 0 || x->list->next_token) {
				px_fail(x, CAIRN_ECORRUPT);
				return;
			}
			x->list->next_token = strndup(s, n);
			if (!x->list->next_token)
				px_fail(x, CAIRN_ENOMEM);
		}
		break;
	case DOC_ERROR:
		if (t == T_CODE) {
			copy_field(x->error->code, sizeof(x->error->code), s, n);
			x->seen_code = 1;
		} else {
			copy_field(x->error->message, sizeof(x->error->message), s, n);
		}
		break;
	case DOC_DELETE:
		if (x->del->errors != 1)
			break;	/* only the first error is kept */
		if (t == T_KEY)
			copy_field(x->del->first_key, sizeof(x->del->first_key), s, n);
		else if (t == T_CODE)
			copy_field(x->del->first_code, sizeof(x->del->first_code), s, n);
		else
			copy_field(x->del->first_message, sizeof(x->del->first_message), s, n);
		break;
	}
	(void)parent;
}

static void XMLCALL on_end(void *arg, const XML_Char *name)
{
	struct px *x = arg;
	(void)name;
	if (x->err || x->depth == 0)
		return;
	enum tag t = x->stack[x->depth - 1];
	enum tag parent = x->depth > 1 ? x->stack[x->depth - 2] : T_OTHER;
	if (x->capturing && x->cap_depth == x->depth) {
		x->capturing = 0;
		end_leaf(x, t, parent);
	} else if (x->doc == DOC_LIST && t == T_CONTENTS && parent == T_LIST_RESULT) {
		end_contents(x);
	} else if (x->doc == DOC_DELETE && parent == T_DELETE_RESULT) {
		if (t == T_DELETED)
			x->del->deleted++;
	}
	x->depth--;
}

/* Counts Error elements of a DeleteResult as they start, so that their
 * children know whether they belong to the first one. */
static void XMLCALL on_start_delete(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct px *x = arg;
	if (!x->err && x->depth == 1 && tag_of(name) == T_ERROR)
		x->del->errors++;
	on_start(arg, name, attrs);
}

/* A document type declaration could define entities: refuse it. */
static void XMLCALL on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	px_fail(arg, CAIRN_ECORRUPT);
}

static void XMLCALL on_entity(void *arg, const XML_Char *name, int is_param,
			      const XML_Char *value, int value_len, const XML_Char *base,
			      const XML_Char *sysid, const XML_Char *pubid,
			      const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	px_fail(arg, CAIRN_ECORRUPT);
}

/* Runs expat over the whole document with the handlers of x->doc. */
static int px_run(struct px *x, const void *xml, size_t len)
{
	if (len > INT_MAX)
		return CAIRN_ECORRUPT;
	x->p = XML_ParserCreateNS(NULL, '|');
	if (!x->p)
		return CAIRN_ENOMEM;
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, x->doc == DOC_DELETE ? on_start_delete : on_start, on_end);
	XML_SetCharacterDataHandler(x->p, on_text);
	XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
	XML_SetEntityDeclHandler(x->p, on_entity);
	enum XML_Status st = XML_Parse(x->p, xml, (int)len, XML_TRUE);
	int e = x->err;
	if (!e && st != XML_STATUS_OK)
		e = XML_GetErrorCode(x->p) == XML_ERROR_NO_MEMORY ? CAIRN_ENOMEM : CAIRN_ECORRUPT;
	XML_ParserFree(x->p);
	x->p = NULL;
	return e;
}

int s3xml_list_parse(const void *xml, size_t len, struct s3xml_list *ret)
{
	memset(ret, 0, sizeof(*ret));
	struct px *x = calloc(1, sizeof(*x));
	if (!x)
		return CAIRN_ENOMEM;
	x->doc = DOC_LIST;
	x->list = ret;
	int e = px_run(x, xml, len);
	if (e == 0 && (!x->seen_truncated || (ret->truncated && !ret->next_token)))
		e = CAIRN_ECORRUPT;
	free(x->cur_key);
	free(x);
	return e;
}

void s3xml_list_free(struct s3xml_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->objects[i].key);
	free(l->objects);
	free(l->next_token);
	memset(l, 0, sizeof(*l));
}

int s3xml_error_parse(const void *xml, size_t len, struct s3xml_error *ret)
{
	memset(ret, 0, sizeof(*ret));
	struct px *x = calloc(1, sizeof(*x));
	if (!x)
		return CAIRN_ENOMEM;
	x->doc = DOC_ERROR;
	x->error = ret;
	int e = px_run(x, xml, len);
	if (e == 0 && !x->seen_code)
		e = CAIRN_ECORRUPT;
	free(x);
	return e;
}

int s3xml_delete_parse(const void *xml, size_t len, struct s3xml_delete *ret)
{
	memset(ret, 0, sizeof(*ret));
	struct px *x = calloc(1, sizeof(*x));
	if (!x)
		return CAIRN_ENOMEM;
	x->doc = DOC_DELETE;
	x->del = ret;
	int e = px_run(x, xml, len);
	free(x);
	return e;
}

void s3xml_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_put(b, "&amp;", 5); break;
		case '<': buf_put(b, "&lt;", 4); break;
		case '>': buf_put(b, "&gt;", 4); break;
		case '"': buf_put(b, "&quot;", 6); break;
		case '\'': buf_put(b, "&apos;", 6); break;
		case '\r': buf_put(b, "&#13;", 5); break;	/* a parser turns a raw CR into LF */
		default: buf_put_u8(b, (uint8_t)*s);
		}
	}
}
