build/obj/gen/images/pagemap.pb-c.o: build/gen/images/pagemap.pb-c.c \
 build/gen/images/pagemap.pb-c.h
build/gen/images/pagemap.pb-c.h:
