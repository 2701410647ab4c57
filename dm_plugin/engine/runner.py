"""mmengine's Runner with an environment block that is true on any device."""
from mmengine.device import get_device
from mmengine.runner import Runner
from mmengine.utils.dl_utils import collect_env
from mmpretrain.registry import RUNNERS


@RUNNERS.register_module()
class DMRunner(Runner):
    """:class:`mmengine.runner.Runner` whose start-up block reports the
    device and the number of processes as they are.

    mmengine's block prints the world size as "GPU number" (1 on a CPU-only
    machine) and the ``dist_cfg`` of every config (``backend='nccl'`` in
    mmpretrain's runtimes) even when no process group is used. This prints
    ``Device`` (``cuda``, ``cpu``, ...) and ``Processes``, and ``dist_cfg``
    only in distributed runs, where it is the backend in use (gloo on CPUs,
    see :func:`dm_plugin.engine.prepare_cpu_distributed`). Training is
    unchanged. ``tools/train.py`` and ``tools/test.py`` use it unless a
    config names its own ``runner_type``.
    """

    def _log_env(self, env_cfg: dict) -> None:
        runtime = {
            key: value
            for key, value in env_cfg.items()
            if key != 'dist_cfg' or self.distributed
        }
        runtime.update(self._randomness_cfg)
        runtime.update({
            'seed': self._seed,
            'Distributed launcher': self._launcher,
            'Distributed training': self._distributed,
            'Device': get_device(),
            'Processes': self._world_size,
        })
        blocks = [('System environment', collect_env()),
                  ('Runtime environment', runtime)]
        text = '\n\n'.join(
            f'{title}:\n' + '\n'.join(f'    {key}: {value}'
                                       for key, value in items.items())
            for title, items in blocks)
        dash_line = '-' * 60
        self.logger.info(f'\n{dash_line}\n{text}\n{dash_line}\n')
        if self.cfg._cfg_dict:
            self.logger.info(f'Config:\n{self.cfg.pretty_text}')


def build_runner(cfg) -> Runner:
    """The config's ``runner_type`` if it names one, else :class:`DMRunner`
    (what mmpretrain's tools do, with ``DMRunner`` for ``Runner``)."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return DMRunner.from_cfg(cfg)
