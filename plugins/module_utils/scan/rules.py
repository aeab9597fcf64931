# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The breaking changes between pg_tviews 0.1 and 0.2 as a table of rules.

One row per rule: what it matches, how bad it is, what breaks, what to write instead and
whether ``tviews_code_scan fix=true`` may rewrite it. Everything else in ``scan_*`` reads
this table; nothing else knows a pg_tviews function name. Sources: the runbook's greps
and reference §5 (planned 0.2 API, the 26 real 0.1 ``TViewError`` variants).

Rule kinds:

- ``call``: an SQL function call, the name followed by ``(`` (``prefixes`` match a family).
- ``relation``: an SQL relation name that is neither called nor used as a qualifier.
- ``rust-ident``: a Rust identifier in code (not in comments or strings).
- ``rust-variant``: ``TViewError::<Variant>`` in Rust code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
from collections import namedtuple

# Most severe first; fail_on=<severity> fails on that severity and every one before it.
SEVERITIES = ('error', 'warning', 'info')

Rule = namedtuple('Rule', 'id severity scope kind names prefixes breaks replacement autofix')

# What a 0.1 TViewError variant becomes in 0.2 (reference §5.1 #2): MetadataNotFound ->
# NotFound, RefreshFailed -> Refresh, every other variant -> Internal.
_NOT_FOUND = 'TViewError::NotFound { entity, reason } (reason "metadata not found")'
_REFRESH = 'TViewError::Refresh { entity, reason }'
_INTERNAL = 'TViewError::Internal { reason }'
TVIEW_ERROR_VARIANTS = (
    ('MetadataNotFound', _NOT_FOUND),
    ('TViewAlreadyExists', _INTERNAL),
    ('InvalidTViewName', _INTERNAL),
    ('CircularDependency', _INTERNAL),
    ('DependencyDepthExceeded', _INTERNAL),
    ('DependencyResolutionFailed', _INTERNAL),
    ('InvalidSelectStatement', _INTERNAL),
    ('RequiredColumnMissing', _INTERNAL),
    ('TypeInferenceFailed', _INTERNAL),
    ('JsonbIvmNotInstalled', _INTERNAL),
    ('ExtensionVersionMismatch', _INTERNAL),
    ('LockTimeout', _INTERNAL),
    ('DeadlockDetected', _INTERNAL),
    ('CascadeDepthExceeded', _INTERNAL),
    ('RefreshFailed', _REFRESH),
    ('BatchTooLarge', _INTERNAL),
    ('DependencyCycle', _INTERNAL),
    ('PropagationDepthExceeded', _INTERNAL),
    ('CatalogError', _INTERNAL),
    ('SpiError', _INTERNAL),
    ('SerializationError', _INTERNAL),
    ('ConfigError', _INTERNAL),
    ('CacheError', _INTERNAL),
    ('CallbackError', _INTERNAL),
    ('MetricsError', _INTERNAL),
    ('InternalError', _INTERNAL),
    # Not a 0.1 variant: the runbook's grep names it. 0.2 keeps it only behind the cargo
    # feature `detailed-errors`.
    ('CacheMiss', _INTERNAL + ' (CacheMiss exists in 0.2 only with the cargo feature detailed-errors)'),
)

_META_COLUMNS = ('public.pg_tviews_metadata; columns differ: entity -> entity_name, table_oid -> tview_name, '
                 'view_oid -> view_name; dependency_types, dependency_paths and array_match_keys have no '
                 'equivalent; new: primary_key, refresh_policy, last_refreshed, last_refresh_duration_ms, '
                 'last_error, rows_cached')

RULES = (
    Rule(
        id='sql-refresh-one', severity='error', scope='sql', kind='call',
        names=('pg_tviews_refresh_one',), prefixes=(),
        breaks='pg_tviews_refresh_one() does not exist in 0.2 (the runbook calls it 0.1 API; real 0.1 never had it)',
        replacement='pg_tviews_refresh(tview_name => <entity>, primary_keys => ARRAY[<pk>]::bigint[])',
        autofix=True),
    Rule(
        id='sql-refresh-batch', severity='error', scope='sql', kind='call',
        names=('pg_tviews_refresh_batch',), prefixes=(),
        breaks='pg_tviews_refresh_batch() does not exist in 0.2 (nor in real 0.1)',
        replacement='pg_tviews_refresh(tview_name => <entity>, primary_keys => <pks>)',
        autofix=True),
    Rule(
        id='sql-refresh-all', severity='error', scope='sql', kind='call',
        names=('pg_tviews_refresh_all',), prefixes=(),
        breaks='pg_tviews_refresh_all() does not exist in 0.2 (nor in real 0.1)',
        replacement="pg_tviews_refresh(tview_name => <pattern>) (a LIKE pattern such as 'public.%')",
        autofix=True),
    Rule(
        id='sql-refresh-cascade', severity='error', scope='sql', kind='call',
        names=('pg_tviews_refresh_cascade',), prefixes=(),
        breaks='pg_tviews_refresh_cascade() does not exist in 0.2 (nor in real 0.1)',
        replacement='pg_tviews_refresh(tview_name => <entity>, cascade => true)',
        autofix=True),
    Rule(
        id='sql-refresh-entity', severity='error', scope='sql', kind='call',
        names=('pg_tviews_refresh',), prefixes=(),
        breaks="0.1 pg_tviews_refresh(entity) takes a bare entity ('post'); 0.2 takes tview_name ('tv_post') "
               "and a single positional argument is ambiguous against the new signature",
        replacement="pg_tviews_refresh(tview_name => 'tv_<entity>')",
        autofix=True),
    Rule(
        id='sql-debug-function', severity='error', scope='sql', kind='call',
        names=('pg_tviews_performance_stats',), prefixes=('pg_tviews_debug_',),
        breaks='debugging functions are removed in 0.2',
        replacement='none: remove the call',
        autofix=False),
    Rule(
        id='sql-create-drop', severity='info', scope='sql', kind='call',
        names=('pg_tviews_create', 'pg_tviews_drop'), prefixes=(),
        breaks='kept in 0.2, but the runbook lists it among the changed functions: review the call',
        replacement='no change needed (kept in 0.2)',
        autofix=False),
    Rule(
        id='sql-internal-table', severity='error', scope='sql', kind='relation',
        names=('pg_tview_meta', 'pg_tview_helpers', 'pg_tview_audit_log'), prefixes=(),
        breaks='0.1 internal tables are gone from public in 0.2 (moved to the internal schema, new layout)',
        replacement=_META_COLUMNS,
        autofix=False),
    Rule(
        id='rust-refresh-pk', severity='error', scope='rust', kind='rust-ident',
        names=('refresh_pk',), prefixes=(),
        breaks='refresh_pk(oid, pk) is renamed and takes a TVIEW name instead of an OID in 0.2',
        replacement='refresh_tview_row("<schema>.<table>", pk)',
        autofix=False),
    Rule(
        id='rust-get-table-oid', severity='warning', scope='rust', kind='rust-ident',
        names=('get_table_oid',), prefixes=(),
        breaks='the OID lookup only fed refresh_pk; refresh_tview_row takes the "<schema>.<table>" name',
        replacement='drop the lookup; pass "<schema>.<table>" to refresh_tview_row',
        autofix=False),
    Rule(
        id='rust-refresh-batch', severity='error', scope='rust', kind='rust-ident',
        names=('refresh_batch',), prefixes=(),
        breaks='refresh_batch(entity, pks) is renamed in 0.2',
        replacement='refresh_tview_rows("<schema>.<table>", &pks)',
        autofix=False),
    Rule(
        id='rust-error-variant', severity='error', scope='rust', kind='rust-variant',
        names=tuple(v for v, dummy in TVIEW_ERROR_VARIANTS), prefixes=(),
        breaks='0.2 has three TViewError variants: NotFound, Refresh, Internal',
        replacement=_INTERNAL,
        autofix=False),
)

RULES_BY_ID = dict((r.id, r) for r in RULES)

# Per-name replacements where one rule covers several names.
_NAME_REPLACEMENTS = {
    'pg_tviews_performance_stats': 'none: removed in 0.2; for sizes use pg_total_relation_size(\'tv_<entity>\') '
                                   'and pg_tviews_metadata.rows_cached',
    'pg_tview_helpers': 'no public equivalent in 0.2; TVIEW dependencies are in pg_tviews_metadata.dependencies',
    'pg_tview_audit_log': 'no public equivalent in 0.2; pg_tviews_metadata has created_at, last_refreshed and last_error',
}
_NAME_REPLACEMENTS.update(dict(TVIEW_ERROR_VARIANTS))


def replacement_for(rule, name):
    """The replacement text for one matched name of a rule."""
    return _NAME_REPLACEMENTS.get(name, rule.replacement)


def severity_rank(severity):
    """0 for the most severe; ``never`` (or anything unknown) ranks below every severity."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return len(SEVERITIES)


def at_or_above(severity, threshold):
    """True when a finding of ``severity`` reaches the ``fail_on`` threshold."""
    return threshold in SEVERITIES and severity_rank(severity) <= severity_rank(threshold)


class UnknownRuleError(ValueError):
    pass


def select_rules(enable=None, disable=None):
    """The rules to run: those matching any ``enable`` glob (all when empty), minus those
    matching a ``disable`` glob. A glob that matches no rule id is an error (a typo would
    otherwise silently turn a rule off)."""
    def matching(patterns):
        chosen = set()
        for pattern in patterns or ():
            hits = [r.id for r in RULES if fnmatch.fnmatchcase(r.id, pattern)]
            if not hits:
                raise UnknownRuleError('no rule matches %r; known rules: %s' % (pattern, ', '.join(RULES_BY_ID)))
            chosen.update(hits)
        return chosen
    enabled = matching(enable) if enable else set(RULES_BY_ID)
    disabled = matching(disable)
    return tuple(r for r in RULES if r.id in enabled and r.id not in disabled)
