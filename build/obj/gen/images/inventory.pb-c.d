build/obj/gen/images/inventory.pb-c.o: build/gen/images/inventory.pb-c.c \
 build/gen/images/inventory.pb-c.h
build/gen/images/inventory.pb-c.h:
