"""Training throughput (images/s) of whole iterations through mmengine's
Runner, per input path and method, against a plain PyTorch loop.

    python tools/benchmark_throughput.py DATA [--per-class K]
        [--batch-size 100] [--iters 10] [--warmup 3] [--rounds 3]
        [--num-workers 4] [--paths stock_jpeg stock_pickle fast]
        [--methods mixup_mce mixup_dm puzzlemix automix samix] [--amp]
        [--channels-last] [--compile] [--loader-batches 30]
        [--work-dir DIR] [--cache-dir DIR] [--cfg-options K=V ...]
        [--out FILE.md]

DATA is an ImageFolder tree with ``train/<class>/*`` (the CIFAR-10 JPEG
copy; ``stock_pickle`` needs CIFAR-10's ten class folders). Input paths:

* ``stock_jpeg``: mmpretrain's ``CustomDataset`` on the image files, the
  per-sample pipeline (LoadImageFromFile, RandomCrop, RandomFlip,
  PackInputs) in ``--num-workers`` loader processes, ``ClsDataPreprocessor``;
* ``stock_pickle``: the same pipeline without decoding, on CIFAR-10 python
  pickles written from DATA's training images as
  tools/dataset_converters/folder_to_cifar.py writes them
  (``CheckedCIFAR10``: mmpretrain's ``CIFAR10`` with checked, safe
  loading; the per-sample work is the same);
* ``fast``: ``CachedImageDataset`` (an index and a label per batch, no
  loader processes) and ``BatchTransformPreprocessor`` (crop and flip of
  the batch on the device).

Methods are the GPU protocol's configs (configs/protocol/r18_*.py, ResNet-18
CIFAR): Mixup + MCE, Mixup + DM, PuzzleMix, AutoMix and SAMix.
The ceiling is a plain PyTorch loop with the same model, optimizer and
``--amp`` / ``--channels-last`` / ``--compile`` settings, on uint8 data
already on the device (random batches, normalised, cross-entropy, no
augmentation or mixing).

Every (path, method) runs as a fresh Runner for ``--warmup`` + ``--iters``
iterations; images/s counts the ``--iters`` iterations after the warm-up
(loader fetches, hooks and the train step; the device is synchronised at
both ends). Variants run interleaved, one run each per round, the order
rotated every round; the table gives the median and the range over
``--rounds``. Then the input paths alone on the CPU (no loader processes,
one core): fetching ``--loader-batches`` batches, and fetching plus the data
preprocessor's training-time work. The last line is ``fast/stock loader
speed-up: X.Xx``: images/s of the fast input path over the stock JPEG one,
loader and data preprocessor together, on the CPU. Runs on CUDA when
present (mmengine's default), else on the CPU.
"""
import argparse
import gc
import os.path as osp
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
import dm_plugin  # noqa: E402,F401  (registers models, datasets)
from dm_plugin.datasets import (CachedImageDataset,  # noqa: E402
                                CheckedCIFAR10)
from dm_plugin.datasets.cifar import class_difference  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

PROTOCOL = osp.join(ROOT, 'configs', 'protocol')
PATHS = ('stock_jpeg', 'stock_pickle', 'fast')
# name: (label, protocol config)
METHODS = {
    'mixup_mce': ('Mixup + MCE', 'r18_mixup_mce.py'),
    'mixup_dm': ('Mixup + DM', 'r18_mixup_dm.py'),
    'puzzlemix': ('PuzzleMix', 'r18_puzzlemix_mce.py'),
    'automix': ('AutoMix', 'r18_automix_mce.py'),
    'samix': ('SAMix', 'r18_samix_mce.py'),
}
# A dynamic mixer's step over a static one, as OpenMixup reports it.
OPENMIXUP_COST = dict(puzzlemix=1.30, automix=2.19, samix=2.15)
CEILING = 'plain PyTorch loop'


def write_cifar_pickles(dataset: CachedImageDataset, out_root: str) -> str:
    """The images of ``dataset`` (CIFAR-10's classes, 32x32 RGB) as
    CIFAR-10 python pickles (``cifar-10-batches-py/data_batch_1..5``,
    ``batches.meta``, ``MD5SUMS``) under ``out_root``, unless there; returns
    ``out_root``."""
    if osp.isfile(osp.join(out_root, CheckedCIFAR10.base_folder,
                           CheckedCIFAR10.meta['filename'])):
        return out_root
    classes = dataset.metainfo['classes']
    if list(classes) != list(CheckedCIFAR10.METAINFO['classes']):
        raise ValueError(
            f'{dataset.data_root}: the stock_pickle path needs the class '
            'folders of CIFAR-10 (' + (class_difference(
                classes, CheckedCIFAR10.METAINFO['classes']) or
                'another order') + '); leave it out with --paths '
            'stock_jpeg fast')
    CheckedCIFAR10.write_splits(
        out_root, {'train': (dataset.images, dataset.labels, None)})
    return out_root


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class ThroughputHook(Hook):
    """Seconds of the iterations after ``warmup`` (device synchronised at
    both ends), and of their data fetches."""

    priority = 'LOWEST'

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.start = self.end = self.last = None
        self.fetch = 0.

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.start is not None:
            self.fetch += time.perf_counter() - self.last

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        done = runner.iter + 1
        if done == self.warmup or done == runner.max_iters:
            synchronize()
        self.last = time.perf_counter()
        if done == self.warmup:
            self.start = self.last
        if done == runner.max_iters:
            self.end = self.last


def method_config(method: str) -> Config:
    return Config.fromfile(osp.join(PROTOCOL, METHODS[method][1]))


def input_path(cfg: Config, path: str, args) -> tuple:
    """(dataset, extra loader settings, data preprocessor) of ``path``,
    with the augmentation of the protocol's fast path."""
    fast = cfg.model.data_preprocessor
    if path == 'fast':
        dataset = dict(type='CachedImageDataset', data_root=args.data,
                       split='train', cache_dir=args.cache_dir)
        loader = dict(num_workers=0,
                      collate_fn=dict(type='cached_image_collate'))
        preprocessor = fast
    else:
        augment = list(fast.transforms) + [dict(type='PackInputs')]
        if path == 'stock_jpeg':
            dataset = dict(type='CustomDataset', data_root=args.data,
                           data_prefix='train',
                           pipeline=[dict(type='LoadImageFromFile')] +
                           augment)
        else:
            dataset = dict(type='CheckedCIFAR10', data_root=args.pickles,
                           split='train', download=False, pipeline=augment)
        loader = dict(num_workers=args.num_workers,
                      persistent_workers=args.num_workers > 0)
        preprocessor = dict(type='ClsDataPreprocessor', mean=fast.mean,
                            std=fast.std, num_classes=fast.num_classes,
                            to_rgb=path == 'stock_jpeg')
    if args.per_class:
        dataset = dict(type='ClassBalancedSubset', per_class=args.per_class,
                       seed=0, dataset=dataset)
    return dataset, loader, preprocessor


def runner_config(method: str, path: str, args, work_dir: str) -> Config:
    cfg = method_config(method)
    dataset, loader, preprocessor = input_path(cfg, path, args)
    cfg.model.data_preprocessor = preprocessor
    cfg.model.channels_last = args.channels_last
    cfg.model.compile = args.compile
    cfg.train_dataloader = dict(
        batch_size=args.batch_size, dataset=dataset,
        sampler=dict(type='DefaultSampler', shuffle=True), **loader)
    cfg.train_cfg = dict(by_epoch=False, max_iters=args.warmup + args.iters)
    for key in ('val_cfg', 'val_dataloader', 'val_evaluator', 'test_cfg',
                'test_dataloader', 'test_evaluator', 'param_scheduler'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    cfg.log_level = 'WARNING'
    cfg.work_dir = work_dir
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def run_runner(method: str, path: str, args, round_: int) -> dict:
    work_dir = osp.join(args.work_dir, 'runs', f'{path}-{method}-{round_}')
    runner = Runner.from_cfg(runner_config(method, path, args, work_dir))
    timer = ThroughputHook(args.warmup)
    runner.register_hook(timer)
    runner.train()
    seconds = timer.end - timer.start
    del runner
    gc.collect()
    return dict(images_s=args.iters * args.batch_size / seconds,
                fetch_share=timer.fetch / seconds)


class PlainLoop:
    """The protocol's Mixup + MCE model trained by a bare loop on uint8
    data on the device: random batches, normalisation, cross-entropy."""

    def __init__(self, args, dataset: CachedImageDataset):
        cfg = method_config('mixup_mce')
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        self.device = torch.device('cuda' if torch.cuda.is_available() else
                                   'cpu')
        model_cfg = dict(cfg.model, mixer=None,
                         channels_last=args.channels_last,
                         compile=args.compile)
        model_cfg.pop('data_preprocessor')
        self.model = MODELS.build(model_cfg).to(self.device)
        self.model.init_weights()
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            **{k: v for k, v in cfg.optim_wrapper.optimizer.items()
               if k != 'type'})
        indices = np.arange(len(dataset))
        if args.per_class:
            indices = dm_plugin.datasets.ClassBalancedSubset(
                dataset, args.per_class).indices
        self.images = torch.from_numpy(np.asarray(
            dataset.images[indices])).to(self.device)
        self.labels = torch.from_numpy(dataset.labels[indices]).to(
            self.device)
        fast = cfg.model.data_preprocessor
        self.mean = torch.tensor(fast.mean, device=self.device).view(
            1, -1, 1, 1)
        self.std = torch.tensor(fast.std, device=self.device).view(
            1, -1, 1, 1)
        self.amp = args.amp
        self.scaler = torch.amp.GradScaler(enabled=args.amp)
        self.args = args

    def step(self) -> None:
        index = torch.randint(len(self.labels), (self.args.batch_size, ),
                              device=self.device)
        inputs = self.images[index].permute(0, 3, 1, 2).float()
        inputs = (inputs - self.mean) / self.std
        with torch.autocast(self.device.type, dtype=torch.float16,
                            enabled=self.amp):
            loss = F.cross_entropy(self.model(inputs), self.labels[index])
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def run(self, round_: int) -> dict:
        for _ in range(self.args.warmup):
            self.step()
        synchronize()
        start = time.perf_counter()
        for _ in range(self.args.iters):
            self.step()
        synchronize()
        seconds = time.perf_counter() - start
        return dict(images_s=self.args.iters * self.args.batch_size /
                    seconds, fetch_share=0.)


def loader_alone(path: str, args, batches: int) -> dict:
    """Images/s on the CPU of one process fetching ``batches`` batches, and
    of fetching plus the data preprocessor's training-time work."""
    cfg = method_config('mixup_mce')
    dataset, loader, preprocessor = input_path(cfg, path, args)
    loader.update(num_workers=0, persistent_workers=False)
    dataloader = Runner.build_dataloader(dict(
        batch_size=args.batch_size, dataset=dataset,
        sampler=dict(type='DefaultSampler', shuffle=True), **loader), seed=0)
    preprocess = MODELS.build(preprocessor)
    fetch = work = 0.
    iterator, images = iter(dataloader), 0
    for index in range(batches + 1):
        start = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(dataloader)
            batch = next(iterator)
        fetched = time.perf_counter()
        preprocess(batch, training=True)
        if index:  # the first batch warms up
            fetch += fetched - start
            work += time.perf_counter() - start
            images += len(batch['inputs'])
    return dict(loader=images / fetch, input_path=images / work)


def spread(values) -> str:
    return f'{min(values):,.0f}-{max(values):,.0f}'


def report(args, results: dict, loaders: dict) -> str:
    device = (torch.cuda.get_device_name()
              if torch.cuda.is_available() else
              f'CPU ({torch.get_num_threads()} threads)')
    subset = (f'{args.per_class} images per class'
              if args.per_class else 'all training images')
    lines = [
        f'{device}, torch {torch.__version__}; {subset} of {args.data}, '
        f'batch {args.batch_size}, {args.num_workers} loader processes for '
        f'the stock paths; amp {args.amp}, channels_last '
        f'{args.channels_last}, compile {args.compile}. Median (range) over '
        f'{args.rounds} interleaved rounds of {args.iters} iterations after '
        f'{args.warmup} warm-up iterations.', '',
        '| input path | method | images/s | range | of the plain loop | '
        'step cost vs Mixup + MCE (OpenMixup) | loader wait |',
        '|---|---|---:|---:|---:|---:|---:|'
    ]
    ceiling = statistics.median(r['images_s'] for r in results[CEILING])
    lines.append(f'| device | {CEILING} | {ceiling:,.0f} | '
                 f'{spread([r["images_s"] for r in results[CEILING]])} | '
                 '100% | - | - |')
    for path in args.paths:
        base = results.get((path, 'mixup_mce'))
        base = statistics.median(r['images_s'] for r in base) if base \
            else None
        for method in args.methods:
            label = METHODS[method][0]
            runs = results[path, method]
            median = statistics.median(r['images_s'] for r in runs)
            cost = f'{base / median:.2f}x' if base else '-'
            if method in OPENMIXUP_COST:
                cost += f' ({OPENMIXUP_COST[method]:.2f}x)'
            wait = statistics.median(r['fetch_share'] for r in runs)
            lines.append(
                f'| {path} | {label} | {median:,.0f} | '
                f'{spread([r["images_s"] for r in runs])} | '
                f'{median / ceiling:.0%} | {cost} | {wait:.0%} |')
    lines += [
        '', f'Input paths alone on the CPU (one process, median of '
        f'{args.rounds} rounds of {args.loader_batches} batches):', '',
        '| input path | loader images/s | loader + data preprocessor '
        'images/s |', '|---|---:|---:|'
    ]
    for path in args.paths:
        runs = loaders[path]
        lines.append('| {} | {:,.0f} | {:,.0f} |'.format(
            path, statistics.median(r['loader'] for r in runs),
            statistics.median(r['input_path'] for r in runs)))
    if 'fast' in loaders and 'stock_jpeg' in loaders:
        speedup = statistics.median(
            r['input_path'] for r in loaders['fast']) / statistics.median(
                r['input_path'] for r in loaders['stock_jpeg'])
        lines += ['', f'fast/stock loader speed-up: {speedup:.1f}x']
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data', help='ImageFolder root with train/<class>/')
    parser.add_argument('--per-class', type=int,
                        help='images per class (default: all)')
    parser.add_argument('--batch-size', type=int, default=100)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--num-workers', type=int, default=4,
                        help='loader processes of the stock paths')
    parser.add_argument('--paths', nargs='+', choices=PATHS,
                        default=list(PATHS))
    parser.add_argument('--methods', nargs='+', choices=list(METHODS),
                        default=list(METHODS))
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (CUDA)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone and neck')
    parser.add_argument('--loader-batches', type=int, default=30)
    parser.add_argument('--work-dir', default='work_dirs/benchmark_throughput')
    parser.add_argument('--cache-dir',
                        help='dataset cache (default: WORK_DIR/cache)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of every Runner config')
    parser.add_argument('--out', help='also write the report to this file')
    args = parser.parse_args(argv)
    if min(args.iters, args.rounds, args.loader_batches) < 1 or \
            args.warmup < 1 or args.batch_size < 2 or args.num_workers < 0:
        parser.error('need --iters, --rounds, --loader-batches, --warmup '
                     '>= 1, --batch-size >= 2, --num-workers >= 0')
    if args.amp and not torch.cuda.is_available():
        parser.error('--amp needs CUDA')
    if 'mixup_mce' not in args.methods:
        args.methods.insert(0, 'mixup_mce')  # the base of the cost column
    args.cache_dir = args.cache_dir or osp.join(args.work_dir, 'cache')
    args.pickles = osp.join(args.work_dir, 'cifar_pickles')
    return args


def main(argv=None) -> str:
    args = parse_args(argv)
    MMLogger.get_instance('benchmark_throughput', log_level='WARNING')
    dataset = CachedImageDataset(args.data, cache_dir=args.cache_dir)
    if 'stock_pickle' in args.paths:
        write_cifar_pickles(dataset, args.pickles)
    variants = [(path, method) for path in args.paths
                for method in args.methods]
    variants.append(CEILING)
    plain = PlainLoop(args, dataset)
    results = {variant: [] for variant in variants}
    for round_ in range(args.rounds):
        shift = round_ % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            result = plain.run(round_) if variant == CEILING else \
                run_runner(variant[1], variant[0], args, round_)
            results[variant].append(result)
            print(f'round {round_ + 1}/{args.rounds} {variant}: '
                  f'{result["images_s"]:,.0f} images/s', flush=True)
    loaders = {path: [] for path in args.paths}
    for round_ in range(args.rounds):
        shift = round_ % len(args.paths)
        for path in args.paths[shift:] + args.paths[:shift]:
            loaders[path].append(loader_alone(path, args,
                                              args.loader_batches))
    text = report(args, results, loaders)
    print('\n' + text, end='')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    return text


if __name__ == '__main__':
    main()
