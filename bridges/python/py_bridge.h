/* bridges/python/py_bridge.h — the parts of plugbay-worker-python (runtime, memory cap, audit hook, plugbay module, streams, storage, timers and managing, errors) as they see each other. */
#ifndef BAY_PY_BRIDGE_H
#define BAY_PY_BRIDGE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stddef.h>

#include "worker.h"

/* The manifest's "limits" field that caps the plugin's Python memory, and
 * its default, in MiB (plugbayd checks its range: broker/manifest.c). */
#define PYB_LIMIT_MEMORY "python_memory_mb"
#define PYB_MEMORY_MB_DEFAULT 256

/* The plugin this worker runs, set by load for the rest of the process's life. */
extern const bay__plugin_info *pyb_plugin;

/* pyb_plugin_id names the plugin in errors: NULL in a zygote, which starts
 * the interpreter before it has one (pyb_runtime_prepare). */
static inline const char *pyb_plugin_id(void)
{
    return pyb_plugin ? pyb_plugin->id : NULL;
}

/* runtime.c */

/* pyb_runtime_start starts the interpreter, unless this worker's zygote did
 * (pyb_runtime_prepare): isolated (no site, no user site, no environment
 * variables), the audit hook (unarmed until pyb_audit_arm), the plugbay
 * module and the policy module; then sets the memory cap to memory_bytes.
 * Returns 0, or BAY_EIO/BAY_ENOMEM with err saying what failed. */
int pyb_runtime_start(size_t memory_bytes, bay_error *err);

/* pyb_runtime_prepare starts the interpreter in the zygote (bay__bridge's
 * prepare), before any plugin and with no memory cap: every worker forked
 * from it shares its pages until it writes them. Exits when it cannot. */
void pyb_runtime_prepare(void);

/* pyb_runtime_forked brings the interpreter's locks and threads' state up
 * to date in a worker forked from the zygote (bay__bridge's forked). */
void pyb_runtime_forked(void);

/* pyb_runtime_stop finalizes the interpreter started by pyb_runtime_start. */
void pyb_runtime_stop(void);

/* pyb_policy returns the policy module (policy.py), borrowed; NULL when the interpreter is not running. */
PyObject *pyb_policy(void);

/* pyb_policy_error returns the policy's PolicyError, borrowed; NULL when the interpreter is not running. */
PyObject *pyb_policy_error(void);

/* memcap.c */

/* pyb_memcap_install wraps Python's raw allocator and pymalloc's arena
 * allocator so that they count bytes against the cap; call it after
 * Py_PreInitialize and before Py_InitializeFromConfig (once per process). */
void pyb_memcap_install(void);

/* pyb_memcap_set sets the cap in bytes (0 = none). */
void pyb_memcap_set(size_t bytes);

/* pyb_memcap_cap_mb returns the cap in MiB, for messages. */
size_t pyb_memcap_cap_mb(void);

/* pyb_memcap_hit returns true when an allocation was refused since the last
 * pyb_memcap_reset. From the first MemoryError on, a reserve of a few MiB above
 * the cap lets the exception unwind and be reported. */
bool pyb_memcap_hit(void);

/* pyb_memcap_reset forgets a refusal and takes the reserve back. */
void pyb_memcap_reset(void);

/* audit.c */

/* pyb_audit_setup reads what the hook will allow from the plugin's folders and
 * granted permissions (fs.read:PATH, net.*, process.spawn, python.import:NAME;
 * others belong to other layers). Returns 0, or BAY_EINVAL with err naming a
 * malformed permission. Call before pyb_runtime_start. */
int pyb_audit_setup(const bay__plugin_info *p, bay_error *err);

/* pyb_audit_hook is the PEP 578 hook added by pyb_runtime_start: once armed it
 * raises policy_error and returns -1 for what the permissions do not allow. */
int pyb_audit_hook(const char *event, PyObject *args, void *unused);

/* pyb_audit_arm makes the hook judge every event from now on, raising
 * policy_error (a new reference is kept); the interpreter's own library
 * folders (sys.path) become readable. Returns 0 or BAY_ENOMEM. */
int pyb_audit_arm(PyObject *policy_error, bay_error *err);

/* pyb_audit_modules returns a new list of the module names granted with
 * python.import:NAME, or NULL with a Python exception set. */
PyObject *pyb_audit_modules(void);

/* pyb_audit_release drops the reference to policy_error before the
 * interpreter ends; the hook stays armed, raising PermissionError instead. */
void pyb_audit_release(void);

/* pyb_audit_clear disarms the hook and forgets what pyb_audit_setup read
 * (after pyb_audit_release, or before any pyb_audit_arm). */
void pyb_audit_clear(void);

/* api.c */

/* pyb_api_init creates the plugbay module; registered with PyImport_AppendInittab. */
PyObject *pyb_api_init(void);

/* pyb_api_start imports the plugbay module and installs the handler of the
 * signal that stops a cancelled call. Returns 0 or BAY_EIO with err set. */
int pyb_api_start(bay_error *err);

/* pyb_api_bind gives the plugbay module the plugin's id, config, data_dir and
 * PolicyError. Returns the module (borrowed), or NULL with a Python exception set. */
PyObject *pyb_api_bind(const bay__plugin_info *p, PyObject *policy_error);

/* pyb_api_stop drops the module's references before the interpreter ends. */
void pyb_api_stop(void);

/* pyb_api_enter makes call the running call (the plugbay module's context,
 * cancelled and remaining_ms see it) and returns the one it runs inside, to
 * be given back to pyb_api_leave when call ends. */
bay_invocation *pyb_api_enter(bay_invocation *call);
void pyb_api_leave(bay_invocation *outer);

/* pyb_api_raise raises an exception of type (plugbay.CallError or a
 * subclass) with str() err's message and the attributes code (the bay_errno),
 * name (its name, "BAY_EPERM") and plugin (err's plugin id, "" if none).
 * Returns NULL, for a function to return. */
PyObject *pyb_api_raise(PyObject *type, int code, const bay_error *err);

/* pyb_api_outcome returns what a plugbay function gives back for rc: value
 * (taken, converted; None when NULL) on success, else NULL with an exception
 * of type raised as pyb_api_raise does. */
PyObject *pyb_api_outcome(PyObject *type, int rc, bay_value *value, const bay_error *err);

/* pyb_api_submodule adds to the plugbay module the submodule def (its
 * m_name "plugbay.NAME") and the new exception error ("plugbay.NAME", with
 * error_doc, a subclass of base), kept in *type. Returns 0, or -1 with a
 * Python exception set. */
int pyb_api_submodule(PyObject *plugbay, PyModuleDef *def, const char *error, const char *error_doc,
                      PyObject *base, PyObject **type);

/* A PyMethodDef's function and flags for a function taking keywords. */
#define PYB_KEYWORDS(fn) (PyCFunction)(void (*)(void))(fn), METH_VARARGS | METH_KEYWORDS

/* pyb_api_value converts o, named what, into a new bay_value *out for the
 * plugbay function fn ("plugbay.store.put"). Returns 0, or its code with
 * TypeError ("fn: what has type set; ...") or MemoryError set. */
int pyb_api_value(const char *fn, PyObject *o, const char *what, bay_value **out);

/* pyb_api_emit sends chunk, converted as a result is, as the next chunk of
 * the running call's streamed answer (bay_call_emit); fn and what name it in
 * messages ("plugbay.emit", "the chunk"). Returns 0, or -1 with the exception
 * that ends the call raised: the stop of a cancelled call once it must stop,
 * pyb_failure_stream's when emitting failed, TypeError for a value that cannot
 * cross, RuntimeError outside a call. */
int pyb_api_emit(const char *fn, PyObject *chunk, const char *what);

/* pyb_api_stop_type returns the exception that stops a cancelled call (which
 * plugins cannot name), borrowed; NULL before pyb_api_start. */
PyObject *pyb_api_stop_type(void);

/* pyb_api_interrupt runs on the I/O thread when the running call was
 * cancelled: it signals the main thread, whose handler raises the stop
 * exception in the plugin's code (waking it from sleeps and blocking calls). */
void pyb_api_interrupt(void);

/* stream.c */

/* pyb_stream runs gen (taken), the generator the plugin's function returned,
 * to its end: each value it yields goes out as a chunk (pyb_api_emit; fn names
 * the function). Returns a new reference to the value it returns (None
 * without one), or NULL with the exception that ends the call raised, after
 * gen.close() when emitting failed. */
PyObject *pyb_stream(const char *fn, PyObject *gen);

/* storage.c */

/* pyb_storage_add adds to the plugbay module the exception StoreError (a
 * subclass of call_error, plugbay.CallError) and the submodule store: get,
 * put, delete, keys and sql on the plugin's storage (plugin.h's bay_store_*).
 * Returns 0, or -1 with a Python exception set. */
int pyb_storage_add(PyObject *plugbay, PyObject *call_error);

/* pyb_storage_stop drops the reference to StoreError before the interpreter ends. */
void pyb_storage_stop(void);

/* manage.c */

/* pyb_manage_add adds to the plugbay module the submodules timer (set,
 * remove, list: plugin.h's bay_timer_*) and plugins (list, load, unload,
 * reload: bay_plugins_*) and their exceptions TimerError and ManageError
 * (subclasses of call_error, plugbay.CallError). Returns 0, or -1 with a
 * Python exception set. */
int pyb_manage_add(PyObject *plugbay, PyObject *call_error);

/* pyb_manage_stop drops the references to TimerError and ManageError before the interpreter ends. */
void pyb_manage_stop(void);

/* errors.c */

/* pyb_error_take takes the pending Python exception and returns the bay_errno
 * it stands for, with err saying "Type: message" and where in the plugin's own
 * files it was raised ("at main.py:7 in divide, `return a / b`; called from
 * main.py:12 in greet"); the bridge's and the library's frames are left out.
 * call is the call the code ran for (NULL outside calls): a stop reports its
 * cancel or deadline, and a TypeError raised before the function ran (wrong
 * arguments) is BAY_ETYPE. Other codes: plugbay.fail's (with its message
 * alone), BAY_ENOMEM for the memory cap,
 * BAY_EPERM for the policy, BAY_EPLUGIN. Leaves no exception set. */
int pyb_error_take(const bay_invocation *call, bay_error *err);

/* failure.c */

/* pyb_failure_add adds plugbay.fail(code, message) and the exception it
 * raises, plugbay.Failure, to module. Returns 0, or -1 with a Python exception set. */
int pyb_failure_add(PyObject *module);

/* pyb_failure_stream raises what fn ("plugbay.emit", "plugbay.receive")
 * raises when bay_call_emit or bay_call_receive failed with code (not a
 * stop): a plugbay.Failure ("FN: ...") of a subclass plugins cannot name,
 * with e.code set. Returns NULL. */
PyObject *pyb_failure_stream(const char *fn, int code);

/* pyb_failure_recorded returns the code of the pending exception when it is
 * pyb_failure_stream's, whose message the call holds already (bay_call_emit
 * or bay_call_receive recorded it), else 0. The exception stays pending. */
int pyb_failure_recorded(void);

/* pyb_failure_code returns the code a plugbay.Failure (type, value: a
 * normalized exception) ends the call with, or 0 for any other exception. */
int pyb_failure_code(PyObject *type, PyObject *value);

/* pyb_failure_stop drops plugbay.Failure before the interpreter ends. */
void pyb_failure_stop(void);

/* pyb_error_know tells pyb_error_take the exception types it classifies:
 * stop, the plugbay module's stop of a cancelled call, and refused, the
 * policy's PolicyError (both borrowed, kept until the interpreter stops;
 * NULL, NULL forgets them). */
void pyb_error_know(PyObject *stop, PyObject *refused);

#endif
