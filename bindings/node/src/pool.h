// bindings/node/src/pool.h — the threads that run a connection's blocking libplugbay calls off the JavaScript thread.
//
// A job's work runs on a pool thread; its done part runs on the JavaScript
// thread, reached through the connection's thread-safe function. A job the
// JavaScript thread waits for a moment (claimable) may be finished there
// instead, without the trip through the event loop. Threads are added while
// every one is busy (a call blocks its thread until its answer or deadline),
// up to 256; an idle thread sleeps until the next job.
#ifndef PLUGBAY_NODE_POOL_H
#define PLUGBAY_NODE_POOL_H

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace pbnode {

struct Job {
    enum State { kPending, kFinished, kDetached };
    std::function<void()> work;              // on a pool thread (may be empty)
    std::function<void(Napi::Env)> done;     // on the JavaScript thread
    std::function<void()> dropped;           // instead of done when the JavaScript side is gone
    bool claimable = false;                  // the JavaScript thread waits for it: see state
    // For a claimable job: once its work is done the pool thread sets
    // kFinished (the waiting JavaScript thread then runs done), unless the
    // JavaScript thread, done waiting, set kDetached first (then done is posted).
    std::atomic<int> state{kPending};
};

// Post hands a finished job to the JavaScript thread; false when that is no longer possible.
using PostFn = std::function<bool(Job *)>;

class Pool : public std::enable_shared_from_this<Pool> {
public:
    explicit Pool(PostFn post) : post_(std::move(post)) {}
    // Submit queues job (owned by the pool until it is posted).
    void Submit(Job *job);
    // Stop lets the threads end once the queue is empty.
    void Stop();

private:
    void Run();
    PostFn post_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job *> queue_;
    size_t idle_ = 0;
    size_t threads_ = 0;
    bool stop_ = false;
};

}  // namespace pbnode

#endif
