# gort-gdb.py: gdb commands for programs built with gort (Go's
# runtime-gdb.py, for C).
#
#   info goroutines           one line per goroutine: id, status, wait
#                             reason, and where it is (its innermost frame
#                             outside gort's own code); * marks the
#                             goroutine of the selected thread
#   goroutine N CMD           run gdb command CMD (bt, info frame, ...) as
#                             if goroutine N were the current one
#   goroutine all CMD         ... for every goroutine
#
# Loaded automatically: the library carries it in a .debug_gdb_scripts
# section (runtime/traceback.c), which gdb runs for a file in its
# auto-load safe-path (see "info auto-load"; or add-auto-load-safe-path
# DIR); `make install` also puts it in $(PREFIX)/share/gort/ for `source`.
#
# How: goroutine descriptors live in chunks listed from the static `gs` in
# runtime/g.c. A goroutine that is not running is resumed by its saved
# context (arch/context.h): the switch pushed its callee-saved registers
# and return address at ctx.sp. The commands load those into the selected
# thread's registers, run CMD, and put the thread's own registers back. A
# running goroutine is shown on the thread whose M runs it.
# Needs the library's debug information (gort builds with -g). amd64 only:
# the register lists below are the x86-64 switch frame.

import gdb

G_STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall",
            4: "waiting", 6: "dead"}
# arch/context.h, x86-64: CTX_R15..CTX_RIP offsets from ctx.sp
CTX_REGS = [("r15", 8), ("r14", 16), ("r13", 24), ("r12", 32),
            ("rbx", 40), ("rbp", 48)]
CTX_RIP = 56
CTX_FRAME = 64
SAVED = ["rip", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15"]


def _static(name, fileend):
    """The static variable `name` defined in a file ending in fileend."""
    for sym in gdb.lookup_static_symbols(name):
        if sym.symtab and sym.symtab.filename.endswith(fileend):
            return sym.value()
    return None


def _gort_text():
    """Address ranges of gort's code (the gort_text section)."""
    ranges = []
    try:
        lo = int(gdb.parse_and_eval("(unsigned long)&__start_gort_text"))
        hi = int(gdb.parse_and_eval("(unsigned long)&__stop_gort_text"))
        ranges.append((lo, hi))
    except gdb.error:
        pass
    return ranges


def all_goroutines():
    """Every live goroutine descriptor (gdb.Value of struct g), by id."""
    gs = _static("gs", "runtime/g.c")
    if gs is None:
        raise gdb.GdbError("gort: no debug info for runtime/g.c (is this a "
                           "gort program, built with -g?)")
    out = []
    chunk = gs["chunks"]
    while int(chunk) != 0:
        arr = chunk["g"]
        n = arr.type.range()[1] + 1
        for i in range(n):
            g = arr[i]
            st = int(g["status"])
            if st in (0, 6) or int(g["goid"]) == 0:
                continue
            out.append(g)
        chunk = chunk["next"]
    out.sort(key=lambda g: int(g["goid"]))
    return out


def waitreason(g):
    reasons = _static("waitreasons", "runtime/debug.c")
    r = int(g["waitreason"])
    if reasons is not None and r <= reasons.type.range()[1]:
        return reasons[r].string()
    return str(r)


def status(g):
    st = int(g["status"])
    if st == 4:
        return waitreason(g)
    return G_STATUS.get(st, str(st))


def _thread_of(g):
    """The gdb thread whose M runs g, or None."""
    addr = int(g.address)
    cur = gdb.selected_thread()
    found = None
    for t in gdb.selected_inferior().threads():
        try:
            t.switch()
            m = gdb.parse_and_eval("gort__tls_m")
            if int(m) != 0 and int(m["curg"]) == addr:
                found = t
                break
        except gdb.error:
            continue
    cur.switch()
    return found


def _current_goroutine():
    try:
        m = gdb.parse_and_eval("gort__tls_m")
        if int(m) != 0 and int(m["curg"]) != 0:
            return int(m["curg"]["goid"])
    except gdb.error:
        pass
    return None


def _read_u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return int.from_bytes(bytes(mem), "little")


def in_goroutine(g, fn):
    """Call fn() with the selected thread's registers set to goroutine g's
    saved context; or on the thread that runs it; returns fn's result."""
    st = int(g["status"])
    if st in (2, 3):
        t = _thread_of(g)
        if t is None:
            raise gdb.GdbError("goroutine %d runs on a thread gdb cannot "
                               "find" % int(g["goid"]))
        cur = gdb.selected_thread()
        t.switch()
        gdb.newest_frame().select()
        try:
            return fn()
        finally:
            cur.switch()
    if int(g["stk"]["hi"]) == 0:
        # No stack attached yet: it never ran (ctx is a previous life's).
        return fn(never_ran=True)
    sp = int(g["ctx"]["sp"])
    if sp == 0:
        raise gdb.GdbError("goroutine %d has no saved context" %
                           int(g["goid"]))
    start = int(gdb.parse_and_eval("(unsigned long)&gort__ctx_start"))
    if _read_u64(sp + CTX_RIP) == start:
        return fn(never_ran=True)
    gdb.newest_frame().select()
    saved = {r: int(gdb.parse_and_eval("$" + r)) for r in SAVED}
    try:
        for reg, off in CTX_REGS:
            gdb.execute("set $%s = %d" % (reg, _read_u64(sp + off)),
                        to_string=True)
        gdb.execute("set $rsp = %d" % (sp + CTX_FRAME), to_string=True)
        # One byte back, inside the call of gort__ctx_switch: gdb treats
        # frame 0's pc as exact, and the return address would name the
        # inlined code after the call. The thread never runs from here:
        # its registers are put back before gdb resumes it.
        gdb.execute("set $rip = %d" % (_read_u64(sp + CTX_RIP) - 1),
                    to_string=True)
        return fn()
    finally:
        for r in SAVED:
            gdb.execute("set $%s = %d" % (r, saved[r]), to_string=True)
        gdb.newest_frame().select()


def where(g, text):
    """The innermost frame outside gort's code, as 'func at file:line'."""
    def look(never_ran=False):
        if never_ran:
            return "(not started: %s)" % str(g["fn"]).split(" ")[-1]
        f = gdb.newest_frame()
        while f is not None:
            pc = f.pc()
            # gort's inline fast paths (gort_mutex_lock) are compiled
            # into the caller: skip them by name.
            inline_api = (f.type() == gdb.INLINE_FRAME and f.name() and
                          f.name().startswith("gort_"))
            if not inline_api and not any(lo <= pc < hi for lo, hi in text):
                sal = f.find_sal()
                name = f.name() or "??"
                if sal.symtab:
                    return "%s at %s:%d" % (name, sal.symtab.filename,
                                            sal.line)
                return name
            f = f.older()
        return "?"
    try:
        return in_goroutine(g, look)
    except gdb.GdbError as e:
        return "(%s)" % e


class InfoGoroutines(gdb.Command):
    """info goroutines: list every goroutine (id, status, wait reason,
where)."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK,
                         gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        text = _gort_text()
        cur = _current_goroutine()
        for g in all_goroutines():
            goid = int(g["goid"])
            mark = "*" if goid == cur else " "
            st = G_STATUS.get(int(g["status"]), "?")
            reason = " [%s]" % waitreason(g) if int(g["status"]) == 4 else ""
            print("%s %d %s%s %s" % (mark, goid, st, reason, where(g, text)))


class GoroutineCmd(gdb.Command):
    """goroutine N CMD | goroutine all CMD: run gdb command CMD (bt, ...)
in goroutine N's context, or in every goroutine's."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) < 2:
            raise gdb.GdbError("usage: goroutine N|all CMD")
        which, cmd = parts
        gs = all_goroutines()
        if which != "all":
            try:
                goid = int(which)
            except ValueError:
                raise gdb.GdbError("usage: goroutine N|all CMD")
            gs = [g for g in gs if int(g["goid"]) == goid]
            if not gs:
                raise gdb.GdbError("no goroutine %d" % goid)
        for g in gs:
            print("goroutine %d [%s]:" % (int(g["goid"]), status(g)))

            def run(never_ran=False):
                if never_ran:
                    print("  (not started)")
                else:
                    gdb.execute(cmd)
            try:
                in_goroutine(g, run)
            except gdb.GdbError as e:
                print("  (%s)" % e)
            print()


InfoGoroutines()
GoroutineCmd()
