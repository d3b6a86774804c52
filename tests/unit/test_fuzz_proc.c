/* test_fuzz_proc: the fixed-seed fuzzer (fuzz.h) over the /proc parsers
 * of lib/proc.c: the recorded fixtures are mutated (bytes, lines, numbers)
 * and every mutant must parse or fail cleanly, never crash, hang or leak
 * (the same program runs under ASan/UBSan). FUZZ_ITERS=N scales the
 * iteration counts. */
#include <limits.h>
#include <stdio.h>

#include "lib/mcast.h"
#include "lib/proc.h"
#include "tests/unit/fuzz.h"
#include "tests/unit/unit.h"

/* ---- /proc parsers ------------------------------------------------------ */

/* The text of fixture 'name' (as in test_proc.c), or NULL after a failed check. */
static char *fuzz_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("AMBER_FIXTURES");
	char path[512];
	struct err e = { 0 };
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "tests/unit/fixtures", name);
	if (proc_read_file(path, &text, len, &e) < 0) {
		unit_fail(__FILE__, __LINE__, "fixture: %s (run from the source root or set AMBER_FIXTURES)", e.msg);
		return NULL;
	}
	return text;
}

/* Text-level mutations: the byte ones above plus characters a parser
 * splits on, and numbers made huge or negative. */
static void fuzz_mutate_text(struct fuzz_buf *f)
{
	static const char *tokens[] = {
		" ", "\n", ":", "(", ")", "-", "\t", "18446744073709551616", "-1", "0x", "4294967296",
		"99999999999999999999999", " (deleted)", "[heap]", "\n\n", ") ", "NSpid:\t1 2 3 4 5 6 7 8 9 10\n",
	};
	int rounds = 1 + fuzz_below(3);

	while (rounds--) {
		switch (fuzz_below(6)) {
		case 0: {
			const char *t = tokens[fuzz_below(UNIT_ARRAY_SIZE(tokens))];

			fuzz_insert(f, fuzz_below(f->len + 1), t, strlen(t));
			break;
		}
		case 1:	/* delete a span */
			if (f->len) {
				size_t at = fuzz_below(f->len), n = 1 + fuzz_below(40);

				if (n > f->len - at)
					n = f->len - at;
				memmove(f->b + at, f->b + at + n, f->len - at - n);
				f->len -= n;
			}
			break;
		case 2:	/* a long run of one character */
			if (fuzz_below(4) == 0) {
				size_t n = 1 + fuzz_below(5000);
				uint8_t *run = malloc(n);
				char c = "x 9(:)\n"[fuzz_below(7)];

				if (run) {
					memset(run, c, n);
					fuzz_insert(f, fuzz_below(f->len + 1), run, n);
					free(run);
				}
			}
			break;
		case 3:	/* replace a character with a delimiter or NUL-free junk */
			if (f->len)
				f->b[fuzz_below(f->len)] = " \n:()-x0\t\xff"[fuzz_below(10)];
			break;
		default:
			fuzz_mutate(f, f->len);	/* bit flips, truncation, random bytes */
			break;
		}
	}
}

/* An exact-size NUL-terminated copy, so ASan sees a read past the end. */
static char *fuzz_cstr(const struct fuzz_buf *f)
{
	size_t n = strnlen((const char *)f->b, f->len);
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, f->b, n);
		s[n] = 0;
	}
	return s;
}

enum fuzz_parser { FUZZ_MAPS, FUZZ_STAT, FUZZ_STATUS, FUZZ_FDINFO, FUZZ_PIDS, FUZZ_IGMP, FUZZ_IGMP6 };

/* Runs one parser on text; returns 0 ok, -1 refused (with a message). */
static int fuzz_parse(enum fuzz_parser which, const char *text, int iter)
{
	struct err e = { 0 };
	int ret = 0;

	switch (which) {
	case FUZZ_MAPS: {
		/* Line by line, as proc_read_maps feeds it. */
		char *copy = strdup(text), *save = NULL;
		struct proc_vma *v = malloc(sizeof(*v));

		if (!copy || !v) {
			free(copy);
			free(v);
			return 0;
		}
		for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *exact = strdup(line);

			if (!exact)
				break;
			if (proc_parse_maps_line(exact, v, &e) < 0)
				ret = -1;
			else if (v->end <= v->start || strlen(v->path) >= sizeof(v->path))
				unit_fail(__FILE__, __LINE__, "iteration %d: accepted maps line '%.80s' with end <= start", iter, exact);
			free(exact);
		}
		free(copy);
		free(v);
		break;
	}
	case FUZZ_STAT: {
		struct proc_stat st;

		ret = proc_parse_stat(text, &st, &e);
		if (ret == 0 && strlen(st.comm) >= sizeof(st.comm))
			unit_fail(__FILE__, __LINE__, "iteration %d: comm overflows", iter);
		break;
	}
	case FUZZ_STATUS: {
		struct proc_status st;

		ret = proc_parse_status(text, &st, &e);
		if (ret == 0 && (st.nr_nspid < 0 || st.nr_nspid > 8))
			unit_fail(__FILE__, __LINE__, "iteration %d: %d NSpid entries", iter, st.nr_nspid);
		break;
	}
	case FUZZ_FDINFO: {
		struct proc_fdinfo fi;

		ret = proc_parse_fdinfo(text, &fi, &e);
		break;
	}
	case FUZZ_PIDS: {
		pid_t *pids = NULL;
		int nr = -1;

		ret = proc_parse_pid_list(text, &pids, &nr, &e);
		if (ret == 0) {
			for (int i = 0; i < nr; i++)
				if (pids[i] <= 0)
					unit_fail(__FILE__, __LINE__, "iteration %d: pid list holds %d", iter, pids[i]);
			free(pids);
		}
		break;
	}
	case FUZZ_IGMP:
	case FUZZ_IGMP6: {
		struct mcast_group *g = NULL;
		int nr = 0;

		ret = mcast_parse(which == FUZZ_IGMP ? AF_INET : AF_INET6, text, &g, &nr, &e);
		for (int i = 0; ret == 0 && i < nr; i++)
			if (strnlen(g[i].ifname, sizeof(g[i].ifname)) >= sizeof(g[i].ifname))
				unit_fail(__FILE__, __LINE__, "iteration %d: a device name overflows", iter);
		free(g);
		break;
	}
	}
	if (ret < 0 && (!e.msg[0] || e.exit_code == 0))
		unit_fail(__FILE__, __LINE__, "iteration %d: a refusal without a message or class", iter);
	return ret < 0 ? -1 : 0;
}

static void fuzz_parser_loop(enum fuzz_parser which, const char *fixture, uint64_t rng_seed)
{
	struct fuzz_buf f = { 0 };
	size_t len = 0;
	char *text = fuzz_fixture(fixture, &len);
	int errors = 0, ok = 0;

	REQUIRE(text);
	CHECK_INT(fuzz_parse(which, text, -1), 0);
	fuzz_seed(rng_seed);
	for (int i = 0; i < fuzz_iters(1500); i++) {
		int before = unit_failures;
		char *s;

		fuzz_set(&f, text, strlen(text));
		fuzz_mutate_text(&f);
		s = fuzz_cstr(&f);
		if (!s)
			break;
		if (fuzz_parse(which, s, i) < 0)
			errors++;
		else
			ok++;
		if (unit_failures > before)
			printf("# %s: iteration %d failed on '%.200s'\n", fixture, i, s);
		free(s);
		if (unit_failures > before)
			break;
	}
	printf("# %s: %d mutants refused, %d parsed\n", fixture, errors, ok);
	free(f.b);
	free(text);
}

static void fuzz_proc_maps(void) { fuzz_parser_loop(FUZZ_MAPS, "maps.txt", 0x3a95); }
static void fuzz_proc_stat(void)
{
	fuzz_parser_loop(FUZZ_STAT, "stat-comm-spaces.txt", 0x57a7);
	fuzz_parser_loop(FUZZ_STAT, "stat-comm-parens-rt.txt", 0x57a8);
}
static void fuzz_proc_status(void)
{
	fuzz_parser_loop(FUZZ_STATUS, "status-threads.txt", 0x5747);
	fuzz_parser_loop(FUZZ_STATUS, "status-comm-spaces.txt", 0x5748);
}
static void fuzz_proc_fdinfo(void)
{
	fuzz_parser_loop(FUZZ_FDINFO, "fdinfo-append.txt", 0xfd1);
	fuzz_parser_loop(FUZZ_FDINFO, "fdinfo-rdwr.txt", 0xfd2);
}
static void fuzz_proc_pid_list(void) { fuzz_parser_loop(FUZZ_PIDS, "children.txt", 0xc41d); }
static void fuzz_proc_igmp(void) { fuzz_parser_loop(FUZZ_IGMP, "net-igmp.txt", 0x16a9); }
static void fuzz_proc_igmp6(void) { fuzz_parser_loop(FUZZ_IGMP6, "net-igmp6.txt", 0x16a6); }

/* Hand-picked edge cases the random loop may take long to find: every one
 * is an exact-size heap string, so a read past its NUL is an ASan error. */
static void fuzz_proc_edges(void)
{
	static const char *stats[] = {
		"", "(", ")", "1 (x)", "1 (x) ", "1 (x)S", ") (", "1 (a) S", "1 (a) S 1 2 3",
		"1 (a) S -1 -2 -3 x", "1 ()) S 1",
	};
	static const char *statuses[] = { "", ":", "Name:", "Name:\tx\nPid:\nUid:\nGid:", "NSpid:\t1 2 3 4 5 6 7 8 9 10 11" };
	static const char *fdinfos[] = { "", "pos:", "pos:\nflags:", "flags:\t0777777777777777777777" };
	static const char *pids[] = { "", " ", "\n", "1", "1 2 -3", "0", "x", "99999999999999999999", "2147483648" };
	static const char *maps[] = {
		"", "-", "0-1 rwxp 0 0:0 0", "1-0 rwxp 0 0:0 0", "0-1000 r 0 0:0 0", "0-1000 rwxp 0 0:0 0 ",
		"0-1000 rwxpq 0 0:0 0 x", "0-1000 rwxp 0 0:0 0 (deleted)", "0-1000 rwxp 0 0:0 0           (deleted)",
	};
	struct fuzz_buf f = { 0 };

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(stats); i++) {
		fuzz_set(&f, stats[i], strlen(stats[i]));
		char *s = fuzz_cstr(&f);
		fuzz_parse(FUZZ_STAT, s, i);
		free(s);
	}
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(statuses); i++) {
		fuzz_set(&f, statuses[i], strlen(statuses[i]));
		char *s = fuzz_cstr(&f);
		fuzz_parse(FUZZ_STATUS, s, i);
		free(s);
	}
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(fdinfos); i++) {
		fuzz_set(&f, fdinfos[i], strlen(fdinfos[i]));
		char *s = fuzz_cstr(&f);
		fuzz_parse(FUZZ_FDINFO, s, i);
		free(s);
	}
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(pids); i++) {
		fuzz_set(&f, pids[i], strlen(pids[i]));
		char *s = fuzz_cstr(&f);
		fuzz_parse(FUZZ_PIDS, s, i);
		free(s);
	}
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(maps); i++) {
		fuzz_set(&f, maps[i], strlen(maps[i]));
		char *s = fuzz_cstr(&f);
		fuzz_parse(FUZZ_MAPS, s, i);
		free(s);
	}
	/* A maps path longer than PATH_MAX is cut, not overflowed. */
	{
		size_t n = 3 * PATH_MAX;
		char *line = malloc(n + 64);
		struct proc_vma *v = malloc(sizeof(*v));
		struct err e = { 0 };

		REQUIRE(line && v);
		int at = snprintf(line, 64, "1000-2000 r--p 00000000 fe:00 1 /");
		memset(line + at, 'p', n);
		line[at + n] = 0;
		if (proc_parse_maps_line(line, v, &e) == 0)
			CHECK(strlen(v->path) < sizeof(v->path));
		free(line);
		free(v);
	}
	free(f.b);
}

static const struct unit_case cases[] = {
	UNIT_CASE(fuzz_proc_maps),
	UNIT_CASE(fuzz_proc_stat),
	UNIT_CASE(fuzz_proc_status),
	UNIT_CASE(fuzz_proc_fdinfo),
	UNIT_CASE(fuzz_proc_pid_list),
	UNIT_CASE(fuzz_proc_igmp),
	UNIT_CASE(fuzz_proc_igmp6),
	UNIT_CASE(fuzz_proc_edges),
};
UNIT_MAIN(cases)
