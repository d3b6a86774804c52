build/obj/lib/frame.o: lib/frame.c lib/frame.h lib/err.h
lib/frame.h:
lib/err.h:
