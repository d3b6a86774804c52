/* test_rsys: lib/rsys.c's parking gadget on a real child: written into the
 * child's vDSO padding and taken away again, remote syscalls and a shared
 * batch run from it, and a child whose tracer lets go of it while its
 * registers are borrowed (as when the tracer dies) waits in the gadget's
 * pause(2) with every signal blocked and the call's result in rbx, until
 * it is given its registers and mask back. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/tracee.h"
#include "tests/unit/unit.h"

#define ALL_BLOCKED 0xfffffffffffbfeffULL	/* all but SIGKILL and SIGSTOP */

/* A child that waits in pause(2) forever, seized and in an interrupt stop. */
static pid_t rsys_test_child(void)
{
	struct err e = { 0 };
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	if (pid < 0 || tracee_seize(pid, PTRACE_O_TRACESYSGOOD, &e) < 0 || tracee_wait_interrupt_stop(pid, &e) < 0) {
		printf("# child: %s\n", e.msg);
		return -1;
	}
	return pid;
}

static void rsys_test_end(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

/* /proc/PID/syscall of pid into text; its length, or -1. */
static ssize_t rsys_test_syscall(pid_t pid, char *text, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, text, size - 1);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	return n;
}

/* Waits (2 s) until pid sleeps in pause(2) at a pc in [lo, hi) (want) or
 * anywhere else (!want); 0 once it does, -1 with a diagnostic if not. */
static int rsys_test_parked(pid_t pid, uint64_t lo, uint64_t hi, bool want)
{
	char text[512] = "";

	for (int i = 0; i < 200; i++) {
		unsigned long long nr, a[6], sp, pc;

		if (rsys_test_syscall(pid, text, sizeof(text)) > 0 &&
		    sscanf(text, "%llu %llx %llx %llx %llx %llx %llx %llx %llx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5],
			   &sp, &pc) == 9 &&
		    nr == SYS_pause && (pc >= lo && pc < hi) == want)
			return 0;
		usleep(10000);
	}
	printf("# pid %d is %sparked in [%#llx, %#llx): %s", pid, want ? "not " : "", (unsigned long long)lo,
	       (unsigned long long)hi, text);
	return -1;
}

/* The gadget goes in, calls run from it, and it goes out again. */
static void rsys_park_runs_calls(void)
{
	uint8_t orig[RSYS_PARK_SIZE], now[RSYS_PARK_SIZE], zero[RSYS_PARK_SIZE] = { 0 };
	struct err e = { 0 };
	struct rsys r;
	uint64_t site;
	long res = 0;
	pid_t pid = rsys_test_child();

	CHECK(pid > 0);
	CHECK_INT(rsys_park_find(pid, &site, orig, &e), 0);
	CHECK(!memcmp(orig, zero, sizeof(zero)));
	CHECK_INT(rsys_park_write(pid, site, NULL, NULL, &e), 0);
	CHECK_INT(rsys_park_find(pid, &site, orig, &e), -EEXIST);
	CHECK_INT(rsys_begin(&r, pid, site, RSYS_SITE_SYSCALL_STOPS, NULL, &e), 0);
	CHECK_INT(rsys_call(&r, &res, SYS_getpid, 0, 0, 0, 0, 0, 0, &e), 0);
	CHECK_INT(res, pid);
	CHECK_INT(rsys_finish(&r, &e), 0);
	CHECK_INT(rsys_park_write(pid, site, zero, NULL, &e), 0);
	CHECK_INT(rsys_peek(pid, site, now, sizeof(now), &e), 0);
	CHECK(!memcmp(now, zero, sizeof(zero)));
	CHECK_INT(rsys_park_find(pid, &site, orig, &e), 0);
	rsys_test_end(pid);
}

/* Let go after a call (the tracer's death): the child parks with the
 * result in rbx and every signal blocked; seized again, it gets its own
 * registers and mask back and leaves the gadget. */
static void rsys_let_go_parks(void)
{
	struct user_regs_struct regs;
	struct err e = { 0 };
	struct rsys r;
	uint64_t site, mask = 0;
	uint8_t orig[RSYS_PARK_SIZE];
	long res = 0;
	pid_t pid = rsys_test_child();

	CHECK(pid > 0);
	CHECK_INT(rsys_park_find(pid, &site, orig, &e), 0);
	CHECK_INT(rsys_park_write(pid, site, NULL, NULL, &e), 0);
	CHECK_INT(rsys_begin(&r, pid, site, RSYS_SITE_SYSCALL_STOPS, NULL, &e), 0);
	CHECK_INT(rsys_call(&r, &res, SYS_getppid, 0, 0, 0, 0, 0, 0, &e), 0);
	CHECK_INT(res, getpid());
	CHECK_INT(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
	CHECK_INT(rsys_test_parked(pid, site, site + RSYS_PARK_SIZE, true), 0);

	CHECK_INT(tracee_seize(pid, PTRACE_O_TRACESYSGOOD, &e), 0);
	CHECK_INT(tracee_wait_interrupt_stop(pid, &e), 0);
	CHECK_INT(tracee_get_regs(pid, &regs, &e), 0);
	CHECK(rsys_in_park(regs.rip, site));
	CHECK_INT(regs.rbx, getpid());
	CHECK_INT(tracee_get_sigmask(pid, &mask, &e), 0);
	CHECK_U64(mask, ALL_BLOCKED);
	CHECK_INT(tracee_set_regs(pid, &r.saved, &e), 0);
	CHECK_INT(tracee_set_sigmask(pid, r.saved_mask, &e), 0);
	CHECK_INT(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
	/* Back in its own pause(2), in libc, not the gadget. */
	CHECK_INT(rsys_test_parked(pid, site, site + RSYS_PARK_SIZE, false), 0);
	rsys_test_end(pid);
}

/* A batch through a shared area runs every request, and the child then
 * parks in the batch loop's own wait. */
static void rsys_batch_shared_runs_and_parks(void)
{
	uint8_t *area = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct rsys_req reqs[3] = {
		{ SYS_getpid, { 0 }, 0 }, { SYS_getppid, { 0 }, 0 }, { SYS_kill, { 0, 0, 0 }, 0 },
	};
	struct err e = { 0 };
	struct rsys r;
	uint64_t site;
	uint8_t orig[RSYS_PARK_SIZE];
	pid_t pid;

	CHECK(area != MAP_FAILED);
	pid = rsys_test_child();	/* it inherits the area at the same address */
	CHECK(pid > 0);
	reqs[2].a[0] = pid;
	CHECK_INT(rsys_park_find(pid, &site, orig, &e), 0);
	CHECK_INT(rsys_park_write(pid, site, NULL, NULL, &e), 0);
	CHECK_INT(rsys_begin(&r, pid, site, RSYS_SITE_SYSCALL_STOPS, NULL, &e), 0);
	CHECK_INT(rsys_batch_shared(&r, area, (uint64_t)(uintptr_t)area, 4096, reqs, 3, &e), 0);
	CHECK_INT(reqs[0].ret, pid);
	CHECK_INT(reqs[1].ret, getpid());
	CHECK_INT(reqs[2].ret, 0);	/* kill(pid, 0) */
	CHECK_INT(*(uint32_t *)area, 1);
	/* Its registers are still in the batch loop's wait: let go now, and
	 * it waits there. */
	CHECK_INT(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
	CHECK_INT(rsys_test_parked(pid, site + RSYS_PARK_BATCH, site + RSYS_PARK_SIZE, true), 0);
	rsys_test_end(pid);
	munmap(area, 4096);
}

static const struct unit_case cases[] = {
	UNIT_CASE(rsys_park_runs_calls),
	UNIT_CASE(rsys_let_go_parks),
	UNIT_CASE(rsys_batch_shared_runs_and_parks),
};

UNIT_MAIN(cases)
