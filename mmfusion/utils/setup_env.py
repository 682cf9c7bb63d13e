# Copyright (c) mmfusion contributors. All rights reserved.
import datetime
import warnings


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmfusion module that registers something.

    Not needed when building from configs (the registries' ``locations`` import
    lazily); useful in scripts that look registries up directly. Each
    registry of :mod:`mmfusion.registry` imports its own ``locations``, as
    mmengine does on the first build, so this module depends on none of the
    packages it registers.

    Args:
        init_default_scope: also make ``'mmfusion'`` the current default scope.
    """
    from mmengine import DefaultScope
    from mmengine.registry import Registry

    from mmfusion import registry
    for node in vars(registry).values():
        if isinstance(node, Registry) and node.scope == 'mmfusion':
            node.import_from_location()

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('mmfusion')
        if never_created:
            DefaultScope.get_instance('mmfusion', scope_name='mmfusion')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'mmfusion':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "mmfusion", '
                          '`register_all_modules` will force the current '
                          'default scope to be "mmfusion". If this is not '
                          'expected, please set `init_default_scope=False`.')
            new_instance_name = f'mmfusion-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='mmfusion')
