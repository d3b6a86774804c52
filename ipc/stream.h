/* stream: the state stream between stages.
 *
 * A stage reads StreamRecord messages (images/stream.proto) on stdin and
 * writes its own on stdout, u32-length framed (lib/frame.h). Every stream
 * begins with a hello naming the protocol and version and ends with an end
 * record counting the records in between. A reader that meets EOF before
 * the end reports that the writer died: a cut stream is never success.
 */
#ifndef AMBER_STREAM_H
#define AMBER_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "images/stream.pb-c.h"
#include "lib/err.h"
#include "lib/frame.h"

#define STREAM_PROTOCOL	"amber-state"
#define STREAM_VERSION	1u
#define STREAM_MAX_RECORD (4u << 20)

struct stream_in {
	struct frame_reader rd;
	char writer[64];	/* from the hello */
	uint64_t count;		/* records returned */
	bool ended;
};

struct stream_out {
	int fd;
	const char *what;
	uint64_t count;		/* records written since the hello */
};

/* Reads and checks the hello. 'what' names the stream in messages. */
int stream_in_open(struct stream_in *s, int fd, const char *what, struct err *e);
/* 1 with *rec set (free with stream_record__free_unpacked), 0 after a valid end,
 * <0 on EOF without end, a count mismatch, or a bad record. */
int stream_in_next(struct stream_in *s, StreamRecord **rec, struct err *e);
void stream_in_close(struct stream_in *s);

int stream_out_open(struct stream_out *s, int fd, const char *writer, struct err *e);
int stream_out_write(struct stream_out *s, const StreamRecord *rec, struct err *e);
int stream_out_end(struct stream_out *s, struct err *e);

/* Checks a raw frame: is it a valid hello / end? (for the driver, which relays raw frames) */
int stream_frame_kind(const uint8_t *data, uint32_t len);	/* StreamRecord__BodyCase, or -1 */

/* A process a dump stage works on, from a 'task' record of seize's stream. */
struct stream_task {
	uint32_t pid;		/* as the images name it */
	uint32_t host;		/* as the dump stages see it (host_pid, else pid) */
};

/* Reads a whole stream on fd whose 'task' records name the processes to
 * dump (seize's, for dump-files, dump-memory and dump-mounts), with no
 * side effect: zombies are left out (they have nothing to dump), other
 * records ignored; a pid of 0 or one named twice is a protocol error.
 * *tasks (malloc'd, input order) is set even after an error: free it. */
int stream_in_tasks(int fd, const char *what, struct stream_task **tasks, int *nr, struct err *e);

/* Helpers that wrap one body in a record and write it. */
int stream_out_task(struct stream_out *s, const PstreeEntry *t, struct err *e);

#endif
