"""Distributed training without GPUs (gloo), for CPU clusters and tests."""
import datetime

import torch
import torch.distributed as dist
from mmengine.config import Config


def prepare_cpu_distributed(cfg: Config) -> None:
    """Make ``launcher='pytorch'`` work on machines without CUDA.

    mmengine's launcher pins each rank to a CUDA device and wraps the model
    in DDP with ``device_ids``; both fail without a GPU. Here the process
    group is initialised with gloo from torchrun's environment, and DDP is
    built without ``device_ids``. Nothing changes when CUDA is available.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} needs GPUs; on CPU-only machines launch '
            'with torchrun (tools/dist_train.sh, --launcher pytorch)')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = \
        'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or
                   dict(type='MMDistributedDataParallel'))
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        # A rank that hangs instead of dying fails after this many seconds.
        timeout = cfg.env_cfg.dist_cfg.get('timeout', 1800)
        dist.init_process_group(
            backend='gloo',
            init_method='env://',
            timeout=datetime.timedelta(seconds=timeout))


def close_distributed() -> None:
    """Destroy the process group (after a barrier) when one exists, so
    that no rank tears gloo down while another still uses it."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
