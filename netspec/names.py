"""Module names: what torch accepts as a child module's name, checked statically (no torch imported).

torch refuses a name that is empty or holds a dot, and one that is already an attribute of the
container the child is added to (`add_module` raises "attribute 'x' already exists"; a name such as
`forward` or `training` would hide what torch needs). netspec's containers are nn.Sequential,
nn.ModuleDict, its own Network, Residual, Concat, Add, Mul and DenseBlock, and Generated (and
GeneratedNetwork) for the parts with generated forward code; TORCH_ATTRIBUTES lists their attributes (tests/test_module_names.py checks it against torch).
Any other text is a valid module name: `block1-0`, `0`, `conv 1`.
"""

from __future__ import annotations

# Every attribute (not a dunder) of the containers above, torch 2.13 and 2.14; dunders are all refused.
TORCH_ATTRIBUTES = frozenset("""
    T_destination _apply _backward_hooks _backward_pre_hooks _boxed_call _buffers _call_impl _code
    _compiled_call_impl _create_node_hooks _deepcopy_hooks _deepcopy_init _erase_node_hooks _forward_hooks
    _forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
    _get_backward_hooks _get_backward_pre_hooks _get_item_by_idx _get_name _graph _is_full_backward_hook
    _lineno_map _load_from_state_dict _load_state_dict_post_hooks _load_state_dict_pre_hooks
    _maybe_warn_non_full_backward_hook _modules _named_members _non_persistent_buffers_set _parameters
    _prologue_start _recompile_submodules _register_create_node_hook _register_deepcopy_hook
    _register_erase_node_hook _register_load_state_dict_pre_hook _register_replace_node_hook
    _register_state_dict_hook _replace_hooks _replicate_for_data_parallel _save_to_state_dict _set_replace_hook
    _generated _slow_forward _state_dict_hooks _state_dict_pre_hooks _tracer_cls _tracer_extras
    _unregister_create_node_hook _unregister_deepcopy_hook _unregister_erase_node_hook
    _unregister_replace_node_hook _version _wrapped_call _wrapped_call_impl add_module add_submodule after_name
    append apply bfloat16 body_names branch_names buffers call_super_init children clear code compile concat_dim cpu cuda
    delete_all_unused_submodules delete_submodule double dump_patches eval extend extra_repr float forward
    get_buffer get_extra_state get_parameter get_submodule graph half input_shape insert ipu items keys
    load_state_dict meta modules mtia named_buffers named_children named_modules named_parameters output_names
    outputs parameters pop print_readable recompile register_backward_hook register_buffer register_forward_hook
    register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule
    shape_env share_memory shortcut_name spec_name state_dict taps to to_empty to_folder train training type
    update values xpu zero_grad
""".split())


def module_name_problem(name: str) -> str | None:
    """Why `name` cannot name a module, or None when torch accepts it."""
    if name == "":
        return "a module name cannot be empty"
    if "." in name:
        return (f"'{name}' cannot be a module name: torch module names cannot contain '.', which separates the "
                f"parts of a module path; use '_' or '-' instead")
    if name in TORCH_ATTRIBUTES or (name.startswith("__") and name.endswith("__")):
        return (f"'{name}' cannot be a module name: it would shadow the attribute '{name}' that torch's "
                f"modules already have; rename it, e.g. '{name.strip('_')}_'")
    return None
