build/netpoll/runtime/proc.o: runtime/proc.c runtime/fiber.h \
 runtime/proc.h runtime/runtime.h include/gort.h include/gort/chan.h \
 include/gort/time.h include/gort/sync.h include/gort/net.h \
 runtime/../arch/context.h runtime/lock.h runtime/timer.h runtime/stack.h
runtime/fiber.h:
runtime/proc.h:
runtime/runtime.h:
include/gort.h:
include/gort/chan.h:
include/gort/time.h:
include/gort/sync.h:
include/gort/net.h:
runtime/../arch/context.h:
runtime/lock.h:
runtime/timer.h:
runtime/stack.h:
