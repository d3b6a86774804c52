/* amber: checkpoint and restore Linux process trees.
 *
 * The driver parses the command line and runs the stage executables of a
 * pipeline (driver/dump.c, driver/restore.c); 'show', 'check' and 'stage'
 * are tools around them. See doc/amber.1.
 */
#include <stdio.h>
#include <string.h>

#include "driver/driver.h"
#include "lib/exitcodes.h"
#include "lib/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: amber COMMAND [options]\n\n"
		"  dump -t PID -D DIR [--leave-running]   checkpoint the tree of PID into DIR\n"
		"  pre-dump -t PID -D DIR [--prev-images-dir PREV]  copy its memory, track writes; it runs on\n"
		"  restore -D DIR [-d] [--pidfile FILE]   restore a dump; without -d, wait for it\n"
		"  show FILE|DIR [--json] | --stream FILE decode an image, a dump or a stage recording\n"
		"  gc -D DIR [--show]                     remove the link remaps a dump left behind\n"
		"  mount-delayed -D DIR --list|--mount MP list a restore's delayed mounts, mount one and move the tree onto it\n"
		"  check [-v]                             test the kernel features amber needs\n"
		"  stage NAME [--replay RUN] [ARGS]       run one stage by hand\n"
		"  swrk FD                                serve a container runtime's RPC (runc --criu amber)\n"
		"  page-server --port N [--address A] -D DIR  receive the pages of dumps (--page-server A:N)\n"
		"  migrate -t PID -D DIR                  pre-dumps, a final dump, a restore with lazy pages\n\n"
		"common options: -v[N] (0-4), -o LOGFILE, --run-dir DIR\n"
		"see amber(1)\n");
}

int main(int argc, char **argv)
{
	log_init("amber", LOG_INFO, 2);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("amber %s\n", AMBER_VERSION);
		return 0;
	}
	drv_set_command(argv[1]);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pre-dump"))
		return cmd_predump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "restore"))
		return cmd_restore(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return cmd_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stage"))
		return cmd_stage(argc - 1, argv + 1);
	if (!strcmp(argv[1], "migrate"))
		return cmd_migrate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "page-server"))
		return cmd_page_server(argc - 1, argv + 1);
	if (!strcmp(argv[1], "gc"))
		return cmd_gc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "swrk"))
		return cmd_swrk(argc - 1, argv + 1);
	if (!strcmp(argv[1], "mount-delayed"))
		return cmd_mount_delayed(argc - 1, argv + 1);
	drv_set_command(NULL);
	drv_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
