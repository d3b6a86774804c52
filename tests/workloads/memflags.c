/* memflags: memory locks and droppable mappings (issue 12: "state that is
 * lost today").
 *
 *	memflags READYFILE RESULTFILE
 *
 * Before the dump: region A (4 pages) locked with mlock and filled; region
 * B (4 pages) locked with mlock2(MLOCK_ONFAULT), its first page written;
 * region C (2 pages) a MAP_DROPPABLE mapping; region D (2 pages) written
 * and given MADV_WIPEONFORK, region E (2 pages) given MADV_WIPEONFORK and
 * then MADV_KEEPONFORK. After SIGUSR1 it reads its own smaps and checks
 * that A is locked ("lo", not "lf"), B locked on fault ("lo" and "lf"),
 * C droppable ("dp"), D wiped on fork ("wf", its bytes kept here and zero
 * in a child it forks), E not ("wf" gone), and that A's and B's bytes are
 * what they were; PASS or FAIL lines go to RESULTFILE.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096
#define WL_MAP_DROPPABLE 0x08
#define WL_MLOCK_ONFAULT 1

/* The VmFlags line of the VMA that starts at addr, in buf. */
static int vmflags_of(void *addr, char *buf, size_t size)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, found = 0;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && !strncmp(line, want, strlen(want)))
			in = 1;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(buf, size, "%s", line + 8);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found ? 0 : -1;
}

static int has_flag(const char *flags, const char *f)
{
	char pat[8];

	snprintf(pat, sizeof(pat), " %s", f);
	return strstr(flags, pat) != NULL;
}

int main(int argc, char **argv)
{
	char report[4096] = "", fl[256];
	struct wl_report r = { report, sizeof(report), 0 };
	unsigned char *a, *b, *c, *d, *f;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, WL_MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	d = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED || c == MAP_FAILED || d == MAP_FAILED || f == MAP_FAILED)
		return 1;
	memset(d, 0x3c, 2 * PG);
	memset(f, 0x4d, 2 * PG);
	if (madvise(d, 2 * PG, MADV_WIPEONFORK) < 0 || madvise(f, 2 * PG, MADV_WIPEONFORK) < 0 ||
	    madvise(f, 2 * PG, MADV_KEEPONFORK) < 0)
		return 1;
	for (int i = 0; i < 4 * PG; i++)
		a[i] = (unsigned char)(i * 13 + 1);
	memset(b, 0x5a, PG);
	if (mlock(a, 4 * PG) < 0 || syscall(SYS_mlock2, b, 4 * PG, WL_MLOCK_ONFAULT) < 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (vmflags_of(a, fl, sizeof(fl)) < 0 || !has_flag(fl, "lo") || has_flag(fl, "lf"))
		wl_fail(&r, "region A is not locked as by mlock (VmFlags:%s)", fl);
	if (vmflags_of(b, fl, sizeof(fl)) < 0 || !has_flag(fl, "lo") || !has_flag(fl, "lf"))
		wl_fail(&r, "region B is not locked on fault (VmFlags:%s)", fl);
	if (vmflags_of(c, fl, sizeof(fl)) < 0 || !has_flag(fl, "dp"))
		wl_fail(&r, "region C is not droppable (VmFlags:%s)", fl);
	if (vmflags_of(d, fl, sizeof(fl)) < 0 || !has_flag(fl, "wf"))
		wl_fail(&r, "region D is not wiped on fork (VmFlags:%s)", fl);
	if (vmflags_of(f, fl, sizeof(fl)) < 0 || has_flag(fl, "wf"))
		wl_fail(&r, "region E is wiped on fork, after MADV_KEEPONFORK (VmFlags:%s)", fl);
	if (d[0] != 0x3c || d[2 * PG - 1] != 0x3c || f[0] != 0x4d)
		wl_fail(&r, "regions D or E lost their bytes");
	{
		pid_t kid = fork();
		int status;

		/* In a child D reads as zeros and E as it was. */
		if (kid == 0)
			_exit(d[0] == 0 && d[2 * PG - 1] == 0 && f[0] == 0x4d ? 0 : 1);
		if (kid < 0 || waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status))
			wl_fail(&r, "a forked child does not see D wiped and E kept");
	}
	for (int i = 0; i < 4 * PG; i++)
		if (a[i] != (unsigned char)(i * 13 + 1)) {
			wl_fail(&r, "region A byte %d changed", i);
			break;
		}
	for (int i = 0; i < PG; i++)
		if (b[i] != 0x5a) {
			wl_fail(&r, "region B byte %d changed", i);
			break;
		}
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
