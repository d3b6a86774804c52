build/obj/lib/err.o: lib/err.c ipc/exitcodes.h lib/err.h
ipc/exitcodes.h:
lib/err.h:
