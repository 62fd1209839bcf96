"""What ``jit-env list`` prints: environments grouped by suite, the extras, the algorithms.

Environments are grouped by `jit_env.envs._registry.suite_of` (the bundled
``classic_control`` and ``bsuite``, ``gymnax`` when that extra is installed,
one group per installed package registering ids through the ``jit_env.envs``
entry-point group). The extras are those of ``pyproject.toml``
(`jit_env.compat._optional.EXTRAS`), found without importing them.
"""

from __future__ import annotations

from jit_env.compat._optional import EXTRAS, installed_extras, require


def listing(suite: str | None = None) -> str:
    """The text of ``jit-env list`` (one id per line, indented under its suite).

    Lists the ``gymnax/<id>`` ids `jit_env.make` registers on first use when the
    ``gymnax`` extra is installed (importing gymnax, registering nothing); if
    its import fails, the gymnax line says why instead. Every other lazily
    registered suite (``navix``, ``jumanji``, ...) gets one line saying whether
    its extra is installed, unless its ids are registered already or ``suite``
    names it: then its ids are registered (importing the library) and listed.

    Raises:
      KeyError: if ``suite`` is not a lazily registered suite (naming them).
      ImportError: if ``suite``'s extra is not installed (naming it).
    """
    import jit_env
    from jit_env.cli._registry import ALGORITHMS
    from jit_env.envs._registry import _SUITES, ENTRY_POINT_GROUP, _load_suite, suite_of

    if suite is not None:
        if suite not in _SUITES:
            raise KeyError(f"--suite: unknown suite {suite!r}; lazily registered suites: "
                           f"{', '.join(sorted(_SUITES))}")
        _load_suite(suite, f"{suite}/<id>")
    extras = installed_extras()
    groups: dict[str, list[str]] = {}
    for env_id in jit_env.registered_ids():
        groups.setdefault(suite_of(env_id), []).append(env_id)
    gymnax_note = "not installed: pip install 'jit-env[gymnax]'"
    if extras["gymnax"]:
        try:  # listed as make() would register them, without registering them now
            gymnax = require("gymnax", "jit-env list")
            gymnax_ids = {f"gymnax/{name}" for name in gymnax.registered_envs}
            groups["gymnax"] = sorted(gymnax_ids | set(groups.get("gymnax", ())))
            gymnax_note = ""
        except ImportError as e:
            gymnax_note = str(e)
    lines = ["environments (train one with --env ID):"]
    for name in sorted(groups):
        lines.append(f"  {name}:")
        lines.extend(f"    {env_id}" for env_id in groups[name])
    if gymnax_note:
        lines.append(f"  gymnax: {gymnax_note}")
    for name in sorted(set(_SUITES) - set(groups) - {"gymnax"}):
        if extras[name]:
            lines.append(f"  {name}: installed; ids '{name}/<id>' register on first use "
                         f"(list them: jit-env list --suite {name}, which imports {name})")
        else:
            lines.append(f"  {name}: not installed: pip install 'jit-env[{name}]'")
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
