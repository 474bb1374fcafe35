/* bridges/wasm/runtime.c — the plugin's compiled module and its one instance: fresh instances, trap guards, the memory cap and the interrupt. */
#include "runtime.h"

#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wasm-rt-impl.h>

#include "cache.h"
#include "clock.h"
#include "refusals.h"

/* Trap codes of the worker's own, beside wasm_rt_trap_t's. */
enum { TRAP_INTERRUPTED = 100, TRAP_REPLACED = 101, TRAP_NO_MEMORY = 102, TRAP_EXIT = 103 };

/* The signal bay__wasm_interrupt sends the main thread. */
#define INTERRUPT_SIGNAL SIGRTMIN

/* An export that serves calls: (args, args_len) -> bay_errno. */
typedef uint32_t (*entry_fn)(void *inst, uint32_t args, uint32_t args_len);

typedef struct entry {
    const char *name;
    entry_fn fn;
} entry;

/* The one module of this worker and its instance. */
static struct {
    const char *id; /* the plugin, for messages */
    void *so;       /* dlopen handle */
    void (*instantiate)(void *inst, bay__wasm_host *host);
    void (*renewed)(void); /* NULL, or told each time the instance is replaced (bay__wasm_on_renew) */
    void (*free_instance)(void *inst);
    wasm_rt_memory_t *(*memory)(void *inst);
    uint32_t (*alloc)(void *inst, uint32_t size);
    void (*initialize)(void *inst); /* NULL when the module has no _initialize */
    char **exports; /* the names of the exports serving calls (bay__wasm_entries), one block */
    entry *entries;  /* one for each of them */
    size_t nentries;
    void *inst;          /* the instance: bay_wasm_instance_size bytes */
    size_t inst_size;
    bool live;           /* inst holds a working instance */
    unsigned generation; /* counts instances made */
    char dead[700];      /* why there is no working instance, when !live (room for the start note) */
    char start_note[300]; /* the note of a trap outside any call (start code) */
    bay__wasm_cap cap;
    bay__wasm_host host;
    pthread_t main_thread;
    bool module_ready; /* the runtime and the module are initialised */
    bool handler_set;
    struct sigaction old_action;
} rt;

/* 1 while the main thread runs wasm code: only then may the interrupt handler jump out of it. */
static volatile sig_atomic_t in_wasm;

/* note records more about what is going wrong, for the message of the call
 * running (or of the start code). Returns the text. */
static const char *note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *note(const char *fmt, ...)
{
    char *buf = rt.host.frame ? rt.host.frame->note : rt.start_note;
    size_t size = rt.host.frame ? sizeof rt.host.frame->note : sizeof rt.start_note;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return buf;
}

static const char *trap_text(int trap)
{
    switch (trap) {
    case WASM_RT_TRAP_OOB: return "out of bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed (abort() or __builtin_trap())";
    case WASM_RT_TRAP_CALL_INDIRECT: return "indirect call to a missing function or one of another type";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted (wasm calls nested too deep)";
    case TRAP_NO_MEMORY: return "out of memory";
    case TRAP_EXIT: return "the module called proc_exit";
    default: return "unknown trap";
    }
}

/* on_interrupt runs on the main thread. bay_call_cancelled only reads an
 * atomic flag and the monotonic clock, so it is safe in a signal handler; the
 * jump out is as safe as a trap's, since wasm code holds no lock. */
static void on_interrupt(int sig)
{
    bay__wasm_frame *f = rt.host.frame;
    if (in_wasm && f && bay_call_cancelled(f->call))
        wasm_rt_trap((wasm_rt_trap_t)TRAP_INTERRUPTED);
}

void bay__wasm_interrupt(void)
{
    pthread_kill(rt.main_thread, INTERRUPT_SIGNAL);
}

void bay__wasm_host_enter(void)
{
    in_wasm = 0;
    atomic_signal_fence(memory_order_seq_cst);
}

void bay__wasm_host_leave(void)
{
    /* Mark first, check after: an interrupt that came before the mark is seen
     * by the check, one that comes after it jumps out by itself. */
    in_wasm = 1;
    atomic_signal_fence(memory_order_seq_cst);
    const bay__wasm_frame *f = rt.host.frame;
    if (f && f->generation != rt.generation)
        wasm_rt_trap((wasm_rt_trap_t)TRAP_REPLACED);
    if (f && bay_call_cancelled(f->call))
        wasm_rt_trap((wasm_rt_trap_t)TRAP_INTERRUPTED);
}

uint8_t *bay__wasm_bytes(bay__wasm_host *h, uint32_t ptr, uint32_t len, const char *what)
{
    const wasm_rt_memory_t *m = h->memory;
    if ((uint64_t)ptr + len > m->size) {
        note("%s (%u bytes at 0x%x) lies outside the module's memory of %u bytes", what, len, ptr, m->size);
        wasm_rt_trap(WASM_RT_TRAP_OOB);
    }
    return m->data + ptr;
}

_Noreturn void bay__wasm_exit(uint32_t code)
{
    note("WASI proc_exit(%u) ends the call, not the plugin", code);
    wasm_rt_trap((wasm_rt_trap_t)TRAP_EXIT);
}

/* The translated module calls these instead of the runtime's functions of
 * the same names without "bay_" (cc -D, cache.c), so that the cap applies
 * and no interrupt lands inside malloc. */
void bay_wasm_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial, uint32_t max);
uint32_t bay_wasm_grow_memory(wasm_rt_memory_t *mem, uint32_t delta);
uint32_t bay_wasm_grow_funcref_table(wasm_rt_funcref_table_t *table, uint32_t delta, wasm_rt_funcref_t init);
uint32_t bay_wasm_grow_externref_table(wasm_rt_externref_table_t *table, uint32_t delta, wasm_rt_externref_t init);

void bay_wasm_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial, uint32_t max)
{
    wasm_rt_allocate_memory(mem, initial, max < rt.cap.pages ? max : rt.cap.pages);
    if (mem->data == NULL && initial > 0) {
        note("the worker cannot allocate the module's %u initial memory pages", initial);
        wasm_rt_trap((wasm_rt_trap_t)TRAP_NO_MEMORY);
    }
}

uint32_t bay_wasm_grow_memory(wasm_rt_memory_t *mem, uint32_t delta)
{
    bay__wasm_host_enter();
    uint32_t old = wasm_rt_grow_memory(mem, delta);
    if (old == UINT32_MAX) {
        uint64_t want = (uint64_t)mem->pages + delta;
        bay__refused(want > mem->max_pages ? "wasm memory.grow past its cap" : "wasm memory.grow out of memory");
        const char *said =
            want > mem->max_pages
                ? note("memory.grow to %llu pages was refused: the memory is capped at %u pages (%u KiB) by %s",
                       (unsigned long long)want, mem->max_pages, mem->max_pages * 64,
                       mem->max_pages == rt.cap.pages ? rt.cap.source : "the module's own declared maximum")
                : note("memory.grow to %llu pages was refused: the worker is out of memory", (unsigned long long)want);
        fprintf(stderr, "plugbay-worker-wasm: plugin %s: %s\n", rt.id, said);
    }
    bay__wasm_host_leave();
    return old;
}

uint32_t bay_wasm_grow_funcref_table(wasm_rt_funcref_table_t *table, uint32_t delta, wasm_rt_funcref_t init)
{
    bay__wasm_host_enter();
    uint32_t old = wasm_rt_grow_funcref_table(table, delta, init);
    bay__wasm_host_leave();
    return old;
}

uint32_t bay_wasm_grow_externref_table(wasm_rt_externref_table_t *table, uint32_t delta, wasm_rt_externref_t init)
{
    bay__wasm_host_enter();
    uint32_t old = wasm_rt_grow_externref_table(table, delta, init);
    bay__wasm_host_leave();
    return old;
}

/* guard runs body(arg), turning a trap inside it into its code (0: none).
 * Guards nest (a call that waits in plugbay.call runs the calls that arrive
 * meanwhile), so the runtime's jump target is kept and given back. */
static int guard(void (*body)(void *), void *arg)
{
    jmp_buf outer;
    memcpy(outer, wasm_rt_jmp_buf, sizeof outer);
    uint32_t outer_depth = wasm_rt_saved_call_stack_depth;
    int trap = wasm_rt_impl_try();
    if (trap == 0)
        body(arg);
    in_wasm = 0;
    memcpy(wasm_rt_jmp_buf, outer, sizeof outer);
    wasm_rt_saved_call_stack_depth = outer_depth;
    return trap;
}

static void start_body(void *arg)
{
    rt.instantiate(rt.inst, &rt.host);
    if (rt.initialize)
        rt.initialize(rt.inst);
}

/* renew replaces the instance by a fresh one (running the module's start
 * code and _initialize). Returns false with rt.dead saying why it failed. */
static bool renew(void)
{
    if (rt.live)
        rt.free_instance(rt.inst);
    if (rt.renewed)
        rt.renewed();
    memset(rt.inst, 0, rt.inst_size);
    rt.generation++;
    rt.start_note[0] = '\0';
    bay__wasm_frame *frame = rt.host.frame;
    rt.host.frame = NULL;
    int trap = guard(start_body, NULL);
    rt.host.frame = frame;
    rt.live = trap == 0;
    if (trap) {
        rt.free_instance(rt.inst); /* what the start code allocated before it trapped */
        snprintf(rt.dead, sizeof rt.dead, "its start code trapped: %s%s%s", trap_text(trap),
                 rt.start_note[0] ? ": " : "", rt.start_note);
    }
    return rt.live;
}

/* One call's way into the module. */
typedef struct run {
    entry_fn fn;
    const void *args;
    uint32_t len;
    uint32_t rc; /* what the export returned */
} run;

static void run_body(void *arg)
{
    run *r = arg;
    bay__wasm_host_leave(); /* into wasm code, unless the call was cancelled already */
    uint32_t ptr = rt.alloc(rt.inst, r->len);
    if (ptr == 0) {
        bay__wasm_frame *f = rt.host.frame;
        f->code = BAY_ENOMEM;
        snprintf(f->message, sizeof f->message, "%s: bay_alloc(%u) returned 0 (the module is out of memory)",
                 bay_call_name(f->call), r->len);
        r->rc = BAY_ENOMEM;
        return;
    }
    memcpy(bay__wasm_bytes(&rt.host, ptr, r->len, "the arguments' buffer bay_alloc returned"), r->args, r->len);
    r->rc = r->fn(rt.inst, ptr, r->len);
}

/* trapped turns trap, which ended the call of frame f after started_ms, into
 * the call's error, and replaces the instance. Returns the code. */
static int trapped(bay__wasm_frame *f, int trap, int64_t started_ms)
{
    const char *name = bay_call_name(f->call);
    char msg[sizeof f->message + sizeof f->note + 200];
    int code = BAY_EPLUGIN;
    if (trap == TRAP_INTERRUPTED) {
        code = bay_call_cancelled(f->call) == BAY_ETIMEDOUT ? BAY_ETIMEDOUT : BAY_ECANCELED;
        snprintf(msg, sizeof msg, "plugin %s: call \"%s\" stopped in wasm code after %lld ms, %s (an endless loop?)",
                 rt.id, name, (long long)(bay__now_ms() - started_ms),
                 code == BAY_ETIMEDOUT ? "past its deadline" : "cancelled by its caller");
    } else if (trap == TRAP_REPLACED) {
        snprintf(msg, sizeof msg,
                 "plugin %s: call \"%s\" stopped: while it waited in plugbay.call, a call it let in trapped and the "
                 "instance it ran in was replaced",
                 rt.id, name);
    } else {
        snprintf(msg, sizeof msg, "plugin %s: trap: %s in call \"%s\"%s%s", rt.id, trap_text(trap), name,
                 f->note[0] ? ": " : "", f->note);
    }
    if (trap != TRAP_REPLACED && !renew())
        fprintf(stderr, "plugbay-worker-wasm: plugin %s: no fresh instance after a trap: %s\n", rt.id, rt.dead);
    size_t n = strlen(msg);
    snprintf(msg + n, sizeof msg - n, "%s%s",
             rt.live ? "; the plugin now runs in a fresh instance" : "; no fresh instance could be made: ",
             rt.live ? "" : rt.dead);
    fprintf(stderr, "plugbay-worker-wasm: %s\n", msg);
    return bay_call_error(f->call, code, "%s", msg);
}

/* failed gives the call of frame f, whose export returned rc, its message. */
static int failed(const bay__wasm_frame *f, int rc)
{
    if (f->message[0] == '\0' && f->note[0] == '\0')
        return rc; /* the worker library says "FUNCTION returned CODE" */
    char said[sizeof f->message];
    if (f->message[0])
        snprintf(said, sizeof said, "%s", f->message);
    else
        snprintf(said, sizeof said, "%s returned %s", f->function, bay_errname(rc));
    return bay_call_error(f->call, rc, "%s%s%s%s", said, f->note[0] ? " (" : "", f->note, f->note[0] ? ")" : "");
}

static entry_fn find_entry(const char *function)
{
    for (size_t i = 0; i < rt.nentries; i++)
        if (strcmp(rt.entries[i].name, function) == 0)
            return rt.entries[i].fn;
    return NULL;
}

int bay__wasm_run(const char *function, bay_invocation *call, const bay_value *args, bay_value **result)
{
    if (!rt.live)
        return bay_call_error(call, BAY_EUNAVAIL, "plugin %s has no working instance (%s); reload it", rt.id, rt.dead);
    void *packed = NULL;
    size_t len = 0;
    if (bay_value_pack(args, &packed, &len) != 0)
        return bay_call_error(call, BAY_ENOMEM, "%s: no memory for the arguments", bay_call_name(call));
    if (len > UINT32_MAX) {
        free(packed);
        return bay_call_error(call, BAY_EINVAL, "%s: %zu bytes of arguments do not fit in wasm32 memory",
                              bay_call_name(call), len);
    }
    bay__wasm_frame f = {.call = call, .function = function, .generation = rt.generation, .outer = rt.host.frame};
    run r = {find_entry(function), packed, (uint32_t)len, 0};
    int64_t started = bay__now_ms();
    rt.host.frame = &f;
    int trap = guard(run_body, &r);
    rt.host.frame = f.outer;
    free(packed);
    if (trap) {
        bay_value_free(f.result);
        return trapped(&f, trap, started);
    }
    int rc = r.rc ? (int)r.rc : f.code;
    if (rc == 0) {
        *result = f.result;
        return 0;
    }
    bay_value_free(f.result);
    return failed(&f, rc);
}

/* symbol finds name in the compiled module, or says which is missing. */
static void *symbol(const char *name, bool *ok, bay_error *err)
{
    void *p = *ok ? dlsym(rt.so, name) : NULL;
    if (*ok && p == NULL) {
        *ok = false;
        bay_error_set(err, BAY_EIO, rt.id, "the compiled module lacks symbol %s (%s); delete it from the cache", name,
                      dlerror());
    }
    return p;
}

bool bay__wasm_has(const char *function)
{
    return find_entry(function) != NULL;
}

/* add_entry finds the export serving function name in the compiled module (export names are unique). */
static void add_entry(const char *name, bool *ok, bay_error *err)
{
    char sym[300];
    if (!*ok)
        return;
    if (!bay__wasm_mangle(name, sym, sizeof sym)) {
        *ok = false;
        bay_error_set(err, BAY_EINVAL, rt.id, "function name %s is too long", name);
        return;
    }
    rt.entries[rt.nentries++] = (entry){name, (entry_fn)symbol(sym, ok, err)};
}

/* find_symbols fills rt's function pointers and entries (every export serving calls, exports) from the compiled
 * module. */
static int find_symbols(const bay__wasm_shape *shape, bay_error *err)
{
    bool ok = true;
    char sym[300];
    size_t most = 0;
    void (*init_module)(void) = (void (*)(void))symbol("Z_module_init_module", &ok, err);
    rt.instantiate = (void (*)(void *, bay__wasm_host *))symbol("bay_wasm_instantiate", &ok, err);
    rt.free_instance = (void (*)(void *))symbol("Z_module_free", &ok, err);
    const unsigned long *size = symbol("bay_wasm_instance_size", &ok, err);
    rt.memory = (wasm_rt_memory_t * (*)(void *)) symbol("Z_moduleZ_memory", &ok, err);
    bay__wasm_mangle("bay_alloc", sym, sizeof sym);
    rt.alloc = (uint32_t(*)(void *, uint32_t))symbol(sym, &ok, err);
    if (shape->has_initialize)
        rt.initialize = (void (*)(void *))symbol("Z_moduleZ__initialize", &ok, err);
    while (rt.exports[most])
        most++;
    if (ok && (rt.entries = calloc(most ? most : 1, sizeof *rt.entries)) == NULL)
        return bay_error_set(err, BAY_ENOMEM, rt.id, "out of memory");
    for (size_t i = 0; i < most; i++)
        add_entry(rt.exports[i], &ok, err);
    if (!ok)
        return err->code;
    rt.inst_size = *size;
    wasm_rt_init();
    init_module();
    rt.module_ready = true;
    return 0;
}

int bay__wasm_map(const char *id, const char *so, bay_error *err)
{
    rt.id = id;
    rt.so = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    return rt.so ? 0 : bay_error_set(err, BAY_EIO, id, "cannot load the compiled module: %s", dlerror());
}

int bay__wasm_start(const bay__wasm_shape *shape, char **exports, bay__wasm_cap cap, const bay_value *config,
                   bay_error *err)
{
    rt.cap = cap;
    rt.exports = exports;
    int rc = find_symbols(shape, err);
    if (rc)
        return rc;
    if (bay_value_pack(config, &rt.host.config, &rt.host.config_len) != 0 ||
        (rt.inst = calloc(1, rt.inst_size)) == NULL)
        return bay_error_set(err, BAY_ENOMEM, rt.id, "out of memory");
    rt.host.memory = rt.memory(rt.inst);
    rt.main_thread = pthread_self();
    struct sigaction sa = {.sa_handler = on_interrupt, .sa_flags = SA_RESTART | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    rt.handler_set = sigaction(INTERRUPT_SIGNAL, &sa, &rt.old_action) == 0;
    if (!renew())
        return bay_error_set(err, BAY_EPLUGIN, rt.id, "plugin %s: %s", rt.id, rt.dead);
    return 0;
}

void bay__wasm_on_renew(void (*renewed)(void))
{
    rt.renewed = renewed;
}

void bay__wasm_close(void)
{
    if (rt.live)
        rt.free_instance(rt.inst);
    if (rt.handler_set)
        sigaction(INTERRUPT_SIGNAL, &rt.old_action, NULL);
    if (rt.module_ready)
        wasm_rt_free();
    if (rt.so)
        dlclose(rt.so);
    free(rt.inst);
    free(rt.entries);
    free(rt.exports);
    free(rt.host.config);
    free(rt.host.settings);
    free(rt.host.reply);
    memset(&rt, 0, sizeof rt);
}
