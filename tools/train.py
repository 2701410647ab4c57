"""Train a classifier from an MMEngine config (mmpretrain's CLI).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm]
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop, Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dm_plugin  # noqa: E402,F401  (registers models, mixers, datasets)
from dm_plugin.engine import (CfgOptionsAction,  # noqa: E402
                              build_runner, check_dataset_indices,
                              check_model_types, close_distributed,
                              prepare_cpu_distributed)
from dm_plugin.engine.optim_check import check_optimizer  # noqa: E402
from dm_plugin.engine.run_logs import (TIMINGS,  # noqa: E402
                                       lower_is_better, run_lineage,
                                       scalar_files, validation_summary)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or without a value from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision (needs a GPU)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='skip validation during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual total batch size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override config entries, e.g. train_cfg.max_epochs=10 '
        'model.mixer.type=FMix')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args) -> Config:
    """Apply the command line to the config."""
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp cannot wrap {optim_wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: '
                                    f'{args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    cfg.launcher = args.launcher
    return cfg


class TrainStart(Hook):
    """Notes the iteration training starts from, after any resume."""

    def before_train(self, runner) -> None:
        self.iter = runner.iter


def hub_summary(runner: Runner) -> dict:
    """:func:`validation_summary` from the message hub, for runs that log no
    ``scalars.json`` (no ``LocalVisBackend``)."""
    summary = {}
    scalars = runner.message_hub.log_scalars
    for key in sorted(k for k in scalars if k.startswith('val/')):
        name = key[len('val/'):]
        if name not in TIMINGS:
            buffer = scalars[key]
            best = buffer.min() if lower_is_better(name) else buffer.max()
            summary[name] = dict(final=buffer.current(), best=best)
    return summary


def progress(runner: Runner) -> str:
    if isinstance(runner.train_loop, IterBasedTrainLoop):
        return f'iteration {runner.iter} of {runner.max_iters}'
    return f'epoch {runner.epoch} of {runner.max_epochs}'


def print_summary(runner: Runner, trained: bool = True) -> None:
    """One closing block: final and best validation metrics of the run (all
    its attempts, from the work dir's logs), and the last checkpoint. A
    resume of a run that was complete trains nothing and says so."""
    if runner.rank != 0:
        return
    if trained:
        lines = ['', '=' * 60, f'Finished: {runner.work_dir}']
    else:
        lines = ['', '=' * 60,
                 f'Already complete: {runner.work_dir} is at '
                 f'{progress(runner)}; nothing was trained (raise '
                 'train_cfg.max_epochs / max_iters to train longer).',
                 'Metrics of the run:']
    if scalar_files(runner.work_dir):
        summary = validation_summary(run_lineage(runner.work_dir))
    else:
        summary = hub_summary(runner)
    for name, values in summary.items():
        lines.append(f'  {name}: final {values["final"]:.2f}, '
                     f'best {values["best"]:.2f}')
    last = osp.join(runner.work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            lines.append(f'  checkpoint: {f.read().strip()}')
    lines.append('=' * 60)
    print('\n'.join(lines), flush=True)


def main(argv=None):
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    check_model_types(cfg.model)
    check_optimizer(cfg.get('optim_wrapper'))
    check_dataset_indices(cfg)
    prepare_cpu_distributed(cfg)
    runner = build_runner(cfg)
    start = TrainStart()
    runner.register_hook(start)
    runner.train()
    print_summary(runner, trained=runner.iter > start.iter)
    close_distributed()


if __name__ == '__main__':
    main()
