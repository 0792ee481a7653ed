"""Every string a user of the admin or the API reads is marked and in Dutch (issue 18, part 6),
and what organisation staff read names no setting and no library (part 4).

The strings are found as `makemessages` finds them, without GNU gettext: Python files through
their syntax tree (the same keywords Django gives xgettext), templates through Django's own
`templatize`. Each belongs to the catalogue `makemessages` writes it to: its app's
`locale/nl/LC_MESSAGES/django.po`, or the project's `locale/` for the rest. Where a string is
written in English in place (a field without a lazy verbose name, an f-string in a message, text
between a template's tags), a lint below names it: marking cannot be forgotten quietly.
"""

from __future__ import annotations

import ast
import fnmatch
import html.parser
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polib
import pytest
from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.db import models
from django.template.base import Lexer, TokenType
from django.utils.functional import Promise
from django.utils.translation.template import templatize

from voipconfig.management.commands.makemessages import NOT_TRANSLATED

ROOT = Path(settings.BASE_DIR)
LANGUAGE = "nl"
PROVIDER = "provider"  # the context of text only provider staff read (docs/translation.md)

# What xgettext is told by makemessages (and knows itself): name -> (context, singular, plural)
# argument positions.
KEYWORDS: dict[str, tuple[int | None, int, int | None]] = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}


@dataclass(frozen=True)
class Marked:
    context: str
    msgid: str
    plural: str | None
    where: str  # file:line

    @property
    def key(self) -> tuple[str, str]:
        return self.context, self.msgid


# --- finding what is marked --------------------------------------------------------------


def _ignored(path: Path) -> bool:
    """As makemessages' --ignore (NOT_TRANSLATED) and its own default (hidden directories)."""
    parts = path.relative_to(ROOT).parts
    patterns = [p.rsplit("/", 1)[-1] for p in NOT_TRANSLATED]  # "*/migrations": any migrations
    return any(
        part.startswith(".") or any(fnmatch.fnmatchcase(part, p) for p in patterns)
        for part in parts
    )


def project_files(suffix: str) -> list[Path]:
    return sorted(p for p in ROOT.rglob(f"*{suffix}") if not _ignored(p))


def catalogue_dir(path: Path) -> Path:
    """Where makemessages writes the strings of `path`: the nearest enclosing directory's
    `locale/`, else the project's (settings.LOCALE_PATHS)."""
    for parent in path.parents:
        if parent == ROOT:
            break
        if (parent / "locale").is_dir():
            return parent / "locale"
    return Path(settings.LOCALE_PATHS[0])


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def marked_in_python(path: Path) -> Iterator[Marked]:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _call_name(node) not in KEYWORDS:
            continue
        context_at, singular_at, plural_at = KEYWORDS[_call_name(node) or ""]
        args = node.args
        if len(args) <= max(i for i in (context_at, singular_at, plural_at) if i is not None):
            continue
        msgid = _literal(args[singular_at])
        context = "" if context_at is None else _literal(args[context_at])
        plural = None if plural_at is None else _literal(args[plural_at])
        if msgid is None or context is None or (plural_at is not None and plural is None):
            continue  # not a literal: xgettext skips it too (the lints below catch misuse)
        yield Marked(context, msgid, plural, f"{path.relative_to(ROOT)}:{node.lineno}")


_CALL = re.compile(r"\b(" + "|".join(KEYWORDS) + r")\(")
_STRING = re.compile(r"""\s*(u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))\s*,?""")


def marked_in_template(path: Path) -> Iterator[Marked]:
    """The calls templatize writes for xgettext: gettext('…'), pgettext('ctx', '…'), …"""
    source = templatize(path.read_text(), origin=str(path))
    for call in _CALL.finditer(source):
        strings, at = [], call.end()
        while match := _STRING.match(source, at):
            strings.append(ast.literal_eval(match.group(1)))
            at = match.end()
        context_at, singular_at, plural_at = KEYWORDS[call.group(1)]
        yield Marked(
            "" if context_at is None else strings[context_at],
            strings[singular_at],
            None if plural_at is None else strings[plural_at],
            f"{path.relative_to(ROOT)}:{source.count(chr(10), 0, call.start()) + 1}",
        )


def everything_marked() -> dict[Path, list[Marked]]:
    """Per catalogue directory, what the sources mark."""
    found: dict[Path, list[Marked]] = {}
    for path in project_files(".py"):
        for marked in marked_in_python(path):
            found.setdefault(catalogue_dir(path), []).append(marked)
    for path in project_files(".html"):
        for marked in marked_in_template(path):
            found.setdefault(catalogue_dir(path), []).append(marked)
    return found


def po_path(locale: Path) -> Path:
    return locale / LANGUAGE / "LC_MESSAGES" / "django.po"


def catalogues() -> list[Path]:
    return [p for p in project_files(".po") if p.name == "django.po" and LANGUAGE in p.parts]


def _translated(entry: polib.POEntry) -> bool:
    if "fuzzy" in entry.flags or entry.obsolete:
        return False
    if entry.msgid_plural:
        return len(entry.msgstr_plural) == 2 and all(entry.msgstr_plural.values())
    return bool(entry.msgstr)


# --- the catalogues ----------------------------------------------------------------------


def test_every_marked_string_is_in_its_dutch_catalogue():
    missing = []
    for locale, marked in everything_marked().items():
        po = po_path(locale)
        entries = (
            {(e.msgctxt or "", e.msgid): e for e in polib.pofile(str(po))} if po.exists() else {}
        )
        for m in marked:
            entry = entries.get(m.key)
            if entry is None or not _translated(entry) or (entry.msgid_plural or None) != m.plural:
                missing.append(f"{m.where}: {m.msgid!r} (in {po.relative_to(ROOT)})")
    assert missing == [], "not in Dutch (run `make messages` and translate):\n" + "\n".join(
        sorted(set(missing))
    )


def test_the_sources_find_the_strings_of_every_app():
    """The walk above is what makes the first test mean anything: it must find the marked
    strings of every app that has a catalogue, and the project's own."""
    found = everything_marked()
    for po in catalogues():
        assert found.get(po.parents[2]), f"nothing marked found for {po.relative_to(ROOT)}"
    assert len(catalogues()) >= 2


@pytest.mark.parametrize("po", catalogues(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_catalogue_holds_no_empty_fuzzy_or_stale_entry(po):
    catalogue = polib.pofile(str(po))
    marked = {m.key for m in everything_marked().get(po.parents[2], [])}
    assert [e.msgid for e in catalogue if not _translated(e)] == []
    assert [e.msgid for e in catalogue.obsolete_entries()] == []
    stale = [e.msgid for e in catalogue if (e.msgctxt or "", e.msgid) not in marked]
    assert stale == [], "in the catalogue, no longer in the sources: run `make messages`"
    assert catalogue.metadata.get("Language") == LANGUAGE
    assert catalogue.metadata.get("Plural-Forms", "").startswith("nplurals=2; plural=(n != 1)")


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]|\{\w*\}")


@pytest.mark.parametrize("po", catalogues(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_translation_keeps_every_placeholder(po):
    wrong = []
    for entry in polib.pofile(str(po)):
        wanted = sorted(_PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
        for text in entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]:
            if sorted(_PLACEHOLDER.findall(text)) != wanted and not (
                entry.msgid_plural and sorted(_PLACEHOLDER.findall(entry.msgid)) == wanted
            ):
                wrong.append(f"{entry.msgid!r} -> {text!r}")
    assert wrong == []


@pytest.mark.parametrize("po", catalogues(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_compiled_catalogue_is_the_catalogue(po):
    """The .mo Django reads is committed (a fresh machine needs no gettext): it must be the
    compilation of its .po as it is now."""
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo.relative_to(ROOT)} missing: run `make messages`"

    def table(entries):
        return {
            (e.msgctxt or "", e.msgid): (dict(e.msgstr_plural) if e.msgid_plural else e.msgstr)
            for e in entries
            if e.msgid
        }

    compiled = table(polib.mofile(str(mo)))
    source = table(e for e in polib.pofile(str(po)) if _translated(e))
    assert compiled == source, f"{mo.relative_to(ROOT)} is out of date: run `make messages`"


# --- words for customers (part 4) ----------------------------------------------------------

LIBRARIES = re.compile(
    r"\b(Pillow|PIL|lxml|libxml2?|urllib3|psycopg2?|sox|ffmpeg|OpenSSL|Redis|RQ|Celery|"
    r"gunicorn|Django|DRF|Python|Traceback|Exception|Errno)\b"
)


def _setting_names() -> set[str]:
    names = {name for name in dir(settings) if name.isupper() and "_" in name}
    names |= set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    return names


def test_what_organisation_staff_read_names_no_setting_or_library():
    settings_named = re.compile(r"\b(" + "|".join(sorted(_setting_names(), key=len)[::-1]) + r")\b")
    found = []
    for marked in (m for ms in everything_marked().values() for m in ms):
        if marked.context == PROVIDER:
            continue
        for text in (marked.msgid, marked.plural or ""):
            if settings_named.search(text) or LIBRARIES.search(text):
                found.append(f"{marked.where}: {text!r}")
    assert found == [], "mark provider-only text pgettext('provider', …):\n" + "\n".join(found)


# --- nothing written in English in place -----------------------------------------------------


def project_app_configs():
    return [
        a
        for a in apps.get_app_configs()
        if Path(a.path).is_relative_to(ROOT) and not _ignored(Path(a.path))
    ]


def _lazy(value: object) -> bool:
    return isinstance(value, Promise)


def _words(value: object) -> bool:
    """Text with a word to translate: not only names and acronyms ("T54W", "UDP", "SHA-256")."""
    return isinstance(value, str) and bool(_WORD.search(value))


def test_every_app_model_and_field_has_a_translated_name():
    english = []
    for app in project_app_configs():
        if not _lazy(app.verbose_name):
            english.append(f"{app.label}: AppConfig.verbose_name")
        for model in app.get_models():
            opts = model._meta
            name = f"{app.label}.{model.__name__}"
            for attr in ("verbose_name", "verbose_name_plural"):
                if not _lazy(opts.original_attrs.get(attr)):
                    english.append(f"{name}: Meta.{attr}")
            for field in opts.get_fields():
                if field.auto_created or not isinstance(field, models.Field):
                    continue
                where = f"{name}.{field.name}"
                if not _lazy(field.verbose_name) and _words(field.verbose_name):
                    english.append(f"{where}: verbose_name")
                if field.help_text and not _lazy(field.help_text):
                    english.append(f"{where}: help_text")
                for value, label in field.flatchoices or []:
                    if not _lazy(label) and _words(label) and label != value:  # a name
                        english.append(f"{where}: the label of choice {value!r}")
            for constraint in opts.constraints:
                message = constraint.violation_error_message
                if message is not None and not _lazy(message):
                    english.append(f"{name}: constraint {constraint.name}'s message")
    assert not english, "\n".join(english)


def _project_admins() -> Iterator[tuple[str, admin.ModelAdmin | admin.options.InlineModelAdmin]]:
    for model, model_admin in admin.site._registry.items():
        if type(model_admin).__module__.split(".")[0] not in {
            a.name for a in project_app_configs()
        }:
            continue
        yield f"{type(model_admin).__name__}", model_admin
        for inline in model_admin.inlines:
            yield inline.__name__, inline(model, admin.site)


def test_every_admin_column_filter_action_and_fieldset_is_translated():
    english = []
    for name, model_admin in _project_admins():
        for attr in dir(type(model_admin)):
            value = getattr(type(model_admin), attr, None)
            description = getattr(value, "short_description", None)
            if callable(value) and _words(description) and not _lazy(description):
                english.append(f"{name}.{attr}: description")
        fields = {f.name for f in model_admin.model._meta.get_fields()}
        for column in getattr(model_admin, "list_display", ()):
            if column in fields or column == "__str__":
                continue  # the field's verbose name, checked above
            method = column if callable(column) else getattr(type(model_admin), column, None)
            if method is None:  # the model's property or method
                method = getattr(model_admin.model, column, None)
                method = method.fget if isinstance(method, property) else method
            description = getattr(method, "short_description", None)
            if callable(method) and description is None:
                english.append(f"{name}: column {column!r} has no translated description")
        for item in getattr(model_admin, "list_filter", ()):
            filter_class = item[1] if isinstance(item, tuple) else item
            if (
                isinstance(filter_class, type)
                and issubclass(filter_class, admin.SimpleListFilter)
                and not _lazy(filter_class.title)
            ):
                english.append(f"{name}: filter {filter_class.__name__}.title")
        for title, _options in getattr(model_admin, "fieldsets", None) or ():
            if title is not None and not _lazy(title):
                english.append(f"{name}: fieldset {title!r}")
        for attr in ("verbose_name", "verbose_name_plural"):
            value = type(model_admin).__dict__.get(attr)
            if value is not None and not _lazy(value):
                english.append(f"{name}.{attr}")
    assert not english, "\n".join(english)


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_form_field_label_and_help_is_translated():
    project = {a.name for a in project_app_configs()}
    english = []
    for form in set(_subclasses(forms.BaseForm)):
        if form.__module__.split(".")[0] not in project:
            continue
        declared: dict[str, forms.Field] = getattr(form, "declared_fields", {})
        for field_name, field in declared.items():
            where = f"{form.__module__}.{form.__name__}.{field_name}"
            if field.label is not None and not _lazy(field.label):
                english.append(f"{where}: label")
            if field.help_text and not _lazy(field.help_text):
                english.append(f"{where}: help_text")
            for value, label in getattr(field, "choices", None) or []:
                if _words(label) and not _lazy(label):
                    english.append(f"{where}: choice {value!r}")
    assert not english, "\n".join(english)


# Calls whose text a user reads, and the position of that text.
MESSAGE_CALLS = {
    "success": 1,
    "info": 1,
    "warning": 1,
    "error": 1,
    "debug": 1,
    "add_message": 2,
    "message_user": 1,
    "add_error": 1,
    "ValidationError": 0,
    "NotFound": 0,
    "PermissionDenied": 0,
    "ParseError": 0,
}


def _english_in_place(node: ast.expr) -> bool:
    """A literal, an f-string, or a literal formatted: text that never goes through gettext."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[A-Za-z]{2}", node.value))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _english_in_place(node.left)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and _english_in_place(node.func.value)
    return False


def test_no_message_or_validation_error_is_written_in_english_in_place():
    english = []
    for path in project_files(".py"):
        if "serving" in path.parts or "management" in path.parts:
            continue  # the phone path and the operators' commands: not translated
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            if name not in MESSAGE_CALLS:
                continue
            if name in {"success", "info", "warning", "error", "debug", "add_message"} and not (
                isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "messages"
            ):
                continue  # logger.warning and the like: the log stays English
            at = MESSAGE_CALLS[name]
            texts = [node.args[at]] if len(node.args) > at else []
            texts += [k.value for k in node.keywords if k.arg in {"message", "detail"}]
            if any(_english_in_place(text) for text in texts):
                english.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not english, "\n".join(english)


class _Text(html.parser.HTMLParser):
    """The text and the readable attributes of a template with its tags taken out."""

    READABLE = {"title", "alt", "placeholder", "aria-label"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if value and (
                name in self.READABLE
                or (name == "value" and dict(attrs).get("type") in {"submit", "button"})
            ):
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in {"script", "style"}:
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


_WORD = re.compile(r"\b[A-Za-z]*[a-z][A-Za-z]*\b")  # a word with a lower-case letter
_SKIPPED_BLOCKS = {"blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans"}
_SILENT_BLOCKS = {"comment": "endcomment", "verbatim": "endverbatim"}


def english_in_template(path: Path) -> list[str]:
    """Words between a template's tags that are not inside a translate tag."""
    parts, until, silent = [], None, False
    for token in Lexer(path.read_text()).tokenize():
        contents = token.contents.split()
        if until:
            if token.token_type == TokenType.BLOCK and contents and contents[0] == until:
                until = None
            continue
        if token.token_type == TokenType.BLOCK and contents:
            if contents[0] in _SKIPPED_BLOCKS or contents[0] in _SILENT_BLOCKS:
                until = {**_SKIPPED_BLOCKS, **_SILENT_BLOCKS}[contents[0]]
                silent = contents[0] in _SILENT_BLOCKS
                parts.append("" if silent else " ")
            elif contents[:2] == ["block", "bodyclass"]:  # CSS class names
                until = "endblock"
            else:
                parts.append(" ")
        elif token.token_type == TokenType.TEXT:
            parts.append(token.contents)
        elif token.token_type == TokenType.VAR:
            parts.append(" ")
    reader = _Text()
    reader.feed("".join(parts))
    # A file name's extension (".cfg") is not a word.
    return [w for text in reader.texts for w in _WORD.findall(re.sub(r"\.\w+", "", text))]


@pytest.mark.parametrize("template", project_files(".html"), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_template_holds_no_english_outside_translate(template):
    assert english_in_template(template) == []


def test_the_template_lint_sees_english(tmp_path):
    """The lint above must be able to fail: text, a title, a button, but not what is marked,
    a comment, a variable or a script."""
    source = tmp_path / "probe.html"
    source.write_text(
        '{% load i18n %}<p>Phones <b title="Last seen">{{ n }}</b></p>'
        '<input type="submit" value="Save">{% translate "Fine" %}{% comment %}Note{% endcomment %}'
        "{% blocktranslate %}Also fine {{ n }}{% endblocktranslate %}<script>var ok;</script>"
    )

    assert english_in_template(source) == ["Phones", "Last", "seen", "Save"]
