model = dict(
    type='FusionModel',
    data_preprocessor=dict(type='FusionDataPreprocessor'),
    fusion_net=dict(type='SeAFusionNet'),
    fusion_loss=dict(
        type='MaxIntensityTextureLoss', int_weight=1.0, texture_weight=10.0),
    colour='vis',
    output_norm='clip')
