"""Rules: the per-attribute constraints of a catalog and their bulk evaluation.

::

    from rtbfast.rules import constraint_table, evaluate
    constraints = constraint_table(catalog_tables)       # one row per attribute / struct member
    result = evaluate(network.tables, constraints)       # native, all cores, GIL released
    result.violations                                    # pyarrow.Table, one row per violation
"""

from rtbfast.rules.bulk import Evaluation, evaluate
from rtbfast.rules.constraints import Constraints, constraint_table

__all__ = ["Constraints", "Evaluation", "constraint_table", "evaluate"]
