/* test_rjournal: images/rjournal.c, seize's journal of what it changed in
 * the tree: what a journal leaves to put back after each step of a
 * process's dump (the state amber-unseize acts on), a record cut short at
 * the end (the writer died writing it) ignored, junk refused, and the test
 * hook counting changes. */
#include <fcntl.h>
#include <sys/mman.h>

#include "images/rjournal.h"
#include "tests/unit/unit.h"

/* A journal appending to a fresh memfd (j->fd, as rjournal_create opens
 * it); the fd to read it back. */
static int rjournal_test_open(struct rjournal *j)
{
	int fd = memfd_create("journal", MFD_CLOEXEC);
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rjournal_init(j, 0);
	j->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	return fd;
}

/* Loads what was written so far. */
static int rjournal_test_load(int fd, struct rjournal_state *s)
{
	struct err e = { 0 };
	int ret;

	lseek(fd, 0, SEEK_SET);
	ret = rjournal_load(fd, "journal", s, &e);
	if (ret < 0)
		printf("# %s\n", e.msg);
	return ret;
}

/* One process, step by step as seize goes: after each step, what is left
 * pending. */
static void rjournal_steps(void)
{
	static const uint8_t orig[RSYS_PARK_SIZE];
	struct user_regs_struct regs = { .rip = 0x401000, .rax = -512UL, .orig_rax = 202 };
	struct rjournal j;
	struct rjournal_state s;
	struct err e = { 0 };
	int fd = rjournal_test_open(&j);

	CHECK(fd >= 0);
	CHECK_INT(rjournal_process(&j, 42, 12345, &e), 0);
	CHECK_INT(rjournal_test_load(fd, &s), 0);
	CHECK_INT(s.nr, 1);
	CHECK(!rjournal_pending(&s));
	CHECK(!rjournal_touched(&s));
	rjournal_state_free(&s);

	CHECK_INT(rjournal_gadget(&j, 0x7fff1000, orig, sizeof(orig), &e), 0);
	CHECK_INT(j.watch.begin(&j.watch, 42, &regs, 0x1234, &e), 0);
	CHECK_INT(rjournal_mapping(&j, 42, 16384, &e), 0);
	CHECK_INT(rjournal_test_load(fd, &s), 0);
	CHECK(rjournal_pending(&s));
	CHECK(rjournal_touched(&s));
	CHECK_INT(s.procs[0].pid, 42);
	CHECK_U64(s.procs[0].start_time, 12345);
	CHECK_U64(s.procs[0].gadget, 0x7fff1000);
	CHECK_INT(s.procs[0].orig_len, RSYS_PARK_SIZE);
	CHECK(!s.procs[0].gadget_gone);
	CHECK(s.procs[0].mapping);
	CHECK_INT(s.procs[0].mapping_tid, 42);
	CHECK_U64(s.procs[0].mapping_len, 16384);
	CHECK_U64(s.procs[0].mapping_addr, 0);	/* not known yet */
	CHECK_INT(s.procs[0].nr_threads, 1);
	CHECK_INT(s.procs[0].threads[0].tid, 42);
	CHECK_U64(s.procs[0].threads[0].regs.rip, 0x401000);
	CHECK_U64(s.procs[0].threads[0].regs.orig_rax, 202);
	CHECK_U64(s.procs[0].threads[0].mask, 0x1234);
	CHECK(!s.procs[0].threads[0].done);
	rjournal_state_free(&s);

	CHECK_INT(rjournal_mapping_at(&j, 0x7ffe0000, &e), 0);
	CHECK_INT(j.watch.begin(&j.watch, 43, &regs, 0, &e), 0);
	CHECK_INT(j.watch.done(&j.watch, 43, &e), 0);
	CHECK_INT(rjournal_mapping_gone(&j, &e), 0);
	CHECK_INT(j.watch.done(&j.watch, 42, &e), 0);
	CHECK_INT(rjournal_test_load(fd, &s), 0);
	CHECK_U64(s.procs[0].mapping_addr, 0x7ffe0000);
	CHECK(s.procs[0].mapping_gone);
	CHECK_INT(s.procs[0].nr_threads, 2);
	CHECK(s.procs[0].threads[0].done && s.procs[0].threads[1].done);
	CHECK(rjournal_pending(&s));	/* the gadget is still there */
	rjournal_state_free(&s);

	CHECK_INT(rjournal_gadget_gone(&j, &e), 0);
	CHECK_INT(rjournal_test_load(fd, &s), 0);
	CHECK(!rjournal_pending(&s));
	CHECK(rjournal_touched(&s));
	CHECK(!s.cut_short);
	rjournal_state_free(&s);
	rjournal_close(&j);
	close(fd);
}

/* A thread begun again after it was done is pending again, and a second
 * process's records do not touch the first's. */
static void rjournal_two_processes(void)
{
	struct user_regs_struct regs = { .rip = 1 };
	struct rjournal j;
	struct rjournal_state s;
	struct err e = { 0 };
	int fd = rjournal_test_open(&j);

	CHECK_INT(rjournal_process(&j, 10, 1, &e), 0);
	CHECK_INT(j.watch.begin(&j.watch, 10, &regs, 0, &e), 0);
	CHECK_INT(j.watch.done(&j.watch, 10, &e), 0);
	CHECK_INT(j.watch.begin(&j.watch, 10, &regs, 7, &e), 0);
	CHECK_INT(rjournal_process(&j, 20, 2, &e), 0);
	CHECK_INT(j.watch.begin(&j.watch, 21, &regs, 0, &e), 0);
	CHECK_INT(j.watch.done(&j.watch, 21, &e), 0);
	CHECK_INT(rjournal_test_load(fd, &s), 0);
	CHECK_INT(s.nr, 2);
	CHECK_INT(s.procs[0].nr_threads, 1);
	CHECK(!s.procs[0].threads[0].done);
	CHECK_U64(s.procs[0].threads[0].mask, 7);
	CHECK_INT(s.procs[1].nr_threads, 1);
	CHECK(s.procs[1].threads[0].done);
	CHECK(rjournal_pending(&s));
	rjournal_state_free(&s);
	rjournal_close(&j);
	close(fd);
}

/* The writer killed in the middle of a record: every cut of the last record
 * leaves what came before, and the cut record is not applied. */
static void rjournal_cut_short(void)
{
	struct user_regs_struct regs = { .rip = 1 };
	struct rjournal j;
	struct rjournal_state s;
	struct err e = { 0 };
	int fd = rjournal_test_open(&j);
	off_t before, after;

	CHECK_INT(rjournal_process(&j, 10, 1, &e), 0);
	before = lseek(fd, 0, SEEK_END);
	CHECK_INT(j.watch.begin(&j.watch, 10, &regs, 0, &e), 0);
	after = lseek(fd, 0, SEEK_END);
	rjournal_close(&j);
	for (off_t len = before + 1; len < after; len++) {
		CHECK_INT(ftruncate(fd, len), 0);
		CHECK_INT(rjournal_test_load(fd, &s), 0);
		CHECK(s.cut_short);
		CHECK_INT(s.nr, 1);
		CHECK_INT(s.procs[0].nr_threads, 0);
		CHECK(!rjournal_pending(&s));
		rjournal_state_free(&s);
	}
	close(fd);
}

/* A whole record that is no journal entry is an error, naming the file. */
static void rjournal_junk(void)
{
	static const uint8_t junk[] = { 3, 0, 0, 0, 0xff, 0xff, 0xff };
	struct rjournal_state s;
	struct err e = { 0 };
	int fd = memfd_create("journal", MFD_CLOEXEC);

	CHECK_INT(write(fd, junk, sizeof(junk)), sizeof(junk));
	lseek(fd, 0, SEEK_SET);
	CHECK(rjournal_load(fd, "RUN/seize.journal", &s, &e) < 0);
	CHECK(strstr(e.msg, "RUN/seize.journal") != NULL);
	rjournal_state_free(&s);
	close(fd);
}

/* Without an fd nothing is written and nothing fails; the hook counts. */
static void rjournal_no_fd_counts(void)
{
	struct user_regs_struct regs = { 0 };
	struct rjournal j;
	struct err e = { 0 };

	rjournal_init(&j, 0);
	CHECK_INT(rjournal_process(&j, 1, 1, &e), 0);
	CHECK_INT(j.watch.begin(&j.watch, 1, &regs, 0, &e), 0);
	j.watch.changed(&j.watch);
	rjournal_changed(&j);
	rjournal_changed(NULL);
	CHECK_INT(j.changes, 2);
}

/* AMBER_TEST_SEIZE_DIE_AFTER's hook: SIGKILL at the Nth change, not before. */
static void rjournal_hook_kills(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct rjournal j;

		rjournal_init(&j, 3);
		rjournal_changed(&j);
		rjournal_changed(&j);
		rjournal_changed(&j);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static const struct unit_case cases[] = {
	UNIT_CASE(rjournal_steps),
	UNIT_CASE(rjournal_two_processes),
	UNIT_CASE(rjournal_cut_short),
	UNIT_CASE(rjournal_junk),
	UNIT_CASE(rjournal_no_fd_counts),
	UNIT_CASE(rjournal_hook_kills),
};

UNIT_MAIN(cases)
