"""Every piece of test data is read by a test: a corpus file that no test reads is dead weight
that looks like coverage. buggy/ (both styles) is read whole, by a recursive glob; every other
file is named by the test that reads it."""

from pathlib import Path

TESTS = Path(__file__).parent.parent
CORPUS = TESTS / "corpus"
READ_WHOLE = {"buggy": ("test_check_diagnose_corpus.py", 'BUGGY.rglob("*.py")')}  # folder: (test, how)


def test_every_corpus_file_is_read_by_a_test():
    sources = "\n".join(path.read_text() for path in TESTS.rglob("test_*.py") if path.name != Path(__file__).name)
    for folder, (test, how) in READ_WHOLE.items():
        assert how in (TESTS / test).read_text(), f"{test} no longer reads all of corpus/{folder}"
    unread = [str(path.relative_to(CORPUS)) for path in sorted(CORPUS.rglob("*")) if path.is_file()
              and path.relative_to(CORPUS).parts[0] not in READ_WHOLE and path.name not in sources]
    assert not unread, f"corpus files that no test reads: {unread}"
    whole = [path for folder in READ_WHOLE for path in (CORPUS / folder).rglob("*") if path.is_file()]
    assert all(path.suffix == ".py" for path in whole), "a recursive *.py glob misses some of these"
