/* test_timers: lib/timers.c, the /proc/PID/timers parser.
 *
 * fixtures/timers.txt was recorded on Linux 6.18 x86-64 from a process that
 * made four timers: CLOCK_MONOTONIC/SIGEV_SIGNAL 34+2 with value 0x1234567
 * (id 0), CLOCK_REALTIME/SIGEV_NONE (id 1), CLOCK_PROCESS_CPUTIME_ID/
 * SIGEV_THREAD_ID SIGUSR2 (id 2), and CLOCK_MONOTONIC SIGALRM with the id
 * 100 asked for through PR_TIMER_CREATE_RESTORE_IDS. */
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "lib/proc.h"
#include "lib/timers.h"
#include "tests/unit/fixture.h"
#include "tests/unit/unit.h"

static void timers_fixture_fields(void)
{
	char *text = unit_fixture("timers.txt");
	struct timers_entry *t = NULL;
	struct err e = { 0 };
	int n = -1;

	REQUIRE(text);
	CHECK_INT(timers_parse(text, &t, &n, &e), 0);
	REQUIRE(n == 4);
	CHECK_INT(t[0].id, 100);
	CHECK_INT(t[0].signo, SIGALRM);
	CHECK_INT(t[0].notify, SIGEV_SIGNAL);
	CHECK_INT(t[0].target, 30193);
	CHECK_INT(t[0].clock, CLOCK_MONOTONIC);
	CHECK_INT(t[1].id, 2);
	CHECK_INT(t[1].signo, SIGUSR2);
	CHECK_INT(t[1].notify, SIGEV_SIGNAL | TIMERS_SIGEV_THREAD_ID);
	CHECK_INT(t[1].clock, -6);	/* CLOCK_PROCESS_CPUTIME_ID as the kernel encodes it */
	CHECK_INT(t[2].id, 1);
	CHECK_INT(t[2].notify, SIGEV_NONE);
	CHECK_INT(t[2].clock, CLOCK_REALTIME);
	CHECK_INT(t[3].id, 0);
	CHECK_INT(t[3].signo, 36);
	CHECK_U64(t[3].value, 0x1234567);
	free(t);
	free(text);
}

static void timers_empty(void)
{
	struct timers_entry *t = (void *)1;
	struct err e = { 0 };
	int n = -1;

	CHECK_INT(timers_parse("", &t, &n, &e), 0);
	CHECK_INT(n, 0);
	CHECK(t == NULL);
}

/* Malformed text is an error naming the line, never a crash. */
static void timers_malformed(void)
{
	static const struct { const char *name, *text, *want; } cases[] = {
		{ "field before ID", "signal: 14/0\n", "before the first" },
		{ "no colon", "ID: 1\nbogus\n", "no 'key:'" },
		{ "bad id", "ID: x\n", "bad 'ID'" },
		{ "negative id", "ID: -1\n", "bad 'ID'" },
		{ "bad signal", "ID: 1\nsignal: 14\nnotify: none/pid.1\nClockID: 0\n", "bad 'signal'" },
		{ "bad notify kind", "ID: 1\nsignal: 14/0\nnotify: loud/pid.1\nClockID: 0\n", "bad 'notify'" },
		{ "bad notify who", "ID: 1\nsignal: 14/0\nnotify: none/grp.1\nClockID: 0\n", "bad 'notify'" },
		{ "truncated", "ID: 1\nsignal: 14/0\n", "lacks" },
		{ "truncated middle", "ID: 1\nsignal: 14/0\nID: 2\n", "lacks" },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(cases); i++) {
		struct timers_entry *t = NULL;
		struct err e = { 0 };
		int n = 0;

		if (timers_parse(cases[i].text, &t, &n, &e) >= 0) {
			unit_fail(__FILE__, __LINE__, "case '%s' parsed", cases[i].name);
			free(t);
			continue;
		}
		if (!strstr(e.msg, cases[i].want))
			unit_fail(__FILE__, __LINE__, "case '%s': message '%s' lacks '%s'", cases[i].name, e.msg, cases[i].want);
	}
}

/* This process's own timers, live: ids, clocks, signals as created. */
static void timers_live(void)
{
	struct sigevent ev = { 0 };
	struct timers_entry *t = NULL;
	struct err e = { 0 };
	timer_t a, b;
	int n = 0;

	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN + 1;
	ev.sigev_value.sival_ptr = (void *)0xabcdef;
	REQUIRE(timer_create(CLOCK_BOOTTIME, &ev, &a) == 0);
	ev.sigev_notify = SIGEV_NONE;
	REQUIRE(timer_create(CLOCK_MONOTONIC, &ev, &b) == 0);
	CHECK_INT(timers_read(getpid(), &t, &n, &e), 0);
	REQUIRE(n == 2);
	for (int i = 0; i < n; i++) {
		if (t[i].id == (int)(intptr_t)a) {
			CHECK_INT(t[i].clock, CLOCK_BOOTTIME);
			CHECK_INT(t[i].signo, SIGRTMIN + 1);
			CHECK_U64(t[i].value, 0xabcdef);
			CHECK_INT(t[i].notify, SIGEV_SIGNAL);
			CHECK_INT(t[i].target, getpid());
		} else {
			CHECK_INT(t[i].id, (int)(intptr_t)b);
			CHECK_INT(t[i].notify, SIGEV_NONE);
		}
	}
	free(t);
}

static const struct unit_case cases[] = {
	UNIT_CASE(timers_fixture_fields),
	UNIT_CASE(timers_empty),
	UNIT_CASE(timers_malformed),
	UNIT_CASE(timers_live),
};
UNIT_MAIN(cases)
