/* amber-track: hold the write tracking of a tree between dump iterations.
 *
 * What it does
 *	Keeps the userfaultfds that track writes to the memory of a tree's
 *	processes (lib/track.h) open between 'amber pre-dump' iterations: the
 *	kernel undoes the tracking when the last descriptor of one closes,
 *	and the tree itself must not see them. It listens on a unix socket,
 *	DIR/track.sock, in the images directory of the iteration that set the
 *	tracking up, and answers one client at a time (the peer must have its
 *	own uid): CLAIM (dump-memory of the next iteration takes copies of the
 *	descriptors and moves the generation, the dump id the written bits are
 *	relative to, on to its own; a generation that was not its parent's
 *	is said, and the client then copies everything), GET (seize of that
 *	iteration takes copies, if the generation is its own), ADOPT (seize
 *	gives the set for the new generation and the new images directory:
 *	the holder drops its old descriptors, listens there and removes its
 *	old socket) and QUIT. It watches every tracked process with a pidfd
 *	and exits, removing its socket, once all have exited, when told to
 *	quit or sent SIGTERM, or when no set came within 30 s of its start.
 * Inputs	no stdin. The listening socket (--fd track=N), already bound at
 *	DIR/track.sock by seize.
 * Outputs	no images; the log says what it adopted and handed out.
 * Named fds	`track`: the listening socket.
 * Exit status	0 when it ends as above; lib/exitcodes.h otherwise.
 * Side effects	the tracked processes' private VMAs stay registered for
 *	write-protect (VmFlags 'uw' in smaps) while it runs.
 * Capabilities	none: it clears its effective, permitted and inheritable
 *	sets at start (the bounding set it inherits from seize it cannot
 *	shrink) and sets no_new_privs.
 * By hand	seize starts it (double fork, a session of its own) when
 *	'amber pre-dump' releases the tree; to end the tracking of a tree,
 *	remove it: 'kill PID' of the amber-track process that holds
 *	DIR/track.sock (fuser DIR/track.sock), or let the tree exit.
 */
#include "ipc/stage.h"
#include "stages/track/track.h"

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "track",
		.summary = "hold the userfaultfds of a tree's write tracking between pre-dump iterations",
		.fds = { "track" },
		.no_images_dir = true,
		/* Its bounding set is seize's, which it cannot shrink without
		 * CAP_SETPCAP: track_run clears every other set itself. */
		.keep_all_caps = true,
		.run = track_run,
	};

	return stage_main(&desc, NULL, argc, argv);
}
