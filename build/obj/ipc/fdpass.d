build/obj/ipc/fdpass.o: ipc/fdpass.c ipc/fdpass.h lib/err.h
ipc/fdpass.h:
lib/err.h:
