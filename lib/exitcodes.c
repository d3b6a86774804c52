/* exitcodes: see exitcodes.h. */
#include "lib/exitcodes.h"

const char *exitcode_name(int code)
{
	switch (code) {
	case EXIT_OK:       return "ok";
	case EXIT_USAGE:    return "usage error";
	case EXIT_INPUT:    return "bad input";
	case EXIT_SYSTEM:   return "system failure";
	case EXIT_PROTOCOL: return "protocol error";
	default:            return "unexpected failure";
	}
}
