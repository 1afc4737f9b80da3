"""hawkBit's q= language compiled by goosebit_project.lib.rsql, run against this project's real models."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Model, Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.models import Device
from goosebit_project.lib.rsql import Field, RsqlError, compile_query
from software.models import Software, SoftwareModule, SoftwareModuleMetadata
from tests.factories import make_device, make_module

pytestmark = pytest.mark.django_db

DEVICE_FIELDS = {
    "controllerId": Field("controller_id"),
    "name": Field("name"),
    "feed": Field("feed"),
    "progress": Field("progress", type="number"),
    "forceUpdate": Field("force_update", type="boolean"),
    "lastControllerRequestAt": Field("last_seen", type="timestamp"),
    "updateStatus": Field(
        "state",
        type="enum",
        choices={
            "error": Device.State.ERROR,
            "in_sync": Device.State.FINISHED,
            # One API value, several states: hawkBit's "pending" is anything in flight.
            "pending": (Device.State.PENDING, Device.State.RUNNING),
            "registered": Device.State.REGISTERED,
        },
    ),
    "attribute": Field("attributes", json_key=True),
    "assignedDS.name": Field("assigned_software__name"),
    "assignedDS.version": Field("assigned_software__version"),
}
MODULE_FIELDS = {
    "name": Field("name"),
    "metadata": Field("metadata", related_key=("metadata__key", "metadata__value")),
}
RELEASE_FIELDS = {"name": Field("name"), "module.name": Field("modules__name")}

JAN_2024 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # 1704067200000 ms
JUN_2024 = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)  # 1717200000000 ms
ALL = ["alpha", "beta", "delta_x", "epsilon", "gamma"]


@pytest.fixture
def fleet() -> None:
    firmware = Software.objects.create(name="fw", version="1.0")
    other = Software.objects.create(name="other", version="2.0")
    make_device(
        "alpha",
        name="Gateway-1",
        feed="stable",
        progress=10,
        last_seen=JAN_2024,
        state=Device.State.FINISHED,
        attributes={"hw": "rev-A", "site": "Berlin", "a.b": "dotted"},
        assigned_software=firmware,
    )
    make_device(
        "beta",
        name="gateway-2",
        feed="beta",
        force_update=True,
        state=Device.State.PENDING,
        attributes={"hw": "rev-B"},
    )
    make_device(
        "gamma",
        name="sensor 100%",
        feed="stable",
        progress=50,
        last_seen=JUN_2024,
        state=Device.State.ERROR,
        assigned_software=other,
    )
    make_device(
        "delta_x", name="", feed="", progress=100, state=Device.State.RUNNING, attributes={"hw": "REV-A"}
    )
    make_device("epsilon", name="""it's "quoted", (really); *star*""")


def ids(
    query: str,
    fields: dict[str, Field] = DEVICE_FIELDS,
    model: type[Model] = Device,
    key: str = "controller_id",
) -> list[str]:
    """The ``key`` of every ``model`` row the query finds, sorted."""
    return sorted(model._default_manager.filter(compile_query(query, fields)).values_list(key, flat=True))


def others(*excluded: str) -> list[str]:
    return [cid for cid in ALL if cid not in excluded]


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("controllerId==alpha", ["alpha"]),
        ("controllerId!=alpha", others("alpha")),
        ("progress=lt=50", ["alpha"]),
        ("progress=le=50", ["alpha", "gamma"]),
        ("progress=gt=50", ["delta_x"]),
        ("progress=ge=50", ["delta_x", "gamma"]),
        ("progress<50", ["alpha"]),
        ("progress<=50", ["alpha", "gamma"]),
        ("progress>50", ["delta_x"]),
        ("progress>=50", ["delta_x", "gamma"]),
        ("controllerId=in=(alpha,gamma)", ["alpha", "gamma"]),
        ("controllerId=in=( alpha , gamma )", ["alpha", "gamma"]),
        ("controllerId=in=alpha", ["alpha"]),
        ("controllerId=out=(alpha,gamma)", ["beta", "delta_x", "epsilon"]),
        # Like hawkBit, != and =out= count a null value as different.
        ("progress!=10", others("alpha")),
        ("progress=out=(10,50)", ["beta", "delta_x", "epsilon"]),
        ("progress=is=null", ["beta", "epsilon"]),
        ("progress=not=null", ["alpha", "delta_x", "gamma"]),
        ("progress=eq=10", ["alpha"]),
        ("progress=ne=10", others("alpha")),
        ("progress==-1", []),
    ],
)
def test_every_operator(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # AND binds tighter: stable OR (beta AND progress 10). Left to right would give alpha only.
        ("feed==stable,controllerId==beta;progress==10", ["alpha", "gamma"]),
        ("feed==stable or controllerId==beta and progress==10", ["alpha", "gamma"]),
        ("feed==stable OR controllerId==beta AND progress==10", ["alpha", "gamma"]),
        ("(feed==stable,controllerId==beta);progress==10", ["alpha"]),
        ("( feed==stable , controllerId==beta ) ; progress==10", ["alpha"]),
        ("((feed==stable));((progress==50,progress==10))", ["alpha", "gamma"]),
        ("controllerId==alpha;controllerId==beta", []),
    ],
)
def test_precedence_and_parentheses(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    "query",
    [
        r'''name=="it's \"quoted\", (really); \*star\*"''',
        r"""name=='it\'s "quoted", (really); \*star\*'""",
        r"""name==*\*star\*""",
        r"""name==it\'s\ \"quoted\"\,\ \(really\)\;\ \*star\*""",
    ],
)
def test_quotes_and_escapes(query: str) -> None:
    assert ids(query) == ["epsilon"]


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name==gateway*", ["alpha", "beta"]),
        ("name==*-2", ["beta"]),
        ("name==*WAY*", ["alpha", "beta"]),
        ("name==g*1", ["alpha"]),
        ("name==*100%", ["gamma"]),
        ("name==*", ["alpha", "beta", "delta_x", "epsilon", "gamma"]),
        # % and _ are literal: "*%*" is not "everything", "sensor_100*" does not match "sensor 100%".
        ("name==*%*", ["gamma"]),
        ("name==sensor_100*", []),
        ("controllerId==delta_*", ["delta_x"]),
        ("name==*\\\\*", []),
        ('name=="*\\**"', ["epsilon"]),
        ("name!=gateway*", ["delta_x", "epsilon", "gamma"]),
        # In =in= lists '*' is literal, as in hawkBit's code.
        ("name=in=(gateway*)", []),
        ("name=lt=*", ["delta_x"]),
        # =li= is SQL LIKE as hawkBit documents it: _ one character, % (or *) any run.
        ("name=li=gateway-_", ["alpha", "beta"]),
        ("name=li=%100%", ["gamma"]),
        ("name=li=GATEWAY*", ["alpha", "beta"]),
        ("controllerId=li=delta__", ["delta_x"]),
    ],
)
def test_wildcards(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name==GATEWAY-1", ["alpha"]),
        ("name!=GATEWAY-1", others("alpha")),
        ("name=in=(GATEWAY-1,Gateway-2)", ["alpha", "beta"]),
        ("name=out=(GATEWAY-1,Gateway-2)", ["delta_x", "epsilon", "gamma"]),
        # Field names and enum values ignore case, as hawkBit's enum lookups do.
        ("CONTROLLERID==alpha", ["alpha"]),
        ("controllerid==ALPHA", ["alpha"]),
        ("updatestatus==ERROR", ["gamma"]),
        ("ASSIGNEDds.NAME==FW", ["alpha"]),
        # Map keys are kept as written: JSON keys are case-sensitive.
        ("attribute.HW==rev-A", []),
    ],
)
def test_case(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("updateStatus==pending", ["beta", "delta_x"]),
        ("updateStatus!=pending", ["alpha", "epsilon", "gamma"]),
        ("updateStatus=in=(error,in_sync)", ["alpha", "gamma"]),
        ("updateStatus=out=(error,pending)", ["alpha", "epsilon"]),
    ],
)
def test_enum(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


def test_enum_value_not_offered_lists_the_allowed_ones() -> None:
    with pytest.raises(RsqlError, match=r"'broken' is not one of error, in_sync, pending, registered"):
        compile_query("updateStatus==broken", DEVICE_FIELDS)


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lastControllerRequestAt==1704067200000", ["alpha"]),
        ("lastControllerRequestAt=lt=1710000000000", ["alpha"]),
        ("lastControllerRequestAt=gt=1710000000000", ["gamma"]),
        ("lastControllerRequestAt=ge=1717200000000", ["gamma"]),
        ("lastControllerRequestAt>=2024-06-01T00:00:00Z", ["gamma"]),
        ("lastControllerRequestAt<2024-06-01T02:00:00+02:00", ["alpha"]),
        ("lastControllerRequestAt=le=2024-01-01", ["alpha"]),
        ("lastControllerRequestAt=is=null", ["beta", "delta_x", "epsilon"]),
        ("lastControllerRequestAt==''", ["beta", "delta_x", "epsilon"]),
    ],
)
def test_timestamps(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("forceUpdate==true", ["beta"]),
        ("forceUpdate==FALSE", others("beta")),
        ("forceUpdate!=True", others("beta")),
        ("forceUpdate=in=(true,false)", ALL),
    ],
)
def test_booleans(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("progress==1.5", "'1.5' is not a whole number"),
        ("progress==1e3", "'1e3' is not a whole number"),
        ("progress==+1", "'\\+1' is not a whole number"),
        ("progress==99999999999999999999", "is not a whole number"),
        ("progress==ten", "'ten' is not a whole number"),
        ("progress==1*", "'\\*' is a wildcard only on text fields"),
        ("forceUpdate==yes", "'yes' is not true or false"),
        ("forceUpdate=lt=true", "boolean fields cannot be ordered"),
        ("updateStatus=gt=error", "enum fields cannot be ordered"),
        ("lastControllerRequestAt=lt=yesterday", "neither epoch milliseconds nor an ISO-8601"),
        ("lastControllerRequestAt=lt=999999999999999999", "out of range"),
        ("lastControllerRequestAt=lt=0001-01-01T00:00:00+05:00", "out of range"),
        ("name==(a,b)", "only =in= and =out= take a list of values"),
    ],
)
def test_bad_values_name_the_field_and_value(query: str, message: str) -> None:
    with pytest.raises(RsqlError, match=message) as raised:
        compile_query(query, DEVICE_FIELDS)
    assert str(raised.value).split(":")[0] in DEVICE_FIELDS


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("attribute.hw==rev-a", ["alpha", "delta_x"]),
        ("attribute.hw==rev*", ["alpha", "beta", "delta_x"]),
        ("attribute.site==berlin", ["alpha"]),
        # The key is one parameter, dots and all: not a path into nested objects.
        ("attribute.a.b==dotted", ["alpha"]),
        # A device without the key is "different", as hawkBit's map fields are.
        ("attribute.hw!=rev-A", ["beta", "epsilon", "gamma"]),
        ("attribute.hw=out=(rev-A,rev-B)", ["epsilon", "gamma"]),
        ("attribute.hw==''", ["epsilon", "gamma"]),
        ("attribute.hw!=''", ["alpha", "beta", "delta_x"]),
        ("attribute.hw=is=null", ["epsilon", "gamma"]),
        ("attribute.missing==x", []),
        ("attribute.missing!=x", ALL),
    ],
)
def test_json_keys(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("attribute==x", r"field 'attribute' needs a key: attribute.<key>"),
        ("attribute.==x", r"field 'attribute' needs a key"),
        ("attribute.0==x", r"attribute keys cannot be all digits"),
        ("name.first==x", r"unknown field 'name.first'"),
    ],
)
def test_map_field_misuse(query: str, message: str) -> None:
    with pytest.raises(RsqlError, match=message):
        compile_query(query, DEVICE_FIELDS)


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("assignedDS.name==fw", ["alpha"]),
        ("assignedDS.name!=fw", others("alpha")),
        ("assignedDS.version=gt=1.5", ["gamma"]),
        # A relation in one branch of an OR must not drop rows the other branch finds.
        ("assignedDS.name==fw or name==gateway-2", ["alpha", "beta"]),
        ("assignedDS.name=='' ", ["beta", "delta_x", "epsilon"]),
        ("assignedDS.name!=''", ["alpha", "gamma"]),
        ("assignedDS.name=out=(fw,other)", ["beta", "delta_x", "epsilon"]),
    ],
)
def test_single_valued_relation(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.fixture
def modules() -> None:
    for name, metadata in [("m1", {"os": "linux", "arch": "arm"}), ("m2", {"os": "Linux"}), ("m3", {})]:
        module = make_module(name=name)
        for key, value in metadata.items():
            SoftwareModuleMetadata.objects.create(module=module, key=key, value=value)


@pytest.mark.usefixtures("modules")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metadata.os==linux", ["m1", "m2"]),
        ("metadata.os==LIN*", ["m1", "m2"]),
        # Two values of a to-many relation: each on its own row, not one row holding both.
        ("metadata.os==linux;metadata.arch==arm", ["m1"]),
        ("metadata.os==linux and metadata.arch!=arm", ["m2"]),
        # Key and value are matched on the same row: m1 has arch=arm, not os=arm.
        ("metadata.os==arm", []),
        ("metadata.arch!=arm", ["m2", "m3"]),
        ("metadata.os!=linux", ["m3"]),
        ("metadata.arch=in=(arm,x86)", ["m1"]),
        ("metadata.arch=out=(arm,x86)", ["m2", "m3"]),
        ("metadata.arch==''", ["m2", "m3"]),
        ("metadata.arch!=''", ["m1"]),
        ("metadata.arch=not=null", ["m1"]),
        ("metadata.os=gt=linuw", ["m1"]),  # ordering is not case-insensitive: "Linux" < "linuw"
        ("metadata.OS==linux", []),
    ],
)
def test_related_key_value(query: str, expected: list[str]) -> None:
    assert ids(query, MODULE_FIELDS, SoftwareModule, "name") == expected


def test_many_to_many_and_of_two_values_needs_both() -> None:
    both, only_a, none = (Software.objects.create(name=n, version="1") for n in ("both", "only-a", "none"))
    a, b = make_module(name="a"), make_module(name="b")
    both.modules.set([a, b])
    only_a.modules.set([a])
    assert ids("module.name==a;module.name==b", RELEASE_FIELDS, Software, "name") == ["both"]
    assert ids("module.name==a", RELEASE_FIELDS, Software, "name") == ["both", "only-a"]
    assert ids("module.name!=b", RELEASE_FIELDS, Software, "name") == ["none", "only-a"]
    assert ids("module.name=out=(a,b)", RELEASE_FIELDS, Software, "name") == ["none"]
    # No duplicates from the join, so paging counts stay right.
    assert Software.objects.filter(compile_query("module.name==*", RELEASE_FIELDS)).count() == 2


def test_negated_result_can_be_combined_and_excluded() -> None:
    make_device("one", name="x")
    make_device("two", name="y")
    q = compile_query("name==x", DEVICE_FIELDS)
    assert list(Device.objects.exclude(q).values_list("controller_id", flat=True)) == ["two"]
    assert Device.objects.filter(q | Q(controller_id="two")).count() == 2


def test_unknown_field_lists_the_allowed_ones() -> None:
    with pytest.raises(RsqlError) as raised:
        compile_query("name==x;nope==1", DEVICE_FIELDS)
    message = str(raised.value)
    assert "unknown field 'nope'" in message
    assert "allowed fields: assignedDS.name, assignedDS.version, attribute.<key>, controllerId," in message
    assert raised.value.position == 8
    assert "(at position 8)" in message


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("name==", 6, "expected a value but found end of query"),
        ("name", 4, "expected an operator"),
        ("name=~x", 4, "expected an operator"),
        ("progress=li=1", 0, "=li= applies to text fields only"),
        ("==x", 0, "expected a field name"),
        ("(name==x", 8, "expected '\\)' but found end of query"),
        ("name==x)", 7, "unexpected '\\)'"),
        ('name=="abc', 6, 'unterminated "quoted" value'),
        ("name=='abc", 6, "unterminated 'quoted' value"),
        ("name==a b", 8, "unexpected 'b'"),
        ("name==a;", 8, "expected a field name but found end of query"),
        ("name==a,,name==b", 8, "expected a field name"),
        ("name=in=(a,b", 12, "expected ',' or '\\)'"),
        ("name=in=()", 9, "expected a value"),
        ("name==abc\\", 9, "a backslash ends the query"),
        ("name==a\x00", 7, "character '\\\\x00' is not allowed"),
    ],
)
def test_syntax_errors_name_the_position(query: str, position: int, message: str) -> None:
    with pytest.raises(RsqlError, match=message) as raised:
        compile_query(query, DEVICE_FIELDS)
    assert raised.value.position == position


def test_limits() -> None:
    with pytest.raises(RsqlError, match="longer than 4096 characters"):
        compile_query("name==" + "a" * 4091, DEVICE_FIELDS)
    compile_query("name==" + "a" * 4090, DEVICE_FIELDS)

    with pytest.raises(RsqlError, match="nested deeper than 32"):
        compile_query("(" * 33 + "name==a" + ")" * 33, DEVICE_FIELDS)
    assert not Device.objects.filter(compile_query("(" * 32 + "name==a" + ")" * 32, DEVICE_FIELDS)).exists()

    with pytest.raises(RsqlError, match="more than 200 comparisons"):
        compile_query(";".join(["name==a"] * 201), DEVICE_FIELDS)
    with pytest.raises(RsqlError, match="more than 200 comparisons or listed values"):
        compile_query("name=in=(" + ",".join(["a"] * 201) + ")", DEVICE_FIELDS)
    assert not Device.objects.filter(compile_query(",".join(["name==a"] * 200), DEVICE_FIELDS)).exists()
    assert not Device.objects.filter(
        compile_query("name=in=(" + ",".join(str(n) for n in range(200)) + ")", DEVICE_FIELDS)
    ).exists()

    with pytest.raises(RsqlError, match="longer than 10"):
        compile_query("name==abcde", DEVICE_FIELDS, max_length=10)


@pytest.mark.usefixtures("fleet", "modules")
def test_largest_allowed_queries_run() -> None:
    """200 of the heaviest comparisons, within 4096 characters, stay within the databases' limits
    (SQLite: expression depth 1000, bound parameters)."""
    negated_keys = ";".join(f"attribute.k{n}!=v" for n in range(200))
    assert ids(negated_keys) == ALL
    negated_pairs = ",".join(["metadata.os!=x"] * 200)
    assert ids(negated_pairs, MODULE_FIELDS, SoftwareModule, "name") == ["m1", "m2", "m3"]
    nested = "(" * 32 + "assignedDS.name=out=(" + ",".join("v" * 5 for _ in range(199)) + ")" + ")" * 32
    assert ids(nested) == ALL


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"json_key": True, "related_key": ("k", "v")}, "either json_key or related_key"),
        ({"json_key": True, "type": "number"}, "type must be 'string'"),
        ({"type": "enum"}, "choices are required"),
        ({"choices": {"a": 1}}, "choices are required"),
    ],
)
def test_misconfigured_fields_fail_when_declared(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Field("x", **arguments)


@pytest.mark.usefixtures("fleet")
def test_values_are_parameters_not_sql() -> None:
    table = Device._meta.db_table
    for query in [
        f'name=="\'; DROP TABLE {table};--"',
        f"name=='\\'; DROP TABLE {table};--'",
        "name==\"' OR '1'='1\"",
        'name=="%\' OR 1=1 --*"',
        'attribute.hw=="\') OR 1=1 --"',
        "metadata.x\\==y",
    ]:
        try:
            q = compile_query(query, DEVICE_FIELDS)
        except RsqlError:
            continue
        assert not Device.objects.filter(q).exists(), query
    assert table in connection.introspection.table_names()
    assert Device.objects.count() == 5


# --- property-based ------------------------------------------------------------------------------

_QUERY_ALPHABET = st.sampled_from(list("=!<>()'\";,*\\. aZ09_%-") + ["==", " and ", " or ", "=in=", "=out="])
_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(st.one_of(st.text(max_size=60), st.lists(_QUERY_ALPHABET, max_size=30).map("".join)))
def test_random_text_is_either_a_query_or_an_rsql_error(text: str) -> None:
    try:
        q = compile_query(text, DEVICE_FIELDS)
    except RsqlError:
        return
    list(Device.objects.filter(q)[:1])


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
_VALUES = {
    "name": _TEXT.map(_quoted),
    "controllerId": _TEXT.map(_quoted),
    "attribute.hw": _TEXT.map(_quoted),
    "assignedDS.name": _TEXT.map(_quoted),
    "progress": st.integers(-(2**63), 2**63 - 1).map(str),
    "forceUpdate": st.sampled_from(["true", "false", "TRUE"]),
    "lastControllerRequestAt": st.integers(-(10**13), 10**14).map(str),
    "updateStatus": st.sampled_from(["error", "in_sync", "PENDING", "registered"]),
}
_ORDERABLE = {"progress", "lastControllerRequestAt", "name"}


@st.composite
def _comparisons(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from(sorted(_VALUES)))
    operators = ["==", "!=", "=in=", "=out="] + (["=lt=", "<=", ">", "=ge="] if field in _ORDERABLE else [])
    operator = draw(st.sampled_from(operators))
    if operator in ("=in=", "=out="):
        values = draw(st.lists(_VALUES[field], min_size=1, max_size=3))
        return f"{field}{operator}({','.join(values)})"
    return f"{field}{operator}{draw(_VALUES[field])}"


_CONNECTORS = st.sampled_from([";", ",", " and ", " or "])
_QUERIES = st.recursive(
    _comparisons(),
    lambda inner: st.tuples(_CONNECTORS, st.lists(inner, min_size=2, max_size=3)).map(
        lambda parts: "(" + parts[0].join(parts[1]) + ")"
    ),
    max_leaves=12,
)


@_FUZZ
@given(_QUERIES)
def test_generated_valid_queries_compile_and_run(query: str) -> None:
    list(Device.objects.filter(compile_query(query, DEVICE_FIELDS)))
