/* migrate: 'amber migrate -t PID -D DIR', the live-migration sequence on
 * one machine (doc/migration.md): pre-dump iterations into DIR/pre-N, each
 * against the one before, until the set of pages written between two
 * iterations stops shrinking (or --max-iterations); the final dump into
 * DIR/final against the last; then a restore of DIR/final with lazy
 * pages. Each step is this amber run again as a command of its own, so
 * its output, its failure handling and its rollback are the command's. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/driver.h"
#include "images/image.h"
#include "lib/exitcodes.h"
#include "lib/log.h"

#define MIGRATE_MAX_ITERS 16

/* Runs this amber with args; its exit status. */
static int migrate_step(char *const args[])
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int st;
	pid_t c;

	if (n < 0)
		return EXIT_SYSTEM;
	self[n] = 0;
	c = fork();
	if (c < 0)
		return EXIT_SYSTEM;
	if (c == 0) {
		execv(self, args);
		_exit(127);
	}
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR)
			return EXIT_SYSTEM;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_SYSTEM;
}

/* Pages the pages images of directory dir hold. */
static uint64_t migrate_pages(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t pages = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;

		if (strncmp(de->d_name, "pages-", 6) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    st.st_size < IMAGE_PAGES_HDR_SIZE)
			continue;
		pages += (st.st_size - IMAGE_PAGES_HDR_SIZE) / IMAGE_PAGE_SIZE;
	}
	closedir(d);
	return pages;
}

static void migrate_usage(FILE *f)
{
	fprintf(f, "usage: amber migrate -t PID -D DIR [--max-iterations N] [--lazy-push-rate MIB] [--pidfile FILE] [-v N]\n"
		   "  pre-dumps the tree of PID into DIR/pre-1, DIR/pre-2, ... while it runs, each copying only what\n"
		   "  was written since the one before, until that stops shrinking (at most N, default 8); dumps it\n"
		   "  into DIR/final, copying only what was written since; restores DIR/final with --lazy-pages.\n");
}

int cmd_migrate(int argc, char **argv)
{
	const char *pid = NULL, *dir = NULL, *rate = NULL, *pidfile = NULL, *verb = NULL;
	char paths[MIGRATE_MAX_ITERS + 1][PATH_MAX], pidpath[32];
	uint64_t pages[MIGRATE_MAX_ITERS + 1];
	int max = 8, n = 0, rc;

	/* Options come as NAME VALUE pairs: two words a step. */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			migrate_usage(stdout);
			return 0;
		}
		if (!v) {
			drv_error("'%s' needs a value, or is not an option of migrate", a);
			return EXIT_USAGE;
		}
		if (!strcmp(a, "-t"))
			pid = v;
		else if (!strcmp(a, "-D"))
			dir = v;
		else if (!strcmp(a, "--max-iterations"))
			max = atoi(v);
		else if (!strcmp(a, "--lazy-push-rate"))
			rate = v;
		else if (!strcmp(a, "--pidfile"))
			pidfile = v;
		else if (!strcmp(a, "-v"))
			verb = v;
		else {
			drv_error("unknown option '%s' of migrate", a);
			migrate_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!pid || !dir || atoi(pid) <= 0 || max < 1 || max > MIGRATE_MAX_ITERS) {
		drv_error("need -t PID and -D DIR (and --max-iterations 1..%d)", MIGRATE_MAX_ITERS);
		migrate_usage(stderr);
		return EXIT_USAGE;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		drv_error("make '%s': %s", dir, strerror(errno));
		return EXIT_SYSTEM;
	}
	/* Pre-dump iterations while the tree runs. */
	for (n = 0; n < max; n++) {
		char *args[16];
		int k = 0;

		snprintf(paths[n], sizeof(paths[n]), "%s/pre-%d", dir, n + 1);
		args[k++] = "amber";
		args[k++] = "pre-dump";
		args[k++] = "-t";
		args[k++] = (char *)pid;
		args[k++] = "-D";
		args[k++] = paths[n];
		if (n) {
			args[k++] = "--prev-images-dir";
			args[k++] = paths[n - 1];
		}
		if (verb) {
			args[k++] = "-v";
			args[k++] = (char *)verb;
		}
		args[k] = NULL;
		if ((rc = migrate_step(args)) != 0) {
			drv_error("migrate: pre-dump %d of pid %s failed (above); the tree runs on where it was", n + 1, pid);
			return rc;
		}
		pages[n] = migrate_pages(paths[n]);
		printf("amber migrate: pre-dump %d copied %llu pages\n", n + 1, (unsigned long long)pages[n]);
		fflush(stdout);
		/* Converged: this iteration copied no less than 9/10 of the one before. */
		if (n && pages[n] * 10 >= pages[n - 1] * 9) {
			n++;
			break;
		}
	}
	/* The final dump: only what was written since the last pre-dump. */
	{
		char final[PATH_MAX + 8];
		char *args[12];
		int k = 0;

		snprintf(final, sizeof(final), "%s/final", dir);
		args[k++] = "amber";
		args[k++] = "dump";
		args[k++] = "-t";
		args[k++] = (char *)pid;
		args[k++] = "-D";
		args[k++] = final;
		args[k++] = "--prev-images-dir";
		args[k++] = paths[n - 1];
		if (verb) {
			args[k++] = "-v";
			args[k++] = (char *)verb;
		}
		args[k] = NULL;
		if ((rc = migrate_step(args)) != 0) {
			drv_error("migrate: the final dump of pid %s failed (above); the tree runs on where it was", pid);
			return rc;
		}
		printf("amber migrate: the final dump copied %llu pages after %d pre-dumps\n",
		       (unsigned long long)migrate_pages(final), n);
		fflush(stdout);
		/* The dumped tree is gone; whoever reaps orphans may take a moment. */
		snprintf(pidpath, sizeof(pidpath), "/proc/%s", pid);
		for (int i = 0; i < 100 && access(pidpath, F_OK) == 0; i++)
			usleep(100000);
		k = 0;
		args[k++] = "amber";
		args[k++] = "restore";
		args[k++] = "-D";
		args[k++] = final;
		args[k++] = "-d";
		args[k++] = "--lazy-pages";
		if (rate) {
			args[k++] = "--lazy-push-rate";
			args[k++] = (char *)rate;
		}
		if (pidfile) {
			args[k++] = "--pidfile";
			args[k++] = (char *)pidfile;
		}
		args[k] = NULL;
		if ((rc = migrate_step(args)) != 0) {
			drv_error("migrate: the restore of '%s' failed (above); the dump is there to restore again", final);
			return rc;
		}
	}
	printf("amber migrate: pid %s runs again from '%s/final', its memory served by amber-lazy-pages\n", pid, dir);
	return 0;
}
