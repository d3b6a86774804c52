build/obj/lib/proc.o: lib/proc.c lib/cleanup.h lib/proc.h lib/err.h
lib/cleanup.h:
lib/proc.h:
lib/err.h:
