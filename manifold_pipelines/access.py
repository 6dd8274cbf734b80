"""Who may call each public method of the Python API, declared on the method itself.

Every public method of SeparatedDatabaseManager carries one `@requires(...)`: the role it
needs and where (the project it names, any project, the whole instance), or a scope whose
method shows only what the caller may see. The check runs before the method touches
anything, so a refused call reveals nothing (not even whether a source exists) and changes
nothing, and every refusal is audited. `ACCESS` gathers the declarations: the README's table
and the permission tests are compared with it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from manifold_pipelines.core.models import Role
from manifold_pipelines.core.permissions import (
    PermissionDeniedError,
    authorize,
    authorize_instance,
)
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.core.users import UserDirectory
from manifold_pipelines.paths import validate_id

if TYPE_CHECKING:
    from manifold_pipelines.catalog import Catalog

Scope = Literal["project", "any_project", "instance", "filtered", "own"]
"""project: the role on the project the call names (`project_id`, or the project part of a
"project/source" argument); when that argument is None the method lists only projects where
the caller has the role. any_project: the role on at least one project. instance: an
instance admin. filtered: anyone, and the method shows only what the role allows. own: the
caller's own data (user settings), or nothing that needs a role."""

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Access:
    role: Role | None
    scope: Scope
    action: str
    argument: str | None = None
    shows: str | None = None

    def describe(self) -> str:
        """The README's wording of the rule, so the table can be checked against the code."""
        if self.scope == "project" and self.shows:
            return f"{self.role} of the project; without a project, {self.shows}"
        if self.scope == "project" and self.argument != "project_id":
            return f"{self.role} of the {self.argument}'s project"
        if self.scope == "project":
            return f"{self.role} of the project"
        if self.scope == "any_project":
            return f"{self.role} of any project"
        if self.scope == "instance":
            return "instance admin"
        if self.scope == "filtered":
            return f"anyone; shows {self.shows}"
        return "anyone"


ACCESS: dict[str, Access] = {}


def requires(
    role: Role | None,
    action: str,
    *,
    scope: Scope = "project",
    argument: str = "project_id",
    shows: str | None = None,
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Declare and enforce the access rule of one public method. `shows` says what a
    filtered method returns (or a project method called without a project)."""
    access = Access(role, scope, action, argument if scope == "project" else None, shows)

    def decorate(method: Callable[P, T]) -> Callable[P, T]:
        signature = inspect.signature(method)
        ACCESS[method.__name__] = access

        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            catalog: Catalog = args[0]  # type: ignore[assignment]
            named: Any = None
            if access.argument is not None:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                named = bound.arguments[access.argument]
            catalog._check_access(access, named)
            return method(*args, **kwargs)

        wrapper.__manifold_access__ = access  # type: ignore[attr-defined]
        return wrapper

    return decorate


def enforce(
    core: CoreStore,
    user: str,
    access: Access,
    named: Any,
    *,
    roles: UserDirectory | None = None,
) -> None:
    """Apply one rule for `user`; `named` is the argument the rule reads the project from.
    The roles are `core`'s, or those of `roles` (a backup's core.db, whose roles a restore
    would make the truth). A refusal is audited in `core` (readable by the project's
    admins), then raised."""
    users = core.users if roles is None else roles
    project_id: str | None = None
    if access.scope == "project":
        if named is None:
            return
        project_id = validate_id(
            named.partition("/")[0] if isinstance(named, str) else named, "Project"
        )
    try:
        if access.scope == "instance":
            authorize_instance(users, user, access.action)
        elif access.scope in ("project", "any_project"):
            assert access.role is not None
            authorize(users, user, project_id, access.role, access.action)
    except PermissionDeniedError:
        with core.writing():
            core.audit(
                "denied",
                "project" if project_id else "instance",
                project_id or "*",
                details={"action": access.action, "needs": access.describe()},
            )
        raise
