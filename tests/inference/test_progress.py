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


def test_sampling_divergences_leave_out_warm_up_rows():
    import numpy as np
    from bayesquad.inference._progress import sampling_divergences
    # 3 chunks of [rows, 2 chains]; warm-up is the first 5 rows: divergences at rows 1, 4
    # (warm-up) and 5, 8 (sampling) of chain 0, row 6 of chain 1 -> 3 after warm-up
    div = np.zeros((9, 2), bool)
    div[[1, 4, 5, 8], 0] = True
    div[6, 1] = True
    infos = [{"diverging": div[:4]}, {"diverging": div[4:7]}, {"diverging": div[7:]}]
    assert sampling_divergences(infos, 5) == 3
    assert sampling_divergences(infos, 0) == 5
    assert sampling_divergences(infos, 9) == 0


def test_warm_up_shows_no_divergence_count(capsys):
    with progress_bar(100, 50) as update:
        update(25, 0)
    err = capsys.readouterr().err
    assert "NUTS warm-up" in err and "divergences -" in err
