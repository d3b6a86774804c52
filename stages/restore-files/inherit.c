/* inherit: files the restorer hands over (--inherit-fd fd[N]:KEY,
 * --shell-job) instead of this stage opening them.
 *
 * Every description whose key (its external key, pipe:[INO], socket:[INO]
 * or the path it was opened by) equals an --inherit-fd key gets fd N: a
 * file is opened again through /proc/self/fd/N with the flags and position
 * it had at dump, so a file given read-write ends up write-only and
 * appending if that is what the process had; a pipe or socket is used as
 * it is. Both directions are strict: a key that matches nothing, and an
 * external description that nothing is given for, are errors. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

int reopen_add_inherit(struct reopen *r, const char *arg, struct err *e)
{
	struct reopen_inherit *in;
	int ret;

	if (grow_one(&r->inherits, r->nr_inherits) < 0)
		return err_errno(e, "remember --inherit-fd '%s'", arg);
	in = &r->inherits[r->nr_inherits];
	memset(in, 0, sizeof(*in));
	in->arg = arg;
	if ((ret = ext_parse_inherit(arg, &in->fd, &in->key, e)) < 0)
		return ret;
	if (fcntl(in->fd, F_GETFD) < 0)
		return err_input(e, "--inherit-fd %s: fd %d is not open in this stage; give it, e.g. %d<FILE", arg,
				 in->fd, in->fd);
	r->nr_inherits++;
	return 0;
}

/* The key a description is known by to --inherit-fd; false if none. */
static bool reopen_key_of(const RegFileEntry *re, struct ext_key *k)
{
	struct err ignored = { 0 };

	memset(k, 0, sizeof(*k));
	if (re->external)
		return ext_parse(re->external, false, k, &ignored) == 0;
	if (re->has_pipe_ino) {
		k->kind = EXT_PIPE;
		k->a = re->pipe_ino;
		return true;
	}
	if (re->unix_sk) {
		k->kind = EXT_SOCKET;
		k->a = re->unix_sk->ino;
		return true;
	}
	if (re->anon || re->path[0] != '/' || strlen(re->path) >= sizeof(k->path))
		return false;
	k->kind = EXT_PATH;
	snprintf(k->path, sizeof(k->path), "%s", re->path);
	return true;
}

/* The keys of the images, for the message of a key that matched none:
 * the external ones first, then the others, deduplicated, up to a few. */
static void reopen_list_keys(const struct reopen *r, char *buf, size_t size)
{
	size_t len = 0;
	int shown = 0, more = 0;

	buf[0] = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < r->nr_files; i++) {
			const RegFileEntry *re = r->files[i].re;
			struct ext_key k, prev;
			char key[EXT_KEY_MAX + 4096];
			bool dup = false;

			if (!r->files[i].pid || !!re->external != !pass || !reopen_key_of(re, &k))
				continue;
			for (int j = 0; j < i && !dup; j++)
				dup = r->files[j].pid && !!r->files[j].re->external == !pass &&
				      reopen_key_of(r->files[j].re, &prev) && ext_equal(&prev, &k);
			if (dup)
				continue;
			if (shown == 12) {
				more++;
				continue;
			}
			ext_format(&k, key, sizeof(key));
			len += snprintf(buf + len, len < size ? size - len : 0, "%s%s%s", shown ? ", " : "", key,
					re->external ? " (external)" : "");
			shown++;
		}
	if (more && len < size)
		snprintf(buf + len, size - len, " and %d more (amber show DIR lists them)", more);
	if (!shown)
		snprintf(buf, size, "none");
}

int reopen_match_inherits(struct reopen *r, int shell_tty, const char *shell_arg, struct err *e)
{
	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];
		struct ext_key k;

		if (!f->pid || !reopen_key_of(f->re, &k))
			continue;
		for (int j = 0; j < r->nr_inherits && !f->inherit; j++)
			if (ext_equal(&r->inherits[j].key, &k)) {
				f->inherit = &r->inherits[j];
				r->inherits[j].used = true;
			}
		if (f->inherit || !f->re->external)
			continue;
		if (k.kind == EXT_TTY && shell_tty >= 0) {
			r->shell.fd = shell_tty;
			r->shell.arg = shell_arg;
			r->shell_rdev = k.a;
			f->inherit = &r->shell;
			continue;
		}
		return err_input(e, "pid %d fd %u is %s, which the dump left outside the tree; restore with "
				 "--inherit-fd fd[N]:%s to give it%s", f->pid, f->tfd, f->re->external, f->re->external,
				 k.kind == EXT_TTY ? ", or with --shell-job for the terminal amber runs on, or with "
						     "--console-socket PATH for a new one whose master goes to PATH" : "");
	}
	for (int j = 0; j < r->nr_inherits; j++) {
		char keys[1024], key[EXT_KEY_MAX + 4096];

		if (r->inherits[j].used)
			continue;
		/* Named by its key alone: the fd number is the driver's renumbering. */
		reopen_list_keys(r, keys, sizeof(keys));
		return err_input(e, "--inherit-fd key '%s' matches no file of the images; their keys are: %s",
				 ext_format(&r->inherits[j].key, key, sizeof(key)), keys);
	}
	return 0;
}

/* Puts the dumped terminal settings on the terminal given for f, once:
 * the tree's programs find it as they left it (raw mode, window size). */
static int reopen_tty_state(struct reopen_file *f, struct err *e)
{
	const TtyStateEntry *t = f->re->tty;
	struct reopen_inherit *in = f->inherit;
	struct termios tio;

	if (tcgetattr(in->fd, &tio) < 0)
		return err_errno(e, "%s: read the settings of terminal fd %d", in->arg, in->fd);
	tio.c_iflag = t->iflag;
	tio.c_oflag = t->oflag;
	tio.c_cflag = t->cflag;
	tio.c_lflag = t->lflag;
	if (t->has_line)
		tio.c_line = t->line;
	if (t->has_cc && t->cc.len == NCCS)
		memcpy(tio.c_cc, t->cc.data, NCCS);
	if (t->has_ispeed)
		cfsetispeed(&tio, t->ispeed);
	if (t->has_ospeed)
		cfsetospeed(&tio, t->ospeed);
	if (tcsetattr(in->fd, TCSANOW, &tio) < 0)
		return err_errno(e, "%s: put the dumped settings of pid %d fd %u on terminal fd %d", in->arg, f->pid,
				 f->tfd, in->fd);
	if (t->has_rows && t->has_cols) {
		struct winsize ws = { t->rows, t->cols, t->xpixel, t->ypixel };

		if (ioctl(in->fd, TIOCSWINSZ, &ws) < 0)
			return err_errno(e, "%s: set the window size %ux%u on terminal fd %d", in->arg, t->cols, t->rows,
					 in->fd);
	}
	in->tty_set = true;
	pr_info("pid %d fd %u: terminal fd %d given its settings at dump", f->pid, f->tfd, in->fd);
	return 0;
}

int reopen_inherited(struct reopen_file *f, struct err *e)
{
	const RegFileEntry *re = f->re;
	const struct reopen_inherit *in = f->inherit;
	char path[64];
	struct stat st;
	int flags = reopen_flags(re), fd;

	if (fstat(in->fd, &st) < 0)
		return err_errno(e, "%s: fstat fd %d", in->arg, in->fd);
	if ((re->has_pipe_ino || re->unix_sk) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
		return err_input(e, "%s: fd %d is not a pipe or socket, but pid %d fd %u was one ('%s')", in->arg, in->fd,
				 f->pid, f->tfd, re->path);
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		/* A pipe or socket is the object itself: its other end is the
		 * giver's, and reopening would make a new description of it. */
		fd = fcntl(in->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return err_errno(e, "%s: dup fd %d", in->arg, in->fd);
		f->fd = fd;
		pr_info("pid %d fd %u: '%s' is fd %d as given", f->pid, f->tfd, re->path, in->fd);
		return 0;
	}
	if (re->tty && !in->tty_set && isatty(in->fd) && (fd = reopen_tty_state(f, e)) < 0)
		return fd;
	/* A file: a description of our own with the dumped flags, whatever
	 * the giver opened it with. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", in->fd);
	fd = open(path, flags);
	if (fd < 0)
		return err_errno(e, "%s: open fd %d again (through %s) with the flags of pid %d fd %u, %#o", in->arg,
				 in->fd, path, f->pid, f->tfd, flags);
	if (re->pos && S_ISREG(st.st_mode) && !(flags & O_PATH) && lseek(fd, re->pos, SEEK_SET) < 0) {
		int err = errno;

		close(fd);
		return err_errnum(e, err, "%s: seek to %llu", in->arg, (unsigned long long)re->pos);
	}
	f->fd = fd;
	pr_info("pid %d fd %u: '%s' is fd %d opened again with flags %#o pos %llu", f->pid, f->tfd, re->path, in->fd,
		flags, (unsigned long long)re->pos);
	return 0;
}
