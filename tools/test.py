"""Evaluate a checkpoint on a config's test set (mmpretrain's CLI).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm]
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.evaluator import DumpResults

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dm_plugin  # noqa: E402,F401  (registers models, mixers, datasets)
from dm_plugin.engine import (CfgOptionsAction,  # noqa: E402
                              build_runner, check_model_types,
                              close_distributed, prepare_cpu_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the test log goes')
    parser.add_argument(
        '--out', help='dump every prediction to this pickle file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override config entries')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs',
        osp.splitext(osp.basename(args.config))[0])
    missing = [key for key in ('test_dataloader', 'test_evaluator', 'test_cfg')
               if cfg.get(key) is None]
    if missing:
        raise ValueError(f'{args.config} has no {", ".join(missing)}: '
                         'tools/test.py needs a test split')
    check_model_types(cfg.model)
    cfg.load_from = args.checkpoint
    cfg.launcher = args.launcher
    prepare_cpu_distributed(cfg)
    runner = build_runner(cfg)
    if args.out:
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if runner.rank == 0:
        print('\n'.join(['', 'Test metrics:'] +
                        [f'  {k}: {v:.4f}' for k, v in metrics.items()]),
              flush=True)
    close_distributed()


if __name__ == '__main__':
    main()
