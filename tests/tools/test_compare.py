"""tools/compare.py: grid checks, log parsing, and a real 2 configs x 2 seeds
grid that is interrupted and resumed."""
import importlib.util
import json
import math
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml
from mmengine.config import Config
from PIL import Image

from child_processes import kill_tree
from dm_plugin.engine.run_logs import read_records, scalar_files

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare = load_tool('compare')

# 4 iterations of a 4-channel ResNet on the bundled 8x8 digits, validated
# and checkpointed every 2 iterations; {evaluator} differs per config.
TINY_CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['dm_plugin'], allow_failed_imports=False)
model = dict(
    type='MixupClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=10,
                           mean=[127.5], std=[127.5], to_rgb=False),
    backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1,
                  stem_channels=4, base_channels=4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='DMClsHead', num_classes=10, in_channels=32,
              loss=dict(type='DecoupledMixupLoss', eta=0.1)),
    mixer=dict(type='Mixup', alpha=1.0))
train_dataloader = dict(
    batch_size=32, num_workers=0,
    dataset=dict(type='DigitsDataset', split='train',
                 pipeline=[dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=200, num_workers=0,
    dataset=dict(type='DigitsDataset', split='test',
                 pipeline=[dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = {evaluator}
train_cfg = dict(by_epoch=False, max_iters=4, val_interval=2)
val_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
log_level = 'WARNING'
"""


def write_grid(tmp_path, **spec):
    path = str(tmp_path / 'grid.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump(spec, f)
    return path


@pytest.fixture
def configs(tmp_path):
    paths = {}
    for name, evaluator in (
            ('dm', "[dict(type='Accuracy', topk=(1, 5)), dict(type='ECE')]"),
            ('mce', "dict(type='Accuracy', topk=(1, ))")):
        paths[name] = str(tmp_path / f'{name}.py')
        with open(paths[name], 'w') as f:
            f.write(TINY_CONFIG.format(evaluator=evaluator))
    return paths


def file_mtimes(root):
    return {
        osp.join(folder, name): os.stat(osp.join(folder, name)).st_mtime_ns
        for folder, _, names in os.walk(root) for name in names
    }


def summary_of(log_file):
    """``{metric: (final, best)}`` from train.py's closing block."""
    with open(log_file) as f:
        text = f.read()
    return {
        name: (float(final), float(best))
        for name, final, best in re.findall(
            r'^  (\S+): final ([\d.]+), best ([\d.]+)$', text, re.M)
    }


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(SystemExit):
        compare.parse_args([str(tmp_path / 'grid.yaml'), '--jobs', '0'])


def test_progress_lines_of_parallel_runs_stay_whole(monkeypatch):
    """Each progress line reaches stdout in one write, so the lines of two
    runs started at once cannot run together (``print`` writes the text
    and its newline apart)."""

    class Recorder:

        def __init__(self):
            self.writes = []

        def write(self, text):
            self.writes.append(text)

        def flush(self):
            pass

    recorder = Recorder()
    monkeypatch.setattr(sys, 'stdout', recorder)
    lines = [f'[{i}/64] run: training' for i in range(64)]
    threads = [threading.Thread(target=compare.say, args=(line, ))
               for line in lines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(recorder.writes) == sorted(line + '\n' for line in lines)


def test_grid_end_to_end_with_resume(tmp_path, configs, capsys):
    work_root = str(tmp_path / 'grid')
    grid = write_grid(
        tmp_path,
        work_root=work_root,
        seeds=[0, 1],
        methods=[
            dict(name='dm', config=configs['dm']),
            dict(name='mce', config=configs['mce'],
                 cfg_options={'model.head.loss.eta': 0.0}),
        ])
    assert compare.main([grid, '--jobs', '2']) == 0  # two runs at a time
    printed = capsys.readouterr().out
    assert '[4/4] mce seed 1: training' in printed
    assert printed.count(': done in ') == 4

    results = json.load(open(osp.join(work_root, 'results.json')))
    for method, seeds_runs in results.items():
        assert [run['seed'] for run in seeds_runs] == [0, 1]
        for run in seeds_runs:
            run_dir = osp.join(work_root, method, f'seed_{run["seed"]}')
            assert run['val_evaluations'] == 2 and run['iters'] == 4
            assert run['s_per_iter'] > 0 and run['wall_s'] > 0
            # The parsed metrics are what train.py itself reported.
            summary = summary_of(osp.join(run_dir, 'compare_train.log'))
            assert summary['accuracy/top1'] == pytest.approx(
                (run['top1_final'], run['top1_best']), abs=0.006)
            cfg = Config.fromfile(osp.join(run_dir, f'{method}.py'))
            assert cfg.randomness.seed == run['seed']
            assert cfg.model.head.loss.eta == (0.1 if method == 'dm' else 0.)
    for run in results['dm']:
        assert 0 <= run['ece_final'] <= 100
        assert summary_of(
            osp.join(work_root, 'dm', f'seed_{run["seed"]}',
                     'compare_train.log'))['calibration/ece'][0] == \
            pytest.approx(run['ece_final'], abs=0.006)
    for run in results['mce']:
        assert run['top5_final'] is None and run['ece_final'] is None

    table = open(osp.join(work_root, 'results.md')).read()
    dm_row = next(line for line in table.splitlines()
                  if line.startswith('| dm |'))
    mce_row = next(line for line in table.splitlines()
                   if line.startswith('| mce |'))
    assert dm_row.count('±') == 6 and '-' not in dm_row.split('|')[5:7]
    assert [cell.strip() for cell in mce_row.split('|')[5:7]] == ['-', '-']
    top1 = [run['top1_final'] for run in results['dm']]
    assert f'{sum(top1) / 2:.2f} ± ' in dm_row
    assert Image.open(osp.join(work_root, 'results.png')).format == 'PNG'

    # mce seed 1 was interrupted after its iteration-2 checkpoint (so its
    # iteration-4 validation is stale).
    mce1 = osp.join(work_root, 'mce', 'seed_1')
    os.remove(osp.join(mce1, compare.MARKER))
    os.remove(osp.join(mce1, 'iter_4.pth'))
    with open(osp.join(mce1, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(mce1, 'iter_2.pth'))
    untouched = {
        run_dir: file_mtimes(run_dir)
        for run_dir in (osp.join(work_root, 'dm', 'seed_0'),
                        osp.join(work_root, 'dm', 'seed_1'),
                        osp.join(work_root, 'mce', 'seed_0'))
    }
    assert compare.main([grid]) == 0
    printed = capsys.readouterr().out
    assert printed.count('finished, skipped') == 3
    assert '[4/4] mce seed 1: resuming' in printed
    for run_dir, mtimes in untouched.items():
        assert file_mtimes(run_dir) == mtimes
    resumed = json.load(open(osp.join(work_root, 'results.json')))
    attempts = json.load(open(osp.join(mce1, compare.ATTEMPTS)))
    assert len(attempts) == 2 and '--resume' in attempts[1]['command']
    marker = json.load(open(osp.join(mce1, compare.MARKER)))
    assert marker['attempts'] == 2
    assert marker['wall_s'] == pytest.approx(
        sum(attempt['elapsed_s'] for attempt in attempts), abs=0.01)
    # Iteration-2 validation kept, the stale iteration-4 one replaced.
    first, second = [read_records(path) for path in scalar_files(mce1)]
    kept = [r['accuracy/top1'] for r in first if 'iter' not in r][0]
    redone = [r['accuracy/top1'] for r in second if 'iter' not in r]
    assert [r['step'] for r in second if 'iter' in r] == [3, 4]
    assert len(redone) == 1
    run = resumed['mce'][1]
    assert run['val_evaluations'] == 2
    assert (run['top1_final'], run['top1_best']) == (redone[0],
                                                     max(kept, redone[0]))
    summary = summary_of(osp.join(mce1, 'compare_train.log'))
    assert run['top1_final'] == pytest.approx(summary['accuracy/top1'][0],
                                              abs=0.006)
    assert resumed['dm'] == results['dm']


def test_sigterm_stops_the_grid_and_keeps_the_attempt(tmp_path, configs):
    work_root = str(tmp_path / 'grid')
    grid = write_grid(
        tmp_path, work_root=work_root, seeds=[0],
        methods=[dict(name=name, config=configs[name],
                      cfg_options={'train_cfg.max_iters': 100000})
                 for name in ('dm', 'mce')])
    process = subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'tools', 'compare.py'), grid],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    running = osp.join(work_root, 'dm', 'seed_0')
    deadline = time.time() + 300
    try:
        while not osp.isfile(osp.join(running, 'last_checkpoint')):
            assert process.poll() is None and time.time() < deadline
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)  # to compare.py alone
        printed = process.communicate(timeout=120)[0]
    finally:  # a failure leaves no 100,000-iteration training behind
        if process.poll() is None:
            kill_tree(process.pid)
            process.communicate(timeout=30)

    assert process.returncode == 128 + signal.SIGTERM, printed
    assert '[1/2] dm seed 0: stopped after ' in printed
    assert 'stopped by SIGTERM: 2 of 2 runs unfinished' in printed
    assert '[2/2]' not in printed  # the queued run never started
    assert not osp.exists(osp.join(work_root, 'mce'))
    attempts = json.load(open(osp.join(running, compare.ATTEMPTS)))
    assert len(attempts) == 1
    assert attempts[0]['returncode'] == -signal.SIGTERM
    assert attempts[0]['elapsed_s'] > 0
    assert compare.run_state(running) == 'resume'


def test_dry_run_trains_nothing(tmp_path, configs, capsys):
    grid = write_grid(
        tmp_path,
        work_root=str(tmp_path / 'grid'),
        seeds=[3],
        launcher='pytorch',
        nproc=2,
        train_args=['--amp'],
        methods=[dict(name='dm', config=configs['dm'],
                      cfg_options={'optim_wrapper.optimizer.lr': 0.05,
                                   'train_cfg.max_iters': 2})])
    assert compare.main([grid, '--dry-run']) == 0
    printed = capsys.readouterr().out
    assert '[1/1] dm seed 3: would run' in printed
    assert f'dist_train.sh {configs["dm"]} 2 --work-dir ' in printed
    assert '--amp --cfg-options randomness.seed=3 ' \
        'optim_wrapper.optimizer.lr=0.05 train_cfg.max_iters=2' in printed
    assert not osp.exists(tmp_path / 'grid')


def test_runs_go_seed_by_seed_with_per_method_seeds(tmp_path, configs,
                                                    capsys):
    grid = write_grid(
        tmp_path, work_root=str(tmp_path / 'grid'), seeds=[0, 1],
        methods=[dict(name='dm', config=configs['dm']),
                 dict(name='costly', config=configs['mce'], seeds=[0, 5]),
                 dict(name='mce', config=configs['mce'])])
    assert compare.main([grid, '--dry-run']) == 0
    printed = re.findall(r'^\[\d/6\] (\w+) seed (\d): would run',
                         capsys.readouterr().out, re.M)
    assert printed == [('dm', '0'), ('costly', '0'), ('mce', '0'),
                       ('dm', '1'), ('mce', '1'), ('costly', '5')]


def test_report_tables_finished_runs_only(tmp_path, configs, capsys):
    work_root = tmp_path / 'grid'
    grid = write_grid(
        tmp_path, work_root=str(work_root), seeds=[0, 1],
        methods=[dict(name='dm', config=configs['dm']),
                 dict(name='costly', config=configs['mce'], seeds=[0])])
    finished = work_root / 'dm' / 'seed_1'
    (finished / '20260101_000000' / 'vis_data').mkdir(parents=True)
    (finished / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in (
            record(1), record(2), record(**{'accuracy/top1': 40.}))))
    (finished / compare.MARKER).write_text(json.dumps(dict(wall_s=12.5)))
    (work_root / 'dm' / 'seed_0').mkdir()
    (work_root / 'dm' / 'seed_0' / 'last_checkpoint').write_text('x.pth')
    assert compare.main([grid, '--report']) == 0
    printed = capsys.readouterr().out
    assert '[1/3] dm seed 0: not finished, left out' in printed
    assert '[2/3] costly seed 0: not finished, left out' in printed
    assert '[3/3] dm seed 1: finished, skipped' in printed
    table = (work_root / 'results.md').read_text().splitlines()
    assert table[2].split(' | ')[:3] == ['| dm', '1/2', '40.00']
    assert table[3].split(' | ')[:3] == ['| costly', '0/1', '-']
    assert not (work_root / 'dm' / 'seed_0' / compare.ATTEMPTS).exists()
    assert not (work_root / 'costly').exists()
    with pytest.raises(SystemExit):
        compare.parse_args([grid, '--report', '--dry-run'])


def record(step=None, **metrics):
    if step is not None:
        return dict(lr=0.1, loss=1., time=0.5, iter=step, step=step)
    return dict(time=0.1, step=0, **metrics)


def test_metric_key_prefers_accuracy():
    records = [{'calibration/top1': 1., 'accuracy/top1': 2.,
                'calibration/ece': 3.}]
    assert compare.metric_key(records, 'top1') == 'accuracy/top1'
    assert compare.metric_key(records, 'ece') == 'calibration/ece'
    assert compare.metric_key(records, 'top5') is None


def test_mean_std():
    assert compare.mean_std([1., 3.]) == '2.00 ± 1.41'
    assert compare.mean_std([2.5, None]) == '2.50'
    assert compare.mean_std([None]) == '-'
    assert compare.mean_std([-1., -3.], signed=True) == '-2.00 ± 1.41'
    assert compare.mean_std([0.5], signed=True) == '+0.50'


@pytest.mark.parametrize('value, text', [
    (0.0, '0.0'), (3, '3'), (True, 'True'), (None, 'None'), ('SGD', 'SGD'),
    ([1, 2], '[1,2]'), ((224, 224), '(224,224)'), ([[1, 2], 3], '[[1,2],3]'),
    (1e-05, '1e-05'),
])
def test_cfg_option_round_trips(value, text):
    assert compare.cfg_option('m', 'a.b', value) == f'a.b={text}'


@pytest.mark.parametrize('value', [
    dict(type='SGD'), 'a,b', 'two words', '1', 'True', float('nan'), '[x]'
])
def test_cfg_option_refuses_what_does_not_round_trip(value):
    with pytest.raises(ValueError, match='cannot be passed'):
        compare.cfg_option('m', 'a.b', value)


@pytest.mark.parametrize('change, error, match', [
    (dict(work_root=None), KeyError, "missing key 'work_root'"),
    (dict(methods=None), KeyError, "missing key 'methods'"),
    (dict(seed=[0]), KeyError, r"unknown keys \['seed'\]"),
    (dict(seeds=[]), ValueError, 'seeds must be'),
    (dict(seeds=[0, -1]), ValueError, 'seeds must be'),
    (dict(seeds=[0, True]), ValueError, 'seeds must be'),
    (dict(seeds='0,1'), ValueError, 'seeds must be'),
    (dict(seeds=[1, 1]), ValueError, 'seeds repeat'),
    (dict(launcher='slurm'), ValueError, 'launcher'),
    (dict(nproc=2), ValueError, 'nproc needs launcher'),
    (dict(launcher='pytorch', nproc=0), ValueError, 'nproc must be'),
    (dict(train_args=['--resume']), ValueError, 'may not contain'),
    (dict(train_args='--amp'), ValueError, 'list of strings'),
    (dict(methods=[]), ValueError, 'non-empty list'),
    (dict(methods=[dict(name='a')]), KeyError,
     r"methods\[0\]: missing key 'config'"),
    (dict(methods=[dict(name='a', config='missing.py')]), FileNotFoundError,
     r"methods\[0\] \(a\): config not found: 'missing.py'"),
    (dict(methods=[dict(name='a/b', config='CFG')]), ValueError,
     'name must be'),
    (dict(methods=[dict(name='a', config='CFG', lr=1)]), KeyError,
     r"unknown keys \['lr'\]"),
    (dict(methods=[dict(name='a', config='CFG',
                        cfg_options={'randomness.seed': 1})]), ValueError,
     'randomness.seed is set per run'),
    (dict(methods=[dict(name='a', config='CFG',
                        cfg_options={'model': dict(type='X')})]),
     ValueError, 'cannot be passed'),
    (dict(methods=[dict(name='a', config='CFG')] * 2), ValueError,
     r"method names repeat: \['a'\]"),
    (dict(methods=[dict(name='a', config='CFG', seeds=[2, 2])]), ValueError,
     r"methods\[0\] \(a\): seeds repeat"),
    (dict(methods=[dict(name='a', config='CFG', seeds=0)]), ValueError,
     r"methods\[0\] \(a\): seeds must be"),
    (dict(comparisons=dict(name='c')), ValueError,
     'comparisons must be a list'),
    (dict(comparisons=['dm']), ValueError,
     r'comparisons\[0\] must be a mapping'),
    (dict(comparisons=[dict(name='c', baseline='dm')]), KeyError,
     r"missing keys \['method'\]"),
    (dict(comparisons=[dict(name='c', baseline='dm', method='dm', p=1)]),
     KeyError, r"unknown keys \['p'\]"),
    (dict(comparisons=[dict(name='', baseline='dm', method='dm')]),
     ValueError, 'name must be a non-empty string'),
    (dict(comparisons=[dict(name='c', baseline=['dm'], method=[])]),
     ValueError, 'lists of names of the same length'),
    (dict(comparisons=[dict(name='c', baseline='dm', method=['dm', 'dm'])]),
     ValueError, 'lists of names of the same length'),
    (dict(comparisons=[dict(name='c', baseline='dm', method='mce')]),
     ValueError, r"not methods of the grid: \['mce'\]"),
    (dict(comparisons=[dict(name='c', baseline='dm', method='dm')]),
     ValueError, 'paired with itself'),
    (dict(methods=[dict(name='dm', config='CFG'),
                   dict(name='mce', config='CFG')],
          comparisons=[dict(name='c', baseline=['mce', 'mce'],
                            method=['dm', 'dm'])]),
     ValueError, 'a pair repeats'),
])
def test_bad_grid_files(tmp_path, configs, change, error, match):
    spec = dict(work_root=str(tmp_path / 'grid'), seeds=[0],
                methods=[dict(name='dm', config=configs['dm'])])
    spec.update(change)
    spec = {key: value for key, value in spec.items() if value is not None}
    for method in spec.get('methods') or []:
        if method.get('config') == 'CFG':
            method['config'] = configs['dm']
    with pytest.raises(error, match=match):
        compare.main([write_grid(tmp_path, **spec)])


def test_grid_file_not_found_or_not_a_mapping(tmp_path):
    with pytest.raises(FileNotFoundError, match='grid file not found'):
        compare.load_grid(str(tmp_path / 'missing.yaml'))
    path = tmp_path / 'list.yaml'
    path.write_text('- 1\n- 2\n')
    with pytest.raises(ValueError, match='a grid file is a mapping'):
        compare.load_grid(str(path))
    path.write_text('seeds: [0\n')
    with pytest.raises(ValueError, match='not valid YAML'):
        compare.load_grid(str(path))


def test_failed_run_is_reported_and_not_marked(tmp_path, configs, capsys):
    broken = str(tmp_path / 'broken.py')
    with open(configs['mce']) as f:
        text = f.read()
    with open(broken, 'w') as f:
        f.write(text.replace("type='ResNet_CIFAR'", "type='NoSuchBackbone'"))
    work_root = str(tmp_path / 'grid')
    grid = write_grid(tmp_path, work_root=work_root, seeds=[0],
                      methods=[dict(name='broken', config=broken)])
    assert compare.main([grid]) == 1
    printed = capsys.readouterr().out
    assert '[1/1] broken seed 0: FAILED with exit code 1' in printed
    run_dir = osp.join(work_root, 'broken', 'seed_0')
    assert compare.run_state(run_dir) == 'new'
    with open(osp.join(run_dir, 'compare_train.log')) as f:
        assert 'NoSuchBackbone' in f.read()
    row = open(osp.join(work_root, 'results.md')).read().splitlines()[2]
    assert row.startswith('| broken | 0/1 | - |')


def chart_results(top5):
    """Two methods x two seeds; top-5 values as given, the rest varying."""
    return {
        name: [dict(top1_final=50. + i + 2 * j, top1_best=None,
                    top5_final=top5[i][j], ece_final=5. + i - j)
               for j in range(2)]
        for i, name in enumerate(('mce', 'dm'))
    }


def test_chart_names_a_metric_flat_in_every_run_instead_of_drawing_it(
        tmp_path):
    grid = compare.Grid(str(tmp_path / 'grid'), [0, 1], [
        compare.Method('mce', 'a.py'), compare.Method('dm', 'b.py')])
    out = str(tmp_path / 'chart.png')
    drawn, flat = compare.seed_chart(
        grid, chart_results([[100., 100.], [100., 100.]]), out)
    assert drawn == ['Top-1 (final)', 'ECE (final, lower is better)']
    assert flat == ['Top-5 (final): 100.00 in every run']
    assert Image.open(out).format == 'PNG'
    # One differing run is information: the panel is drawn.
    drawn, flat = compare.seed_chart(
        grid, chart_results([[100., 100.], [100., 99.5]]), out)
    assert 'Top-5 (final)' in drawn and flat == []


def fake_finished_run(run_dir, **metrics):
    """A finished run: one validation record with ``metrics``."""
    vis_data = run_dir / '20260101_000000' / 'vis_data'
    vis_data.mkdir(parents=True)
    (vis_data / 'scalars.json').write_text('\n'.join(
        json.dumps(r) for r in (record(1), record(**metrics))))
    (run_dir / compare.MARKER).write_text(json.dumps(dict(wall_s=1.)))


def test_report_pairs_runs_of_the_same_seed(tmp_path, configs):
    work_root = tmp_path / 'grid'
    top1 = dict(mce=[50., 51., 52.], dm=[51., 54., None],
                mce2=[60., 60., 60.], dm2=[61., 60., 60.])
    for name, values in top1.items():
        for seed, value in enumerate(values):
            if value is not None:
                fake_finished_run(work_root / name / f'seed_{seed}',
                                  **{'accuracy/top1': value,
                                     'calibration/ece': 5. - seed})
    grid = write_grid(
        tmp_path, work_root=str(work_root), seeds=[0, 1, 2],
        methods=[dict(name=name, config=configs['dm']) for name in top1],
        comparisons=[
            dict(name='DM', baseline='mce', method='dm'),
            dict(name='pooled', baseline=['mce', 'mce2'],
                 method=['dm', 'dm2'])])
    assert compare.main([grid, '--report']) == 0
    lines = (work_root / 'results.md').read_text().splitlines()
    header = lines.index(next(line for line in lines
                              if line.startswith('| Comparison')))
    rows = [line.split(' | ') for line in lines[header + 2:]]
    # Seed 2 of dm never finished: two pairs. dm - mce: +1, +3, whose
    # t-test (1 degree of freedom, t = 2) has p = 1 - 2 atan(2) / pi.
    assert rows[0][:6] == ['| DM', 'dm - mce', '+1.00, +3.00',
                           '+2.00 ± 1.41', '0.295', '+0.00, +0.00']
    assert rows[0][6:] == ['+0.00 ± 0.00', '- |']
    assert rows[1][1] == 'dm - mce; dm2 - mce2'
    assert rows[1][2] == '+1.00, +3.00, +1.00, +0.00, +0.00'


@pytest.mark.parametrize('p_value, text', [(None, '-'), (0.0, '<0.001'),
                                           (0.00049, '<0.001'),
                                           (0.0005, '0.001'),
                                           (0.0123, '0.012'), (1.0, '1.000')])
def test_format_p(p_value, text):
    assert compare.format_p(p_value) == text


def test_paired_p_value():
    assert compare.paired_p_value([1., 3.]) == pytest.approx(
        1 - 2 * math.atan(2) / math.pi)
    # 2 degrees of freedom: p = 1 - t / sqrt(2 + t^2); here t = 2 sqrt(3).
    assert compare.paired_p_value([1., 2., 3.]) == pytest.approx(
        1 - 2 * math.sqrt(3) / math.sqrt(14))
    assert compare.paired_p_value([2., 2., 2.]) is None
    assert compare.paired_p_value([1.]) is None
    assert compare.paired_p_value([]) is None


def test_no_comparisons_no_table():
    grid = compare.Grid('w', [0], [compare.Method('a', 'a.py')])
    assert compare.comparisons_table(grid, {'a': []}) == ''


@pytest.mark.parametrize('path', sorted(
    osp.relpath(osp.join(folder, name), ROOT)
    for folder, _, names in os.walk(osp.join(ROOT, 'configs'))
    for name in names if name.endswith('.yaml')))
def test_shipped_grids_load(path, monkeypatch):
    """Every grid under configs/ passes the checks a run would make first
    (configs exist from the repository root, comparisons name methods)."""
    monkeypatch.chdir(ROOT)
    grid = compare.load_grid(path)
    compare.check_unique_names(grid)
    assert grid.runs()
