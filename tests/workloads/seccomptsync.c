/* seccomptsync: one seccomp filter given to every thread at once
 * (SECCOMP_FILTER_FLAG_TSYNC), as sandboxes of multi-threaded programs do.
 *
 *	seccomptsync READYFILE RESULTFILE
 *
 * Three threads are started, then the main thread installs a filter that
 * fails getpgid with errno 66, with TSYNC, so all four threads share it.
 * After SIGUSR1 every thread calls getpgid and must see errno 66; the
 * threads then return, the main thread joins them, writes PASS or FAIL
 * lines to RESULTFILE and exits normally, which the test checks too (a
 * restored tree that hangs here fails by timeout).
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

static volatile int go;
static int seen[4];

static int getpgid_errno(void)
{
	errno = 0;
	if (syscall(SYS_getpgid, 0) >= 0)
		return 0;
	return errno;
}

static void *thread_main(void *arg)
{
	int i = (int)(long)arg;

	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		usleep(1000);
	seen[i] = getpgid_errno();
	return NULL;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpgid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 66),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	pthread_t th[3];

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	for (int i = 0; i < 3; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(long)(i + 1)) != 0)
			return 1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	seen[0] = getpgid_errno();
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		if (seen[i] != 66)
			wl_fail(&r, "thread %d: getpgid gave errno %d, want 66 from the shared filter", i, seen[i]);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
