build/obj/gen/images/core.pb-c.o: build/gen/images/core.pb-c.c \
 build/gen/images/core.pb-c.h
build/gen/images/core.pb-c.h:
