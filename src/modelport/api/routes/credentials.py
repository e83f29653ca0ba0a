"""`/projects`, `/access-keys`, `/users`: credentials for the clouds' auth schemes."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from modelport.api.deps import ContextDep, PrincipalDep
from modelport.api.errors import responses
from modelport.api.schemas import Page, Strict
from modelport.domain.auth import Role
from modelport.services import credentials

router = APIRouter(tags=["credentials"])


class ProjectCreate(Strict):
    name: str


class ProjectPublic(BaseModel):
    id: str
    name: str


class ProjectCreated(BaseModel):
    project: ProjectPublic
    api_key: str


class AccessKeyCreate(Strict):
    project_id: str | None = None
    admin: bool = True


class AccessKeyCreated(BaseModel):
    access_key_id: str
    access_key_secret: str
    project_id: str


class AccessKeyPublic(BaseModel):
    access_key_id: str


class UserCreate(Strict):
    name: str
    password: str
    project_id: str | None = None
    admin: bool = False


class UserPublic(BaseModel):
    id: str
    name: str
    project_id: str
    role: str


@router.post(
    "/projects",
    status_code=201,
    operation_id="projects-create",
    responses=responses("invalid", "forbidden", "conflict"),
)
async def create_project(body: ProjectCreate, ctx: ContextDep, who: PrincipalDep) -> ProjectCreated:
    made = await credentials.create_project(ctx.store, who, body.name)
    project = ProjectPublic(id=made.project.id, name=made.project.name)
    return ProjectCreated(project=project, api_key=made.admin_key)


@router.get("/projects", operation_id="projects-list", responses=responses())
async def list_projects(ctx: ContextDep, who: PrincipalDep) -> Page[ProjectPublic]:
    items = await credentials.list_projects(ctx.store, who)
    return Page(data=[ProjectPublic(id=p.id, name=p.name) for p in items], total=len(items))


@router.post(
    "/access-keys",
    status_code=201,
    operation_id="access-keys-create",
    responses=responses("invalid", "forbidden", "not_found"),
)
async def create_access_key(
    body: AccessKeyCreate, ctx: ContextDep, who: PrincipalDep
) -> AccessKeyCreated:
    role = Role.ADMIN if body.admin else Role.MEMBER
    key = await credentials.create_access_key(ctx.store, ctx.cipher, who, body.project_id, role)
    return AccessKeyCreated(
        access_key_id=key.id, access_key_secret=key.secret, project_id=key.project_id
    )


@router.get("/access-keys", operation_id="access-keys-list", responses=responses())
async def list_access_keys(ctx: ContextDep, who: PrincipalDep) -> Page[AccessKeyPublic]:
    ids = await credentials.list_access_keys(ctx.store, who)
    return Page(data=[AccessKeyPublic(access_key_id=i) for i in ids], total=len(ids))


@router.delete(
    "/access-keys/{key_id}",
    status_code=204,
    operation_id="access-keys-delete",
    responses=responses("forbidden", "not_found"),
)
async def delete_access_key(key_id: str, ctx: ContextDep, who: PrincipalDep) -> Response:
    await credentials.delete_access_key(ctx.store, who, key_id)
    return Response(status_code=204)


@router.post(
    "/users",
    status_code=201,
    operation_id="users-create",
    responses=responses("invalid", "forbidden", "not_found", "conflict"),
)
async def create_user(body: UserCreate, ctx: ContextDep, who: PrincipalDep) -> UserPublic:
    role = Role.ADMIN if body.admin else Role.MEMBER
    user = await credentials.create_user(
        ctx.store, who, body.name, body.password, body.project_id, role
    )
    return UserPublic(id=user.id, name=user.name, project_id=user.project_id, role=user.role)
