# SeAFusion (Tang et al., Information Fusion 2022) on MSRS, set up like the
# official test script: colour from the VIS chroma, per-image min-max of the
# fused RGB, truncation to uint8. Use it with the released weights converted by
# tools/model_converters/seafusion2mmfusion.py:
#   python tools/test.py configs/seafusion/seafusion_msrs.py \
#       checkpoints/seafusion_msrs_official.pth
# (Training from this config trains the fusion net on its content loss, round
# r = 0 of SeAFusion's schedule.)
_base_ = [
    '../_base_/models/seafusion.py', '../_base_/datasets/msrs.py',
    '../_base_/schedules/seafusion_10e.py', '../_base_/default_runtime.py'
]

# compile_inference: testing/inference run the net through torch.compile,
# about 2x faster on CPU with the same output (training stays eager)
model = dict(
    fusion_net=dict(compile_inference=True),
    colour='vis',
    output_norm='minmax')
custom_hooks = [dict(type='FusedImageSaveHook', rounding='floor')]
