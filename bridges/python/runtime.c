/* bridges/python/runtime.c — starting and stopping the embedded CPython for the one plugin of this worker. */
#include "py_bridge.h"

#include <marshal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* policy.py, compiled at build time (compile_policy.py): the bytecode magic number, then the marshalled code. */
extern const unsigned char pyb_policy_code[];
extern const size_t pyb_policy_code_size;

static PyObject *policy;       /* policy.py, run */
static PyObject *policy_error; /* its PolicyError, which pyb_error_take classifies */

static int status_failed(PyStatus status, const char *doing, bay_error *err)
{
    return bay_error_set(err, BAY_EIO, pyb_plugin_id(), "cannot start Python %s (%s): %s%s%s", PY_VERSION, doing,
                         status.func ? status.func : "", status.func ? ": " : "",
                         status.err_msg ? status.err_msg : "unknown error");
}

/* configure fills an isolated configuration: no site, no user site, no
 * environment variables, no signal handlers, no bytecode files written, the
 * standard library of the Python the worker was built with, and unbuffered
 * standard streams, whose lines reach plugbayd's log as they are printed. */
static PyStatus configure(PyConfig *c)
{
    PyConfig_InitIsolatedConfig(c);
    c->site_import = 0;
    c->user_site_directory = 0;
    c->use_environment = 0;
    c->install_signal_handlers = 0;
    c->write_bytecode = 0;
    c->pathconfig_warnings = 0;
    c->parse_argv = 0;
    c->buffered_stdio = 0;
    c->configure_c_stdio = 0;
    PyStatus status = PyConfig_SetBytesString(c, &c->home, BAY_PYTHON_HOME);
    if (!PyStatus_Exception(status))
        status = PyConfig_SetBytesString(c, &c->program_name, "plugbay-worker-python");
    return status;
}

/* load_policy runs policy.py (embedded) as a module of its own, which no import can reach. */
static int load_policy(bay_error *err)
{
    long magic = PyImport_GetMagicNumber();
    const unsigned char want[4] = {magic & 0xff, (magic >> 8) & 0xff, (magic >> 16) & 0xff, (magic >> 24) & 0xff};
    if (pyb_policy_code_size < 4 || memcmp(pyb_policy_code, want, 4) != 0)
        return bay_error_set(err, BAY_EIO, pyb_plugin_id(),
                             "plugbay-worker-python holds its policy compiled for another Python than the %s it runs "
                             "now (bytecode magic %02x%02x, expected %02x%02x); rebuild plugbay",
                             PY_VERSION, pyb_policy_code[0], pyb_policy_code[1], want[0], want[1]);
    PyObject *code = PyMarshal_ReadObjectFromString((const char *)pyb_policy_code + 4,
                                                    (Py_ssize_t)pyb_policy_code_size - 4);
    PyObject *module = code ? PyModule_New("plugbay_policy") : NULL;
    PyObject *globals = module ? PyModule_GetDict(module) : NULL;
    PyObject *done = globals && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0
                         ? PyEval_EvalCode(code, globals, globals)
                         : NULL;
    Py_XDECREF(code);
    if (done == NULL) {
        bay_error e;
        Py_XDECREF(module);
        pyb_error_take(NULL, &e);
        return bay_error_set(err, BAY_EIO, pyb_plugin_id(), "cannot run the python bridge's policy: %s", e.message);
    }
    Py_DECREF(done);
    policy = module;
    if ((policy_error = PyObject_GetAttrString(policy, "PolicyError")) == NULL) {
        bay_error e;
        pyb_error_take(NULL, &e);
        return bay_error_set(err, BAY_EIO, pyb_plugin_id(), "the python bridge's policy has no PolicyError: %s",
                             e.message);
    }
    pyb_error_know(pyb_api_stop_type(), policy_error);
    return 0;
}

/* start starts the interpreter, with no plugin yet: the policy loaded, the
 * plugbay module ready to import, the audit hook in place but not armed. */
static int start(bay_error *err)
{
    PyPreConfig pre;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
    PyStatus status = Py_PreInitialize(&pre);
    if (PyStatus_Exception(status))
        return status_failed(status, "pre-initialization", err);
    pyb_memcap_install();
    if (PySys_AddAuditHook(pyb_audit_hook, NULL) != 0 || PyImport_AppendInittab("plugbay", pyb_api_init) != 0)
        return bay_error_set(err, BAY_ENOMEM, pyb_plugin_id(), "cannot start Python: out of memory");
    PyConfig config;
    status = configure(&config);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        return status_failed(status, "initialization", err);
    int rc = pyb_api_start(err);
    if (rc == 0)
        rc = load_policy(err);
    if (rc)
        pyb_runtime_stop();
    return rc;
}

int pyb_runtime_start(size_t memory_bytes, bay_error *err)
{
    pyb_memcap_set(memory_bytes);
    return Py_IsInitialized() ? 0 : start(err);
}

/* call_policy calls policy.py's function name, which takes nothing: 0, or BAY_EIO with err saying why. */
static int call_policy(const char *name, bay_error *err)
{
    PyObject *done = PyObject_CallMethod(policy, name, NULL);
    if (done == NULL) {
        bay_error e;
        pyb_error_take(NULL, &e);
        return bay_error_set(err, BAY_EIO, pyb_plugin_id(), "the python bridge's policy failed in %s(): %s", name,
                             e.message);
    }
    Py_DECREF(done);
    return 0;
}

void pyb_runtime_prepare(void)
{
    bay_error err;
    if (start(&err) != 0 || call_policy("warm", &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        exit(1); /* plugbayd starts this language's workers by exec */
    }
}

void pyb_runtime_forked(void)
{
    bay_error err;
    PyOS_AfterFork_Child();
    if (call_policy("forked", &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        exit(1); /* plugbayd tells the load failed: the worker's output is in its log */
    }
}

void pyb_runtime_stop(void)
{
    if (!Py_IsInitialized())
        return;
    pyb_error_know(NULL, NULL);
    pyb_api_stop();
    pyb_audit_release();
    Py_CLEAR(policy_error);
    Py_CLEAR(policy);
    Py_FinalizeEx();
    pyb_audit_clear();
}

PyObject *pyb_policy(void)
{
    return policy;
}

PyObject *pyb_policy_error(void)
{
    return policy_error;
}
