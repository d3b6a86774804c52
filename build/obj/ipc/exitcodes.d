build/obj/ipc/exitcodes.o: ipc/exitcodes.c ipc/exitcodes.h
ipc/exitcodes.h:
