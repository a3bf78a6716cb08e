// A team of threads that lives for the whole run of a compiled simulation
// (lif_tempering.neuron.team): the calling thread is member 0, the other LIF_THREADS - 1
// members wait for the next piece of work by spinning, so a round of work costs a cache line
// sent out and one sent back (0.29 us on the 2-core test machine) instead of an OpenMP
// parallel region (~1.2 us there), three rounds per time step. Every member holds a core for the whole run: the
// simulation rules request `threads` cores.
//
// Included at the top of a code object (Brian2's `headers`), outside its anonymous
// namespace, so the inline function `lif_team::team()` and its static team are one object
// in the whole program. Compiled with -DLIF_THREADS=n (n >= 1; 1 when undefined).
#ifndef LIF_TEAM_H
#define LIF_TEAM_H

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#ifndef LIF_THREADS
#define LIF_THREADS 1
#endif

namespace lif_team {

// One member's share of a piece of work: member m of `members` (0 <= m < members).
typedef void (*Work)(void* context, int32_t member, int32_t members);

// Spins of a waiting member before it starts yielding its core to other processes
// (~0.1 ms): keeps an oversubscribed machine moving.
const int32_t SPINS_BEFORE_YIELD = 1 << 14;

inline void relax(int32_t& spins)
{
    if (spins < SPINS_BEFORE_YIELD)
    {
        spins++;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    else
        std::this_thread::yield();
}

class Team
{
public:
    explicit Team(int32_t size) : size_(size), finished_(size)
    {
        order_.work = nullptr;
        order_.context = nullptr;
        order_.round.store(0, std::memory_order_relaxed);
        order_.stop = false;
        for (int32_t member = 1; member < size; member++)
        {
            finished_[member].round.store(0, std::memory_order_relaxed);
            threads_.emplace_back(&Team::serve, this, member);
        }
    }

    ~Team()
    {
        order_.stop = true;
        order_.round.fetch_add(1, std::memory_order_release);
        for (std::thread& thread : threads_)
            thread.join();
    }

    // Runs work(context, m, size) on every member m = 0 .. size - 1 and returns when all have
    // finished.
    void run(Work work, void* context)
    {
        if (size_ == 1)
        {
            work(context, 0, 1);
            return;
        }
        // The order (work, context and the round that publishes them) is one cache line, and
        // each member reports on a line of its own: a round moves two lines per member.
        order_.work = work;
        order_.context = context;
        const uint64_t round = order_.round.load(std::memory_order_relaxed) + 1;
        order_.round.store(round, std::memory_order_release);
        work(context, 0, size_);
        for (int32_t member = 1; member < size_; member++)
        {
            int32_t spins = 0;
            while (finished_[member].round.load(std::memory_order_acquire) != round)
                relax(spins);
        }
    }

private:
    void serve(int32_t member)
    {
        uint64_t seen = 0;
        for (;;)
        {
            int32_t spins = 0;
            uint64_t round;
            while ((round = order_.round.load(std::memory_order_acquire)) == seen)
                relax(spins);
            seen = round;
            if (order_.stop)
                return;
            order_.work(order_.context, member, size_);
            finished_[member].round.store(round, std::memory_order_release);
        }
    }

    struct alignas(64) Order
    {
        Work work;
        void* context;
        bool stop;
        std::atomic<uint64_t> round;
    };
    struct alignas(64) Report
    {
        std::atomic<uint64_t> round;
    };

    const int32_t size_;
    Order order_;
    std::vector<Report> finished_;
    std::vector<std::thread> threads_;
};

// The program's team of LIF_THREADS members, started at the first call.
inline Team& team()
{
    static Team instance(LIF_THREADS);
    return instance;
}

template <class Body>
void call_body(void* body, int32_t member, int32_t members)
{
    (*static_cast<Body*>(body))(member, members);
}

// body(member, members) on every member of the team if `split` (members = LIF_THREADS), else
// body(0, 1) on the calling thread.
template <class Body>
void for_members(bool split, Body& body)
{
    if (split && LIF_THREADS > 1)
        team().run(&call_body<Body>, &body);
    else
        body(0, 1);
}

// The sum of body(member, members) (a double per member) over the members of for_members, in
// member order, so that it does not depend on which thread finished first.
template <class Body>
double sum_over_members(bool split, Body& body)
{
    double part[LIF_THREADS] = {0};
    auto share = [&](const int32_t member, const int32_t members) { part[member] = body(member, members); };
    for_members(split, share);
    double total = 0;
    for (int32_t member = 0; member < LIF_THREADS; member++)
        total += part[member];
    return total;
}

// First neuron of member `member`'s contiguous share of n neurons.
inline int32_t share_start(int32_t n, int32_t member, int32_t members)
{
    return (int32_t)((int64_t)n * member / members);
}

}  // namespace lif_team

#endif
