/* exitcodes: the exit status table shared by every stage and the driver.
 *
 * The driver uses the class to decide what to say: for every failure but
 * EXIT_USAGE it prints the command that reruns the failed stage alone on its
 * recorded input (driver/run.c). A rerun may succeed after EXIT_SYSTEM (the
 * world may change); after EXIT_INPUT or EXIT_PROTOCOL it reproduces the
 * failure for debugging, and the images or a peer stage must change first.
 */
#ifndef AMBER_EXITCODES_H
#define AMBER_EXITCODES_H

enum {
	EXIT_OK       = 0,	/* success */
	EXIT_FAILURE_ = 1,	/* reserved: an unclassified failure (a bug) */
	EXIT_USAGE    = 2,	/* bad command line */
	EXIT_INPUT    = 3,	/* bad or unsupported input: image, option, target state */
	EXIT_SYSTEM   = 4,	/* a system call failed; a rerun may succeed */
	EXIT_PROTOCOL = 5,	/* a peer stage broke the state stream protocol */
};

/* A word for each code, for messages ("input error"). */
const char *exitcode_name(int code);

#endif
