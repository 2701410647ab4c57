# CUB-200-2011 (200 classes; mmpretrain's CUB at data/CUB_200_2011).
_base_ = ['./fixmatch_fine_grained.py']
