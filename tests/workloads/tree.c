/* tree: a self-checking process tree with several sessions, process groups,
 * an orphan and zombies, for amber's tree restore.
 *
 *	tree READYFILE RESULTFILE DIR [leaderless]
 *
 * Start it as a session leader (setsid; tests/workloads/reaper does that). It
 * becomes a child subreaper and builds this tree (sid/pgid are pids of roles):
 *
 *	role		parent	session	group	what
 *	root		-	root	root	session leader, subreaper
 *	sess		root	sess	sess	setsid(): leader of a second session
 *	sess-kid	sess	sess	sess
 *	sess-grp	sess	sess	sess-grp  setpgid(): own group in that session
 *	sess-zombie	sess	sess	sess	exited 7, not reaped by sess
 *	grp		root	root	grp	leader of a second group of root's session
 *	grp-kid		grp	root	grp
 *	orphan		root	root	grp	its parent exited; re-parented to the
 *					  subreaper root; joined grp's group
 *	zombie		root	root	root	exited 42, not reaped by root
 * With "leaderless" also (the cases that need helper tasks to restore):
 *	no-grp-leader	root	root	(gone)	its group's leader exited
 *	no-sess-leader	root	(gone)	(gone)	its session's leader exited
 *
 * Every process records its pid, ppid, pgid and sid in DIR/ROLE.info (a
 * zombie's parent does it for the zombie); the root then writes the whole
 * table to DIR/tree, one line per role:
 *	ROLE PID PPID PGID SID live|zombie
 * and "READY <pid>" to READYFILE (by rename). The test can compare the table
 * with /proc after a restore (the root's own parent is not meant to stay).
 *
 * Then everything waits in pause(2) for SIGUSR1. The test sends SIGUSR1 to
 * the root (again if the first one is missed); the root sends it on to every
 * live process until each has written DIR/ROLE.result. Each process checks:
 *	pid, tid, ppid (not the root's), pgid, sid, comm "tree-ROLE";
 *	memory: 1 MiB of its own heap pattern, a buffer inherited from the root
 *	whose first half must still hold the root's pattern (copy-on-write
 *	pages never written since the fork) and whose second half holds its own;
 *	sess: waitpid(sess-zombie) gives exit status 7;
 *	root: waitpid(zombie) gives exit status 42.
 * and writes "PASS" or "FAIL: ROLE: what" lines to DIR/ROLE.result. The root
 * collects them into RESULTFILE: "PASS", or every failing line (a process that
 * gives no verdict within 20 s is a failure too). Everything then exits: a
 * parent reaps its children, the root reaps the rest and exits 0 on PASS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

enum tree_role {
	ROOT, SESS, SESS_KID, SESS_GRP, SESS_ZOMBIE, GRP, GRP_KID, ORPHAN, ZOMBIE,
	NO_GRP_LEADER, NO_SESS_LEADER, NR_ROLES
};

static const char *const tree_names[NR_ROLES] = {
	"root", "sess", "sess-kid", "sess-grp", "sess-zombie", "grp", "grp-kid", "orphan", "zombie",
	"no-grp-leader", "no-sess-leader",
};

#define HEAP_SIZE (1 << 20)
#define INHERIT_SIZE (256 * 1024)
#define WAIT_SECS 20

static char tree_dir[PATH_MAX];
static int tree_leaderless;

/* What this process recorded before the wait. */
static struct {
	int role;
	pid_t pid, ppid, pgid, sid;
	uint8_t *heap;
	uint8_t *inherit;	/* allocated and filled by the root before any fork */
} me;

static char tree_report_text[8192];
static struct wl_report tree_report = { .text = tree_report_text, .size = sizeof(tree_report_text) };

/* Adds "FAIL: ROLE (pid N): ..." to this process's report. */
static void __attribute__((format(printf, 1, 2))) tree_fail(const char *fmt, ...)
{
	char who[64];
	va_list ap;

	snprintf(who, sizeof(who), "%s (pid %d)", tree_names[me.role], (int)me.pid);
	va_start(ap, fmt);
	wl_vfail(&tree_report, who, fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn)) tree_die(const char *what)
{
	fprintf(stderr, "tree: %s (pid %d): setup: %s: %s\n", tree_names[me.role], (int)getpid(), what, strerror(errno));
	exit(2);
}

static uint8_t tree_byte(size_t i, unsigned seed)
{
	return (uint8_t)(i * 131 + seed * 29 + (i >> 12) * 7 + 3);
}

static void tree_fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = tree_byte(i, seed);
}

static long tree_check(const uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != tree_byte(i, seed))
			return (long)i;
	return -1;
}

static void tree_path(char *dst, size_t cap, int role, const char *suffix)
{
	snprintf(dst, cap, "%s/%s.%s", tree_dir, tree_names[role], suffix);
}

/* Writes DIR/ROLE.info: "ROLE PID PPID PGID SID live|zombie". */
static void tree_write_info(int role, pid_t pid, pid_t ppid, pid_t pgid, pid_t sid, const char *state)
{
	char path[PATH_MAX + 32], line[128];

	tree_path(path, sizeof(path), role, "info");
	snprintf(line, sizeof(line), "%s %d %d %d %d %s\n", tree_names[role], (int)pid, (int)ppid, (int)pgid, (int)sid, state);
	if (wl_write_file(path, line) < 0)
		tree_die("write the info file");
}

/* Becomes ROLE in a fresh child: own comm, own heap pattern, own half of the
 * inherited buffer. */
static void tree_become(int role)
{
	char comm[16];

	me.role = role;
	me.pid = getpid();
	snprintf(comm, sizeof(comm), "tree-%s", tree_names[role]);
	prctl(PR_SET_NAME, comm);
	me.heap = malloc(HEAP_SIZE);
	if (!me.heap)
		tree_die("malloc");
	tree_fill(me.heap, HEAP_SIZE, 1 + role);
	if (role != ROOT)
		tree_fill(me.inherit + INHERIT_SIZE / 2, INHERIT_SIZE / 2, 50 + role);
}

/* Records the ids this process must find again, in memory and in DIR. */
static void tree_record(void)
{
	me.ppid = getppid();
	me.pgid = getpgid(0);
	me.sid = getsid(0);
	tree_write_info(me.role, me.pid, me.ppid, me.pgid, me.sid, "live");
}

/* Waits until this process's parent is ppid (an orphan being re-parented). */
static void tree_wait_parent(pid_t ppid)
{
	double end = wl_now() + 10;

	while (getppid() != ppid) {
		if (wl_now() > end) {
			errno = ETIMEDOUT;
			tree_die("wait to be re-parented to the root");
		}
		wl_sleep_ms(1);
	}
}

/* Blocks until pid has exited, leaving it a zombie (not reaped). */
static void tree_wait_zombie(pid_t pid)
{
	siginfo_t si;

	while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			tree_die("waitid for the zombie");
}

/* Reaps this process's children (all of them, for the root) for up to secs. */
static void tree_reap_all(double secs)
{
	double end = wl_now() + secs;

	for (;;) {
		pid_t got = waitpid(-1, NULL, WNOHANG);

		if (got < 0 && errno == ECHILD)
			return;
		if (got <= 0) {
			if (wl_now() > end)
				return;
			wl_sleep_ms(5);
		}
	}
}

/* Gets the exit status of child pid, which must already be a zombie. */
static void tree_check_zombie(pid_t pid, const char *what, int want)
{
	double end = wl_now() + 2;
	int st = 0;
	pid_t got;

	while ((got = waitpid(pid, &st, WNOHANG)) == 0 && wl_now() < end)
		wl_sleep_ms(5);
	if (got == 0)
		tree_fail("%s pid %d has not exited 2 s after the wakeup (not restored as a zombie?)", what, (int)pid);
	else if (got < 0)
		tree_fail("waitpid(%s pid %d): %s", what, (int)pid, strerror(errno));
	else if (!WIFEXITED(st))
		tree_fail("%s pid %d ended with wait status %#x, want exit %d", what, (int)pid, st, want);
	else if (WEXITSTATUS(st) != want)
		tree_fail("%s pid %d exit status %d, want %d", what, (int)pid, WEXITSTATUS(st), want);
}

static void tree_verify(void)
{
	char comm[17] = "", want[16];
	long off;

	if (getpid() != me.pid)
		tree_fail("getpid() is %d, was %d", (int)getpid(), (int)me.pid);
	if (syscall(SYS_gettid) != me.pid)
		tree_fail("gettid() is %ld, was %d", syscall(SYS_gettid), (int)me.pid);
	if (me.role != ROOT && getppid() != me.ppid)
		tree_fail("getppid() is %d, was %d", (int)getppid(), (int)me.ppid);
	if (getpgid(0) != me.pgid)
		tree_fail("process group is %d, was %d", (int)getpgid(0), (int)me.pgid);
	if (getsid(0) != me.sid)
		tree_fail("session is %d, was %d", (int)getsid(0), (int)me.sid);
	prctl(PR_GET_NAME, comm);
	snprintf(want, sizeof(want), "tree-%s", tree_names[me.role]);
	if (strcmp(comm, want))
		tree_fail("comm is '%s', was '%s'", comm, want);
	if ((off = tree_check(me.heap, HEAP_SIZE, 1 + me.role)) >= 0)
		tree_fail("heap pattern differs at byte %ld", off);
	if ((off = tree_check(me.inherit, INHERIT_SIZE / 2, 0)) >= 0)
		tree_fail("inherited buffer (never written since the fork) differs from the root's pattern at byte %ld", off);
	if ((off = tree_check(me.inherit + INHERIT_SIZE / 2, INHERIT_SIZE / 2, me.role == ROOT ? 99 : 50 + me.role)) >= 0)
		tree_fail("own half of the inherited buffer differs at byte %ld", off);
}

/* A non-root process's life after setup: wait, check, report, reap, exit. */
static void __attribute__((noreturn)) tree_serve(pid_t zombie, int zombie_status)
{
	char path[PATH_MAX + 32];

	wl_wait_usr1();
	tree_verify();
	if (zombie > 0)
		tree_check_zombie(zombie, tree_names[SESS_ZOMBIE], zombie_status);
	tree_path(path, sizeof(path), me.role, "result");
	if (wl_write_result(path, &tree_report) < 0)
		tree_die("write the result file");
	tree_reap_all(WAIT_SECS);
	exit(tree_report.nfails ? 1 : 0);
}

/* Forks a child that runs fn; the parent gets the pid. */
static pid_t tree_fork(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid < 0)
		tree_die("fork");
	if (pid == 0) {
		fn();
		_exit(0);
	}
	return pid;
}

static void tree_sess_kid(void)
{
	tree_become(SESS_KID);
	tree_record();
	tree_serve(0, 0);
}

static void tree_sess_grp(void)
{
	tree_become(SESS_GRP);
	if (setpgid(0, 0) < 0)
		tree_die("setpgid");
	tree_record();
	tree_serve(0, 0);
}

static void tree_sess_zombie(void)
{
	_exit(7);
}

static void tree_sess(void)
{
	pid_t kid, zombie;

	tree_become(SESS);
	if (setsid() < 0)
		tree_die("setsid");
	tree_fork(tree_sess_kid);
	kid = tree_fork(tree_sess_grp);
	setpgid(kid, kid);	/* both sides, so neither races the other */
	zombie = tree_fork(tree_sess_zombie);
	tree_wait_zombie(zombie);
	tree_write_info(SESS_ZOMBIE, zombie, getpid(), getpgid(0), getsid(0), "zombie");
	tree_record();
	tree_serve(zombie, 7);
}

static void tree_grp_kid(void)
{
	tree_become(GRP_KID);
	tree_record();
	tree_serve(0, 0);
}

static void tree_grp(void)
{
	tree_become(GRP);
	if (setpgid(0, 0) < 0)
		tree_die("setpgid");
	tree_fork(tree_grp_kid);
	tree_record();
	tree_serve(0, 0);
}

static pid_t tree_root_pid, tree_grp_pid;

static void tree_orphan(void)
{
	tree_become(ORPHAN);
	if (setpgid(0, tree_grp_pid) < 0)
		tree_die("setpgid into grp's group");
	tree_wait_parent(tree_root_pid);
	tree_record();
	tree_serve(0, 0);
}

/* The orphan's first parent: forks it and exits at once. */
static void tree_orphan_parent(void)
{
	tree_fork(tree_orphan);
	_exit(0);
}

static void tree_zombie(void)
{
	_exit(42);
}

static void tree_no_grp_leader(void)
{
	tree_become(NO_GRP_LEADER);
	tree_wait_parent(tree_root_pid);
	tree_record();
	tree_serve(0, 0);
}

/* Leads a group, forks a member and exits: the group lives on leaderless. */
static void tree_gone_grp_leader(void)
{
	if (setpgid(0, 0) < 0)
		tree_die("setpgid");
	tree_fork(tree_no_grp_leader);
	_exit(0);
}

static void tree_no_sess_leader(void)
{
	tree_become(NO_SESS_LEADER);
	tree_wait_parent(tree_root_pid);
	tree_record();
	tree_serve(0, 0);
}

/* Leads a session, forks a member and exits: the session lives on leaderless. */
static void tree_gone_sess_leader(void)
{
	if (setsid() < 0)
		tree_die("setsid");
	tree_fork(tree_no_sess_leader);
	_exit(0);
}

/* Forks a child that exits at once, and reaps it (so only its child stays). */
static void tree_fork_and_reap(void (*fn)(void))
{
	pid_t pid = tree_fork(fn);
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			tree_die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		errno = ECHILD;
		tree_die("an intermediate parent failed");
	}
}

/* Waits until every role has written its info file; returns the number of roles. */
static int tree_wait_infos(void)
{
	int nroles = tree_leaderless ? NR_ROLES : NO_GRP_LEADER;
	double end = wl_now() + 10;

	for (int r = 0; r < nroles; r++) {
		char path[PATH_MAX + 32];

		tree_path(path, sizeof(path), r, "info");
		while (access(path, F_OK) < 0) {
			if (wl_now() > end) {
				fprintf(stderr, "tree: %s never wrote %s\n", tree_names[r], path);
				exit(2);
			}
			wl_sleep_ms(2);
		}
	}
	return nroles;
}

/* The pid of a role from its info file, or 0. */
static pid_t tree_info_pid(int role, char *state, size_t cap)
{
	char path[PATH_MAX + 32], buf[256], name[64], st[16];
	int pid, ppid, pgid, sid;

	tree_path(path, sizeof(path), role, "info");
	if (wl_read_file(path, buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%63s %d %d %d %d %15s", name, &pid, &ppid, &pgid, &sid, st) != 6)
		return 0;
	if (state)
		snprintf(state, cap, "%s", st);
	return pid;
}

/* The root after the wakeup: wakes the others until each has a verdict,
 * checks itself, and writes the overall verdict. */
static void tree_root_collect(int nroles, const char *result, pid_t zombie)
{
	char path[PATH_MAX + 32], buf[4096];
	static char all[65536];
	int have[NR_ROLES] = { 0 };
	double end = wl_now() + WAIT_SECS;
	int missing;

	do {
		missing = 0;
		for (int r = 1; r < nroles; r++) {
			char state[16];
			pid_t pid;

			if (have[r])
				continue;
			pid = tree_info_pid(r, state, sizeof(state));
			if (!strcmp(state, "zombie")) {
				have[r] = 1;
				continue;
			}
			tree_path(path, sizeof(path), r, "result");
			if (access(path, F_OK) == 0) {
				have[r] = 1;
				continue;
			}
			missing++;
			if (pid > 0)
				kill(pid, SIGUSR1);
		}
		if (missing)
			wl_sleep_ms(50);
	} while (missing && wl_now() < end);

	tree_verify();
	tree_check_zombie(zombie, tree_names[ZOMBIE], 42);
	all[0] = 0;
	strcat(all, tree_report.text);
	for (int r = 1; r < nroles; r++) {
		char state[16] = "";
		pid_t pid = tree_info_pid(r, state, sizeof(state));

		if (!strcmp(state, "zombie"))
			continue;
		tree_path(path, sizeof(path), r, "result");
		if (wl_read_file(path, buf, sizeof(buf)) < 0) {
			snprintf(buf, sizeof(buf), "FAIL: %s (pid %d): no verdict within %d s\n", tree_names[r], (int)pid, WAIT_SECS);
			tree_report.nfails++;
		} else if (strcmp(buf, "PASS\n")) {
			tree_report.nfails++;
		} else {
			continue;
		}
		if (strlen(all) + strlen(buf) < sizeof(all) - 1)
			strcat(all, buf);
	}
	if (wl_write_file(result, tree_report.nfails ? all : "PASS\n") < 0)
		tree_die("write the result file");
	if (tree_report.nfails)
		fputs(all, stderr);
}

static void tree_abspath(char *dst, const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/') {
		snprintf(dst, PATH_MAX, "%s", path);
		return;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		tree_die("getcwd");
	if (snprintf(dst, PATH_MAX, "%s/%s", cwd, path) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		tree_die(path);
	}
}

int main(int argc, char **argv)
{
	static char ready[PATH_MAX], result[PATH_MAX];
	char path[PATH_MAX + 32];
	static char table[8192];
	pid_t zombie;
	int nroles;

	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "leaderless"))) {
		fprintf(stderr, "usage: tree READYFILE RESULTFILE DIR [leaderless]\n");
		return 2;
	}
	tree_leaderless = argc == 5;
	tree_abspath(ready, argv[1]);
	tree_abspath(result, argv[2]);
	tree_abspath(tree_dir, argv[3]);
	if (mkdir(tree_dir, 0755) < 0 && errno != EEXIST)
		tree_die("mkdir DIR");

	if (wl_catch_usr1() < 0)
		tree_die("sigaction");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		tree_die("PR_SET_CHILD_SUBREAPER");
	tree_root_pid = getpid();
	me.inherit = malloc(INHERIT_SIZE);
	if (!me.inherit)
		tree_die("malloc");
	tree_fill(me.inherit, INHERIT_SIZE, 0);
	tree_become(ROOT);

	tree_fork(tree_sess);
	tree_grp_pid = tree_fork(tree_grp);
	setpgid(tree_grp_pid, tree_grp_pid);
	tree_fork_and_reap(tree_orphan_parent);
	zombie = tree_fork(tree_zombie);
	if (tree_leaderless) {
		tree_fork_and_reap(tree_gone_grp_leader);
		tree_fork_and_reap(tree_gone_sess_leader);
	}
	/* The root's own half of the inherited buffer, written after the forks. */
	tree_fill(me.inherit + INHERIT_SIZE / 2, INHERIT_SIZE / 2, 99);
	tree_wait_zombie(zombie);
	tree_write_info(ZOMBIE, zombie, getpid(), getpgid(0), getsid(0), "zombie");
	tree_record();

	nroles = tree_wait_infos();
	table[0] = 0;
	for (int r = 0; r < nroles; r++) {
		char buf[256];

		tree_path(path, sizeof(path), r, "info");
		if (wl_read_file(path, buf, sizeof(buf)) <= 0)
			tree_die("read an info file");
		strcat(table, buf);
	}
	snprintf(path, sizeof(path), "%s/tree", tree_dir);
	if (wl_write_file(path, table) < 0)
		tree_die("write DIR/tree");
	if (wl_write_ready(ready, me.pid) < 0)
		tree_die("write the ready file");

	wl_wait_usr1();
	tree_root_collect(nroles, result, zombie);
	tree_reap_all(WAIT_SECS);
	return tree_report.nfails ? 1 : 0;
}
