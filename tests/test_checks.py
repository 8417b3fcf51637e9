"""The argument checks shared by the estimators (``flestimate._checks``): the library's one
message format, a wrong type an ArgumentTypeError and a wrong value an ArgumentError, and the
random generator every bootstrap takes its draws from (a seed recorded so a run repeats)."""

from __future__ import annotations

import numpy as np
import pytest

from flestimate._checks import check_count, random_generator
from flestimate.errors import ArgumentError, ArgumentTypeError


def test_check_count() -> None:
    assert check_count(np.int64(5), "replicates", "f", 2) == 5
    assert isinstance(check_count(np.int64(5), "replicates", "f", 2), int)
    with pytest.raises(ArgumentError, match=r"`replicates` of `f\(\)` must be an integer >= 2; "
                                            r"got 1"):
        check_count(1, "replicates", "f", 2)
    for bad in (2.0, True, "3", None):
        with pytest.raises(ArgumentTypeError, match=r"`replicates` of `f\(\)` must be an "
                                                    r"integer >= 2"):
            check_count(bad, "replicates", "f", 2)


def test_random_generator_integer_seed_repeats() -> None:
    a, seed_a = random_generator(7, "f")
    b, seed_b = random_generator(np.int32(7), "f")
    assert seed_a == seed_b == 7
    assert np.array_equal(a.random(5), b.random(5))
    assert np.array_equal(random_generator(7, "f")[0].random(3),
                          np.random.default_rng(7).random(3))


def test_random_generator_none_records_its_entropy() -> None:
    """Without a seed the draws are fresh, and the recorded entropy replays them."""
    rng, entropy = random_generator(None, "f")
    assert isinstance(entropy, int) and entropy >= 0
    assert np.array_equal(rng.random(4), random_generator(entropy, "f")[0].random(4))


def test_random_generator_takes_a_generator_as_is() -> None:
    g = np.random.default_rng(1)
    rng, recorded = random_generator(g, "f")
    assert rng is g and recorded == "numpy Generator"


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True])
def test_random_generator_bad_seed(bad: object) -> None:
    with pytest.raises(ArgumentTypeError, match=r"`seed` of `f\(\)` must be a non-negative int, "
                                                r"a numpy Generator or None"):
        random_generator(bad, "f")
