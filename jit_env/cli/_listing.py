"""What ``jit-env list`` prints: environments grouped by suite, the extras, the algorithms.

Environments are grouped by `jit_env.envs._registry.suite_of` (the bundled
``classic_control`` and ``bsuite``, ``gymnax`` when that extra is installed,
one group per installed package registering ids through the ``jit_env.envs``
entry-point group). The extras are those of ``pyproject.toml``
(`jit_env.compat._optional.EXTRAS`), found without importing them.
"""

from __future__ import annotations

from jit_env.compat._optional import EXTRAS, installed_extras


def listing() -> str:
    """The text of ``jit-env list`` (one id per line, indented under its suite).

    Registers the ``gymnax/<id>`` ids first when the ``gymnax`` extra is
    installed (importing gymnax); if its import fails, the gymnax group says
    why instead.
    """
    import jit_env
    from jit_env.cli._registry import ALGORITHMS
    from jit_env.envs._registry import ENTRY_POINT_GROUP, suite_of

    extras = installed_extras()
    gymnax_note = "not installed: pip install 'jit-env[gymnax]'"
    if extras["gymnax"]:
        from jit_env.compat import register_gymnax_ids

        try:
            register_gymnax_ids()
            gymnax_note = ""
        except ImportError as e:
            gymnax_note = str(e)
    groups: dict[str, list[str]] = {}
    for env_id in jit_env.registered_ids():
        groups.setdefault(suite_of(env_id), []).append(env_id)
    lines = ["environments (train one with --env ID):"]
    for suite in sorted(groups):
        lines.append(f"  {suite}:")
        lines.extend(f"    {env_id}" for env_id in groups[suite])
    if gymnax_note:
        lines.append(f"  gymnax: {gymnax_note}")
    lines.append(f"  your own: --env package.module:ClassOrFactory [--env-kwargs JSON], or an "
                 f"installed package's {ENTRY_POINT_GROUP!r} entry points")
    lines.append("extras (pip install 'jit-env[NAME]'):")
    for name, ok in extras.items():
        state = "installed" if ok else "not installed"
        lines.append(f"  {name:12s} {state:14s} ({', '.join(EXTRAS[name])})")
    lines.append("algorithms:")
    for name, algorithm in ALGORITHMS.items():
        lines.append(f"  {name:16s} {algorithm.description}")
    return "\n".join(lines)
