"""tools/puzzlemix_solvers.py, run as the lead runs it (tiny settings), and
its stand-in of the authors' per-sample energy."""
import os.path as osp
import re
import sys

import pytest
import torch

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'tools'))
import puzzlemix_solvers  # noqa: E402


def table_rows(text):
    return [line.split(' | ') for line in text.splitlines()
            if line.startswith('| ') and not line.startswith('| grid')
            and not line.startswith('| solver')]


def test_quality_counts_every_solver(tmp_path):
    out = tmp_path / 'quality.md'
    puzzlemix_solvers.main(['quality', '--instances', '3', '--grids', '4',
                            '--out', str(out)])
    rows = table_rows(out.read_text())
    assert [row[1] for row in rows] == ['swap', 'icm', 'exact']
    exact = rows[2]  # compared with itself: at the minimum, no block unlike
    assert exact[2] == '100.0 %' and exact[5] == '0.0 % / 0 %'
    note = re.search(r'- 4x4: the float energy \(round_energy=False\) gives '
                     r'other labels than the rounded one on swap (\d+), '
                     r'exact (\d+) of 3 grids', out.read_text())
    assert note and all(int(n) <= 3 for n in note.groups())


def test_authors_code_needs_gco():
    with pytest.raises(SystemExit):
        puzzlemix_solvers.main(['quality', '--authors-code', 'mixup.py'])


def test_time_has_a_row_per_solver(tmp_path):
    out = tmp_path / 'time.md'
    puzzlemix_solvers.main(['time', '--batch-size', '3', '--grids', '2', '4',
                            '--repeats', '1', '--out', str(out)])
    rows = table_rows(out.read_text())
    assert [row[0].strip('| ') for row in rows] == ['swap', 'icm', 'exact']
    assert all(len(row) == 4 for row in rows)


def test_authors_energy_is_their_integer_energy():
    """The timing stand-in builds, from the float parts, the integer energy
    the authors' code gives gco: int32(1000 g^2 x) of the mixer's terms."""
    images = puzzlemix_solvers.load_images(None, 4)
    terms, lam = puzzlemix_solvers.energies(images, 4, seed=0)
    unary, w_down, w_right, _ = puzzlemix_solvers.integer_energy(terms)
    for n, pair in enumerate(puzzlemix_solvers.authors_calls(terms, lam, 4)):
        costs, distance, down, right = puzzlemix_solvers.authors_energy(
            *pair)
        for theirs, ours in ((costs, unary[n]), (down, w_down[n]),
                             (right, w_right[n])):
            assert (torch.from_numpy(theirs.astype('float64')) -
                    ours).abs().max() <= 1
        assert distance.tolist() == [[0, .25, 1], [.25, 0, .25], [1, .25, 0]]
