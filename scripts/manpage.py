#!/usr/bin/python3
"""Writes the jitgate(1) manual page from the binary's own --help.

    scripts/manpage.py BINARY OUT.1

Every command and command group is asked for its help (`jitgate review approve --help`), so the
page always matches the binary it is installed with. Used by `make install` (cmake/Install.cmake).
"""
import re
import subprocess
import sys


def help_of(binary, words):
    out = subprocess.run([binary, *words, "--help"], capture_output=True, text=True, timeout=30)
    return out.stdout


def subcommands(text):
    """The names listed under "Subcommands:" in a CLI11 help text."""
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
            continue
        if inside:
            m = re.match(r"^  (\S+)\s", line + " ")
            if m:
                names.append(m.group(1))
            elif line.strip() and not line.startswith("   "):
                inside = False
    return names


def roff(text):
    """Help text as literal roff lines (no-fill), escaping what roff would interpret."""
    lines = []
    for line in text.rstrip().splitlines():
        line = line.replace("\\", "\\e")
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def walk(binary, words, sections):
    text = help_of(binary, words)
    if words:
        sections.append((" ".join(words), text))
    for name in subcommands(text):
        walk(binary, [*words, name], sections)
    return text


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: manpage.py BINARY OUT.1")
    binary, out = sys.argv[1], sys.argv[2]
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    sections = []
    top = walk(binary, [], sections)
    summary = top.splitlines()[0].split(": ", 1)[-1] if top else "a just-in-time access gateway"
    page = [
        f'.TH JITGATE 1 "" "{version}" "User Commands"',
        ".SH NAME",
        f"jitgate \\- {summary}",
        ".SH SYNOPSIS",
        ".B jitgate",
        "COMMAND [OPTIONS]",
        ".SH DESCRIPTION",
        ".nf",
        roff(top),
        ".fi",
        ".SH COMMANDS",
    ]
    for name, text in sections:
        page += [f".SS jitgate {name}", ".nf", roff(text), ".fi"]
    page += [
        ".SH FILES",
        "/etc/jitgate/jitgate.yaml \\- the configuration (an example is installed under "
        "share/jitgate)",
        ".SH SEE ALSO",
        "The documentation in docs/ of the jitgate sources: quickstart.md, configuration.md, "
        "cli.md, operations.md.",
    ]
    with open(out, "w") as f:
        f.write("\n".join(page) + "\n")


if __name__ == "__main__":
    main()
