build/obj/ipc/stream.o: ipc/stream.c ipc/stream.h \
 build/gen/images/stream.pb-c.h build/gen/images/pstree.pb-c.h lib/err.h \
 lib/frame.h
ipc/stream.h:
build/gen/images/stream.pb-c.h:
build/gen/images/pstree.pb-c.h:
lib/err.h:
lib/frame.h:
