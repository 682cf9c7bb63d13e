# TarDAL with the released ``tardal+.pt`` ("optimized for object
# detection"), run as the authors run it (upstream README.md:125 at 8ef276f:
# fuse.py --eval): BatchNorm with the stored running statistics. The same
# path as VIF-Benchmark's (which also reproduces these outputs, within one
# grey level). About three quarters of the generator's outputs are negative
# and clipped to 0: these weights give dark images (docs/tardal.md).
#   python tools/model_converters/tardal2mmfusion.py \
#       tardal+.pt checkpoints/tardal_plus_official.pth
_base_ = ['./tardal_official_msrs.py']

model = dict(fusion_net=dict(bn_mode='running'))
