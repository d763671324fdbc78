#!/usr/bin/env python3
"""The documents against the tree (make test-unit).

- The layout table of docs/design.md (its Layout section): every source
  file of lib/, fcgi/ and worker/ is named in it, and every file it names
  exists.
- README.md and docs/*.md: every relative Markdown link points at a file
  the repository holds (and its #fragment at a heading there), and every
  backquoted repository path (`docs/api.md`, `etc/schema.sql`, ...) names
  a file or folder that exists, or one git ignores (build output such as
  `nginx/www/vendor/`).
- Every other file: a pointer at a document (`docs/<name>.md`, and
  `docs/<name>.md, "<section>"`) names a document the repository holds and
  a section heading it has.

So no file in the repository points at a document the repository does not
hold.  Prints each error on stderr; exit status 1 when there is one.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DESIGN = "docs/design.md"
SOURCES = ("lib", "fcgi", "worker")
# Files whose pointers are not checked: third-party and generated text.
SKIP_DIRS = ("node_modules", ".git", "build", "build-sanitize", "var", "corpus")


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def documents():
    """README.md and docs/*.md, repository-relative."""
    docs = os.path.join(ROOT, "docs")
    names = sorted(n for n in os.listdir(docs) if n.endswith(".md")) if os.path.isdir(docs) else []
    return ["README.md"] + ["docs/" + n for n in names]


def fenced_out(text):
    """text without its fenced code blocks (commands, not links)."""
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.S | re.M)


def slug(heading):
    """The anchor a Markdown renderer (GitHub's) gives a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def headings(text):
    """A document's headings (text, without #s and backquotes), in order."""
    return [h.replace("`", "").strip()
            for h in re.findall(r"^#{1,6} +(.+?) *#*$", fenced_out(text), re.M)]


def anchors(text):
    seen, out = {}, set()
    for h in headings(text):
        a = slug(h)
        n = seen.get(a, 0)
        seen[a] = n + 1
        out.add(a if n == 0 else "%s-%d" % (a, n))
    return out


def layout_table(text):
    """The backquoted paths of the "## Layout" section's first column."""
    if "\n## Layout\n" not in text:
        return None
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    paths = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            paths.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return paths


def check_layout(errors):
    if not os.path.exists(os.path.join(ROOT, DESIGN)):
        errors.append("%s is missing: it holds the layout table" % DESIGN)
        return 0, 0
    named = layout_table(read(DESIGN))
    if named is None:
        errors.append("%s has no \"## Layout\" section" % DESIGN)
        return 0, 0
    tree = {"%s/%s" % (d, n) for d in SOURCES
            for n in os.listdir(os.path.join(ROOT, d)) if n.endswith(".c")}
    errors += ["%s is not in %s's layout table" % (p, DESIGN) for p in sorted(tree - named)]
    errors += ["%s's layout table names %s, which does not exist" % (DESIGN, p)
               for p in sorted(named) if not os.path.exists(os.path.join(ROOT, p))]
    return len(named), len(tree)


def git_ignored(paths):
    """Those of paths (repository-relative) that git ignores; none without git."""
    if not paths:
        return set()
    try:
        p = subprocess.run(["git", "-C", ROOT, "check-ignore", "--no-index", "--stdin"],
                           input="\n".join(paths) + "\n", capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.SubprocessError):
        return set()
    return {line.strip() for line in p.stdout.splitlines()}


def top_level():
    """The repository's top-level entries, less what git ignores."""
    names = [n for n in os.listdir(ROOT) if n != ".git"]
    ignored = git_ignored(names + [n + "/" for n in names])
    return {n for n in names if n not in ignored and n + "/" not in ignored}


def check_documents(errors):
    """Links and backquoted paths of README.md and docs/*.md."""
    tops = top_level()
    texts = {d: read(d) for d in documents()}
    targets = {}            # a document's anchors, read once
    paths = []              # (document, backquoted path) to look for
    nlinks = 0
    for doc, text in texts.items():
        prose = fenced_out(text)
        base = os.path.dirname(doc)
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):     # http:, mailto: ...
                continue
            nlinks += 1
            file, _, frag = target.partition("#")
            rel = os.path.normpath(os.path.join(base, file)) if file else doc
            if rel.startswith("..") or not os.path.exists(os.path.join(ROOT, rel)):
                errors.append("%s links to %s, which the repository does not hold" % (doc, target))
                continue
            if frag and rel.endswith(".md"):
                if rel not in targets:
                    targets[rel] = anchors(read(rel))
                if frag not in targets[rel]:
                    errors.append("%s links to %s, but %s has no heading #%s" % (doc, target, rel, frag))
        for token in re.findall(r"`([^`\s]+)`", prose):
            first = token.split("/", 1)[0]
            if first in tops and re.fullmatch(r"[\w.@+-]+(/[\w.@+-]+)*/?", token):
                paths.append((doc, token))
    missing = [(d, p) for d, p in paths if not os.path.exists(os.path.join(ROOT, p))]
    ignored = git_ignored(sorted({p for _, p in missing}))
    errors += ["%s names `%s`, which the repository does not hold" % (d, p)
               for d, p in missing if p not in ignored and p.rstrip("/") not in ignored]
    return nlinks, len(paths)


def tracked_files():
    """Every text file of the repository to look for pointers in."""
    out = []
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), ROOT)
            if rel.endswith((".json", ".tsv", ".png", ".gz", ".o", ".d")):
                continue
            out.append(rel)
    ignored = git_ignored(out)
    ignored.update(documents())         # check_documents reads those
    return [f for f in sorted(out) if f not in ignored]


# A pointer at a document, across comment leaders and line breaks:
# docs/design.md, "Lock order"
POINTER = re.compile(r'(docs/[\w.-]+\.md)(?:\'s)?(?:,|:)?(?: section)?(?: "([^"]{1,80})")?')
JOIN = re.compile(r'\s*\n\s*(?:\*|#|--|//|;)?\s*')


def check_pointers(errors):
    """docs/<name>.md (and its "<section>") wherever a file names one."""
    heads, n = {}, 0
    for rel in tracked_files():
        try:
            text = read(rel)
        except (UnicodeDecodeError, OSError):
            continue
        if "docs/" not in text:
            continue
        for doc, section in POINTER.findall(JOIN.sub(" ", text)):
            n += 1
            if not os.path.isfile(os.path.join(ROOT, doc)):
                errors.append("%s points at %s, which the repository does not hold" % (rel, doc))
                continue
            if section:
                if doc not in heads:
                    heads[doc] = {h.lower() for h in headings(read(doc))}
                if section.replace("`", "").lower() not in heads[doc]:
                    errors.append('%s points at %s, "%s", which is not a section of it' %
                                  (rel, doc, section))
    return n


def main():
    errors = []
    named, sources = check_layout(errors)
    links, paths = check_documents(errors)
    pointers = check_pointers(errors)
    for e in errors:
        print("check_layout: " + e, file=sys.stderr)
    print("check_layout: %d files named, %d source files; %d links and %d paths in the "
          "documents; %d pointers at them elsewhere; %d errors" %
          (named, sources, links, paths, pointers, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
