"""Time forward + backward of DecoupledMixupLoss against mmpretrain's soft
cross-entropy on mixup targets.

    python tools/benchmark_loss.py [--repeats 100] [--calls 20]
        [--devices cpu cuda] [--threads N]

Losses run interleaved, the order rotated every round (A B C, B C A, C A B,
...), so drifts in machine load and position effects hit all of them alike;
the table gives medians and the ratio to soft CE.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import dm_plugin  # noqa: F401  (first: quiets mmcv-lite's start-up warning)
from dm_plugin.models.losses import DecoupledMixupLoss
from mmpretrain.models.losses import CrossEntropyLoss  # noqa: I100

SHAPES = ((128, 100), (256, 1000))


def mixup_batch(num, num_classes, device):
    """Logits and 2-way mixup scores with per-sample λ."""
    labels = torch.randint(num_classes, (num, ), device=device)
    partner = labels[torch.randperm(num, device=device)]
    lam = torch.rand(num, 1, device=device)
    scores = lam * F.one_hot(labels, num_classes) + (1 - lam) * F.one_hot(
        partner, num_classes)
    logits = torch.randn(num, num_classes, device=device, requires_grad=True)
    return logits, scores


def time_step(loss_fn, logits, scores, device, calls: int) -> float:
    """Mean seconds of one forward + backward over ``calls`` in a row (a
    block amortises thread-pool wake-ups, which dominate single sub-ms
    calls). On the CPU, the CPU time of this process (other jobs on the
    machine do not inflate it, as they do wall time); on a GPU, wall time
    between synchronisations."""
    if device == 'cuda':
        torch.cuda.synchronize()
    clock = time.perf_counter if device == 'cuda' else time.process_time
    start = clock()
    for _ in range(calls):
        loss_fn(logits, scores).backward()
        logits.grad = None
    if device == 'cuda':
        torch.cuda.synchronize()
    return (clock() - start) / calls


def benchmark(device, repeats, warmup, calls):
    losses = {
        'soft CE (mmpretrain)': CrossEntropyLoss(use_soft=True),
        'DM (eta=0.1)': DecoupledMixupLoss(eta=0.1),
        'DM, check_values=False': DecoupledMixupLoss(
            eta=0.1, check_values=False),
        # The paper's CIFAR-100 CutMix setting: one class, a square root.
        'DM (minor, lam_power=0.5)': DecoupledMixupLoss(
            eta=0.1, decouple='minor', lam_power=0.5),
    }
    rows = []
    for shape in SHAPES:
        logits, scores = mixup_batch(*shape, device)
        times = {name: [] for name in losses}
        names = list(losses)
        for step in range(warmup + repeats):
            # Rotate the order every round: no loss always runs first.
            shift = step % len(names)
            for name in names[shift:] + names[:shift]:
                seconds = time_step(losses[name], logits, scores, device,
                                    calls)
                if step >= warmup:
                    times[name].append(seconds)
        base = statistics.median(times['soft CE (mmpretrain)'])
        for name, values in times.items():
            median = statistics.median(values)
            rows.append((device, shape, name, median * 1e6, median / base))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=100)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--calls', type=int, default=20,
                        help='forward+backward calls timed as one block')
    parser.add_argument(
        '--devices',
        nargs='+',
        default=['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    args = parser.parse_args()
    if args.repeats < 50:
        parser.error('--repeats must be >= 50 for stable medians')
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f'torch {torch.__version__}, CPU threads {torch.get_num_threads()}'
          + (f', GPU {torch.cuda.get_device_name()}'
             if torch.cuda.is_available() else ''))
    print(f'median of {args.repeats} interleaved blocks of {args.calls} '
          f'forward+backward calls, after {args.warmup} warm-up blocks\n')
    print('| device | (N, C) | loss | median (us) | vs soft CE |')
    print('|---|---|---|---:|---:|')
    for device in args.devices:
        for dev, shape, name, micros, ratio in benchmark(
                device, args.repeats, args.warmup, args.calls):
            print(f'| {dev} | {shape} | {name} | {micros:.0f} | '
                  f'{ratio:.2f}x |')


if __name__ == '__main__':
    main()
