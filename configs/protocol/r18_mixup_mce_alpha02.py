# Control for DM: MCE with the Mixup alpha of DM's published config (0.2,
# _paper_dm.py), so that r18_mixup_dm.py - this run is the loss alone (the
# CPU protocol found most of DM's gain over r18_mixup_mce.py, alpha 1, in
# the alpha: docs/results.md).
_base_ = ['./r18_mixup_mce.py']
model = dict(mixer=dict(alpha=0.2))
