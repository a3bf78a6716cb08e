"""Tests of the thread team of compiled simulations (lif_tempering.neuron.team, lif_team.h)."""

import shutil
import subprocess

import pytest

from lif_tempering.neuron import team
from lif_tempering.neuron.standalone import COMPILE_ARGS

# Many short rounds, as in a simulation (one round per step and stage): in each, the calling
# thread writes the round's input, every member marks the neurons of its share and sums a
# function of them, and the calling thread checks the marks and the sum after the round.
# A member that started before the input was visible, finished after the round returned, or
# covered a share other than its own would leave a wrong mark or sum.
_ROUNDS_CPP = r"""
#include "lif_team.h"
#include <cstdio>
#include <vector>

int main()
{
    const int32_t rounds = 20000, largest = 1500;
    std::vector<int32_t> marks(largest), input(largest);
    int64_t sums[LIF_THREADS];
    int64_t wrong_marks = 0, wrong_sums = 0, members_seen = 0;
    for (int32_t round = 0; round < rounds; round++)
    {
        const int32_t n = 1 + (int32_t)(((int64_t)round * 7919) % largest);
        for (int32_t i = 0; i < n; i++)
        {
            marks[i] = 0;
            input[i] = round + i;
        }
        int32_t members_of_round = 0;
        auto share = [&](const int32_t member, const int32_t members) {
            int64_t sum = 0;
            const int32_t first = lif_team::share_start(n, member, members);
            for (int32_t i = first; i < lif_team::share_start(n, member + 1, members); i++)
            {
                marks[i] += 1;
                sum += input[i];
            }
            sums[member] = sum;
            if (member == 0)
                members_of_round = members;
        };
        lif_team::for_members(true, share);
        members_seen += members_of_round;
        int64_t total = 0, expected = 0;
        for (int32_t member = 0; member < members_of_round; member++)
            total += sums[member];
        for (int32_t i = 0; i < n; i++)
        {
            wrong_marks += marks[i] != 1;
            expected += round + i;
        }
        wrong_sums += total != expected;
    }
    std::printf("%lld %lld %lld\n", (long long)wrong_marks, (long long)wrong_sums, (long long)members_seen);
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_team_rounds_cover_every_neuron_once_and_return_after_every_member(tmp_path, threads):
    """20,000 rounds over 1 .. 1500 neurons: each neuron in exactly one share, every member's result seen.

    With 3 threads on a 2-core machine the members also wait while descheduled (the team yields).
    """
    source = tmp_path / "rounds.cpp"
    source.write_text(_ROUNDS_CPP)
    binary = tmp_path / "rounds"
    subprocess.run(["g++", *COMPILE_ARGS, "-pthread", f"-D{team.THREADS_MACRO}={threads}",
                    f"-I{team.HEADER.parent}", str(source), "-o", str(binary)], check=True)
    wrong_marks, wrong_sums, members_seen = (int(x) for x in
                                             subprocess.run([str(binary)], check=True, capture_output=True,
                                                            text=True, timeout=300).stdout.split())
    assert (wrong_marks, wrong_sums) == (0, 0)
    assert members_seen == 20000 * threads
