/* external: descriptors the user named as belonging to the world outside
 * the tree (--external, --shell-job). Such a descriptor is recorded by its
 * key, open flags and position only; nothing is read from or done to the
 * object itself, and restore needs an --inherit-fd for the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "lib/log.h"
#include "lib/sockdiag.h"
#include "stages/dump-files/dump-files.h"

int df_set_externals(struct df *c, char **keys, int nr, bool shell_job, struct err *e)
{
	char canon[EXT_KEY_MAX];

	c->shell_job = shell_job;
	if (!nr)
		return 0;
	c->ext = calloc(nr, sizeof(*c->ext));
	if (!c->ext)
		return err_errno(e, "allocate %d external keys", nr);
	for (int i = 0; i < nr; i++) {
		int ret = ext_parse(keys[i], false, &c->ext[i].key, e);

		if (ret < 0)
			return err_wrap(e, "--external");
		if (c->ext[i].key.kind == EXT_PATH)
			return err_input(e, "--external '%s': a path cannot name an external file at dump; "
					 "use file[MNT_ID:INODE]", keys[i]);
		/* Other spellings are accepted; the images and messages use one. */
		if (strcmp(ext_format(&c->ext[i].key, canon, sizeof(canon)), keys[i]))
			pr_info("--external %s is %s", keys[i], canon);
		c->nr_ext++;
	}
	return 0;
}

/* Marks the --external key equal to k used; is there one? */
static bool df_ext_match(struct df *c, const struct ext_key *k)
{
	bool found = false;

	for (int i = 0; i < c->nr_ext; i++)
		if (ext_equal(&c->ext[i].key, k))
			found = c->ext[i].used = true;
	return found;
}

/* Is there an --external unix[] key at all? Asking sock_diag for a peer
 * costs a netlink round trip, so it is asked only then. */
static bool df_ext_has(const struct df *c, enum ext_kind kind)
{
	for (int i = 0; i < c->nr_ext; i++)
		if (c->ext[i].key.kind == kind)
			return true;
	return false;
}

/* Is this a terminal? Their state (termios, session, the other end of a pty)
 * needs its own dump code, so they are refused rather than reopened. */
bool df_is_tty(const char *link, const struct stat *st)
{
	unsigned int major = major(st->st_rdev);

	if (!S_ISCHR(st->st_mode))
		return false;
	/* 2, 3: BSD ptys; 4: tty0-63, ttyS; 5: tty, console, ptmx; 136-143: /dev/pts */
	if (major == 2 || major == 3 || major == 4 || major == 5 || (major >= 136 && major <= 143))
		return true;
	return !strncmp(link, "/dev/pts/", 9) || !strncmp(link, "/dev/tty", 8) || !strcmp(link, "/dev/console");
}

const char *df_external_key(struct df *c, const struct df_kind *kind, const char *link, const struct stat *st,
			    int mnt_id, char *buf, size_t size)
{
	struct ext_key k = { 0 };

	if (df_is_tty(link, st)) {
		k.kind = EXT_TTY;
		k.a = st->st_rdev;
		k.b = st->st_dev;
		if (df_ext_match(c, &k) || c->shell_job)
			return ext_format(&k, buf, size);
		return NULL;
	}
	if (!kind)
		return NULL;
	if (kind->ext == EXT_PIPE) {
		k.kind = EXT_PIPE;
		k.a = st->st_ino;
		return df_ext_match(c, &k) ? ext_format(&k, buf, size) : NULL;
	}
	if (kind->ext == EXT_SOCKET) {
		struct sockdiag_unix d;
		struct ext_key peer = { .kind = EXT_SOCKET };
		struct err ignored = { 0 };

		k.kind = EXT_SOCKET;
		k.a = st->st_ino;
		if (df_ext_match(c, &k))
			return ext_format(&k, buf, size);
		/* CRIU's users name the outside peer: that marks this end too. */
		if (!df_ext_has(c, EXT_SOCKET) || sockdiag_unix_get(st->st_ino, &d, &ignored) < 0 || !d.peer)
			return NULL;
		peer.a = d.peer;
		return df_ext_match(c, &peer) ? ext_format(&k, buf, size) : NULL;
	}
	if (kind->ext == EXT_FILE && mnt_id >= 0) {
		k.kind = EXT_FILE;
		k.a = mnt_id;
		k.b = st->st_ino;
		return df_ext_match(c, &k) ? ext_format(&k, buf, size) : NULL;
	}
	return NULL;
}

void df_check_externals(struct df *c)
{
	char key[EXT_KEY_MAX];

	for (int i = 0; i < c->nr_ext; i++) {
		if (c->ext[i].used)
			continue;
		ext_format(&c->ext[i].key, key, sizeof(key));
		if (c->nr_unsupported++ == 0)
			err_input(&c->unsupported, "--external %s matches no descriptor of the dumped tree; "
				  "a file's key is file[MNT_ID:INODE] with the mnt_id of /proc/PID/fdinfo/FD and "
				  "the inode of stat -L /proc/PID/fd/FD (decimal, or hexadecimal with 0x)", key);
		else
			pr_warn("--external %s matches no descriptor of the dumped tree", key);
	}
}
