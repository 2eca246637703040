"""Skip and xfail files: parsing, matching at collection, reasons, stale entries, strictness."""

from __future__ import annotations

import textwrap

import pytest

from pytest_normfusion.expectations import Entry, ExpectationError, parse

CASES = "--normfusion-case=rms_norm-*-w_none-bias0-T33xH67-eps1e-05-contiguous-normal"
IMPLS = ("--normfusion-impl=reference", "--normfusion-impl=candidates:VarianceInInputDtype")
SKIPS = """\
variance-in-input-dtype-rms_norm-fp16-*  # fp16 squares overflow

# renamed cases
nothing-*
"""
XFAILS = """\
rms_norm-bf16-*-normal  # bf16 squares lose the sum
# statistics in x.dtype
variance-in-input-dtype-rms_norm-fp32-*
"""


def test_parse_reasons_inline_and_block() -> None:
    text = textwrap.dedent(
        """\
        # a block reason
        # over two lines
        a-*
        b  # inline wins
        c

        # a new block
        d
        # after an entry, a comment starts a new block
        e
        """
    )
    assert parse(text, "skip", "s.txt") == [
        Entry("skip", "a-*", "a block reason over two lines", "s.txt:3"),
        Entry("skip", "b", "inline wins", "s.txt:4"),
        Entry("skip", "c", "a block reason over two lines", "s.txt:5"),
        Entry("skip", "d", "a new block", "s.txt:8"),
        Entry("skip", "e", "after an entry, a comment starts a new block", "s.txt:10"),
    ]


def test_parse_entry_without_reason_names_its_line() -> None:
    with pytest.raises(ExpectationError, match=r"x\.txt:3: xfail entry 'c' has no reason"):
        parse("a  # why\n\nc\n", "xfail", "x.txt")


def test_entry_matches_test_id_or_case_id() -> None:
    entry = Entry("skip", "rms_norm-bf16-*", "r", "f:1")
    assert entry.matches("any-impl-rms_norm-bf16-x", "rms_norm-bf16-x")
    assert not entry.matches("impl-rms_norm-fp16-x", "rms_norm-fp16-x")
    assert Entry("skip", "impl-*", "r", "f:1").matches("impl-rms_norm-fp16-x", "rms_norm-fp16-x")


def test_files_applied_at_collection_under_xdist(run_suite, pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", skips=SKIPS, xfails=XFAILS)
    run = run_suite(*IMPLS, CASES, "--normfusion-skips=skips.txt", "--normfusion-xfails=xfails.txt", "-n", "2")
    statuses = {tid.split("-rms_norm-")[0] + "/" + c["dtype"]: c["status"] for tid, c in run.cases().items()}
    assert statuses == {
        "reference/fp16": "passed",
        "reference/bf16": "xpassed",
        "reference/fp32": "passed",
        "variance-in-input-dtype/fp16": "skipped",
        "variance-in-input-dtype/bf16": "xfailed",
        "variance-in-input-dtype/fp32": "xpassed",
    }
    cases = run.cases()
    skipped = next(c for c in cases.values() if c["status"] == "skipped")
    assert skipped["reason"] == "fp16 squares overflow (skips.txt:1)"
    xfailed = next(c for c in cases.values() if c["status"] == "xfailed")
    assert xfailed["raw_status"] == "failed" and xfailed["expectation"]["reason"] == "bf16 squares lose the sum"
    assert xfailed["reason"].startswith("y conforms to no allowed profile")
    listed = {(e["pattern"], e["reason"], e["source"], e["matched"]) for e in run.certificate["expectations"]}
    assert listed == {
        ("variance-in-input-dtype-rms_norm-fp16-*", "fp16 squares overflow", "skips.txt:1", 1),
        ("nothing-*", "renamed cases", "skips.txt:4", 0),
        ("rms_norm-bf16-*-normal", "bf16 squares lose the sum", "xfails.txt:1", 2),
        ("variance-in-input-dtype-rms_norm-fp32-*", "statistics in x.dtype", "xfails.txt:3", 1),
    }
    assert run.result.ret == 0  # not strict: an xpass is reported, not failed
    run.result.stdout.fnmatch_lines(
        [
            "*NormfusionWarning: skips.txt:4: skip entry 'nothing-*' matches no collected test*",
            "XPASS reference-rms_norm-bf16-*: listed as expected to fail (xfails.txt:1), but passed",
        ]
    )
    assert run.result.stdout.str().count("matches no collected test") == 1  # one worker warns
    assert (
        "## Expected failures" in run.markdown
        and "| skip | `nothing-*` | renamed cases | skips.txt:4 | 0 |" in run.markdown
    )


def test_strict_xpass_fails_the_session(run_suite, pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", xfails="rms_norm-fp32-*  # hoped to fail\n")
    run = run_suite("--normfusion-impl=reference", CASES, "--normfusion-xfails=xfails.txt", "--normfusion-xfail-strict")
    fp32 = [c for c in run.cases().values() if c["dtype"] == "fp32"]
    assert [c["status"] for c in fp32] == ["xpassed"]
    assert run.result.ret == 1
    run.result.stdout.fnmatch_lines(["*[[]XPASS(strict)[]] hoped to fail (xfails.txt:1)*"])


def test_entry_without_reason_is_a_usage_error(run_suite, pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", skips="rms_norm-*\n")
    run = run_suite("--normfusion-impl=reference", CASES, "--normfusion-skips=skips.txt", report=None)
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    run.result.stderr.fnmatch_lines(["*skips.txt:1: skip entry 'rms_norm-[*]' has no reason; add '# why' to it*"])
