/* pty: putting data back into the queues of a pseudo-terminal pair, shared
 * by dump-files (which must read a queue to learn it, so writes it back at
 * once) and restore-files (which fills a new pair).
 *
 * A tty queue cannot be peeked at: what is read is gone. What is put back
 * goes through the line discipline again, so each function sets the
 * slave's termios so that the bytes pass unchanged (no input or output
 * processing, no echo, no signals), writes them, waits until the other end
 * counts them (the kernel moves them to the line discipline in a
 * workqueue), and sets the termios t back.
 */
#ifndef AMBER_PTY_H
#define AMBER_PTY_H

#include <stddef.h>
#include <termios.h>

#include "lib/err.h"

/* The most that one direction may hold and be put back (the line
 * discipline's buffer is 4096 bytes, one kept free). */
#define PTY_QUEUE_MAX 4095

/* The index N of /dev/pts/N of a slave's device number. */
unsigned int pty_index_of(unsigned long rdev);

/* Bytes to be read from the slave (its input, written to the master);
 * the slave must be in non-canonical mode in t. More than PTY_QUEUE_MAX
 * wait behind the line discipline's buffer (in the flip buffers), as
 * they did before they were read: both put functions wait until the
 * other end counts PTY_QUEUE_MAX at most. */
int pty_put_input(int master, int slave, const struct termios *t, const void *data, size_t n, struct err *e);
/* Canonical input that FIONREAD does not count, put back as it was: eofs
 * end-of-file marks (^D on an empty line, which a read returns as 0
 * bytes), then an unfinished line (no line end in it), which stays
 * unfinished: written through the master with the slave in canonical
 * mode, no input processing, no echo, and the special characters moved
 * to byte values the line does not hold. The slave's input must be empty
 * and t canonical. */
int pty_put_line(int master, int slave, const struct termios *t, unsigned int eofs, const void *data, size_t n,
		 struct err *e);
/* Bytes to be read from the master (the slave's output). */
int pty_put_output(int master, int slave, const struct termios *t, const void *data, size_t n, struct err *e);

#endif
