/* opts: see opts.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>

#include "driver/driver.h"
#include "driver/netlock.h"
#include "driver/opts.h"
#include "lib/exitcodes.h"
#include "lib/external.h"
#include "lib/log.h"

/* --external KEY of a file, tty, socket or pipe (mnt[] keys are
 * extmnt_add's): checked here so a typo fails before the tree is frozen. */
static int drv_external(const char *arg, struct drv_opts *o)
{
	char canon[EXT_KEY_MAX];
	struct ext_key k;
	struct err e = { 0 };

	if (o->nr_externals == DRV_MAX_EXTERNALS) {
		drv_error("more than %d --external keys", DRV_MAX_EXTERNALS);
		return EXIT_USAGE;
	}
	if (ext_parse(arg, false, &k, &e) < 0) {
		drv_error("--external %s", e.msg);
		return EXIT_USAGE;
	}
	/* Say how another spelling was read, in the form amber prints keys in. */
	if (strcmp(ext_format(&k, canon, sizeof(canon)), arg))
		pr_warn("--external %s is read as %s", arg, canon);
	o->externals[o->nr_externals++] = arg;
	return 0;
}

/* --inherit-fd fd[N]:KEY: the key must parse and fd N must be open here,
 * since it is this process's fd N that the restored tree gets. */
static int drv_inherit(const char *arg, struct drv_opts *o)
{
	char canon[EXT_KEY_MAX];
	struct ext_key k;
	struct err e = { 0 };
	int fd;

	if (o->nr_inherits == DRV_MAX_INHERITS) {
		drv_error("more than %d --inherit-fd options", DRV_MAX_INHERITS);
		return EXIT_USAGE;
	}
	if (ext_parse_inherit(arg, &fd, &k, &e) < 0) {
		drv_error("%s", e.msg);
		return EXIT_USAGE;
	}
	if (fcntl(fd, F_GETFD) < 0) {
		drv_error("--inherit-fd %s: fd %d is not open in amber; open it in the shell, "
			  "e.g. 'amber restore ... --inherit-fd fd[%d]:KEY %d<FILE'", arg, fd, fd, fd);
		return EXIT_USAGE;
	}
	if (k.kind != EXT_PATH && strcmp(ext_format(&k, canon, sizeof(canon)), strchr(arg, ':') + 1))
		pr_warn("--inherit-fd %s is read as fd[%d]:%s", arg, fd, canon);
	o->inherits[o->nr_inherits].fd = fd;
	o->inherits[o->nr_inherits++].arg = arg;
	return 0;
}

static const struct option drv_long[] = {
	{ "images-dir", required_argument, NULL, 'D' },
	{ "tree", required_argument, NULL, 't' },
	{ "log-file", required_argument, NULL, 'o' },
	{ "verbosity", optional_argument, NULL, 'v' },
	{ "restore-detached", no_argument, NULL, 'd' },
	{ "run-dir", required_argument, NULL, DRV_OPT_RUN_DIR },
	{ "leave-running", no_argument, NULL, DRV_OPT_LEAVE_RUNNING },
	{ "pidfile", required_argument, NULL, DRV_OPT_PIDFILE },
	{ "pidns", no_argument, NULL, DRV_OPT_PIDNS },
	{ "keep-link-remaps", no_argument, NULL, DRV_OPT_KEEP_REMAPS },
	{ "show", no_argument, NULL, DRV_OPT_SHOW },
	{ "ghost-limit", required_argument, NULL, DRV_OPT_GHOST_LIMIT },
	{ "allow-changed-files", no_argument, NULL, DRV_OPT_ALLOW_CHANGED },
	{ "file-locks", no_argument, NULL, DRV_OPT_FILE_LOCKS },
	{ "shell-job", no_argument, NULL, DRV_OPT_SHELL_JOB },
	{ "external", required_argument, NULL, DRV_OPT_EXTERNAL },
	{ "inherit-fd", required_argument, NULL, DRV_OPT_INHERIT_FD },
	{ "root", required_argument, NULL, DRV_OPT_ROOT },
	{ "force", no_argument, NULL, DRV_OPT_FORCE },
	{ "allow-untrusted-dir", no_argument, NULL, DRV_OPT_ALLOW_UNTRUSTED },
	{ "timings", no_argument, NULL, DRV_OPT_TIMINGS },
	{ "verify", required_argument, NULL, DRV_OPT_VERIFY },
	{ "no-verify", no_argument, NULL, DRV_OPT_NO_VERIFY },
	{ "tcp-established", no_argument, NULL, DRV_OPT_TCP_ESTABLISHED },
	{ "tcp-close", no_argument, NULL, DRV_OPT_TCP_CLOSE },
	{ "console-socket", required_argument, NULL, DRV_OPT_CONSOLE_SOCKET },
	{ "network-lock", required_argument, NULL, DRV_OPT_NETWORK_LOCK },
	{ "empty-ns", required_argument, NULL, DRV_OPT_EMPTY_NS },
	{ "prev-images-dir", required_argument, NULL, DRV_OPT_PREV_IMAGES },
	{ "auto-dedup", no_argument, NULL, DRV_OPT_AUTO_DEDUP },
	{ "page-server", required_argument, NULL, DRV_OPT_PAGE_SERVER },
	{ "lazy-pages", no_argument, NULL, DRV_OPT_LAZY_PAGES },
	{ "lazy-push-rate", required_argument, NULL, DRV_OPT_LAZY_PUSH_RATE },
	{ "union-root", required_argument, NULL, DRV_OPT_UNION_ROOT },
	{ "delay-mount", required_argument, NULL, DRV_OPT_DELAY_MOUNT },
	{ "help", no_argument, NULL, DRV_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Which subcommands take each option ("*": all of them), by the option's
 * getopt value: one table, so 'amber dump --show' is refused by name. */
static const struct {
	int val;
	const char *cmds;
} drv_takes[] = {
	{ 'D', "*" }, { 'o', "*" }, { 'v', "*" }, { DRV_OPT_RUN_DIR, "*" }, { DRV_OPT_HELP, "*" }, { 'h', "*" },
	{ DRV_OPT_TIMINGS, "*" },
	{ 't', "dump pre-dump" }, { DRV_OPT_LEAVE_RUNNING, "dump" }, { DRV_OPT_PREV_IMAGES, "dump pre-dump" }, { DRV_OPT_AUTO_DEDUP, "dump pre-dump" }, { DRV_OPT_PAGE_SERVER, "dump pre-dump" }, { DRV_OPT_LAZY_PAGES, "restore" }, { DRV_OPT_LAZY_PUSH_RATE, "restore" }, { DRV_OPT_KEEP_REMAPS, "dump" },
	{ DRV_OPT_GHOST_LIMIT, "dump" }, { DRV_OPT_FILE_LOCKS, "dump" }, { DRV_OPT_FORCE, "dump pre-dump" },
	{ DRV_OPT_TCP_ESTABLISHED, "dump" }, { DRV_OPT_NETWORK_LOCK, "dump" }, { DRV_OPT_EMPTY_NS, "dump restore" }, { DRV_OPT_TCP_CLOSE, "restore" }, { DRV_OPT_CONSOLE_SOCKET, "restore" }, { DRV_OPT_UNION_ROOT, "dump" },
	{ 'd', "restore" }, { DRV_OPT_PIDFILE, "restore" }, { DRV_OPT_PIDNS, "restore" },
	{ DRV_OPT_ALLOW_CHANGED, "restore" }, { DRV_OPT_ALLOW_UNTRUSTED, "restore" }, { DRV_OPT_INHERIT_FD, "restore" }, { DRV_OPT_ROOT, "restore" },
	{ DRV_OPT_VERIFY, "restore" }, { DRV_OPT_NO_VERIFY, "restore" }, { DRV_OPT_DELAY_MOUNT, "restore" },
	{ DRV_OPT_SHELL_JOB, "dump restore" }, { DRV_OPT_EXTERNAL, "dump pre-dump restore" },
	{ DRV_OPT_SHOW, "gc" },
};

/* The commands that take option 'val', or NULL for no such option. */
const char *drv_option_commands(int val)
{
	for (size_t i = 0; i < sizeof(drv_takes) / sizeof(drv_takes[0]); i++)
		if (drv_takes[i].val == val)
			return drv_takes[i].cmds;
	return NULL;
}

bool drv_takes_option(const char *cmd, int val)
{
	const char *cmds = drv_option_commands(val);
	size_t n = strlen(cmd);

	if (!cmds)
		return false;
	if (!strcmp(cmds, "*"))
		return true;
	for (const char *p = cmds; (p = strstr(p, cmd)); p += n)
		if ((p == cmds || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return true;
	return false;
}

/* How the user spells option 'val': "--long (-s)". */
static void drv_option_name(int val, char *buf, size_t size)
{
	for (const struct option *lo = drv_long; lo->name; lo++)
		if (lo->val == val) {
			if (val < 256)
				snprintf(buf, size, "--%s (-%c)", lo->name, val);
			else
				snprintf(buf, size, "--%s", lo->name);
			return;
		}
	snprintf(buf, size, "-%c", val);
}

int drv_parse(int argc, char **argv, struct drv_opts *o)
{
	const char *cmd = argv[0];
	int opt, ret;

	memset(o, 0, sizeof(*o));
	o->verbosity = LOG_INFO;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "D:t:o:v::dh", drv_long, NULL)) != -1) {
		if (opt != '?' && !drv_takes_option(cmd, opt)) {
			char name[64], takers[128] = "";
			const char *cmds = drv_option_commands(opt);

			drv_option_name(opt, name, sizeof(name));
			/* "dump restore" -> "amber dump, amber restore" */
			for (const char *p = cmds; p && *p;) {
				size_t n = strcspn(p, " "), used = strlen(takers);

				snprintf(takers + used, sizeof(takers) - used, "%samber %.*s", used ? ", " : "", (int)n, p);
				p += n + (p[n] == ' ');
			}
			drv_error("%s is not an option of 'amber %s', only of %s; see amber %s --help", name, cmd, takers, cmd);
			return EXIT_USAGE;
		}
		switch (opt) {
		case 'D': o->images = optarg; break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0 || v > (1 << 30)) {
				drv_error("-t '%s' is not a pid", optarg);
				return EXIT_USAGE;
			}
			o->pid = v;
			break;
		}
		case 'o': o->logfile = optarg; break;
		case 'v':
			/* CRIU users type -v4, -vvvv, or -v 4: accept all three. */
			if (optarg && isdigit((unsigned char)optarg[0]))
				o->verbosity = atoi(optarg);
			else if (optarg)
				o->verbosity += 1 + (int)strspn(optarg, "v");
			else if (optind < argc && isdigit((unsigned char)argv[optind][0]) && !argv[optind][1])
				o->verbosity = atoi(argv[optind++]);
			else
				o->verbosity++;
			if (o->verbosity > LOG_TRACE)
				o->verbosity = LOG_TRACE;
			break;
		case 'd': o->detach = true; break;
		case DRV_OPT_RUN_DIR: o->run_dir = optarg; break;
		case DRV_OPT_LEAVE_RUNNING: o->leave_running = true; break;
		case DRV_OPT_PIDFILE: o->pidfile = optarg; break;
		case DRV_OPT_PIDNS: o->pidns = true; break;
		case DRV_OPT_KEEP_REMAPS: o->keep_link_remaps = true; break;
		case DRV_OPT_SHOW: o->show = true; break;
		case DRV_OPT_GHOST_LIMIT: o->ghost_limit = optarg; break;
		case DRV_OPT_ALLOW_CHANGED: o->allow_changed = true; break;
		case DRV_OPT_FILE_LOCKS: o->file_locks = true; break;
		case DRV_OPT_SHELL_JOB: o->shell_job = true; break;
		case DRV_OPT_ROOT: o->root = optarg; break;
		case DRV_OPT_FORCE: o->force = true; break;
		case DRV_OPT_ALLOW_UNTRUSTED: o->allow_untrusted = true; break;
		case DRV_OPT_TIMINGS: o->timings = true; break;
		case DRV_OPT_NO_VERIFY: o->verify = DRV_VERIFY_OFF; break;
		case DRV_OPT_VERIFY:
			/* fail (the default), warn, pages (fail, and compare every page too), off */
			if (!strcmp(optarg, "fail") || !strcmp(optarg, "pages"))
				o->verify = DRV_VERIFY_FAIL;
			else if (!strcmp(optarg, "warn"))
				o->verify = DRV_VERIFY_WARN;
			else if (!strcmp(optarg, "off"))
				o->verify = DRV_VERIFY_OFF;
			else {
				drv_error("--verify=%s: want fail, warn, pages or off (or --no-verify)", optarg);
				return EXIT_USAGE;
			}
			o->verify_pages = !strcmp(optarg, "pages");
			break;
		case DRV_OPT_TCP_ESTABLISHED: o->tcp_established = true; break;
		case DRV_OPT_TCP_CLOSE: o->tcp_close = true; break;
		case DRV_OPT_EMPTY_NS:
			if (strcmp(optarg, "net")) {
				drv_error("--empty-ns %s: only the network namespace can be left to the caller (--empty-ns net)",
					  optarg);
				return EXIT_USAGE;
			}
			o->empty_net = true;
			break;
		case DRV_OPT_CONSOLE_SOCKET: o->console_socket = optarg; break;
		case DRV_OPT_NETWORK_LOCK: {
			enum netlock_mode m;

			if (netlock_mode_parse(optarg, &m) < 0) {
				drv_error("--network-lock %s: want nftables (the default) or skip", optarg);
				return EXIT_USAGE;
			}
			o->network_lock = m;
			break;
		}
		case DRV_OPT_PREV_IMAGES: o->prev_images = optarg; break;
		case DRV_OPT_AUTO_DEDUP: o->auto_dedup = true; break;
		case DRV_OPT_PAGE_SERVER: o->page_server = optarg; break;
		case DRV_OPT_LAZY_PAGES: o->lazy_pages = true; break;
		case DRV_OPT_LAZY_PUSH_RATE: o->lazy_push_rate = optarg; break;
		case DRV_OPT_UNION_ROOT:
			if (o->nr_union_roots == DRV_MAX_UNION_ROOTS) {
				drv_error("more than %d --union-root pairs", DRV_MAX_UNION_ROOTS);
				return EXIT_USAGE;
			}
			if (!strchr(optarg, '=') || optarg[0] != '/' || strchr(optarg, '=')[1] != '/') {
				drv_error("--union-root '%s': want BRANCH=UNION, both absolute paths", optarg);
				return EXIT_USAGE;
			}
			o->union_roots[o->nr_union_roots++] = optarg;
			break;
		case DRV_OPT_EXTERNAL: {
			/* mnt[...] is driver/extmnt.c's, veth[...] images/netns.h's; files, ttys, sockets,
			 * pipes are drv_external's. */
			struct netns_ext x;
			struct err ve = { 0 };
			int r = netns_ext_parse(optarg, !strcmp(cmd, "restore"), &x, &ve);

			if (r < 0) {
				drv_error("%s", ve.msg);
				return EXIT_USAGE;
			}
			if (r > 0) {
				if (o->nr_extveth == NETNS_EXT_MAX) {
					drv_error("more than %d --external veth[] keys", NETNS_EXT_MAX);
					return EXIT_USAGE;
				}
				o->extveth[o->nr_extveth++] = optarg;
				break;
			}
			r = extmnt_add(&o->extmnt, optarg);

			if (r < 0)
				return EXIT_USAGE;
			if (r == 0 && (ret = drv_external(optarg, o)) != 0)
				return ret;
			break;
		}
		case DRV_OPT_DELAY_MOUNT: {
			size_t n = strlen(optarg);

			if (strncmp(optarg, "mnt[/", 5) || optarg[n - 1] != ']') {
				drv_error("--delay-mount '%s': want mnt[MOUNTPOINT], the mount's absolute path in the "
					  "tree's mount namespace", optarg);
				return EXIT_USAGE;
			}
			if (o->nr_delay_mounts == DRV_MAX_EXTERNALS) {
				drv_error("more than %d --delay-mount", DRV_MAX_EXTERNALS);
				return EXIT_USAGE;
			}
			/* The MOUNTPOINT in place (argv is the caller's to keep):
			 * nothing to free on any of the command's exits. */
			optarg[n - 1] = 0;
			o->delay_mounts[o->nr_delay_mounts++] = optarg + 4;
			break;
		}
		case DRV_OPT_INHERIT_FD:
			if ((ret = drv_inherit(optarg, o)) != 0)
				return ret;
			break;
		case 'h':
		case DRV_OPT_HELP:
			return -1;
		default:
			drv_error("unknown option '%s'; see amber %s --help", argv[optind - 1], cmd);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		drv_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	/* Options that only mean something together. */
	if (o->keep_link_remaps && !o->leave_running) {
		drv_error("--keep-link-remaps only applies with --leave-running (a killed tree's remaps are kept for its restore)");
		return EXIT_USAGE;
	}
	return 0;
}
