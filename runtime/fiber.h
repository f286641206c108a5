/*
 * fiber.h: telling the sanitizers and valgrind about goroutine stacks.
 * Each hook compiles to nothing unless the build is instrumented.
 *
 * ASan: __sanitizer_start_switch_fiber runs just before a switch, naming
 * the destination stack; __sanitizer_finish_switch_fiber runs on the new
 * stack right after it (peer pitfall 7). TSan: each G gets a fiber, and
 * __tsan_switch_to_fiber runs just before every switch.
 */
#ifndef GORT_FIBER_H
#define GORT_FIBER_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#endif

#ifdef GORT_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save,
                                    const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old,
                                     size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define fiber_asan_start(save, bottom, size)                                 \
    __sanitizer_start_switch_fiber(save, bottom, size)
#define fiber_asan_finish(save, bottom, size)                                \
    __sanitizer_finish_switch_fiber(save, bottom, size)
#define fiber_asan_unpoison(addr, size)                                      \
    __asan_unpoison_memory_region(addr, size)
#else
#define fiber_asan_start(save, bottom, size) ((void)(save), (void)(bottom))
#define fiber_asan_finish(save, bottom, size) ((void)(save))
#define fiber_asan_unpoison(addr, size) ((void)(addr), (void)(size))
#endif

#ifdef GORT_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#define fiber_tsan_current() __tsan_get_current_fiber()
#define fiber_tsan_create() __tsan_create_fiber(0)
#define fiber_tsan_destroy(f) __tsan_destroy_fiber(f)
#define fiber_tsan_switch(f) __tsan_switch_to_fiber(f, 0)
#else
#define fiber_tsan_current() ((void *)0)
#define fiber_tsan_create() ((void *)0)
#define fiber_tsan_destroy(f) ((void)(f))
#define fiber_tsan_switch(f) ((void)(f))
#endif

#endif /* GORT_FIBER_H */
