// bindings/node/src/pool.cc — the threads that run a connection's blocking libplugbay calls off the JavaScript thread.
#include "pool.h"

#include <thread>

namespace pbnode {

// The most threads one connection runs; further jobs wait for one to be free.
constexpr size_t kMaxThreads = 256;

void Pool::Submit(Job *job)
{
    bool grow = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(job);
        if (idle_ < queue_.size() && threads_ < kMaxThreads) {  // every idle thread has a job waiting for it already
            threads_++;
            idle_++;
            grow = true;
        }
    }
    if (grow)
        std::thread([self = shared_from_this()] { self->Run(); }).detach();
    else
        cv_.notify_one();
}

void Pool::Stop()
{
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
}

void Pool::Run()
{
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return !queue_.empty() || stop_; });
        if (queue_.empty())
            break;
        Job *job = queue_.front();
        queue_.pop_front();
        idle_--;
        lock.unlock();
        if (job->work)
            job->work();
        int pending = Job::kPending;
        bool claimed = job->claimable && job->state.compare_exchange_strong(pending, Job::kFinished);
        if (!claimed && !post_(job)) {  // the JavaScript side is gone
            if (job->dropped)
                job->dropped();
            delete job;
        }
        lock.lock();
        idle_++;
    }
    threads_--;
    idle_--;
}

}  // namespace pbnode
