"""One query language for every list: a filter AST, sort keys and a page.

The native API and each dialect parse their own syntax into a `ListQuery`; `store` compiles it
to SQL over a whitelist of fields per object, so filtering and paging happen in the database.
"""

from modelport.query.ast import And, Cond, Filter, ListQuery, Not, Op, Or, Sort

__all__ = ["And", "Cond", "Filter", "ListQuery", "Not", "Op", "Or", "Sort"]
