"""lib/ranges.py: which bytes a Range header asks for (RFC 9110 section 14)."""

import pytest

from lib.ranges import Unsatisfiable, byte_range


@pytest.mark.parametrize(
    "header, expected",
    [
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=999-999", (999, 999)),
        ("Bytes = 1-2", (1, 2)),
        ("items=0-9", None),  # a unit we do not know: the whole file
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
    ],
)
def test_it_reads_one_range(header, expected):
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-",
        "bytes=5000-6000",
        "bytes=-0",
        "bytes=9-3",
        "bytes=abc",
        "bytes=-",
        "bytes=",
        "bytes=0-1,x",
    ],
)
def test_what_the_file_cannot_satisfy_is_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        byte_range(header, 1000)


def test_an_empty_file_satisfies_no_range():
    with pytest.raises(Unsatisfiable):
        byte_range("bytes=0-", 0)
