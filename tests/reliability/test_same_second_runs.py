"""Two runners of one test process started in the same second keep their
logs apart (the cause of a flaky resume test: mmengine keys a runner's
visualizer by experiment name and second, and a second runner with the same
key wrote its scalars into the first one's folder)."""
import time

from mmengine.runner import Runner

from conftest import tiny_runner_cfg
from reliability_utils import logged_losses


def test_each_runner_logs_into_its_own_work_dir(image_folder, tmp_path,
                                                monkeypatch):
    frozen = time.time()
    monkeypatch.setattr(time, 'time', lambda: frozen)
    for work in ('first', 'second'):
        cfg = tiny_runner_cfg(image_folder, str(tmp_path / work), max_iters=2)
        cfg['visualizer'] = dict(
            type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
        Runner.from_cfg(cfg).train()
    for work in ('first', 'second'):
        assert sorted(logged_losses(str(tmp_path / work))) == [1, 2], work
