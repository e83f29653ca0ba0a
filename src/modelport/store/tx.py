"""`Tx`: one transaction, with a repository per object. Yielded by `Store.read()/write()`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from modelport.store.repos.auth import ApiKeysRepo, ProjectsRepo
from modelport.store.repos.credentials import AccessKeysRepo, SessionsRepo, UsersRepo
from modelport.store.repos.events import EventsRepo
from modelport.store.repos.load import LoadRepo
from modelport.store.repos.models import ModelsRepo, RuntimesRepo
from modelport.store.repos.replicas import ReplicasRepo
from modelport.store.repos.services import ServicesRepo
from modelport.store.repos.traffic import TrafficRepo


class Tx:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.projects = ProjectsRepo(session)
        self.api_keys = ApiKeysRepo(session)
        self.users = UsersRepo(session)
        self.access_keys = AccessKeysRepo(session)
        self.sessions = SessionsRepo(session)
        self.models = ModelsRepo(session)
        self.runtimes = RuntimesRepo(session)
        self.services = ServicesRepo(session)
        self.replicas = ReplicasRepo(session)
        self.events = EventsRepo(session)
        self.traffic = TrafficRepo(session)
        self.load = LoadRepo(session)
