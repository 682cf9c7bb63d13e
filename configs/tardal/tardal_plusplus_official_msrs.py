# TarDAL with the released ``tardal++.pt`` ("optimal solution for joint
# human vision and detection accuracy"), run as the authors run it
# (upstream README.md:126 at 8ef276f: fuse.py --eval): BatchNorm with the
# stored running statistics; the same path as VIF-Benchmark's default
# (TarDAL.py). About three quarters of the outputs are clipped to 0
# (docs/tardal.md).
#   python tools/model_converters/tardal2mmfusion.py \
#       tardal++.pt checkpoints/tardal_plusplus_official.pth
_base_ = ['./tardal_official_msrs.py']

model = dict(fusion_net=dict(bn_mode='running'))
