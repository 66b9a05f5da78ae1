"""One home for the schemas of rtbfast's tables: the catalog and the network the readers
produce (the native readers are held to these by ``tests/test_schemas.py``), the constraints,
Violations and template Findings, the ChangeSet and the Plan derived from it.

Schemas are derived from one another where one table extends another (Findings and Verdicts
from Violations, the Plan from the ChangeSet), never copied.
"""

from __future__ import annotations

import pyarrow as pa

SEP = "\x1f"
"""Joins names (class, attribute, member; FDN and attribute) into one key: a character no
name holds (see :mod:`rtbfast.names`)."""

_TEXT = pa.string()
_DECIMAL = pa.decimal128(38, 18)
_BOUND = pa.struct([("min", _DECIMAL), ("max", _DECIMAL)])
_CODED = pa.dictionary(pa.int32(), pa.string())
"""Text held once per distinct value (int32 codes into a string dictionary)."""


# -- the catalog, as the MP XML reader produces it ------------------------------------------

_TYPE_FIELDS = [
    pa.field("kind", _TEXT, False),
    ("base_type", _TEXT),
    ("type_ref", _TEXT),
    ("type_ref_mim", _TEXT),
    ("derived_type", _TEXT),
    ("derived_type_mim", _TEXT),
    pa.field("is_sequence", pa.bool_(), False),
    ("seq_min", pa.int64()),
    ("seq_max", pa.int64()),
    ("seq_unique", pa.bool_()),
    ("seq_ordered", pa.bool_()),
    ("seq_default", pa.list_(_TEXT)),
    ("ranges", pa.list_(_BOUND)),
    ("length_min", pa.int64()),
    ("length_max", pa.int64()),
    ("length_ranges", pa.list_(_BOUND)),
    ("pattern", _TEXT),
    ("format", _TEXT),
    ("default", _TEXT),
    ("unit", _TEXT),
    ("multiplication_factor", _TEXT),
    ("resolution", _DECIMAL),
    ("fraction_digits", pa.int32()),
    ("undefined_value", _TEXT),
    pa.field("passphrase", pa.bool_(), False),
]
"""The columns that type an attribute, a struct member or a derived type: kind, base type,
referenced enum, struct or derived type, sequence bounds, ranges, length, pattern, default,
unit, multiplication factor, resolution and whether it is a passphrase."""


MIMS_SCHEMA = pa.schema(
    [
        pa.field("mim", _TEXT, False),
        ("version", _TEXT),
        ("release", _TEXT),
        ("correction", _TEXT),
        ("namespace", _TEXT),
        ("namespace_prefix", _TEXT),
        ("revision", _TEXT),
        ("author", _TEXT),
        ("date", _TEXT),
        ("description", _TEXT),
        ("dtd_version", _TEXT),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per MIM (managed information model) of a model file."""

CLASSES_SCHEMA = pa.schema(
    [
        ("mim", _TEXT),
        pa.field("class", _TEXT, False),
        ("description", _TEXT),
        pa.field("system_created", pa.bool_(), False),
        pa.field("read_only", pa.bool_(), False),
        pa.field("root", pa.bool_(), False),
        ("lifecycle", _TEXT),
        ("lifecycle_text", _TEXT),
        ("filter", _TEXT),
        ("visibility", _TEXT),
        ("dependencies", _TEXT),
        ("precondition", _TEXT),
        ("attribute_count", pa.int64()),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per MO class of a MIM, with its flags and free-text dependencies."""

ATTRIBUTES_SCHEMA = pa.schema(
    [
        ("mim", _TEXT),
        pa.field("class", _TEXT, False),
        pa.field("attribute", _TEXT, False),
        *_TYPE_FIELDS,
        pa.field("mandatory", pa.bool_(), False),
        pa.field("read_only", pa.bool_(), False),
        pa.field("restricted", pa.bool_(), False),
        pa.field("key", pa.bool_(), False),
        pa.field("no_notification", pa.bool_(), False),
        pa.field("non_persistent", pa.bool_(), False),
        pa.field("lock_before_modify", pa.bool_(), False),
        pa.field("nillable", pa.bool_(), False),
        pa.field("is_counter", pa.bool_(), False),
        ("counter_type", _TEXT),
        ("lifecycle", _TEXT),
        ("lifecycle_text", _TEXT),
        ("filter", _TEXT),
        ("visibility", _TEXT),
        ("description", _TEXT),
        ("takes_effect", _TEXT),
        ("disturbances", _TEXT),
        ("dependencies", _TEXT),
        ("precondition", _TEXT),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per attribute of a class: its type (kind, base type, referenced enum or struct,
derived type), sequence bounds, ranges, length, pattern, default, unit, multiplication factor,
flags and texts."""

ENUMS_SCHEMA = pa.schema(
    [
        pa.field("mim", _TEXT, False),
        pa.field("enum", _TEXT, False),
        ("description", _TEXT),
        ("lifecycle", _TEXT),
        ("member_count", pa.int64()),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per enumeration of a MIM."""

ENUM_MEMBERS_SCHEMA = pa.schema(
    [
        pa.field("mim", _TEXT, False),
        pa.field("enum", _TEXT, False),
        pa.field("member", _TEXT, False),
        ("value", pa.int64()),
        ("description", _TEXT),
        ("lifecycle", _TEXT),
        ("lifecycle_text", _TEXT),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per enumeration member, with its integer value."""

STRUCTS_SCHEMA = pa.schema(
    [
        pa.field("mim", _TEXT, False),
        pa.field("struct", _TEXT, False),
        pa.field("exclusive", pa.bool_(), False),
        ("description", _TEXT),
        ("member_count", pa.int64()),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per struct of a MIM."""

STRUCT_MEMBERS_SCHEMA = pa.schema(
    [
        ("mim", _TEXT),
        pa.field("struct", _TEXT, False),
        pa.field("member", _TEXT, False),
        *_TYPE_FIELDS,
        pa.field("key", pa.bool_(), False),
        pa.field("nillable", pa.bool_(), False),
        ("lifecycle", _TEXT),
        ("lifecycle_text", _TEXT),
        ("description", _TEXT),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per struct member, typed as an attribute is."""

DERIVED_TYPES_SCHEMA = pa.schema(
    [
        pa.field("mim", _TEXT, False),
        pa.field("name", _TEXT, False),
        *_TYPE_FIELDS,
        ("description", _TEXT),
        ("lifecycle", _TEXT),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per derived type (a base type restricted by ranges, length or pattern)."""

CONTAINMENT_SCHEMA = pa.schema(
    [
        ("parent_mim", _TEXT),
        pa.field("parent", _TEXT, False),
        ("child_mim", _TEXT),
        pa.field("child", _TEXT, False),
        ("card_min", pa.int64()),
        ("card_max", pa.int64()),
        ("relationship", _TEXT),
        pa.field("source", _TEXT, False),
    ]
)
"""One row per parent-child relationship, with its cardinality."""

CATALOG_SCHEMAS: dict[str, pa.Schema] = {
    "mims": MIMS_SCHEMA,
    "classes": CLASSES_SCHEMA,
    "attributes": ATTRIBUTES_SCHEMA,
    "enums": ENUMS_SCHEMA,
    "enum_members": ENUM_MEMBERS_SCHEMA,
    "structs": STRUCTS_SCHEMA,
    "struct_members": STRUCT_MEMBERS_SCHEMA,
    "derived_types": DERIVED_TYPES_SCHEMA,
    "containment": CONTAINMENT_SCHEMA,
}
"""The catalog's tables by name, as :func:`rtbfast.read_model` gives them for an MP XML file.
Other sources (the workbook, what an export implies) give a subset of these columns, some
of their own, and a build stacks them (a column a source lacks is null for its rows)."""


# -- the network, as the Bulk CM reader produces it -----------------------------------------

MOS_SCHEMA = pa.schema(
    [
        pa.field("fdn", _TEXT, False),
        pa.field("class", _TEXT, False),
        pa.field("id", _TEXT, False),
        ("parent_fdn", _TEXT),
        ("depth", pa.int32()),
        ("vs_data_type", _TEXT),
        ("format_version", _TEXT),
        ("modifier", _TEXT),
    ]
)
"""One row per MO of an export: FDN, class, id, parent, depth, its vsData type and format
version, and the 3GPP ``modifier`` it carries, if any."""

VALUES_SCHEMA = pa.schema(
    [
        pa.field("fdn", _CODED, False),
        pa.field("attribute", _CODED, False),
        ("member", _CODED),
        ("index", pa.int32()),
        ("member_index", pa.int32()),
        pa.field("value", _TEXT, False),
        pa.field("vs_data", pa.bool_(), False),
    ]
)
"""One row per value of an export (a sequence item, a struct member, each its own row); FDN,
attribute and member dictionary-encoded."""

VS_TYPES_SCHEMA = pa.schema(
    [
        pa.field("vs_data_type", _TEXT, False),
        pa.field("class", _TEXT, False),
        ("format_version", _TEXT),
        ("mo_count", pa.int64()),
    ]
)
"""The vsData types of an export and the classes they name, with MO counts."""

OBSERVED_ATTRIBUTES_SCHEMA = pa.schema(
    [
        pa.field("class", _TEXT, False),
        pa.field("attribute", _TEXT, False),
        ("member", _TEXT),
        pa.field("kind", _TEXT, False),
        pa.field("is_sequence", pa.bool_(), False),
        ("max_occurs", pa.int32()),
        ("value_count", pa.int64()),
        ("empty_count", pa.int64()),
        ("example", _TEXT),
    ]
)
"""What the export shows of each attribute: kind inferred from its values, sequence, counts, an
example."""

NETWORK_SCHEMAS: dict[str, pa.Schema] = {
    "mos": MOS_SCHEMA,
    "values": VALUES_SCHEMA,
    "vs_types": VS_TYPES_SCHEMA,
    "observed_attributes": OBSERVED_ATTRIBUTES_SCHEMA,
}
"""The network's tables by name, as :func:`rtbfast.read_network` gives them."""


def _fields(schema: pa.Schema, *names: str) -> list[pa.Field]:
    return [schema.field(n) for n in names]


def _plain(field: pa.Field) -> pa.Field:
    """`field` as plain, nullable text where it is dictionary-encoded (and nullable)."""
    kind = _TEXT if pa.types.is_dictionary(field.type) else field.type
    return pa.field(field.name, kind)


def plain(schema: pa.Schema) -> pa.Schema:
    """`schema` with its dictionary-encoded columns as plain text (same names, order and
    nullability): the form a table takes where dictionaries do not exist (Spark DataFrames)."""
    return pa.schema([pa.field(f.name, _TEXT, f.nullable) if pa.types.is_dictionary(f.type) else f for f in schema])


# -- catalog tables of other sources: the workbook, what an export implies --------------------

WORKBOOK_ATTRIBUTES_SCHEMA = pa.schema(
    [
        *_fields(ATTRIBUTES_SCHEMA, "mim", "class", "attribute", "kind", "base_type", "type_ref", "is_sequence"),
        *_fields(ATTRIBUTES_SCHEMA, "seq_min", "seq_max", "ranges", "length_min", "length_max", "length_ranges"),
        *_fields(ATTRIBUTES_SCHEMA, "default", "unit", "multiplication_factor", "resolution", "lifecycle"),
        *_fields(ATTRIBUTES_SCHEMA, "lifecycle_text", "description", "dependencies", "mandatory", "read_only"),
        *_fields(ATTRIBUTES_SCHEMA, "restricted", "no_notification", "takes_effect", "disturbances", "precondition"),
        pa.field("persisted_in_enm", pa.bool_()),
        ATTRIBUTES_SCHEMA.field("source"),
    ]
)
"""The workbook's attributes (``Spreadsheets_Parameters.csv``): the catalog's columns it
knows, and whether ENM persists the attribute."""

WORKBOOK_STRUCT_MEMBERS_SCHEMA = pa.schema(
    [
        STRUCT_MEMBERS_SCHEMA.field("mim"),
        ATTRIBUTES_SCHEMA.field("class"),
        *_fields(STRUCT_MEMBERS_SCHEMA, "struct", "member", "kind", "base_type", "type_ref", "is_sequence"),
        *_fields(STRUCT_MEMBERS_SCHEMA, "seq_min", "seq_max", "ranges", "length_min", "length_max"),
        *_fields(STRUCT_MEMBERS_SCHEMA, "length_ranges", "default", "unit", "multiplication_factor", "resolution"),
        *_fields(STRUCT_MEMBERS_SCHEMA, "lifecycle", "lifecycle_text", "description"),
        ATTRIBUTES_SCHEMA.field("dependencies"),
        STRUCT_MEMBERS_SCHEMA.field("source"),
    ]
)
"""The workbook's struct members (``Spreadsheets_StructParameters.csv``): the catalog's
columns it knows, the class whose attribute holds the struct, and the Dependencies text."""

IMPLIED_ATTRIBUTES_SCHEMA = pa.schema(
    [
        ("class", _TEXT),
        ("attribute", _TEXT),
        ("kind", _TEXT),
        ("type_ref", _TEXT),
        ("is_sequence", pa.bool_()),
        ("value_count", pa.int64()),
        ("example", _TEXT),
    ]
)
"""The attributes an export implies (no model at hand): the kind its values show, how many
values and one example (a ``source`` column of ``export`` follows)."""

IMPLIED_STRUCT_MEMBERS_SCHEMA = pa.schema(
    [
        ("struct", _TEXT),
        ("member", _TEXT),
        ("kind", _TEXT),
        ("value_count", pa.int64()),
        ("example", _TEXT),
    ]
)
"""The struct members an export implies, as :data:`IMPLIED_ATTRIBUTES_SCHEMA`."""


# -- the network as the simulator holds and changes it --------------------------------------

NETWORK_VALUE_ROWS_SCHEMA = pa.schema(
    [_plain(f) for f in _fields(VALUES_SCHEMA, "fdn", "attribute", "member", "index", "value")]
)
"""Value rows of some MOs as plain text (:meth:`rtbfast.network_index.NetworkIndex.value_rows`)."""

SIMULATED_VALUES_SCHEMA = pa.schema([*(_plain(f) for f in VALUES_SCHEMA), ("version", pa.int64())])
"""The simulator's value rows: the network's values as plain text, and the version (the
simulator's step) that wrote each."""

NETWORK_CHANGES_SCHEMA = pa.schema(
    [
        ("change", _TEXT),
        *(_plain(f) for f in _fields(VALUES_SCHEMA, "fdn", "attribute", "member", "index")),
        ("before", _TEXT),
        ("after", _TEXT),
    ]
)
"""What a simulated run changed in the network, one row per value: ``change`` (``created``,
``deleted``, ``changed``), where, the value before and after."""


# -- judging: the constraints, Violations, template Findings and Verdicts ---------------------

CONSTRAINTS_SCHEMA = pa.schema(
    [
        ("class", _TEXT),
        ("attribute", _TEXT),
        ("member", _TEXT),
        ("kind", _TEXT),
        ("ranges", pa.list_(_BOUND)),
        ("resolution", _DECIMAL),
        ("decimal_places", pa.int32()),
        ("length_min", pa.int64()),
        ("length_max", pa.int64()),
        ("pattern", _TEXT),
        ("enum_names", pa.list_(_TEXT)),
        ("enum_values", pa.list_(pa.int64())),
        ("moref_target", _TEXT),
        ("is_sequence", pa.bool_()),
        ("seq_min", pa.int64()),
        ("seq_max", pa.int64()),
        ("seq_unique", pa.bool_()),
        ("unique_by", pa.list_(_TEXT)),
        ("exclusive", pa.bool_()),
        ("struct", _TEXT),
        ("read_only", pa.bool_()),
        ("restricted", pa.bool_()),
        ("mandatory", pa.bool_()),
        ("lock_before_modify", pa.bool_()),
        ("takes_effect", _TEXT),
        ("source", _TEXT),
    ]
)
"""The columns of the constraints table (the evaluator reads them by name; the last seven are
carried for reports and operation rules)."""

VIOLATIONS_SCHEMA = pa.schema(
    [
        ("subject", _TEXT),
        ("class", _TEXT),
        ("attribute", _TEXT),
        ("member", _TEXT),
        ("index", pa.int32()),
        pa.field("rule", _TEXT, False),
        pa.field("severity", _TEXT, False),
        pa.field("message", _TEXT, False),
        ("value", _TEXT),
        ("expected", _TEXT),
    ]
)
"""One row per violation: the MO (FDN), its class, the attribute (and struct member, and the
item's index in a sequence), the rule, ``error`` or ``warning``, a message, the value as
written and what was expected. Rules: ``type``, ``range``, ``resolution``, ``decimal_places``,
``length``, ``pattern``, ``enum``, ``moref``, ``sequence_length``, ``sequence_unique``,
``exclusive``, ``multiple_values``, ``unknown_member`` (errors); ``unknown_attribute`` and
``unknown_class`` (warnings: the catalog does not describe them)."""

FINDINGS_SCHEMA = pa.schema(
    [
        ("template", _TEXT),
        ("path", _TEXT),
        ("line", pa.int32()),
        ("column", pa.int32()),
        pa.field("severity", _TEXT, False),
        pa.field("code", _TEXT, False),
        pa.field("message", _TEXT, False),
        ("suggestion", _TEXT),
        *[f for f in VIOLATIONS_SCHEMA if f.name not in ("severity", "rule", "message")],
    ]
)
"""One row per finding: where (template file, JSON pointer, line, column), how bad
(``error``, ``warning``, ``info``), what (``code``, the evaluator's rule for a value),
``message``, ``suggestion``, and the Violations columns (``subject`` is the MO's pointer)."""

FINDING_PARTS_SCHEMA = pa.schema(
    [
        ("template", pa.int32()),
        ("path", _TEXT),
        ("severity", _TEXT),
        ("code", _TEXT),
        ("message", _TEXT),
        ("suggestion", _TEXT),
        ("line", pa.int32()),
        ("column", pa.int32()),
        ("typed", pa.bool_()),
        ("pointed", pa.bool_()),
        *[pa.field(f.name, f.type) for f in VIOLATIONS_SCHEMA if f.name not in ("severity", "rule", "message")],
    ]
)
"""The columns a template check collects findings in (:mod:`rtbfast.templates.check`): where
(template index, pointer; line and column where already known), what, whether `path` is a
typed document's already (`typed`) and whether the message ends with the pointer (`pointed`,
as expansion's notes do), and the Violations columns."""

# -- acting: the ChangeSet, the Plan derived from it, what its rollback cannot know ----------

CHANGESET_SCHEMA = pa.schema(
    [
        pa.field("phase", _TEXT, False),
        pa.field("phase_order", pa.int32(), False),
        pa.field("seq", pa.int64(), False),
        pa.field("op", _TEXT, False),
        pa.field("fdn", _TEXT, False),
        pa.field("class", _TEXT, False),
        ("attribute", _TEXT),
        ("member", _TEXT),
        ("index", pa.int32()),
        ("value", _TEXT),
        ("target", _TEXT),
        ("source", _TEXT),
    ]
)
"""The ChangeSet's columns."""

VERDICTS_SCHEMA = pa.schema([*VIOLATIONS_SCHEMA, ("seq", pa.int64()), ("source", _TEXT), ("target", _TEXT)])
"""The Violations columns (``subject`` is the MO's FDN), and the ChangeSet row each is
about: its ``seq``, ``source`` and ``target``."""

PLAN_SCHEMA = pa.schema(
    [
        pa.field("step", pa.int64(), False),
        *(f for f in CHANGESET_SCHEMA if f.name not in ("seq", "target", "source")),
        ("kind", _TEXT),
        ("is_sequence", pa.bool_()),
        CHANGESET_SCHEMA.field("source"),
    ]
)
"""The Plan's steps: the step number, the ChangeSet's columns of the change it makes (a lock,
unlock or relink step is one the planner adds: ``source`` null), and the attribute's
``kind`` and sequence flag from the catalog (to render and compare its value)."""

UNKNOWN_ROLLBACK_SCHEMA = pa.schema(
    [
        ("fdn", _TEXT),
        ("class", _TEXT),
        ("attribute", _TEXT),
        ("step", pa.int64()),
        ("source", _TEXT),
    ]
)
"""The attributes a plan changes whose value before is not in the export: the MO, the
attribute, the first step changing it and the ChangeSet row it comes from."""


# -- a plan made node group by node group (rtbfast.enm.plan_stream): its working tables ----------

PLAN_PLACES_SCHEMA = pa.schema(
    [
        ("step", pa.int64()),
        ("phase_order", pa.int32()),
        ("rank", pa.int8()),
        ("a", pa.int64()),
        ("b", pa.int64()),
        ("c", pa.int8()),
        ("d", pa.int64()),
        ("e", pa.int64()),
        ("s", _TEXT),
        ("window", pa.int32()),
    ]
)
"""A batch's steps and their places in the whole plan's order (``rtbfast.enm.plan_group.PLACE``),
as the order keeps them until every batch is planned."""

PLAN_NEEDING_LOCK_SCHEMA = pa.schema(
    [("phase_order", pa.int32()), ("fdn", _TEXT), ("attribute", _TEXT), ("seq", pa.int64()), ("row", pa.int64())]
)
"""The sets whose attribute needs a lock, in ChangeSet order (``seq``, then the row)."""

PLAN_EFFECT_WRITES_SCHEMA = pa.schema(
    [("fdn", _TEXT), ("class", _TEXT), ("attribute", _TEXT), ("seq", pa.int64()), ("row", pa.int64())]
)
"""The writes of attributes whose change takes effect at an unlock or a restart, or disturbs."""

PLAN_SUMMARY_CHANGES_SCHEMA = pa.schema(
    [
        ("node", _TEXT),
        ("class", _TEXT),
        ("mos", pa.int64()),
        ("create", pa.int64()),
        ("set", pa.int64()),
        ("delete", pa.int64()),
        ("attributes", pa.list_(_TEXT)),
    ]
)
"""The summary's count of what changes where, per node and class."""


# -- comparing: a plan verified on the next export, two networks, two model releases ---------

VERIFY_SCHEMA = pa.schema(
    [
        pa.field("status", _TEXT, False),
        pa.field("fdn", _TEXT, False),
        ("node", _TEXT),
        ("class", _TEXT),
        ("attribute", _TEXT),
        pa.field("op", _TEXT, False),
        ("planned", _TEXT),
        ("found", _TEXT),
        ("before", _TEXT),
        ("step", pa.int64()),
        ("source", _TEXT),
    ]
)
"""One row per planned value (a whole attribute of an MO: its items and members), created MO
and deleted MO of a plan, judged on the export taken after it: ``status`` (``held``,
``not_taken``: the value from before the plan is still there, ``drifted``: a value neither
the plan's nor the one before, ``mo_missing``: the MO is not in the export, ``unexpected``: an
MO the plan deletes is still there), the MO and its node, the attribute (null for a create or
delete of the MO), the plan's ``op``, the values planned, found and before the plan (as
shown: ``member=value`` items joined by ``, ``), the last plan step writing it and its
ChangeSet source."""

NETWORK_DIFF_MOS_SCHEMA = pa.schema(
    [
        pa.field("change", _TEXT, False),
        pa.field("fdn", _TEXT, False),
        ("node", _TEXT),
        ("class", _TEXT),
        ("parent_fdn", _TEXT),
    ]
)
"""One row per MO in one network only: ``change`` (``added``: in B only, ``removed``: in A
only), the MO, its node, class and parent."""

NETWORK_DIFF_VALUES_SCHEMA = pa.schema(
    [
        pa.field("change", _TEXT, False),
        pa.field("fdn", _TEXT, False),
        ("node", _TEXT),
        ("class", _TEXT),
        pa.field("attribute", _TEXT, False),
        ("value_a", _TEXT),
        ("value_b", _TEXT),
    ]
)
"""One row per attribute of an MO both networks hold whose whole value differs: ``change``
(``changed``, ``added``: only B has a value, ``removed``: only A has one), the MO, its node
and class, the attribute and its value in A and in B (items and members as ``member=value``
joined by ``, ``)."""

RELATION_CHANGES_SCHEMA = pa.schema(
    [
        pa.field("parent_fdn", _TEXT, False),
        ("node", _TEXT),
        pa.field("class", _TEXT, False),
        pa.field("in_a", pa.int64(), False),
        pa.field("in_b", pa.int64(), False),
        pa.field("added", pa.int64(), False),
        pa.field("removed", pa.int64(), False),
        pa.field("changed", pa.int64(), False),
    ]
)
"""Relations (MOs of a class whose name ends in ``Relation``) per parent and class: a cell's
frequency relations, a frequency relation's neighbour relations; how many each network holds,
how many were added, removed, or hold another value."""

DIFF_COUNTS_SCHEMA = pa.schema(
    [
        pa.field("level", _TEXT, False),
        pa.field("name", _TEXT, False),
        pa.field("mos_added", pa.int64(), False),
        pa.field("mos_removed", pa.int64(), False),
        pa.field("values_changed", pa.int64(), False),
    ]
)
"""The differences counted per ``level`` (``node``, ``class``, ``attribute``) and name."""

MODEL_CHANGES_SCHEMA = pa.schema(
    [
        pa.field("change", _TEXT, False),
        pa.field("severity", _TEXT, False),
        ("mim", _TEXT),
        pa.field("class", _TEXT, False),
        ("attribute", _TEXT),
        ("member", _TEXT),
        ("old", _TEXT),
        ("new", _TEXT),
        pa.field("message", _TEXT, False),
    ]
)
"""One row per difference between two model releases: ``change`` (``class_added``,
``class_removed``, ``class_renamed``, ``attribute_added``, ``attribute_removed``,
``attribute_renamed``, ``type``, ``range``, ``length``, ``enum_member_added``,
``enum_member_removed``, ``default``, ``unit``, ``multiplication_factor``, ``read_only``,
``restricted``, ``mandatory``, ``lock_before_modify``, ``takes_effect``, ``sequence``,
``containment_added``, ``containment_removed``, ``cardinality``), how it bears on what was
written for the old release (``breaking``, ``meaning``: the same text means another thing,
``info``), where (the MIM of the new release, else the old; class; attribute; struct member
or enum member, or the child class for containment), the old and new value as text, a
message."""

TEMPLATE_IMPACT_SCHEMA = pa.schema(
    [
        pa.field("template", _TEXT, False),
        ("path", _TEXT),
        ("line", pa.int32()),
        ("column", pa.int32()),
        pa.field("severity", _TEXT, False),
        pa.field("change", _TEXT, False),
        ("class", _TEXT),
        ("attribute", _TEXT),
        ("value", _TEXT),
        pa.field("message", _TEXT, False),
    ]
)
"""One row per template key or value a model change bears on: where (template file, JSON
pointer, line, column), ``breaking`` or ``meaning``, the model change (a ``change`` of
:data:`MODEL_CHANGES_SCHEMA`), the class, attribute and value the template writes, a message."""


# -- Spark (rtbfast.spark): what crosses between the driver and the tasks ----------------------

SPARK_CHUNKS_SCHEMA = pa.schema(
    [
        pa.field("file", pa.int32(), False),
        pa.field("chunk", pa.int32(), False),
        pa.field("path", _TEXT, False),
        pa.field("start", pa.int64(), False),
        pa.field("end", pa.int64()),
        pa.field("head_end", pa.int64(), False),
        pa.field("access", pa.binary()),
    ]
)
"""One row per chunk of an export (``rtbfast.spark.network``): which file (its place among the
paths), the chunk's place in it, its byte range and the end of the file's head (offsets of the
decompressed stream for a compressed export), and for a chunk of a compressed export the access
point its task inflates from (``_native.bulkcm_chunks``: about 32 KiB, the deflate window)."""

SPARK_AUDIT_ROWS_SCHEMA = pa.schema(
    [
        # nullable: the rows that are not violations leave them empty
        *(pa.field(f.name, f.type) for f in VIOLATIONS_SCHEMA),
        ("node", _TEXT),
        pa.field("file", pa.int32(), False),
        pa.field("chunk", pa.int32(), False),
        pa.field("kind", _TEXT, False),
        ("blob", pa.binary()),
    ]
)
"""What each audit task gives (``rtbfast.spark.audit_job``): its violations (``kind``
``violation``, with their ``node``), then a ``shared`` row (the MOs its uniqueness rules compare
across nodes, as Arrow IPC in ``blob``) and a ``tally`` row (its counts and warnings, JSON in
``blob``)."""
