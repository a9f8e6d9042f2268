"""The write-gap measure of the failover tests (tests/helpers.py `longest_write_gap`): the e2e
tests read an outage from it, so it must find the stretch a client waited, with or without failures."""

from __future__ import annotations

from helpers import longest_write_gap


def test_a_held_write_is_a_gap_even_with_no_failure() -> None:
    # Writes every 0.3 s; one held by the gateway for 2.1 s across the kill at 1000.
    acks = [100, 400, 700, 2800, 3100, 3400]
    assert longest_write_gap(acks, 1000) == (700, 2800)


def test_the_longest_gap_after_the_kill_wins_over_earlier_ones() -> None:
    acks = [0, 5000, 5300, 5600, 9000, 9300]  # a 5 s gap before the kill at 5400 is not its outage
    assert longest_write_gap(acks, 5400) == (5600, 9000)


def test_no_acknowledgement_before_the_kill_starts_the_gap_at_the_kill() -> None:
    assert longest_write_gap([4000, 4300], 1000) == (1000, 4000)


def test_nothing_acknowledged_after_the_kill() -> None:
    assert longest_write_gap([100, 200], 1000) is None
