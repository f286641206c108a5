/*
 * symtab.c: the symbol data tracebacks print (function names, file:line,
 * module and offset), prepared in a normal context so that a signal
 * handler only reads it.
 *
 * Two tables, each built once per process and then never changed:
 *  - the module list (name and address range of every loaded object),
 *    taken with dl_iterate_phdr at gort_run: cheap, and enough for the
 *    raw fallback "module+0xoffset";
 *  - the full table: functions (ELF symbol tables) and line rows (DWARF
 *    line programs) of every module, read with elfutils' libdwfl and
 *    copied into flat arrays sorted by address. Reading DWARF mallocs and
 *    takes milliseconds, so it runs on a thread of its own started at
 *    gort_run (or synchronously, from a crash path in a normal context,
 *    when that thread has not finished).
 * Each table is published with one release store; readers load it with
 * acquire and only read, never allocate, never lock: gort__symtab_lookup
 * is async-signal-safe. Names and file strings point into libdwfl's data,
 * which is kept for the life of the process (the Dwfl is never ended).
 *
 * Why libdwfl: it is elfutils' maintained reader of ELF symbols, DWARF 5
 * line tables and separate debug files; gort does not parse DWARF itself.
 * Locking: a pthread_once per table; none for readers.
 * See also: runtime/traceback.c (the only user), docs/debugging.md.
 */
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "symtab.h"

#if GORT_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif

enum { MODS_MAX = 256 };

struct symmod {
    uintptr_t lo, hi;      /* lowest and one past the highest mapped byte */
    uintptr_t base;        /* load bias (dlpi_addr) */
    char name[120];
};

struct symfunc {
    uintptr_t lo, hi;
    const char *name;
};

struct symline {
    uintptr_t addr;
    const char *file;      /* NULL: end of a sequence (no line here) */
    uint32_t line;
};

struct symtab {
    struct symfunc *funcs;
    size_t nfuncs;
    struct symline *lines;
    size_t nlines;
};

static struct symmod mods[MODS_MAX];
static size_t nmods;
static _Atomic bool mods_ready;
static struct symtab *_Atomic table;
static _Atomic bool building;      /* the preparing thread runs */
#if GORT_HAVE_LIBDW
/* The libdwfl session the full table's strings point into; never ended,
 * and kept reachable here for LeakSanitizer. */
static Dwfl *keep_dwfl __attribute__((used));
#endif
static pthread_once_t mods_once = PTHREAD_ONCE_INIT;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* ---- The module list --------------------------------------------------- */

static int each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    if (nmods == MODS_MAX)
        return 1;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (lo >= hi)
        return 0;
    struct symmod *m = &mods[nmods++];
    m->lo = lo;
    m->hi = hi;
    m->base = info->dlpi_addr;
    const char *name = info->dlpi_name;
    if (!name || !*name) {
        /* The executable: dl_iterate_phdr names it "". */
        ssize_t n = readlink("/proc/self/exe", m->name, sizeof m->name - 1);
        m->name[n > 0 ? n : 0] = '\0';
    } else {
        size_t n = strlen(name);
        if (n >= sizeof m->name)
            n = sizeof m->name - 1;
        memcpy(m->name, name, n);
        m->name[n] = '\0';
    }
    return 0;
}

static void mods_build(void)
{
    dl_iterate_phdr(each_object, NULL);
    atomic_store_explicit(&mods_ready, true, memory_order_release);
}

/* ---- The full table ---------------------------------------------------- */

#if GORT_HAVE_LIBDW
struct grow {
    void *v;
    size_t n, cap, elem;
};

static void *grow_add(struct grow *g)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        void *v = realloc(g->v, cap * g->elem);
        if (!v)
            return NULL;
        g->v = v;
        g->cap = cap;
    }
    return (char *)g->v + g->elem * g->n++;
}

static int cmp_func(const void *a, const void *b)
{
    const struct symfunc *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Rows at one address: end-of-sequence rows sort first, so the last row
 * at or below a pc is the one that starts code there. */
static int cmp_line(const void *a, const void *b)
{
    const struct symline *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return (x->file != NULL) - (y->file != NULL);
}

static void add_funcs(Dwfl_Module *mod, struct grow *fg)
{
    int n = dwfl_module_getsymtab(mod);
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr,
                                                   &shndx, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info);
        if (!name || !*name || sym.st_size == 0 || shndx == SHN_UNDEF ||
            (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        struct symfunc *f = grow_add(fg);
        if (!f)
            return;
        *f = (struct symfunc){addr, addr + sym.st_size, name};
    }
}

/* A relative file name is joined to the unit's compilation directory,
 * as Go prints absolute paths; the joined strings are kept for good (the
 * line rows point at them). cache holds the unit's joins so far. */
struct joins {
    const char *raw[64];
    char *joined[64];
    int n;
};

static const char *absolute(const char *file, const char *dir,
                            struct joins *cache)
{
    if (file[0] == '/' || !dir)
        return file;
    for (int i = 0; i < cache->n; i++)
        if (cache->raw[i] == file)
            return cache->joined[i];
    size_t a = strlen(dir), b = strlen(file);
    char *j = malloc(a + b + 2);
    if (!j)
        return file;
    memcpy(j, dir, a);
    j[a] = '/';
    memcpy(j + a + 1, file, b + 1);
    if (cache->n < 64) {
        cache->raw[cache->n] = file;
        cache->joined[cache->n++] = j;
    }
    return j;
}

static void add_lines(Dwfl_Module *mod, struct grow *lg)
{
    /* A sequence whose code the linker discarded (a duplicate, a section
     * removed by --gc-sections) keeps its rows at a tombstone address (0,
     * or -1 with newer linkers): such a sequence is dropped whole, or its
     * rows would cover real code (seen in a -static link). */
    Dwarf_Addr low = 0, high = 0;
    dwfl_module_info(mod, NULL, &low, &high, NULL, NULL, NULL, NULL);
    Dwarf_Addr bias;
    Dwarf_Die *cu = NULL;
    while ((cu = dwfl_module_nextcu(mod, cu, &bias))) {
        Dwarf_Lines *lines;
        size_t n;
        if (dwarf_getsrclines(cu, &lines, &n) != 0)
            continue;
        Dwarf_Attribute attr;
        const char *dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir,
                                                      &attr));
        struct joins cache = {.n = 0};
        bool skip = false, seq_start = true;
        for (size_t i = 0; i < n; i++) {
            Dwarf_Line *l = dwarf_onesrcline(lines, i);
            Dwarf_Addr addr;
            int lineno = 0;
            bool end = false;
            if (!l || dwarf_lineaddr(l, &addr) || dwarf_lineno(l, &lineno) ||
                dwarf_lineendsequence(l, &end))
                continue;
            if (seq_start) /* 0: the ELF header, never code */
                skip = addr == 0 || addr + bias < low || addr + bias >= high;
            seq_start = end;
            if (skip)
                continue;
            const char *file = end ? NULL : dwarf_linesrc(l, NULL, NULL);
            if (!end && !file)
                continue;
            /* The row first: a join made for a row that memory then
             * refused would be pointed at by nothing. */
            struct symline *row = grow_add(lg);
            if (!row)
                return;
            if (file)
                file = absolute(file, dir, &cache);
            *row = (struct symline){addr + bias, file, (uint32_t)lineno};
        }
    }
}

/* Only the DWARF inside each file is read: libdwfl's standard search for
 * separate debug files loads libdebuginfod (and with it libcurl and some
 * twenty libraries) on first use, which took over a second here. */
static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *name,
                        Dwarf_Addr base, const char *file,
                        const char *debuglink, GElf_Word crc, char **path)
{
    (void)mod, (void)userdata, (void)name, (void)base, (void)file;
    (void)debuglink, (void)crc, (void)path;
    return -1;
}

static void table_build(void)
{
    static char *debuginfo_path = NULL;
    static const Dwfl_Callbacks cb = {
        .find_elf = dwfl_build_id_find_elf,
        .find_debuginfo = no_debuginfo,
        .debuginfo_path = &debuginfo_path,
    };
    pthread_once(&mods_once, mods_build);
    /* Taken first: once rows point at joined file names and at the Dwfl's
     * strings, giving up would leak them all. */
    struct symtab *t = malloc(sizeof *t);
    if (!t)
        return;
    Dwfl *dwfl = dwfl_begin(&cb);
    if (!dwfl) {
        free(t);
        return;
    }
    dwfl_report_begin(dwfl);
    Dwfl_Module *mod_list[MODS_MAX];
    size_t nm = 0;
    for (size_t i = 0; i < nmods; i++) {
        /* true: dlpi_addr is the load bias, added to the p_vaddrs. */
        Dwfl_Module *mod = mods[i].name[0] != '/' ? NULL :
            dwfl_report_elf(dwfl, mods[i].name, mods[i].name, -1,
                            mods[i].base, true);
        if (mod)
            mod_list[nm++] = mod;
    }
    dwfl_report_end(dwfl, NULL, NULL);
    struct grow fg = {.elem = sizeof(struct symfunc)};
    struct grow lg = {.elem = sizeof(struct symline)};
    for (size_t i = 0; i < nm; i++) {
        add_funcs(mod_list[i], &fg);
        add_lines(mod_list[i], &lg);
    }
    qsort(fg.v, fg.n, fg.elem, cmp_func);
    qsort(lg.v, lg.n, lg.elem, cmp_line);
    *t = (struct symtab){fg.v, fg.n, lg.v, lg.n};
    keep_dwfl = dwfl;
    atomic_store_explicit(&table, t, memory_order_release);
}
#else
static void table_build(void)
{
    pthread_once(&mods_once, mods_build);
}
#endif

static void *prepare_thread(void *arg)
{
    (void)arg;
    gort__symtab_prepare();
    atomic_store(&building, false);
    return NULL;
}

void gort__symtab_init(bool full)
{
    pthread_once(&mods_once, mods_build);
    if (!full || atomic_load_explicit(&table, memory_order_acquire))
        return;
    /* A thread of its own, with every signal blocked so none of the
     * process's signals is delivered to it. */
    pthread_attr_t attr;
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_store(&building, true);
    if (pthread_create(&t, &attr, prepare_thread, NULL) != 0) {
        atomic_store(&building, false);
        gort__symtab_prepare();
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void gort__symtab_prepare(void)
{
    pthread_once(&table_once, table_build);
}

void gort__symtab_wait(int64_t ns)
{
    struct timespec ms = {0, 1000000};
    for (; ns > 0 && !gort__symtab_ready() && atomic_load(&building);
         ns -= ms.tv_nsec)
        nanosleep(&ms, NULL);
}

bool gort__symtab_ready(void)
{
    return atomic_load_explicit(&table, memory_order_acquire) != NULL;
}

/* ---- Lookups (async-signal-safe) --------------------------------------- */

static const struct symfunc *find_func(const struct symtab *t, uintptr_t pc)
{
    size_t lo = 0, hi = t->nfuncs;
    while (lo < hi) { /* first function starting above pc */
        size_t mid = lo + (hi - lo) / 2;
        if (t->funcs[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Aliases and nested symbols share a start: look back a little for
     * one that covers pc. */
    for (size_t i = lo, k = 0; i > 0 && k < 8; i--, k++)
        if (pc < t->funcs[i - 1].hi)
            return &t->funcs[i - 1];
    return NULL;
}

static const struct symline *find_line(const struct symtab *t, uintptr_t pc)
{
    size_t lo = 0, hi = t->nlines;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->lines[mid].addr <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && t->lines[lo - 1].file ? &t->lines[lo - 1] : NULL;
}

bool gort__symtab_lookup(uintptr_t pc, struct symloc *out)
{
    memset(out, 0, sizeof *out);
    if (atomic_load_explicit(&mods_ready, memory_order_acquire)) {
        for (size_t i = 0; i < nmods; i++) {
            if (pc >= mods[i].lo && pc < mods[i].hi) {
                out->module = mods[i].name;
                out->modoff = pc - mods[i].base;
                break;
            }
        }
    }
    const struct symtab *t = atomic_load_explicit(&table,
                                                  memory_order_acquire);
    if (!t)
        return false;
    const struct symfunc *f = find_func(t, pc);
    if (f) {
        out->func = f->name;
        out->entry = f->lo;
    }
    /* A row that starts before the function belongs to other code: the
     * function has no line rows (built without -g). */
    const struct symline *l = find_line(t, pc);
    if (l && f && l->addr < f->lo)
        l = NULL;
    if (l) {
        out->file = l->file;
        out->line = l->line;
    }
    return f != NULL;
}
