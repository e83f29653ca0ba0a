"""ZStack `QueryModelService` conformance (spec B, docs/dialects/zstack.md).

There is no ZStack Python SDK, so a live server (`live`, see conftest.py) is called with raw
HTTP exactly as the spec and the Java and Go SDKs send it: login with the SHA-512 hex of the
password, then `Authorization: OAuth <session>` (or an AccessKey signature). Pure parts first
(the `q` grammar, the translation to a native query, times, the signature vector, the
`modelServiceRefs`), then the HTTP handler in process (an unexpected failure is never a 500;
the refs cost one query, and none when not shown), then the live server: every item of the
B.7 checklist, every operator and combination rule, paging, sorting, `fields`, counts, every
inventory field, bad values, sessions, and each choice docs/dialects/zstack.md makes.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.routing import Mount

from modelport import Client, __version__
from modelport.api.deps import ApiContext
from modelport.api.dialects import zstack as handler
from modelport.dialects.zstack import auth, errors, grammar, manifest, refs, times, translate
from modelport.dialects.zstack.fields import FIELDS, HostFacts, architecture
from modelport.dialects.zstack.grammar import Condition, QueryOp, QueryParams
from modelport.domain.auth import Principal
from modelport.domain.ids import ModelId, ProjectId, RuntimeId
from modelport.domain.models import Framework, Model
from modelport.domain.runtimes import Runtime
from modelport.query.ast import MAX_LIMIT, And, Cond, ListQuery, Not, Op, Or, Sort
from modelport.runtimes.catalog import BUILTIN
from modelport.services import credentials
from modelport.services.secrets import Cipher
from modelport.store import Store

HOST = HostFacts("3.11.7", "X86_64", "0.1.0")
GSON = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
NOT_A_PAIR = "Invalid query parameter. The '{}' in parameter[q] is not a key-value pair split by"
UNKNOWN = "inventory class[ModelServiceInventory] not having field[{}]"
SHOWN = "field[{}] of ModelServiceInventory is shown only; it cannot be queried or sorted on"
OPERATORS = "[!=, >=, <=, !?=, !~=, ~=, ?=, =, >, <, is null, not null]"
HTTP_SERVER = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]
BUILTIN_NAMES = sorted(rt.name for rt in BUILTIN)
ERROR_TEXT = {
    "ID.1000": "Unable to authenticate a user",
    "ID.1001": "The session is invalid, either wrong session id or the session has been expired",
    "SYS.1000": "An internal error happened in system",
    "SYS.1007": "One or more API argument is invalid",
}
# the B.6 inventory, in order (docs/dialects/zstack.md, "Inventory")
INVENTORY_FIELDS = [
    "uuid", "name", "description", "readme", "yaml", "requestCpu", "requestMemory",
    "modelCenterUuid", "type", "framework", "source", "size", "system", "hasNewVersion",
    "gpuComputeCapability", "installPath", "pythonVersion", "condaVersion", "version",
    "startCommand", "containerCommand", "containerArgs", "supportDistributed",
    "cpuArchitectures", "vendorToSpecUuidsMap", "modelServiceRefs", "modelServiceImages",
    "createDate", "lastOpDate",
]  # fmt: skip


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


# == pure: the q grammar ==========================================================================


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name!=a", Condition("name", QueryOp.NOT_EQ, "a")),
        ("a=b=c", Condition("a", QueryOp.EQ, "b=c")),
        ("size>=10", Condition("size", QueryOp.GT_AND_EQ, "10")),
        ("size<=10", Condition("size", QueryOp.LT_AND_EQ, "10")),
        ("uuid!?=u1,u2", Condition("uuid", QueryOp.NOT_IN, "u1,u2")),
        ("name!~=%x%", Condition("name", QueryOp.NOT_LIKE, "%x%")),
        ("name~=%x%", Condition("name", QueryOp.LIKE, "%x%")),
        ("uuid?=u1,u2", Condition("uuid", QueryOp.IN, "u1,u2")),
        ("name=x", Condition("name", QueryOp.EQ, "x")),
        ("size>10", Condition("size", QueryOp.GT, "10")),
        ("size<10", Condition("size", QueryOp.LT, "10")),
        ("description is null", Condition("description", QueryOp.IS_NULL)),
        ("description not null", Condition("description", QueryOp.NOT_NULL)),
        # the name is trimmed, the value is not
        ("  name = padded ", Condition("name", QueryOp.EQ, " padded ")),
        ("name=", Condition("name", QueryOp.EQ, "")),
        # the first token found wins, wherever it is: `=` inside a LIKE value loses to `~=`...
        ("name~=a=b", Condition("name", QueryOp.LIKE, "a=b")),
        # ...but `!=` anywhere wins over everything
        ("name~=a!=b", Condition("name~=a", QueryOp.NOT_EQ, "b")),
        # a value that reads `is null` is a value when `=` comes first
        ("name=is null", Condition("name", QueryOp.EQ, "is null")),
        # splitByWholeSeparator skips empty pieces between adjacent separators
        ("a==b", Condition("a", QueryOp.EQ, "b")),
        ("=a=b", Condition("a", QueryOp.EQ, "b")),
    ],
)
def test_conditions(text: str, expected: Condition) -> None:
    assert grammar.parse_condition(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name",
            "Invalid query parameter. The 'name' in the parameter[q] doesn't contain any query "
            f"operator. Valid query operators are {OPERATORS}",
        ),
        (
            "",
            "Invalid query parameter. The '' in the parameter[q] doesn't contain any query "
            f"operator. Valid query operators are {OPERATORS}",
        ),
        ("=abc", f"{NOT_A_PAIR.format('=abc')} ="),
        ("~=abc", f"{NOT_A_PAIR.format('~=abc')} like"),
        ("?=", f"{NOT_A_PAIR.format('?=')} in"),
    ],
)
def test_condition_errors(text: str, message: str) -> None:
    with pytest.raises(errors.RestError) as caught:
        grammar.parse_condition(text)
    assert caught.value.problem is errors.Problem.BAD_REQUEST
    assert caught.value.message == message


def test_split_by_whole_separator_is_commons_lang() -> None:
    split = grammar.split_by_whole_separator
    assert split("a=b=c", "=", 2) == ["a", "b=c"]
    assert split("a=", "=", 2) == ["a", ""]
    assert split("=a", "=", 2) == ["a"]
    assert split("x is null", "is null", 2) == ["x ", ""]
    assert split("is null", "is null", 2) == [""]
    assert split("a!?=b!?=c", "!?=", 2) == ["a", "b!?=c"]


def test_parameter_defaults() -> None:
    assert grammar.parse([]) == QueryParams(limit=1000, start=0)


def test_parameters() -> None:
    given = [
        ("q", "name=a"),
        ("q", "name=a"),  # identical conditions collapse
        ("", "system=true"),  # an empty name is a q too
        (" limit ", " 10 "),
        ("limit", "20"),  # only the first value counts
        ("start", "+3"),
        ("count", "TRUE"),
        ("replyWithCount", "yes"),  # anything but true is false
        ("sort", " name"),  # `+name` sent unencoded
        ("fields", " uuid , name,,"),
        ("fields", "uuid,readme"),  # merged (tolerance)
        ("groupBy", "name"),
        ("filterName", "x"),
        ("other", "ignored"),
    ]
    assert grammar.parse(given) == QueryParams(
        conditions=(
            Condition("name", QueryOp.EQ, "a"),
            Condition("system", QueryOp.EQ, "true"),
        ),
        limit=10,
        start=3,
        count=True,
        reply_with_count=False,
        sort_by="name",
        descending=False,
        fields=("uuid", "name", "readme"),
    )


@pytest.mark.parametrize(
    ("given", "by", "descending"),
    [
        ([("sort", "-name")], "name", True),
        ([("sort", "+name")], "name", False),
        ([("sort", "name")], "name", False),
        ([("sort", "name"), ("sortDirection", "desc")], "name", False),  # ignored, as ZStack
        ([("sortBy", "name"), ("sortDirection", "desc")], "name", True),  # the fallback
        ([("sortBy", "name"), ("sortDirection", "DESC")], "name", True),
        ([("sortBy", "name")], "name", False),
        ([("sortBy", "-name"), ("sortDirection", "asc")], "name", True),
    ],
)
def test_sort_parameters(given: list[tuple[str, str]], by: str, descending: bool) -> None:
    params = grammar.parse(given)
    assert (params.sort_by, params.descending) == (by, descending)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([("limit", "abc")], "Invalid query parameter. 'limit' must be an integer"),
        ([("limit", "1.5")], "Invalid query parameter. 'limit' must be an integer"),
        ([("limit", "")], "Invalid query parameter. 'limit' must be an integer"),
        ([("limit", "2147483648")], "Invalid query parameter. 'limit' must be an integer"),
        ([("limit", "1_0")], "Invalid query parameter. 'limit' must be an integer"),
        ([("start", "x")], "Invalid query parameter. 'start' must be an integer"),
        ([("fields", "")], "Invalid query parameter. 'fields' contains zero field"),
        ([("fields", " , ,")], "Invalid query parameter. 'fields' contains zero field"),
    ],
)
def test_parameter_errors(given: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(errors.RestError) as caught:
        grammar.parse(given)
    assert caught.value.message == message


# == pure: translation to a native query =========================================================


def _one(text: str) -> Any:
    return translate.condition(grammar.parse_condition(text), HOST)


T0 = datetime(2025, 10, 28, 14, 9, 26, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
NOTHING = Cond("id", Op.IS_NULL)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uuid=rt-a", Cond("id", Op.EQ, "rt-a")),
        ("name!=a", Cond("name", Op.NE, "a")),
        ("requestMemory>=10", Cond("request_memory", Op.GE, 10)),
        ("requestMemory<10", Cond("request_memory", Op.LT, 10)),
        ("uuid?=a,b,", Cond("id", Op.IN, ["a", "b"])),  # Java split drops trailing empties
        ("uuid!?=a,,b", Cond("id", Op.NOT_IN, ["a", "", "b"])),
        ("name~=%x%", Cond("name", Op.LIKE, "%x%")),
        ("name!~=%x%", Not(Cond("name", Op.LIKE, "%x%"))),
        ("modelCenterUuid is null", Cond("project_id", Op.IS_NULL)),
        ("system=TRUE", Cond("system", Op.EQ, True)),
        ("supportDistributed=false", Cond("supports_distributed", Op.EQ, False)),
        # description and readme show the runtime's readme; an empty one is absent
        ("description is null", Cond("readme", Op.EQ, "")),
        ("readme not null", Cond("readme", Op.NE, "")),
        (
            "description!=x",
            And((Cond("readme", Op.NE, ""), Cond("readme", Op.NE, "x"))),
        ),
        # requestCpu shows ceil(request_cpu): n stands for (n-1, n]
        (
            "requestCpu=2",
            And((Cond("request_cpu", Op.GT, 1), Cond("request_cpu", Op.LE, 2))),
        ),
        ("requestCpu>2", Not(Cond("request_cpu", Op.LE, 2))),
        ("requestCpu>=2", Cond("request_cpu", Op.GT, 1)),
        ("requestCpu<2", Not(Cond("request_cpu", Op.GT, 1))),
        ("requestCpu<=2", Cond("request_cpu", Op.LE, 2)),
        (
            "requestCpu?=1,2",
            Or(
                (
                    And((Cond("request_cpu", Op.GT, 0), Cond("request_cpu", Op.LE, 1))),
                    And((Cond("request_cpu", Op.GT, 1), Cond("request_cpu", Op.LE, 2))),
                )
            ),
        ),
        ("requestCpu?=,", NOTHING),
        ("requestCpu!?=,", Not(NOTHING)),
        # a time names the whole second it shows
        (
            "createDate=Oct 28, 2025 2:09:26 PM",
            And((Cond("created_at", Op.GE, T0), Cond("created_at", Op.LT, T1))),
        ),
        ("createDate>2025-10-28 14:09:26", Not(Cond("created_at", Op.LT, T1))),
        ("lastOpDate<=2025-10-28T14:09:26.900+00:00", Cond("created_at", Op.LT, T1)),
        ("createDate<2025-10-28T16:09:26+02:00", Not(Cond("created_at", Op.GE, T0))),
        # derived fields and constants: decided here, per value of the column they come from
        ("source=builtin", Cond("system", Op.IN, [True])),
        ("source~=cus%", Cond("system", Op.IN, [False])),
        ("source?=builtin,custom", None),
        ("version is null", Cond("system", Op.IN, [False])),
        ("version=0.1.0", Cond("system", Op.IN, [True])),
        ("version!=0.1.0", NOTHING),  # null matches no comparison
        ("type=Endpoint", None),
        ("type!=Endpoint", NOTHING),
        ("hasNewVersion=false", None),
        ("hasNewVersion=true", NOTHING),
        ("pythonVersion>=3", None),
        ("condaVersion is null", None),
        ("condaVersion not null", NOTHING),
        ("condaVersion!~=x", NOTHING),
        ("size is null", None),
    ],
)
def test_translation(text: str, expected: Any) -> None:
    assert _one(text) == expected


@pytest.mark.parametrize(
    ("text", "code", "details"),
    [
        ("nosuch=1", "SYS.1000", UNKNOWN.format("nosuch")),
        ("a=b=c", "SYS.1000", UNKNOWN.format("a")),
        ("is null", "SYS.1000", UNKNOWN.format("")),
        ("foo.bar=1", "SYS.1000", UNKNOWN.format("foo")),
        ("yaml~=%x%", "SYS.1007", SHOWN.format("yaml")),
        ("modelServiceRefs.modelUuid=m", "SYS.1007", SHOWN.format("modelServiceRefs.modelUuid")),
        ("requestMemory=abc", "SYS.1007", "requestMemory is of type Integer; 'abc' is not one"),
        ("requestCpu>1.5", "SYS.1007", "requestCpu is of type Integer; '1.5' is not one"),
        ("system=maybe", "SYS.1007", "system is of type Boolean; 'maybe' is not true or false"),
        (
            "hasNewVersion=1",
            "SYS.1007",
            "hasNewVersion is of type Boolean; '1' is not true or false",
        ),
        ("size>big", "SYS.1007", "size is of type Integer; 'big' is not one"),  # null constant
        (
            "requestMemory~=1%",
            "SYS.1007",
            "'like' applies to String fields only; requestMemory is of type Integer",
        ),
        (
            "system!~=t%",
            "SYS.1007",
            "'not like' applies to String fields only; system is of type Boolean",
        ),
        (
            "createDate~=Oct%",
            "SYS.1007",
            "'like' applies to String fields only; createDate is of type Timestamp",
        ),
    ],
)
def test_translation_errors(text: str, code: str, details: str) -> None:
    with pytest.raises(errors.ReplyError) as caught:
        _one(text)
    assert (caught.value.code, caught.value.details) == (code, details)


def test_a_bad_time_is_an_invalid_argument() -> None:
    with pytest.raises(errors.ReplyError) as caught:
        _one("createDate>yesterday")
    assert caught.value.code == "SYS.1007"
    assert caught.value.details.startswith("cannot read 'yesterday' as a time")


def test_list_query() -> None:
    params = grammar.parse(
        [("q", "name~=zs%"), ("q", "system=false"), ("sort", "-requestMemory"), ("start", "5")]
    )
    assert translate.to_list_query(params, HOST) == ListQuery(
        filter=And((Cond("name", Op.LIKE, "zs%"), Cond("system", Op.EQ, False))),
        sort=(Sort("request_memory", True),),
        offset=5,
        limit=1000,
        count=False,
    )


def test_list_query_paging_and_counting() -> None:
    to = translate.to_list_query
    assert to(QueryParams(), HOST).sort == (Sort("created_at"),)  # insertion order
    assert to(QueryParams(limit=5000), HOST).limit == 1000  # served as the maximum
    assert to(QueryParams(limit=0), HOST).limit == 0
    assert to(QueryParams(reply_with_count=True), HOST).count is True
    counting = to(QueryParams(count=True, start=3, limit=7), HOST)
    assert (counting.count, counting.offset, counting.limit) == (True, 0, 0)
    assert to(QueryParams(sort_by="type"), HOST).sort == ()  # a constant: every row ties
    assert to(QueryParams(sort_by="source", descending=True), HOST).sort == (Sort("system", True),)
    for bad, details in [
        (QueryParams(limit=-1), "limit must be 0 or more, not -1"),
        (QueryParams(start=-2), "start must be 0 or more, not -2"),
    ]:
        with pytest.raises(errors.ReplyError) as caught:
            to(bad, HOST)
        assert (caught.value.code, caught.value.details) == ("SYS.1007", details)
    with pytest.raises(errors.ReplyError) as caught:
        to(QueryParams(fields=("uuid", "nope")), HOST)
    assert caught.value.code == "SYS.1000"
    with pytest.raises(errors.ReplyError) as caught:
        to(QueryParams(sort_by="startCommand"), HOST)
    assert caught.value.code == "SYS.1007"


def test_the_inventory_is_b6_in_order() -> None:
    assert [f.name for f in FIELDS] == INVENTORY_FIELDS


# == pure: times, architectures, the yaml, the signature ==========================================


@pytest.mark.parametrize(
    ("at", "text"),
    [
        (datetime(2025, 10, 28, 14, 9, 26, tzinfo=UTC), "Oct 28, 2025 2:09:26 PM"),
        (datetime(2024, 1, 1, 0, 0, 5, 999999, tzinfo=UTC), "Jan 1, 2024 12:00:05 AM"),
        (datetime(2024, 6, 30, 12, 30, 0, tzinfo=UTC), "Jun 30, 2024 12:30:00 PM"),
        (datetime(2024, 12, 9, 23, 59, 59, tzinfo=UTC), "Dec 9, 2024 11:59:59 PM"),
    ],
)
def test_gson_times(at: datetime, text: str) -> None:
    assert times.format_time(at) == text
    assert times.parse_time(text) == at.replace(microsecond=0)


def test_times_are_shown_in_utc() -> None:
    plus8 = datetime.fromisoformat("2025-10-28T22:09:26+08:00")
    assert times.format_time(plus8) == "Oct 28, 2025 2:09:26 PM"


@pytest.mark.parametrize(
    ("machine", "name"),
    [("x86_64", "X86_64"), ("AMD64", "X86_64"), ("aarch64", "AARCH64"), ("arm64", "AARCH64"),
     ("riscv64", "RISCV64")],
)  # fmt: skip
def test_architectures(machine: str, name: str) -> None:
    assert architecture(machine) == name


def test_yaml_of_a_runtime() -> None:
    rt = Runtime(
        id=RuntimeId("rt-x"),
        project_id=ProjectId("prj-x"),
        name="x",
        framework=Framework.CUSTOM,
        command=["{python}", "-c", 'print("hi: there")'],
        health_path="/ready",
        env={"B": "2", "A": "it's"},
        request_cpu=0.5,
        request_memory=256,
        gpu=1,
    )
    assert manifest.render_yaml(rt) == (
        'name: "x"\n'
        'framework: "custom"\n'
        "command:\n"
        '  - "{python}"\n'
        '  - "-c"\n'
        '  - "print(\\"hi: there\\")"\n'
        'healthPath: "/ready"\n'
        "env:\n"
        '  "A": "it\'s"\n'
        '  "B": "2"\n'
        "resources:\n"
        "  cpu: 0.5\n"
        "  memoryMiB: 256\n"
        "  gpu: 1\n"
        "supportsDistributed: false\n"
    )


def test_access_key_signature_vector() -> None:
    date = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert auth.sign("SECRET", "GET", date, "/v1/ai/model-services") == (
        "vvVr0//fDr1RL9DozgWXGnBHpEs="
    )
    given = auth.AccessKeyAuth("AK", "vvVr0//fDr1RL9DozgWXGnBHpEs=", date)
    assert auth.verify(given, "SECRET", "get", "/v1/ai/model-services")
    assert not auth.verify(given, "SECRET", "GET", "/v1/ai/model-services/x")
    assert not auth.verify(given, "OTHER", "GET", "/v1/ai/model-services")


@pytest.mark.parametrize(
    ("header", "date", "now", "problem", "message"),
    [
        (None, None, None, errors.Problem.BAD_REQUEST, "missing header 'Authorization'"),
        ("Bearer x", None, None, errors.Problem.BAD_REQUEST, "Authorization type must be 'OAuth'"),
        ("oauth x", None, None, errors.Problem.BAD_REQUEST, "Authorization type must be 'OAuth'"),
        ("ZStack AK", None, None, errors.Problem.BAD_REQUEST,
         "accessKey format is 'ZStack AccessKeyId:Signature'"),
        ("ZStack :sig", None, None, errors.Problem.BAD_REQUEST,
         "accessKey format is 'ZStack AccessKeyId:Signature'"),
        ("ZStack AK:", None, None, errors.Problem.BAD_REQUEST,
         "accessKey format is 'ZStack AccessKeyId:Signature'"),
        ("ZStack AK:sig", None, None, errors.Problem.BAD_REQUEST,
         "'Date' must be incuded in request header"),
        ("ZStack AK:sig", "yesterday", None, errors.Problem.BAD_REQUEST,
         "'Date' format error, correct format is 'EEE, dd MMM yyyy HH:mm:ss z'"),
        ("ZStack AK:sig", "Mon, 01 Jan 2024 00:00:00", None, errors.Problem.BAD_REQUEST,
         "'Date' format error, correct format is 'EEE, dd MMM yyyy HH:mm:ss z'"),
        ("ZStack AK:sig", "Mon, 01 Jan 2024 08:00:00 Asia/Shanghai", None,
         errors.Problem.BAD_REQUEST,
         "'Date' format error, correct format is 'EEE, dd MMM yyyy HH:mm:ss z'"),
        ("ZStack AK:sig", "Mon, 01 Jan 2024 00:00:00 GMT", "2024-01-01T00:15:01+00:00",
         errors.Problem.CLOCK_SKEW, "requestTimeTooSkewed"),
        ("ZStack AK:sig", "Mon, 01 Jan 2024 00:00:00 GMT", "2023-12-31T23:44:59+00:00",
         errors.Problem.CLOCK_SKEW, "requestTimeTooSkewed"),
    ],
)  # fmt: skip
def test_authorization_header_errors(
    header: str | None, date: str | None, now: str | None, problem: errors.Problem, message: str
) -> None:
    at = datetime.fromisoformat(now) if now else datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(errors.RestError) as caught:
        auth.read(header, date, at)
    assert (caught.value.problem, caught.value.message) == (problem, message)


def test_authorization_headers() -> None:
    now = datetime(2024, 1, 1, 0, 14, 59, tzinfo=UTC)
    assert auth.read("  OAuth   abc  ", None, now) == auth.SessionAuth("abc")
    assert auth.read("OAuth", None, now) == auth.SessionAuth("")
    date = "Mon, 01 Jan 2024 08:00:00 +0800"  # within 15 minutes: an offset is fine
    assert auth.read("ZStack AK1: c2ln ", date, now) == auth.AccessKeyAuth("AK1", "c2ln", date)


# == pure: modelServiceRefs ======================================================================

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SKLEARN, CUSTOM = Framework.SKLEARN, Framework.CUSTOM


def a_model(
    n: int, framework: Framework, at: datetime, description: str = "", project: str = "prj-a"
) -> Model:
    return Model(
        id=ModelId(f"model-{n:04d}"),
        project_id=ProjectId(project),
        name=f"m{n}",
        version="1",
        framework=framework,
        uri=None,
        size=0,
        description=description,
        created_at=at,
    )


def a_runtime(rid: str, framework: Framework) -> Runtime:
    return Runtime(RuntimeId(rid), None, rid, framework, [], "/", created_at=T0)


def test_refs_query_covers_the_page_in_one() -> None:
    page = [a_runtime("rt-a", CUSTOM), a_runtime("rt-s", SKLEARN), a_runtime("rt-b", CUSTOM)]
    wanted = refs.frameworks(page)
    assert wanted == [CUSTOM, SKLEARN]
    assert refs.query(wanted) == ListQuery(
        filter=Cond("framework", Op.IN, ["custom", "sklearn"]),
        sort=(Sort("created_at", descending=True),),
        limit=2 * refs.MAX_REFS,
        count=False,
    )
    # every framework fits one page of the store
    assert refs.query(list(Framework)).limit == refs.MAX_REFS * len(Framework) <= MAX_LIMIT


def test_refs_cut_short() -> None:
    wanted = [CUSTOM, SKLEARN]
    limit = refs.query(wanted).limit
    crowded = [a_model(i, CUSTOM, T0 + timedelta(seconds=i)) for i in range(limit)]
    # a full answer of custom models only: sklearn may have older models left out
    assert refs.short(wanted, crowded, limit) == [SKLEARN]
    # not full: nothing was left out
    assert refs.short(wanted, crowded[:-1], limit) == []
    # full, each with its share: nothing was left out either
    shared = crowded[: refs.MAX_REFS] + [
        a_model(10_000 + i, SKLEARN, T0) for i in range(refs.MAX_REFS)
    ]
    assert refs.short(wanted, shared, limit) == []
    # a full answer for one framework is its share: done
    assert refs.short([SKLEARN], shared[refs.MAX_REFS :], refs.MAX_REFS) == []


def test_refs_by_runtime() -> None:
    page = [
        a_runtime("rt-a", CUSTOM),
        a_runtime("rt-s", SKLEARN),
        a_runtime("rt-o", Framework.ONNX),
    ]
    old = a_model(1, CUSTOM, T0)
    tie_b, tie_a = (
        a_model(3, CUSTOM, T0 + timedelta(hours=1)),
        a_model(2, CUSTOM, T0 + timedelta(hours=1)),
    )
    clf = a_model(4, SKLEARN, T0)
    # two answers (the second repeats a model of the first), in any order
    got = refs.by_runtime(page, [old, tie_b, clf, tie_a, old])
    assert [r.model.id for r in got["rt-a"]] == [tie_a.id, tie_b.id, old.id]  # newest, then id
    assert {r.runtime_id for r in got["rt-a"]} == {"rt-a"}
    assert [r.model.id for r in got["rt-s"]] == [clf.id]
    assert got["rt-o"] == ()
    # at most MAX_REFS per runtime: the newest
    many = [a_model(i, CUSTOM, T0 + timedelta(seconds=i)) for i in range(refs.MAX_REFS + 5)]
    kept = refs.by_runtime(page[:1], many)["rt-a"]
    assert len(kept) == refs.MAX_REFS
    assert kept[0].model.id == many[-1].id and kept[-1].model.id == many[5].id


def test_render_ref() -> None:
    clf = a_model(7, SKLEARN, datetime(2025, 10, 28, 14, 9, 26, tzinfo=UTC), "iris")
    rendered = refs.render_ref(refs.Ref("rt-sklearn", clf))
    assert rendered == {
        "uuid": refs.ref_uuid("rt-sklearn", clf.id),
        "modelUuid": clf.id,
        "modelServiceUuid": "rt-sklearn",
        "name": "m7",
        "description": "iris",
        "createDate": "Oct 28, 2025 2:09:26 PM",
        "lastOpDate": "Oct 28, 2025 2:09:26 PM",
    }
    # the uuid names the pair, stably, as 32 hex digits like ZStack's
    assert HEX32.match(rendered["uuid"])
    assert rendered["uuid"] == refs.ref_uuid("rt-sklearn", clf.id)
    assert rendered["uuid"] != refs.ref_uuid("rt-other", clf.id)
    assert rendered["uuid"] != refs.ref_uuid("rt-sklearn", "model-0008")
    # an empty description is absent
    bare = refs.render_ref(refs.Ref("rt-sklearn", a_model(8, SKLEARN, T0)))
    assert "description" not in bare


# == the HTTP handler, in process ================================================================


class FailingCipher:
    """A cipher that fails with a foreign exception (a bug, a broken key store)."""

    def decrypt(self, token: str) -> str:
        raise RuntimeError("boom")


def in_process(store: Store, cipher: Any) -> httpx.AsyncClient:
    """The ZStack routes alone, in process (they use neither the service use cases nor the
    backend, so `ops` is left out)."""
    ctx = ApiContext(store, None, "http://test", cipher)  # type: ignore[arg-type]
    app = Starlette(routes=[Mount("/zstack", routes=handler.routes(ctx))])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_an_unexpected_error_is_a_503_not_a_500(
    store: Store, cipher: Cipher, principal: Principal, caplog: pytest.LogCaptureFixture
) -> None:
    key = await credentials.create_access_key(store, cipher, principal)
    caplog.set_level(logging.ERROR, logger=handler.__name__)
    listing = "/v1/ai/model-services"
    stamp = email.utils.format_datetime(datetime.now(UTC), usegmt=True)
    headers = {
        "Authorization": f"ZStack {key.id}:{auth.sign(key.secret, 'GET', stamp, listing)}",
        "Date": stamp,
    }
    async with in_process(store, FailingCipher()) as http:
        # the access key's secret cannot be decrypted
        r = await http.get(f"/zstack{listing}", headers=headers)
        assert_failure(r, "SYS.1000", "an internal error happened; see the server log")
    async with in_process(store, cipher) as http:
        assert (await http.get(f"/zstack{listing}", headers=headers)).status_code == 200
    logged = [rec for rec in caplog.records if rec.name == handler.__name__]
    assert len(logged) == 1 and logged[0].exc_info is not None


@contextlib.contextmanager
def model_queries(store: Store) -> Iterator[list[str]]:
    """The SQL statements that read the models table while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if re.search(r"\bFROM models\b", statement):
            seen.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def add_models(store: Store, made: list[Model]) -> None:
    async with store.write() as tx:
        for m in made:
            await tx.models.add(m)


async def test_refs_cost_one_query_and_only_when_shown(
    store: Store, cipher: Cipher, principal: Principal
) -> None:
    project = principal.project_id
    clf = a_model(1, SKLEARN, T0, project=project)
    custom = [a_model(2 + i, CUSTOM, T0 + timedelta(minutes=i), project=project) for i in range(3)]
    await add_models(store, [clf, *custom])
    await credentials.create_user(store, principal, "bob", "bob-password")
    opened = await credentials.login(store, "bob", password="bob-password", kind="zstack")
    auth_header = {"Authorization": f"OAuth {opened.token}"}
    listing = "/zstack/v1/ai/model-services"
    async with in_process(store, cipher) as http:

        async def inventories(path: str = listing, **params: str) -> list[dict[str, Any]]:
            r = await http.get(path, params=params, headers=auth_header)
            found: list[dict[str, Any]] = ok(r).get("inventories", [])
            return found

        # the four built-in runtimes (four frameworks): one query for all their refs
        with model_queries(store) as seen:
            page = {inv["uuid"]: inv["modelServiceRefs"] for inv in await inventories()}
        assert len(seen) == 1
        newest_first = [m.id for m in reversed(custom)]
        assert [r["modelUuid"] for r in page["rt-command"]] == newest_first
        assert [r["modelUuid"] for r in page["rt-sklearn"]] == [clf.id]
        assert page["rt-onnx"] == page["rt-embeddings"] == []
        # one runtime by uuid: one query
        with model_queries(store) as seen:
            [one] = await inventories(f"{listing}/rt-command")
        assert len(seen) == 1 and one["modelServiceRefs"] == page["rt-command"]
        # refs not shown: not fetched
        with model_queries(store) as seen:
            assert await inventories(fields="uuid,name")
            assert ok(await http.get(listing, params={"count": "true"}, headers=auth_header))
            assert await inventories(q="name=nosuch") == []
        assert seen == []


async def test_refs_of_a_framework_crowded_out(
    store: Store, cipher: Cipher, principal: Principal
) -> None:
    """More custom models, all newer, than one answer holds: the sklearn models, older,
    come in a second query, and each runtime shows its newest `MAX_REFS` at most."""
    project = principal.project_id
    old = [a_model(i, SKLEARN, T0 + timedelta(seconds=i), project=project) for i in range(2)]
    crowd = [
        a_model(100 + i, CUSTOM, T0 + timedelta(days=1, seconds=i), project=project)
        for i in range(refs.MAX_REFS * len(Framework))
    ]
    await add_models(store, [*old, *crowd])
    await credentials.create_user(store, principal, "bob", "bob-password")
    opened = await credentials.login(store, "bob", password="bob-password", kind="zstack")
    async with in_process(store, cipher) as http:
        with model_queries(store) as seen:
            r = await http.get(
                "/zstack/v1/ai/model-services",
                params={"fields": "uuid,modelServiceRefs"},
                headers={"Authorization": f"OAuth {opened.token}"},
            )
    page = {inv["uuid"]: inv["modelServiceRefs"] for inv in ok(r)["inventories"]}
    assert len(seen) == 2
    assert [ref["modelUuid"] for ref in page["rt-sklearn"]] == [old[1].id, old[0].id]
    newest = [m.id for m in reversed(crowd)][: refs.MAX_REFS]
    assert [ref["modelUuid"] for ref in page["rt-command"]] == newest
    assert page["rt-onnx"] == page["rt-embeddings"] == []


# == a live server, called as the Java and Go SDKs call it =======================================


@pytest.fixture
def live(live: Any) -> Iterator[Any]:
    """conftest's `live`, whose native client is closed afterwards (the shared fixture leaves
    its connection open, which `filterwarnings = error` turns into a ResourceWarning failure)."""
    yield live
    live.client.close()


class ZStack:
    """A hand-built ZStack client: raw HTTP under `/zstack`, as the spec shows it."""

    def __init__(self, live: Any) -> None:
        self.live = live
        self.http = httpx.Client(base_url=f"{live.url}/zstack")

    def close(self) -> None:
        self.http.close()

    def login(self, name: str, digest: str, **extra: Any) -> httpx.Response:
        body = {"logInByAccount": {"accountName": name, "password": digest, **extra}}
        return self.http.put(
            "/v1/accounts/login",
            json={**body, "systemTags": [], "userTags": []},
            headers={"Content-Type": "application/json;charset=UTF-8"},
        )

    def session(self) -> str:
        r = self.login(self.live.user, sha512(self.live.password))
        assert r.status_code == 200, r.text
        token: str = r.json()["inventory"]["uuid"]
        return token

    def get(
        self,
        path: str = "/v1/ai/model-services",
        params: Any = None,
        session: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """GET with `params` (pairs, encoded by httpx) or a raw query string (sent as is)."""
        if isinstance(params, str):
            path, params = f"{path}?{params}", None
        given = dict(headers or {})
        if session is not None:
            given["Authorization"] = f"OAuth {session}"
        return self.http.get(path, params=params, headers=given)


@pytest.fixture
def zs(live: Any) -> Iterator[ZStack]:
    client = ZStack(live)
    yield client
    client.close()


@pytest.fixture
def world(live: Any) -> dict[str, dict[str, Any]]:
    """Four custom runtimes of the default project, created in this order."""
    made = {}
    for name, readme, cpu, memory in [
        ("zs-alpha", "alpha runtime", 0.5, 256),
        ("zs-beta", "", 1.0, 512),
        ("zs-gamma", "b=c", 2.5, 1024),
        ("zs-delta", " padded", 4.0, 2048),
    ]:
        made[name] = live.client.create_runtime(
            name, HTTP_SERVER, readme=readme, request_cpu=cpu, request_memory=memory
        )
    return made


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body: dict[str, Any] = r.json()
    assert "success" not in body and "schema" not in body
    return body


def names(r: httpx.Response) -> list[str]:
    return [inv["name"] for inv in ok(r)["inventories"]]


def assert_failure(r: httpx.Response, code: str, details: str) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {
        "error": {"code": code, "description": ERROR_TEXT[code], "details": details}
    }


def assert_plain(r: httpx.Response, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == text


MINE = ("q", "name~=zs-%")  # the runtimes of `world`
RUNTIMES = 4 + len(BUILTIN)  # `world`'s and the built-in ones


# -- B.7 (1): login ----------------------------------------------------------------------------


def test_login_returns_a_session(live: Any, zs: ZStack) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    r = zs.login(live.user, sha512(live.password))
    inv = ok(r)["inventory"]
    assert set(inv) == {
        "uuid", "accountUuid", "userUuid", "userType", "createDate", "expiredDate",
        "noSessionEvaluation",
    }  # fmt: skip
    assert HEX32.match(inv["uuid"])
    assert inv["accountUuid"] == live.project_id
    assert inv["userUuid"].startswith("usr-")
    assert (inv["userType"], inv["noSessionEvaluation"]) == ("Account", False)
    created, expires = times.parse_time(inv["createDate"]), times.parse_time(inv["expiredDate"])
    assert GSON.match(inv["createDate"]) and GSON.match(inv["expiredDate"])
    assert before <= created <= datetime.now(UTC)
    assert expires - created == timedelta(hours=2)
    # every login opens a new session
    assert zs.session() != inv["uuid"]
    # the session works
    assert ok(zs.get(session=inv["uuid"]))["inventories"]


@pytest.mark.parametrize(
    ("name", "digest"),
    [
        ("alice", sha512("wrong-password")),
        ("nobody", sha512("alice-password")),
        ("alice", "alice-password"),  # the plain password instead of its SHA-512
        ("alice", ""),
    ],
)
def test_wrong_credentials_are_id_1000(zs: ZStack, name: str, digest: str) -> None:
    assert_failure(zs.login(name, digest), "ID.1000", "wrong account name or password")


def test_bad_login_bodies(zs: ZStack) -> None:
    msg = "org.zstack.header.identity.APILogInByAccountMsg"
    login = "/v1/accounts/login"
    r = zs.http.put(login, json={"logInByAccount": {"accountName": "alice"}})
    assert_failure(
        r, "SYS.1007", f"field[password] of message[{msg}] is mandatory, can not be null"
    )
    for body in ({}, {"somethingElse": {}}):
        assert_failure(
            zs.http.put(login, json=body),
            "SYS.1007",
            f"field[accountName] of message[{msg}] is mandatory, can not be null",
        )
    assert_failure(
        zs.http.put(login, content=b""),
        "SYS.1007",
        f"field[accountName] of message[{msg}] is mandatory, can not be null",
    )
    r = zs.http.put(login, json={"logInByAccount": {"accountName": 7, "password": "x"}})
    assert_failure(r, "SYS.1007", f"field[accountName] of message[{msg}] must be a String")
    r = zs.http.put(login, json={"logInByAccount": "alice"})
    assert_failure(r, "SYS.1007", "'logInByAccount' must be an object")
    assert_plain(zs.http.put(login, content=b"{nope"), 400, "the body is not valid JSON")
    assert_plain(zs.http.put(login, content=b"[1]"), 400, "the body is not a JSON object")
    assert_plain(
        zs.http.post(login, json={}),
        405,
        "The method[POST] is not allowed for the path[/zstack/v1/accounts/login]",
    )


def test_logout(zs: ZStack) -> None:
    token = zs.session()
    other = zs.session()
    r = zs.http.delete(f"/v1/accounts/sessions/{token}")  # no Authorization needed
    assert (r.status_code, r.content) == (200, b"")
    assert_failure(zs.get(session=token), "ID.1001", "Session expired")
    assert ok(zs.get(session=other))["inventories"]  # only that session ended
    # logging out again, or an unknown session, is still a success
    assert zs.http.delete(f"/v1/accounts/sessions/{token}").status_code == 200
    assert zs.http.delete(f"/v1/accounts/sessions/{'0' * 32}").status_code == 200
    assert_plain(
        zs.http.get(f"/v1/accounts/sessions/{other}"),
        405,
        f"The method[GET] is not allowed for the path[/zstack/v1/accounts/sessions/{other}]",
    )


# -- B.7 (2): Authorization --------------------------------------------------------------------


def test_missing_or_garbled_authorization_is_plain_400(zs: ZStack) -> None:
    assert_plain(zs.get(), 400, "missing header 'Authorization'")
    for header in ("Bearer abc", "Basic YTpi", "oauth abc", ""):
        r = zs.get(headers={"Authorization": header})
        assert_plain(r, 400, "Authorization type must be 'OAuth'")
    r = zs.get(headers={"Authorization": "ZStack nocolon"})
    assert_plain(r, 400, "accessKey format is 'ZStack AccessKeyId:Signature'")
    # the header is read before the parameters, the parameters before the session
    assert_plain(zs.get(params={"limit": "x"}), 400, "missing header 'Authorization'")
    r = zs.get(params={"limit": "x"}, session="0" * 32)
    assert_plain(r, 400, "Invalid query parameter. 'limit' must be an integer")


def test_unknown_session_is_id_1001(zs: ZStack) -> None:
    for token in ("0" * 32, "not-a-uuid"):
        assert_failure(zs.get(session=token), "ID.1001", "Session expired")
    assert_failure(zs.get(headers={"Authorization": "OAuth"}), "ID.1001", "Session expired")
    assert_failure(
        zs.get("/v1/ai/model-services/rt-sklearn", session="x"), "ID.1001", "Session expired"
    )
    # extra spaces between the scheme and the uuid are trimmed
    token = zs.session()
    assert ok(zs.get(headers={"Authorization": f"OAuth    {token}"}))["inventories"]


async def test_expired_and_foreign_sessions_are_id_1001(
    live: Any, zs: ZStack, database_url: str
) -> None:
    """Sessions opened in the server's own store: one already expired, one of another kind
    (an IAM token of the ModelArts dialect)."""
    store = Store(database_url)
    try:
        expired = await credentials.login(
            store, live.user, password=live.password, kind="zstack", ttl=timedelta(seconds=-1)
        )
        iam = await credentials.login(store, live.user, password=live.password, kind="iam")
    finally:
        await store.close()
    assert_failure(zs.get(session=expired.token), "ID.1001", "Session expired")
    assert_failure(zs.get(session=iam.token), "ID.1001", "Session expired")
    # logging an IAM token out through ZStack closes nothing
    assert zs.http.delete(f"/v1/accounts/sessions/{iam.token}").status_code == 200
    store = Store(database_url)
    try:
        assert (await credentials.session(store, iam.token, "iam")).token == iam.token
    finally:
        await store.close()


# -- the AccessKey alternative -----------------------------------------------------------------


def signed(live: Any, path: str, secret: str | None = None, **date: Any) -> dict[str, str]:
    when = datetime.now(UTC) + timedelta(**date)
    stamp = email.utils.format_datetime(when, usegmt=True)
    sig = auth.sign(secret or live.access_key_secret, "GET", stamp, path)
    return {"Authorization": f"ZStack {live.access_key_id}:{sig}", "Date": stamp}


def test_access_key_signatures(live: Any, zs: ZStack) -> None:
    listing = "/v1/ai/model-services"
    assert sorted(names(zs.get(headers=signed(live, listing)))) == BUILTIN_NAMES
    # the query string is not signed
    r = zs.get(params={"q": "name=onnx"}, headers=signed(live, listing))
    assert names(r) == ["onnx"]
    one = "/v1/ai/model-services/rt-sklearn"
    assert names(zs.get(one, headers=signed(live, one))) == ["sklearn"]
    # 14 minutes off either way is within the window
    assert ok(zs.get(headers=signed(live, listing, minutes=-14)))
    assert ok(zs.get(headers=signed(live, listing, minutes=14)))
    assert_plain(zs.get(headers=signed(live, listing, minutes=-16)), 403, "requestTimeTooSkewed")
    assert_plain(zs.get(headers=signed(live, listing, minutes=16)), 403, "requestTimeTooSkewed")
    # a signature of another path, another secret, another key
    wrong = "wrong access key id or signature"
    assert_failure(zs.get(one, headers=signed(live, listing)), "ID.1000", wrong)
    assert_failure(zs.get(headers=signed(live, listing, secret="nope")), "ID.1000", wrong)
    unknown = signed(live, listing)
    unknown["Authorization"] = unknown["Authorization"].replace(live.access_key_id, "AKNOPE")
    assert_failure(zs.get(headers=unknown), "ID.1000", wrong)
    no_date = signed(live, listing)
    del no_date["Date"]
    assert_plain(zs.get(headers=no_date), 400, "'Date' must be incuded in request header")
    bad_date = {**signed(live, listing), "Date": "2024-01-01T00:00:00Z"}
    assert_plain(
        zs.get(headers=bad_date),
        400,
        "'Date' format error, correct format is 'EEE, dd MMM yyyy HH:mm:ss z'",
    )


# -- B.7 (3): operators and combination rules --------------------------------------------------


def test_each_operator(zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()

    def q(*conds: str, **extra: str) -> list[str]:
        pairs = [MINE, *(("q", c) for c in conds), ("sort", "name"), *extra.items()]
        return names(zs.get(params=pairs, session=s))

    assert q("name=zs-alpha") == ["zs-alpha"]
    assert q("name!=zs-alpha") == ["zs-beta", "zs-delta", "zs-gamma"]
    assert q("requestMemory>=1024") == ["zs-delta", "zs-gamma"]
    assert q("requestMemory>1024") == ["zs-delta"]
    assert q("requestMemory<=512") == ["zs-alpha", "zs-beta"]
    assert q("requestMemory<512") == ["zs-alpha"]
    assert q("name~=%alp%") == ["zs-alpha"]
    assert q("name~=zs-_eta") == ["zs-beta"]
    assert q("name!~=%alp%") == ["zs-beta", "zs-delta", "zs-gamma"]
    a, b = world["zs-alpha"]["id"], world["zs-beta"]["id"]
    assert q(f"uuid?={a},{b}") == ["zs-alpha", "zs-beta"]
    assert q(f"uuid!?={a},{b}") == ["zs-delta", "zs-gamma"]
    assert q("description is null") == ["zs-beta"]
    assert q("description not null") == ["zs-alpha", "zs-delta", "zs-gamma"]
    assert q("readme is null") == ["zs-beta"]
    # an absent description matches no comparison, as a SQL null
    assert q("description!=alpha runtime") == ["zs-delta", "zs-gamma"]
    # without the scope: no built-in runtime lacks a readme
    assert names(zs.get(params={"q": "description is null"}, session=s)) == ["zs-beta"]


def test_precedence_and_values(zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()

    def q(raw: str) -> list[str]:
        return names(zs.get(params=f"q=name~=zs-%25&sort=name&{raw}", session=s))

    # `q=a=b=c`: name `a`, value `b=c` (sent unencoded, as the Java SDK may)
    assert q("q=description=b=c") == ["zs-gamma"]
    assert q("q=description%3Db%3Dc") == ["zs-gamma"]  # and encoded, as the Go SDK does
    # `!=` wins over `=`
    assert q("q=name!=zs-beta") == ["zs-alpha", "zs-delta", "zs-gamma"]
    # the value's whitespace is kept: %20 (Java) and + (Go) are both a space
    assert q("q=description=%20padded") == ["zs-delta"]
    assert q("q=description%3D+padded") == ["zs-delta"]
    assert q("q=description=padded") == []
    # an empty parameter name is a q too
    assert q("=name%3Dzs-alpha") == ["zs-alpha"]


def test_combination_rules(zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()

    def q(*pairs: tuple[str, str]) -> list[str]:
        return names(zs.get(params=[*pairs, ("sort", "name")], session=s))

    # conditions are AND-ed
    assert q(MINE, ("q", "requestMemory>256")) == ["zs-beta", "zs-delta", "zs-gamma"]
    assert q(MINE, ("q", "requestMemory>256"), ("q", "requestMemory<2048")) == [
        "zs-beta",
        "zs-gamma",
    ]
    assert q(("q", "name=zs-alpha"), ("q", "name=zs-beta")) == []
    # identical conditions collapse
    assert q(("q", "name=zs-alpha"), ("q", "name=zs-alpha")) == ["zs-alpha"]
    # unknown parameters, groupBy and filterName are ignored
    assert q(("q", "name=zs-alpha"), ("groupBy", "name"), ("filterName", "x"), ("x", "y")) == [
        "zs-alpha"
    ]


def test_fields_of_each_kind(live: Any, zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()

    def q(*conds: str) -> list[str]:
        pairs = [*(("q", c) for c in conds), ("sort", "name")]
        return names(zs.get(params=pairs, session=s))

    customs = ["zs-alpha", "zs-beta", "zs-delta", "zs-gamma"]
    # requestCpu shows whole CPUs (ceil) and is filtered as shown
    assert q("requestCpu=1", "system=false") == ["zs-alpha", "zs-beta"]
    assert q("requestCpu=3") == ["zs-gamma"]
    assert q("requestCpu>2", "system=false") == ["zs-delta", "zs-gamma"]
    assert q("requestCpu<=1", "system=false") == ["zs-alpha", "zs-beta"]
    assert q("requestCpu?=3,4") == ["zs-delta", "zs-gamma"]
    shown = {
        i["name"]: i["requestCpu"] for i in ok(zs.get(params=[MINE], session=s))["inventories"]
    }
    assert shown == {"zs-alpha": 1, "zs-beta": 1, "zs-gamma": 3, "zs-delta": 4}
    # booleans
    assert q("system=true") == BUILTIN_NAMES
    assert q("system=FALSE") == customs
    assert q("supportDistributed=false", "system=false") == customs
    # derived: source and version follow `system`
    assert q("source=builtin") == BUILTIN_NAMES
    assert q("source~=cus%") == customs
    assert q("version=" + __version__) == BUILTIN_NAMES
    assert q("version is null") == customs
    # constants
    assert q("type=Endpoint", "system=false") == customs
    assert q("hasNewVersion=true") == []
    assert q("condaVersion is null", "system=false") == customs
    assert q("condaVersion=x") == []
    # modelCenterUuid is the project; built-in runtimes belong to none
    assert q(f"modelCenterUuid={live.project_id}") == customs
    assert q("modelCenterUuid is null") == BUILTIN_NAMES
    assert q("framework=custom", "system=false") == customs
    assert q("framework=onnx") == ["onnx"]


def test_times_filter_as_shown(zs: ZStack, world: dict[str, Any]) -> None:
    """A time condition matches exactly the inventories whose shown time satisfies it."""
    s = zs.session()
    everything = ok(zs.get(session=s))["inventories"]
    shown = {inv["name"]: times.parse_time(inv["createDate"]) for inv in everything}
    alpha = next(inv for inv in everything if inv["name"] == "zs-alpha")
    stamp = alpha["createDate"]
    at = times.parse_time(stamp)
    checks = {
        "=": lambda t: t == at,
        "!=": lambda t: t != at,
        ">": lambda t: t > at,
        ">=": lambda t: t >= at,
        "<": lambda t: t < at,
        "<=": lambda t: t <= at,
    }
    for op, holds in checks.items():
        for field in ("createDate", "lastOpDate"):
            got = names(zs.get(params={"q": f"{field}{op}{stamp}"}, session=s))
            assert sorted(got) == sorted(n for n, t in shown.items() if holds(t)), (field, op)
    iso = at.strftime("%Y-%m-%d %H:%M:%S")
    # `?=` splits on commas, which the shown format contains: list times in another format
    got = names(zs.get(params={"q": f"createDate?=2000-01-01 00:00:00,{iso}"}, session=s))
    assert sorted(got) == sorted(n for n, t in shown.items() if t == at)
    assert "zs-alpha" in got
    assert names(zs.get(params={"q": f"createDate={iso}"}, session=s)) == names(
        zs.get(params={"q": f"createDate={stamp}"}, session=s)
    )
    assert names(zs.get(params={"q": "createDate<2000-01-01T00:00:00Z"}, session=s)) == []
    assert (
        len(names(zs.get(params={"q": "createDate>=2000-01-01 00:00:00"}, session=s))) == RUNTIMES
    )


# -- B.7 (4): paging, sorting, fields, counts ----------------------------------------------------


def test_paging(zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()

    def page(**params: str) -> list[str]:
        return names(zs.get(params=[MINE, ("sort", "name"), *params.items()], session=s))

    # no limit: the default 1000 returns everything
    assert len(names(zs.get(session=s))) == RUNTIMES
    assert page() == ["zs-alpha", "zs-beta", "zs-delta", "zs-gamma"]
    assert page(limit="2") == ["zs-alpha", "zs-beta"]
    assert page(limit="2", start="2") == ["zs-delta", "zs-gamma"]
    assert page(limit="2", start="3") == ["zs-gamma"]  # the last page
    assert page(limit="2", start="4") == []  # past the end
    assert page(start="1000000") == []
    assert page(start="1") == ["zs-beta", "zs-delta", "zs-gamma"]
    assert page(limit="0") == []
    assert page(limit=" 1 ") == ["zs-alpha"]  # values are trimmed
    assert page(limit="+1") == ["zs-alpha"]
    assert page(limit="5000") == ["zs-alpha", "zs-beta", "zs-delta", "zs-gamma"]  # → 1000
    r = zs.get(params=[MINE, ("limit", "0"), ("replyWithCount", "true")], session=s)
    assert ok(r) == {"inventories": [], "total": 4}
    assert_failure(
        zs.get(params={"limit": "-1"}, session=s), "SYS.1007", "limit must be 0 or more, not -1"
    )
    assert_failure(
        zs.get(params={"start": "-5"}, session=s), "SYS.1007", "start must be 0 or more, not -5"
    )
    for name, value in [
        ("limit", "abc"),
        ("limit", "1.5"),
        ("limit", "99999999999"),
        ("start", "x"),
    ]:
        r = zs.get(params={name: value}, session=s)
        assert_plain(r, 400, f"Invalid query parameter. '{name}' must be an integer")


def test_counts(zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()
    r = zs.get(params=[MINE, ("replyWithCount", "true"), ("limit", "1")], session=s)
    body = ok(r)
    assert body["total"] == 4 and len(body["inventories"]) == 1
    assert ok(zs.get(params=[MINE, ("count", "true")], session=s)) == {"total": 4}
    assert ok(zs.get(params=[MINE, ("count", "True"), ("replyWithCount", "true")], session=s)) == {
        "total": 4
    }
    assert ok(zs.get(params=[("count", "true"), ("start", "3"), ("limit", "1")], session=s)) == {
        "total": RUNTIMES
    }
    # anything but true is false
    body = ok(zs.get(params=[MINE, ("count", "yes"), ("replyWithCount", "1")], session=s))
    assert set(body) == {"inventories"} and len(body["inventories"]) == 4
    assert ok(zs.get(params={"q": "name=nothing", "replyWithCount": "true"}, session=s)) == {
        "inventories": [],
        "total": 0,
    }


def test_sort(zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()
    asc = ["zs-alpha", "zs-beta", "zs-delta", "zs-gamma"]

    def q(raw: str) -> list[str]:
        return names(zs.get(params=f"q=name~%3Dzs-%25&{raw}", session=s))

    assert q("sort=name") == asc
    assert q("sort=%2Bname") == asc  # the Java SDK percent-encodes the +
    assert q("sort=+name") == asc  # unencoded, it arrives as a space
    assert q("sort=-name") == list(reversed(asc))
    assert q("sort=-requestMemory") == ["zs-delta", "zs-gamma", "zs-beta", "zs-alpha"]
    assert q("sort=requestCpu") == ["zs-alpha", "zs-beta", "zs-gamma", "zs-delta"]
    assert q("sort=-description&q=name%3F%3Dzs-alpha,zs-gamma") == ["zs-gamma", "zs-alpha"]
    # Go SDK variants: sort + sortDirection, or only sortBy + sortDirection
    assert q("sort=-name&sortDirection=desc") == list(reversed(asc))
    assert q("sort=name&sortDirection=asc") == asc
    assert q("sortBy=name&sortDirection=desc") == list(reversed(asc))
    assert q("sort=name&sortDirection=desc") == asc  # `sort` wins; ZStack ignores the rest
    # no sort: creation order
    assert q("") == [*asc[:2], "zs-gamma", "zs-delta"]
    # a constant sorts nothing (then by uuid)
    assert len(q("sort=type")) == 4
    assert_failure(
        zs.get(params={"sort": "-nosuch"}, session=s),
        "SYS.1000",
        UNKNOWN.format("nosuch"),
    )
    assert_failure(
        zs.get(params={"sort": "yaml"}, session=s),
        "SYS.1007",
        SHOWN.format("yaml"),
    )


def test_fields_parameter(zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()
    body = ok(zs.get(params=[MINE, ("fields", "uuid,name")], session=s))
    assert [set(inv) for inv in body["inventories"]] == [{"uuid", "name"}] * 4
    body = ok(zs.get(params=[MINE, ("fields", " name , readme "), ("sort", "name")], session=s))
    assert body["inventories"][:2] == [
        {"name": "zs-alpha", "readme": "alpha runtime"},
        {"name": "zs-beta"},  # an absent field stays absent
    ]
    body = ok(zs.get(params=[MINE, ("fields", "name"), ("fields", "uuid")], session=s))
    assert [set(inv) for inv in body["inventories"]] == [{"uuid", "name"}] * 4
    body = ok(zs.get(params=[MINE, ("fields", "modelServiceRefs,name")], session=s))
    assert all(set(inv) <= {"name", "modelServiceRefs"} for inv in body["inventories"])
    for empty in ("", ",", " , "):
        r = zs.get(params={"fields": empty}, session=s)
        assert_plain(r, 400, "Invalid query parameter. 'fields' contains zero field")
    assert_failure(
        zs.get(params={"fields": "uuid,nope"}, session=s),
        "SYS.1000",
        UNKNOWN.format("nope"),
    )


# -- B.7 (6): requests as the Java and the Go SDK build them ---------------------------------


def test_java_sdk_style_requests(live: Any, zs: ZStack, world: dict[str, Any]) -> None:
    """`ZSClient`: a JSON login body with `systemTags`/`userTags`; query values
    percent-encoded by OkHttp (`=` → %3D, space → %20, `+` → %2B), `q` repeated."""
    s = zs.session()
    raw = (
        "q=name~%3Dzs-%25&q=description%3D%20padded&limit=10&start=0"
        "&replyWithCount=true&sort=%2Bname&fields=uuid,name"
    )
    body = ok(zs.get(params=raw, session=s))
    assert body == {
        "inventories": [{"uuid": world["zs-delta"]["id"], "name": "zs-delta"}],
        "total": 1,
    }


def test_go_sdk_style_requests(live: Any, zs: ZStack, world: dict[str, Any]) -> None:
    """`zstack-sdk-go-v2`: `url.Values.Encode()` (keys sorted, space → +, `,` → %2C), and
    its `Sort` helper's extra `sortDirection`."""
    s = zs.session()
    raw = (
        "fields=uuid%2Cname&limit=10&q=name~%3Dzs-%25&q=description%3D+padded"
        "&replyWithCount=true&sort=-name&sortDirection=desc&start=0"
    )
    body = ok(zs.get(params=raw, session=s))
    assert body == {
        "inventories": [{"uuid": world["zs-delta"]["id"], "name": "zs-delta"}],
        "total": 1,
    }
    raw = "q=name~%3Dzs-%25&sort=name&sortDirection=asc&limit=2&start=2"
    assert names(zs.get(params=raw, session=s)) == ["zs-delta", "zs-gamma"]
    # login by the Go SDK: the same body; its hash helper gives lowercase hex
    r = zs.http.put(
        "/v1/accounts/login",
        content=json.dumps(
            {"logInByAccount": {"accountName": live.user, "password": sha512(live.password)}}
        ).encode(),
    )
    assert HEX32.match(ok(r)["inventory"]["uuid"])


# -- B.7 (5): one model service by uuid --------------------------------------------------------


def test_query_by_uuid_is_a_list(zs: ZStack, world: dict[str, Any]) -> None:
    s = zs.session()
    alpha = world["zs-alpha"]["id"]
    body = ok(zs.get(f"/v1/ai/model-services/{alpha}", session=s))
    assert [inv["uuid"] for inv in body["inventories"]] == [alpha]
    assert set(body) == {"inventories"}
    body = ok(zs.get("/v1/ai/model-services/rt-sklearn", session=s))
    assert [inv["name"] for inv in body["inventories"]] == ["sklearn"]
    # an unknown uuid is an empty list with 200, not a 404
    assert ok(zs.get(f"/v1/ai/model-services/{'f' * 32}", session=s)) == {"inventories": []}
    # every parameter is ignored on this path, as ZStack does
    r = zs.get(
        f"/v1/ai/model-services/{alpha}",
        params={"limit": "x", "fields": "", "q": "nosuch=1", "count": "true"},
        session=s,
    )
    assert [inv["uuid"] for inv in ok(r)["inventories"]] == [alpha]
    # the same runtime through q
    assert names(zs.get(params={"q": f"uuid={alpha}"}, session=s)) == ["zs-alpha"]


def test_another_projects_runtimes_are_invisible(live: Any, zs: ZStack) -> None:
    made = live.client.create_project("other")
    with Client(live.url, made["api_key"]) as theirs:
        rt = theirs.create_runtime("theirs", HTTP_SERVER)
        theirs.register_model(None, "their-model", framework="custom")
    s = zs.session()
    assert ok(zs.get(f"/v1/ai/model-services/{rt['id']}", session=s)) == {"inventories": []}
    assert names(zs.get(params={"q": "name=theirs"}, session=s)) == []
    assert sorted(names(zs.get(session=s))) == BUILTIN_NAMES
    # their custom model is served by the built-in `command` runtime, but not for us
    body = ok(zs.get("/v1/ai/model-services/rt-command", session=s))
    assert body["inventories"][0]["modelServiceRefs"] == []


# -- B.6: every inventory field ----------------------------------------------------------------


def iris_file(folder: Path) -> Path:
    """A scikit-learn model of iris, saved with joblib."""
    features, labels = load_iris(return_X_y=True)
    path = folder / "iris.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), path)
    return path


def test_inventory_of_a_custom_runtime(live: Any, zs: ZStack, tmp_path: Path) -> None:
    rt = live.client.create_runtime(
        "zs-full",
        HTTP_SERVER,
        health_path="/healthz",
        env={"MODE": "fast"},
        request_cpu=1.5,
        request_memory=768,
        gpu=0,
        readme="Serves things.",
    )
    clf = live.client.register_model(None, "clf", framework="custom", version="3")
    tool = live.client.register_model(None, "tool", framework="custom", description="a tool")
    iris = live.client.register_model(iris_file(tmp_path), "iris", framework="sklearn")
    # a service that deploys a model is no ref of its own: refs are models, not deployments
    live.service("zs-first", description="the first", runtime="zs-full")
    s = zs.session()
    [inv] = ok(zs.get(f"/v1/ai/model-services/{rt['id']}", session=s))["inventories"]
    created = inv["createDate"]
    assert GSON.match(created) and inv["lastOpDate"] == created
    assert abs(times.parse_time(created) - datetime.now(UTC)) < timedelta(minutes=1)
    served = inv.pop("modelServiceRefs")
    machine = handler.host_facts()
    assert inv == {
        "uuid": rt["id"],
        "name": "zs-full",
        "description": "Serves things.",
        "readme": "Serves things.",
        "yaml": (
            'name: "zs-full"\nframework: "custom"\ncommand:\n  - "{python}"\n  - "-m"\n'
            '  - "http.server"\n  - "--bind"\n  - "{host}"\n  - "{port}"\n'
            'healthPath: "/healthz"\nenv:\n  "MODE": "fast"\nresources:\n  cpu: 1.5\n'
            "  memoryMiB: 768\n  gpu: 0\nsupportsDistributed: false\n"
        ),
        "requestCpu": 2,
        "requestMemory": 768,
        "modelCenterUuid": live.project_id,
        "type": "Endpoint",
        "framework": "custom",
        "source": "custom",
        "system": False,
        "hasNewVersion": False,
        "pythonVersion": machine.python_version,
        "startCommand": "'{python}' -m http.server --bind '{host}' '{port}'",
        "containerCommand": "{python}",
        "containerArgs": "-m http.server --bind '{host}' '{port}'",
        "supportDistributed": False,
        "cpuArchitectures": [machine.cpu_architecture],
        "createDate": created,
        "lastOpDate": created,
    }
    assert list(inv) == [f for f in INVENTORY_FIELDS if f in inv]  # B.6 order

    def expected(runtime_id: str, *made: dict[str, Any]) -> list[dict[str, Any]]:
        """The refs of `made` (newest first) on `runtime_id`, as the native API shows them."""
        out = []
        for m in made:
            shown = times.format_time(datetime.fromisoformat(m["created_at"]))
            ref = {
                "uuid": refs.ref_uuid(runtime_id, m["id"]),
                "modelUuid": m["id"],
                "modelServiceUuid": runtime_id,
                "name": m["name"],
                "description": m["description"],
                "createDate": shown,
                "lastOpDate": shown,
            }
            out.append({k: v for k, v in ref.items() if v})
        return out

    # the project's custom models, newest first; the sklearn model is not among them
    assert served == expected(rt["id"], tool, clf)
    assert all(HEX32.match(ref["uuid"]) for ref in served)
    # the built-in `command` runtime serves custom models too, under refs of its own
    [command] = ok(zs.get("/v1/ai/model-services/rt-command", session=s))["inventories"]
    assert command["modelServiceRefs"] == expected("rt-command", tool, clf)
    assert {r["uuid"] for r in command["modelServiceRefs"]}.isdisjoint(r["uuid"] for r in served)
    [sklearn] = ok(zs.get("/v1/ai/model-services/rt-sklearn", session=s))["inventories"]
    assert sklearn["modelServiceRefs"] == expected("rt-sklearn", iris)
    # the uuid of a ref is stable from query to query
    again = ok(zs.get(f"/v1/ai/model-services/{rt['id']}", session=s))["inventories"]
    assert again[0]["modelServiceRefs"] == served


def test_inventory_of_a_builtin_runtime(zs: ZStack) -> None:
    s = zs.session()
    [inv] = ok(zs.get("/v1/ai/model-services/rt-sklearn", session=s))["inventories"]
    sklearn = next(rt for rt in BUILTIN if rt.name == "sklearn")
    assert inv["uuid"] == "rt-sklearn"
    assert inv["description"] == inv["readme"] == sklearn.readme
    assert (inv["system"], inv["source"], inv["version"]) == (True, "builtin", __version__)
    assert (inv["requestCpu"], inv["requestMemory"]) == (1, 256)  # 0.5 CPU shows as 1
    assert inv["framework"] == "sklearn"
    for absent in ("modelCenterUuid", "size", "gpuComputeCapability", "installPath",
                   "condaVersion", "vendorToSpecUuidsMap", "modelServiceImages"):  # fmt: skip
        assert absent not in inv
    assert inv["modelServiceRefs"] == []  # an empty list is shown, as Gson shows one
    assert inv["startCommand"].startswith("'{python}' -m modelport.runtimes.sklearn_server")
    # the built-in `command` runtime has no command of its own
    [command] = ok(zs.get("/v1/ai/model-services/rt-command", session=s))["inventories"]
    assert not {"startCommand", "containerCommand", "containerArgs"} & set(command)


# -- B.5: the REST layer -----------------------------------------------------------------------


def test_rest_layer_errors_are_plain_text(zs: ZStack) -> None:
    s = zs.session()
    assert_plain(zs.get("/v1/nothing", session=s), 404, "no api mapping to /v1/nothing")
    assert_plain(
        zs.http.delete("/v2/ai/model-services"), 404, "no api mapping to /v2/ai/model-services"
    )
    r = zs.http.head("/v1/ai/model-services", headers={"Authorization": f"OAuth {s}"})
    assert (r.status_code, r.headers["content-type"]) == (200, "application/json; charset=utf-8")
    assert_plain(
        zs.http.post("/v1/ai/model-services", json={}),
        405,
        "The method[POST] is not allowed for the path[/zstack/v1/ai/model-services]",
    )
    assert_plain(
        zs.http.put("/v1/ai/model-services/rt-sklearn", json={}),
        405,
        "The method[PUT] is not allowed for the path[/zstack/v1/ai/model-services/rt-sklearn]",
    )
    r = zs.get(params={"q": "name"}, session=s)
    assert_plain(
        r,
        400,
        "Invalid query parameter. The 'name' in the parameter[q] doesn't contain any query "
        f"operator. Valid query operators are {OPERATORS}",
    )
    r = zs.get(params={"q": "=abc"}, session=s)
    assert_plain(
        r,
        400,
        "Invalid query parameter. The '=abc' in parameter[q] is not a key-value pair split by =",
    )


def test_bad_values_are_sys_1007_and_unknown_fields_sys_1000(zs: ZStack) -> None:
    s = zs.session()
    cases = [
        ("requestMemory=abc", "SYS.1007", "requestMemory is of type Integer; 'abc' is not one"),
        ("system=maybe", "SYS.1007", "system is of type Boolean; 'maybe' is not true or false"),
        (
            "requestMemory~=1%",
            "SYS.1007",
            "'like' applies to String fields only; requestMemory is of type Integer",
        ),
        ("startCommand~=%x%", "SYS.1007", SHOWN.format("startCommand")),
        ("nosuch=1", "SYS.1000", UNKNOWN.format("nosuch")),
        ("NAME=sklearn", "SYS.1000", UNKNOWN.format("NAME")),  # names are case-sensitive
    ]
    for cond, code, details in cases:
        assert_failure(zs.get(params={"q": cond}, session=s), code, details)
    r = zs.get(params={"q": "createDate>yesterday"}, session=s)
    assert r.status_code == 503 and r.json()["error"]["code"] == "SYS.1007"


def test_odd_requests_are_never_500(zs: ZStack) -> None:
    s = zs.session()
    for raw in [
        "q=name%3D%00",
        "q=name~%3D%25%25%25",
        "q=uuid%3F%3D" + ",".join(["x"] * 500),
        "q=createDate%3D9999-12-31T23:59:59",
        "q=requestCpu%3D-2147483648",
        "q=requestMemory>99999999999999999999",
        "sort=" + "a" * 1000,
        "q=name%3D%F0%9F%98%80",
        "q=name%3D%FF",
    ]:
        r = zs.get(params=raw, session=s)
        assert r.status_code in (200, 400, 503), (raw, r.status_code, r.text)


def test_a_non_ascii_access_key_signature_is_wrong_not_a_crash() -> None:
    from modelport.dialects.zstack import auth as zauth

    given = zauth.AccessKeyAuth("AK1", "签名", "Mon, 01 Jan 2024 00:00:00 GMT")
    assert zauth.verify(given, "SECRET", "GET", "/v1/ai/model-services") is False
