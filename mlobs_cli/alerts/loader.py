"""Read a rule file, in any form users keep rules in, into a `RuleFile` with the line of every key and value.

Forms (one per YAML document; a file may hold several documents, and every one is read, unlike promtool):

- "prometheus": a Prometheus rule file, `groups:` at the top.
- "thanos": the same, with the Thanos ruler's group key `partial_response_strategy`.
- "prometheusrule": a Kubernetes `PrometheusRule` manifest (`apiVersion`, `kind: PrometheusRule`, `spec.groups`).
  Other Kubernetes objects in the same file are skipped.
- "seed": the design document's shorthand, a top-level `alerts:` list of `name`, `expr`, `for`, `severity`,
  `labels`, `annotations`; `severity` becomes a label; the file is one group named after the file.

The YAML is composed into nodes (libyaml's C parser when PyYAML has it), never constructed into Python objects,
so that every key and value keeps its line, duplicate keys can be seen (PyYAML's constructor keeps the last one
silently), and custom tags do not fail. Only a file that cannot be read, is not UTF-8, or is not YAML at all
raises `RuleFileError`; everything else wrong with a file is a `Problem` in `RuleFile.problems`:

- `yaml/duplicate-key` (error): a key given twice in one mapping (the last one is used, as PyYAML does;
  Prometheus refuses the file).
- `rule/structure`: what Prometheus (promtool 2.42) refuses: unknown keys, a group without `name`, a rule with
  both or neither of `alert`/`record`, a missing or empty `expr`, `for`/`keep_firing_for`/`annotations` on a
  recording rule, an invalid recording-rule or label name, labels or annotations that are not a mapping of
  strings; and a document that is not a rule file in any form. Two are warnings, because promtool accepts them:
  a group without `rules`, a label or annotation value that is a YAML number or boolean (`page: true`; Prometheus
  reads its text, but the PrometheusRule CRD schema types them as strings, so there it is an error), and a zero
  `for` on a recording rule.

Inline control, read from the comments of the raw text: `# mlobs: disable=check/name[,other/name]` on the line of
a rule's first key or on the comment lines directly above the rule disables those checks for the rule; the same
comment anywhere before the first group disables them for the whole file.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlobs_cli import yamlbounds
from mlobs_cli.alerts.base import Group, Problem, Rule, RuleFile, Severity

try:
    _Base = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Base = yaml.SafeLoader  # type: ignore[misc]


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader with its tag resolution memoized: libyaml parses in C but asks Python for the tag of every
    node, through regular expressions, and rule files repeat the same few keys and values thousands of times.
    No path resolvers are registered, so descending into and out of a node has nothing to do."""

    _tags: ClassVar[dict[tuple[type, str | None, object], str]] = {}

    def resolve(self, kind: type, value: str | None, implicit: object) -> str:
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag

    def descend_resolver(self, _node: object, _index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

DUPLICATE_KEY = "yaml/duplicate-key"
STRUCTURE = "rule/structure"

STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"

RECORD_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
DISABLE = re.compile(r"#\s*mlobs:\s*disable\s*=\s*([A-Za-z0-9_/\-]+(?:\s*,\s*[A-Za-z0-9_/\-]+)*)")
LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")  # the line breaks of LINE_BREAK besides \n

FILE_KEYS = frozenset({"groups"})
MANIFEST_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec"})
SPEC_KEYS = frozenset({"groups"})
SEED_FILE_KEYS = frozenset({"alerts"})
GROUP_KEYS = frozenset({"name", "interval", "limit", "query_offset", "labels", "rules"})
THANOS_GROUP_KEY = "partial_response_strategy"
RULE_KEYS = frozenset({"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"})
SEED_RULE_KEYS = frozenset({"name", "expr", "for", "severity", "labels", "annotations"})


class RuleFileError(Exception):
    """The file cannot be read, is not UTF-8 text, or is not YAML at all. The message is one line."""


def load(path: str) -> RuleFile:
    """Read the rule file at `path`.

    Raises:
        RuleFileError: the file is unreadable, not UTF-8, or not parsable as YAML.
    """
    text = _read(path)
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
        for document in documents:
            yamlbounds.check(document)
    except yaml.YAMLError as e:
        raise RuleFileError(_yaml_error(e, text)) from None
    except RecursionError:
        raise RuleFileError("YAML nested too deeply") from None
    # The regular expression is slow on big files; most files break lines with \n alone.
    lines = tuple(LINE_BREAK.split(text) if any(c in text for c in OTHER_BREAKS) else text.split("\n"))
    if lines and lines[-1] == "":
        lines = lines[:-1]
    return _Reader(path, lines).read(documents)


def _read(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise RuleFileError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RuleFileError(f"not UTF-8 text: byte 0x{data[e.start]:02x} at line {line}") from None
    return text.removeprefix("\ufeff")


def _yaml_error(e: yaml.YAMLError, text: str) -> str:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    if isinstance(e, yaml.MarkedYAMLError):
        what = "; ".join(str(p).strip() for p in (e.context, e.problem) if p)
    else:
        what = str(e).splitlines()[0] if str(e) else type(e).__name__
    if mark is not None:
        where = f"line {mark.line + 1}, column {mark.column + 1}"
    elif isinstance(getattr(e, "position", None), int):  # yaml.reader.ReaderError
        where = f"line {text[: e.position].count(chr(10)) + 1}"  # type: ignore[attr-defined]
    else:
        where = "unknown line"
    return f"invalid YAML at {where}: {' '.join(what.split())}"


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _column(node: Node) -> int:
    return node.start_mark.column + 1


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == NULL_TAG)


def _pairs(node: MappingNode) -> dict[str, tuple[Node, Node]]:
    """The mapping's scalar keys -> (key node, value node); of two equal keys the last wins, as in PyYAML."""
    return {k.value: (k, v) for k, v in node.value if isinstance(k, ScalarNode)}


class _Reader:
    def __init__(self, path: str, lines: tuple[str, ...]) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[Problem] = []
        self.rule_spans: list[tuple[int, int, str]] = []  # first line, last line, rule name
        self.in_manifest = False  # label values must then be strings (the CRD's schema)

    # -- problems -------------------------------------------------------------------------------------------
    def structure(self, message: str, node: Node | int, rule: str | None = None,
                  severity: Severity = Severity.ERROR) -> None:
        if isinstance(node, int):
            self.problems.append(Problem(STRUCTURE, severity, message, node, None, rule))
        else:
            self.problems.append(Problem(STRUCTURE, severity, message, _line(node), _column(node), rule))

    def unknown_keys(self, pairs: dict[str, tuple[Node, Node]], allowed: frozenset[str], where: str,
                     rule: str | None = None) -> None:
        for key, (knode, _) in pairs.items():
            if key not in allowed:
                self.structure(f"unknown key {key!r} in {where} (allowed: {', '.join(sorted(allowed))})",
                               knode, rule)

    def text(self, node: Node | None, what: str, rule: str | None = None) -> str | None:
        """A scalar's text; None for null or absent; a problem (and None) for a mapping or a list."""
        if _is_null(node):
            return None
        if isinstance(node, ScalarNode):
            return node.value
        self.structure(f"{what} must be a string, not a {'mapping' if isinstance(node, MappingNode) else 'list'}",
                       node, rule)
        return None

    # -- duplicate keys, anywhere in the file ---------------------------------------------------------------
    def duplicate_keys(self, documents: list[Node]) -> None:
        seen_nodes: set[int] = set()
        stack = [d for d in documents if d is not None]
        while stack:
            node = stack.pop()
            if id(node) in seen_nodes:
                continue
            seen_nodes.add(id(node))
            if isinstance(node, MappingNode):
                keys = [k.value for k, _ in node.value if isinstance(k, ScalarNode) and k.value != "<<"]
                if len(set(keys)) < len(keys):  # rare: only then find which keys, key by key
                    self.report_duplicate_keys(node)
                stack += [v for _, v in node.value if not isinstance(v, ScalarNode)]  # a scalar holds no keys
            elif isinstance(node, SequenceNode):
                stack += [v for v in node.value if not isinstance(v, ScalarNode)]

    def report_duplicate_keys(self, node: MappingNode) -> None:
        first: dict[str, Node] = {}
        for k, _ in node.value:
            if isinstance(k, ScalarNode) and k.value != "<<":
                if k.value in first:
                    self.problems.append(Problem(
                        DUPLICATE_KEY, Severity.ERROR,
                        f"duplicate key {k.value!r} (first at line {_line(first[k.value])}): "
                        "PyYAML keeps the last value silently, Prometheus refuses the file",
                        _line(k), _column(k)))
                else:
                    first[k.value] = k

    # -- the file -------------------------------------------------------------------------------------------
    def read(self, documents: list[Node]) -> RuleFile:
        self.duplicate_keys(documents)
        groups: list[Group] = []
        form: str | None = None
        skipped_objects = 0
        for root in documents:
            if _is_null(root):
                continue
            if not isinstance(root, MappingNode):
                self.structure("a YAML document that is not a mapping is not a rule file: expected `groups:`, "
                               "a PrometheusRule manifest or an `alerts:` list", root)
                continue
            top = _pairs(root)
            if "kind" in top or "apiVersion" in top:
                kind = top.get("kind")
                if kind is None or not isinstance(kind[1], ScalarNode) or kind[1].value != "PrometheusRule":
                    skipped_objects += 1  # another Kubernetes object (ConfigMap, Service...): not rules
                    continue
                self.in_manifest = True
                doc_form, doc_groups = "prometheusrule", self.manifest(top, root)
                self.in_manifest = False
            elif "groups" in top:
                self.unknown_keys(top, FILE_KEYS, "a rule file")
                doc_groups = self.groups(top["groups"][1])
                thanos = any(THANOS_GROUP_KEY in g.keys for g in doc_groups)
                doc_form = "thanos" if thanos else "prometheus"
            elif "alerts" in top:
                self.unknown_keys(top, SEED_FILE_KEYS, "a seed rule file")
                doc_form, doc_groups = "seed", self.seed(top)
            else:
                self.structure("not a rule file: expected a top-level `groups:` (Prometheus, Thanos), a "
                               "Kubernetes PrometheusRule manifest or an `alerts:` list (seed shorthand)", root)
                continue
            form = form or doc_form
            groups += doc_groups
        if form is None and skipped_objects and not self.problems:
            self.structure("no PrometheusRule among the Kubernetes objects of this file: not a rule file", 1)
        self.assign_duplicates_to_rules()
        comments = self.disable_comments()
        groups = self.apply_disables(groups, comments)
        first_group = min((g.line for g in groups), default=len(self.lines) + 1)
        file_disabled = frozenset(n for line, names in comments.items() if line < first_group
                                  for n in names)
        problems = sorted(self.problems, key=lambda p: (p.line, p.column or 0, p.check))
        return RuleFile(self.path, form or "prometheus", tuple(groups), tuple(problems), file_disabled, self.lines)

    def manifest(self, top: dict[str, tuple[Node, Node]], root: MappingNode) -> list[Group]:
        self.unknown_keys(top, MANIFEST_KEYS, "a PrometheusRule manifest")
        if "spec" not in top:
            self.structure("PrometheusRule manifest without `spec`", root)
            return []
        spec = top["spec"][1]
        if _is_null(spec):
            return []
        if not isinstance(spec, MappingNode):
            self.structure("`spec` must be a mapping with `groups`", spec)
            return []
        spec_pairs = _pairs(spec)
        self.unknown_keys(spec_pairs, SPEC_KEYS, "the `spec` of a PrometheusRule")
        return self.groups(spec_pairs["groups"][1]) if "groups" in spec_pairs else []

    # -- groups ---------------------------------------------------------------------------------------------
    def groups(self, node: Node) -> list[Group]:
        if _is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.structure("`groups` must be a list of groups", node)
            return []
        found = []
        for item in node.value:
            if not isinstance(item, MappingNode):
                self.structure("a group must be a mapping with `name` and `rules`", item)
                continue
            found.append(self.group(item))
        return found

    def group(self, node: MappingNode) -> Group:
        pairs = _pairs(node)
        self.unknown_keys(pairs, GROUP_KEYS | {THANOS_GROUP_KEY}, "a group")
        name = self.text(pairs["name"][1], "a group's `name`") if "name" in pairs else None
        if not name:
            self.structure("group without a `name`", node)
        name = name or ""
        if "labels" in pairs:
            self.string_map(pairs["labels"][1], "label", None)
        rules: list[Rule] = []
        if "rules" not in pairs:
            self.structure(f"group {name!r} has no `rules`", node, severity=Severity.WARNING)
        else:
            rules_node = pairs["rules"][1]
            if isinstance(rules_node, SequenceNode):
                for item in rules_node.value:
                    rule = self.rule(item, name)
                    if rule is not None:
                        rules.append(rule)
            elif not _is_null(rules_node):
                self.structure("`rules` must be a list of rules", rules_node)
        return Group(name, _line(node), tuple(rules), {k: _line(kn) for k, (kn, _) in pairs.items()})

    # -- rules ----------------------------------------------------------------------------------------------
    def rule(self, node: Node, group: str) -> Rule | None:
        if not isinstance(node, MappingNode):
            self.structure("a rule must be a mapping with `alert` or `record` and `expr`", node)
            return None
        pairs = _pairs(node)
        alert = self.text(pairs["alert"][1], "`alert`") if "alert" in pairs else None
        record = self.text(pairs["record"][1], "`record`") if "record" in pairs else None
        name = alert or record
        self.rule_spans.append((_line(node), node.end_mark.line + 1, name or ""))
        self.unknown_keys(pairs, RULE_KEYS, "a rule", name)
        if alert and record:
            self.structure(f"rule has both `alert` ({alert!r}) and `record` ({record!r}): only one may be set",
                           node, name)
        elif not name:
            self.structure("rule has neither `alert` nor `record`", node)
            return None
        kind = "alert" if alert else "record"
        if kind == "record":
            if not RECORD_NAME.fullmatch(name):
                self.structure(f"invalid recording rule name {name!r}: must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                               pairs["record"][1], name)
            for key in ("for", "keep_firing_for"):
                if key in pairs and not _is_null(pairs[key][1]):
                    value = pairs[key][1]
                    zero = isinstance(value, ScalarNode) and re.fullmatch(r"0|(0+(y|w|d|h|m|s|ms))+", value.value)
                    self.structure(f"`{key}` on a recording rule" + (" has no effect" if zero else
                                                                     ": only alerting rules wait or keep firing"),
                                   pairs[key][0], name, Severity.WARNING if zero else Severity.ERROR)
            if "annotations" in pairs and not _is_null(pairs["annotations"][1]):
                self.structure("`annotations` on a recording rule: only alerting rules have annotations",
                               pairs["annotations"][0], name)
        labels = self.string_map(pairs["labels"][1], "label", name) if "labels" in pairs else {}
        annotations = self.string_map(pairs["annotations"][1], "annotation", name) if "annotations" in pairs else {}
        return self.make_rule(node, pairs, kind, name, group, labels, annotations)

    def seed_rule(self, node: Node, group: str) -> Rule | None:
        if not isinstance(node, MappingNode):
            self.structure("an alert must be a mapping with `name` and `expr`", node)
            return None
        pairs = _pairs(node)
        name = self.text(pairs["name"][1], "`name`") if "name" in pairs else None
        self.rule_spans.append((_line(node), node.end_mark.line + 1, name or ""))
        self.unknown_keys(pairs, SEED_RULE_KEYS, "a seed alert", name)
        if not name:
            self.structure("alert without a `name`", node)
            return None
        labels = self.string_map(pairs["labels"][1], "label", name) if "labels" in pairs else {}
        annotations = self.string_map(pairs["annotations"][1], "annotation", name) if "annotations" in pairs else {}
        if "severity" in pairs:
            severity = self.text(pairs["severity"][1], "`severity`", name)
            if severity is not None:
                if "severity" in labels and labels["severity"] != severity:
                    self.structure(f"`severity: {severity}` and the label `severity: {labels['severity']}` "
                                   "disagree", pairs["severity"][0], name)
                labels = {"severity": severity, **{k: v for k, v in labels.items() if k != "severity"}}
        return self.make_rule(node, pairs, "alert", name, group, labels, annotations)

    def make_rule(self, node: MappingNode, pairs: dict[str, tuple[Node, Node]], kind: str, name: str, group: str,
                  labels: dict[str, str], annotations: dict[str, str]) -> Rule:
        line = _line(node)
        expr = self.text(pairs["expr"][1], "`expr`", name) if "expr" in pairs else None
        if "expr" not in pairs:
            self.structure("rule without `expr`", node, name)
        elif not (expr or "").strip() and (_is_null(pairs["expr"][1]) or isinstance(pairs["expr"][1], ScalarNode)):
            self.structure("`expr` is empty", pairs["expr"][0], name)
        expr_line = _line(pairs["expr"][0]) if "expr" in pairs else line
        for_ = self.text(pairs["for"][1], "`for`", name) if "for" in pairs else None
        keep = self.text(pairs["keep_firing_for"][1], "`keep_firing_for`", name) if "keep_firing_for" in pairs else None
        keys = {k: _line(kn) for k, (kn, _) in pairs.items()}
        for section in ("labels", "annotations"):  # `annotations.summary`: findings point at the very line
            if section in pairs and isinstance(pairs[section][1], MappingNode):
                keys.update({f"{section}.{k}": _line(kn) for k, (kn, _) in _pairs(pairs[section][1]).items()})
        return Rule(kind, name, expr or "", group, line, expr_line, keys, for_, keep, labels, annotations)

    def string_map(self, node: Node, what: str, rule: str | None) -> dict[str, str]:
        """Labels or annotations: a mapping of valid names to strings. A YAML number or boolean keeps its text."""
        if _is_null(node):
            return {}
        if not isinstance(node, MappingNode):
            self.structure(f"{what}s must be a mapping of names to strings", node, rule)
            return {}
        result: dict[str, str] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                self.structure(f"a {what} name must be a string", knode, rule)
                continue
            key = knode.value
            if not LABEL_NAME.fullmatch(key) or (what == "label" and key == "__name__"):
                self.structure(f"invalid {what} name {key!r}: must match [a-zA-Z_][a-zA-Z0-9_]*"
                               + (" and not be __name__" if what == "label" else ""), knode, rule)
            if isinstance(vnode, ScalarNode):
                if vnode.tag not in (STR_TAG, NULL_TAG):
                    # Prometheus reads the text (promtool accepts `page: true`); Kubernetes' CRD schema does not.
                    crd = self.in_manifest
                    self.structure(f"{what} {key!r} is a YAML {vnode.tag.rsplit(':', 1)[-1]}, not a string: "
                                   f"quote it (\"{vnode.value}\")" + (": the PrometheusRule schema requires strings"
                                                                      if crd else ""),
                                   vnode, rule, Severity.ERROR if crd else Severity.WARNING)
                result[key] = "" if vnode.tag == NULL_TAG else vnode.value
            else:
                self.structure(f"{what} {key!r} must be a string, not a "
                               f"{'mapping' if isinstance(vnode, MappingNode) else 'list'}", vnode, rule)
        return result

    # -- seed shorthand -------------------------------------------------------------------------------------
    def seed(self, top: dict[str, tuple[Node, Node]]) -> list[Group]:
        knode, node = top["alerts"]
        group = Path(self.path).stem
        rules: list[Rule] = []
        if isinstance(node, SequenceNode):
            for item in node.value:
                rule = self.seed_rule(item, group)
                if rule is not None:
                    rules.append(rule)
        elif not _is_null(node):
            self.structure("`alerts` must be a list of alerts", node)
        return [Group(group, _line(knode), tuple(rules), {"alerts": _line(knode)})]

    # -- after reading --------------------------------------------------------------------------------------
    def assign_duplicates_to_rules(self) -> None:
        """Tie each duplicate-key problem inside a rule to that rule, so `# mlobs: disable=` on the rule works."""
        for i, p in enumerate(self.problems):
            if p.check == DUPLICATE_KEY and p.rule is None:
                inside = [s for s in self.rule_spans if s[0] <= p.line <= s[1] and s[2]]
                if inside:
                    self.problems[i] = Problem(p.check, p.severity, p.message, p.line, p.column, inside[-1][2])

    def disable_comments(self) -> dict[int, frozenset[str]]:
        found = {}
        for number, text in enumerate(self.lines, 1):
            if "mlobs" in text:
                m = DISABLE.search(text)
                if m:
                    found[number] = frozenset(n.strip() for n in m.group(1).split(","))
        return found

    def apply_disables(self, groups: list[Group], comments: dict[int, frozenset[str]]) -> list[Group]:
        if not comments:
            return groups
        result = []
        for g in groups:
            rules = []
            for r in g.rules:
                names = set(comments.get(r.line, ()))
                above = r.line - 1
                while above >= 1 and self.lines[above - 1].lstrip().startswith("#"):
                    names |= comments.get(above, frozenset())
                    above -= 1
                rules.append(dataclasses.replace(r, disabled=frozenset(names)) if names else r)
            result.append(Group(g.name, g.line, tuple(rules), g.keys))
        return result

