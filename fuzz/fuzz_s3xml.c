/*
 * fuzz_s3xml.c - libFuzzer target for the S3 response parser (s3xml.h).
 *
 * The same bytes go to the three parsers (list page, error, delete
 * result). What a list parse accepts must keep its promises (keys
 * non-empty and bounded, a token when truncated), and must survive a
 * round trip: the keys escaped with s3xml_escape into a new list page
 * parse back to the same keys and sizes.
 */
#include "cairn/common.h"
#include "cairn/buf.h"
#include "cairn/s3xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rebuilds a page from l and checks that it parses to the same objects. */
static void round_trip(const struct s3xml_list *l)
{
	struct buf b = BUF_INIT;
	struct s3xml_list again;
	buf_printf(&b, "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated>");
	for (size_t i = 0; i < l->n; i++) {
		buf_printf(&b, "<Contents><Key>");
		s3xml_escape(&b, l->objects[i].key);
		buf_printf(&b, "</Key><Size>%llu</Size></Contents>",
			   (unsigned long long)l->objects[i].size);
	}
	buf_printf(&b, "</ListBucketResult>");
	if (buf_ok(&b) != 0)
		abort();
	if (s3xml_list_parse(b.data, b.len, &again) != 0 || again.n != l->n)
		abort();
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(again.objects[i].key, l->objects[i].key) != 0 ||
		    again.objects[i].size != l->objects[i].size)
			abort();
	s3xml_list_free(&again);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3xml_list l;
	int e = s3xml_list_parse(data, size, &l);
	if (e == 0) {
		if (l.n > S3XML_PAGE_MAX || (l.truncated && !l.next_token))
			abort();
		for (size_t i = 0; i < l.n; i++) {
			size_t n = strlen(l.objects[i].key);
			if (n == 0 || n > S3XML_KEY_MAX)
				abort();
		}
		if (l.next_token && (!*l.next_token || strlen(l.next_token) > S3XML_TOKEN_MAX))
			abort();
		round_trip(&l);
	} else if (e != CAIRN_ECORRUPT && e != CAIRN_ENOMEM) {
		abort();
	}
	s3xml_list_free(&l);

	struct s3xml_error er;
	e = s3xml_error_parse(data, size, &er);
	if (e == 0 && (strnlen(er.code, sizeof(er.code)) == sizeof(er.code) ||
		       strnlen(er.message, sizeof(er.message)) == sizeof(er.message)))
		abort();
	if (e != 0 && e != CAIRN_ECORRUPT && e != CAIRN_ENOMEM)
		abort();

	struct s3xml_delete d;
	e = s3xml_delete_parse(data, size, &d);
	if (e != 0 && e != CAIRN_ECORRUPT && e != CAIRN_ENOMEM)
		abort();
	if (e == 0 && d.errors == 0 && (d.first_key[0] || d.first_code[0]))
		abort();
	return 0;
}
