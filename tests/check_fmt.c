/*
 * Unit tests of fmt.c, the replies of pgemuctl -f text|keyvalue:
 *
 *   table      a list of objects: a header of the keys in capitals, in the
 *              order they first appear (a key only later rows have comes
 *              last), one row each, every cell starting under its
 *              header; nested objects as a.b columns, lists of plain
 *              values joined with commas, nothing as "-"
 *   subtable   a list of objects in the rows: a table of its own after
 *              the first, each row led by its row's first column (named
 *              parent.KEY when the list's objects have that key too)
 *   text       an object as "key: value" lines; its lists of objects as
 *              indented tables; an empty list as "(none)"
 *   keyvalue   a line per leaf, the path of keys and indexes; strings
 *              escaped so that each stays on one line; empty lists and
 *              objects as nothing after "=", nothing at all at the top
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_run.h"
#include "pgemu.h"

/* What f printed for the JSON text j. */
static char *
out_of(void (*f)(FILE *, json_t *), const char *j)
{
	json_error_t	 err;
	json_t		*v = json_loads(j, JSON_DECODE_ANY, &err);
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*fp;

	ck_assert_msg(v != NULL, "bad JSON %s: %s", j, err.text);
	fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	f(fp, v);
	fclose(fp);
	json_decref(v);
	return buf;
}

static void
text(FILE *fp, json_t *v)
{
	fmt_text(fp, NULL, v, 0);
}

static void
kv(FILE *fp, json_t *v)
{
	fmt_keyvalue(fp, NULL, v);
}

START_TEST(test_table)
{
	char *s = out_of(text,
	    "[{\"id\": 1, \"state\": \"available\", \"pim\": {\"epoch\": 2},"
	    " \"sg\": [100, 200], \"why\": \"\", \"t\": 0.5},"
	    " {\"id\": 1002, \"state\": \"talking\", \"pim\": {\"epoch\": 13},"
	    " \"sg\": [], \"why\": null, \"t\": 12.25, \"late\": true}]");

	ck_assert_str_eq(s,
	    "ID    STATE      PIM.EPOCH  SG       WHY  T      LATE\n"
	    "1     available  2          100,200  -    0.5    -\n"
	    "1002  talking    13         -        -    12.25  true\n");
	free(s);
}
END_TEST

START_TEST(test_subtable)
{
	char *s = out_of(text,
	    "[{\"id\": 5000, \"online\": true, \"sides\": ["
	    "{\"side\": \"A\", \"epoch\": 1}, {\"side\": \"B\", \"epoch\": 0}]},"
	    " {\"id\": 6000, \"online\": false, \"sides\": ["
	    "{\"side\": \"A\", \"id\": 7}]}]");

	ck_assert_str_eq(s,
	    "ID    ONLINE\n"
	    "5000  true\n"
	    "6000  false\n"
	    "\n"
	    "sides:\n"
	    "PARENT.ID  SIDE  EPOCH  ID\n"
	    "5000       A     1      -\n"
	    "5000       B     0      -\n"
	    "6000       A     -      7\n");
	free(s);
}
END_TEST

START_TEST(test_text)
{
	char *s = out_of(text,
	    "{\"node\": \"router\", \"hooks\": {\"run\": 1}, \"links\": ["
	    "{\"name\": \"pg-a\", \"state\": \"UP\"}], \"sg\": [1, 2],"
	    " \"none\": []}");

	ck_assert_str_eq(s,
	    "node: router\n"
	    "hooks:\n"
	    "  run: 1\n"
	    "links: (1)\n"
	    "  NAME  STATE\n"
	    "  pg-a  UP\n"
	    "sg: 1,2\n"
	    "none: -\n");
	free(s);
	s = out_of(text, "[]");
	ck_assert_str_eq(s, "(none)\n");
	free(s);
}
END_TEST

START_TEST(test_keyvalue)
{
	char *s = out_of(kv,
	    "[{\"id\": 1, \"msg\": \"a=b\\nc\\\\d\", \"p\": {\"on\": true,"
	    " \"x\": null, \"r\": 0.25}, \"sg\": [100], \"e\": [], \"o\": {}}]");

	ck_assert_str_eq(s,
	    "0.id=1\n"
	    "0.msg=a=b\\nc\\\\d\n"
	    "0.p.on=true\n"
	    "0.p.x=null\n"
	    "0.p.r=0.25\n"
	    "0.sg.0=100\n"
	    "0.e=\n"
	    "0.o=\n");
	free(s);
	s = out_of(kv, "[]");
	ck_assert_str_eq(s, "");
	free(s);
	s = out_of(kv, "\"up\"");
	ck_assert_str_eq(s, "value=up\n");
	free(s);
}
END_TEST

START_TEST(test_parse)
{
	ck_assert_int_eq(fmt_parse("text"), FMT_TEXT);
	ck_assert_int_eq(fmt_parse("json"), FMT_JSON);
	ck_assert_int_eq(fmt_parse("keyvalue"), FMT_KEYVALUE);
	ck_assert_int_eq(fmt_parse("xml"), -1);
	ck_assert_int_eq(fmt_parse(""), -1);
}
END_TEST

static Suite *
fmt_suite(void)
{
	Suite	*s = suite_create("fmt");
	TCase	*tc = tcase_create("fmt");

	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_subtable);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_keyvalue);
	tcase_add_test(tc, test_parse);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(fmt_suite(), CK_NORMAL);
}
