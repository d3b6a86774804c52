/* test_tracee: tracee_regs_restart_syscall (lib/tracee.c), how a system call
 * interrupted by the dump is set up to run again after restore. */
#include <errno.h>
#include <sys/syscall.h>

#include "lib/tracee.h"
#include "tests/unit/unit.h"

/* Registers of a task stopped inside syscall nr, which returned code. */
static struct user_regs_struct in_syscall(long nr, long code)
{
	struct user_regs_struct r = { 0 };

	r.orig_rax = nr;
	r.rax = code;
	r.rip = 0x401002;	/* just after the 2-byte syscall instruction */
	r.rdi = 0x7ffc0000;
	return r;
}

static void restart_codes_rerun_the_call(void)
{
	static const long codes[] = { -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct user_regs_struct r = in_syscall(SYS_poll, codes[i]);

		CHECK(tracee_regs_restart_syscall(&r));
		CHECK_INT(r.rax, SYS_poll);
		CHECK_INT(r.rip, 0x401000);
		CHECK_INT((long)r.orig_rax, -1);
		CHECK_INT(r.rdi, 0x7ffc0000);	/* arguments untouched */
	}
}

static void restart_syscall_itself_gives_eintr(void)
{
	struct user_regs_struct r = in_syscall(SYS_restart_syscall, -ERESTART_RESTARTBLOCK);

	CHECK(tracee_regs_restart_syscall(&r));
	CHECK_INT((long)r.rax, -EINTR);
	CHECK_INT(r.rip, 0x401002);
}

static void finished_or_no_syscall_is_left_alone(void)
{
	struct user_regs_struct r = in_syscall(SYS_read, 5);

	CHECK(!tracee_regs_restart_syscall(&r));
	CHECK_INT(r.rax, 5);
	r = in_syscall(-1, -ERESTARTSYS);
	CHECK(!tracee_regs_restart_syscall(&r));
	CHECK_INT(r.rip, 0x401002);
}

static const struct unit_case cases[] = {
	UNIT_CASE(restart_codes_rerun_the_call),
	UNIT_CASE(restart_syscall_itself_gives_eintr),
	UNIT_CASE(finished_or_no_syscall_is_left_alone),
};
UNIT_MAIN(cases)
