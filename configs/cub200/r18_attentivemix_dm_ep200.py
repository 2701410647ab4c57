# CUB-200-2011, ResNet-18 (ImageNet-pretrained), 200 epochs, batch 16:
# AttentiveMix+ (alpha 2) + DM(CE) (eta 0.1). See docs/configs.md
# AttentiveMix+ as OpenMixup runs it in its CUB-200 config (no benchmark row)
# (configs/classification/cub200/mixups/basic/r18_attentivemix_CE_none.py):
# attention from a frozen ImageNet ResNet-50 on the inputs resized to
# 224, the channel mean of its last (7x7) feature map; the top floor(49 u)
# cells, at least 1, with u ~ Beta(2, 2) (their grid_size and beta arguments
# are not read by their code). Weights: torchvision's ImageNet ResNet-50
# (IMAGENET1K_V1) as a local file: torchvision.models.resnet50(
# weights='IMAGENET1K_V1') saves it in ~/.cache/torch/hub/checkpoints/;
# copy it to checkpoints/ or set model.mixer.attention_checkpoint.
_base_ = [
    '../_base_/models/resnet18_in1k_pretrained.py',
    '../_base_/datasets/cub200_bs16.py',
    '../_base_/schedules/finetune_sgd_ep200.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(
        type='AttentiveMix',
        alpha=2.0,
        grid_size=None,
        top_k=None,
        attention_net=dict(type='ResNet', depth=50),
        attention_checkpoint='checkpoints/resnet50-0676ba61.pth'),
    head=dict(num_classes=200, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
