// bindings/node/src/addon.cc — the native half of the Node.js binding: a Connection object over libplugbay's bay_conn.
//
// Every libplugbay call that may block runs on the connection's pool threads
// (pool.h), except callSync's bay_call, which blocks the JavaScript thread
// on purpose; a stream's read (callStream) takes a chunk already received on
// the JavaScript thread (bay_stream_next waiting 0 ms) and waits for one on a
// pool thread, as an upload's send (callUpload) sends a chunk the provider has
// credit for at once and waits for credit on a pool thread. Outcomes, provider
// calls and notices reach the JavaScript thread through one
// napi_threadsafe_function per connection (outcomes that arrive
// together are settled in one turn of the event loop), referenced (keeping
// the event loop alive) only while a request is in flight or the connection
// provides or subscribes; a lone fast call may be settled at once instead
// (kCallWait). lib/index.js wraps this into the public API.
#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <plugbay/plugbay.h>

#include "pool.h"
#include "values.h"

namespace pbnode {
namespace {

// How long call() may wait on the JavaScript thread for its pool thread's
// answer before it returns a pending promise, when the call is the only one in
// flight and the last lone call took less: a fast-path call is back well
// within it, settled without the two thread wake-ups of the trip through the
// event loop. Calls in a burst, and calls that take longer (through plugbayd),
// never wait.
constexpr auto kCallWait = std::chrono::microseconds(50);
// How long close() waits for providers' promises to settle before it closes regardless (their replies then
// answer nobody).
constexpr auto kHandlerLimit = std::chrono::seconds(300);

void CallJob(Napi::Env env, Napi::Function, void *, Job *job);
using Tsfn = Napi::TypedThreadSafeFunction<void, Job, CallJob>;

// Per-environment data: the factory lib/index.js gives for PlugbayError objects.
struct AddonData {
    Napi::FunctionReference makeError;
    Napi::FunctionReference ctor;
};

// MakeError builds a PlugbayError through lib/index.js's factory.
Napi::Value MakeError(Napi::Env env, int code, const char *plugin, const char *message)
{
    AddonData *data = env.GetInstanceData<AddonData>();
    return data->makeError.Call({Napi::Number::New(env, code), Napi::String::New(env, bay_errname(code)),
                                 Napi::String::New(env, plugin ? plugin : ""), Napi::String::New(env, message)});
}

// IterResult makes an async iterator's result of a stream's chunk: {value, done: false}, or {value: undefined,
// done: true} for NULL, the stream's end.
Napi::Object IterResult(Napi::Env env, const bay_value *chunk)
{
    Napi::Object r = Napi::Object::New(env);
    r.Set("value", chunk ? FromBay(env, chunk) : env.Undefined());
    r.Set("done", Napi::Boolean::New(env, chunk == nullptr));
    return r;
}

// An outcome of a libplugbay request, settled into a promise on the JavaScript thread.
struct Outcome {
    int rc = 0;
    bay_value *result = nullptr;
    bay_error err{};
    bool chunk = false;  // result is a stream's chunk (NULL: its end), settled as an iterator result
    void Settle(Napi::Env env, Napi::Promise::Deferred &d)
    {
        if (rc == 0)
            d.Resolve(chunk ? Napi::Value(IterResult(env, result)) : FromBay(env, result));
        else
            d.Reject(MakeError(env, rc, err.plugin, err.message));
        bay_value_free(result);
        result = nullptr;
    }
};

void CallJob(Napi::Env env, Napi::Function, void *, Job *job)
{
    if (env != nullptr) {
        Napi::HandleScope scope(env);
        job->done(env);
    } else if (job->dropped) {
        job->dropped();
    }
    delete job;
}

struct Provider;

// The connection's state shared by the JavaScript object, its pool threads and its handlers.
struct ConnState : std::enable_shared_from_this<ConnState> {
    bay_conn *conn = nullptr;
    std::string url;
    Tsfn tsfn;
    std::shared_ptr<Pool> pool;

    // Guards starting a request against bay_close: requests count themselves
    // in active; close waits until none is active, then closes.
    std::mutex mu;
    std::condition_variable idle;
    int active = 0;
    int handling = 0;  // provider calls not answered yet (bay_close would say goodbye before their answers)
    bool closing = false;

    // JavaScript thread only.
    int holds = 0;  // requests in flight + 1 while providing or subscribed
    int calls = 0;  // call() promises not settled yet
    std::chrono::nanoseconds lastAlone{0};  // how long the last call that ran alone took
    bool keeping = false;
    bool closed = false;
    bool released = false;  // the thread-safe function was released
    std::vector<std::unique_ptr<Provider>> providers;
    Napi::FunctionReference noticeFn;

    void Hold(Napi::Env env, int delta)
    {
        int before = holds;
        holds += delta;
        if (closed) {
            if (holds == 0 && !released) {  // the last outcome after close: nothing posts any more
                released = true;
                tsfn.Release();
            }
            return;
        }
        if (before == 0 && holds > 0)
            tsfn.Ref(env);
        else if (before > 0 && holds == 0)
            tsfn.Unref(env);
    }

    // Enter marks a request started unless the connection is closing.
    bool Enter(bay_error *err)
    {
        std::lock_guard<std::mutex> lock(mu);
        if (closing) {
            bay_error_set(err, BAY_ECONN, NULL, "connection to plugbayd at %s was closed by close()", url.c_str());
            return false;
        }
        active++;
        return true;
    }

    void Leave()
    {
        std::lock_guard<std::mutex> lock(mu);
        if (--active == 0)
            idle.notify_all();
    }

    // Handling counts a provider call in (+1) or out (-1).
    void Handling(int delta)
    {
        std::lock_guard<std::mutex> lock(mu);
        handling += delta;
        if (handling == 0)
            idle.notify_all();
    }
};

// A JavaScript provider registered with bay_provide_async; lives until the connection closes.
struct Provider {
    std::shared_ptr<ConnState> st;
    std::string name;
    Napi::FunctionReference fn;
};

// One provider call: its arguments (a copy) and its reply, answered once when the JavaScript provider returns
// or its promise settles (or its job is dropped). The dispatch thread does not wait for it.
struct HandlerCall {
    std::shared_ptr<ConnState> st;
    bay_value *args = nullptr;
    std::mutex mu;
    bay_reply *reply = nullptr;  // NULL once answered

    ~HandlerCall() { bay_value_free(args); }

    void Finish(int code, bay_value *value, const std::string &message)
    {
        bay_reply *r;
        {
            std::lock_guard<std::mutex> lock(mu);
            r = reply;
            reply = nullptr;
        }
        if (r == nullptr) {
            bay_value_free(value);
            return;
        }
        if (code == 0)
            bay_reply_value(r, value);
        else
            bay_reply_error(r, code, "%s", message.c_str());
        st->Handling(-1);
    }
};

// ErrorCode gives the BAY_E code a thrown error names in .code ("BAY_ETYPE"), else 0.
int ErrorCode(Napi::Value e)
{
    if (e.IsObject()) {
        Napi::Value code = e.As<Napi::Object>().Get("code");
        if (code.IsString()) {
            std::string s = code.As<Napi::String>().Utf8Value();
            for (int c = 1; c < 64; c++)
                if (s == bay_errname(c) && c != BAY_EPENDING)
                    return c;
        }
    }
    return 0;
}

// Describe gives "Name: message" for a thrown value.
std::string Describe(Napi::Env env, Napi::Value e)
{
    if (e.IsObject()) {
        Napi::Object o = e.As<Napi::Object>();
        Napi::Value name = o.Get("name"), message = o.Get("message");
        if (env.IsExceptionPending())
            env.GetAndClearPendingException();
        std::string n = name.IsString() ? name.As<Napi::String>().Utf8Value() : "Error";
        if (message.IsString())
            return n + ": " + message.As<Napi::String>().Utf8Value();
    }
    Napi::String s = e.ToString();
    if (env.IsExceptionPending()) {
        env.GetAndClearPendingException();
        return "a value that cannot be shown";
    }
    return "thrown: " + s.Utf8Value();
}

// FinishThrown answers a thrown e: an error naming a plugbay code keeps it and its message as they are (as
// plugbay.Error does in Python); anything else is BAY_EPLUGIN "Name: message".
void FinishThrown(Napi::Env env, const std::shared_ptr<HandlerCall> &hc, Napi::Value e)
{
    int code = ErrorCode(e);
    Napi::Value message = code ? e.As<Napi::Object>().Get("message") : Napi::Value();
    if (env.IsExceptionPending())
        env.GetAndClearPendingException();
    if (code && message.IsString())
        hc->Finish(code, nullptr, message.As<Napi::String>().Utf8Value());
    else
        hc->Finish(code ? code : BAY_EPLUGIN, nullptr, Describe(env, e));
}

void FinishValue(Napi::Env env, const std::shared_ptr<HandlerCall> &hc, Napi::Value v)
{
    bay_value *out = ToBay(env, v, "result");
    if (out == nullptr) {
        Napi::Error e = env.GetAndClearPendingException();
        FinishThrown(env, hc, e.Value());
        return;
    }
    hc->Finish(0, out, "");
}

// RunProvider calls the JavaScript provider with the call's arguments on the JavaScript thread.
void RunProvider(Napi::Env env, Provider *p, const std::shared_ptr<HandlerCall> &hc)
{
    std::vector<napi_value> argv;
    for (size_t i = 0; i < bay_value_len(hc->args); i++)
        argv.push_back(FromBay(env, bay_array_get(hc->args, i)));
    Napi::Value r = p->fn.Value().Call(env.Undefined(), argv);
    if (env.IsExceptionPending()) {
        Napi::Error e = env.GetAndClearPendingException();
        FinishThrown(env, hc, e.Value());
        return;
    }
    Napi::Value then = r.IsObject() ? r.As<Napi::Object>().Get("then") : env.Undefined();
    if (!then.IsFunction()) {
        FinishValue(env, hc, r);
        return;
    }
    Napi::Function ok = Napi::Function::New(env, [hc](const Napi::CallbackInfo &info) {
        FinishValue(info.Env(), hc, info[0]);
    });
    Napi::Function fail = Napi::Function::New(env, [hc](const Napi::CallbackInfo &info) {
        FinishThrown(info.Env(), hc, info[0]);
    });
    then.As<Napi::Function>().Call(r, {ok, fail});
    if (env.IsExceptionPending()) {
        Napi::Error e = env.GetAndClearPendingException();
        FinishThrown(env, hc, e.Value());
    }
}

// Handler is the bay_async_handler of every JavaScript provider: on the connection's dispatch thread it hands
// the call to the JavaScript thread and returns, so that calls to providers whose promises wait overlap.
void Handler(const bay_value *args, bay_reply *reply, void *user)
{
    Provider *p = static_cast<Provider *>(user);
    auto hc = std::make_shared<HandlerCall>();
    hc->st = p->st;
    hc->reply = reply;
    p->st->Handling(1);
    hc->args = bay_value_copy(args);
    if (hc->args == nullptr) {
        hc->Finish(BAY_ENOMEM, nullptr, "out of memory for the arguments of \"" + p->name + "\"");
        return;
    }
    Job *job = new Job;
    job->done = [p, hc](Napi::Env env) { RunProvider(env, p, hc); };
    job->dropped = [hc] { hc->Finish(BAY_ECONN, nullptr, "the JavaScript side of this connection is gone"); };
    if (p->st->tsfn.BlockingCall(job) != napi_ok) {
        delete job;
        hc->Finish(BAY_ECONN, nullptr, "provider \"" + p->name + "\": its JavaScript side is gone");
    }
}

// How long past an upload's deadline a send waiting for credit waits for plugbayd to say how the call ended.
constexpr auto kSendGrace = std::chrono::seconds(2);

// A stream started with bay_call_stream (callStream) or bay_call_upload (callUpload). The JavaScript thread reads
// it one chunk at a time: a chunk already received at once, else through a pool thread waiting in
// bay_stream_next; an upload's chunks are sent likewise, one at a time: at once while the provider has credit
// for them, else through a pool thread waiting in bay_stream_send. close() abandons it: bay_stream_free at once,
// or, while a pool thread waits in it, a cancel that ends the wait and that thread frees it.
struct StreamState {
    std::mutex mu;
    bay_stream *s = nullptr;  // NULL before the start, and once freed
    std::string name;
    bool input = false;       // an upload: send() and end() take its input
    bool started = false;     // the start ran (s set, or the start failed)
    bool reading = false;     // a thread is in bay_stream_next
    bool sending = false;     // a thread is in bay_stream_send
    bool over = false;        // its end or its error was read: nothing more is read or sent
    bool closed = false;      // close() was called: nothing more is read or sent
    bool cancel = false;      // cancel() came before the start
    bool ended = false;       // end() ended the input
    std::chrono::steady_clock::time_point deadline;  // the call's, for a send waiting for credit
    // Chunks of input converted by chunk() and not yet taken by their send(), by number (JavaScript thread only).
    std::unordered_map<double, std::shared_ptr<bay_value>> chunks;
    double nextChunk = 0;

    ~StreamState()
    {
        bay_stream_free(s);  // collected unfinished: abandoned
    }

    // Live gives s while it is used (neither over nor closed), else NULL; mu held.
    bay_stream *Live() const { return over || closed ? nullptr : s; }

    // Release frees s once it is over or closed and no thread is in it; mu held.
    void Release()
    {
        if ((over || closed) && !reading && !sending && s != nullptr) {
            bay_stream_free(s);
            s = nullptr;
        }
    }
};

// A chunk of input, converted on the JavaScript thread when send() is called (a later change of the value is
// not sent) and held by its send until it went.
using Chunk = std::shared_ptr<bay_value>;

// A notice copied off the dispatch thread.
struct NoticeCopy {
    std::string what, name, plugin, state, reason;
};

void OnNotice(const bay_notice *n, void *user)
{
    ConnState *st = static_cast<ConnState *>(user);
    auto copy = std::make_shared<NoticeCopy>(NoticeCopy{n->what, n->name, n->plugin, n->state, n->reason});
    Job *job = new Job;
    job->done = [st, copy](Napi::Env env) {
        if (st->noticeFn.IsEmpty() || st->closed)
            return;
        Napi::Object o = Napi::Object::New(env);
        o.Set("what", copy->what);
        o.Set("name", copy->name);
        o.Set("plugin", copy->plugin);
        o.Set("state", copy->state);
        o.Set("reason", copy->reason);
        st->noticeFn.Value().Call(env.Undefined(), {o});
        if (env.IsExceptionPending())  // a throwing listener must not stop the others; report it
            env.GetAndClearPendingException();
    };
    if (st->tsfn.NonBlockingCall(job) != napi_ok)
        delete job;
}

std::string Str(const Napi::Value &v)
{
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

// KindOf maps lib/index.js's checked kind name to its bay_kind; anything else is 0, which libplugbay refuses.
bay_kind KindOf(const std::string &kind)
{
    return kind == "handle" ? BAY_HANDLE : kind == "event" ? BAY_EVENT : kind == "filter" ? BAY_FILTER : bay_kind(0);
}

class Connection : public Napi::ObjectWrap<Connection> {
public:
    static Napi::Function Define(Napi::Env env)
    {
        return DefineClass(env, "NativeConnection",
                           {InstanceMethod("open", &Connection::Open), InstanceMethod("call", &Connection::Call),
                            InstanceMethod("callSync", &Connection::CallSync),
                            InstanceMethod("callAsync", &Connection::CallAsync),
                            InstanceMethod("callStream", &Connection::CallStream),
                            InstanceMethod("callUpload", &Connection::CallUpload),
                            InstanceMethod("declare", &Connection::Declare),
                            InstanceMethod("provide", &Connection::Provide),
                            InstanceMethod("subscribe", &Connection::Subscribe),
                            InstanceMethod("command", &Connection::Command),
                            InstanceMethod("close", &Connection::Close)});
    }

    explicit Connection(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Connection>(info)
    {
        st_ = std::make_shared<ConnState>();
        st_->tsfn = Tsfn::New(info.Env(), "plugbay", 0, 1);
        st_->tsfn.Unref(info.Env());
        Tsfn tsfn = st_->tsfn;
        st_->pool = std::make_shared<Pool>([tsfn](Job *job) mutable { return tsfn.BlockingCall(job) == napi_ok; });
    }

    ~Connection() override
    {
        // Collected while open (never closed, nothing provided): close it off the JavaScript thread.
        if (!st_->closed) {
            std::shared_ptr<ConnState> st = st_;
            st->closed = true;
            if (st->holds == 0) {
                st->released = true;
                st->tsfn.Release();
            }
            st->pool->Stop();
            std::thread([st] {
                WaitIdleAndClose(st.get());
            }).detach();
        }
    }

private:
    std::shared_ptr<ConnState> st_;

    static void WaitIdleAndClose(ConnState *st)
    {
        bay_conn *c;
        {
            std::unique_lock<std::mutex> lock(st->mu);
            st->closing = true;
            st->idle.wait(lock, [st] { return st->active == 0; });
            st->idle.wait_for(lock, kHandlerLimit, [st] { return st->handling == 0; });
            c = st->conn;
            st->conn = nullptr;
        }
        bay_close(c);
    }

    // Submit runs work on a pool thread and settles the returned promise with
    // its outcome. It counts the request as started now, on the JavaScript
    // thread, so that close() waits for it; the work leaves when it ends (or
    // itself, when leaves is false). A connection closing already rejects at
    // once. after, when given, runs on the JavaScript thread with the
    // outcome's code before the promise settles (a rejection at once too).
    // With wait, the JavaScript thread waits up to kCallWait for the outcome
    // and settles the promise itself.
    Napi::Value Submit(Napi::Env env, std::function<void(Outcome &)> work, bool leaves = true,
                       std::function<void(Napi::Env, int)> after = nullptr, bool wait = false)
    {
        return SubmitTo(env, st_, std::move(work), leaves, std::move(after), wait);
    }

    // SubmitTo is Submit for the connection whose state is conn (a stream's reads hold that, not this object).
    static Napi::Value SubmitTo(Napi::Env env, const std::shared_ptr<ConnState> &conn,
                                std::function<void(Outcome &)> work, bool leaves = true,
                                std::function<void(Napi::Env, int)> after = nullptr, bool wait = false)
    {
        auto d = Napi::Promise::Deferred::New(env);
        auto out = std::make_shared<Outcome>();
        if (!conn->Enter(&out->err)) {
            if (after)
                after(env, BAY_ECONN);
            d.Reject(MakeError(env, BAY_ECONN, "", out->err.message));
            return d.Promise();
        }
        auto deferred = std::make_shared<Napi::Promise::Deferred>(d);
        std::shared_ptr<ConnState> st = conn;
        Job *job = new Job;
        job->claimable = wait;
        job->work = [st, out, work, leaves] {
            work(*out);
            if (leaves)
                st->Leave();
        };
        job->done = [st, out, deferred, after](Napi::Env env) {
            st->Hold(env, -1);
            if (after)
                after(env, out->rc);
            out->Settle(env, *deferred);
        };
        job->dropped = [out] { bay_value_free(out->result); };
        st->Hold(env, 1);
        st->pool->Submit(job);
        if (wait) {
            auto until = std::chrono::steady_clock::now() + kCallWait;
            while (job->state.load(std::memory_order_acquire) == Job::kPending && std::chrono::steady_clock::now() < until)
                std::this_thread::yield();  // the pool thread and the plugin's worker may need this CPU
            int pending = Job::kPending;
            if (!job->state.compare_exchange_strong(pending, Job::kDetached)) {  // finished while we waited
                job->done(env);
                delete job;
            }
        }
        return d.Promise();
    }

    // What call, callSync and callAsync take: (name, args, timeoutMs, context).
    struct CallArgs {
        std::string name, ctx;
        bool hasCtx = false;
        int timeout = 0;
        std::shared_ptr<bay_value> args;
        bay_call_opts Opts() const { return {timeout, hasCtx ? ctx.c_str() : NULL}; }
    };

    // Parse reads a call's parameters; false, with a JavaScript exception
    // pending, when its arguments cannot cross.
    static bool Parse(const Napi::CallbackInfo &info, CallArgs *c)
    {
        bay_value *args = ToBay(info.Env(), info[1], "args");
        if (args == nullptr)
            return false;
        c->args.reset(args, bay_value_free);
        c->name = Str(info[0]);
        c->timeout = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
        c->hasCtx = info[3].IsString();
        if (c->hasCtx)
            c->ctx = info[3].As<Napi::String>().Utf8Value();
        return true;
    }

    Napi::Value Open(const Napi::CallbackInfo &info)
    {
        std::string url = Str(info[0]), name = Str(info[1]);
        bool hasUrl = info[0].IsString();
        st_->url = hasUrl && !url.empty() ? url : "(default)";
        std::shared_ptr<ConnState> st = st_;
        return Submit(info.Env(), [st, url, name, hasUrl](Outcome &o) {
            bay_conn *c = nullptr;
            o.rc = bay_connect(hasUrl ? url.c_str() : NULL, name.c_str(), &c, &o.err);
            if (o.rc == 0)
                st->conn = c;
        });
    }

    // call(name, args, timeoutMs, context) → Promise, through bay_call (so on
    // the fast path when it applies); waits kCallWait when the call is alone.
    Napi::Value Call(const Napi::CallbackInfo &info)
    {
        CallArgs c;
        if (!Parse(info, &c))
            return info.Env().Undefined();
        std::shared_ptr<ConnState> st = st_;
        bool alone = st->calls == 0;
        auto start = std::chrono::steady_clock::now();
        st->calls++;
        return Submit(info.Env(), [st, c](Outcome &o) {
            bay_call_opts opts = c.Opts();
            o.rc = bay_call(st->conn, c.name.c_str(), c.args.get(), &opts, &o.result, &o.err);
        }, true, [st, alone, start](Napi::Env, int) {
            st->calls--;
            if (alone)
                st->lastAlone = std::chrono::steady_clock::now() - start;
        }, alone && st->lastAlone < kCallWait);
    }

    // callSync(name, args, timeoutMs, context) → value: bay_call on the JavaScript thread itself.
    Napi::Value CallSync(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        CallArgs c;
        if (!Parse(info, &c))
            return env.Undefined();
        Outcome o;
        if (st_->Enter(&o.err)) {
            bay_call_opts opts = c.Opts();
            o.rc = bay_call(st_->conn, c.name.c_str(), c.args.get(), &opts, &o.result, &o.err);
            st_->Leave();
        } else {
            o.rc = BAY_ECONN;
        }
        if (o.rc != 0) {
            Napi::Value e = MakeError(env, o.rc, o.err.plugin, o.err.message);
            napi_throw(env, e);
            return env.Undefined();
        }
        Napi::Value v = FromBay(env, o.result);
        bay_value_free(o.result);
        return v;
    }

    // A call started with bay_call_async, cancellable from the JavaScript thread.
    struct AsyncCall {
        std::mutex mu;
        bay_pending *pending = nullptr;
        bool over = false;
    };

    // callAsync(name, args, timeoutMs, context) → {promise, cancel}: bay_call_async, waited on a pool thread.
    Napi::Value CallAsync(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        CallArgs c;
        if (!Parse(info, &c))
            return env.Undefined();
        std::shared_ptr<ConnState> st = st_;
        auto ac = std::make_shared<AsyncCall>();
        Napi::Value promise = Submit(env, [st, ac, c](Outcome &o) {
            bay_call_opts opts = c.Opts();
            bay_pending *p = nullptr;
            o.rc = bay_call_async(st->conn, c.name.c_str(), c.args.get(), &opts, &p, &o.err);
            st->Leave();  // the pending outlives the connection: only starting it must not race bay_close
            if (o.rc == 0) {
                {
                    std::lock_guard<std::mutex> lock(ac->mu);
                    ac->pending = p;
                    if (ac->over)  // cancelled before it started
                        bay_pending_cancel(p);
                }
                o.rc = bay_pending_wait(p, -1, &o.result, &o.err);
            }
            std::lock_guard<std::mutex> lock(ac->mu);
            ac->over = true;
            ac->pending = nullptr;
            bay_pending_free(p);
        }, false);
        Napi::Object out = Napi::Object::New(env);
        out.Set("promise", promise);
        out.Set("cancel", Napi::Function::New(env, [ac](const Napi::CallbackInfo &) {
            std::lock_guard<std::mutex> lock(ac->mu);
            if (ac->pending != nullptr)
                bay_pending_cancel(ac->pending);
            else
                ac->over = true;
        }));
        return out;
    }

    // callStream(name, args, timeoutMs, context) → {started, next, cancel, close}: bay_call_stream, started on
    // a pool thread (started settles then); next() → Promise<{value, done}>, read by ReadChunk.
    Napi::Value CallStream(const Napi::CallbackInfo &info) { return OpenStream(info, false); }

    // callUpload(name, args, timeoutMs, context) → {started, next, cancel, close, chunk, send, end}: bay_call_upload,
    // read as callStream's; chunk(value) converts a value for send(chunk, timeoutMs) → Promise (SendChunk); end()
    // → Promise (EndInput).
    Napi::Value CallUpload(const Napi::CallbackInfo &info) { return OpenStream(info, true); }

    Napi::Value OpenStream(const Napi::CallbackInfo &info, bool input)
    {
        Napi::Env env = info.Env();
        CallArgs c;
        if (!Parse(info, &c))
            return env.Undefined();
        std::shared_ptr<ConnState> st = st_;
        auto ss = std::make_shared<StreamState>();
        ss->name = c.name;
        ss->input = input;
        ss->deadline = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(c.timeout > 0 ? c.timeout : BAY_DEFAULT_TIMEOUT_MS);
        Napi::Value started = Submit(env, [st, ss, c, input](Outcome &o) {
            bay_call_opts opts = c.Opts();
            bay_stream *s = nullptr;
            o.rc = (input ? bay_call_upload : bay_call_stream)(st->conn, c.name.c_str(), c.args.get(), &opts, &s,
                                                                &o.err);
            st->Leave();  // the stream outlives the connection: only starting it must not race bay_close
            std::lock_guard<std::mutex> lock(ss->mu);
            ss->started = true;
            if (o.rc != 0)
                return;
            if (ss->closed) {  // abandoned before it started
                bay_stream_free(s);
                return;
            }
            ss->s = s;
            if (ss->cancel)
                bay_stream_cancel(s);
        }, false);
        Napi::Object out = Napi::Object::New(env);
        out.Set("started", started);
        out.Set("next", Napi::Function::New(env, [st, ss](const Napi::CallbackInfo &info) {
            return ReadChunk(info.Env(), st, ss);
        }));
        out.Set("cancel", Napi::Function::New(env, [ss](const Napi::CallbackInfo &) {
            std::lock_guard<std::mutex> lock(ss->mu);
            if (ss->closed)
                return;
            if (ss->s != nullptr)
                bay_stream_cancel(ss->s);
            else if (!ss->started)
                ss->cancel = true;
        }));
        out.Set("close", Napi::Function::New(env, [ss](const Napi::CallbackInfo &) {
            std::lock_guard<std::mutex> lock(ss->mu);
            if (ss->closed)
                return;
            ss->closed = true;
            if (ss->s == nullptr)  // not started yet (the start frees it), or freed
                return;
            if ((ss->reading || ss->sending) && !ss->over)
                bay_stream_cancel(ss->s);  // the waiting read or send returns at once and frees it
            ss->Release();
        }));
        if (input) {
            // chunk(value) → a number for send(number, timeoutMs): the value converted now, kept until then (a
            // number, not an external, since the collector may keep an external past the process's exit).
            out.Set("chunk", Napi::Function::New(env, [ss](const Napi::CallbackInfo &info) -> Napi::Value {
                bay_value *v = ToBay(info.Env(), info[0], "chunk");
                if (v == nullptr)
                    return info.Env().Undefined();  // its TypeError or RangeError is thrown
                double id = ss->nextChunk++;
                ss->chunks.emplace(id, Chunk(v, bay_value_free));
                return Napi::Number::New(info.Env(), id);
            }));
            out.Set("send", Napi::Function::New(env, [st, ss](const Napi::CallbackInfo &info) {
                auto it = ss->chunks.find(info[0].ToNumber().DoubleValue());
                if (it == ss->chunks.end()) {
                    bay_error err;
                    return Settled(info.Env(), bay_error_set(&err, BAY_EINVAL, NULL, "send: no such chunk"), err);
                }
                Chunk chunk = it->second;
                ss->chunks.erase(it);
                int timeout = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
                return SendChunk(info.Env(), st, ss, chunk, timeout);
            }));
            out.Set("end", Napi::Function::New(env, [ss](const Napi::CallbackInfo &info) {
                return EndInput(info.Env(), ss);
            }));
        }
        return out;
    }

    // Settled makes a promise settled at once: resolved (undefined) for rc 0, else rejected with err.
    static Napi::Value Settled(Napi::Env env, int rc, const bay_error &err)
    {
        auto d = Napi::Promise::Deferred::New(env);
        if (rc == 0)
            d.Resolve(env.Undefined());
        else
            d.Reject(MakeError(env, rc, err.plugin, err.message));
        return d.Promise();
    }

    // Refusal says in err why an upload takes no chunk (what "send") or end (what "end") now, and returns its
    // code: BAY_EINVAL once its input ended, BAY_ESTATE once the call is over, BAY_EBUSY while a send waits;
    // 0 when it takes it. mu held.
    static int Refusal(const StreamState &ss, const char *what, bay_error *err)
    {
        if (ss.ended)
            return bay_error_set(err, BAY_EINVAL, NULL, "%s: the upload of \"%s\" had its input ended (end())", what,
                                 ss.name.c_str());
        if (ss.closed && !ss.over)
            return bay_error_set(err, BAY_ESTATE, NULL, "%s: the upload of \"%s\" was abandoned (return()); its "
                                 "input is refused", what, ss.name.c_str());
        if (ss.over || ss.s == nullptr)
            return bay_error_set(err, BAY_ESTATE, NULL, "call \"%s\" ended before its input did (its answer was "
                                 "read)", ss.name.c_str());
        if (ss.sending)
            return bay_error_set(err, BAY_EBUSY, NULL, "%s: the upload of \"%s\" is being sent to already: await "
                                 "each send()", what, ss.name.c_str());
        return 0;
    }

    // SendChunk is an upload's send(), one at a time (lib/index.js queues them): sent at once on the JavaScript
    // thread while the provider has credit for it (bay_stream_send waiting 0 ms); otherwise a pool thread waits
    // for credit, up to timeoutMs (-1: the call's deadline, then for plugbayd to say how the call ended).
    static Napi::Value SendChunk(Napi::Env env, const std::shared_ptr<ConnState> &st,
                                 const std::shared_ptr<StreamState> &ss, Chunk chunk, int timeoutMs)
    {
        bay_error err;
        bay_stream *s;
        {
            std::lock_guard<std::mutex> lock(ss->mu);
            int rc = Refusal(*ss, "send", &err);
            if (rc != 0)
                return Settled(env, rc, err);
            s = ss->s;
            ss->sending = true;
        }
        int rc = bay_stream_send(s, chunk.get(), 0, &err);
        if (rc != BAY_EPENDING || timeoutMs == 0) {
            std::lock_guard<std::mutex> lock(ss->mu);
            ss->sending = false;
            ss->Release();
            return Settled(env, rc, err);
        }
        return SubmitTo(env, st, [st, ss, s, chunk, timeoutMs](Outcome &o) {
            st->Leave();  // as a read's wait: close() need not wait for it, bay_close ends it
            o.rc = bay_stream_send(s, chunk.get(), timeoutMs, &o.err);
            if (timeoutMs < 0) {
                // At the call's deadline bay_stream_send gives up at once; plugbayd then answers the call, and the
                // send gives BAY_ESTATE: wait for that a little, in short naps.
                auto until = ss->deadline + kSendGrace;
                while (o.rc == BAY_EPENDING && std::chrono::steady_clock::now() < until) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                    o.rc = bay_stream_send(s, chunk.get(), 10, &o.err);
                }
                if (o.rc == BAY_EPENDING)
                    bay_error_set(&o.err, BAY_EPENDING, NULL, "call \"%s\" took no more input before the call's "
                                  "deadline: its provider has not taken the %d chunks before", ss->name.c_str(),
                                  BAY_STREAM_WINDOW);
            }
            std::lock_guard<std::mutex> lock(ss->mu);
            ss->sending = false;
            ss->Release();
        }, false, [ss](Napi::Env, int rc) {
            if (rc != BAY_ECONN)
                return;
            std::lock_guard<std::mutex> lock(ss->mu);
            if (ss->sending) {  // refused at once (the connection is closing): the send never ran
                ss->sending = false;
                ss->Release();
            }
        });
    }

    // EndInput is an upload's end(): bay_stream_send_end on the JavaScript thread (it does not wait). Once the
    // call is over nothing waits for input any more: it then does nothing.
    static Napi::Value EndInput(Napi::Env env, const std::shared_ptr<StreamState> &ss)
    {
        bay_error err;
        std::lock_guard<std::mutex> lock(ss->mu);
        int rc = Refusal(*ss, "end", &err);
        if (rc == BAY_ESTATE) {
            ss->ended = true;
            return Settled(env, 0, err);
        }
        if (rc == 0) {
            rc = bay_stream_send_end(ss->s, &err);
            if (rc == 0 || rc == BAY_EINVAL)
                ss->ended = true;
        }
        return Settled(env, rc, err);
    }

    // ReadChunk is a stream's next(), one at a time (lib/index.js queues them): a chunk already received, the
    // end or the error is settled on the JavaScript thread (bay_stream_next waiting 0 ms); otherwise a pool
    // thread waits for it. The stream is freed once it ended; once closed, its reads are {done: true}.
    static Napi::Value ReadChunk(Napi::Env env, const std::shared_ptr<ConnState> &st,
                                 const std::shared_ptr<StreamState> &ss)
    {
        bay_stream *s;
        {
            std::lock_guard<std::mutex> lock(ss->mu);
            if (ss->reading) {
                auto d = Napi::Promise::Deferred::New(env);
                d.Reject(Napi::Error::New(env, "the stream is being read already: await each next()").Value());
                return d.Promise();
            }
            s = ss->Live();
            if (s != nullptr)
                ss->reading = true;
        }
        if (s == nullptr) {
            auto d = Napi::Promise::Deferred::New(env);
            d.Resolve(IterResult(env, nullptr));
            return d.Promise();
        }
        bay_value *chunk = nullptr;
        bay_error err;
        int rc = bay_stream_next(s, 0, &chunk, &err);
        if (rc != BAY_EPENDING) {  // settled here: a deferred made only now, since one never settled leaks
            auto d = Napi::Promise::Deferred::New(env);
            {
                std::lock_guard<std::mutex> lock(ss->mu);
                ss->reading = false;
                if (rc != 0 || chunk == nullptr)
                    ss->over = true;
                ss->Release();
            }
            if (rc == 0)
                d.Resolve(IterResult(env, chunk));
            else
                d.Reject(MakeError(env, rc, err.plugin, err.message));
            bay_value_free(chunk);
            return d.Promise();
        }
        return SubmitTo(env, st, [st, ss](Outcome &o) {
            st->Leave();  // as callAsync's wait: close() need not wait for it, bay_close ends it
            o.chunk = true;
            bay_stream *s;
            {
                std::lock_guard<std::mutex> lock(ss->mu);
                s = ss->s;
            }
            o.rc = bay_stream_next(s, -1, &o.result, &o.err);
            std::lock_guard<std::mutex> lock(ss->mu);
            ss->reading = false;
            if (ss->closed) {  // close() came during the wait: the reading ends
                bay_value_free(o.result);
                o.result = nullptr;
                o.rc = 0;
            } else if (o.rc != 0 || o.result == nullptr) {
                ss->over = true;
            }
            ss->Release();
        }, false, [ss](Napi::Env, int rc) {
            if (rc != BAY_ECONN)
                return;
            std::lock_guard<std::mutex> lock(ss->mu);
            if (ss->reading) {  // refused at once (the connection is closing): the read never ran, the stream ends
                ss->reading = false;
                ss->over = true;
                ss->Release();
            }
        });
    }

    Napi::Value Declare(const Napi::CallbackInfo &info)
    {
        std::string name = Str(info[0]);
        bay_kind kind = KindOf(Str(info[1]));
        bool typed = info[2].IsString();
        std::string types = Str(info[2]);
        std::shared_ptr<ConnState> st = st_;
        return Submit(info.Env(), [st, name, kind, typed, types](Outcome &o) {
            o.rc = typed ? bay_declare_typed(st->conn, name.c_str(), kind, types.c_str(), &o.err)
                         : bay_declare(st->conn, name.c_str(), kind, &o.err);
        });
    }

    void Keep(Napi::Env env)
    {
        if (!st_->keeping) {
            st_->keeping = true;
            st_->Hold(env, 1);
            Ref();  // the JavaScript object stays while it serves
        }
    }

    // Unkeep lets the process and the object go again once nothing is provided or subscribed.
    void Unkeep(Napi::Env env)
    {
        if (st_->keeping && st_->providers.empty() && st_->noticeFn.IsEmpty() && !st_->closed) {
            st_->keeping = false;
            st_->Hold(env, -1);
            Unref();
        }
    }

    // provide(name, kind, contexts|null, fn) → Promise.
    Napi::Value Provide(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        std::string name = Str(info[0]);
        bay_kind kind = KindOf(Str(info[1]));
        auto contexts = std::make_shared<std::vector<std::string>>();
        bool all = !info[2].IsArray();
        if (!all) {
            Napi::Array a = info[2].As<Napi::Array>();
            for (uint32_t i = 0; i < a.Length(); i++)
                contexts->push_back(a.Get(i).ToString().Utf8Value());
        }
        auto p = std::make_unique<Provider>();
        p->st = st_;
        p->name = name;
        p->fn = Napi::Persistent(info[3].As<Napi::Function>());
        Provider *raw = p.get();
        st_->providers.push_back(std::move(p));
        Keep(env);
        std::shared_ptr<ConnState> st = st_;
        return Submit(env, [st, name, kind, contexts, all, raw](Outcome &o) {
            std::vector<const char *> list;
            for (const std::string &c : *contexts)
                list.push_back(c.c_str());
            list.push_back(nullptr);
            o.rc = bay_provide_async(st->conn, name.c_str(), kind, all ? NULL : list.data(), Handler, raw, &o.err);
        }, true, [this, raw](Napi::Env env, int rc) {
            if (rc == 0 || st_->closed)
                return;
            auto &ps = st_->providers;  // refused: libplugbay holds no pointer to it
            for (auto it = ps.begin(); it != ps.end(); ++it)
                if (it->get() == raw) {
                    ps.erase(it);
                    break;
                }
            Unkeep(env);
        });
    }

    // subscribe(fn|null) → Promise.
    Napi::Value Subscribe(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        bool on = info[0].IsFunction();
        if (on) {
            st_->noticeFn = Napi::Persistent(info[0].As<Napi::Function>());
            Keep(env);
        } else {
            st_->noticeFn.Reset();
            Unkeep(env);
        }
        std::shared_ptr<ConnState> st = st_;
        return Submit(env, [st, on](Outcome &o) {
            o.rc = bay_subscribe(st->conn, on ? OnNotice : NULL, st.get(), &o.err);
        }, true, [this, on](Napi::Env env, int rc) {
            if (rc != 0 && on && !st_->closed) {
                st_->noticeFn.Reset();
                Unkeep(env);
            }
        });
    }

    // command(name, args|null, timeoutMs) → Promise.
    Napi::Value Command(const Napi::CallbackInfo &info)
    {
        std::string name = Str(info[0]);
        bay_value *args = nullptr;
        if (!info[1].IsNull() && !info[1].IsUndefined()) {
            args = ToBay(info.Env(), info[1], "args");
            if (args == nullptr)
                return info.Env().Undefined();
        }
        int timeout = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
        std::shared_ptr<bay_value> owned(args, bay_value_free);
        std::shared_ptr<ConnState> st = st_;
        return Submit(info.Env(), [st, name, owned, timeout](Outcome &o) {
            o.rc = bay_command(st->conn, name.c_str(), owned.get(), timeout, &o.result, &o.err);
        });
    }

    // close() → Promise: waits for the requests started, closes on a pool thread, then lets the loop go.
    Napi::Value Close(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        auto d = Napi::Promise::Deferred::New(env);
        if (st_->closed) {
            d.Resolve(env.Undefined());
            return d.Promise();
        }
        {
            std::lock_guard<std::mutex> lock(st_->mu);
            st_->closing = true;
        }
        auto deferred = std::make_shared<Napi::Promise::Deferred>(d);
        std::shared_ptr<ConnState> st = st_;
        Job *job = new Job;
        job->work = [st] { WaitIdleAndClose(st.get()); };
        job->done = [this, st, deferred](Napi::Env env) {
            st->closed = true;
            st->providers.clear();
            st->noticeFn.Reset();
            if (st->keeping) {
                st->keeping = false;
                Unref();
            }
            st->pool->Stop();
            if (st->holds > 1)
                st->tsfn.Unref(env);  // outcomes of calls still waiting arrive, but need not hold the loop
            st->Hold(env, -1);        // releases the thread-safe function once nothing is in flight
            deferred->Resolve(env.Undefined());
        };
        st_->Hold(env, 1);
        st_->pool->Submit(job);
        return d.Promise();
    }
};

Napi::Value SetErrorFactory(const Napi::CallbackInfo &info)
{
    info.Env().GetInstanceData<AddonData>()->makeError = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
}

}  // namespace
}  // namespace pbnode

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
    using namespace pbnode;
    AddonData *data = new AddonData;
    env.SetInstanceData(data);
    Napi::Function ctor = Connection::Define(env);
    data->ctor = Napi::Persistent(ctor);
    exports.Set("Connection", ctor);
    exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory));
    return exports;
}

NODE_API_MODULE(plugbay, Init)
