/* swrkopts: see swrkopts.h. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "driver/swrkopts.h"
#include "lib/exitcodes.h"

#define SW_DUMP 1
#define SW_RESTORE 2
#define SW_BOTH 3

/* What amber does with each option; an option not listed is refused with
 * a general reason. 'honoured' options are mapped in swrk_build_args or
 * checked by driver/swrk.c; the others are refused with 'why'. */
static const struct swrk_policy {
	const char *name;
	int honoured;		/* SW_DUMP, SW_RESTORE, SW_BOTH or 0 */
	const char *why;	/* why it is refused (where it is not honoured) */
} swrk_policy[] = {
	{ "images_dir_fd", SW_BOTH, NULL },
	{ "images_dir", SW_BOTH, NULL },
	{ "pid", SW_DUMP, "a restore makes the pids of the images" },
	{ "leave_running", SW_DUMP, "it is a dump option" },
	{ "ext_unix_sk", 0, "amber names each outside unix socket: send external 'unix[INODE]'" },
	{ "tcp_established", SW_BOTH, NULL },
	{ "evasive_devices", SW_RESTORE, "it is a restore option" },
	{ "shell_job", SW_BOTH, NULL },
	{ "file_locks", SW_BOTH, NULL },
	{ "log_level", SW_BOTH, NULL },
	{ "log_file", SW_BOTH, NULL },
	{ "ps", 0, "amber has no page server" },
	{ "notify_scripts", SW_BOTH, NULL },
	{ "root", SW_BOTH, NULL },
	{ "parent_img", 0, "amber has no pre-dump: every dump is complete" },
	{ "track_mem", 0, "amber has no pre-dump: memory changes are not tracked" },
	{ "auto_dedup", SW_BOTH, NULL },
	{ "work_dir_fd", SW_BOTH, NULL },
	{ "link_remap", SW_BOTH, NULL },
	{ "veths", 0, "send external 'veth[IFNAME]' instead" },
	{ "cpu_cap", 0, "amber does not compare CPU features beyond the xstate it saves" },
	{ "force_irmap", 0, "amber does not map inotify watches by inode scan" },
	{ "exec_cmd", 0, "amber runs no command after a restore" },
	{ "ext_mnt", SW_BOTH, NULL },
	{ "manage_cgroups", SW_BOTH, NULL },
	{ "cg_root", SW_RESTORE, "it is a restore option" },
	{ "rst_sibling", SW_RESTORE, "it is a restore option" },
	{ "inherit_fd", SW_RESTORE, "it is a restore option" },
	{ "auto_ext_mnt", 0, "name each outside mount with ext_mnt" },
	{ "ext_sharing", 0, "name each outside mount with ext_mnt" },
	{ "ext_masters", 0, "name each outside mount with ext_mnt" },
	{ "skip_mnt", 0, "amber saves every mount or refuses it by name" },
	{ "enable_fs", 0, "amber decides which file systems it can save" },
	{ "unix_sk_ino", SW_DUMP, "it is a dump option" },
	{ "manage_cgroups_mode", SW_BOTH, NULL },
	{ "ghost_limit", SW_DUMP, "it is a dump option" },
	{ "irmap_scan_paths", 0, "amber does not map inotify watches by inode scan" },
	{ "external", SW_BOTH, NULL },
	{ "empty_ns", SW_BOTH, NULL },
	{ "join_ns", 0, "amber does not join outside namespaces at restore" },
	{ "cgroup_props", 0, "amber saves no cgroup controller settings" },
	{ "cgroup_props_file", 0, "amber saves no cgroup controller settings" },
	{ "cgroup_dump_controller", 0, "amber saves no cgroup controller settings" },
	{ "freeze_cgroup", SW_DUMP, "it is a dump option" },
	{ "timeout", 0, "amber has no freeze timeout" },
	{ "tcp_skip_in_flight", 0, "amber refuses connections it cannot repair" },
	{ "weak_sysctls", 0, "amber restores no sysctls it could skip" },
	{ "lazy_pages", 0, "amber has no lazy pages" },
	{ "status_fd", 0, "amber has no page server or lazy-pages daemon to report on" },
	{ "orphan_pts_master", SW_BOTH, NULL },
	{ "config_file", SW_BOTH, NULL },
	{ "tcp_close", SW_RESTORE, "it is a restore option" },
	{ "lsm_profile", 0, "amber does not change LSM profiles at restore" },
	{ "tls_cacert", 0, "amber has no page server" },
	{ "tls_cacrl", 0, "amber has no page server" },
	{ "tls_cert", 0, "amber has no page server" },
	{ "tls_key", 0, "amber has no page server" },
	{ "tls", 0, "amber has no page server" },
	{ "tls_no_cn_verify", 0, "amber has no page server" },
	{ "cgroup_yard", 0, "amber makes no cgroups" },
	{ "pre_dump_mode", 0, "amber has no pre-dump" },
	{ "pidfd_store_sk", 0, "amber keeps no pidfd store" },
	{ "lsm_mount_context", 0, "amber does not change mount LSM contexts" },
	{ "network_lock", 0, "amber does not lock the network itself: the caller's network-lock notification does" },
	{ "mntns_compat_mode", SW_BOTH, NULL },
	{ "skip_file_rwx_check", 0, "amber checks the mode of every file it opens again" },
	{ "unprivileged", 0, "amber runs as root" },
	{ "leave_stopped", 0, "amber resumes or kills the tree" },
	{ "display_stats", 0, "amber prints its figures to the log (-v)" },
	{ "log_to_stderr", 0, "the stderr of swrk is the container's" },
	{ "allow_uprobes", 0, "amber does not save uprobes" },
	{ "ghost_fiemap", 0, "amber saves ghost files whole" },
	{ "file_validation_method", 0, "amber checks the sizes of files only" },
};

static const struct swrk_policy *swrk_policy_of(const char *name)
{
	for (size_t i = 0; i < sizeof(swrk_policy) / sizeof(swrk_policy[0]); i++)
		if (!strcmp(swrk_policy[i].name, name))
			return &swrk_policy[i];
	return NULL;
}

/* Whether field f of o is given with a value that asks for something: a
 * repeated field with elements, a true bool, any other optional given. */
static bool swrk_field_used(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)(base + f->quantifier_offset) > 0;
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const void *p = *(const void *const *)(base + f->offset);

		return p && p != f->default_value;
	}
	if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
		return false;
	if (f->type == PROTOBUF_C_TYPE_BOOL)
		return *(const protobuf_c_boolean *)(base + f->offset);
	return true;
}

int swrk_check_opts(const CriuOpts *o, CriuReqType t, struct err *e)
{
	const ProtobufCMessageDescriptor *d = o->base.descriptor;
	int want = t == CRIU_REQ_TYPE__RESTORE ? SW_RESTORE : SW_DUMP;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const struct swrk_policy *p = swrk_policy_of(f->name);

		if (!swrk_field_used(&o->base, f) || (p && (p->honoured & want)))
			continue;
		return err_set(e, EXIT_INPUT, "option '%s' of the %s request: amber cannot honour it (%s); "
			       "see doc/runtimes.md", f->name, want == SW_RESTORE ? "restore" : "dump",
			       p ? p->why : "amber does not know it");
	}
	if (o->n_unix_sk_ino && o->n_external + o->n_unix_sk_ino > 64)
		return err_set(e, EXIT_INPUT, "option 'unix_sk_ino': too many outside sockets");
	/* Modes that ask for saved controller settings amber does not keep. */
	if (o->has_manage_cgroups_mode && o->manage_cgroups_mode != CRIU_CG_MODE__SOFT &&
	    o->manage_cgroups_mode != CRIU_CG_MODE__DEFAULT && o->manage_cgroups_mode != CRIU_CG_MODE__IGNORE &&
	    o->manage_cgroups_mode != CRIU_CG_MODE__CG_NONE)
		return err_set(e, EXIT_INPUT, "option 'manage_cgroups_mode' %s: amber saves no cgroup controller "
			       "settings; use soft, ignore or none (see doc/runtimes.md)",
			       protobuf_c_enum_descriptor_get_value(&criu_cg_mode__descriptor, o->manage_cgroups_mode) ?
			       protobuf_c_enum_descriptor_get_value(&criu_cg_mode__descriptor, o->manage_cgroups_mode)->name : "?");
	/* Only the network namespace can be left to the caller: empty_ns
	 * is --empty-ns net at dump and restore (not saved, left empty). */
	if (o->has_empty_ns && (o->empty_ns & ~0x40000000u))
		return err_set(e, EXIT_INPUT, "option 'empty_ns' %#x: amber can only take CLONE_NEWNET (0x40000000) "
			       "there", o->empty_ns);
	if (o->has_auto_dedup && o->auto_dedup && o->parent_img)
		return err_set(e, EXIT_INPUT, "option 'auto_dedup' with 'parent_img': amber has no pre-dump");
	return 0;
}

int swrk_arg(struct swrk_args *a, struct err *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->argc == SWRK_MAX_ARGS)
		return err_set(e, EXIT_INPUT, "the request has too many options for one command line");
	va_start(ap, fmt);
	n = vsnprintf(a->store + a->used, sizeof(a->store) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->store) - a->used)
		return err_set(e, EXIT_INPUT, "the request's options are too long for one command line");
	a->argv[a->argc++] = a->store + a->used;
	a->argv[a->argc] = NULL;
	a->used += n + 1;
	return 0;
}

/* A key or path of the request that would break '[...]:...' parsing. */
static int swrk_check_word(const char *what, const char *s, struct err *e)
{
	if (!*s || strchr(s, '\n'))
		return err_set(e, EXIT_INPUT, "option '%s': empty or multi-line value '%s'", what, s);
	return 0;
}

int swrk_build_args(const CriuOpts *o, CriuReqType t, const char *images, const char *workdir,
		    const int stdio[3], struct swrk_args *a, struct err *e)
{
	bool restore = t == CRIU_REQ_TYPE__RESTORE;
	int ret;

	memset(a, 0, sizeof(*a));
	if ((ret = swrk_arg(a, e, "%s", restore ? "restore" : "dump")) < 0 ||
	    (ret = swrk_arg(a, e, "-D")) < 0 || (ret = swrk_arg(a, e, "%s", images)) < 0)
		return ret;
	/* CRIU's levels 0-4 (2 the default: errors and warnings) are amber's
	 * 0-4 but one: amber's 2 says what each step does. */
	if ((ret = swrk_arg(a, e, "-v%d", o->log_level >= 4 ? 4 : o->log_level >= 3 ? 3 : 2)) < 0)
		return ret;
	if (o->log_file) {
		if (strchr(o->log_file, '/') || !strcmp(o->log_file, "..") || !strcmp(o->log_file, "."))
			return err_set(e, EXIT_INPUT, "option 'log_file' '%s': a file name in the work directory, "
				       "without '/'", o->log_file);
		if ((ret = swrk_arg(a, e, "-o")) < 0 || (ret = swrk_arg(a, e, "%s/%s", workdir, o->log_file)) < 0)
			return ret;
	}
	if (restore) {
		if ((ret = swrk_arg(a, e, "-d")) < 0 || (ret = swrk_arg(a, e, "--run-dir")) < 0 ||
		    (ret = swrk_arg(a, e, "%s/amber-restore.run", workdir)) < 0)
			return ret;
	} else {
		if (!o->has_pid || o->pid <= 0)
			return err_set(e, EXIT_INPUT, "option 'pid': the dump request names no pid (amber does not "
				       "dump the caller itself)");
		if ((ret = swrk_arg(a, e, "-t")) < 0 || (ret = swrk_arg(a, e, "%d", o->pid)) < 0 ||
		    (ret = swrk_arg(a, e, "--run-dir")) < 0 || (ret = swrk_arg(a, e, "%s/amber-dump.run", workdir)) < 0)
			return ret;
		/* The caller made the directory for this dump (runc does). */
		if ((ret = swrk_arg(a, e, "--force")) < 0)
			return ret;
		if (o->leave_running && (ret = swrk_arg(a, e, "--leave-running")) < 0)
			return ret;
		if (o->has_ghost_limit && ((ret = swrk_arg(a, e, "--ghost-limit")) < 0 ||
					   (ret = swrk_arg(a, e, "%u", o->ghost_limit)) < 0))
			return ret;
		if (o->file_locks && (ret = swrk_arg(a, e, "--file-locks")) < 0)
			return ret;
		if (o->tcp_established && (ret = swrk_arg(a, e, "--tcp-established")) < 0)
			return ret;
		for (size_t i = 0; i < o->n_unix_sk_ino; i++)
			if ((ret = swrk_arg(a, e, "--external")) < 0 ||
			    (ret = swrk_arg(a, e, "unix[%u]", o->unix_sk_ino[i]->inode)) < 0)
				return ret;
	}
	if (o->shell_job && (ret = swrk_arg(a, e, "--shell-job")) < 0)
		return ret;
	if (restore && o->root && ((ret = swrk_arg(a, e, "--root")) < 0 || (ret = swrk_arg(a, e, "%s", o->root)) < 0))
		return ret;
	if (restore && o->tcp_close && (ret = swrk_arg(a, e, "--tcp-close")) < 0)
		return ret;
	/* The runtime's own network namespace (a path in its config): not
	 * saved, and left empty at restore for it to set up. */
	if (o->has_empty_ns && (o->empty_ns & 0x40000000u) &&
	    ((ret = swrk_arg(a, e, "--empty-ns")) < 0 || (ret = swrk_arg(a, e, "net")) < 0))
		return ret;
	/* dump: mnt[MOUNTPOINT]:NAME; restore: mnt[NAME]:PATH (driver/extmnt.h). */
	for (size_t i = 0; i < o->n_ext_mnt; i++) {
		if ((ret = swrk_check_word("ext_mnt", o->ext_mnt[i]->key, e)) < 0 ||
		    (ret = swrk_check_word("ext_mnt", o->ext_mnt[i]->val, e)) < 0)
			return ret;
		if ((ret = swrk_arg(a, e, "--external")) < 0 ||
		    (ret = swrk_arg(a, e, "mnt[%s]:%s", o->ext_mnt[i]->key, o->ext_mnt[i]->val)) < 0)
			return ret;
	}
	for (size_t i = 0; i < o->n_external; i++)
		if ((ret = swrk_arg(a, e, "--external")) < 0 || (ret = swrk_arg(a, e, "%s", o->external[i])) < 0)
			return ret;
	for (size_t i = 0; restore && i < o->n_inherit_fd; i++) {
		int fd = o->inherit_fd[i]->fd;

		bool seen = false;

		if ((ret = swrk_check_word("inherit_fd", o->inherit_fd[i]->key, e)) < 0)
			return ret;
		/* runc names a pipe once per stdio fd that has it (stdout and
		 * stderr both): the first stands for it, as with CRIU. */
		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(o->inherit_fd[j]->key, o->inherit_fd[i]->key);
		if (seen)
			continue;
		if (fd < 0)
			return err_set(e, EXIT_INPUT, "option 'inherit_fd' %s: bad fd %d", o->inherit_fd[i]->key, fd);
		if (fd < 3)
			fd = stdio[fd];
		if (fd < 0 || fcntl(fd, F_GETFD) < 0)
			return err_set(e, EXIT_INPUT, "option 'inherit_fd' %s: fd %d is not open in amber swrk; "
				       "pass it to swrk", o->inherit_fd[i]->key, o->inherit_fd[i]->fd);
		if ((ret = swrk_arg(a, e, "--inherit-fd")) < 0 ||
		    (ret = swrk_arg(a, e, "fd[%d]:%s", fd, o->inherit_fd[i]->key)) < 0)
			return ret;
	}
	return 0;
}
