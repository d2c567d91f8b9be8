/*
 * A reply for people or for scripts (pgemuctl -f text|json|keyvalue).
 *
 * text: an object as "key: value" lines, nested objects indented; a list
 * of objects as a table whose columns are the keys, in the order they
 * first appear, nested objects flattened as "a.b", lists of plain values
 * joined with commas, and a list of objects inside the rows as a table of
 * its own after it, each of its rows led by its row's first column.
 * keyvalue: one "path=value" line per leaf, the path's steps the keys and
 * the list indexes, joined with dots, as lldpcli -f keyvalue has them.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

static const char *fmt_names[] = { "text", "json", "keyvalue" };

/* The format called name, or -1. */
int
fmt_parse(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(fmt_names) / sizeof(fmt_names[0]); i++)
		if (strcmp(name, fmt_names[i]) == 0)
			return (int)i;
	return -1;
}

/* A copy of s. */
static char *
fmt_dup(const char *s)
{
	char	*d;

	xasprintf(&d, "%s", s);
	return d;
}

/* The path prefix.step, or step at the top (prefix NULL). */
static char *
fmt_join(const char *prefix, const char *step)
{
	char	*p;

	if (prefix == NULL)
		return fmt_dup(step);
	xasprintf(&p, "%s.%s", prefix, step);
	return p;
}

/* A string json_t that takes s (allocated) over. */
static json_t *
fmt_own(char *s)
{
	json_t	*j = json_string(s);

	if (j == NULL)		/* not UTF-8: say so rather than lose it */
		j = json_string("?");
	free(s);
	return j;
}

/* A list with at least one element, every one an object. */
static int
fmt_is_rows(json_t *v)
{
	json_t	*e;
	size_t	 i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return 0;
	json_array_foreach(v, i, e)
		if (!json_is_object(e))
			return 0;
	return 1;
}

/* A string with its control characters made spaces (one line each). */
static char *
fmt_oneline(const char *s)
{
	char	*out = fmt_dup(s), *p;

	for (p = out; *p != '\0'; p++)
		if (iscntrl((unsigned char)*p))
			*p = ' ';
	return out;
}

/* A real for people: three decimals at most, "0.5" rather than "0.500". */
static char *
fmt_real(double d)
{
	char	*s, *p;

	xasprintf(&s, "%.3f", d);
	p = s + strlen(s) - 1;
	while (*p == '0' && p[-1] != '.')
		*p-- = '\0';
	return s;
}

/* A plain value as a table cell or a "key: value" line; "-" for none. */
static char *
fmt_cell(json_t *v)
{
	json_t	*e;
	size_t	 i, len;
	char	*s, *one, *all = NULL;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (json_string_length(v) == 0)
			break;
		return fmt_oneline(json_string_value(v));
	case JSON_INTEGER:
		xasprintf(&s, "%lld", (long long)json_integer_value(v));
		return s;
	case JSON_REAL:
		return fmt_real(json_real_value(v));
	case JSON_TRUE:
		return fmt_dup("true");
	case JSON_FALSE:
		return fmt_dup("false");
	case JSON_ARRAY:
		json_array_foreach(v, i, e) {
			one = fmt_cell(e);
			len = all ? strlen(all) : 0;
			all = xreallocarray(all, len + strlen(one) + 2, 1);
			if (len == 0)
				all[0] = '\0';
			else
				strcat(all, ",");
			strcat(all, one);
			free(one);
		}
		if (all != NULL)
			return all;
		break;
	case JSON_OBJECT:
		if (json_object_size(v) == 0)
			break;
		s = json_dumps(v, JSON_COMPACT);
		one = fmt_oneline(s);
		free(s);
		return one;
	case JSON_NULL:
		break;
	}
	return fmt_dup("-");
}

/*
 * One row's cells into cells (path: text), in order; the lists of objects
 * in it into subs (path: the list), for tables of their own.
 */
static void
fmt_flatten(json_t *cells, json_t *subs, const char *prefix, json_t *obj)
{
	const char	*k;
	json_t		*v;
	char		*path;

	json_object_foreach(obj, k, v) {
		path = fmt_join(prefix, k);
		if (json_is_object(v) && json_object_size(v) > 0)
			fmt_flatten(cells, subs, path, v);
		else if (fmt_is_rows(v))
			json_object_set(subs, path, v);
		else
			json_object_set_new(cells, path, fmt_own(
			    fmt_cell(v)));
		free(path);
	}
}

/* The header of a column: its path in capitals. */
static char *
fmt_header(const char *path)
{
	char	*h = fmt_dup(path), *p;

	for (p = h; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return h;
}

/* One line of a table: the cells padded to their columns' widths. */
static void
fmt_line(FILE *fp, int indent, json_t *widths, json_t *texts)
{
	const char	*k;
	json_t		*w;
	size_t		 i = 0, n = json_object_size(widths);

	fprintf(fp, "%*s", indent, "");
	json_object_foreach(widths, k, w) {
		const char *t = json_string_value(json_object_get(texts, k));

		if (t == NULL)
			t = "-";
		if (++i < n)
			fprintf(fp, "%-*s  ", (int)json_integer_value(w), t);
		else
			fprintf(fp, "%s\n", t);
	}
}

/* The value at a flattened path ("a.b") of obj, or NULL. */
static json_t *
fmt_at(json_t *obj, const char *path)
{
	char	*p = fmt_dup(path), *step, *last = NULL;

	for (step = strtok_r(p, ".", &last); step != NULL && obj != NULL;
	    step = strtok_r(NULL, ".", &last))
		obj = json_object_get(obj, step);
	free(p);
	return obj;
}

/*
 * The lists of objects at path in rows, as one table titled path, each of
 * its rows led by its row's lead column (flat: the rows' cells), named
 * lead, or parent.lead if the lists' objects have a lead of their own.
 */
static void
fmt_subtable(FILE *fp, json_t *rows, json_t *flat, const char *path,
    const char *lead, int indent)
{
	json_t	*sub = json_array(), *row, *list, *e, *o;
	size_t	 i, j;
	char	*key = NULL;

	json_array_foreach(rows, i, row) {
		list = fmt_at(row, path);
		json_array_foreach(list, j, e)
			if (lead != NULL && key == NULL &&
			    json_object_get(e, lead) != NULL)
				xasprintf(&key, "parent.%s", lead);
	}
	if (lead != NULL && key == NULL)
		key = fmt_dup(lead);
	json_array_foreach(rows, i, row) {
		list = fmt_at(row, path);
		if (!fmt_is_rows(list))
			continue;
		json_array_foreach(list, j, e) {
			o = json_object();
			if (key != NULL)
				json_object_set(o, key, json_object_get(
				    json_array_get(flat, i), lead));
			json_object_update(o, e);
			json_array_append_new(sub, o);
		}
	}
	fprintf(fp, "\n%*s%s:\n", indent, "", path);
	fmt_table(fp, sub, indent);
	json_decref(sub);
	free(key);
}

/* A list of objects as a table, indented; then its rows' lists. */
void
fmt_table(FILE *fp, json_t *rows, int indent)
{
	json_t		*flat = json_array(), *subs = json_object();
	json_t		*widths = json_object(), *heads = json_object();
	json_t		*row, *cells, *c;
	const char	*k, *lead = NULL;
	size_t		 i, len;
	char		*h;

	json_array_foreach(rows, i, row) {
		cells = json_object();
		fmt_flatten(cells, subs, NULL, row);
		json_array_append_new(flat, cells);
		json_object_foreach(cells, k, c) {
			len = strlen(json_string_value(c));
			if (json_object_get(widths, k) == NULL) {
				h = fmt_header(k);
				json_object_set_new(widths, k,
				    json_integer((json_int_t)strlen(h)));
				json_object_set_new(heads, k, json_string(h));
				free(h);
			}
			if ((json_int_t)len > json_integer_value(
			    json_object_get(widths, k)))
				json_object_set_new(widths, k,
				    json_integer((json_int_t)len));
		}
	}
	fmt_line(fp, indent, widths, heads);
	json_array_foreach(flat, i, cells)
		fmt_line(fp, indent, widths, cells);

	/* The lists in the rows: one table each, led by the rows' first key. */
	json_object_foreach(widths, k, c) {
		lead = k;
		break;
	}
	json_object_foreach(subs, k, c)
		fmt_subtable(fp, rows, flat, k, lead, indent);
	json_decref(flat);
	json_decref(subs);
	json_decref(widths);
	json_decref(heads);
}

/*
 * v for people: an object as "key: value" lines, its objects indented
 * under "key:", its lists of objects as tables; a list of objects as a
 * table; "(none)" for an empty list.
 */
void
fmt_text(FILE *fp, const char *key, json_t *v, int indent)
{
	const char	*k;
	json_t		*e;
	size_t		 i;
	char		*s;
	int		 plain = 1;

	if (json_is_object(v)) {
		if (key != NULL)
			fprintf(fp, "%*s%s:\n", indent, "", key);
		json_object_foreach(v, k, e)
			fmt_text(fp, k, e, indent + (key ? 2 : 0));
		return;
	}
	if (fmt_is_rows(v)) {
		if (key != NULL)
			fprintf(fp, "%*s%s: (%zu)\n", indent, "", key,
			    json_array_size(v));
		fmt_table(fp, v, indent + (key ? 2 : 0));
		return;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (json_is_array(e) || json_is_object(e))
				plain = 0;
		if (key == NULL && json_array_size(v) == 0) {
			fprintf(fp, "(none)\n");
			return;
		}
		if (key == NULL || !plain) {
			if (key != NULL)
				fprintf(fp, "%*s%s: (%zu)\n", indent, "", key,
				    json_array_size(v));
			json_array_foreach(v, i, e) {
				char idx[32];

				snprintf(idx, sizeof(idx), "[%zu]", i);
				fmt_text(fp, idx, e, indent + (key ? 2 : 0));
			}
			return;
		}
	}
	s = fmt_cell(v);
	if (key != NULL)
		fprintf(fp, "%*s%s: %s\n", indent, "", key, s);
	else
		fprintf(fp, "%*s%s\n", indent, "", s);
	free(s);
}

/* A string as keyvalue has it: backslash, newline, CR and tab escaped. */
static void
fmt_kv_string(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		default:
			fputc(*s, fp);
		}
	}
}

/*
 * v as keyvalue: "path=value" for every leaf under prefix (NULL at the
 * top); strings as they are (escaped), other values as JSON has them; an
 * empty list or object as nothing after "=" (no line at all at the top), a
 * plain value at the top as "value=".
 */
void
fmt_keyvalue(FILE *fp, const char *prefix, json_t *v)
{
	const char	*k;
	json_t		*e;
	size_t		 i;
	char		*path, *s, idx[32];

	if (json_is_object(v) && json_object_size(v) > 0) {
		json_object_foreach(v, k, e) {
			path = fmt_join(prefix, k);
			fmt_keyvalue(fp, path, e);
			free(path);
		}
		return;
	}
	if (json_is_array(v) && json_array_size(v) > 0) {
		json_array_foreach(v, i, e) {
			snprintf(idx, sizeof(idx), "%zu", i);
			path = fmt_join(prefix, idx);
			fmt_keyvalue(fp, path, e);
			free(path);
		}
		return;
	}
	if (prefix == NULL && (json_is_array(v) || json_is_object(v)))
		return;		/* nothing at all */
	fmt_kv_string(fp, prefix != NULL ? prefix : "value");
	fputc('=', fp);
	if (json_is_string(v))
		fmt_kv_string(fp, json_string_value(v));
	else if (!json_is_array(v) && !json_is_object(v)) {
		s = json_dumps(v, JSON_ENCODE_ANY);
		fputs(s, fp);
		free(s);
	}
	fputc('\n', fp);
}
