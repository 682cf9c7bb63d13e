# TarDAL (Liu et al., CVPR 2022) with the authors' released weights
# ``tardal.pt`` ("optimized for human vision"), run as the authors run it:
# BatchNorm with each image's own statistics (upstream fuse.py without
# --eval, README.md:124 at 8ef276f; tutorial.ipynb: EVAL = '+' in ID), batch
# size 1, float32. Everything else as the official test path: VIS grey and
# chroma by OpenCV's uint8 conversions, the tanh output clipped to [0, 1],
# Y truncated to uint8, OpenCV's YCrCb2BGR with the VIS chroma
# (docs/tardal.md). Convert the weights first:
#   python tools/model_converters/tardal2mmfusion.py \
#       tardal.pt checkpoints/tardal_official.pth
#   python tools/test.py configs/tardal/tardal_official_msrs.py \
#       checkpoints/tardal_official.pth
#   python tools/fuse.py configs/tardal/tardal_official_msrs.py \
#       checkpoints/tardal_official.pth --ir IR --vi VI --out OUT \
#       --rounding floor
# The benchmark path (VIF-Benchmark: the stored running statistics, which
# are implausible for tardal.pt) is tardal_official_benchmark_msrs.py.
# This is an inference config: training TarDAL is configured in
# configs/tardal/ (docs/tardal.md, Training).
_base_ = ['../_base_/datasets/msrs.py', '../_base_/default_runtime.py']

model = dict(
    type='FusionModel',
    # the VIS grey as cv2.cvtColor(BGR2GRAY) of the 8-bit image
    data_preprocessor=dict(type='FusionDataPreprocessor', ycbcr='opencv'),
    fusion_net=dict(
        type='TarDALGenerator',
        dim=32,
        depth=3,
        # per-image BatchNorm statistics (BN in training mode at batch 1)
        bn_mode='image',
        # the tanh output used as a [0, 1] intensity (negatives clipped)
        output='tanh'),
    fusion_loss=dict(type='TarDALContentLoss'),
    colour='vis_opencv',
    output_norm='clip')
# per-image statistics: one pair per batch (padding would enter them)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# the official script truncates: (y * 255).astype(uint8)
custom_hooks = [dict(type='FusedImageSaveHook', rounding='floor')]
