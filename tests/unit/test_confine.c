/* test_confine: lib/confine.c, the seccomp allow list of the stages that
 * parse images: a listed call works, no_new_privs is set, an unlisted one
 * kills the process with SIGSYS after one error line (in lib/log.c's
 * format, so the driver files it as the stage's last error) naming the
 * call, an ioctl request that is not listed kills it as well, and a call
 * of another ABI (int 0x80) kills it too. Each case
 * confines a child of its own. A sanitizer build is not confined
 * (confine.h): the cases skip there. */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "lib/confine.h"
#include "lib/log.h"
#include "tests/unit/unit.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* The one ioctl request a confined child may make. */
static const unsigned long ioctls[] = { FIONREAD };

/* What a confined child did: its wait status and what it logged. */
struct confined_run {
	int status;
	char log[1024];
};

/* Runs fn in a child confined to allow[], logging to a pipe. */
static void run_confined(const int *allow, size_t nr, void (*fn)(void), struct confined_run *r)
{
	int p[2];
	pid_t pid;
	ssize_t n;

#ifdef SANITIZED
	UNIT_SKIP("a sanitizer build is not confined");
#endif
	memset(r, 0, sizeof(*r));
	REQUIRE(pipe(p) == 0);
	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct err e = { 0 };

		close(p[0]);
		log_init("test-stage", LOG_INFO, p[1]);
		if (confine_install("test-stage", allow, nr, ioctls, UNIT_ARRAY_SIZE(ioctls), &e) < 0) {
			dprintf(p[1], "install failed: %s\n", e.msg);
			_exit(2);
		}
		fn();
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], r->log, sizeof(r->log) - 1);
	r->log[n > 0 ? n : 0] = 0;
	close(p[0]);
	REQUIRE(waitpid(pid, &r->status, 0) == pid);
}

/* Calls what is listed only. */
static void call_listed(void)
{
	if (getppid() <= 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		_exit(3);
}

static void confine_listed_calls_work(void)
{
	static const int allow[] = { SYS_getppid, SYS_prctl };
	struct confined_run r;

	run_confined(allow, UNIT_ARRAY_SIZE(allow), call_listed, &r);
	CHECK(WIFEXITED(r.status));
	CHECK_INT(WEXITSTATUS(r.status), 0);
	CHECK_STR(r.log, "");
}

/* Calls getuid, which is not listed. */
static void call_unlisted(void)
{
	syscall(SYS_getuid);
	_exit(4);	/* never reached */
}

static void confine_unlisted_call_kills(void)
{
	static const int allow[] = { SYS_getppid };
	struct confined_run r;
	char want[64];

	run_confined(allow, UNIT_ARRAY_SIZE(allow), call_unlisted, &r);
	CHECK(WIFSIGNALED(r.status));
	CHECK_INT(WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0, SIGSYS);
	snprintf(want, sizeof(want), "test-stage: E: system call %d is not", SYS_getuid);
	CHECK_CONTAINS(r.log, want);
	CHECK_CONTAINS(r.log, "seccomp allow list");
}

/* A listed ioctl request works; another one kills. */
static void call_ioctls(void)
{
	int p[2], n = -1;

	if (pipe(p) < 0 || ioctl(p[0], FIONREAD, &n) < 0 || n != 0)
		_exit(6);
	ioctl(p[0], FIOCLEX);
	_exit(7);	/* never reached */
}

static void confine_ioctl_requests(void)
{
	static const int allow[] = { SYS_pipe, SYS_pipe2, SYS_ioctl };
	struct confined_run r;

	run_confined(allow, UNIT_ARRAY_SIZE(allow), call_ioctls, &r);
	CHECK(WIFSIGNALED(r.status));
	CHECK_INT(WIFSIGNALED(r.status) ? WTERMSIG(r.status) : WEXITSTATUS(r.status), SIGSYS);
	CHECK_CONTAINS(r.log, "system call 16 (ioctl request 0x5451) is not");
}

/* getpid through the 32-bit entry (int 0x80, i386 number 20). */
static void call_other_abi(void)
{
	long ret = 20;

	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	_exit(5);
}

static void confine_other_abi_kills(void)
{
	static const int allow[] = { SYS_getpid };
	struct confined_run r;

	run_confined(allow, UNIT_ARRAY_SIZE(allow), call_other_abi, &r);
	if (WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSEGV)
		UNIT_SKIP("this kernel has no 32-bit system calls");
	CHECK(WIFSIGNALED(r.status));
	CHECK_INT(WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0, SIGSYS);
}

static const struct unit_case cases[] = {
	UNIT_CASE(confine_listed_calls_work),
	UNIT_CASE(confine_unlisted_call_kills),
	UNIT_CASE(confine_ioctl_requests),
	UNIT_CASE(confine_other_abi_kills),
};

UNIT_MAIN(cases)
