"""Turn `Report` records into a sparse feature matrix for the linear "kind" models.

`ReportFeatures` is one scikit-learn transformer: ``list[Report]`` in, ``scipy.sparse.csr_matrix`` out.
It owns three blocks, every column named (see `get_feature_names_out`) so that explanations can say
which word or field drove a prediction:

``title:``   TF-IDF word uni/bigrams of the title (sublinear tf), weighted separately from the body
``word:``    TF-IDF word uni/bigrams of the description (first comment)
``comments:`` backlog mode: TF-IDF word uni/bigrams of the later comments, own vocabulary and weight
``chars:``   optional TF-IDF char_wb n-grams of title + start of the description
``field:``   one-hot reporter fields (``field:priority=Major``) and a few counts / flags, among them
            how far the affected version lags the newest one named earlier in the project
            (``field:version_lag=behind``; the history is kept from the training reports) and, on large
            training sets, how the report is written (code names, first-person words: `_style_fields`)

Two modes decide which information may be used:

filing (default)
    Only what existed when the report was filed: title, description and reporter-set fields. Where the
    importer replayed the history (``report.filed`` is a dict) the filing-time values of product,
    component, severity and priority are used (and the filing-time title, when ``filed["title"]`` or
    ``filed["summary"]`` is given). Where there is no history (``report.filed is None``, e.g. Jira,
    GitHub) only fields a reporter sets at creation and that are rarely edited afterwards are used:
    project, priority (Jira's priority is set by the reporter in the create dialog), affects versions
    (``extra["versions"]``) and the environment (``extra["platform"]``, ``extra["op_sys"]``). Today's
    component list is *not* used without history by default: triagers edit it, so it would carry
    information from after filing (set ``use_current_components=True`` to opt in; the Jira benchmark
    measures the difference). Later comments, keywords, attachments, votes, links and anything about
    the resolution are never read in filing mode.

backlog
    May also use later comments (a block of their own), keywords, status-whiteboard tags, today's
    product/component/severity/priority, has-STR, target milestone, the number of
    comments/attachments/patches/flags, crash signatures and dependency counts.

Fields that *define* the labels of the kind family are never read, in any mode: status, resolution,
resolved_at, duplicate_of, fixed_files, the type field itself, the label columns, fix versions / fix
commits / changed files (consequences of a fix), and the signals Mozilla's bugbug used to *derive* its
``is_bug`` label: the keywords ``regression``, ``talos-regression``, ``regressionwindow-wanted``,
``feature``, and the fields ``cf_has_regression_range``, ``regressed_by``, ``regressions``.

``exclude_fields`` drops more: a field name (``"priority"``, ``"versions"``, ``"comments"``,
``"description"``, ``"project"`` ...) drops that whole field; ``"keywords:crash"`` drops one value of a
list field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer

from bugsift.learn.vectorizers import CompactTfidfVectorizer as TfidfVectorizer
from bugsift.sources.base import Report

MODES = ("filing", "backlog")

# Never read by any kind model: they define (or follow from) the labels of this model family.
LABEL_DEFINING_FIELDS = frozenset(
    {
        "status",
        "resolution",
        "resolved_at",
        "duplicate_of",
        "fixed_files",
        "type",
        "labels",
        "fixVersions",
        "fix_versions",
        "fix_commits",
        "changed_java_files",
        "cf_last_resolved",
        "cf_has_regression_range",
        "regressed_by",
        "regressions",
    }
)
# Jira's "Affects Version/s": triagers fill it in while confirming a bug, and no filing-time value is
# kept (a dump has no history; the store keeps five filed fields, not this one), so what is read is
# today's. Not read in filing mode, as today's components are not: on single Jira projects it helped the
# validation carve and cost the newer test part (docs/kind-models.md). Bugzilla's one `version` stays.
TRIAGED_AFTER_FILING = frozenset({"versions"})
# Keyword values Mozilla's bugbug used to derive is_bug (regression -> bug, feature -> not a bug).
LABEL_DEFINING_KEYWORDS = frozenset({"regression", "talos-regression", "regressionwindow-wanted", "feature"})

# ---------------------------------------------------------------------------------------------------
# Text cleaning. Compiled once at import time: no regex objects live inside the fitted estimator, so
# the skops file needs no extra trusted types.
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_NOFORMAT = re.compile(r"\{(?:code|noformat)[^}]*\}.*?(?:\{(?:code|noformat)\}|$)", re.S | re.I)
_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_STACK_FRAME = re.compile(
    r"^\s*(?:at\s+[\w$.<>]+\([^)]*\)|#\d+\s+0x[0-9a-f]+|File \"[^\"]+\", line \d+|\.\.\. \d+ more)[^\n]*$",
    re.M | re.I,
)
_EXCEPTION = re.compile(r"\b(?:[a-z_][\w$]*\.)+([A-Z]\w*(?:Exception|Error))\b")
_TEMPLATE_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*([^\n]*)$|^\s*\*\*([^*\n]{2,60})\*\*:?\s*$", re.M)
_CHECKBOX = re.compile(r"^\s*[-*]\s*\[[ xX]\]\s*", re.M)
_VERSION = re.compile(r"\b[vV]?\d+(?:\.\d+){1,3}(?:[-.]?(?:alpha|beta|rc|snapshot|a|b)\d*)?\b", re.I)
_HEX = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")
_LONG_NUMBER = re.compile(r"\b\d{5,}\b")
# (the drive letter inside the alternation: an optional group in front made every position slow)
_PATH = re.compile(r"(?:[A-Za-z]:[\\/]|[\\/])[\w.$-]+(?:[\\/][\w.$-]+){2,}")
_SPACE = re.compile(r"[ \t]{2,}|\t")  # single spaces need no replacing
_WHITEBOARD_TAG = re.compile(r"\[([^\]\s:]{1,40})")
# Affected-version numbers: the first three numbers of a version name ("2.1.1-beta" -> (2, 1, 1)).
_VERSION_NUMBER = re.compile(r"\d+")
# Jira names feature-branch versions after an issue ("HADOOP-13345"): not a release number.
_ISSUE_KEY_VERSION = re.compile(r"[A-Z][A-Z0-9_]*-\d+")

# How a report is written. Code identifiers: CamelCase or camelCase names, dotted names
# (``conf.get``, ``mapreduce.job.maps``) and calls (``close()``): developers who file real defects name
# the code, users asking how to do something rarely do. First-person words: "I / my / me" (a user
# with a problem) against "we / our / us" (a member of the team).
_CAMEL = re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b|\b[a-z]+[A-Z]\w*\b")
_DOTTED = re.compile(r"\b[a-z_]\w*\.[a-z_]\w*(?:\.\w+)*\b")
_CALL = re.compile(r"\(\)(?<=\w\(\))")  # a word then "()": a literal first is 10x faster to scan
_SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
_FIRST_SINGULAR = re.compile(r"\b(?:I|I'm|my|me)\b")
_FIRST_PLURAL = re.compile(r"\b(?:we|our|us)\b", re.I)

# With ``size_profile="auto"``, the training-set size above which the large-store settings apply. `train`
# does not rely on it: it fits both profiles (and plain TF-IDF + LR) and keeps the best on validation.
AUTO_SMALL_N = 5000
SIZE_PROFILES = ("auto", "small", "large")


def large_store(n_reports: int, size_profile: str = "auto") -> bool:
    """Whether the large-store settings apply: as chosen ("small" / "large"), or by size ("auto")."""
    if size_profile not in SIZE_PROFILES:
        raise ValueError(f"size_profile must be one of {SIZE_PROFILES}, not {size_profile!r}")
    return n_reports > AUTO_SMALL_N if size_profile == "auto" else size_profile == "large"


def clean_text(text: str, max_chars: int = 6000) -> str:
    """Light, bug-report-aware cleaning that keeps the words and replaces noise by marker tokens.

    HTML comments (GitHub issue-template instructions) are removed; code blocks, stack frames, URLs,
    paths, version numbers, hex addresses and long numbers become ``xxcode``, ``xxstack``, ``xxurl``,
    ``xxpath``, ``xxversion``, ``xxhex``, ``xxnum`` (the fact is kept, the token noise is not);
    exception class names survive as words (``NullPointerException``). Issue-template headings and
    check boxes lose their markup.
    """
    if not text:
        return ""
    text = text[: max_chars * 3]
    text = _HTML_COMMENT.sub(" ", text)
    # cheap substring tests skip the patterns that cannot match (same output, a third faster)
    if "Exception" in text or "Error" in text:
        text = _EXCEPTION.sub(r" \1 ", text)
    if "```" in text:
        text = _CODE_FENCE.sub(" xxcode ", text)
    if "{" in text:
        text = _NOFORMAT.sub(" xxcode ", text)
    text = _STACK_FRAME.sub(" xxstack ", text)
    if "://" in text or "ww." in text.lower():
        text = _URL.sub(" xxurl ", text)
    text = _PATH.sub(" xxpath ", text)
    text = _TEMPLATE_HEADING.sub(lambda m: " " + (m.group(1) or m.group(2) or "") + " .", text)
    text = _CHECKBOX.sub(" ", text)
    text = _VERSION.sub(" xxversion ", text)
    if "0x" in text:
        text = _HEX.sub(" xxhex ", text)
    text = _LONG_NUMBER.sub(" xxnum ", text)
    text = _SPACE.sub(" ", text)
    return text[:max_chars]


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, set)):
        out = []
        for v in value:
            if isinstance(v, dict):
                v = v.get("name") or v.get("value")
            if v not in (None, ""):
                out.append(str(v))
        return out
    return [str(value)]


def _log_count(n: int) -> float:
    return math.log1p(max(n, 0))


def version_key(name: str) -> tuple[int, ...] | None:
    """The first three numbers of a version name, zero-padded (``"2.1.1-beta"`` -> ``(2, 1, 1)``);
    None for a name without numbers or named after an issue key."""
    if _ISSUE_KEY_VERSION.fullmatch(name.strip()):
        return None
    numbers = [int(x) for x in _VERSION_NUMBER.findall(name)[:3]]
    return tuple(numbers + [0] * (3 - len(numbers))) if numbers else None


def _affected_versions(r: Report, ex: set[str]) -> list[tuple[int, ...]]:
    """The numbered versions a report was filed against (Jira affects-versions, Bugzilla version)."""
    extra = r.extra or {}
    names = [v for k in ("versions", "version") if k not in ex for v in _as_list(extra.get(k))]
    return [key for key in map(version_key, names) if key is not None]


def version_history(
    reports: Iterable[Report], ex: set[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per project: the sorted filing times (epoch seconds) of the reports that name a version, and
    the newest version named up to each of them (running maximum, one (major, minor, patch) row)."""
    dated: dict[str, list[tuple[float, tuple[int, ...]]]] = {}
    for r in reports:
        versions = _affected_versions(r, ex)
        if versions and r.created_at is not None:
            dated.setdefault(r.project or "", []).append((r.created_at.timestamp(), max(versions)))
    times, newest = {}, {}
    for project, items in dated.items():
        items.sort()
        running, best = [], items[0][1]
        for _, version in items:  # versions compare as tuples: 2.1.0 < 2.10.0 < 3.0.0
            best = max(best, version)
            running.append(best)
        times[project] = np.array([t for t, _ in items], dtype=np.float64)
        newest[project] = np.array(running, dtype=np.int64).reshape(-1, 3)
    return times, newest


def _version_lag(
    r: Report, versions: list[tuple[int, ...]], times: dict[str, np.ndarray], newest: dict[str, np.ndarray]
) -> str | None:
    """How far the report's newest affected version lags the newest one named in its project before it
    was filed: newer / same_line (same major.minor) / near (<= 2 minors behind) / behind; None = no
    earlier report of the project named a version."""
    stamps = times.get(r.project or "")
    if stamps is None:
        return None
    k = len(stamps) if r.created_at is None else int(np.searchsorted(stamps, r.created_at.timestamp()))
    if not k:
        return None
    latest, mine = tuple(newest[r.project or ""][k - 1].tolist()), max(versions)
    if mine > latest:
        return "newer"
    if mine[:2] == latest[:2]:
        return "same_line"
    return "near" if mine[0] == latest[0] and latest[1] - mine[1] <= 2 else "behind"


def _style_fields(title: str, description: str, f: dict[str, float]) -> None:
    """How the report is written: a CamelCase name or another identifier in the title; the (log)
    numbers of CamelCase names, dotted names, calls and first-person words in the description (the
    cleaned one: as good on validation as the raw text, and half the regex time)."""
    if _CAMEL.search(title):
        f["title_camel_case"] = 1.0
    if _DOTTED.search(title) or _CALL.search(title) or _SNAKE.search(title):
        f["title_identifier"] = 1.0
    if description:
        f["log_camel_case"] = _log_count(len(_CAMEL.findall(description))) / 3.0
        f["log_dotted_names"] = _log_count(len(_DOTTED.findall(description))) / 3.0
        f["log_calls"] = _log_count(len(_CALL.findall(description))) / 2.0
        f["log_i_my"] = _log_count(len(_FIRST_SINGULAR.findall(description))) / 3.0
        f["log_we_our"] = _log_count(len(_FIRST_PLURAL.findall(description))) / 3.0


def _release_flags(raw: dict[str, Any], f: dict[str, float]) -> None:
    """Backlog fields of a Bugzilla REST record that release and project management set later.

    Which release-status values a bug ever got (``cf_status_firefox61: affected / unaffected /
    wontfix ...``: release managers track defects, like bugbug's ``ever_affected``), tracking requests,
    a test-case URL, votes, mentors and agile planning fields (points, iteration, user story: features).
    None of these defines Mozilla's derived ``is_bug``.
    """
    for key, value in raw.items():
        if not isinstance(value, str) or value in ("", "---"):
            continue
        if key.startswith("cf_status_"):
            f[f"release_status={value}"] = 1.0
        elif key.startswith("cf_tracking_") and key != "cf_tracking_firefox_relnote":
            f[f"release_tracking={value}"] = 1.0
    for key in ("url", "mentors", "cf_fx_points", "cf_fx_iteration", "cf_user_story"):
        if raw.get(key) not in (None, "", "---", [], 0, "0"):
            f[f"has_{key}"] = 1.0
    votes = raw.get("votes")
    if isinstance(votes, int) and votes > 0:
        f["log_votes"] = _log_count(votes) / 2.0


class ReportFeatures(TransformerMixin, BaseEstimator):
    """Sparse features of bug reports (see the module docstring for what each mode may read).

    Parameters
    ----------
    mode : "filing" or "backlog"
    exclude_fields : field names (or ``"keywords:VALUE"``) never to read, on top of the label-defining ones
    title_weight, description_weight, char_weight, field_weight : block weights (multiply the columns)
    char_ngrams : ``(lo, hi)`` char_wb n-gram range, or None to skip the char block; ``"auto"`` = (2, 5)
        on the small-store settings, (2, 4) on the large-store ones (the char block is the slowest part of
        prediction)
    min_df : minimum document frequency of word / char features
    max_features : cap of the word vocabulary of the description (None = no cap)
    clean : apply `clean_text` to title and description
    use_current_components : use today's components when there is no filing-time history (leaky; off)
    max_chars : characters of each text kept (long logs add time, not signal)
    char_body_chars : characters of the description that feed the char block after the title; ``"auto"``
        = 1,500 on the small-store settings, 300 on the large-store ones (a third of the training time)
    filing_hour : read the UTC hour of filing (3-hour buckets); ``"auto"`` = on the large-store settings
    style_fields : read how the title and description are written: how much they name the code
        (CamelCase names, dotted names, calls) and first-person words (I / my against we / our; see
        `_style_fields`); ``"auto"`` = on the large-store settings
    comments_weight : backlog mode: weight of the separate TF-IDF block of the later comments (own
        vocabulary, capped at ``comments_max_features``); None = append the comments to the description
        block instead (the old behaviour)
    size_profile : "small" / "large" store settings for every ``"auto"`` above; ``"auto"`` = by size
        (`AUTO_SMALL_N`). The evidence behind each: docs/kind-models.md.
    """

    def __init__(
        self,
        mode: str = "filing",
        exclude_fields: Sequence[str] = (),
        title_weight: float = 1.0,
        description_weight: float = 1.0,
        char_weight: float = 0.0,
        field_weight: float = 1.0,
        char_ngrams: tuple[int, int] | str | None = None,
        min_df: int = 2,
        max_features: int | None = 200_000,
        clean: bool = True,
        use_current_components: bool = False,
        max_chars: int = 6000,
        char_body_chars: int | str = "auto",
        comments_weight: float | None = 0.5,
        comments_max_features: int | None = 20_000,
        filing_hour: bool | str = "auto",
        style_fields: bool | str = "auto",
        size_profile: str = "auto",
    ) -> None:
        self.mode = mode
        self.exclude_fields = exclude_fields
        self.title_weight = title_weight
        self.description_weight = description_weight
        self.char_weight = char_weight
        self.field_weight = field_weight
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.clean = clean
        self.use_current_components = use_current_components
        self.max_chars = max_chars
        self.char_body_chars = char_body_chars
        self.comments_weight = comments_weight
        self.comments_max_features = comments_max_features
        self.filing_hour = filing_hour
        self.style_fields = style_fields
        self.size_profile = size_profile

    # -- what may be read ---------------------------------------------------------------------------
    def _excluded(self) -> tuple[set[str], set[str]]:
        fields = set(LABEL_DEFINING_FIELDS)
        values = {f"keywords:{k}" for k in LABEL_DEFINING_KEYWORDS}
        for item in self.exclude_fields or ():
            (values if ":" in item else fields).add(item)
        return fields, values

    def _fields_excluded(self, ex: set[str]) -> set[str]:
        """``ex``, plus `TRIAGED_AFTER_FILING` in filing mode (a model saved before 0.15 still reads
        them, as it was fitted)."""
        if self.mode == "filing" and getattr(self, "triaged_fields_excluded_", False):
            return ex | TRIAGED_AFTER_FILING
        return ex

    def _title(self, r: Report, ex: set[str]) -> str:
        if "title" in ex:
            return ""
        title = r.title or ""
        if self.mode == "filing" and r.filed:
            title = r.filed.get("title") or r.filed.get("summary") or title
        return title

    def _texts(
        self, reports: Iterable[Report]
    ) -> tuple[list[str], list[str], list[dict[str, float]], list[str]]:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        ex, ex_values = self._excluded()
        field_ex = self._fields_excluded(ex)
        backlog = self.mode == "backlog"
        separate = self.comments_weight is not None
        hour = getattr(self, "filing_hour_", False) and "created_at" not in ex
        style = getattr(self, "style_fields_", False)  # absent from models saved before
        version_times = getattr(self, "version_times_", None)  # absent from models saved before
        titles, bodies, fields, comment_texts = [], [], [], []
        for r in reports:
            title = raw_title = self._title(r, ex)
            desc = "" if "description" in ex else (r.description or "")
            comments = [] if (not backlog or "comments" in ex) else list(r.comments or [])
            f: dict[str, float] = {}
            raw_desc = desc
            if self.clean:
                title = clean_text(title, 500)
                desc = clean_text(desc, self.max_chars)
            later = " \n ".join(clean_text(c, 1500) if self.clean else c[:1500] for c in comments[:30])
            if separate:
                body = desc
                if backlog:
                    comment_texts.append(later)
            else:
                body = desc + " \n " + later if later else desc
            titles.append(title)
            bodies.append(body)
            # -- categorical fields --------------------------------------------------------------------
            if r.project and "project" not in ex:
                f[f"project={r.project}"] = 1.0
            if backlog or r.filed is None:
                # backlog: today's values; filing without history: the reporter-set ones only
                cur = {"priority": r.priority}
                if backlog:
                    cur.update(product=r.product, component=r.component, severity=r.severity)
                elif r.tracker == "bugzilla":
                    cur.update(severity=r.severity, product=r.product)  # reporter-set at creation
                for k, v in cur.items():
                    if v and k not in ex:
                        f[f"{k}={v}"] = 1.0
                if (
                    (backlog or self.use_current_components)
                    and "components" not in ex
                    and "component" not in ex
                ):
                    for c in _as_list(r.components):
                        f[f"components={c}"] = 1.0
            else:
                for k in ("product", "component", "severity", "priority"):
                    v = r.filed.get(k)
                    if v and k not in ex:
                        f[f"{k}={v}"] = 1.0
            extra = r.extra or {}
            filing_extra = ("versions", "platform", "op_sys", "version")
            for k in filing_extra:
                if k in field_ex:
                    continue
                for v in _as_list(extra.get(k)):
                    f[f"{k}={v}"] = 1.0
            if version_times:  # the version lag, where the training reports named versions
                self._version_fields(r, field_ex, version_times, f)
            if "description" not in ex:
                f["has_description"] = 1.0 if raw_desc.strip() else 0.0
                f["log_description_chars"] = _log_count(len(raw_desc)) / 10.0
                if self.clean:
                    f["has_code"] = 1.0 if "xxcode" in desc else 0.0
                    f["has_stack"] = 1.0 if "xxstack" in desc else 0.0
                # the shape of the report: questions ("how do I ...?") and pasted logs/config (many lines)
                f["log_lines"] = _log_count(raw_desc.count("\n")) / 3.0
                f["log_question_marks"] = _log_count(raw_desc.count("?")) / 2.0
            if "title" not in ex and "?" in title:
                f["title_question"] = 1.0
            if style:
                _style_fields(raw_title, desc, f)
            if hour and r.created_at is not None:
                # UTC hour of filing in 3-hour buckets: a proxy for where (and by whom) reports are filed
                stamp = r.created_at.astimezone(UTC) if r.created_at.tzinfo else r.created_at
                f[f"filed_hour={stamp.hour // 3 * 3:02d}"] = 1.0
            if backlog:
                if "keywords" not in ex:
                    for kw in _as_list(r.keywords):
                        if f"keywords:{kw}" not in ex_values:
                            f[f"keywords={kw}"] = 1.0
                if "comments" not in ex:
                    f["log_comments"] = _log_count(len(r.comments or [])) / 3.0
                if "attachments" not in ex:
                    att = extra.get("attachments")
                    n_att = extra.get("attachments_count", len(att) if isinstance(att, list) else None)
                    if isinstance(n_att, int):
                        f["log_attachments"] = _log_count(n_att) / 2.0
                    if extra.get("has_patch"):
                        f["has_patch"] = 1.0
                for k in ("depends_on", "blocks", "duplicates", "see_also", "cc", "flags"):
                    n = extra.get(f"{k}_count", len(extra[k]) if isinstance(extra.get(k), list) else None)
                    if k not in ex and isinstance(n, int):
                        f[f"log_{k}"] = _log_count(n) / 3.0
                for k in ("cf_crash_signature", "whiteboard"):
                    if k not in ex and extra.get(k):
                        f[f"has_{k}"] = 1.0
                if "whiteboard" not in ex:  # status-whiteboard tags: [qa-], [fxa], [snappy:p1] ...
                    for tag in _WHITEBOARD_TAG.findall(str(extra.get("whiteboard") or ""))[:10]:
                        f[f"whiteboard={tag.lower()}"] = 1.0
                for k in ("cf_has_str", "target_milestone", "classification"):
                    if k not in ex and extra.get(k) not in (None, "", "---"):
                        f[f"{k}={extra[k]}"] = 1.0
                if "tracking_flags" not in ex:
                    _release_flags(r.raw or {}, f)
                if "tags" not in ex:  # Jira's labels (tags, not our label columns): mostly added later
                    for v in _as_list(extra.get("labels")):
                        f[f"tags={v}"] = 1.0
            fields.append(f)
        return titles, bodies, fields, comment_texts

    def _version_fields(
        self, r: Report, ex: set[str], version_times: dict[str, np.ndarray], f: dict[str, float]
    ) -> None:
        """``version_lag=...`` (see `_version_lag`), ``version_none``, ``log_versions``: the affected
        version itself is project-specific and soon unseen; how old it is generalises (Jira
        validation carves: +0.002 AUC each, on top of the one-hot versions)."""
        versions = _affected_versions(r, ex)
        if not versions:
            f["version_none"] = 1.0
            return
        f["log_versions"] = _log_count(len(versions)) / 2.0
        lag = _version_lag(r, versions, version_times, self.version_newest_)
        if lag:
            f[f"version_lag={lag}"] = 1.0

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("size_profile", "auto")  # model files saved before the profiles existed
        super().__setstate__(state)

    # -- sklearn API --------------------------------------------------------------------------------
    def _word_vectorizer(self, max_features: int | None) -> TfidfVectorizer:
        return TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=self.min_df,
            max_df=0.9,
            max_features=max_features,
            token_pattern=r"(?u)\b\w[\w']*\w\b|\b\w\b",
            dtype=np.float32,
        )

    def fit(self, X: Sequence[Report], y: Any = None) -> ReportFeatures:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Sequence[Report], y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        large = large_store(len(X), self.size_profile)
        self.filing_hour_ = large if self.filing_hour == "auto" else bool(self.filing_hour)
        self.style_fields_ = large if self.style_fields == "auto" else bool(self.style_fields)
        self.triaged_fields_excluded_ = True
        read_ex = self._fields_excluded(self._excluded()[0])
        self.version_times_, self.version_newest_ = version_history(X, read_ex)
        titles, bodies, fields, comments = self._texts(X)
        if self.char_body_chars == "auto":
            self.char_body_chars_ = 300 if large else 1500
        else:
            self.char_body_chars_ = int(self.char_body_chars)
        blocks = []
        self.title_vectorizer_ = self._word_vectorizer(None)
        blocks.append(self._fit_block(self.title_vectorizer_, titles) * self.title_weight)
        self.body_vectorizer_ = self._word_vectorizer(self.max_features)
        blocks.append(self._fit_block(self.body_vectorizer_, bodies) * self.description_weight)
        char_ngrams = self.char_ngrams
        if char_ngrams == "auto":
            char_ngrams = (2, 4) if large else (2, 5)
        if char_ngrams and self.char_weight:
            self.char_vectorizer_ = TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(char_ngrams),
                sublinear_tf=True,
                min_df=self.min_df,
                max_features=300_000,
                dtype=np.float32,
            )
            blocks.append(
                self._fit_block(self.char_vectorizer_, self._char_texts(titles, bodies)) * self.char_weight
            )
        else:
            self.char_vectorizer_ = None
        self.comments_vectorizer_ = None
        if any(comments) and self.comments_weight:
            self.comments_vectorizer_ = self._word_vectorizer(self.comments_max_features)
            blocks.append(self._fit_block(self.comments_vectorizer_, comments) * self.comments_weight)
        self.field_vectorizer_ = DictVectorizer(dtype=np.float32)
        blocks.append(self.field_vectorizer_.fit_transform(fields) * self.field_weight)
        out = sp.hstack(blocks, format="csr", dtype=np.float32)
        self.n_features_out_ = out.shape[1]
        return out

    @staticmethod
    def _fit_block(vec: TfidfVectorizer, texts: list[str]) -> sp.csr_matrix:
        try:
            return vec.fit_transform(texts)
        except ValueError:  # empty vocabulary (tiny or empty texts): fall back to keep-everything
            vec.set_params(min_df=1, max_df=1.0)
            try:
                return vec.fit_transform(texts)
            except ValueError:
                vec.set_params(token_pattern=r"(?u)\S+")
                return vec.fit_transform([t + " xxempty" for t in texts])

    def _char_texts(self, titles: list[str], bodies: list[str]) -> list[str]:
        n = getattr(self, "char_body_chars_", 1500)
        return [f"{t} | {b[:n]}" for t, b in zip(titles, bodies, strict=True)]

    def transform(self, X: Sequence[Report]) -> sp.csr_matrix:
        titles, bodies, fields, comments = self._texts(X)
        blocks = [
            self.title_vectorizer_.transform(titles) * self.title_weight,
            self.body_vectorizer_.transform(bodies) * self.description_weight,
        ]
        if self.char_vectorizer_ is not None:
            blocks.append(
                self.char_vectorizer_.transform(self._char_texts(titles, bodies)) * self.char_weight
            )
        if getattr(self, "comments_vectorizer_", None) is not None:
            if not comments:  # asked in another mode or with comments excluded: an empty block
                comments = [""] * len(titles)
            blocks.append(self.comments_vectorizer_.transform(comments) * self.comments_weight)
        blocks.append(self.field_vectorizer_.transform(fields) * self.field_weight)
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [f"title:{w}" for w in self.title_vectorizer_.get_feature_names_out()]
        names += [f"word:{w}" for w in self.body_vectorizer_.get_feature_names_out()]
        if self.char_vectorizer_ is not None:
            names += [f"chars:{w}" for w in self.char_vectorizer_.get_feature_names_out()]
        if getattr(self, "comments_vectorizer_", None) is not None:
            names += [f"comments:{w}" for w in self.comments_vectorizer_.get_feature_names_out()]
        names += [f"field:{w}" for w in self.field_vectorizer_.get_feature_names_out()]
        return np.asarray(names, dtype=object)
