"""The progress bar renders phase, counts and divergences (no sampler needed)."""
from bayesquad.inference._progress import progress_bar


def test_progress_bar_shows_phase_and_divergences(capsys):
    with progress_bar(100, 50) as update:
        for done in (0, 25, 50, 100):
            update(done, done // 25)
    err = capsys.readouterr().err
    assert "NUTS sampling" in err and "100/100" in err and "divergences 4" in err


def test_disabled_progress_bar_is_silent(capsys):
    with progress_bar(10, 5, enabled=False) as update:
        update(10, 0)
    assert capsys.readouterr().err == ""
