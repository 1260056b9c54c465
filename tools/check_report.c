/*
 * check_report.c -- the drift report of `shadowsync check` in three forms:
 * text (a summary line per table and the first differing rows), JSON
 * (everything, for scripts) and HTML (one self-contained page).
 *
 * Values arrive in display form (replicator/check.h); this file only escapes and lays
 * them out.
 */
#include <stdio.h>
#include <string.h>

#include "check_report.h"
#include "util.h"

#define TEXT_ROWS 100 /* differing rows listed per table in the text report */

static const char *status_of(const struct ss_check_result *r)
{
	if (r->error)
		return "error";
	return r->missing || r->extra || r->different ? "drift" : "in sync";
}

static const char *kind_name(char k)
{
	return k == 'M' ? "missing" : k == 'E' ? "extra" : "different";
}

/* ---- text ------------------------------------------------------------------ */

#define TEXT_VALUE_MAX 120 /* longer values are cut in the text report */

/* A value as an SQL literal ('' for a quote), control characters as \xNN,
 * from byte skip on ("..." in front), cut after TEXT_VALUE_MAX bytes; NULL
 * unquoted. */
static void text_value_from(FILE *f, const char *v, size_t skip)
{
	size_t n = 0, len;

	if (!v) {
		fputs("NULL", f);
		return;
	}
	len = strlen(v);
	if (skip > len)
		skip = len;
	while (skip > 0 && ((unsigned char)v[skip] & 0xC0) == 0x80)
		skip--; /* start on a UTF-8 character boundary */
	if (skip)
		fputs("...", f);
	fputc('\'', f);
	for (const unsigned char *p = (const unsigned char *)v + skip; *p; p++, n++) {
		/* cut on a UTF-8 character boundary */
		if (n >= TEXT_VALUE_MAX && (*p & 0xC0) != 0x80) {
			fprintf(f, "'... (%zu bytes)", len);
			return;
		}
		if (*p == '\'')
			fputs("''", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('\'', f);
}

static void text_value(FILE *f, const char *v)
{
	text_value_from(f, v, 0);
}

/* Two long values that differ far in: both from a little before the first
 * differing byte. */
static void text_pair(FILE *f, const char *a, const char *b)
{
	size_t skip = 0;

	if (a && b) {
		while (a[skip] && a[skip] == b[skip])
			skip++;
		skip = skip > TEXT_VALUE_MAX / 2 ? skip - 16 : 0;
	}
	text_value_from(f, a, skip);
	fputs(" -> ", f);
	text_value_from(f, b, skip);
}

static void text_key(FILE *f, const struct ss_check_result *r, const struct ss_check_diff *d)
{
	for (int k = 0; k < r->nkey; k++) {
		fprintf(f, "%s%s=", k ? ", " : "", r->cols[r->key[k]]);
		text_value(f, d->key[k]);
	}
}

static void report_text(FILE *f, const struct ss_check_result *r, int n, double seconds)
{
	int drift = 0, errors = 0;
	uint64_t rows = 0;

	for (int i = 0; i < n; i++) {
		const struct ss_check_result *t = &r[i];
		fprintf(f, "%s: %s -> %s", t->job, t->table, t->target);
		if (strcmp(t->table, t->target_table) != 0)
			fprintf(f, " (%s)", t->target_table);
		if (t->error) {
			fprintf(f, ": ERROR: %s\n", t->error);
			errors++;
			continue;
		}
		fprintf(f,
			": %s: %llu rows (target %llu), %d chunk%s (%d differ), %llu missing, "
			"%llu extra, %llu different, %.2f s\n",
			strcmp(status_of(t), "drift") == 0 ? "DRIFT" : "in sync",
			(unsigned long long)t->src_rows, (unsigned long long)t->tgt_rows, t->chunks,
			t->chunks == 1 ? "" : "s", t->chunks_differ, (unsigned long long)t->missing,
			(unsigned long long)t->extra, (unsigned long long)t->different, t->seconds);
		for (int k = 0; k < t->nnotes; k++)
			fprintf(f, "  note: %s\n", t->notes[k]);
		for (int k = 0; k < t->ndiffs && k < TEXT_ROWS; k++) {
			const struct ss_check_diff *d = &t->diffs[k];
			fprintf(f, "  %-9s ", kind_name(d->kind));
			text_key(f, t, d);
			if (d->kind == 'D') {
				fputs(":", f);
				for (int c = 0; c < d->ncols; c++) {
					fprintf(f, "%s %s: ", c ? ";" : "", t->cols[d->cols[c]]);
					text_pair(f, d->src[c], d->tgt[c]);
				}
			}
			fputc('\n', f);
		}
		if (t->ndiffs > TEXT_ROWS)
			fprintf(f, "  ... and %d more differing rows (--format json lists all)\n",
				t->ndiffs - TEXT_ROWS);
		if (t->missing || t->extra || t->different) {
			drift++;
			rows += t->missing + t->extra + t->different;
		}
	}
	fprintf(f,
		"%d table%s checked: %d in sync, %d with drift (%llu rows), %d error%s, %.2f s\n",
		n, n == 1 ? "" : "s", n - drift - errors, drift, (unsigned long long)rows, errors,
		errors == 1 ? "" : "s", seconds);
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_str(struct ss_buf *b, const char *s)
{
	if (!s)
		ss_buf_adds(b, "null");
	else
		ss_buf_add_json_str(b, s, strlen(s));
}

static void report_json(FILE *f, const struct ss_check_result *r, int n, double seconds)
{
	struct ss_buf b;
	int drift = 0, errors = 0;

	for (int i = 0; i < n; i++) {
		if (r[i].error)
			errors++;
		else if (r[i].missing || r[i].extra || r[i].different)
			drift++;
	}
	ss_buf_init(&b);
	ss_buf_addf(&b, "{\"status\":\"%s\",\"seconds\":%.3f,\"tables\":[",
		    errors ? "error" :
		    drift  ? "drift" :
			     "in sync",
		    seconds);
	for (int i = 0; i < n; i++) {
		const struct ss_check_result *t = &r[i];
		if (i)
			ss_buf_addc(&b, ',');
		ss_buf_adds(&b, "\n{\"job\":");
		json_str(&b, t->job);
		ss_buf_adds(&b, ",\"table\":");
		json_str(&b, t->table);
		ss_buf_adds(&b, ",\"source\":");
		json_str(&b, t->source);
		ss_buf_adds(&b, ",\"target\":");
		json_str(&b, t->target);
		ss_buf_adds(&b, ",\"target_table\":");
		json_str(&b, t->target_table);
		ss_buf_addf(&b, ",\"status\":\"%s\"", status_of(t));
		ss_buf_adds(&b, ",\"error\":");
		json_str(&b, t->error);
		ss_buf_addf(
			&b,
			",\"source_rows\":%llu,\"target_rows\":%llu,\"chunks\":%d,"
			"\"chunks_differ\":%d,\"missing\":%llu,\"extra\":%llu,\"different\":%llu,"
			"\"seconds\":%.3f,\"key\":[",
			(unsigned long long)t->src_rows, (unsigned long long)t->tgt_rows, t->chunks,
			t->chunks_differ, (unsigned long long)t->missing,
			(unsigned long long)t->extra, (unsigned long long)t->different, t->seconds);
		for (int k = 0; k < t->nkey; k++) {
			if (k)
				ss_buf_addc(&b, ',');
			json_str(&b, t->cols[t->key[k]]);
		}
		ss_buf_adds(&b, "],\"notes\":[");
		for (int k = 0; k < t->nnotes; k++) {
			if (k)
				ss_buf_addc(&b, ',');
			json_str(&b, t->notes[k]);
		}
		ss_buf_adds(&b, "],\"rows\":[");
		for (int k = 0; k < t->ndiffs; k++) {
			const struct ss_check_diff *d = &t->diffs[k];
			ss_buf_addf(&b, "%s\n {\"kind\":\"%s\",\"key\":{", k ? "," : "",
				    kind_name(d->kind));
			for (int c = 0; c < t->nkey; c++) {
				if (c)
					ss_buf_addc(&b, ',');
				json_str(&b, t->cols[t->key[c]]);
				ss_buf_addc(&b, ':');
				json_str(&b, d->key[c]);
			}
			ss_buf_adds(&b, "},\"columns\":{");
			for (int c = 0; c < d->ncols; c++) {
				if (c)
					ss_buf_addc(&b, ',');
				json_str(&b, t->cols[d->cols[c]]);
				ss_buf_adds(&b, ":{\"source\":");
				json_str(&b, d->src[c]);
				ss_buf_adds(&b, ",\"target\":");
				json_str(&b, d->tgt[c]);
				ss_buf_addc(&b, '}');
			}
			ss_buf_adds(&b, "}}");
		}
		ss_buf_adds(&b, "]}");
	}
	ss_buf_adds(&b, "\n]}\n");
	fwrite(b.data, 1, b.len, f);
	ss_buf_free(&b);
}

/* ---- HTML ------------------------------------------------------------------ */

static void html_esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				fprintf(f, "&#x%x;", (unsigned char)*s);
			else
				fputc(*s, f);
		}
	}
}

static void html_value(FILE *f, const char *v)
{
	if (!v) {
		fputs("<span class=\"null\">NULL</span>", f);
		return;
	}
	fputs("<code>", f);
	html_esc(f, v);
	fputs("</code>", f);
}

static void report_html(FILE *f, const struct ss_check_result *r, int n, double seconds)
{
	int drift = 0, errors = 0;

	for (int i = 0; i < n; i++) {
		if (r[i].error)
			errors++;
		else if (r[i].missing || r[i].extra || r[i].different)
			drift++;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<title>shadowsync drift report</title>\n<style>\n"
	      "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\n"
	      "table{border-collapse:collapse;margin:.5em 0 1.5em}\n"
	      "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\n"
	      "th{background:#f3f3f3}td.n{text-align:right}\n"
	      ".ok{color:#176f2c;font-weight:bold}.drift{color:#b00020;font-weight:bold}"
	      ".error{color:#8a4b00;font-weight:bold}\n"
	      ".null{color:#888;font-style:italic}code{white-space:pre-wrap;word-break:break-all}\n"
	      "</style></head><body>\n<h1>shadowsync drift report</h1>\n",
	      f);
	fprintf(f,
		"<p>%d table%s checked: %d in sync, <span class=\"%s\">%d with drift</span>, %d "
		"error%s, %.2f s.</p>\n",
		n, n == 1 ? "" : "s", n - drift - errors, drift ? "drift" : "ok", drift, errors,
		errors == 1 ? "" : "s", seconds);
	fputs("<table><tr><th>job</th><th>table</th><th>target</th><th>status</th><th>rows</th>"
	      "<th>target rows</th><th>chunks</th><th>missing</th><th>extra</th><th>different</th>"
	      "<th>seconds</th></tr>\n",
	      f);
	for (int i = 0; i < n; i++) {
		const struct ss_check_result *t = &r[i];
		const char *st = status_of(t);
		fputs("<tr><td>", f);
		html_esc(f, t->job);
		fprintf(f, "</td><td><a href=\"#t%d\">", i);
		html_esc(f, t->table);
		fputs("</a></td><td>", f);
		html_esc(f, t->target);
		fprintf(f,
			"</td><td class=\"%s\">%s</td><td class=\"n\">%llu</td><td "
			"class=\"n\">%llu</td>"
			"<td class=\"n\">%d</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
			"<td class=\"n\">%llu</td><td class=\"n\">%.2f</td></tr>\n",
			strcmp(st, "in sync") == 0 ? "ok" : st, st, (unsigned long long)t->src_rows,
			(unsigned long long)t->tgt_rows, t->chunks, (unsigned long long)t->missing,
			(unsigned long long)t->extra, (unsigned long long)t->different, t->seconds);
	}
	fputs("</table>\n", f);
	for (int i = 0; i < n; i++) {
		const struct ss_check_result *t = &r[i];
		fprintf(f, "<h2 id=\"t%d\">", i);
		html_esc(f, t->job);
		fputs(": ", f);
		html_esc(f, t->table);
		fputs(" &rarr; ", f);
		html_esc(f, t->target);
		fputs(" (", f);
		html_esc(f, t->target_table);
		fputs(")</h2>\n", f);
		if (t->error) {
			fputs("<p class=\"error\">", f);
			html_esc(f, t->error);
			fputs("</p>\n", f);
		}
		for (int k = 0; k < t->nnotes; k++) {
			fputs("<p>note: ", f);
			html_esc(f, t->notes[k]);
			fputs("</p>\n", f);
		}
		if (!t->ndiffs) {
			if (!t->error)
				fputs("<p class=\"ok\">in sync</p>\n", f);
			continue;
		}
		fputs("<table><tr><th>kind</th><th>key</th><th>column</th><th>source</th>"
		      "<th>target</th></tr>\n",
		      f);
		for (int k = 0; k < t->ndiffs; k++) {
			const struct ss_check_diff *d = &t->diffs[k];
			int rows = d->ncols ? d->ncols : 1;
			fprintf(f, "<tr><td rowspan=\"%d\">%s</td><td rowspan=\"%d\">", rows,
				kind_name(d->kind), rows);
			for (int c = 0; c < t->nkey; c++) {
				if (c)
					fputs(", ", f);
				html_esc(f, t->cols[t->key[c]]);
				fputs("=", f);
				html_value(f, d->key[c]);
			}
			fputs("</td>", f);
			if (!d->ncols)
				fputs("<td></td><td></td><td></td></tr>\n", f);
			for (int c = 0; c < d->ncols; c++) {
				if (c)
					fputs("<tr>", f);
				fputs("<td>", f);
				html_esc(f, t->cols[d->cols[c]]);
				fputs("</td><td>", f);
				html_value(f, d->src[c]);
				fputs("</td><td>", f);
				html_value(f, d->tgt[c]);
				fputs("</td></tr>\n", f);
			}
		}
		fputs("</table>\n", f);
	}
	fputs("</body></html>\n", f);
}

void ss_check_report(FILE *f, int format, const struct ss_check_result *r, int n, double seconds)
{
	switch (format) {
	case SS_CHECK_JSON: report_json(f, r, n, seconds); break;
	case SS_CHECK_HTML: report_html(f, r, n, seconds); break;
	default: report_text(f, r, n, seconds); break;
	}
}
