build/chan-asan/runtime/debug.o: runtime/debug.c runtime/proc.h \
 runtime/runtime.h include/gort.h include/gort/chan.h include/gort/time.h \
 include/gort/sync.h include/gort/net.h runtime/../arch/context.h \
 runtime/lock.h runtime/timer.h runtime/stack.h
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
