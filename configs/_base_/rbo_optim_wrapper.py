# RBONN's optimizer wrapper (previous-gradient hand-off for the recurrent step) and
# parameter groups (released recipe: u at 0.1x lr without weight decay; scale s and
# LearnableBias without weight decay). Detector configs override only `optimizer`.
custom_imports = dict(imports=['rbonn_det'], allow_failed_imports=False)

optim_wrapper = dict(
    type='RBOOptimWrapper',
    constructor='RBOOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(
        rbo_u_lr_mult=0.1,
        rbo_u_decay_mult=0.0,
        rbo_scale_decay_mult=0.0,
        learnable_bias_decay_mult=0.0))

# For every detector, baselines included (docs/reliability.md): a NaN/Inf loss skips
# the update (the optimizer wrapper does that) and 5 in a row stop the run;
# --resume continues the random streams where the checkpoint left them.
reliability_hooks = [dict(type='NonFiniteLossHook', max_consecutive=5),
                     dict(type='RNGStateHook')]
# plus mean alpha, mean u, DReLU backtracked fraction and the bilinear term in the log
custom_hooks = [dict(type='RBOStatsHook')] + reliability_hooks
