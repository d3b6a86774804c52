build/obj/gen/images/mm.pb-c.o: build/gen/images/mm.pb-c.c \
 build/gen/images/mm.pb-c.h
build/gen/images/mm.pb-c.h:
