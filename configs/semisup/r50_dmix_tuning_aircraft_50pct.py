# DMixTuning (Self-Tuning + Decoupled Mixup), ImageNet-pretrained ResNet-50,
# FGVC-Aircraft with 50% of each class labeled. OpenMixup publishes the model
# (openmixup/models/semisup/dmix_tuning.py), not a config: this is the
# Self-Tuning config r50_self_tuning_aircraft_50pct.py (same split file) with
# DMixTuning's defaults, the mixup settings of OpenMixup's DMixMatch config:
# Mixup alpha 1, lam biased to the labeled side, a separate mix head trained
# with DecoupledMixupLoss (eta 1, lambda-weighted), labeled-labeled weight 1,
# labeled-unlabeled weight ramped 0 -> 1 as OpenMixup's
# CustomCosineAnnealingHook computes it.
_base_ = ['./r50_self_tuning_aircraft_50pct.py']

model = dict(type='DMixTuning')
