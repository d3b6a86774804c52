build/obj/ipc/stage.o: ipc/stage.c ipc/exitcodes.h ipc/stage.h lib/err.h \
 lib/log.h
ipc/exitcodes.h:
ipc/stage.h:
lib/err.h:
lib/log.h:
