/* external: the keys that name objects a dumped tree shares with the world
 * outside it, as `dump --external KEY` and `restore --inherit-fd fd[N]:KEY`
 * write them.
 *
 *	file[MNT_ID:INODE]	a regular file: the mount id /proc/PID/fdinfo
 *				shows and the inode stat(1) shows
 *	tty[RDEV:DEV]		a terminal: st_rdev and st_dev of its device node
 *	socket:[INODE]		a unix socket (alias unix[INODE]), as /proc/PID/fd
 *				names it
 *	pipe:[INODE]		a pipe (alias pipe[INODE]), as /proc/PID/fd names it
 *	PATH			(--inherit-fd only) a file by the path it was
 *				opened by, with or without the leading '/'
 *
 * Number bases: a number is decimal unless it starts with 0x, then it is
 * hexadecimal. CRIU prints file[] and tty[] keys in hexadecimal without a
 * prefix; a bare number with a hex letter is refused with the 0x spelling
 * to use rather than guessed, since "10" would mean different inodes in
 * the two readings. The canonical form (what amber prints and records) is
 * decimal, except tty[] whose device numbers are printed as 0x hex, the
 * way device numbers are usually read.
 */
#ifndef AMBER_EXTERNAL_H
#define AMBER_EXTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum ext_kind { EXT_FILE = 1, EXT_TTY, EXT_SOCKET, EXT_PIPE, EXT_PATH };

struct ext_key {
	enum ext_kind kind;
	uint64_t a, b;		/* file: mnt_id, inode; tty: rdev, dev; socket, pipe: inode in a */
	char path[4096];	/* EXT_PATH: always with its leading '/' */
};

/* Longest canonical key ext_format writes, path keys aside. */
#define EXT_KEY_MAX 64

/* Parses KEY; allow_path lets a path stand for a file (--inherit-fd). */
int ext_parse(const char *s, bool allow_path, struct ext_key *k, struct err *e);
/* Parses fd[N]:KEY, as --inherit-fd takes it. */
int ext_parse_inherit(const char *s, int *fd, struct ext_key *k, struct err *e);
/* The canonical spelling of k into buf (a path key is the path). */
const char *ext_format(const struct ext_key *k, char *buf, size_t size);
bool ext_equal(const struct ext_key *x, const struct ext_key *y);

#endif
